"""The real OpenTelemetry JavaScript SDK exports to a live `tracelogic serve`.

Node's OTLP/HTTP exporters send ``Transfer-Encoding: chunked`` without a Content-Length,
which the receiver once answered 411. Here the SDK's own tracer makes the spans of the
shop workload (with the workload's ids, through an ``IdGenerator``), each of the three
trace exporters (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC) sends them, and the
violations in the store must be exactly file mode's over the same spans. Metrics go the
same way through the JS metrics SDK and both OTLP/HTTP metric exporters.

The Node app is ``tests/interop/js`` (pinned in its package-lock.json; ``scripts/install.sh``
runs ``npm ci`` there). Without node or those packages these tests fail: they never skip.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sidecar.serve_helpers import file_mode, keyset, metric, metrics_text, start_serve
from tracelogic.testing.stream_workload import traces

APP = Path(__file__).resolve().parent / "js"
FAST = ("--idle", "200ms", "--lateness", "1s")


def node() -> str:
    exe = shutil.which("node")
    assert exe, "node is not installed: the JavaScript SDK interop tests need Node.js >= 20"
    for pkg in ("sdk-trace-base", "exporter-trace-otlp-proto", "exporter-trace-otlp-http",
                "exporter-trace-otlp-grpc", "sdk-metrics", "exporter-metrics-otlp-http",
                "exporter-metrics-otlp-proto"):
        assert (APP / "node_modules" / "@opentelemetry" / pkg).is_dir(), (
            f"@opentelemetry/{pkg} is not installed: run `npm ci` in {APP} "
            "(scripts/install.sh does)")
    return exe


def run_node(tmp_path: Path, job: dict) -> dict:
    path = tmp_path / f"job-{job['exporter']}.json"
    path.write_text(json.dumps(job))
    r = subprocess.run([node(), str(APP / "export.js"), str(path)], capture_output=True,
                       text=True, timeout=120, cwd=str(APP))
    assert r.returncode == 0, f"node exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def hrtime(ns: int) -> list[int]:
    return [ns // 10**9, ns % 10**9]


@pytest.mark.parametrize("exporter,compression", [
    ("proto", "none"), ("proto", "gzip"), ("json", "none"), ("grpc", "none")])
def test_js_trace_exporters_store_exactly_the_violating_traces(tmp_path, exporter,
                                                               compression):
    node()
    sp = start_serve(tmp_path, *FAST)
    ts = list(traces(90, orders=60, seed=41))
    spans = [{"name": s.name, "trace_id": s.trace_id, "span_id": s.span_id,
              "parent_id": s.parent_id or "", "start": hrtime(s.start_ns),
              "end": hrtime(s.end_ns), "kind": s.kind, "status": s.status,
              "service": s.service, "attrs": dict(s.attrs)} for t in ts for s in t]
    url = (f"http://127.0.0.1:{sp.grpc_port}" if exporter == "grpc" else
           f"{sp.http}/v1/traces")
    out = run_node(tmp_path, {"signal": "traces", "exporter": exporter, "url": url,
                              "compression": compression, "batch": 40, "spans": spans})
    assert out["spans"] == len(spans) and set(out["results"]) == {"ok"}
    text = metrics_text(sp)
    transport = "grpc" if exporter == "grpc" else "http"
    assert metric(text, "tracelogic_spans_processed_total") == len(spans)
    assert metric(text, "tracelogic_requests_total", signal="traces", transport=transport,
                  outcome="ok") == len(out["results"])
    assert metric(text, "tracelogic_spans_rejected_total") == 0
    assert sp.terminate() == 0
    expected = file_mode(ts)
    assert {"no_error", "no_double_charge", "answered"} <= {k[0] for k in expected}
    assert keyset(sp.violations()) == expected


CPU_SPEC = ('metric cpu = "system.cpu.utilization" : ratio\n'
            'metric invariant cpu_ok per service:\n  cpu < 0.9\n')


@pytest.mark.parametrize("exporter", ["proto", "json"])
def test_js_metric_exporters_reach_metric_invariants(tmp_path, exporter):
    node()
    spec = tmp_path / "cpu.spec"
    spec.write_text(CPU_SPEC)
    sp = start_serve(tmp_path, spec=spec)
    points = [("cart", 0.5), ("web", 0.4), ("cart", 0.95), ("web", 0.6), ("cart", 0.97),
              ("web", 0.3), ("cart", 0.2)]
    out = run_node(tmp_path, {"signal": "metrics", "exporter": exporter,
                              "url": f"{sp.http}/v1/metrics",
                              "points": [{"service": s, "metric": "system.cpu.utilization",
                                          "value": v} for s, v in points]})
    assert out["points"] == len(points) and set(out["results"]) == {"ok"}
    text = metrics_text(sp)
    assert metric(text, "tracelogic_points_processed_total") >= len(points)
    assert metric(text, "tracelogic_requests_total", signal="metrics", outcome="ok") >= \
        len(points)
    assert sp.terminate() == 0
    # one bad episode (0.95, 0.97) of one service: exactly one violation, for cart
    got = [(v["property"], v["key"]) for v in sp.violations()]
    assert got == [("cpu_ok", "cart")]


LOG_PACKAGES = ("sdk-logs", "api-logs", "exporter-logs-otlp-http", "exporter-logs-otlp-proto")


@pytest.mark.parametrize("exporter", ["proto", "json"])
def test_js_log_exporters_reach_the_properties_that_read_logs(tmp_path, exporter):
    """The JS SDK's logger and OTLP/HTTP log exporters (docs/logs.md): the violations in
    the store are file mode's over the same spans and records."""
    import re

    from tracelogic import load
    from tracelogic.engine.monitor import Monitor
    from tracelogic.ingest.logs import LogRecord
    from tracelogic.ingest.spans import Span

    node()
    for pkg in LOG_PACKAGES:
        assert (APP / "node_modules" / "@opentelemetry" / pkg).is_dir(), (
            f"@opentelemetry/{pkg} is not installed: run `npm ci` in {APP}")
    doc = (APP.parents[2] / "docs" / "logs.md").read_text(encoding="utf-8")
    [text] = re.findall(r"```spec\n(.*?)```", doc, re.S)
    spec = tmp_path / "logs.spec"
    spec.write_text(text)
    sp = start_serve(tmp_path, *FAST, spec=spec)
    t0 = 1_700_000_000 * 10**9
    s = 10**9
    spans = [Span(name="POST /checkout", kind="server", status="ok", service="shop",
                  trace_id="%032x" % i, span_id="%016x" % i, start_ns=t0, end_ns=t0 + s)
             for i in (1, 2)]
    spans.append(Span(name="pay", kind="client", service="shop", trace_id="%032x" % 3,
                      span_id="%016x" % 3, start_ns=t0 + 10 * s, end_ns=t0 + 11 * s,
                      attrs={"peer.service": "bank"}))
    recs = [LogRecord(time_ns=t0 + s // 2, severity=17, severity_text="ERROR",
                      body="payment declined", service="shop", trace_id="%032x" % 1,
                      span_id="%016x" % 1),
            LogRecord(time_ns=t0 + s // 2, severity=9, severity_text="INFO", body="paid",
                      service="shop", trace_id="%032x" % 2, span_id="%016x" % 2),
            LogRecord(time_ns=t0 + 2 * s, severity=13, body="circuit opened", service="shop",
                      attrs={"peer.service": "bank"})]
    # the records first: they wait for their traces (a trace's spans may come later)
    out = run_node(tmp_path, {"signal": "logs", "exporter": exporter,
                              "url": f"{sp.http}/v1/logs",
                              "records": [{"time": hrtime(r.time_ns), "severity": r.severity,
                                           "severity_text": r.severity_text
                                           if isinstance(r.severity_text, str) else "",
                                           "body": r.body, "trace_id": r.trace_id,
                                           "span_id": r.span_id, "service": r.service,
                                           "attrs": dict(r.attrs)} for r in recs]})
    assert out["records"] == len(recs) and set(out["results"]) == {"ok"}
    out = run_node(tmp_path, {"signal": "traces", "exporter": "proto", "batch": 40,
                              "url": f"{sp.http}/v1/traces", "compression": "none",
                              "spans": [{"name": x.name, "trace_id": x.trace_id,
                                         "span_id": x.span_id, "parent_id": "",
                                         "start": hrtime(x.start_ns), "end": hrtime(x.end_ns),
                                         "kind": x.kind, "status": x.status,
                                         "service": x.service, "attrs": dict(x.attrs)}
                                        for x in spans]})
    assert set(out["results"]) == {"ok"}
    stats = metrics_text(sp)
    assert metric(stats, "tracelogic_logs_processed_total") == len(recs)
    assert metric(stats, "tracelogic_requests_total", signal="logs", outcome="ok") == 1
    assert sp.terminate() == 0
    mon = Monitor(load(text, filename="logs.spec"))
    mon.feed(spans)
    mon.feed_logs(recs)
    expected = {(v.prop.name, v.key) for v in mon.close().violations}
    assert expected == {("no_error_log_in_ok_checkout", "%032x" % 1), ("breaker_holds", "bank")}
    assert {(v["property"], v["key"]) for v in sp.violations()} == expected
