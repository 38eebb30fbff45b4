#!/usr/bin/env bash
# Make uv available without touching the system Python: a private venv under .cache/ with
# `uv==VERSION` installed by that venv's own pip (PEP 668 forbids installing into Debian's or
# Ubuntu's system Python, and a fresh Debian has no pip at all), linked into BIN_DIR (which the
# Makefile puts first on PATH). Prints nothing on success.
#
# Usage: scripts/dev/uv.sh BIN_DIR VERSION PYTHON
set -euo pipefail
readonly bin=$1 version=$2 python=$3
readonly venv=.cache/uv-$version

[[ -x $bin/uv ]] && exit 0
manual="or install uv yourself: curl -LsSf https://astral.sh/uv/install.sh | sh"
if ! "$python" -m venv --clear "$venv" >/dev/null 2>&1; then
  rm -rf "$venv"
  echo "make: cannot create a venv to install uv with $python (Debian/Ubuntu: apt-get install python3-venv), $manual" >&2
  exit 1
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version"; then
  rm -rf "$venv"
  echo "make: pip could not install uv==$version into $venv (is the package index reachable?), $manual" >&2
  exit 1
fi
mkdir -p "$bin"
ln -sf "$PWD/$venv/bin/uv" "$bin/uv"
