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


def test_a_violation_log_line_reuses_the_stored_text(tmp_path):
    """The engine logs a committed violation from the JSON text the store wrote (not encoded
    again): the line holds the same object as the body with its row id, and other fields
    are encoded as before."""
    from tracelogic.sidecar.server import JsonFormatter, _logged
    from tracelogic.sidecar.store import Store

    body = {"property": "p", "key": "k\u00e9", "trace_ids": ["t"], "span_ids": ["s"],
            "message": "bad \ud800 \U0001f600", "severity": "error", "n": 3}
    (rec, new), = Store(str(tmp_path / "v.db")).add_violations([body])
    fmt = JsonFormatter()
    line = fmt.format(logging.LogRecord("tracelogic.serve", logging.WARNING, "x", 1,
                                        "violation", (), None))
    assert json.loads(line)["msg"] == "violation"
    rec_log = logging.LogRecord("tracelogic.serve", logging.WARNING, "x", 1, "violation", (),
                                None)
    rec_log.fields = {"other": {"a": 1}, "violation": _logged(rec)}
    out = json.loads(fmt.format(rec_log))
    assert new and out["violation"] == dict(rec.body, id=rec.id) and out["other"] == {"a": 1}
    assert out["violation"]["message"] == "bad \\ud800 \U0001f600"  # escaped as stored


def test_violation_lines_written_in_one_go_are_the_log_records_lines(tmp_path):
    """With setup_logging's handler, the engine writes a commit's violation lines in one
    write: the same lines, in order, as a record per violation gives (a filter on the way
    takes the record path), the time aside; a record without stored text too."""
    import dataclasses
    import re

    from tracelogic.sidecar.server import JsonFormatter, _plain_handlers, log as serve_log
    from tracelogic.sidecar.store import Store

    bodies = [{"property": f"p{i}", "key": f"k{i}\u00e9", "trace_ids": ["t"],
               "span_ids": ["s"], "message": "bad \ud800" if i == 1 else "m",
               "severity": "error"} for i in range(3)]
    recs = [r for r, _ in Store(str(tmp_path / "v.db")).add_violations(bodies)]
    recs.append(dataclasses.replace(recs[0], text=None))  # no stored text
    sc = Sidecar.__new__(Sidecar)
    sc.consistency, sc.healer = None, None
    sc.metrics = Sidecar._registry(sc)
    outs = []
    try:
        for path in ("lines", "records"):
            out = io.StringIO()
            setup_logging("info", out)
            handler = logging.getLogger("tracelogic").handlers[0]
            if path == "records":
                handler.addFilter(lambda r: True)
            assert (_plain_handlers(serve_log) is None) == (path == "records")
            sc._report(recs)
            outs.append(re.sub(r'"time": "[^"]*"', '"time": "T"', out.getvalue()))
    finally:
        logging.getLogger("tracelogic").handlers.clear()
    assert outs[0] == outs[1] and outs[0].count("\n") == 4
    # a second plain handler on the way (the serve logger's own) gets the same lines
    out, own = io.StringIO(), io.StringIO()
    setup_logging("info", out)
    extra = logging.StreamHandler(own)
    extra.setFormatter(JsonFormatter())
    serve_log.addHandler(extra)
    try:
        assert _plain_handlers(serve_log) is not None
        sc._report(recs)
    finally:
        serve_log.removeHandler(extra)
        logging.getLogger("tracelogic").handlers.clear()
    assert out.getvalue() == own.getvalue()
    assert re.sub(r'"time": "[^"]*"', '"time": "T"', own.getvalue()) == outs[0]
    lines = [json.loads(line) for line in outs[0].splitlines()]
    assert [ln["violation"] for ln in lines] == [dict(r.body, id=r.id) for r in recs]
    assert all(ln["msg"] == "violation" and ln["level"] == "warning" for ln in lines)


def test_with_no_request_waiting_an_engine_step_decides_several_chunks_before_one_commit(
        tmp_path):
    """A backlog of completed traces is decided chunk by chunk; while no request is in the
    step or queued, up to ``decide_chunks`` chunks go before one commit (fewer fsyncs),
    and a queued request stops that after the chunk in hand."""
    from tracelogic.sidecar.server import _Item
    from tracelogic.testing.stream_workload import request_bytes

    now = [0]
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http=None,
                      store=str(tmp_path / "v.db"), idle_ns=SECOND, lateness_ns=SECOND,
                      decide_chunk=10, decide_chunks=3)
    sc = Sidecar(cfg, clock=lambda: now[0])  # not started: this test is the engine thread
    commits = []
    real = sc.store.add_violations
    sc.store.add_violations = lambda vs: commits.append(len(vs)) or real(vs)
    ts = list(traces(100, seed=3, bad_every=1))  # every trace violates something
    sc._process([_Item("traces", "protobuf", request_bytes([s for t in ts for s in t]),
                       raw=True, n=1000)])
    now[0] += 2 * SECOND
    sc._process([])  # 3 chunks of 10, one commit
    assert sc.sm.backlog == 100 - 30 and len(commits) == 1
    sc.queue.offer(_Item("traces", "protobuf", b"", raw=True, n=0))
    sc._process([])  # a request is queued: one chunk only
    assert sc.sm.backlog == 100 - 40 and len(commits) == 2
    while sc.sm.backlog:
        sc._process(sc.queue.take(0))
    assert sum(commits) == len(store_violations(tmp_path / "v.db")) > 0
    sc.store.close()


def test_an_engine_step_decides_a_chunk_per_trace_request_and_more_when_behind(tmp_path):
    """Deciding keeps pace with the input: a step with k trace requests decides k chunks
    (at most decide_chunks) before its one commit, and goes on up to decide_chunks while
    the backlog is past max_backlog, where new requests would be refused."""
    from tracelogic.sidecar.server import _Item
    from tracelogic.testing.stream_workload import request_bytes

    now = [0]
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http=None,
                      store=str(tmp_path / "v.db"), idle_ns=SECOND, lateness_ns=SECOND,
                      decide_chunk=10, decide_chunks=4, max_backlog=60)
    sc = Sidecar(cfg, clock=lambda: now[0])  # not started: this test is the engine thread
    commits = []
    real = sc.store.add_violations
    sc.store.add_violations = lambda vs: commits.append(len(vs)) or real(vs)
    ts = list(traces(200, seed=3, bad_every=1))  # every trace violates something
    empty = lambda: _Item("traces", "protobuf", b"", raw=True, n=0)  # noqa: E731
    sc._process([_Item("traces", "protobuf", request_bytes([s for t in ts for s in t]),
                       raw=True, n=2000)])
    now[0] += 2 * SECOND
    sc._process([empty(), empty()])  # 200 waiting, past max_backlog: 4 chunks
    assert sc.sm.backlog == 200 - 40 and len(commits) == 1
    sc._process([empty(), empty()])  # 160: 4 chunks again
    sc._process([empty(), empty()])  # 120: 4 chunks again
    assert sc.sm.backlog == 200 - 120 and len(commits) == 3
    sc._process([empty(), empty()])  # 80: two chunks, on to max_backlog
    assert sc.sm.backlog == 60
    sc._process([empty(), empty(), empty()])  # within max_backlog: a chunk per request
    assert sc.sm.backlog == 30 and len(commits) == 5
    sc.store.close()
