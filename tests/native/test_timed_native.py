"""Time-bounded properties in the core (issue 17 step 4) against the Python engine.

Generated timed formulas (``F[<= d]``, ``G[a, b]``, ``U[lo, hi]``, ``R[...]``, ``W[...]``,
``M[...]``, nested, bounds of 0 and bounds far beyond any trace, ``>=`` bounds) × generated
traces, encoded as OTLP protobuf and fed through ``Monitor.feed_otlp`` in several requests:
the reports of ``engine="python"`` and ``engine="native"`` must be equal (verdicts,
violations with witnesses and messages, counts, warnings). Timestamps come from a small grid
so events tie; traces are partial, repeat spans, and overflow a small ``max_open_traces``.
Per trace, a trace that fits in every bound is stepped on the untimed twin and a longer one
on the timed monitor, in both engines; cross-trace instances (`per attr["k"]`, `per
service`, `global`) always on the timed monitor. Each example checks which engine ran each
property: every timed property without past operators ran in the core.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.plan import property_reason
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

from .test_stepping_native import as_requests, report, same_reports

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
MS = 1_000_000

ATOMS = ['name == "a"', 'name == "b"', 'name == "c"', "start", "end", "status == error",
         "is_root", 'attr["x"] > 0', 'attr["x"] exists', "duration > 1ms"]
_atoms = st.sampled_from(ATOMS)
_preds = st.one_of(_atoms, st.builds(lambda a: f"!({a})", _atoms),
                   st.builds(lambda a, b: f"({a}) & ({b})", _atoms, _atoms),
                   st.builds(lambda a, b: f"({a}) | ({b})", _atoms, _atoms))
# bounds: 0, within the traces' spread, and beyond any trace (2^62 ns and more)
_D = st.sampled_from(["0ms", "0ms", "1ms", "2ms", "3ms", "5ms", "100000d", "200000000d"])
_BOUNDS = st.one_of(
    st.builds(lambda d: f"<= {d}", _D),
    st.builds(lambda d: f">= {d}", st.sampled_from(["0ms", "1ms", "2ms"])),
    st.builds(lambda a, b: f"{a}ms, {a + b}ms", st.integers(0, 3), st.integers(0, 3)))
_UNARY = ["F[{b}] ({p})", "G[{b}] ({p})", "G (({p}) -> F[{b}] ({q}))",
          "G (({p}) -> G[{b}] ({q}))", "({p}) U[{b}] ({q})", "({p}) R[{b}] ({q})",
          "({p}) W[{b}] ({q})", "({p}) M[{b}] ({q})", "G (({p}) -> ({q}) U[{b}] ({r}))",
          "F[{b}] (({p}) & X ({q}))", "G (({p}) -> F[{b}] (({q}) & F[{c}] ({r})))",
          "!({p}) W ({q}) & G (({q}) -> F[{b}] ({r}))", "response({p}, {q}, within {d})",
          "G (({p}) -> O[{b}] ({q}))",  # a past stage, stepped in the core too
          "G (({p}) & H[{b}] !({q}) -> F[{b}] ({q}))",
          # past bounds that break inside their window: the witnesses' triggers (issue 15)
          "G (({p}) -> H[{b}] ({q}))", "G (({p}) -> ({q}) S[{b}] ({r}))",
          "G (({p}) -> G[{b}] ({q})) & G (({r}) -> F[{c}] ({q}))"]
_SCOPES = ["", "", "", ' per attr["k"]', " per service", " global"]


@st.composite
def specs(draw) -> str:
    lines = []
    for i in range(draw(st.integers(1, 3))):
        form = draw(st.sampled_from(_UNARY))
        scope = draw(st.sampled_from(_SCOPES))
        body = form.format(p=draw(_preds), q=draw(_preds), r=draw(_preds), b=draw(_BOUNDS),
                           c=draw(_BOUNDS), d=draw(_D))
        lines.append(f"property p{i}{scope}:\n  {body}")
    return "\n".join(lines) + "\n"


@st.composite
def traces(draw) -> list[list[Span]]:
    """Requests of spans of up to 4 traces on a coarse time grid (ties), some spread wide
    (so per-trace instances are stepped on the timed monitor); spans repeat."""
    spans = []
    for t in range(draw(st.integers(1, 4))):
        ids = draw(st.permutations(range(1, 9)))[:draw(st.integers(1, 6))]
        spread = draw(st.sampled_from([1, 2, 4]))
        for i, sid in enumerate(ids):
            parent = draw(st.sampled_from(["root", "p", "p", "missing"])) if i else \
                draw(st.sampled_from(["root", "root", "root", "missing"]))
            pid = {"root": "", "missing": "f" * 16}.get(parent)
            if pid is None:
                pid = f"{ids[draw(st.integers(0, i - 1))]:016x}"
            start = (1000 + spread * draw(st.integers(0, 3))) * MS
            attrs = {"x": draw(st.integers(-1, 1))} if draw(st.booleans()) else {}
            if draw(st.booleans()):
                attrs["k"] = draw(st.sampled_from([0, 1, "1", 2.5]))
            spans.append(Span(
                name=draw(st.sampled_from("abc")), trace_id=f"{t + 1:032x}",
                span_id=f"{sid:016x}", parent_id=pid, start_ns=start,
                end_ns=start + draw(st.sampled_from([0, 0, 1, 2, 3, 7])) * MS,
                status=draw(st.sampled_from(["unset", "error"])),
                service=draw(st.sampled_from(["s1", "s2", ""])), attrs=attrs))
    return as_requests(draw, spans, max_cuts=2)


def assert_routed(mon: Monitor, compiled: CompiledSpec) -> None:
    """Every timed property the plan takes (past operators included) ran in the core."""
    for cp in compiled.properties:
        a = mon.engine_plan[cp.name]
        if property_reason(cp) is None:
            assert a.engine == "native", a


@settings(max_examples=1500 if LONG else 100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 2, 100]))
def test_the_core_steps_timed_properties_like_the_python_engine(text, requests, max_open):
    assert_routed(*same_reports(text, requests, max_open))


def _span(name: str, trace: int, sid: int, start_ms: int, end_ms: int, **kw) -> Span:
    return Span(name=name, trace_id=f"{trace:032x}", span_id=f"{sid:016x}",
                parent_id=kw.pop("parent", ""), start_ns=start_ms * MS, end_ns=end_ms * MS,
                service="s1", **kw)


def _both(text: str, spans: list[Span]) -> dict:
    spec = tracelogic.load(text)
    compiled = CompiledSpec(spec)
    data = [spans_to_request(spans).SerializeToString()]
    out = {}
    for engine in ("python", "native"):
        mon, text, rep, _ = report(spec, engine, data, 100, compiled)
        out[engine] = (mon, rep, text)
    assert out["native"][1:] == out["python"][1:]
    return out


@pytest.mark.parametrize("late_ms, verdict", [(2, "satisfied"), (3, "violated")])
def test_a_deadline_is_inclusive_and_missed_one_names_request_and_late_event(late_ms, verdict):
    """`F[<= 2ms]`: a reply 2 ms after the request is in time, 3 ms after is not; a trace
    longer than the bound is stepped on the timed monitor (no twin) in both engines."""
    spans = [_span("a", 1, 1, 0, 10),
             _span("b", 1, 2, late_ms, late_ms, parent=f"{1:016x}")]
    out = _both('property p: G (name == "a" & start -> F[<= 2ms] name == "b")\n', spans)
    mon, rep, _ = out["native"]
    assert mon.engines == {"p": "native"}
    assert rep["properties"][0]["results"][0]["verdict"] == verdict
    if verdict == "violated":
        assert [v["span_ids"] for v in rep["violations"]] == [[f"{1:016x}", f"{2:016x}"]]


def test_cross_trace_timed_instances_run_in_the_core():
    """A `per attr` timed property's instance spans traces; its deadline is measured across
    them."""
    spans = [_span("a", 1, 1, 0, 1, attrs={"k": 1}), _span("b", 2, 2, 4, 5, attrs={"k": 1}),
             _span("a", 3, 3, 0, 1, attrs={"k": 2}), _span("b", 4, 4, 1, 2, attrs={"k": 2})]
    out = _both('property p per attr["k"]: G (name == "a" & end -> F[<= 2ms] name == "b")\n',
                spans)
    mon, rep, _ = out["native"]
    assert mon.engines == {"p": "native"}
    verdicts = {r["key"]: r["verdict"] for r in rep["properties"][0]["results"]}
    assert verdicts == {"1": "violated", "2": "satisfied"}


def test_a_timed_property_with_past_operators_runs_in_the_core():
    """Its past stage (`O[<= 1ms]`) is stepped per event in the core, and its outputs read
    by the future part as letters above the atoms, as TimedMonitor.step does."""
    spans = [_span("a", 1, 1, 0, 1), _span("b", 1, 2, 0, 3, parent=f"{1:016x}"),
             _span("b", 2, 3, 0, 1), _span("a", 2, 4, 5, 6, parent=f"{3:016x}")]
    out = _both('property p: G (name == "a" -> O[<= 1ms] name == "b")\n'
                'property q: G (name == "a" -> F[<= 1ms] name == "b")\n', spans)
    mon, rep, _ = out["native"]
    assert mon.engines == {"p": "native", "q": "native"}
    assert out["python"][1] == rep
    verdicts = {r["key"]: r["verdict"] for r in rep["properties"][0]["results"]}
    assert "violated" in verdicts.values()  # the witness path of a past-stage property ran
