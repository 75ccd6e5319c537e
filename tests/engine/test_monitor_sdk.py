"""Traces recorded by the real OpenTelemetry SDK, monitored three ways.

The spans come from ``TracerProvider`` + ``InMemorySpanExporter`` (explicit
timestamps, so deadlines are deterministic). They are encoded with the OTLP
exporter's own encoder (``encode_spans``) to protobuf, and from that request to
OTLP/JSON with ``request_to_json`` (one object per file, and JSON Lines with one
request per line). ``tracelogic monitor`` on each file, and ``Monitor.feed`` on
the SDK spans themselves, must give the same report; the temporal verdicts must
also equal the reference evaluator's (test_monitor_oracle.py), and the
aggregate ones a direct computation.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from opentelemetry import trace as otel
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

import tracelogic
from tracelogic.cli import run
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import request_to_json
from tracelogic.ingest.spans import from_sdk

from ingest.otlp_testdata import record
from .test_monitor_oracle import expected

SPEC = Path(__file__).parent / "data" / "monitor" / "shop.spec"
MS = 1_000_000
BASE = 1_700_000_040_000 * MS   # 40 s into a minute: windows of 1m split the traces


def _span(tracer, name, start_ms, end_ms, parent=None, kind=SpanKind.INTERNAL, attrs=None,
          error=False, links=()):
    ctx = otel.set_span_in_context(parent) if parent is not None else None
    sp = tracer.start_span(name, context=ctx, kind=kind, attributes=attrs or {},
                           links=list(links), start_time=BASE + start_ms * MS)
    if error:
        sp.set_status(Status(StatusCode.ERROR, "failed"))
    return sp, (lambda: sp.end(end_time=BASE + end_ms * MS))


def shop(tracer) -> None:
    """Four checkout traces; each property is violated by some and held by others."""
    # 1. the good path: authorize, then charge order o-1; a fast db query
    root, end_root = _span(tracer, "POST /checkout", 0, 400, kind=SpanKind.SERVER)
    a, end_a = _span(tracer, "authorize", 10, 50, root, SpanKind.CLIENT)
    end_a()
    c, end_c = _span(tracer, "charge", 60, 120, root, attrs={"order.id": "o-1"})
    end_c()
    q, end_q = _span(tracer, "db.query", 130, 140, root)
    end_q()
    p, end_p = _span(tracer, "publish order", 150, 160, root, SpanKind.PRODUCER)
    end_p()
    end_root()
    producer = p.get_span_context()
    # 2. charge before authorize, order o-1 charged again, slow db query, failing leaf
    root, end_root = _span(tracer, "POST /checkout", 20_000, 21_500, kind=SpanKind.SERVER)
    c, end_c = _span(tracer, "charge", 20_010, 20_100, root, attrs={"order.id": "o-1"},
                     error=True)
    end_c()
    a, end_a = _span(tracer, "authorize", 20_200, 20_300, root, SpanKind.CLIENT)
    end_a()
    q, end_q = _span(tracer, "db.query", 20_300, 20_380, root)
    end_q()
    end_root()
    # 3. a checkout that takes 3 s (misses `answered`), an error with a child
    root, end_root = _span(tracer, "POST /checkout", 30_000, 33_000, kind=SpanKind.SERVER,
                           error=True)
    a, end_a = _span(tracer, "authorize", 30_100, 30_200, root, SpanKind.CLIENT)
    end_a()
    c, end_c = _span(tracer, "charge", 31_500, 31_600, root, attrs={"order.id": "o-3"})
    end_c()
    end_root()
    # 4. a consumer in its own trace, linked to trace 1's producer; and one unlinked
    root, end_root = _span(tracer, "consume order", 40_000, 40_050, kind=SpanKind.CONSUMER,
                           links=[Link(producer)])
    end_root()
    root, end_root = _span(tracer, "consume order", 41_000, 41_050, kind=SpanKind.CONSUMER)
    end_root()


def raft(tracer) -> None:
    """Another service: raft terms per node (n1 goes back from term 3 to 2); 3 of its 5
    spans fail, over the error budget."""
    for i, (node, term) in enumerate([("n1", 1), ("n2", 1), ("n1", 3), ("n2", 2), ("n1", 2)]):
        sp, end = _span(tracer, "raft.append", 50_000 + 100 * i, 50_000 + 100 * i + 10,
                        attrs={"raft.node": node, "raft.term": term}, error=i % 2 == 0)
        end()


@pytest.fixture(scope="module")
def sdk_spans():
    return record(shop, service="checkout") + record(raft, service="raft")


@pytest.fixture(scope="module")
def files(sdk_spans, tmp_path_factory):
    d = tmp_path_factory.mktemp("sdk")
    shop_spans = [s for s in sdk_spans if s.resource.attributes["service.name"] == "checkout"]
    raft_spans = [s for s in sdk_spans if s.resource.attributes["service.name"] == "raft"]
    req = encode_spans(sdk_spans)
    (d / "all.pb").write_bytes(req.SerializeToString())
    (d / "all.json").write_text(json.dumps(request_to_json(req)))
    # JSON Lines, one request per line, raft first: arrival order must not matter
    lines = [json.dumps(request_to_json(encode_spans(group)))
             for group in (raft_spans, shop_spans[:5], shop_spans[5:])]
    (d / "all.jsonl").write_text("\n".join(lines) + "\n")
    # and protobuf split over two files
    (d / "a.binpb").write_bytes(encode_spans(shop_spans[::2]).SerializeToString())
    (d / "b.binpb").write_bytes(encode_spans(shop_spans[1::2] + raft_spans)
                                .SerializeToString())
    return d


def _cli(*args: str) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", str(SPEC), *args, "--format", "json"], out, err)
    return code, json.loads(out.getvalue()), err.getvalue()


def _comparable(report: dict) -> dict:
    props = {p["name"]: (p["instances"], p["vacuous"], sorted((r["key"], r["verdict"])
                                                              for r in p["results"]))
             for p in report["properties"]}
    viols = sorted((v["property"], v["key"], tuple(v["span_ids"]), v["message"])
                   for v in report["violations"])
    return {"properties": props, "violations": viols, "summary": report["summary"]}


@pytest.fixture(scope="module")
def fed_report(sdk_spans):
    mon = Monitor(tracelogic.load(str(SPEC)))
    mon.feed(sdk_spans)
    return mon.close().to_json()


@pytest.mark.parametrize("inputs", [["all.pb"], ["all.json"], ["all.jsonl"],
                                    ["a.binpb", "b.binpb"]])
def test_every_encoding_gives_the_same_report(files, fed_report, inputs):
    code, report, err = _cli(*(str(files / f) for f in inputs))
    assert err == ""
    assert code == 1                              # there are violations
    assert _comparable(report) == _comparable(fed_report)


def test_temporal_verdicts_equal_the_reference(sdk_spans, fed_report):
    spec = tracelogic.load(str(SPEC))
    spans = from_sdk(sdk_spans)
    got = {p["name"]: {r["key"]: r["verdict"] for r in p["results"]}
           for p in fed_report["properties"]}
    for prop in spec.properties:
        if prop.kind != "formula":
            continue
        want = {k: e.verdict for k, e in expected(prop, spans).items()}
        assert got[prop.name] == want, prop.name
    # every formula property has both outcomes on this input (the data is not trivial)
    for name in ("answered", "auth_before_charge", "no_double_charge", "consumer_linked",
                 "errors_are_leaves", "terms_monotone", "response_time"):
        assert set(got[name].values()) == {"satisfied", "violated"}, name


def _nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


def test_aggregate_verdicts_by_direct_computation(sdk_spans, fed_report):
    spans = from_sdk(sdk_spans)
    got = {p["name"]: {r["key"]: r["verdict"] for r in p["results"]}
           for p in fed_report["properties"]}
    # error_budget per service window 1m: fraction of failed spans per epoch-aligned minute
    minute = 60_000 * MS
    want = {}
    for svc in {s.service for s in spans}:
        windows = {}
        for s in spans:
            if s.service == svc:
                windows.setdefault(s.end_ns // minute, []).append(s.status == "error")
        bad = any(sum(w) / len(w) > 0.5 for w in windows.values())
        want[svc] = "violated" if bad else "satisfied"
    assert got["error_budget"] == want == {"checkout": "satisfied", "raft": "violated"}
    # db_latency per service: p90 (nearest rank) of db.query durations <= 50 ms
    durations = [s.end_ns - s.start_ns for s in spans if s.name == "db.query"]
    assert _nearest_rank(durations, 0.9) == 80 * MS
    assert got["db_latency"] == {"checkout": "violated", "raft": "satisfied"}
    bad = [v for v in fed_report["violations"] if v["property"] == "db_latency"]
    assert [v["span_ids"] for v in bad] == [[
        format(s.context.span_id, "016x") for s in sorted(
            (s for s in sdk_spans if s.name == "db.query"),
            key=lambda s: s.end_time - s.start_time, reverse=True)]]
    assert fed_report["properties"][7]["vacuous"] == 1  # raft has no db.query: no value


def test_witnesses_and_messages_on_sdk_traces(sdk_spans, fed_report):
    ids = {}
    for s in sdk_spans:
        ids.setdefault(s.name, []).append(format(s.context.span_id, "016x"))
    by_prop = {}
    for v in fed_report["violations"]:
        by_prop.setdefault(v["property"], []).append(v)
    (late,) = by_prop["answered"]
    # the deadline was missed: decided by a later event, evidence starts at the checkout
    assert late["span_ids"][0] == ids["POST /checkout"][2]
    assert late["owner"] == "shop" and late["runbook"].startswith("https://")
    assert late["description"] == "every checkout completes within 2s"
    (twice,) = by_prop["no_double_charge"]
    assert twice["key"] == "o-1" and twice["message"] == "order o-1 charged twice"
    assert twice["span_ids"] == [ids["charge"][1]]
    assert len(twice["trace_ids"]) == 2
    (early,) = by_prop["auth_before_charge"]
    assert early["severity"] == "critical" and early["span_ids"] == [ids["charge"][1]]
    (unlinked,) = by_prop["consumer_linked"]
    assert unlinked["span_ids"] == [ids["consume order"][1]]
