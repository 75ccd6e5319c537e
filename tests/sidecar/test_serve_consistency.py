"""`consistency` checks in the sidecar, in this process, on both engines: OTLP protobuf
(decoded again in Python for the operations when the native core decodes the rest) and
OTLP/JSON requests, retries counted once, the checks serve does not run named in the
log, open windows checked at shutdown, the JSON status, and `tracelogic violations`
printing the witness. The live service and the real SDK against a serve process are in
tests/consistency/test_live_serve.py."""
from __future__ import annotations

import io
import json
import logging
import time
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracelogic.cli import run
from tracelogic.engine.stream import SECOND
from tracelogic.sidecar.server import ServeConfig, Sidecar, setup_logging

from .serve_helpers import store_violations, write_spec

SPEC = ("consistency lin: linearizable register\n"
        "consistency seq: sequential register\n"
        "property no_error: G (status != error)\n")
T0 = time.time_ns()  # the operations are recent: an hour's lateness keeps them open

# key a: write(1), write(2), then a read of 1 (stale); key b: write(7), read 7 (fine)
OPS = [("a", "write", 1, 0, 10), ("a", "write", 2, 20, 30), ("a", "read", 1, 40, 50),
       ("b", "write", 7, 0, 10), ("b", "read", 7, 40, 50)]


def record(exporter) -> list:
    provider = TracerProvider(resource=Resource.create({"service.name": "kv",
                                                        "service.instance.id": "c1"}))
    mem = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("kv")
    for key, op, v, start, end in OPS:
        s = tracer.start_span(op.upper(), start_time=T0 + start)
        s.set_attributes({"db.operation.name": op, "consistency.key": key,
                          f"consistency.{'input' if op == 'write' else 'output'}": v})
        s.end(end_time=T0 + end)
    provider.shutdown()
    return mem.get_finished_spans()


def otlp_json(spans) -> bytes:
    """The same spans as one OTLP/JSON request (hex ids)."""
    out = []
    for s in spans:
        out.append({"traceId": f"{s.context.trace_id:032x}", "spanId": f"{s.context.span_id:016x}",
                    "name": s.name, "startTimeUnixNano": str(s.start_time),
                    "endTimeUnixNano": str(s.end_time),
                    "attributes": [{"key": k, "value": {"stringValue": v} if isinstance(v, str)
                                    else {"intValue": str(v)}} for k, v in s.attributes.items()]})
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "kv"}}]},
        "scopeSpans": [{"spans": out}]}]}).encode()


def sidecar(tmp_path, engine: str, **kw) -> tuple[Sidecar, io.StringIO]:
    log = io.StringIO()
    setup_logging("info", log)
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path, SPEC, "kv.spec")), grpc=None,
                      http="127.0.0.1:0", store=str(tmp_path / "v.db"), idle_ns=SECOND // 10,
                      lateness_ns=3600 * SECOND, engine=engine, **kw)
    sc = Sidecar(cfg)
    sc.start()
    return sc, log


def url(sc: Sidecar, path: str) -> str:
    return f"http://{sc.addresses()['http']}{path}"


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_serve_checks_open_windows_at_shutdown_on_either_engine(tmp_path, engine, fmt):
    sc, log = sidecar(tmp_path, engine)
    try:
        if fmt == "protobuf":
            spans = record(OTLPSpanExporter(endpoint=url(sc, "/v1/traces")))
            retry = OTLPSpanExporter(endpoint=url(sc, "/v1/traces"))
            retry.export(spans[:2])  # an exporter's retry of two spans
            retry.shutdown()
        else:
            spans = record(None)
            body = otlp_json(spans)
            for _ in range(2):  # the whole request again: every span is a retry
                req = urllib.request.Request(url(sc, "/v1/traces"), data=body,
                                             headers={"Content-Type": "application/json"})
                assert urllib.request.urlopen(req, timeout=10).status == 200
        with urllib.request.urlopen(url(sc, "/status"), timeout=10) as r:
            doc = json.loads(r.read())["consistency"]
        # the watermark is an hour behind: everything waits in open windows
        assert doc["open_operations"] == 5 and doc["operations_received"] == 5
        assert doc["duplicates"] == (2 if fmt == "protobuf" else 5)
        assert doc["not_checked"].keys() == {"seq"}
    finally:
        sc.stop()
        logging.getLogger("tracelogic").handlers.clear()
    [v] = store_violations(tmp_path / "v.db")
    assert (v["property"], v["key"], v["kind"]) == ("lin", "a", "consistency")
    ids = {f"{s.context.span_id:016x}" for s in spans[:3]}
    assert set(v["span_ids"]) == ids and v["consistency"]["witness"]["minimal"]
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert any(r["msg"] == "consistency check not run" and r["consistency"] == "seq"
               for r in lines)
    [stopped] = [r for r in lines if r["msg"] == "stopped"]
    keys = stopped["consistency"]["checks"][0]["keys"]
    assert keys == {"violated": 1, "satisfied": 1}
    out, err = io.StringIO(), io.StringIO()
    assert run(["violations", "--store", str(tmp_path / "v.db")], out=out, err=err) == 1
    text = out.getvalue()
    assert "✗ lin [error] key a" in text and "cannot be linearized together" in text
    assert "then read['a']() -> 1 returned and could not be placed" in text
    out = io.StringIO()
    assert run(["violations", "--store", str(tmp_path / "v.db"), "--format", "json"],
               out=out, err=err) == 1
    [stored] = json.loads(out.getvalue())
    assert stored["consistency"]["witness"] == v["consistency"]["witness"]
    assert stored["consistency"]["witness"]["partial_linearization"]


def test_status_without_consistency_checks_says_null(tmp_path):
    log = io.StringIO()
    setup_logging("info", log)
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http="127.0.0.1:0",
                      store=str(tmp_path / "v.db"))
    sc = Sidecar(cfg)
    sc.start()
    try:
        with urllib.request.urlopen(url(sc, "/status"), timeout=10) as r:
            doc = json.loads(r.read())
        assert doc["schema"] == "tracelogic.serve-status/1" and doc["consistency"] is None
        assert doc["monitor"]["spans"] == 0
    finally:
        sc.stop()
        logging.getLogger("tracelogic").handlers.clear()
