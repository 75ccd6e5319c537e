#!/usr/bin/env bash
# Builds the Go and Java OpenTelemetry SDK apps of tests/interop (test_go_sdk.py,
# test_java_sdk.py), exactly as their manifests pin them:
#   tests/interop/go    go.mod + go.sum  -> tests/interop/go/build/otlpapp
#   tests/interop/java  pom.xml (BOM)    -> tests/interop/java/target/otlpapp.jar + target/lib
# Both outputs are git-ignored. The downloads are cached outside the repository, in Go's
# module and build caches (go env GOMODCACHE GOCACHE) and Maven's ~/.m2, so a warm run
# fetches nothing and the tests need no network. A Java build whose sources are unchanged
# (their hash is stamped in target/) is kept; `go build` decides for itself from its cache.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1; then
  echo "scripts/install_sdk_apps.sh: go is not installed (or not on PATH); the Go SDK and" >&2
  echo "  Collector interop tests need Go >= 1.26 (tests/interop/go/go.mod)" >&2
  exit 1
fi
(cd tests/interop/go && GOFLAGS=-buildvcs=false go build -trimpath -o build/otlpapp .)
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "scripts/install_sdk_apps.sh: $tool is not installed; on Debian: apt-get install" \
      "default-jdk-headless maven" >&2
    exit 1
  fi
done
(
  cd tests/interop/java
  src_hash="$(find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
  if [ ! -f target/otlpapp.jar ] || [ "$(cat target/.tracelogic-src 2>/dev/null)" != "$src_hash" ]; then
    # offline first: after one install everything is in ~/.m2
    mvn -q -B -o package 2>/dev/null || mvn -q -B package
    echo "$src_hash" > target/.tracelogic-src
  fi
)
