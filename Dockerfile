# Multi-stage build: release binary on a small non-root runtime image.
# `--build-arg FEATURES=mimalloc` builds the gateway without the sandbox/emulator commands.
FROM rust:1-bookworm AS build
ARG FEATURES=sandbox,mimalloc
WORKDIR /src
# Dependency layer: manifests and stub targets first, so a source change does not rebuild every crate.
COPY Cargo.toml Cargo.lock ./
COPY crates/ats-sandbox/Cargo.toml crates/ats-sandbox/Cargo.toml
RUN mkdir -p src benches tests/it crates/ats-sandbox/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs crates/ats-sandbox/src/lib.rs \
 && echo 'fn main() {}' > benches/mapping.rs && echo 'fn main() {}' > benches/cache_key.rs && echo 'fn main() {}' > benches/auth.rs && echo 'fn main() {}' > tests/it/main.rs \
 && cargo build --release --locked --no-default-features --features "$FEATURES" --bin ats-gateway \
 && rm -rf src crates/ats-sandbox/src
COPY src ./src
COPY crates ./crates
COPY openapi ./openapi
COPY benches ./benches
# Stubs built above are older than the real sources only by mtime: touch so cargo rebuilds them.
RUN touch src/main.rs src/lib.rs crates/ats-sandbox/src/lib.rs \
 && cargo build --release --locked --no-default-features --features "$FEATURES" --bin ats-gateway

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ats-gateway /usr/local/bin/ats-gateway
USER nonroot:nonroot
# Env-only configuration works: ATS_GATEWAY__GATEWAY__LISTEN etc. override the built-in defaults.
ENV ATS_GATEWAY__GATEWAY__LISTEN=0.0.0.0:8080
# The ops listener (/metrics, /healthz, /readyz) on its own port: publish it to Prometheus and the
# orchestrator only, never to partners.
ENV ATS_GATEWAY__GATEWAY__OPS_LISTEN=0.0.0.0:9090
EXPOSE 8080 9090
# distroless has no shell or curl: the binary checks its own health endpoint.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/ats-gateway", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
# SIGTERM drains (gateway.shutdown_grace_ms); give `docker stop -t` at least that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ats-gateway"]
CMD ["serve"]
