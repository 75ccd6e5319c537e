"""The §7 circuit breaker: the model checked statically, and followed at runtime.

`tracelogic check breaker.spec` proves the model's invariant, its LTL property and that it
never deadlocks. breakerdemo.py's instrumented breakers (real OpenTelemetry SDK spans, one
`GET /quote` per call with `breaker.state` and the service's `service.name`) must then
follow the model: `tracelogic monitor` is satisfied for the correct breakers of `checkout`
and `search`, and reports `breaker_runtime` violated for the buggy `search` breaker, which
goes from open straight back to closed, with the two spans that show it.
"""
from __future__ import annotations

import io
import json
import os

import breakerdemo
import pytest

from tracelogic.cli import run as cli
from tracelogic.ingest.otlp import read_path

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "breaker.spec")
C, O, H = "closed", "open", "half_open"


def tl(*argv: str) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = cli([*argv, "--format", "json"], out, err)
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, str]:
    return breakerdemo.generate_all(str(tmp_path_factory.mktemp("breaker")))


def calls(path: str) -> dict[str, list]:
    """service -> its `GET /quote` spans in call order."""
    out: dict[str, list] = {}
    for s in sorted(read_path(path).spans, key=lambda s: s.start_ns):
        assert s.name == "GET /quote" and s.kind == "client"
        out.setdefault(s.service, []).append(s)
    return out


def test_the_model_is_checked():
    code, doc = tl("check", SPEC)
    assert code == 0
    got = {r["name"]: r for r in doc["results"] if r["kind"] == "model"}
    assert sorted(got) == ["breaker.deadlock_free", "breaker.invariant", "breaker.ltl"]
    assert all(r["status"] == "holds" for r in got.values())
    assert got["breaker.invariant"]["message"].startswith("proved by ")
    assert got["breaker.deadlock_free"]["message"].startswith("proved by ")
    assert got["breaker.ltl"]["message"] == \
        "holds on every infinite run (8 states, 9 product states)"
    assert [got[n]["location"]["line"] for n in ("breaker.invariant", "breaker.ltl",
                                                 "breaker.deadlock_free")] == [18, 19, 20]


def test_the_correct_breakers_follow_the_model(traces):
    got = calls(traces["correct"])
    assert sorted(got) == ["checkout", "search"]
    for spans in got.values():
        assert [s.attrs["breaker.state"] for s in spans] == [C] * 5 + [O] * 2 + [H] + [C] * 2
        assert [s.status for s in spans] == ["error"] * 7 + ["unset"] * 3

    code, doc = tl("monitor", SPEC, traces["correct"])
    assert code == 0 and doc["violations"] == []
    [prop] = doc["properties"]
    assert (prop["name"], prop["scope"], prop["instances"]) == ("breaker_runtime", "service", 2)
    assert {r["key"]: r["verdict"] for r in prop["results"]} == {
        "checkout": "satisfied", "search": "satisfied"}


def test_open_to_closed_is_caught_with_its_two_spans(traces):
    [(service, spans)] = calls(traces["buggy"]).items()
    assert service == "search"
    assert [s.attrs["breaker.state"] for s in spans] == [C] * 5 + [O] * 2 + [C] * 3

    code, doc = tl("monitor", SPEC, traces["buggy"])
    assert code == 1
    [v] = doc["violations"]
    assert (v["property"], v["key"]) == ("breaker_runtime", "search")
    assert v["message"] == ("`state` = closed cannot come after `state` = open in model "
                            "`breaker`; expected half_open")
    # the bad observation (the 8th call, closed) and the one it cannot follow (the 7th, open)
    bad, previous = spans[7], spans[6]
    assert v["span_ids"] == [bad.span_id, previous.span_id]
    assert [(e["span_id"], e["event"], e["time_unix_nano"], e["service"])
            for e in v["events"]] == [(bad.span_id, "start", bad.start_ns, "search"),
                                      (previous.span_id, "start", previous.start_ns, "search")]
    assert [r["verdict"] for r in doc["properties"][0]["results"]] == ["violated"]
