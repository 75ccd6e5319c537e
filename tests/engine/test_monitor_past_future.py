"""Past operators over future ones in the runtime (issue 15): every formula monitors per
trace, untimed ones are DFAs in every scope (and run in the core), timed ones are
evaluated over the finished trace in the Python engine (a counted fallback in the plan),
and a cross-trace scope refuses the timed ones naming the subformula in spec syntax."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.automata.monitor import ReferenceMonitor, TableMonitor
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.stream import StreamingMonitor
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

from .test_monitor_oracle import expected

MS = 1_000_000

SPEC = """
pred a = name == "a"
pred b = name == "b"
property timed_pof:
  O[<= 25ms] (G !(name == "c"))
property untimed_pof:
  H (F b)
property future_over_pof:
  G (b -> Y (F a))
property pof_per_key per attr["k"]:
  F H a -> G !b
property timed_elsewhere:
  G (b -> O (F a)) & F[<= 40ms] b
"""


def _trace(tid: int, names: list[str], gap_ms: int = 10) -> list[Span]:
    """A root and one child per name, ``gap_ms`` apart; all carry attr k = tid % 2."""
    t = f"{tid:032x}"
    root = Span(name="root", trace_id=t, span_id=f"{1:016x}", parent_id="", start_ns=0,
                end_ns=(len(names) + 1) * gap_ms * MS, attrs={"k": tid % 2})
    out = [root]
    for i, n in enumerate(names):
        start = (i + 1) * gap_ms * MS
        out.append(Span(name=n, trace_id=t, span_id=f"{i + 2:016x}",
                        parent_id=f"{1:016x}", start_ns=start, end_ns=start + MS,
                        attrs={"k": tid % 2}))
    return out


TRACES = [["a", "b"], ["b", "a"], ["c"], ["a", "a", "b"], ["a", "c", "b"], [],
          ["b", "b", "a"], ["a"] * 6 + ["c"]]
SPANS = [s for i, names in enumerate(TRACES) for s in _trace(i + 1, names)]


def _verdicts(mon: Monitor) -> dict:
    doc = mon.close().to_json()
    return {p["name"]: {r["key"]: r["verdict"] for r in p["results"]}
            for p in doc["properties"]}


def test_every_property_gets_the_reference_verdict_in_both_engines():
    spec = tracelogic.load(SPEC)
    py = Monitor(spec, engine="python")
    py.feed(SPANS)
    got_py = _verdicts(py)
    native = Monitor(spec)
    native.feed_otlp(spans_to_request(SPANS).SerializeToString())
    got_native = _verdicts(native)
    assert got_py == got_native
    seen = set()
    for prop in spec.properties:
        want = {k: e.verdict for k, e in expected(prop, SPANS).items()}
        assert got_py[prop.name] == want, prop.name
        seen.update(want.values())
    assert seen == {"satisfied", "violated"}
    mons = {cp.name: cp.monitor for cp in py.compiled.properties}
    assert isinstance(mons["timed_pof"], ReferenceMonitor)
    assert isinstance(mons["timed_elsewhere"], ReferenceMonitor)
    for name in ("untimed_pof", "future_over_pof", "pof_per_key"):
        assert isinstance(mons[name], TableMonitor), name


def test_the_plan_runs_untimed_ones_in_the_core_and_names_the_fallback():
    mon = Monitor(tracelogic.load(SPEC))
    mon.feed_otlp(spans_to_request(SPANS).SerializeToString())
    plan = mon.engine_plan
    if plan["untimed_pof"].engine != "native":
        pytest.skip("the native core is not available here")
    for name in ("untimed_pof", "future_over_pof", "pof_per_key"):
        assert (plan[name].engine, plan[name].fallback) == ("native", None), plan[name]
    for name in ("timed_pof", "timed_elsewhere"):
        assert plan[name].engine == "python"
        assert "reference evaluator" in plan[name].fallback, plan[name]


def test_a_violation_of_a_whole_trace_property_has_a_witness():
    mon = Monitor(tracelogic.load(SPEC), engine="python")
    mon.feed(SPANS)
    report = mon.close()
    mine = [v for v in report.violations if v.prop.name == "timed_pof"]
    assert mine and all(v.span_ids for v in mine)
    # a trace within 25ms is decided by the unbounded twin's DFA, at an event; a longer
    # one by the whole-trace evaluation
    whole = [v for v in mine if v.message.startswith("the finished trace violates it")]
    assert whole and len(whole) < len(mine), [v.message for v in mine]
    assert all(v.message.startswith("violated at `c`") for v in mine if v not in whole)


def test_streaming_per_trace_agrees_with_file_mode():
    text = SPEC.split("property pof_per_key")[0]
    spec = tracelogic.load(text)
    file_mode = Monitor(spec, engine="python")
    file_mode.feed(SPANS)
    want = _verdicts(file_mode)
    now = [0]
    sm = StreamingMonitor(spec, idle_ns=1, lateness_ns=0, clock=lambda: now[0])
    for i in range(len(TRACES)):
        sm.ingest([s for s in SPANS if s.trace_id == f"{i + 1:032x}"])
        now[0] += 10**9
        sm.poll()
    sm.finish()
    counts = {}
    for (name, verdict), n in sm.verdict_counts.items():
        counts.setdefault(name, {})[verdict] = n
    for name, per in want.items():
        tally = {}
        for v in per.values():
            tally[v] = tally.get(v, 0) + 1
        assert counts[name] == tally, name


@pytest.mark.parametrize("scope, body, named", [
    (' per attr["k"]', 'O[<= 25ms] (G !(name == "c"))', '`O[<= 25ms] (G (!(name == "c")))`'),
    (" per service", 'G (name == "b" -> H (F (name == "a"))) & F[<= 1s] true',
     '`H (F (name == "a"))`'),
    (" global", 'F (H[<= 2s] (X (name == "a")))', '`H[<= 2s] (X (name == "a"))`'),
])
def test_cross_trace_scopes_refuse_timed_past_over_future_in_spec_syntax(scope, body, named):
    spec = tracelogic.load(f"property p{scope}:\n  {body}\n")
    msg = Monitor(spec).refused["p"]  # not monitored, with the reason; the others would run
    assert named in msg and "TExpr" not in msg, msg
    assert "per trace" in msg and "drop the time bounds" in msg, msg
    assert scope.strip() in msg, msg
    if "F[<= 1s]" in body:
        assert "`F[<= 1s] true` has a time bound" in msg, msg
    # the same formula per trace is monitored
    Monitor(tracelogic.load(f"property p:\n  {body}\n"))


def test_untimed_past_over_future_runs_in_every_scope():
    for scope in ("", ' per attr["k"]', " per service", " global"):
        spec = tracelogic.load(f"property p{scope}:\n  G (name == \"b\" -> H (F (name == \"a\")))\n")
        mon = Monitor(spec, engine="python")
        mon.feed(SPANS)
        got = _verdicts(mon)["p"]
        want = {k: e.verdict for k, e in expected(spec.properties[0], SPANS).items()}
        assert got == want, scope
