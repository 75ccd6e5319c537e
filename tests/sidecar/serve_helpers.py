"""Helpers for the sidecar tests: start `tracelogic serve` as a real process on free
loopback ports, build the real OpenTelemetry SDK exporters pointed at it, wait.

Not a test module (no `test_` prefix): the `test_serve*.py` modules import these.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.testing.stream_workload import SPEC

ROOT = Path(__file__).resolve().parents[2]


def wait_for(pred: Callable[[], object], timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class ServeProc:
    proc: subprocess.Popen
    log: Path
    store: Path
    http_port: int | None
    grpc_port: int | None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def logs(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def violations(self) -> list[dict]:
        return store_violations(self.store)


def store_violations(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        return [json.loads(b) for (b,) in conn.execute("SELECT body FROM violations ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def file_mode(ts) -> set:
    """The oracle of the serve tests: ``(property, key, span ids)`` of every violation
    the file-mode Monitor finds in the traces ``ts`` under the shop spec."""
    mon = Monitor(tracelogic.load(SPEC, filename="shop.spec"))
    for t in ts:
        mon.feed(t)
    return {(v.prop.name, v.key, tuple(v.span_ids)) for v in mon.close().violations}


def keyset(bodies) -> set:
    """The same key set of violations as serve reports them (JSON objects)."""
    return {(v["property"], v["key"], tuple(v["span_ids"])) for v in bodies}


def cpu_metrics(*values: float) -> bytes:
    """A serialized ``ExportMetricsServiceRequest``: service cart's
    ``system.cpu.utilization`` gauge with one point per value, 1 ns apart."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv = rm.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "cart"
    m = rm.scope_metrics.add().metrics.add()
    m.name = "system.cpu.utilization"
    for i, v in enumerate(values):
        p = m.gauge.data_points.add()
        p.time_unix_nano, p.as_double = 1_700_000_000 * 10**9 + i, v
    return req.SerializeToString()


def send_raw(port: int, raw: bytes, timeout: float = 30) -> bytes:
    """Send ``raw`` bytes to the HTTP port, half-close, and return everything the server
    writes until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is still readable
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        while True:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
    return data


def write_spec(tmp: Path, text: str = SPEC, name: str = "shop.spec") -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def start_serve(tmp: Path, *args: str, spec: Path | None = None, store: Path | None = None,
                name: str = "serve", env: dict | None = None, http: bool = True,
                grpc: bool = True) -> ServeProc:
    spec = spec or write_spec(tmp)
    store = store or tmp / "tracelogic.db"
    log = tmp / f"{name}.log"
    cmd = [sys.executable, "-c", "from tracelogic.cli import main; main()", "serve", str(spec), "--store", str(store),
           "--grpc", "127.0.0.1:0" if grpc else "off",
           "--http", "127.0.0.1:0" if http else "off", *args]
    f = open(log, "a")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=f, cwd=str(tmp),
                            env={**os.environ, **(env or {})})
    f.close()
    offset = log.stat().st_size if log.exists() else 0

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {log.read_text()}")
        text = log.read_text()
        for line in text.splitlines():
            if '"msg": "serving"' in line:
                rec = json.loads(line)
                if rec is not None:
                    return rec
        return None

    del offset
    rec = wait_for(ready, 60, "serve to listen")
    # a restarted process appends to the same log: take its own (last) "serving" line
    recs = [json.loads(l) for l in log.read_text().splitlines() if '"msg": "serving"' in l]
    rec = recs[-1]
    listen = rec["listen"]
    port = lambda k: int(listen[k].rsplit(":", 1)[1]) if k in listen else None  # noqa: E731
    return ServeProc(proc, log, store, port("http"), port("grpc"))


def http_exporter(sp: ServeProc, **kw):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(endpoint=f"{sp.http}/v1/traces", **kw)


def grpc_exporter(sp: ServeProc, **kw):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(endpoint=sp.grpc, insecure=True, **kw)


def metrics_text(sp: ServeProc) -> str:
    import urllib.request
    with urllib.request.urlopen(f"{sp.http}/metrics", timeout=10) as r:
        return r.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text (sum over unmentioned labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        base, _, rest = head.partition("{")
        if base != name:
            continue
        got = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv) if rest else {}
        got = {k: v.strip('"') for k, v in got.items()}
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total
