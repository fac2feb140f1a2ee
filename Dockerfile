# The `gateway` binary with its default configuration. The default build carries the provider
# emulations (`gateway sandbox`, used by docker-compose); a production image leaves them out:
#   docker build --build-arg CARGO_FLAGS=--no-default-features .
# Rust 1.90 or newer: the locked dependencies ask for it (uuid, lapin and config 1.88-1.89,
# ordered-float, a test dependency, 1.90).
FROM rust:1.95-bookworm AS build
ARG CARGO_FLAGS=""
WORKDIR /src
COPY . .
RUN cargo build --release --bin gateway $CARGO_FLAGS

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/gateway /usr/local/bin/gateway
COPY config /app/config
WORKDIR /app
# The SQLite store (`database.url` sqlite://data/gateway.db) lives here: mount a volume on it,
# or the payments and their idempotency history go with the container.
VOLUME /app/data
ENTRYPOINT []
CMD ["gateway", "run"]
