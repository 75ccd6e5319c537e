#!/usr/bin/env bash
# Installs everything tracelogic's tests need on a fresh Debian machine, as root:
# the system oracles (MONA for ltlf2dfa, spin for model-checking cross-checks),
# Node.js for the JavaScript SDK interop tests, the package itself in editable mode
# with its test and benchmark extras, and the interop app's pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
  if ! command -v mona >/dev/null 2>&1 || ! command -v spin >/dev/null 2>&1 \
     || ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mona spin nodejs npm >/dev/null
  fi
fi
python3 -m pip install -q -e '.[test,bench]'
# tests/interop/js: the OpenTelemetry JavaScript SDK, exactly as package-lock.json pins it
(cd tests/interop/js && npm ci --no-audit --no-fund --loglevel=error)
