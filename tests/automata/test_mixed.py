"""LTLf with past in any nesting (automata/mixed.py) against the reference evaluator.

Formulas nest past over future and future over past, 4 operators deep, with and
without time bounds. Untimed ones become minimal DFAs (the derivative construction
with past residuals when a past operator ranges over a future one); every prefix of
every random trace must get the reference's verdict, and a final verdict must be the
verdict of the whole trace. Timed ones with a past operator over a future one are
evaluated over the whole trace (ReferenceMonitor); the engine steps their unbounded
twin's DFA on a trace that fits in every bound, which must agree with the bounded
formula there. TRACELOGIC_LONG=1 runs ten times more examples.
"""
from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

from logic.strategies import examples, nested_formulas, past_over_future, words
from tracelogic.automata import compile_monitor, translate
from tracelogic.automata.mixed import mixed_dfa
from tracelogic.automata.monitor import ReferenceMonitor, TableMonitor, TimedMonitor, Verdict
from tracelogic.engine.compiled import _fitting_span
from tracelogic.logic import (TRUE, And, Atom, F, G, H, Implies, O, S, Trigger, U, X, Y,
                              get_manager)
from tracelogic.logic.formula import PAST_OVER_FUTURE
from tracelogic.logic.reference import verdict
from tracelogic.logic.walkers import nnf

COUNT = {"formulas": 0, "prefixes": 0, "past_over_future": 0}


def _check_table(f, word):
    mon = compile_monitor(f)
    assert isinstance(mon, TableMonitor)
    whole = verdict(f, word)
    s = mon.initial
    for i in range(len(word) + 1):
        if i:
            s = mon.step(s, mon.mask(word[i - 1][0]), word[i - 1][1])
        want = verdict(f, word[:i])
        COUNT["prefixes"] += 1
        assert mon.final(s) is want, (str(f), word[:i])
        v = mon.verdict(s)
        if v is Verdict.SATISFIED or v is Verdict.VIOLATED:
            # final: every continuation agrees, this trace's included
            assert (v is Verdict.SATISFIED) is whole, (str(f), word, i, v)


@examples(300, 3000)
@given(nested_formulas(), st.lists(words(max_size=7), min_size=1, max_size=4))
def test_untimed_any_nesting_agrees_with_the_reference(f, traces):
    COUNT["formulas"] += 1
    COUNT["past_over_future"] += bool(f.flags & PAST_OVER_FUTURE)
    for word in traces:
        _check_table(f, word)


@examples(300, 3000)
@given(past_over_future(), st.lists(words(max_size=7), min_size=1, max_size=4))
def test_untimed_past_over_future_agrees_with_the_reference(f, traces):
    for word in traces:
        _check_table(f, word)


@examples(200, 2000)
@given(st.one_of(nested_formulas(metric=True), past_over_future(metric=True)),
       st.lists(words(max_size=7), min_size=1, max_size=3))
def test_timed_any_nesting_agrees_with_the_reference(f, traces):
    """Every metric formula monitors: a TimedMonitor, or over the whole trace when a past
    operator ranges over a future one. The unbounded twin's DFA decides a trace that fits
    in every bound (what the engine steps then, CompiledProperty.by_letters)."""
    mon = compile_monitor(f)
    if f.is_metric and f.flags & PAST_OVER_FUTURE:
        assert isinstance(mon, ReferenceMonitor)
    elif f.is_metric:
        assert isinstance(mon, TimedMonitor)
    fits = _fitting_span(f) if f.is_metric else -1
    twin = compile_monitor(get_manager().without_bounds(f)) if fits >= 0 else None
    for word in traces:
        want = verdict(f, word)
        assert mon.accepts(word) is want, (str(f), word)
        if twin is not None and (not word or word[-1][1] - word[0][1] <= fits):
            note(f"twin {get_manager().without_bounds(f)}")
            assert twin.accepts(word) is want, (str(f), word)


@examples(300, 3000)
@given(nested_formulas(depth=3))
def test_the_derivative_construction_gives_the_same_minimal_dfa(f):
    """On formulas the other constructions also cover (no past over future), the
    construction with past residuals gives the identical minimal table."""
    if f.flags & PAST_OVER_FUTURE:
        return
    aut = translate(f)
    alph = aut.alphabet
    mine = mixed_dfa(nnf(f), dict(alph.index), alph.letters, alph.n, f.empty_value)
    assert mine.delta == aut.dfa.delta and mine.output == aut.dfa.output, str(f)


# ----------------------------------------------------------------- examples by hand

a, b = Atom("a"), Atom("b")


def _accepts(f, letters):
    return compile_monitor(f).accepts([(frozenset(x), i) for i, x in enumerate(letters)])


def test_issue_examples_get_dfas():
    # H (F b): at event 0 it is F b
    assert translate(H(F(b))).n_states == 3
    assert _accepts(H(F(b)), [{"a"}, {"b"}]) and not _accepts(H(F(b)), [{"a"}, {"a"}])
    # F H a -> G b
    f = Implies(F(H(a)), G(b))
    assert _accepts(f, [{"b"}, {"b"}]) and not _accepts(f, [{"a"}, {"a", "b"}, {"a"}])
    assert _accepts(f, [{"b"}, {"a"}])  # H a never holds: event 0 lacks a


def test_past_over_next_and_until():
    # Y (X b) at event 1 is "b at event 1": G (a -> Y X b) reads "each a after the first
    # is itself a b" -- except it needs a predecessor
    f = G(Implies(a, Y(X(b))))
    assert _accepts(f, [set(), {"a", "b"}]) and not _accepts(f, [set(), {"a"}])
    assert not _accepts(f, [{"a", "b"}])  # event 0 has no yesterday
    # a S (F b): somewhere in the past F b started a run of a's up to now
    g = F(S(a, X(b)))
    assert _accepts(g, [set(), {"b"}]) and not _accepts(g, [set(), set()])
    # Trigger over future, U over past: H (a -> F b) holds at the end iff every a is answered
    h = G(Implies(Atom("end"), H(Implies(a, F(b)))))
    assert _accepts(h, [{"a"}, {"b"}, {"end"}]) and not _accepts(h, [{"b"}, {"a"}, {"end"}])
    # O (G a) at event 0 is G a, except on the empty trace (O is strong, G weak)
    assert translate(O(G(a))).dfa.delta == translate(And(G(a), F(TRUE()))).dfa.delta
    # Trigger with future operands
    t = Trigger(F(a), U(a, b))
    for w in ([{"b"}], [{"a"}, {"b"}], [{"a"}], []):
        word = [(frozenset(x), i) for i, x in enumerate(w)]
        assert compile_monitor(t).accepts(word) is verdict(t, word), w


def test_timed_past_over_future_is_evaluated_on_the_whole_trace():
    f = O(G(a), (0, 25))
    mon = compile_monitor(f)
    assert isinstance(mon, ReferenceMonitor)
    s = mon.initial
    for x, t in [({"a"}, 0), ({"a"}, 10), ({"a"}, 40)]:
        s = mon.step(s, mon.mask(x), t)
        assert not mon.is_decided(s)
    assert mon.final(s) and mon.verdict(s) is Verdict.PRESUMABLY_SATISFIED
    s = mon.step(s, mon.mask(set()), 50)
    assert not mon.final(s) and mon.verdict(s) is Verdict.PRESUMABLY_VIOLATED
    assert mon.word(s)[-1] == (frozenset(), 50)
