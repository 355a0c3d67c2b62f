# Builds Guildhall (server + release browser bundle) and runs it on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# wasm-opt from npm's binaryen (Debian's is too old for the wasm features Rust emits);
# brotli for the precompressed bundle.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm brotli \
 && npm install -g binaryen@132.0.0 \
 && rustup target add wasm32-unknown-unknown \
 && cargo install wasm-bindgen-cli --version 0.2.117 --locked
COPY . .
RUN cargo build --profile wasm-release -p hydrate --lib --target wasm32-unknown-unknown \
 && scripts/bundle-site.sh target/wasm32-unknown-unknown/wasm-release/hydrate.wasm /out/site/pkg --release \
 && cargo build --release -p guildhall \
 && cp target/release/guildhall /out/guildhall

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/guildhall /usr/local/bin/guildhall
COPY --from=build /out/site /app/site
WORKDIR /app
EXPOSE 3000 9300
CMD ["guildhall", "serve"]
