#!/usr/bin/env bash
# `make run`: migrate the demo database, fill it with a synthetic community when it is
# empty, run the pipeline once and serve with demo login.
set -euo pipefail
bin=$1
export GUILDHALL_DEMO=${GUILDHALL_DEMO:-true}
"$bin" migrate
"$bin" demo --if-empty --members "${DEMO_MEMBERS:-150}" --days "${DEMO_DAYS:-120}" --seed "${DEMO_SEED:-42}"
"$bin" run-job all
addr=${GUILDHALL_PUBLIC_URL:-http://127.0.0.1:3000}
cat <<MSG

  Guildhall is starting on $addr
  Sign in without Discord (demo mode): open
    $addr/auth/demo
  and choose Leader (KPI pages), Admin (everything, incl. /admin) or Member (your own page).
  Stop with Ctrl-C.

MSG
exec "$bin" serve
