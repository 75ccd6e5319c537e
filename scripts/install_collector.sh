#!/usr/bin/env bash
# Builds the OpenTelemetry Collector distribution of deploy/collector/builder.yaml with the
# OpenTelemetry Collector Builder (ocb), pinned to the manifest's release, for the Collector
# interop tests (tests/interop/test_collector.py). Everything lands outside the repository:
#   ${XDG_CACHE_HOME:-~/.cache}/tracelogic/otelcol-v<version>/bin/builder        (ocb)
#   ${XDG_CACHE_HOME:-~/.cache}/tracelogic/otelcol-v<version>/dist/otelcol-tracelogic
# and the Go module and build caches (go env GOMODCACHE GOCACHE). A binary built from the
# same manifest (its hash is stamped beside it) that still lists its components is kept.
# A cold build downloads ~250 modules and compiles for minutes (DEVELOPERS.md, CI budget).
set -euo pipefail
cd "$(dirname "$0")/.."
MANIFEST="$PWD/deploy/collector/builder.yaml"
VERSION="$(sed -n 's/^  version: *//p' "$MANIFEST")"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tracelogic/otelcol-v$VERSION"
BIN="$CACHE/dist/otelcol-tracelogic"
hash="$(sha256sum "$MANIFEST" | cut -d' ' -f1)"
if [ -x "$BIN" ] && [ "$(cat "$CACHE/manifest.sha256" 2>/dev/null)" = "$hash" ] \
    && "$BIN" components >/dev/null 2>&1; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "scripts/install_collector.sh: go is not installed (or not on PATH); the Collector" >&2
  echo "  interop tests need Go >= 1.24 to build the OpenTelemetry Collector" >&2
  exit 1
fi
mkdir -p "$CACHE"
if [ ! -x "$CACHE/bin/builder" ] || ! "$CACHE/bin/builder" version 2>/dev/null | grep -q "$VERSION"; then
  GOBIN="$CACHE/bin" GOFLAGS=-buildvcs=false \
    go install "go.opentelemetry.io/collector/cmd/builder@v$VERSION"
fi
cp "$MANIFEST" "$CACHE/builder.yaml"
rm -rf "$CACHE/dist" "$CACHE/manifest.sha256"
# ocb writes the generated sources and the binary to the manifest's output_path (./dist),
# relative to where it runs; -s -w: no symbol tables, a smaller binary and a faster link
(cd "$CACHE" && GOFLAGS=-buildvcs=false bin/builder --config builder.yaml --ldflags "-s -w")
"$BIN" components >/dev/null
echo "$hash" > "$CACHE/manifest.sha256"
