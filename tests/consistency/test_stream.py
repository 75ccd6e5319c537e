"""`serve`'s consistency checks over a span stream (docs/consistency.md §11): windows
closed by the watermark, violations as stored objects with their witness, and every
limit as a counted verdict (incomplete, inconclusive), never a silent drop."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tracelogic
from tracelogic.consistency import Budget, check, model
from tracelogic.consistency.spans import operations
from tracelogic.consistency.stream import ConsistencyStream, key_text
from tracelogic.ingest.spans import Span

from .stores import kv_history

SPEC = "consistency kv_linearizable: linearizable register\n"


def span(i, start, end, op, key, value=None, status="unset", **more):
    attrs = {"db.operation.name": op, "consistency.key": key, **more}
    if value is not None:
        attrs["consistency.input" if op == "write" else "consistency.output"] = value
    return Span(name=op.upper(), trace_id="%032x" % (i + 1), span_id="%016x" % (i + 1),
                start_ns=start, end_ns=end, status=status, attrs=attrs,
                resource={"service.instance.id": f"c{i % 3}"})


class Wall:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


def stream(text=SPEC, **kw) -> tuple[ConsistencyStream, Wall]:
    wall = Wall()
    spec = tracelogic.load(text)
    return ConsistencyStream(spec, lateness_ns=100, wall=wall, poll_ns=0, **kw), wall


def test_a_stale_read_is_one_violation_with_its_witness_once_the_watermark_passes():
    cs, wall = stream()
    spans = [span(0, 0, 10, "write", "a", 1), span(1, 20, 30, "write", "a", 2),
             span(2, 40, 50, "read", "a", 1), span(3, 0, 10, "write", "b", 7),
             span(4, 40, 50, "read", "b", 7), span(5, 0, 5, "GET", "c")]  # GET: read of nil
    cs.ingest(spans)
    wall.t = 100  # watermark 0: nothing invoked before it is settled yet
    cs.poll()
    assert cs.take_violations() == [] and cs.open_operations == 6
    wall.t = 1000
    cs.poll()
    [v] = cs.take_violations()
    assert v["property"] == "kv_linearizable" and v["key"] == "a" and v["kind"] == "consistency"
    # the read that could not be placed first, then the writes it conflicts with
    assert v["span_ids"] == [spans[i].span_id for i in (2, 0, 1)]
    assert v["trace_ids"] == [spans[i].trace_id for i in (2, 0, 1)]
    w = v["consistency"]["witness"]
    assert sorted(o["span_id"] for o in w["operations"]) == [spans[i].span_id for i in range(3)]
    assert w["minimal"] and w["state"] == 2 and w["blocked"]["output"] == 1
    assert "read['a']() -> 1" in v["consistency"]["witness_text"]
    assert v["consistency"]["initial_state"] is None and "read" in v["message"]
    json.dumps(v)  # storable as is
    counts = cs.verdict_counts()
    assert counts == {("kv_linearizable", "violated"): 1,
                      ("kv_linearizable", "presumably_satisfied"): 2}
    assert cs.status()["operations"]["checked"] == 6
    cs.finish()
    assert cs.verdict_counts()[("kv_linearizable", "satisfied")] == 2


def test_a_key_is_checked_across_windows_from_the_state_its_last_window_left():
    cs, wall = stream()
    cs.ingest([span(0, 0, 10, "write", "a", 1)])
    wall.t = 200
    cs.poll()
    assert cs.windows == 1 and cs.open_operations == 0
    cs.ingest([span(1, 150, 160, "read", "a", 1), span(2, 170, 180, "read", "a", 3)])
    wall.t = 400
    cs.poll()
    [v] = cs.take_violations()
    assert v["consistency"]["initial_state"] == 1 and v["consistency"]["checked_before"] == 1
    assert "from state 1" in v["message"]


def test_limits_are_incomplete_verdicts_with_counts():
    cs, wall = stream(max_window=3, max_keys=2)
    cs.ingest([span(i, 10 * i, 10 * i + 5, "write", "hot", i) for i in range(4)])
    [n] = cs.take_notices()
    assert n["verdict"] == "incomplete" and n["operations_dropped"] == 4
    assert "more than 3 operations" in n["reason"]
    cs.ingest([span(9, 0, 1, "read", "hot")])  # the key is decided: counted, not checked
    cs.ingest([span(10 + i, 0, 1, "write", k, 1) for i, k in enumerate("xyz")])
    [n] = cs.take_notices()
    assert n["key"] == "x" and "more than 2 open keys" in n["reason"]
    st_ = cs.status()
    assert st_["operations"]["evicted"] == 5 and st_["operations"]["unchecked"] == 1
    assert st_["incomplete"] == 2 and st_["operations_received"] == 8
    cs.ingest([span(12, 0, 1, "write", "z", 1)])  # an exporter's retry of z's span
    assert cs.status()["duplicates"] == 1 and cs.status()["operations_received"] == 8


def test_an_operation_behind_its_checked_window_is_late():
    cs, wall = stream()
    cs.ingest([span(0, 0, 10, "write", "a", 1)])
    wall.t = 1000
    cs.poll()
    cs.ingest([span(1, 5, 950, "read", "a", 1)])  # invoked at 5: it belonged before the cut
    [n] = cs.take_notices()
    assert n["verdict"] == "incomplete" and "before the window already checked" in n["reason"]
    assert cs.status()["operations"]["late"] == 1


def test_a_budget_too_small_is_inconclusive_with_the_reason():
    cs, wall = stream(budget=Budget(steps=2))
    cs.ingest([span(i, 0, 100, "write", "a", i) for i in range(5)]
              + [span(5, 0, 100, "read", "a", 99)])
    wall.t = 1000
    cs.poll()
    assert cs.take_violations() == []
    [n] = cs.take_notices()
    assert n["verdict"] == "inconclusive" and "2 steps" in n["reason"]


def test_checks_serve_cannot_run_are_listed_with_the_reason():
    cs, _ = stream(SPEC + "consistency s: sequential register\n"
                   "consistency ss: sessions register\n")
    assert [c.decl.name for c in cs.checks] == ["kv_linearizable"]
    assert set(cs.refused) == {"s", "ss"}
    assert "tracelogic monitor" in cs.refused["s"]
    structural = ('operation read when name == "GET" and parent.name == "x" key attr["k"]\n'
                  + SPEC)
    cs, _ = stream(structural)
    assert not cs.checks and "trace structure" in cs.refused["kv_linearizable"]


def test_mappings_decide_which_attributes_decoding_keeps():
    cs, _ = stream('operation write when name == "PUT" key attr["k"] input attr["v"]\n'
                   + SPEC)
    assert {"k", "v", "consistency.key"} <= cs.wanted_attrs
    cs, _ = stream(SPEC)
    assert "db.operation.name" in cs.wanted_attrs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kv_history(max_ops=8, with_cas=False), st.data())
def test_the_stream_finds_exactly_the_keys_monitor_finds(case, data):
    _, ops = case
    spans = []
    for o in ops:
        attrs = {"db.operation.name": o.f, "consistency.key": f"k{o.key}"}
        if o.input is not None:
            attrs["consistency.input"] = o.input
        if o.output is not None:
            attrs["consistency.output"] = o.output
        if o.status == "indeterminate":
            attrs["consistency.indeterminate"] = True
        spans.append(Span(name=o.f, trace_id="%032x" % (o.id + 1),
                          span_id="%016x" % (o.id + 1), start_ns=o.call, end_ns=o.ret,
                          status="unset" if o.status == "ok" else "error", attrs=attrs))
    cs, wall = stream(max_configs=1000)
    for s in sorted(spans, key=lambda s: s.end_ns):
        cs.ingest([s])
        wall.t = s.end_ns + data.draw(st.integers(0, 100))
        cs.poll()
    cs.finish()
    got = {v["key"] for v in cs.take_violations()}
    want = {key_text(k.key) for k in check(model("register"), operations(spans)).violations}
    assert got == want


def test_an_operation_the_model_does_not_have_makes_its_key_inconclusive():
    cs, wall = stream()
    cs.ingest([span(0, 0, 10, "write", "q", 1), span(1, 20, 30, "enqueue", "q", 2)])
    wall.t = 1000
    cs.poll()
    [n] = cs.take_notices()
    assert n["verdict"] == "inconclusive" and "no operation `enqueue`" in n["reason"]
    assert cs.take_violations() == []


def test_other_threads_see_counts_only_once_published():
    # serve publishes after each commit: a violation is in the store before it is counted
    cs, wall = stream()
    cs.ingest([span(0, 0, 10, "write", "a", 1), span(1, 20, 30, "read", "a", 2)])
    wall.t = 1000
    cs.poll()
    assert cs.verdict_counts() == {("kv_linearizable", "violated"): 1}
    assert cs.published()["checks"][0]["keys"] == {}
    assert cs.published()["operations_received"] == 0
    cs.publish()
    assert cs.published()["checks"][0]["keys"] == {"violated": 1}
    assert cs.published()["operations"]["checked"] == 2
