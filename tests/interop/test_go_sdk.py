"""The real OpenTelemetry Go SDK exports to a live `tracelogic serve`, on both engines.

The app (tests/interop/go, pinned by its go.mod and go.sum; scripts/install.sh builds it)
makes the shop workload's spans with the Go SDK's own tracer and the workload's ids, and
the otlptracegrpc and otlptracehttp exporters send them. The violations in the store must
be exactly file mode's over the same spans: the violating traces and no others. Metrics go
the same way through the Go metrics SDK and both OTLP metric exporters.
"""
from __future__ import annotations

import os

import pytest

from interop.sdk_apps import CPU_SPEC, check_traces, go_app, job_spans, run_app
from sidecar.serve_helpers import file_mode, keyset, metric, metrics_text, start_serve
from tracelogic.testing.stream_workload import traces

FAST = ("--idle", "200ms", "--lateness", "1s")


@pytest.mark.parametrize("exporter,compression", [
    ("grpc", "none"), ("grpc", "gzip"), ("http", "none"), ("http", "gzip")])
def test_go_trace_exporters_store_exactly_the_violating_traces(tmp_path, monitor_engine,
                                                               exporter, compression):
    app = go_app()
    sp = start_serve(tmp_path, *FAST)
    ts = list(traces(90, orders=60, seed=51))
    url = (f"http://127.0.0.1:{sp.grpc_port}" if exporter == "grpc" else
           f"{sp.http}/v1/traces")
    out = run_app(app, tmp_path, {"signal": "traces", "exporter": exporter, "url": url,
                                  "compression": compression, "batch": 40,
                                  "spans": job_spans(ts)})
    spans = sum(len(t) for t in ts)
    assert len(out["results"]) == -(-spans // 40)  # one export call per batch of 40
    check_traces(sp, out, ts, "grpc" if exporter == "grpc" else "http")


def test_go_http_exporter_configured_from_the_environment(tmp_path, monitor_engine):
    """No endpoint in code: the standard OTEL_EXPORTER_OTLP_* variables point the exporter
    at serve (the base endpoint, to which the SDK appends /v1/traces) and turn on gzip."""
    app = go_app()
    sp = start_serve(tmp_path, *FAST)
    ts = list(traces(40, orders=25, seed=44))
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": sp.http,
           "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    out = run_app(app, tmp_path, {"signal": "traces", "exporter": "http", "url": "",
                                  "batch": 100, "spans": job_spans(ts)}, env=env)
    spans = sum(len(t) for t in ts)
    assert out["spans"] == spans and set(out["results"]) == {"ok"}
    assert sp.terminate() == 0
    expected = file_mode(ts)
    assert expected and keyset(sp.violations()) == expected



@pytest.mark.parametrize("exporter", ["grpc", "http"])
def test_go_metric_exporters_reach_metric_invariants(tmp_path, monitor_engine, exporter):
    app = go_app()
    spec = tmp_path / "cpu.spec"
    spec.write_text(CPU_SPEC)
    sp = start_serve(tmp_path, spec=spec)
    points = [("cart", 0.5), ("web", 0.4), ("cart", 0.95), ("web", 0.6), ("cart", 0.97),
              ("web", 0.3), ("cart", 0.2)]
    url = (f"http://127.0.0.1:{sp.grpc_port}" if exporter == "grpc" else
           f"{sp.http}/v1/metrics")
    out = run_app(app, tmp_path, {"signal": "metrics", "exporter": exporter, "url": url,
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
