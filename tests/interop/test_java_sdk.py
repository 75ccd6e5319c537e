"""The real OpenTelemetry Java SDK exports to a live `tracelogic serve`, on both engines.

The app (tests/interop/java, a Maven project pinned by the opentelemetry-bom; scripts/
install.sh runs `mvn package` there) makes the shop workload's spans with the Java SDK's own
tracer and the workload's ids, and the OTLP exporters (gRPC and HTTP/protobuf, over the
SDK's default OkHttp sender) send them. The violations in the store must be exactly file
mode's over the same spans: the violating traces and no others. Metrics go the same way
through the Java metrics SDK and both OTLP metric exporters.
"""
from __future__ import annotations

import pytest

from interop.sdk_apps import CPU_SPEC, check_traces, java_app, job_spans, run_app
from sidecar.serve_helpers import metric, metrics_text, start_serve
from tracelogic.testing.stream_workload import traces

FAST = ("--idle", "200ms", "--lateness", "1s")


@pytest.mark.parametrize("exporter,compression", [("grpc", "none"), ("http", "gzip")])
def test_java_trace_exporters_store_exactly_the_violating_traces(tmp_path, monitor_engine,
                                                                 exporter, compression):
    app = java_app()
    sp = start_serve(tmp_path, *FAST)
    ts = list(traces(90, orders=60, seed=48))
    url = (f"http://127.0.0.1:{sp.grpc_port}" if exporter == "grpc" else
           f"{sp.http}/v1/traces")
    out = run_app(app, tmp_path, {"signal": "traces", "exporter": exporter, "url": url,
                                  "compression": compression, "batch": 40,
                                  "spans": job_spans(ts)})
    spans = sum(len(t) for t in ts)
    assert len(out["results"]) == -(-spans // 40)  # one export call per batch of 40
    check_traces(sp, out, ts, "grpc" if exporter == "grpc" else "http")



@pytest.mark.parametrize("exporter", ["grpc", "http"])
def test_java_metric_exporters_reach_metric_invariants(tmp_path, monitor_engine, exporter):
    app = java_app()
    spec = tmp_path / "cpu.spec"
    spec.write_text(CPU_SPEC)
    sp = start_serve(tmp_path, spec=spec)
    points = [("cart", 0.5), ("web", 0.4), ("web", 0.93), ("cart", 0.95), ("web", 0.6),
              ("cart", 0.97), ("web", 0.3), ("cart", 0.2)]
    url = (f"http://127.0.0.1:{sp.grpc_port}" if exporter == "grpc" else
           f"{sp.http}/v1/metrics")
    out = run_app(app, tmp_path, {"signal": "metrics", "exporter": exporter, "url": url,
                                  "points": [{"service": s, "metric": "system.cpu.utilization",
                                              "value": v} for s, v in points]})
    assert out["points"] == len(points) and set(out["results"]) == {"ok"}
    text = metrics_text(sp)
    assert metric(text, "tracelogic_points_processed_total") >= len(points)
    assert sp.terminate() == 0
    # one bad episode of each service (web's 0.93; cart's 0.95, 0.97): one violation each
    got = sorted((v["property"], v["key"]) for v in sp.violations())
    assert got == [("cpu_ok", "cart"), ("cpu_ok", "web")]
