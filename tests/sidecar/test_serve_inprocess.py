"""The sidecar as a Python object (what `tracelogic serve` runs), in this process:
retention limits, the JSON log, and a clean stop."""
from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace.export import SpanExportResult

from tracelogic.sidecar.server import ServeConfig, Sidecar, setup_logging
from tracelogic.engine.stream import SECOND
from tracelogic.testing.stream_workload import to_sdk, traces

from .serve_helpers import store_violations, wait_for, write_spec


def test_retention_keeps_at_most_the_configured_rows(tmp_path):
    log = io.StringIO()
    setup_logging("info", log)
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http="127.0.0.1:0",
                      store=str(tmp_path / "v.db"), idle_ns=SECOND // 10,
                      lateness_ns=SECOND, retention_rows=3, retention_interval_s=0.05)
    sc = Sidecar(cfg)
    sc.start()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        port = sc.addresses()["http"].rsplit(":", 1)[1]
        exp = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        for t in traces(200, seed=41):
            assert exp.export(to_sdk(t)) is SpanExportResult.SUCCESS
        records = lambda: [json.loads(l) for l in log.getvalue().splitlines()]  # noqa: E731
        wait_for(lambda: sum(r["msg"] == "violation" for r in records()) > 3, 20,
                 "more than 3 violations")
        wait_for(lambda: any(r["msg"] == "retention" for r in records()), 20, "retention")
        wait_for(lambda: len(store_violations(tmp_path / "v.db")) <= 3, 20, "retention")
    finally:
        sc.stop()
        logging.getLogger("tracelogic").handlers.clear()
    assert 0 < len(store_violations(tmp_path / "v.db")) <= 3
    assert not sc.healthy or sc.queue.closed
