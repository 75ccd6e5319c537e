#!/usr/bin/env bash
# Installs pynusmv (NuSMV 2.5.4 as a Python module), the second model-checking oracle beside
# spin, into the interpreter that runs the tests (python3). The recipe and why each shim is
# needed: docs/models.md, "NuSMV". pynusmv is never required by tracelogic itself.
#
# The build takes about 100 s on 2 cores, so the wheel is cached outside the repository,
# keyed on the Debian release and the Python version (a wheel links against both):
#   ${XDG_CACHE_HOME:-~/.cache}/tracelogic/wheels/<key>/pynusmv-1.0rc8-*.whl
# A cached wheel that does not import cleanly is deleted and built again.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.0rc8
PY=${PYTHON:-python3}
check() { LD_BIND_NOW=1 "$PY" -c "import pynusmv.init, pynusmv.mc, pynusmv.bmc.glob" >/dev/null 2>&1; }
if check; then
  exit 0
fi
debian="$(cat /etc/debian_version 2>/dev/null || echo unknown)"
pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tracelogic/wheels/pynusmv-$VERSION-debian$debian-py$pyver"
install_cached() {
  local whl
  whl="$(ls "$CACHE"/pynusmv-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
  [ -n "$whl" ] || return 1
  "$PY" -m pip install -q --no-deps --force-reinstall "$whl" && check
}
if install_cached; then
  exit 0
fi
rm -rf "$CACHE"
# the build's system packages (NuSMV's parser generators, SWIG for the bindings)
if command -v apt-get >/dev/null 2>&1; then
  packages=()
  for tool in swig bison flex patchelf unzip; do
    command -v "$tool" >/dev/null 2>&1 || packages+=("$tool")
  done
  command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || packages+=(build-essential)
  [ -f /usr/include/expat.h ] || packages+=(libexpat1-dev)
  [ -f /usr/include/readline/readline.h ] || packages+=(libreadline-dev)
  include="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  [ -f "$include/Python.h" ] || packages+=(python3-dev)
  if [ "${#packages[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      $(printf '%s\n' "${packages[@]}" | sort -u) >/dev/null
  fi
fi
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/cc"
# CUDD's pipefork.c needs `int status` (glibc removed `union wait`); MiniSat is C++98
printf '#!/bin/sh\nexec /usr/bin/gcc -D__SVR4 "$@"\n' > "$W/cc/gcc"
printf '#!/bin/sh\nexec /usr/bin/g++ -std=gnu++98 "$@"\n' > "$W/cc/g++"
chmod +x "$W/cc/gcc" "$W/cc/g++"
# a build environment of its own: pynusmv's setup.py needs an old setuptools
"$PY" -m venv "$W/venv"
"$W/venv/bin/pip" install -q "setuptools<70" wheel
"$W/venv/bin/pip" download -q --no-deps --no-binary pynusmv -d "$W" "pynusmv==$VERSION"
tar -xzf "$W/pynusmv-$VERSION.tar.gz" -C "$W"
S="$W/pynusmv-$VERSION"
# collections.Iterator went away in Python 3.10
sed -i -E 's/^from +collections +import +(Iter)/from collections.abc import \1/' \
  "$S/pynusmv/collections.py" "$S/pynusmv/be/encoder.py"
if grep -rEq '^from +collections +import +Iter' "$S/pynusmv"; then
  echo "scripts/install_pynusmv.sh: the collections.abc patch did not apply" >&2
  exit 1
fi
rm -rf "$S/tests"  # the sdist ships a top-level `tests` package
echo "scripts/install_pynusmv.sh: building pynusmv $VERSION (about 100 s)" >&2
PATH="$W/cc:$PATH" "$W/venv/bin/pip" wheel -q --no-build-isolation --no-deps --no-cache-dir \
  -w "$W/wheelhouse" "$S" >"$W/build.log" 2>&1 || { tail -n 40 "$W/build.log" >&2; exit 1; }
mkdir -p "$CACHE"
cp "$W"/wheelhouse/pynusmv-"$VERSION"-*.whl "$CACHE"/
# setup.py ignores make's exit codes: a half-built library only shows at import
if ! install_cached; then
  echo "scripts/install_pynusmv.sh: pynusmv built but does not import; build log:" >&2
  tail -n 40 "$W/build.log" >&2
  rm -rf "$CACHE"
  exit 1
fi
