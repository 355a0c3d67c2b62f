#!/usr/bin/env bash
# Installs what building and testing Guildhall needs, once: the wasm target, wasm-bindgen-cli
# at the exact version the workspace pins, Debian's brotli, the end-to-end test packages and
# (for `make test`) Debian's chromium, (for `make bench`) wrk, (for `make audit`, part of
# `make test`) cargo-deny. Each step is skipped when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)
# Checks Cargo.lock against the RustSec advisories (scripts/audit.sh reads this line).
CARGO_DENY_VERSION=0.20.2
want_browser=${1:-}

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 8 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

# brotli makes the bundle about a fifth smaller than gzip does; without it pages still load.
if ! command -v brotli >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  step "installing Debian's brotli (compresses the browser bundle)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq brotli; } \
    || echo "brotli could not be installed; the bundle is served gzip-compressed only" >&2
fi

if [ "$want_browser" = "--bench" ] && ! command -v wrk >/dev/null 2>&1; then
  step "installing Debian's wrk (load generator for the web benchmark)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk
fi

if [ "$want_browser" = "--audit" ] \
  && [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  step "installing cargo-deny $CARGO_DENY_VERSION (about 4 minutes, once)"
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi

if [ "$want_browser" = "--browser" ]; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    step "installing the end-to-end test packages"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
  if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian's chromium"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
  fi
fi
