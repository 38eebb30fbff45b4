#!/usr/bin/env bash
# Runs inside the fresh-machine container (scripts/ci/fresh-machine.sh), as a new user would:
# `make run`, probe it, stop it; then `make test`. No CI variable: skips are allowed here and
# judged afterwards from the JUnit report.
set -euo pipefail
log() { echo "fresh-machine: $*" >&2; }
unset CI
url="http://127.0.0.1:$PORT"

started=$SECONDS
setsid make run >/tmp/run.log 2>&1 &
server=$!
deadline=$((SECONDS + 900))
until curl -fsS "$url/health" >/dev/null 2>&1; do
  if ! kill -0 "$server" 2>/dev/null || ((SECONDS > deadline)); then
    log "make run did not serve on $url:"; tail -n 30 /tmp/run.log >&2; exit 1
  fi
  sleep 1
done
log "make run served $url after $((SECONDS - started)) s"
created=$(curl -fsS -X POST "$url/items" -H 'Authorization: Bearer dev-local-key' \
  -H 'Content-Type: application/json' -d '{"name": "Widget"}')
id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$created")
curl -fsS "$url/items/$id" | grep -q '"name":"Widget"' || { log "item $id not read back"; exit 1; }
log "POST /items then GET /items/$id: ok"
kill -TERM -- -"$server"
wait "$server" 2>/dev/null || true

started=$SECONDS
make test PYTEST_ARGS="-p no:cacheprovider --junitxml=/tmp/junit.xml ${FRESH_PYTEST_ARGS:-}"
log "make test passed in $((SECONDS - started)) s"
