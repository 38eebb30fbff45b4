#!/usr/bin/env bash
# Print the interpreter (as uv's UV_PYTHON request) the project should use: the first of python3.13, python3.12, python3.11,
# python3 (or $PYTHON when set) that is a supported CPython, i.e. 3.11.8+, 3.12.2+ or 3.13.
#
# CPython 3.11.0-3.11.7 and 3.12.0-3.12.1 have gh-106905: a race in the AST constructor that
# can abort a whole pytest session with "SystemError: AST constructor recursion depth mismatch"
# (fixed by python/cpython#113476 and #113472). Debian 12 ships 3.11.2 and nothing newer, so when
# only an affected interpreter exists it is used with a warning on stderr (the test suite then
# serializes ast.parse, see tests/support/cpython_ast.py), naming what to install instead.
# --quiet leaves the warning out. Nothing suitable at all: a one-line error on stderr, nothing on stdout, exit 1.
set -uo pipefail
quiet=false
[[ ${1:-} == --quiet ]] && quiet=true  # the Makefile's parse-time call: the uv target warns

# Prints "major minor micro" for a working interpreter, nothing otherwise (pyenv shims fail).
version_of() {
  "$1" -c 'import sys; print(*sys.version_info[:3])' 2>/dev/null
}

affected() {  # gh-106905
  local minor=$1 micro=$2
  { [[ $minor -eq 11 && $micro -lt 8 ]] || [[ $minor -eq 12 && $micro -lt 2 ]]; }
}

candidates=("${PYTHON:-}")
[[ -n ${PYTHON:-} ]] || candidates=(python3.13 python3.12 python3.11 python3)

fallback="" fallback_version=""
for name in "${candidates[@]}"; do
  path=$(command -v "$name" 2>/dev/null) || continue
  read -r major minor micro <<<"$(version_of "$path")" || continue
  [[ ${major:-0} -eq 3 && ${minor:-0} -ge 11 && ${minor:-0} -le 13 ]] || continue
  if affected "$minor" "$micro"; then
    [[ -n $fallback ]] || { fallback=$name; fallback_version=$major.$minor.$micro; }
    continue
  fi
  echo "$name"
  exit 0
done

if [[ -n $fallback ]]; then
  $quiet || echo "make: using Python $fallback_version ($fallback), which has CPython bug gh-106905 (the tests work around it); Python 3.11.8+, 3.12.2+ or 3.13 avoids it: e.g. make PYTHON=/path/to/python3.12" >&2
  echo "$fallback"
  exit 0
fi
echo "make: needs CPython 3.11.8+, 3.12.2+ or 3.13 (found none${PYTHON:+ at PYTHON=$PYTHON}): install one (Debian/Ubuntu: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3" >&2
exit 1
