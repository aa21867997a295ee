# Multi-stage build: release binary on a small non-root runtime image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY openapi ./openapi
# Cargo.toml declares the criterion bench target: the manifest does not load without its file.
COPY benches ./benches
RUN cargo build --release --locked --bin ats-gateway

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ats-gateway /usr/local/bin/ats-gateway
USER nonroot:nonroot
EXPOSE 8080
# distroless has no shell or curl: the binary checks its own health endpoint.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/ats-gateway", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/ats-gateway"]
CMD ["serve", "--config", "/etc/ats-gateway/config.toml"]
