"""The workflow DFAs against the reference trace-set semantics, and the laws of §6.

The oracle is :mod:`tracelogic.models.semantics`: membership by exhaustive search
over splits and interleavings, written straight from the definitions. Every
automaton here (the forward DFA, the Petri net's language, the ``conforms`` DFA)
must agree with it on every generated word.
"""
from __future__ import annotations

import os

from hypothesis import given, settings, strategies as st

from tracelogic.models import semantics as S
from tracelogic.models.petri import lts_dfa
from tracelogic.automata.dfa import find_difference as difference, live_states
from tracelogic.models.workflow import (Alt, Event, Par, Seq, Skip, Step, accepts,
                                        conforms_dfa, forward_dfa, parse, show, state_after,
                                        steps_of)
from tests.models.strategies import failure_words, random_flagged_words, workflows, words_for

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
N = 400 if LONG else 60


def e(text: str) -> Event:
    """`a.start`, `a.end!` (failed)."""
    failed = text.endswith("!")
    step, phase = text.rstrip("!").split(".")
    return Event(step, phase, failed)


def word(text: str) -> tuple:
    return tuple(e(t) for t in text.split())


# ---------------------------------------------------------------- forward language


@settings(max_examples=N, deadline=None)
@given(st.data(), workflows())
def test_forward_dfa_agrees_with_reference(data, w):
    d = forward_dfa(w, extra_steps=["a", "b", "c"])
    for _ in range(4):
        u = data.draw(words_for(w, extra_steps=["a", "b", "c"]))
        assert accepts(d, u) == S.member(w, u), (show(w), u)


@settings(max_examples=N, deadline=None)
@given(st.data(), workflows())
def test_prefix_reference_agrees_with_live_states(data, w):
    d = forward_dfa(w, extra_steps=["a", "b", "c"])
    for _ in range(4):
        u = data.draw(words_for(w, extra_steps=["a", "b", "c"]))
        s = state_after(d, u)
        assert (s is not None and live_states(d)[s]) == S.prefix(w, u), (show(w), u)


@settings(max_examples=N, deadline=None)
@given(workflows())
def test_petri_net_language_is_the_dfa_language(w):
    assert difference(forward_dfa(w), lts_dfa(w)) is None, show(w)


def test_examples_by_hand():
    w = parse("validate ; (reserve || charge) ; (ship + cancel) ; notify*")
    d = forward_dfa(w)
    ok = word("validate.start validate.end reserve.start charge.start reserve.end charge.end "
              "ship.start ship.end notify.start notify.end notify.start notify.end")
    assert accepts(d, ok) and S.member(w, ok)
    overlap_seq = word("validate.start reserve.start validate.end reserve.end")
    assert not accepts(d, overlap_seq)  # `;`: B starts after A ends
    both_choices = word("validate.start validate.end reserve.start reserve.end charge.start "
                        "charge.end ship.start ship.end cancel.start cancel.end")
    assert not accepts(d, both_choices)
    # `a || a`: two occurrences of one step may overlap
    assert accepts(forward_dfa(parse("a || a")), word("a.start a.start a.end a.end"))


# ---------------------------------------------------------------- laws (§6)


def _same(x, y, data):
    """Reference semantics agree on sampled words of both sides, and the minimal DFAs match."""
    for w in (x, y):
        for _ in range(3):
            u = data.draw(words_for(w, max_len=7, extra_steps=["a", "b", "c"]))
            assert S.member(x, u) == S.member(y, u), (show(x), show(y), u)
    assert difference(forward_dfa(x), forward_dfa(y)) is None, (show(x), show(y))


small = workflows(max_leaves=3)


