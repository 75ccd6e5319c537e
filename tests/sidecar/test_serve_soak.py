"""A soak of `tracelogic serve` (only with TRACELOGIC_LONG=1): paced load over both
transports for a bounded time, with reloads and a restart, against 127.0.0.1 only.

Checks that memory stays bounded, nothing is refused at a sustainable rate, and the
violations equal file mode over everything sent. ``TRACELOGIC_SOAK_SECONDS`` sets the
length (default 120 s, at most 1800 s).
"""
from __future__ import annotations

import os
import signal
import time

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.testing.stream_workload import SPEC, to_sdk, traces

from .serve_helpers import (grpc_exporter, http_exporter, metric, metrics_text,
                                 start_serve)

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not LONG, reason="soak: set TRACELOGIC_LONG=1")]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_soak_bounded_memory_and_exact_results(tmp_path):
    seconds = min(1800.0, float(os.environ.get("TRACELOGIC_SOAK_SECONDS", "120")))
    sp = start_serve(tmp_path, "--idle", "300ms", "--lateness", "2s", "--journal")
    h, g = http_exporter(sp), grpc_exporter(sp)
    sent = []
    rss = []
    t_end = time.monotonic() + seconds
    batch = 0
    start_ns = 1_700_000_000 * 10**9
    while time.monotonic() < t_end:
        ts = list(traces(200, seed=1000 + batch, orders=5000,
                         start_ns=start_ns + batch * 200 * 10**6))
        for i, t in enumerate(ts):
            assert (h if i % 2 else g).export(to_sdk(t)) is SpanExportResult.SUCCESS
        sent += ts
        batch += 1
        if batch % 10 == 0:
            sp.proc.send_signal(signal.SIGHUP)  # reload the unchanged spec: keeps everything
        rss.append(rss_kib(sp.proc.pid))
        time.sleep(0.2)
    text = metrics_text(sp)
    assert metric(text, "tracelogic_spans_refused_total") == 0
    assert metric(text, "tracelogic_traces_evicted") == 0
    assert sp.terminate() == 0
    mon = Monitor(tracelogic.load(SPEC, filename="shop.spec"))
    for t in sent:
        mon.feed(t)
    expected = {(v.prop.name, v.key, tuple(v.span_ids)) for v in mon.close().violations}
    got = {(v["property"], v["key"], tuple(v["span_ids"])) for v in sp.violations()}
    assert got == expected
    # memory: the second half of the run grows by less than 20% over the first half's peak
    half = len(rss) // 2
    assert max(rss[half:]) < 1.2 * max(rss[:half]) + 20_000, rss
