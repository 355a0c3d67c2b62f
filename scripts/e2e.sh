#!/usr/bin/env bash
# `make test-e2e`: a fresh database with a seeded demo community, a server in demo mode on
# E2E_PORT, and the Playwright tests in end2end/ against it. The server is always stopped.
#
#   scripts/e2e.sh <path-to-guildhall-binary>
#   env: GUILDHALL_SITE_ROOT (built site), E2E_DATABASE_URL, E2E_PORT, GUILDHALL_TEST_PEERS
#   (the built `test_peers` example: loopback RCON and SFTP servers for the game server tests;
#   default: `examples/test_peers` beside the binary, when it is built)
set -euo pipefail
bin=$(realpath "${1:?usage: scripts/e2e.sh <path-to-guildhall-binary>}")
cd "$(dirname "$0")/.."

: "${GUILDHALL_SITE_ROOT:?set GUILDHALL_SITE_ROOT to the built site (target/site)}"
: "${E2E_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/guildhall_e2e}"
: "${E2E_PORT:=3900}"
: "${GUILDHALL_TEST_PEERS:=$(dirname "$bin")/examples/test_peers}"
[ -x "$GUILDHALL_TEST_PEERS" ] || GUILDHALL_TEST_PEERS=
# Game server passwords are sealed with a secret key: a fixed one, for this test database only.
: "${GUILDHALL_SECRET_KEY:=Z3VpbGRoYWxsLWUyZS1vbmx5LXNlY3JldC1rZXktMzI=}"
export GUILDHALL_SECRET_KEY
# The tests run pipeline jobs with this binary where the scheduler would (it is off below).
export GUILDHALL_SITE_ROOT E2E_DATABASE_URL GUILDHALL_BIN=$bin
export DATABASE_URL=$E2E_DATABASE_URL
base_url=http://127.0.0.1:$E2E_PORT

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Drop the e2e database through the server's maintenance database; `migrate` creates it again.
db_name=${E2E_DATABASE_URL##*/}
db_name=${db_name%%\?*}
admin_url=${E2E_DATABASE_URL%/*}/postgres
step "recreating database $db_name"
psql "$admin_url" -v ON_ERROR_STOP=1 -q -c "drop database if exists \"$db_name\" with (force)"

"$bin" migrate
"$bin" demo --members 60 --days 45 --seed 7
"$bin" run-job all

if curl -fsS "$base_url/healthz" >/dev/null 2>&1; then
  echo "something already answers on $base_url: stop it or set E2E_PORT" >&2
  exit 1
fi

# Loopback RCON and SFTP peers for the game server tests (the collectors' `test_peers`
# example, never part of the product): they print one JSON line with their addresses.
peers_pid=
if [ -n "${GUILDHALL_TEST_PEERS:-}" ]; then
  peers_out=$(mktemp -t guildhall-e2e-peers.XXXXXX.log)
  "$GUILDHALL_TEST_PEERS" >"$peers_out" 2>&1 &
  peers_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$peers_out" ] && break
    sleep 0.1
  done
  E2E_TEST_PEERS=$(head -n 1 "$peers_out")
  case $E2E_TEST_PEERS in
    '{'*) export E2E_TEST_PEERS ;;
    *) echo "the test peers did not start:" >&2; cat "$peers_out" >&2; kill "$peers_pid" 2>/dev/null; exit 1 ;;
  esac
fi
stop_peers() {
  if [ -n "$peers_pid" ]; then
    kill "$peers_pid" 2>/dev/null || true
    wait "$peers_pid" 2>/dev/null || true
  fi
}
trap stop_peers EXIT

log=$(mktemp -t guildhall-e2e-server.XXXXXX.log)
step "starting the server on $base_url (log: $log)"
# Every test signs in from the same address: a sign-in limit for a whole test suite.
GUILDHALL_DEMO=true \
  GUILDHALL_WEB__SIGN_IN_PER_MINUTE=600 \
  GUILDHALL_WEB__SIGN_IN_BURST=200 \
  GUILDHALL_BIND=127.0.0.1:$E2E_PORT \
  GUILDHALL_PUBLIC_URL=$base_url \
  GUILDHALL_PIPELINE__INTERVAL_SECS=0 \
  GUILDHALL_METRICS_BIND= \
  "$bin" serve >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  stop_peers
}
trap stop_server EXIT

for _ in $(seq 1 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited before it became healthy:" >&2
    cat "$log" >&2
    exit 1
  fi
  if curl -fsS "$base_url/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.5
done
curl -fsS "$base_url/healthz" >/dev/null || { echo "the server did not become healthy" >&2; cat "$log" >&2; exit 1; }

step "running the browser tests"
status=0
(cd end2end && E2E_BASE_URL=$base_url npx playwright test "${@:2}") || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---" >&2
  tail -n 50 "$log" >&2
fi
exit "$status"
