#!/usr/bin/env bash
# Checks a Cargo.lock against the RustSec advisory database snapshot, without network access,
# with cargo-deny (installed by `scripts/setup.sh --audit`) and the repository's deny.toml.
#
#   scripts/audit.sh [PROJECT_DIR]    PROJECT_DIR holds Cargo.toml and Cargo.lock (default:
#                                     this repository)
#   ADVISORY_DB=DIR                   the snapshot (default: ../shared/advisory-db beside the
#                                     repository; see its SNAPSHOT.md)
#
# Exits 0 when no crate in the lock file has an advisory that deny.toml does not ignore, 1 when
# one has (cargo-deny names it, its advisory and who brings it in), 2 when the check could
# not run (no snapshot, no cargo-deny, no lock file).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
project=$(cd "${1:-$repo}" && pwd)
db=${ADVISORY_DB:-$repo/../shared/advisory-db}
config=$repo/deny.toml
# The exact version scripts/setup.sh installs.
DENY_VERSION=$(sed -n 's/^CARGO_DENY_VERSION=//p' "$repo/scripts/setup.sh")

fail() { echo "audit: $*" >&2; exit 2; }

[ -d "$db/crates" ] || fail "no RustSec advisory database snapshot at $db
audit: set ADVISORY_DB to a copy of the rustsec/advisory-db repository (docs/development.md, \"Updating the advisory snapshot\")"
[ -f "$project/Cargo.lock" ] || fail "no Cargo.lock in $project"
installed=$(cargo deny --version 2>/dev/null | awk '{print $2}') || true
[ "$installed" = "$DENY_VERSION" ] \
  || fail "cargo-deny $DENY_VERSION is needed (found: ${installed:-none}); run scripts/setup.sh --audit"

# cargo-deny reads an advisory database only from a git checkout, in a folder named after
# the database's URL (for the default URL, cargo-deny 0.20 uses the name below); the snapshot
# is plain files, possibly read-only. Work on a temporary git copy.
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
copy=$root/advisory-db-3157b0e258782691
cp -R "$db" "$copy"
chmod -R u+w "$copy"
rm -rf "$copy/.git"
git_quiet() {
  git -C "$copy" -c core.hooksPath=/dev/null -c commit.gpgsign=false \
    -c user.name=audit -c user.email=audit@localhost "$@" >/dev/null
}
git_quiet init -q
git_quiet add -A
git_quiet commit -q -m "advisory database snapshot"

# --offline: cargo-deny fetches no database and cargo resolves from Cargo.lock and the
# crates already downloaded (`cargo fetch` first, which is a no-op when they all are).
# --locked: a Cargo.lock that does not match the manifests is an error, not silently updated.
cd "$project"
cargo fetch --locked --quiet
GUILDHALL_ADVISORY_DBS=$root cargo deny --color never --offline --locked --config "$config" \
  check advisories
