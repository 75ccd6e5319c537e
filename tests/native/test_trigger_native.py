"""Witnesses name the trigger of a bounded obligation (issue 15 item 5), in both engines.

A violation decided by an event of a property with time bounds names the event that opened
the obligation it broke (`Monitor._opened`): the latest event from whose previous state the
deciding event would not have violated. For `G (deploy -> G[<= 30s] !http_5xx)` that is the
deploy, not only the 5xx. Each case runs per trace on the untimed twin (a trace within every
bound), per trace on the timed monitor (a longer trace), and across traces (`per attr`),
in the Python engine and in the core; the reports must be equal, and the trigger the span
the case names. A bound measured from the trace's start (`G[<= d] !x` at top level), or
`O[<= d]` (the window ends at the deciding event itself), has no trigger beyond the
deciding event.
"""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

from .test_stepping_native import report

MS = 1_000_000
ROOT = f"{1:016x}"


def _span(name: str, sid: int, start_ms: int, end_ms: int, trace: int = 1, **kw) -> Span:
    return Span(name=name, trace_id=f"{trace:032x}", span_id=f"{sid:016x}",
                parent_id=kw.pop("parent", ROOT if sid != 1 else ""),
                start_ns=start_ms * MS, end_ns=end_ms * MS, service="s1", **kw)


def both(text: str, spans: list[Span]) -> dict:
    """Both engines' reports of ``spans`` (one request), equal as text and as JSON; every
    property ran in the engine asked for. The native JSON report."""
    spec = tracelogic.load(text)
    compiled = CompiledSpec(spec)
    data = [spans_to_request(spans).SerializeToString()]
    out = {}
    for engine in ("python", "native"):
        mon, text, rep, errors = report(spec, engine, data, 100, compiled)
        assert not errors
        assert set(mon.engines.values()) == {engine}, mon.engine_plan
        out[engine] = text, rep
    assert out["native"] == out["python"]
    return out["native"][1]


def the_violation(rep: dict) -> dict:
    (v,) = rep["violations"]
    return v


def trigger_of(rep: dict) -> tuple | None:
    t = the_violation(rep).get("trigger")
    return None if t is None else (t["name"], t["event"], t["span_id"])


# (spec with its bound `{d}`, spans, expected trigger (name, event, span number) or None,
# whether a bound of 10 s still violates). Run "timed": the bound `{d}` as given, in a trace
# 10 s long (the timed monitor steps it); and "twin": a bound of 10 s in a trace of 100 ms,
# which fits in it (the untimed twin steps it).
CASES = {
    "G[] after a trigger": (
        'G (name == "deploy" & end -> G[<= {d}] !(name == "http_5xx"))', "30ms",
        [_span("deploy", 2, 10, 20), _span("work", 3, 22, 23), _span("http_5xx", 4, 40, 45)],
        ("deploy", "end", 2), True),
    "F[] deadline missed": (
        'G (name == "req" & start -> F[<= {d}] name == "reply")', "5ms",
        [_span("req", 2, 10, 11), _span("other", 3, 12, 13), _span("reply", 4, 30, 31)],
        ("req", "start", 2), False),
    "U[] broken before its goal": (
        'G (name == "lock" & end -> !(name == "write") U[<= {d}] name == "unlock")', "50ms",
        [_span("lock", 2, 10, 11), _span("read", 3, 12, 13), _span("write", 4, 20, 21),
         _span("unlock", 5, 30, 31)],
        ("lock", "end", 2), True),
    "R[] broken before its release": (
        'G (name == "open" & end -> name == "close" R[<= {d}] !(name == "err"))', "40ms",
        [_span("open", 2, 10, 11), _span("err", 3, 20, 21)],
        ("open", "end", 2), True),
    "W[] weak until broken": (
        'G (name == "a" & end -> !(name == "c") W[<= {d}] name == "b")', "40ms",
        [_span("a", 2, 10, 11), _span("c", 3, 15, 16), _span("b", 4, 20, 21)],
        ("a", "end", 2), True),
    "response within": (
        'response(name == "req" & end, name == "reply", within {d})', "5ms",
        [_span("req", 2, 10, 11), _span("reply", 3, 30, 31)],
        ("req", "end", 2), False),
    "H[] broken inside the window": (
        'G (name == "a" & start -> H[<= {d}] !(name == "c"))', "5ms",
        [_span("c", 2, 30, 31), _span("a", 3, 33, 34)],
        ("c", "start", 2), True),
    "S[] broken since": (
        'G (name == "a" & start -> !(name == "c") S[<= {d}] name == "b")', "20ms",
        [_span("b", 2, 10, 11), _span("c", 3, 15, 16), _span("a", 4, 18, 19)],
        ("c", "start", 3), True),
    "G[] from the trace start": (
        'G[<= {d}] !(name == "c")', "50ms",
        [_span("x", 2, 10, 11), _span("c", 3, 20, 21)],
        None, True),
    "O[] ends at the deciding event": (
        'G (name == "a" & start -> O[<= {d}] name == "b")', "2ms",
        [_span("b", 2, 10, 11), _span("a", 3, 20, 21)],
        None, False),
}


