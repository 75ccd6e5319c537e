"""Per-trace verdicts are memoized by the trace's letters (`Monitor._memoized`, and the
sidecar's shape cache): a trace whose letters an earlier trace had reuses that trace's
verdict and witness positions; a timed property on a trace that fits in every bound
steps its unbounded twin (`CompiledProperty.untimed`).

The reuse must be invisible. Oracle: the same traces, each monitored by a fresh Monitor
(nothing to reuse). Timed properties may reuse only when the whole trace fits inside
every time bound; traces here are stretched past the bounds to catch a wrong reuse.
"""
from __future__ import annotations

from hypothesis import given, strategies as st

import tracelogic
from logic.strategies import examples
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span
from tracelogic.engine.stream import SECOND, StreamingMonitor

MS = 1_000_000
SPEC = tracelogic.load('''
pred op(n) = name == n
pred failed = status == error
property no_error: G !failed
property order: !op("c") W op("a")
property answered: G (op("a") & start -> F[<= 100ms] (op("a") & end))
property recent: G (op("c") & start -> O[<= 50ms] op("b"))
property late_enough: G (op("a") & start -> F[20ms, 1s] op("c"))
property replied: response(op("b") & end, op("c"))
property words: G (op("c") & end -> WX G !(op("c") & end))
''', filename="memo.spec")

shapes = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 40), st.integers(0, 40),
                            st.booleans()), min_size=1, max_size=5)


def trace_of(shape, n: int, stretch: int) -> list[Span]:
    """Trace ``n`` of a shape: a root and one child per entry (name, start, length,
    failed), times multiplied by ``stretch`` -- the same event order, other durations."""
    tid = f"{n + 1:032x}"
    root = Span(name="root", trace_id=tid, span_id=f"{n * 100 + 1:016x}", start_ns=0,
                end_ns=200 * stretch * MS)
    kids = [Span(name=name, trace_id=tid, span_id=f"{n * 100 + 2 + i:016x}",
                 parent_id=root.span_id, start_ns=(1 + start) * stretch * MS,
                 end_ns=(1 + start + length) * stretch * MS,
                 status="error" if failed else "unset")
            for i, (name, start, length, failed) in enumerate(shape)]
    return [root, *kids]


def report_of(traces: list[list[Span]]) -> tuple[dict, list]:
    mon = Monitor(SPEC)
    for t in traces:
        mon.feed(t)
    rep = mon.close()
    results = {p.name: dict(p.results) for p in rep.properties}
    violations = sorted((v.prop.name, v.key, tuple(v.span_ids), v.message)
                        for v in rep.violations)
    return results, violations


@examples(60, 1500)
@given(st.lists(shapes, min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), st.sampled_from([1, 1, 2, 10])), min_size=2,
                max_size=8))
def test_memoized_verdicts_equal_fresh_monitors(pool, picks):
    traces = [trace_of(pool[i % len(pool)], n, stretch) for n, (i, stretch) in enumerate(picks)]
    together = report_of(traces)
    results: dict = {}
    violations: list = []
    for t in traces:
        r, v = report_of([t])
        for name, got in r.items():
            results.setdefault(name, {}).update(got)
        violations += v
    assert together == (results, sorted(violations))


@examples(50, 1000)
@given(st.lists(shapes, min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), st.sampled_from([1, 2, 10])), min_size=2,
                max_size=8))
def test_the_sidecar_gives_the_verdicts_of_file_mode(pool, picks):
    traces = [trace_of(pool[i % len(pool)], n, stretch) for n, (i, stretch) in enumerate(picks)]
    _, want = report_of(traces)
    sm = StreamingMonitor(SPEC, idle_ns=1, lateness_ns=SECOND, clock=lambda: 0)
    for t in traces:
        sm.ingest(t)
    sm.finish()
    got = sorted((v.prop.name, v.key, tuple(v.span_ids), v.message)
                 for v in sm.take_violations())
    assert got == want


def test_a_timed_verdict_is_not_reused_for_a_trace_that_exceeds_the_bound():
    shape = [("a", 0, 50, False)]
    fast, slow = trace_of(shape, 0, 1), trace_of(shape, 1, 10)   # 50 ms, then 500 ms
    results, violations = report_of([fast, slow])
    assert results["answered"] == {f"{1:032x}": "satisfied", f"{2:032x}": "violated"}
    assert [v[:2] for v in violations if v[0] == "answered"] == [("answered", f"{2:032x}")]
    # and the untimed ones were reused: same verdicts for both
    assert len(set(results["no_error"].values())) == 1
