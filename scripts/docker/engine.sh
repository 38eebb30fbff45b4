#!/usr/bin/env bash
# Ensure a working Docker engine (daemon + client) and docker-compose 1.29 on this
# Debian bookworm machine. Idempotent: exits at once when `docker info` already works.
#
# Usage: scripts/docker/engine.sh        (as root)
# Env:   DOCKERD_LOG (default /var/log/dockerd.log), DOCKERD_WAIT_SECONDS (default 60)
set -euo pipefail

readonly DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
readonly DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"
export DEBIAN_FRONTEND=noninteractive

die() { echo "engine.sh: $*" >&2; exit 1; }

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

# Install Debian packages; refresh the index only when the cached one is not enough,
# since `apt-get update` is the slow and network-dependent part.
apt_install() {
  if ! apt-get install -y --no-install-recommends "$@" >/dev/null; then
    apt-get update -qq
    apt-get install -y --no-install-recommends "$@" >/dev/null
  fi
}

# Compose is needed even when the engine is already up (tests validate compose files).
ensure_compose() {
  command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
}

if docker_ok; then
  ensure_compose
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root to install and start dockerd"

# docker.io brings dockerd, containerd and runc. A static client may already sit in
# /usr/local/bin (ahead of /usr/bin in PATH); it negotiates the API version down to
# the daemon's, so it keeps working and is left alone.
command -v dockerd >/dev/null 2>&1 || apt_install docker.io
command -v docker >/dev/null 2>&1 || die "no docker client on PATH after installing docker.io"
ensure_compose

# Start the daemon unless one is already starting up (e.g. a concurrent run).
# No default bridge and no iptables: containers use --network host only, so nothing
# ever gets a private address.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  setsid nohup dockerd --bridge=none --iptables=false --ip6tables=false \
    >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for ((i = 0; i < DOCKERD_WAIT_SECONDS; i++)); do
  docker_ok && exit 0
  sleep 1
done
die "docker daemon not ready after ${DOCKERD_WAIT_SECONDS}s; last log line: $(tail -n 1 "$DOCKERD_LOG" 2>/dev/null || echo 'none')"
