#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12: a container made from Debian's packages only
# (the local python3 3.11.2 base plus make, git and curl), a clean `git clone` of this
# repository's HEAD copied in, then `make run` (served and probed on 127.0.0.1) and `make test`.
# Passes only if the API answered, the suite passed, and every skipped test was skipped for want
# of a Docker engine (none runs inside): PostgreSQL and CDK tests must all have run.
#
# Usage: scripts/ci/fresh-machine.sh [BASE_IMAGE]     (as root, with a Docker engine)
# Env:   FRESH_KEEP=1 keeps the container and its clone for a look afterwards;
#        FRESH_PYTEST_ARGS adds pytest arguments inside (e.g. -k to look at one area).
set -euo pipefail
cd "$(dirname "$0")/../.."

readonly base=${1:-${BASE_IMAGE:-autopipe/python:3.11-slim-local}}
readonly image=autopipe/fresh-debian12:local
readonly name=autopipe-fresh-$$
log() { echo "fresh-machine: $*" >&2; }

docker image inspect "$base" >/dev/null 2>&1 || { log "no $base image (make base-image)"; exit 1; }

# The "fresh machine": the base's python3 + python3-venv + ca-certificates, and make, git, curl.
# Registries are reached through the host network; the base image trusts the host's CA bundle.
log "image $image from $base (+ make git curl)"
DOCKER_BUILDKIT=0 docker build --quiet --network host --pull=false -t "$image" - >/dev/null <<DOCKERFILE
FROM $base
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends make git curl >/dev/null && rm -rf /var/lib/apt/lists/*
DOCKERFILE

work=$(mktemp -d /var/tmp/autopipe-fresh.XXXXXX)
cleanup() {
  [[ ${FRESH_KEEP:-} == 1 ]] && { log "kept container $name and $work"; return; }
  docker rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
git clone --quiet --no-hardlinks "$PWD" "$work/src"
log "clone of $(git -C "$work/src" rev-parse --short HEAD) (committed work only)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
docker create --name "$name" --network host --pull never -w /src \
  -e PORT="$port" -e FRESH_PYTEST_ARGS="${FRESH_PYTEST_ARGS:-}" "$image" bash /src/scripts/ci/fresh-machine-inside.sh >/dev/null
docker cp "$work/src/." "$name:/src"
start=$SECONDS
status=0
docker start --attach "$name" || status=$?
docker cp "$name:/tmp/junit.xml" "$work/junit.xml" 2>/dev/null || true
log "ran in $((SECONDS - start)) s, exit $status"
((status == 0)) || exit "$status"
python3 scripts/ci/skip_reasons.py "$work/junit.xml"
