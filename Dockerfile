# Builds Guildhall (server + browser bundle) and runs it on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown \
 && cargo install wasm-bindgen-cli --version 0.2.117 --locked
COPY . .
RUN cargo build --profile wasm-release -p hydrate --lib --target wasm32-unknown-unknown \
 && mkdir -p /out/site/pkg \
 && wasm-bindgen --target web --no-typescript --out-dir /out/site/pkg --out-name guildhall \
      target/wasm32-unknown-unknown/wasm-release/hydrate.wasm \
 && mv /out/site/pkg/guildhall_bg.wasm /out/site/pkg/guildhall.wasm \
 && cp style/main.css /out/site/pkg/guildhall.css \
 && cargo build --release -p guildhall \
 && cp target/release/guildhall /out/guildhall

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/guildhall /usr/local/bin/guildhall
COPY --from=build /out/site /app/site
WORKDIR /app
EXPOSE 3000
CMD ["guildhall", "serve"]
