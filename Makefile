# Guildhall: `make run` to try it, `make test` for everything CI checks.
SHELL := /bin/bash
.DEFAULT_GOAL := run

export CARGO_TARGET_DIR ?= $(CURDIR)/target
SITE_ROOT ?= $(CURDIR)/target/site
PKG_DIR := $(SITE_ROOT)/pkg
BIN := $(CARGO_TARGET_DIR)/debug/guildhall
TEST_PEERS := $(CARGO_TARGET_DIR)/debug/examples/test_peers
WASM := $(CARGO_TARGET_DIR)/wasm32-unknown-unknown/debug/hydrate.wasm
PG ?= postgres://postgres@127.0.0.1:5432
DEMO_DATABASE_URL ?= $(PG)/guildhall_demo
E2E_DATABASE_URL ?= $(PG)/guildhall_e2e
E2E_PORT ?= 3900
# The RustSec advisory database snapshot `make audit` checks Cargo.lock against (offline).
ADVISORY_DB ?= $(CURDIR)/../shared/advisory-db
export ADVISORY_DB

.PHONY: run test setup setup-browser setup-audit build site server test-peers lint audit test-rust test-e2e bench clean-site

## Tools (idempotent; fast when everything is installed).
setup:
	@scripts/setup.sh
setup-browser:
	@scripts/setup.sh --browser
setup-audit:
	@scripts/setup.sh --audit

## The browser bundle: the hydrate crate for wasm32, bound with wasm-bindgen.
site: setup
	cargo build -p hydrate --lib --target wasm32-unknown-unknown
	@scripts/bundle-site.sh $(WASM) $(PKG_DIR)

server:
	cargo build -p guildhall

build: site server

## Loopback RCON and SFTP servers for the browser tests (a collectors example, not the product).
test-peers:
	cargo build -p collectors --features testing --example test_peers

## Build, create and fill the demo database, serve on http://127.0.0.1:3000 with demo login.
run: build
	@DATABASE_URL=$${DATABASE_URL:-$(DEMO_DATABASE_URL)} GUILDHALL_SITE_ROOT=$(SITE_ROOT) scripts/run-demo.sh $(BIN)

## Everything CI checks.
test: setup-browser lint audit test-rust test-e2e

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p hydrate --target wasm32-unknown-unknown -- -D warnings

## Cargo.lock against the RustSec advisories (cargo-deny, deny.toml; docs/development.md).
audit: setup-audit
	@scripts/audit.sh

# server/tests/supply_chain.rs runs scripts/audit.sh too (on a lock file with an advisory).
test-rust: setup-audit
	DATABASE_URL=$(PG)/postgres cargo test --workspace --exclude hydrate

test-e2e: build test-peers
	@GUILDHALL_SITE_ROOT=$(SITE_ROOT) E2E_DATABASE_URL=$(E2E_DATABASE_URL) E2E_PORT=$(E2E_PORT) GUILDHALL_TEST_PEERS=$(TEST_PEERS) scripts/e2e.sh $(BIN)

## Benchmarks, in one run: 1,000,000 voice events through the writer vs. plain COPY; the
## pipeline's idle and incremental ticks at 1x and 10x history; pages/s of the real server
## under wrk; the real bot against the fake Discord (a 100,000-member sync's peak memory,
## 1,000,000 mixed gateway events vs COPY); game log parsing per core and a 1 GB historic log
## import; relinking and merging persons with a year of history. The dev profile (dependencies at opt-level 1) reuses the test build.
bench: site
	@scripts/setup.sh --bench
	DATABASE_URL=$${DATABASE_URL:-$(PG)/guildhall_bench} cargo bench -p guildhall --profile dev --bench ingest --bench ticks --bench pages --bench gateway --bench games --bench identities

clean-site:
	rm -rf $(SITE_ROOT)
