"""Critical path and hotspots: hand-built cases, a brute-force oracle, deep traces."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from tracelogic.analysis import critical_path, group_traces, hotspots
from tracelogic.analysis.critical_path import self_time
from tracelogic.ingest.events import Trace

from .helpers import MS, T0, Builder


def segs(path):
    return [(s.span.name, (s.start_ns - T0) / MS, (s.end_ns - T0) / MS) for s in path.segments]


def test_the_last_finisher_blocks_not_the_longest_child():
    b = Builder()
    p = b.span("p", 0, 10)
    b.span("a", 0, 9, p)
    b.span("b", 5, 10, p)
    assert segs(critical_path(Trace(b.spans))) == [("p", 0, 5), ("b", 5, 10)]


def test_sequential_children_gaps_and_nesting():
    b = Builder()
    root = b.span("root", 0, 100)
    q1 = b.span("q1", 10, 30, root)
    b.span("q1.inner", 12, 25, q1)
    b.span("q2", 40, 90, root)
    b.span("parallel", 35, 60, root)   # ends before q2 ends, overlaps q2's start
    path = critical_path(Trace(b.spans))
    assert segs(path) == [("root", 0, 10), ("q1", 10, 12), ("q1.inner", 12, 25), ("q1", 25, 30),
                          ("root", 30, 40), ("q2", 40, 90), ("root", 90, 100)]
    assert path.total_ns == 100 * MS
    assert [s.name for s, _ in path.by_span()][:2] == ["q2", "root"]


def test_children_are_clipped_to_their_parent():
    b = Builder()
    root = b.span("root", 0, 50)
    b.span("early", -20, 10, root)     # started before its parent (clock skew)
    b.span("late", 40, 80, root)       # outlived its parent
    b.span("outside", 60, 70, root)    # nothing left after clipping
    assert segs(critical_path(Trace(b.spans))) == [("early", 0, 10), ("root", 10, 40),
                                                   ("late", 40, 50)]


def test_zero_length_children_are_skipped_and_terminate():
    b = Builder()
    root = b.span("root", 0, 10)
    b.span("z", 5, 5, root)
    b.span("z2", 10, 10, root)
    assert segs(critical_path(Trace(b.spans))) == [("root", 0, 10)]


def test_equal_ends_prefer_the_earlier_start():
    b = Builder()
    root = b.span("root", 0, 10)
    b.span("long", 2, 8, root)
    b.span("short", 6, 8, root)
    assert segs(critical_path(Trace(b.spans))) == [("root", 0, 2), ("long", 2, 8), ("root", 8, 10)]


def test_a_trace_without_a_root_needs_one():
    b = Builder()
    orphan = b.span("x", 0, 1)
    t = Trace([orphan.__class__(name="y", trace_id=orphan.trace_id, span_id="00000000000000ff",
                                parent_id="00000000000000aa", start_ns=0, end_ns=5)])
    try:
        critical_path(t)
    except ValueError as e:
        assert "no root span" in str(e)
    else:
        raise AssertionError("expected ValueError")
    child = t.spans[0]
    assert critical_path(t, root=child).total_ns == 5


def test_deep_traces_do_not_recurse():
    b = Builder()
    n = 20_000
    parent = b.span("s0", 0, 2 * n)
    for i in range(1, n):
        parent = b.span(f"s{i}", i, 2 * n - i, parent)
    path = critical_path(Trace(b.spans))
    assert path.total_ns == 2 * n * MS
    assert len(path.segments) == 2 * n - 1
    assert path.segments[n - 1].span.name == f"s{n - 1}"


# -- brute force: every explanation path, the lexicographically greatest wins ----------
# A path is the sequence of its steps backwards in time; a step into child c is keyed
# (c's clipped end, -its clipped start, its span id inverted), so at equal ends the
# earlier start and then the smaller span id win, as documented; a step back to the
# parent is keyed by the time it returns to.

def brute_force(trace: Trace):
    root = trace.root

    def clipped(span, lo, hi):
        out = []
        for c in trace.children(span):
            cs, ce = max(c.start_ns, lo), min(c.end_ns, hi)
            if ce > cs:
                out.append((cs, ce, c))
        return out

    best = None
    # state: (stack of (span, lo, hi)), cursor, boundaries so far, segments so far
    todo = [([(root, root.start_ns, root.end_ns)], root.end_ns, ((root.end_ns,),), ())]
    while todo:
        stack, cursor, bounds, sg = todo.pop()
        span, lo, hi = stack[-1]
        options = [c for c in clipped(span, lo, hi) if c[1] <= cursor]
        for cs, ce, c in options:  # descend into any child that ended by the cursor
            seg = ((span.name, ce, cursor),) if cursor > ce else ()
            key = (ce, -cs, tuple(-ord(ch) for ch in c.span_id))
            todo.append((stack + [(c, cs, ce)], ce, bounds + (key,), sg + seg))
        if not options:  # the span itself, back to its parent
            seg = ((span.name, lo, cursor),) if cursor > lo else ()
            if len(stack) == 1:
                cand = (bounds + ((lo,),), sg + seg)
                if best is None or cand[0] > best[0]:
                    best = cand
            else:
                todo.append((stack[:-1], lo, bounds + ((lo,),), sg + seg))
    return [(n, (a - T0) / MS, (e - T0) / MS) for n, a, e in reversed(best[1])]


@st.composite
def trees(draw):
    n = draw(st.integers(2, 7))
    times = draw(st.lists(st.integers(0, 400), min_size=2 * n, max_size=2 * n, unique=True))
    b = Builder()
    spans = []
    for i in range(n):
        a, e = sorted(times[2 * i:2 * i + 2])
        parent = spans[draw(st.integers(0, i - 1))] if i else None
        spans.append(b.span(f"s{i}", a, e, parent))
    return Trace(b.spans)


@settings(max_examples=300, deadline=None)
@given(trees())
def test_critical_path_is_the_greatest_explanation_path(trace):
    path = critical_path(trace)
    assert segs(path) == brute_force(trace)
    # the segments tile the root exactly
    assert path.segments[0].start_ns == trace.root.start_ns
    assert path.segments[-1].end_ns == trace.root.end_ns
    assert all(x.end_ns == y.start_ns for x, y in zip(path.segments, path.segments[1:]))


# -- hotspots ----------------------------------------------------------------------------

def test_hotspots_name_the_query_and_filter_by_average():
    b = Builder()
    for i in range(4):
        root = b.span("GET /items", 0, 200, trace=i + 1, service="api", kind="server")
        b.span("SELECT", 10, 190 if i else 50, root, service="api", kind="client",
               db__system="sqlite", db__query__text="SELECT * FROM items WHERE id = ?")
        b.span("render", 190, 195, root, service="api")
    traces = group_traces(b.spans)
    hs = hotspots(traces, threshold_ns=100 * MS)
    assert [h.operation for h in hs] == [
        "api -> sqlite: SELECT [SELECT * FROM items WHERE id = ?]", "api: GET /items"]
    q = hs[0]
    assert q.count == 4 and q.avg_ns == (40 + 3 * 180) / 4 * MS
    assert q.query == "SELECT * FROM items WHERE id = ?"
    assert q.critical_ns == (40 + 3 * 180) * MS
    assert len(q.span_ids) == 4
    assert all(h.avg_ns > 100 * MS for h in hs)
    assert "api: render" in [h.operation for h in hotspots(traces)]


def test_self_time_is_duration_minus_the_union_of_children():
    b = Builder()
    root = b.span("root", 0, 100)
    b.span("a", 10, 40, root)
    b.span("b", 30, 50, root)
    b.span("c", 90, 120, root)
    assert self_time(Trace(b.spans), root) == (100 - 40 - 10) * MS