@settings(max_examples=N // 2, deadline=None)
@given(st.data(), small, small, small)
def test_sequence_is_associative(data, a, b, c):
    _same(Seq((a, Seq((b, c)))), Seq((Seq((a, b)), c)), data)


@settings(max_examples=N // 2, deadline=None)
@given(st.data(), small, small, small)
def test_parallel_is_associative(data, a, b, c):
    _same(Par((a, Par((b, c)))), Par((Par((a, b)), c)), data)


@settings(max_examples=N // 2, deadline=None)
@given(st.data(), small, small)
def test_parallel_and_choice_commute(data, a, b):
    _same(Par((a, b)), Par((b, a)), data)
    _same(Alt((a, b)), Alt((b, a)), data)


@settings(max_examples=N // 2, deadline=None)
@given(st.data(), small)
def test_skip_is_the_unit_of_sequence_and_parallel(data, a):
    for t in (Seq((Skip(), a)), Seq((a, Skip())), Par((Skip(), a)), Par((a, Skip()))):
        _same(t, a, data)


@settings(max_examples=N // 2, deadline=None)
@given(st.data(), small, small, small)
def test_sequence_distributes_over_choice_on_the_right(data, a, b, c):
    _same(Seq((Alt((a, b)), c)), Alt((Seq((a, c)), Seq((b, c)))), data)


def test_laws_are_not_vacuous():
    """The comparison can fail: `;` is not commutative, `||` does not distribute like `;`."""
    a, b = Step("a"), Step("b")
    assert difference(forward_dfa(Seq((a, b))), forward_dfa(Seq((b, a)))) is not None
    assert not S.member(Seq((a, b)), word("b.start b.end a.start a.end"))
    lhs = Seq((Alt((a, b)), Step("c")))
    rhs = Alt((Seq((a, Step("c"))), b))
    assert difference(forward_dfa(lhs), forward_dfa(rhs)) is not None


# ---------------------------------------------------------------- conforms


COMPS = {"a": "undo_a", "b": "undo_b"}


@settings(max_examples=N, deadline=None)
@given(st.data(), workflows())
def test_conforms_dfa_agrees_with_reference(data, w):
    comps = sorted({COMPS[s] for s in steps_of(w) if s in COMPS})
    d = conforms_dfa(w, comps)
    for _ in range(4):
        u = data.draw(failure_words(w, COMPS, max_len=10))
        u = tuple(x for x in u if x.step in set(steps_of(w)) | set(comps))
        assert accepts(d, u) == S.conforms(w, comps, u), (show(w), u)
    if steps_of(w):
        for _ in range(4):
            u = data.draw(random_flagged_words(set(steps_of(w)) | set(comps), max_len=7))
            assert accepts(d, u) == S.conforms(w, comps, u), (show(w), u)


def test_conforms_by_hand():
    w = parse("validate ; (reserve || charge) ; (ship + cancel) ; notify*")
    comps = ["release_stock", "refund"]
    d = conforms_dfa(w, comps)
    failed = word("validate.start validate.end reserve.start reserve.end charge.start! "
                  "charge.end! release_stock.start release_stock.end")
    assert accepts(d, failed) and S.conforms(w, comps, failed)
    # the parallel branch still running at the failure may finish
    inflight = word("validate.start validate.end reserve.start charge.start! charge.end! "
                    "refund.start reserve.end refund.end")
    assert accepts(d, inflight) and S.conforms(w, comps, inflight)
    # ... but nothing new may start (unless the whole trace is a word of W anyway)
    new_start = word("validate.start validate.end reserve.start reserve.end charge.start! "
                     "charge.end! ship.start ship.end refund.start refund.end")
    assert not accepts(d, new_start) and not S.conforms(w, comps, new_start)
    # compensations before any failure do not conform
    early = word("validate.start validate.end refund.start refund.end")
    assert not accepts(d, early) and not S.conforms(w, comps, early)
    # a failed step that is not a valid prefix does not conform
    wrong = word("reserve.start! reserve.end!")
    assert not accepts(d, wrong) and not S.conforms(w, comps, wrong)
    # a failure is fine when the trace is a complete word anyway
    complete = word("validate.start validate.end reserve.start reserve.end charge.start "
                    "charge.end cancel.start! cancel.end!")
    assert accepts(d, complete)


def test_reference_is_not_trivial():
    w = parse("a ; b")
    assert S.member(w, word("a.start a.end b.start b.end"))
    assert not S.member(w, word("a.start b.start a.end b.end"))
    assert S.member(parse("a || b"), word("a.start b.start a.end b.end"))
    assert S.member(parse("(a ; b)*"), ())
    assert not S.member(parse("a ; b"), ())
    assert S.prefix(parse("a ; b"), word("a.start a.end b.start"))
    assert not S.prefix(parse("a ; b"), word("b.start"))
