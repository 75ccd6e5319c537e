"""The OpenTelemetry Collector of deploy/collector/builder.yaml as a real process, for the
Collector interop tests: not a test module (no ``test_`` prefix).

scripts/install_collector.sh builds the binary with the Collector Builder into
``~/.cache/tracelogic/otelcol-v<version>/dist/``; without it these tests fail with that
command: they never skip. The configurations the tests run are the files in
deploy/collector/, the same ones docs/serve.md quotes, with only their ``${env:…}``
variables set to loopback addresses here.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sidecar.serve_helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "collector"
MANIFEST = DEPLOY / "builder.yaml"


def version() -> str:
    m = re.search(r"^  version: *(\S+)", MANIFEST.read_text(), re.M)
    assert m, f"{MANIFEST} names no dist version"
    return m.group(1)


def otelcol() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    exe = cache / "tracelogic" / f"otelcol-v{version()}" / "dist" / "otelcol-tracelogic"
    assert exe.is_file(), (f"the OpenTelemetry Collector is not built ({exe}): run "
                           "scripts/install_collector.sh (scripts/install.sh does)")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Collector:
    proc: subprocess.Popen
    log: Path
    grpc_port: int
    http_port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def post(self, path: str, body: bytes, ctype: str = "application/x-protobuf") -> int:
        req = urllib.request.Request(f"{self.http}{path}", data=body, method="POST",
                                     headers={"Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM: the Collector drains its pipelines (exporters flush) and exits."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_collector(tmp: Path, config: Path, env: dict[str, str],
                    name: str = "otelcol") -> Collector:
    """Run the Collector on ``config`` with ``env`` added to the environment and its OTLP
    receiver on free loopback ports (OTELCOL_GRPC, OTELCOL_HTTP); wait until it is ready."""
    grpc_port, http_port = free_port(), free_port()
    log = tmp / f"{name}.log"
    full = {**os.environ, **env, "OTELCOL_GRPC": f"127.0.0.1:{grpc_port}",
            "OTELCOL_HTTP": f"127.0.0.1:{http_port}"}
    # the Collector's own metrics would listen on 127.0.0.1:8888 in every test at once
    cmd = [str(otelcol()), "--config", str(config),
           "--set", "service::telemetry::metrics::level=none"]
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=full,
                                cwd=str(tmp))

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"the Collector exited with {proc.returncode}:\n"
                                 f"{log.read_text()}")
        return "Everything is ready" in log.read_text()

    wait_for(ready, 60, "the Collector to start")
    return Collector(proc, log, grpc_port, http_port)
