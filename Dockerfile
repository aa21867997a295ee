# syntax=docker/dockerfile:1
# Multi-stage build: the release binary on distroless, as a fixed non-root uid, read-only apart from
# the state volume and /tmp. Build arguments:
#   SANDBOX=false   leaves out the `sandbox`/`emulator` commands (the emulator, its fixture keys and
#                   demo secrets) — for a production image.
#   VERSION, REVISION, SOURCE   the OCI labels (e.g. --build-arg REVISION=$(git rev-parse HEAD)).
# Run: docker run --read-only --tmpfs /tmp -v ats-state:/var/lib/ats-gateway -p 8080:8080 IMAGE
# Checked by hadolint and tests/it/deploy.rs (scripts/deploy/validate-manifests.sh, in CI); no
# container engine runs in CI, so the image itself is not built there.
FROM rust:1-bookworm AS build
ARG SANDBOX=true
WORKDIR /src
# Dependency layer: manifests and stub targets first, so a source change does not rebuild every crate.
COPY Cargo.toml Cargo.lock ./
COPY crates/ats-sandbox/Cargo.toml crates/ats-sandbox/Cargo.toml
# One place turns SANDBOX into cargo features, for both builds below.
RUN if [ "$SANDBOX" = true ]; then echo sandbox,mimalloc; else echo mimalloc; fi > /features \
 && mkdir -p src benches tests/it crates/ats-sandbox/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs crates/ats-sandbox/src/lib.rs \
 && echo 'fn main() {}' > benches/mapping.rs && echo 'fn main() {}' > benches/cache_key.rs && echo 'fn main() {}' > benches/auth.rs && echo 'fn main() {}' > tests/it/main.rs \
 && cargo build --release --locked --no-default-features --features "$(cat /features)" --bin ats-gateway \
 && rm -rf src crates/ats-sandbox/src
COPY src ./src
COPY crates ./crates
COPY openapi ./openapi
COPY benches ./benches
# Stubs built above are older than the real sources only by mtime: touch so cargo rebuilds them.
# The empty state directory is copied into the runtime image owned by the runtime user.
RUN touch src/main.rs src/lib.rs crates/ats-sandbox/src/lib.rs \
 && cargo build --release --locked --no-default-features --features "$(cat /features)" --bin ats-gateway \
 && mkdir -p /out/state

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/example/ats-gateway
LABEL org.opencontainers.image.title="ats-gateway" \
      org.opencontainers.image.description="REST gateway for the Dynamics 365 HR ATS (Dataverse) API" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /src/target/release/ats-gateway /usr/local/bin/ats-gateway
COPY --from=build --chown=65532:65532 /out/state /var/lib/ats-gateway
# distroless's nonroot user, by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 65532:65532
# Env-only configuration works: ATS_GATEWAY__GATEWAY__LISTEN etc. override the built-in defaults.
ENV ATS_GATEWAY__GATEWAY__LISTEN=0.0.0.0:8080 \
    ATS_GATEWAY__STATE__PATH=/var/lib/ats-gateway/data \
    ATS_GATEWAY__GATEWAY__OPS_LISTEN=0.0.0.0:9090
# The ops listener (/metrics, /healthz, /readyz) on its own port: publish it to Prometheus and the
# orchestrator only, never to partners.
EXPOSE 8080 9090
# The only writable paths besides /tmp: the state directory (idempotency records, write plans,
# generated key files) is created inside it, private to the gateway.
VOLUME ["/var/lib/ats-gateway"]
# distroless has no shell or curl: the binary checks its own health endpoint.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/ats-gateway", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
# SIGTERM drains (gateway.shutdown_grace_ms); give `docker stop -t` at least that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ats-gateway"]
CMD ["serve"]