@pytest.mark.parametrize("case, mode", [(c, m) for c in CASES for m in ("timed", "twin")
                                         if m == "timed" or CASES[c][4]])
def test_the_trigger_of_a_bounded_obligation_is_named(case, mode):
    body, d, spans, expected, _ = CASES[case]
    if mode == "twin":
        d, root_ms = "10s", 100
    else:
        root_ms = 10_000
    rep = both(f"property p:\n  {body.format(d=d)}\n", [_span("root", 1, 0, root_ms), *spans])
    v = the_violation(rep)
    if expected is None:
        assert "trigger" not in v
        return
    name, event, sid = expected
    assert trigger_of(rep) == (name, event, f"{sid:016x}")
    # the trigger is one of the witness events and its span one of the violation's
    assert {"name": name, "event": event} in [{"name": e["name"], "event": e["event"]}
                                             for e in v["events"]]
    assert f"{sid:016x}" in v["span_ids"]
    assert f"after its trigger `{name}` {event}" in v["message"]


@pytest.mark.parametrize("bound, root_ms, opener", [
    ("30ms", 10_000, 3),    # timed: only the second deploy's window holds the 5xx
    ("100ms", 10_000, 2),   # timed: both hold it; the 5xx was forbidden since the first
    ("10s", 100, 2),        # the twin (the trace fits in the bound): the same
])
def test_the_trigger_is_the_deploy_since_which_the_5xx_was_forbidden(bound, root_ms, opener):
    """Two deploys, the 5xx 25 ms after the second and 65 ms after the first: the trigger is
    the earliest deploy since which the 5xx has been forbidden without a break."""
    spans = [_span("root", 1, 0, root_ms), _span("deploy", 2, 10, 20),
             _span("deploy", 3, 50, 60), _span("http_5xx", 4, 85, 86)]
    rep = both('property p:\n  G (name == "deploy" & end -> '
               f'G[<= {bound}] !(name == "http_5xx"))\n', spans)
    assert trigger_of(rep) == ("deploy", "end", f"{opener:016x}")


def test_an_unrelated_state_change_is_not_the_trigger():
    """`G !c` breaks from every state: the pending deadline (a request) is not its trigger."""
    rep = both('property p:\n  G (name == "req" -> F[<= 50ms] name == "reply") & '
               'G !(name == "c")\n',
               [_span("root", 1, 0, 10_000), _span("req", 2, 10, 11), _span("c", 3, 12, 13)])
    assert "trigger" not in the_violation(rep)


def test_cross_trace_trigger_is_in_another_trace():
    """`per attr["k"]`: the deploy in one trace opened the window the 5xx of another trace
    broke; the trigger names the deploy's trace."""
    spans = [_span("deploy", 1, 10, 20, trace=1, attrs={"k": 1}),
             _span("http_5xx", 2, 30, 31, trace=2, parent="", attrs={"k": 1}),
             _span("http_5xx", 3, 90, 91, trace=3, parent="", attrs={"k": 2})]
    rep = both('property p per attr["k"]:\n'
               '  G (name == "deploy" & end -> G[<= 30ms] !(name == "http_5xx"))\n', spans)
    v = the_violation(rep)
    assert v["key"] == "1"
    assert v["trigger"]["trace_id"] == f"{1:032x}"
    assert trigger_of(rep) == ("deploy", "end", f"{1:016x}")
    assert v["trace_ids"] == [f"{1:032x}", f"{2:032x}"]


def test_an_obligation_open_at_the_end_names_its_raiser_as_trigger():
    """`F[<= d]` still open when the trace ends (within the bound): its raiser is the
    trigger, as the message already says."""
    rep = both('property p:\n  G (name == "req" & start -> F[<= 5s] name == "reply")\n',
               [_span("root", 1, 0, 100), _span("req", 2, 10, 11)])
    assert trigger_of(rep) == ("req", "start", f"{2:016x}")
    assert "raised at `req` start" in the_violation(rep)["message"]
