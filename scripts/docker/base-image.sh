#!/usr/bin/env bash
# Build an offline stand-in for the official python:3.11-slim image.
#
# No container registry is reachable from these machines, so nothing can be pulled:
# we debootstrap a minimal Debian bookworm with its python3 (3.11) from the apt
# mirror and `docker import` it. Idempotent: an existing image of that name is reused.
#
# Usage: scripts/docker/base-image.sh [IMAGE_NAME]        (as root)
# Env:   BASE_IMAGE (default autopipe/python:3.11-slim-local), DEBIAN_MIRROR (override)
#
# Known differences from the official image: Python comes from Debian (/usr/bin/python3,
# "externally managed", no system pip) — install into a venv, which python3-venv supports.
set -euo pipefail

readonly IMAGE="${1:-${BASE_IMAGE:-autopipe/python:3.11-slim-local}}"
readonly SUITE=bookworm
readonly HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
readonly LOCK_FILE=/var/lock/autopipe-base-image.lock
export DEBIAN_FRONTEND=noninteractive

die() { echo "base-image.sh: $*" >&2; exit 1; }
log() { echo "base-image.sh: $*" >&2; }

image_exists() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

# First Debian mirror serving $SUITE itself (not -security/-updates) in the machine's
# apt sources: deb822 *.sources stanzas first, then one-line *.list entries.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v suite="$SUITE" '
      function flush() {
        if (uris != "" && (" " suites " ") ~ (" " suite " ")) { split(uris, u, " "); uris = ""; print u[1]; exit }
        uris = ""; suites = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/   { sub(/^URIs:[[:space:]]*/, "");   uris = $0 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      END { flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
  done
}

# Unmount anything debootstrap left mounted (proc/sys on failure) before deleting,
# and never let rm cross into another filesystem.
cleanup_rootfs() {
  local dir=$1 mnt
  [[ -n $dir && -d $dir ]] || return 0
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v d="$dir" 'index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

print_python_version() {
  docker run --rm --pull never --network none "$IMAGE" python3 --version
}

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, docker)"
# The engine script is idempotent and returns at once when docker already works.
"$(dirname "${BASH_SOURCE[0]}")/engine.sh"

if image_exists; then
  log "reusing existing image $IMAGE"
  exit 0
fi

# Serialize concurrent builders; the loser re-checks and reuses the winner's image.
exec 9>"$LOCK_FILE"
flock 9
if image_exists; then
  log "reusing image $IMAGE built by a concurrent run"
  exit 0
fi

start=$SECONDS

if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -qq && apt-get install -y --no-install-recommends debootstrap >/dev/null; }
fi

mirror="${DEBIAN_MIRROR:-$(find_mirror | head -n 1)}"
[[ -n $mirror ]] || die "no Debian $SUITE mirror found in /etc/apt/sources.list{,.d/}; set DEBIAN_MIRROR"
[[ -f $HOST_CA_BUNDLE ]] || die "host CA bundle $HOST_CA_BUNDLE missing"

rootfs="$(mktemp -d /var/tmp/autopipe-rootfs.XXXXXX)"
# shellcheck disable=SC2064  # expand $rootfs now: it is fixed for this run
trap "cleanup_rootfs '$rootfs'" EXIT

log "debootstrap $SUITE from $mirror into $rootfs"
if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 20 "$rootfs.log" >&2
  die "debootstrap failed (full log: $rootfs.log)"
fi
rm -f "$rootfs.log"

# The official image has a `python` command; Debian only ships python3.
ln -sf python3 "$rootfs/usr/bin/python"

# Trust what this machine trusts, so pip/uv inside `docker build --network host` get
# through its TLS interception. Also keep the extra CAs as sources, so a later
# update-ca-certificates in a derived image does not drop them.
cp "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
fi

# Same apt sources as the host (adds -updates/-security) so derived images can apt-get.
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
  rm -f "$rootfs/etc/apt/sources.list"
fi

# Slim it down like debian:*-slim: no apt caches, docs or man pages (keep copyrights),
# and no device nodes (docker provides /dev at run time).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$rootfs/dev" -mindepth 1 -delete
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG

py_version="$(chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())')"
ca_file=/etc/ssl/certs/ca-certificates.crt

log "importing $rootfs as $IMAGE"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV PYTHON_VERSION=$py_version" \
  --change "ENV SSL_CERT_FILE=$ca_file" \
  --change "ENV PIP_CERT=$ca_file" \
  --change "ENV REQUESTS_CA_BUNDLE=$ca_file" \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null

cleanup_rootfs "$rootfs"
trap - EXIT

log "built $IMAGE in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
print_python_version
