"""The mined workflow accepts every trace it was mined from, judged by the reference trace-set
semantics of §6 (models/semantics.py, an independent oracle), on Hypothesis-generated words
with overlap, nesting and repetition; and it is not trivially permissive."""
from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from tracelogic.analysis.mining.workflow import generalise, render_term, size, term_of_intervals
from tracelogic.models.semantics import member
from tracelogic.models.workflow import END, START, Event, parse

EXAMPLES = 300 if os.environ.get("TRACELOGIC_LONG") else 40


@st.composite
def words(draw):
    """A well-formed word of 1-4 step occurrences: each span's start before its end, any
    interleaving (so spans overlap, nest and follow each other)."""
    n = draw(st.integers(1, 4))
    names = [draw(st.sampled_from("abc")) for _ in range(n)]
    pending = [(i, START) for i in range(n)]
    word: list[tuple[int, str]] = []
    opened: list[int] = []
    while pending or opened:
        choices = ([("open", i) for i, _ in pending[:1]] + [("close", i) for i in opened])
        kind, i = draw(st.sampled_from(choices))
        if kind == "open":
            pending.pop(0)
            opened.append(i)
            word.append((i, START))
        else:
            opened.remove(i)
            word.append((i, END))
    return names, word


def intervals(names, word):
    start = {}
    ivs = []
    for k, (i, phase) in enumerate(word):
        if phase == START:
            start[i] = k
        else:
            ivs.append((start[i], k, ("svc", names[i])))
    return sorted(ivs)


def events(names, word):
    return [Event(names[i], phase) for i, phase in word]


def flow_of(traces):
    term = generalise([term_of_intervals(intervals(*t)) for t in traces])
    return term, parse(render_term(term, lambda op: op[1]))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(words(), min_size=1, max_size=4))
def test_every_trace_is_a_word_of_the_mined_workflow(traces):
    term, wf = flow_of(traces)
    for names, word in traces:
        assert member(wf, events(names, word)), (render_term(term), events(names, word))


def test_the_workflow_is_no_larger_than_the_traces():
    # two traces of one shape give that shape once; a repetition becomes a loop
    a_then_b = (["a", "b"], [(0, START), (0, END), (1, START), (1, END)])
    nested = (["a", "b"], [(0, START), (1, START), (1, END), (0, END)])
    term, wf = flow_of([a_then_b, a_then_b])
    assert render_term(term, lambda op: op[1]) == "a ; b" and size(term) == 2
    assert not member(wf, events(["b", "a"], a_then_b[1]))          # b ; a: not seen
    assert not member(wf, events(*nested))                          # a || b: not seen
    term, _ = flow_of([a_then_b, nested])
    assert render_term(term, lambda op: op[1]) == "a ; b + a || b"
    three = (["a", "a", "a"], [(0, START), (0, END), (1, START), (1, END), (2, START),
                               (2, END)])
    term, wf = flow_of([three])
    assert render_term(term, lambda op: op[1]) == "a ; a*"
    assert member(wf, events(["a", "a"], three[1][:4]))
    assert not member(wf, [])
    # common prefixes are factored; an alternative that stops early gives `?`
    abc = (["a", "b", "c"], [(0, START), (0, END), (1, START), (1, END), (2, START), (2, END)])
    ab = (["a", "b"], a_then_b[1])
    term, _ = flow_of([abc, ab])
    assert render_term(term, lambda op: op[1]) == "a ; b ; c?"
