# Multi-stage build: a full Rust toolchain builds, a slim non-root image runs.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    # The server without the `demo` feature: production images do not link the simulator.
    cargo build --release --locked -p wxauth-server --no-default-features \
    && cargo build --release --locked -p wxauth-sim \
    && mkdir -p /out && cp target/release/wxauth-server target/release/wxauth-sim /out/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/wxauth --create-home wxauth
COPY --from=build /out/wxauth-server /out/wxauth-sim /usr/local/bin/
USER wxauth
WORKDIR /var/lib/wxauth
EXPOSE 8080
ENTRYPOINT ["wxauth-server"]
CMD ["serve"]
