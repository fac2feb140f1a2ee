# The `gateway` binary with its default configuration. The default build carries the provider
# emulations (`gateway sandbox`, used by docker-compose); a production image leaves them out:
#   docker build --build-arg CARGO_FLAGS=--no-default-features .
FROM rust:1.85-bookworm AS build
ARG CARGO_FLAGS=""
WORKDIR /src
COPY . .
RUN cargo build --release --bin gateway $CARGO_FLAGS

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/gateway /usr/local/bin/gateway
COPY config /app/config
WORKDIR /app
ENTRYPOINT []
CMD ["gateway", "run"]
