"""The §6 order saga on real OpenTelemetry SDK spans: `saga` catches a wrong compensation
order that `conforms` accepts.

sagademo.py's order service writes two OTLP/JSON files: `correct.jsonl` (order o-1 ships;
o-2's shipment fails and charge, then reserve, are compensated: refund, release_stock) and
`buggy.jsonl` (o-3's shipment fails and the bug undoes them in completion order:
release_stock, refund). `tracelogic monitor saga.spec` (in-process, as the CLI runs it)
must find exactly one violation, of `order_saga` on o-3, with its message and witness.
"""
from __future__ import annotations

import io
import json
import os

import pytest
import sagademo

from tracelogic.cli import run as cli
from tracelogic.ingest.otlp import read_path

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "saga.spec")


def tl(*argv: str) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = cli([*argv, "--format", "json"], out, err)
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, str]:
    return sagademo.generate_all(str(tmp_path_factory.mktemp("saga")))


def orders(path: str) -> dict[str, dict[str, object]]:
    """order id -> {span name: span} (each step runs once per order)."""
    out: dict[str, dict[str, object]] = {}
    for s in read_path(path).spans:
        by_name = out.setdefault(s.attrs["order.id"], {})
        assert s.name not in by_name, f"{s.name} twice in order {s.attrs['order.id']}"
        by_name[s.name] = s
    return out


def results(doc: dict) -> dict[str, dict[str, str]]:
    return {p["name"]: {r["key"]: r["verdict"] for r in p["results"]} for p in doc["properties"]}


def test_the_workflow_is_sound():
    code, doc = tl("check", SPEC)
    assert code == 0
    [sound] = [r for r in doc["results"] if r["kind"] == "workflow"]
    assert (sound["name"], sound["status"]) == ("order.sound", "sound")
    assert sound["details"]["dead_steps"] == [] and sound["details"]["deadlocks"] == []
    assert sound["details"]["uncompensated"] == ["validate", "ship", "cancel", "notify"]


def test_the_service_compensates_in_reverse_completion_order(traces):
    got = orders(traces["correct"])
    assert sorted(got) == ["o-1", "o-2"]
    shipped, failed = got["o-1"], got["o-2"]
    assert sorted(shipped) == ["POST /orders", "POST /shipments", "charge", "notify",
                               "reserve", "validate"]
    assert shipped["POST /shipments"].status == "unset"
    assert sorted(failed) == ["POST /orders", "POST /shipments", "charge", "refund",
                              "release_stock", "reserve", "validate"]
    # reserve || charge really overlap, and the charge completes last
    assert failed["charge"].start_ns < failed["reserve"].end_ns < failed["charge"].end_ns
    assert (failed["POST /shipments"].status, failed["POST /shipments"].kind) == ("error",
                                                                                   "client")
    # so the refund comes first, then the stock is released
    assert failed["POST /shipments"].end_ns <= failed["refund"].start_ns
    assert failed["refund"].end_ns <= failed["release_stock"].start_ns

    code, doc = tl("monitor", SPEC, traces["correct"])
    assert code == 0 and doc["violations"] == []
    trace_of = {o: spans["POST /orders"].trace_id for o, spans in got.items()}
    both = {trace_of["o-1"]: "satisfied", trace_of["o-2"]: "satisfied"}
    assert results(doc) == {"order_flow": both, "order_saga": both}


def test_compensation_in_the_wrong_order_violates_saga_not_conforms(traces):
    [(order, spans)] = orders(traces["buggy"]).items()
    assert order == "o-3"
    assert spans["release_stock"].end_ns <= spans["refund"].start_ns  # the bug
    trace_id = spans["POST /orders"].trace_id

    code, doc = tl("monitor", SPEC, traces["buggy"])
    assert code == 1
    # conforms accepts compensations after a failure in any order; saga does not
    assert results(doc) == {"order_flow": {trace_id: "satisfied"},
                            "order_saga": {trace_id: "violated"}}
    [v] = doc["violations"]
    assert (v["property"], v["key"], v["trace_ids"]) == ("order_saga", trace_id, [trace_id])
    assert v["message"] == ("`release_stock` compensates `reserve` before `charge`, which "
                            "completed later (reverse completion order is charge, reserve)")
    # the witness: the failure the compensation answers, and the out-of-order compensation
    ship, release = spans["POST /shipments"], spans["release_stock"]
    assert v["span_ids"] == [ship.span_id, release.span_id]
    assert [(e["name"], e["event"], e["time_unix_nano"]) for e in v["events"]] == [
        ("POST /shipments", "end", ship.end_ns), ("release_stock", "end", release.end_ns)]

    out, err = io.StringIO(), io.StringIO()
    assert cli(["monitor", SPEC, traces["buggy"]], out, err) == 1
    text = out.getvalue()
    assert f"✗ order_saga [error] key {trace_id}  ({SPEC}:13)" in text
    assert "✓ order_flow (trace): 1 instance(s), 0 violated" in text
