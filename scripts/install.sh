#!/usr/bin/env bash
# Installs everything tracelogic's tests need on a fresh Debian machine, as root:
# the system oracles (MONA for ltlf2dfa, spin and NuSMV for model-checking cross-checks),
# Node.js for the JavaScript SDK interop tests, the package itself in editable mode
# with its test and benchmark extras, the interop app's pinned npm packages, and the
# pinned validators of the CI formats (SARIF multitool, Mermaid), the Go and Java SDK apps
# and the OpenTelemetry Collector of the interop tests (Go, Maven).
# The package includes a Rust extension (native/, docs/native.md) that pip builds with
# maturin, so a Rust toolchain (cargo, rustc >= 1.85) and a C linker must be present.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
  # only what is missing: a machine may carry its own Node.js (nodesource, nvm), and asking
  # apt for Debian's nodejs/npm beside it fails with "held broken packages"
  packages=()
  command -v mona >/dev/null 2>&1 || packages+=(mona)
  command -v spin >/dev/null 2>&1 || packages+=(spin)
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  command -v zsh >/dev/null 2>&1 || packages+=(zsh)  # checks `tracelogic completion zsh`
  # the Java SDK interop app (tests/interop/java) is built with Maven
  command -v javac >/dev/null 2>&1 || packages+=(default-jdk-headless)
  command -v mvn >/dev/null 2>&1 || packages+=(maven)
  if [ "${#packages[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
fi
# issue 16, the visual report and the operations kit: headless Chromium renders the HTML
# report (tests/engine/test_report_html.py) and promtool, from Debian's prometheus package,
# checks and unit-tests deploy/prometheus/alerts.yml (tests/deploy/). Only what is missing.
if command -v apt-get >/dev/null 2>&1; then
  kit_packages=()
  command -v chromium >/dev/null 2>&1 || kit_packages+=(chromium)
  command -v promtool >/dev/null 2>&1 || kit_packages+=(prometheus)
  if [ "${#kit_packages[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${kit_packages[@]}" >/dev/null
  fi
fi
# Go's official archive installs into /usr/local/go/bin, which a non-login shell may not have
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
need_rust() {
  echo "scripts/install.sh: $1" >&2
  echo "  tracelogic's native core (native/) is built with Rust >= 1.85. Install it with rustup:" >&2
  echo "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile default" >&2
  echo "  then run this script again (rustup puts cargo in ~/.cargo/bin). docs/native.md has details." >&2
  exit 1
}
command -v cargo >/dev/null 2>&1 || need_rust "cargo is not installed (or not on PATH)."
command -v rustc >/dev/null 2>&1 || need_rust "rustc is not installed (or not on PATH)."
rust_version="$(rustc --version | awk '{print $2}')"
IFS=. read -r rust_major rust_minor _ <<<"$rust_version"
if [ "$rust_major" -lt 1 ] || { [ "$rust_major" -eq 1 ] && [ "$rust_minor" -lt 85 ]; }; then
  need_rust "rustc $rust_version is too old (Debian's own rustc is; use rustup's)."
fi
if ! command -v cc >/dev/null 2>&1; then
  echo "scripts/install.sh: no C linker (cc); on Debian: apt-get install build-essential" >&2
  exit 1
fi
# cargo fmt and clippy run in the test suite (tests/native/test_cargo.py)
if command -v rustup >/dev/null 2>&1; then
  installed="$(rustup component list --installed 2>/dev/null || true)"
  for component in clippy rustfmt; do
    grep -q "^$component" <<<"$installed" || rustup component add "$component"
  done
fi
python3 -m pip install -q -e '.[test,bench]'
# Porcupine (github.com/anishathalye/porcupine, pinned in bench/porcupine/go.mod): its
# Jepsen histories are the real test data of tests/consistency/test_jepsen.py and it is
# the baseline of bench/bench_consistency.py. Go's module cache holds it (downloaded once,
# never committed); Go itself comes from Debian when it is missing.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go >/dev/null
fi
(cd bench/porcupine && GOFLAGS=-mod=mod go mod download github.com/anishathalye/porcupine)
# NuSMV, the second model-checking oracle (tests/oracle); its wheel is built once and cached
bash scripts/install_pynusmv.sh
# the editable install runs the sources in place: compile their byte code once, so commands
# start fast even where PYTHONDONTWRITEBYTECODE keeps Python from caching it (docs/cli.md)
python3 -m compileall -q -j 0 src/tracelogic
# tests/interop/js: the OpenTelemetry JavaScript SDK, exactly as package-lock.json pins it
(cd tests/interop/js && npm ci --no-audit --no-fund --loglevel=error)
# tests/interop/tools: the SARIF multitool and Mermaid (with jsdom) that validate the CI
# formats, as its package-lock.json pins them. Cached: `npm ci` runs again only when the
# lock file changed since the last install (a stamp in node_modules holds its hash).
(
  cd tests/interop/tools
  lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ "$(cat node_modules/.tracelogic-lock 2>/dev/null)" != "$lock_hash" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > node_modules/.tracelogic-lock
  fi
  # npm may hold back the package's postinstall (`chmod u+x`): do it here
  chmod u+x node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
)
# tests/interop/go and tests/interop/java: the OpenTelemetry Go and Java SDK apps, as their
# go.sum and pom.xml pin them (downloads cached in Go's caches and ~/.m2)
bash scripts/install_sdk_apps.sh
# the OpenTelemetry Collector of deploy/collector/builder.yaml, built with the Collector
# Builder into ~/.cache/tracelogic/otelcol-v<version>/ (kept while the manifest is unchanged)
bash scripts/install_collector.sh
