"""`tracelogic serve --engine native|python` over real sockets: the same traffic, the
same stored violations (issue 17 step 5).

Each engine gets one `serve` process; the same traces go to both, half over OTLP/HTTP and
half over OTLP/gRPC, with a retried request (duplicates) and spans of a trace sent after
the trace was decided (late). The stored violation records must be equal (every field,
in a canonical order: the engines commit in batches whose boundaries depend on timing),
and the `serving` log line must say which engine runs each property.
"""
from __future__ import annotations

import json
import time

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tracelogic.ingest.spans import Span
from tracelogic.testing.stream_workload import to_sdk, traces

from .serve_helpers import (file_mode, grpc_exporter, http_exporter, keyset, metric,
                                 metrics_text, start_serve, wait_for)

pytest.importorskip("tracelogic._native")


def _run(tmp_path, engine: str, ts: list) -> tuple[list[dict], dict, str]:
    sp = start_serve(tmp_path / engine, "--engine", engine, "--idle", "100ms",
                     "--lateness", "1s", name=engine, store=tmp_path / f"{engine}.db")
    h, g = http_exporter(sp), grpc_exporter(sp)
    for i, t in enumerate(ts):
        assert (h if i % 2 else g).export(to_sdk(t)) is SpanExportResult.SUCCESS
    assert h.export(to_sdk(ts[0])) is SpanExportResult.SUCCESS  # a retry: duplicates
    wait_for(lambda: metric(metrics_text(sp), "tracelogic_traces_completed") >= len(ts), 30,
             "every trace decided")
    t = ts[1][0]  # a new span of a trace already decided: late
    late = [Span(name="late", trace_id=t.trace_id, span_id="ab" * 8, parent_id=t.span_id,
                 start_ns=t.start_ns, end_ns=t.start_ns + 1)]
    assert g.export(to_sdk(late)) is SpanExportResult.SUCCESS
    time.sleep(0.3)
    text = metrics_text(sp)
    assert sp.terminate() == 0
    serving = next(r for r in sp.logs() if r.get("msg") == "serving")
    return sp.violations(), serving, text


def test_both_engines_store_the_same_violations(tmp_path):
    (tmp_path / "python").mkdir()
    (tmp_path / "native").mkdir()
    ts = list(traces(120, orders=80, seed=31))
    py, py_serving, py_text = _run(tmp_path, "python", ts)
    nat, nat_serving, nat_text = _run(tmp_path, "native", ts)

    def canon(bodies):
        return sorted(json.dumps({k: v for k, v in b.items() if k not in ("id", "time")},
                                 sort_keys=True) for b in bodies)
    assert canon(nat) == canon(py)
    assert keyset(nat) == file_mode(ts)
    assert set(py_serving["engines"].values()) == {"python"}
    engines = nat_serving["engines"]
    # the workload's spec is untimed formulas only, per trace, per attr["order.id"] and
    # global: every one runs in the core, none falls back
    assert set(engines.values()) == {"native"}, nat_serving["fallbacks"]
    assert not any(nat_serving["fallbacks"].values())
    for name in ("tracelogic_spans_duplicate", "tracelogic_spans_late",
                 "tracelogic_traces_completed", "tracelogic_spans_processed_total"):
        assert metric(nat_text, name) == metric(py_text, name), name
    assert metric(nat_text, "tracelogic_spans_duplicate") > 0
    assert metric(nat_text, "tracelogic_spans_late") > 0
