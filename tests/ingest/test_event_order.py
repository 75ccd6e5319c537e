"""Traces and the event order of SPEC-LANGUAGE.md §3, checked rule by rule."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelogic.ingest.events import SpanIndex, Trace
from tracelogic.ingest.otlp import read_path
from tracelogic.ingest.spans import Span

from .otlp_testdata import DATA

T = "22222222222222222222222222222222"


def span(sid: int, start: int, end: int, parent: int | None = None, name: str = "",
         links=()) -> Span:
    return Span(name=name or f"s{sid}", trace_id=T, span_id=f"{sid:016x}",
                parent_id=f"{parent:016x}" if parent is not None else "",
                start_ns=start, end_ns=end, links=links)


def seq(trace: Trace) -> list[str]:
    return [f"{e.span.name}.{e.kind}" for e in trace.events]


# -- examples -----------------------------------------------------------------------

def test_spec_example_b_starts_when_a_ends():
    tr = Trace([span(2, 10, 20, name="b"), span(1, 0, 10, name="a")])
    assert seq(tr) == ["a.start", "a.end", "b.start", "b.end"]
    # the same with ids swapped: the timestamp rule, not the id, decides
    tr = Trace([span(1, 10, 20, name="b"), span(2, 0, 10, name="a")])
    assert seq(tr) == ["a.start", "a.end", "b.start", "b.end"]


def test_handwritten_equal_timestamps():
    res = read_path(DATA / "equal_timestamps.json")
    tr = Trace(res.spans)
    # t=100: a (id 9) starts before its child b (id 1) despite the larger id;
    # t=150: b ends before c starts; t=200: c ends before its parent a; then the
    # zero-duration d (c's child) as an adjacent start/end pair, after the ends.
    assert seq(tr) == ["a.start", "b.start", "b.end", "c.start", "c.end", "a.end",
                       "d.start", "d.end"]


def test_zero_duration_spans_stay_atomic_and_ancestor_first():
    # p and c are zero-duration at the same instant, c is p's child, c has the smaller id
    tr = Trace([span(9, 5, 5, name="p"), span(1, 5, 5, parent=9, name="c"),
                span(4, 5, 5, name="u")])
    assert seq(tr) == ["u.start", "u.end", "p.start", "p.end", "c.start", "c.end"]


def test_zero_duration_child_at_parent_start_comes_first():
    # Rule 2 (ends before starts) outranks the causal rule: the child's end is an end.
    tr = Trace([span(1, 10, 20, name="parent"), span(2, 10, 10, parent=1, name="child")])
    assert seq(tr) == ["child.start", "child.end", "parent.start", "parent.end"]


def test_ends_descendant_first_through_a_skewed_middle_span():
    # g's parent m ends earlier (skew); g and the grandparent r end together: g first.
    tr = Trace([span(1, 0, 10, name="r"), span(5, 1, 4, parent=1, name="m"),
                span(3, 2, 10, parent=5, name="g")])
    assert seq(tr)[-2:] == ["g.end", "r.end"]
    tr = Trace([span(3, 0, 10, name="r"), span(5, 1, 4, parent=3, name="m"),
                span(1, 2, 10, parent=5, name="g")])
    assert seq(tr)[-2:] == ["g.end", "r.end"]


def test_negative_duration_end_is_placed_at_start():
    tr = Trace([span(1, 50, 40, name="bad"), span(2, 45, 60, name="ok")])
    assert seq(tr) == ["ok.start", "bad.start", "bad.end", "ok.end"]
    assert [e.time_ns for e in tr.events] == [45, 50, 50, 60]


def test_structure_multiple_roots_missing_parent_and_skew():
    tr = Trace(read_path(DATA / "structure.json").spans)
    names = {s.name: s for s in tr}
    assert [s.name for s in tr.roots] == ["root one", "root two"]
    assert tr.has_multiple_roots and tr.root is None and tr.is_partial
    assert [s.name for s in tr.orphans] == ["orphan"]
    child = names["skewed child"]
    assert tr.parent(child) is names["root one"] and tr.parent(names["orphan"]) is None
    assert tr.children(names["root one"]) == (child,)
    assert tr.has_child(names["root one"], lambda s: s.name == "skewed child")
    assert tr.has_ancestor(child, lambda s: s.service == "svc")
    assert not tr.has_ancestor(names["orphan"], lambda s: True)
    notes = " | ".join(tr.problems())
    assert "1 spans have parents that never arrived (ffffffffffffffff)" in notes
    assert "2 root spans" in notes
    # clock skew: the child starts before its parent, and the order follows the clock
    assert seq(tr)[:2] == ["skewed child.start", "root one.start"]


def test_linked_within_trace_and_within_input():
    other = "33333333333333333333333333333333"
    target = Span(name="publish", trace_id=other, span_id="00000000000000aa", start_ns=0,
                  end_ns=1)
    consumer = span(1, 5, 6, name="consume", links=[(other, "00000000000000aa"),
                                                    (T, "0000000000000002"),
                                                    (other, "00000000000000bb")])
    sibling = span(2, 1, 2, name="sibling")
    tr = Trace([consumer, sibling])
    assert tr.linked(consumer, lambda s: s.name == "sibling")
    assert not tr.linked(consumer, lambda s: s.name == "publish")  # other trace, no index
    index = SpanIndex([target, consumer, sibling])
    assert tr.linked(consumer, lambda s: s.name == "publish", index)
    found, unresolved = index.link_targets(consumer)
    assert [s.name for s in found] == ["publish", "sibling"] and unresolved == 1


def test_trace_rejects_mixed_ids_and_counts_duplicates():
    with pytest.raises(ValueError, match="group spans by trace id"):
        Trace([span(1, 0, 1), Span(name="x", trace_id="3" * 32, span_id="1" * 16,
                                   start_ns=0, end_ns=1)])
    with pytest.raises(ValueError, match="at least one span"):
        Trace([])
    tr = Trace([span(1, 0, 1), span(1, 0, 1), span(2, 0, 1)])
    assert len(tr) == 2 and tr.duplicates == 1 and "1 duplicate spans" in repr(tr)


def test_parent_cycle_terminates_and_is_reported():
    tr = Trace([span(1, 0, 10, parent=2), span(2, 0, 10, parent=1), span(3, 0, 10, parent=1)])
    assert len(tr.events) == 6 and not tr.roots and tr.is_partial
    assert {s.span_id[-1] for s in tr.cyclic} == {"1", "2", "3"}
    assert list(tr.ancestors(tr.get("0000000000000003"))) == [tr.get("0000000000000001"),
                                                            tr.get("0000000000000002")]


# -- the property test --------------------------------------------------------------

@st.composite
def span_forests(draw):
    """Random span forests over a tiny clock, so equal timestamps, zero and negative
    durations, clock skew (children outside their parents), orphans and several
    roots are all common."""
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(st.integers(1, 2**64 - 1), min_size=n, max_size=n, unique=True))
    spans = []
    for i, sid in enumerate(ids):
        start = draw(st.integers(0, 6))
        end = start + draw(st.sampled_from([0, 0, 1, 2, 3, -1]))
        choice = draw(st.integers(-2, i - 1)) if i else -1
        if choice >= 0:
            parent = ids[choice]
        elif choice == -2:
            parent = 0xDEAD  # a parent that never arrived
        else:
            parent = None
        spans.append(span(sid, start, end, parent))
    return spans


def _ancestor_ids(tr: Trace, s: Span) -> set[str]:
    return {a.span_id for a in tr.ancestors(s)}


def _zero(s: Span) -> bool:
    return s.end_ns <= s.start_ns


def _group(e) -> int:
    if _zero(e.span):
        return 1
    return 2 if e.is_start else 0


def check_order(tr: Trace) -> None:
    evs = tr.events
    assert len(evs) == 2 * len(tr)
    pos = {(e.span.span_id, e.is_start): i for i, e in enumerate(evs)}
    assert len(pos) == len(evs)
    anc = {s.span_id: _ancestor_ids(tr, s) for s in tr}
    for s in tr:
        i, j = pos[(s.span_id, True)], pos[(s.span_id, False)]
        assert i < j, "a span's own start comes before its own end"
        if _zero(s):
            assert j == i + 1, "a zero-duration span's start and end are adjacent"
    for i, e1 in enumerate(evs):
        for e2 in evs[i + 1:]:
            assert e1.time_ns <= e2.time_ns, "ordered by timestamp"
            if e1.time_ns != e2.time_ns:
                continue
            x, y = e1.span, e2.span
            if x is y:
                continue
            if e1.is_start and e2.is_end:
                assert _zero(x) and _zero(y), "ends before starts at equal timestamps"
            if e1.is_start and e2.is_start and y.span_id in anc[x.span_id]:
                # a descendant started first: only allowed when rule 2 forced it
                assert _zero(x) and not _zero(y), "parent start before child starts"
            if e1.is_end and e2.is_end and x.span_id in anc[y.span_id]:
                assert _zero(y), "child end before parent end"
    # span id as the last tie-break: adjacent units of one group at one instant are
    # in id order unless the first is a causal predecessor of the second.
    units = [e for e in evs if not (_zero(e.span) and e.is_end)]
    for u, v in zip(units, units[1:]):
        if (u.time_ns, _group(u)) != (v.time_ns, _group(v)):
            continue
        a, b = u.span.span_id, v.span.span_id
        if _group(u) == 0:
            causal = b in anc[a]      # u is a descendant of v
        else:
            causal = a in anc[b]      # u is an ancestor of v
        assert a < b or causal, "then by span id"


@settings(max_examples=400, deadline=None)
@given(span_forests(), st.randoms(use_true_random=False))
def test_event_order_rules_hold_and_do_not_depend_on_input_order(spans, rnd):
    tr = Trace(spans)
    check_order(tr)
    shuffled = list(spans)
    rnd.shuffle(shuffled)
    again = Trace(shuffled)
    assert [(e.time_ns, e.is_start, e.span.span_id) for e in again.events] == \
           [(e.time_ns, e.is_start, e.span.span_id) for e in tr.events]


def test_property_checker_catches_a_wrong_order():
    # The checker itself must be able to fail: feed it a trace whose order we break.
    tr = Trace([span(2, 10, 20, name="b"), span(1, 0, 10, name="a")])
    evs = list(tr.events)
    evs[1], evs[2] = evs[2], evs[1]  # b.start before a.end at t=10
    object.__setattr__(tr, "_events", tuple(evs))
    with pytest.raises(AssertionError, match="ends before starts"):
        check_order(tr)


def test_many_equal_timestamps_stay_fast_and_valid():
    rnd = random.Random(7)
    spans = [span(1, 0, 10)]
    for i in range(2, 400):
        spans.append(span(i, rnd.choice([0, 10]), 10, parent=rnd.randrange(1, i)))
    check_order(Trace(spans))
