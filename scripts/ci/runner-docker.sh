#!/usr/bin/env bash
# On a GitHub-hosted runner (Ubuntu), give the container tests what `.ci/run` gives them on the
# CI machine: docker-compose 1.x (the compose tests read its output format), and the offline
# Debian bookworm Python base (`scripts/docker/base-image.sh`) that the local PostgreSQL image
# is built from. Docker itself is already running there. Idempotent; re-runs itself with sudo.
#
# Env: BASE_IMAGE (default autopipe/python:3.11-slim-local), DEBIAN_MIRROR (default below)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  exec sudo --preserve-env=BASE_IMAGE,DEBIAN_MIRROR bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
if ((${#missing[@]} > 0)); then
  echo "runner-docker: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

# Ubuntu's apt sources name no bookworm mirror for base-image.sh to find: give it Debian's.
if [[ -z ${DEBIAN_MIRROR:-} ]] && ! grep -qs bookworm /etc/apt/sources.list /etc/apt/sources.list.d/*; then
  export DEBIAN_MIRROR=https://deb.debian.org/debian
fi
bash "$(dirname "${BASH_SOURCE[0]}")/../docker/base-image.sh" \
  "${BASE_IMAGE:-autopipe/python:3.11-slim-local}"
