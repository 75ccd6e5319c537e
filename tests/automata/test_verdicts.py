"""RV-LTL verdicts: final verdicts are right about every continuation."""
from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples, future_formulas, mixed_formulas, past_over_future, words
from tracelogic.automata import Verdict, compile_monitor
from tracelogic.logic import Atom, F, G, Implies, X
from tracelogic.logic.reference import verdict

LETTERS = [frozenset(c) for k in range(3) for c in itertools.combinations("pqr", k)]


def continuations(max_len):
    for n in range(max_len + 1):
        yield from itertools.product(LETTERS, repeat=n)


@examples(150)
@given(st.one_of(future_formulas(max_leaves=6), mixed_formulas(max_leaves=4),
                 past_over_future(depth=3)),
       words(max_size=4, max_gap=0))
def test_untimed_verdicts(f, prefix):
    mon = compile_monitor(f)
    s = mon.run(prefix)
    v = mon.verdict(s)
    assert mon.final(s) == verdict(f, prefix)
    assert v.is_final == mon.is_decided(s)
    last = prefix[-1][1] if prefix else 0
    outcomes = {verdict(f, prefix + [(lt, last) for lt in cont]) for cont in continuations(3)}
    if v is Verdict.SATISFIED:
        assert outcomes == {True}
    elif v is Verdict.VIOLATED:
        assert outcomes == {False}
    else:
        assert v is (Verdict.PRESUMABLY_SATISFIED if verdict(f, prefix)
                     else Verdict.PRESUMABLY_VIOLATED)
        # exactness of the table monitor: both outcomes remain reachable, so some
        # continuation flips the current LTLf verdict
        want = not verdict(f, prefix)
        from tracelogic.automata.dfa import co_reachable
        dfa = mon.automaton.dfa
        targets = [t for t in range(dfa.n_states) if bool(dfa.output[t]) == want]
        assert co_reachable(dfa, targets)[s]


@examples(150)
@given(st.one_of(future_formulas(metric=True, max_leaves=6),
                 mixed_formulas(metric=True, max_leaves=4), past_over_future(metric=True, depth=3)),
       words(max_size=5), st.lists(words(max_size=4, max_gap=3), min_size=5, max_size=8))
def test_timed_final_verdicts_are_sound(f, prefix, tails):
    mon = compile_monitor(f)
    s = mon.run(prefix)
    v = mon.verdict(s)
    assert mon.final(s) == verdict(f, prefix)
    if not v.is_final:
        return
    last = prefix[-1][1] if prefix else 0
    for tail in tails:
        cont = prefix + [(lt, last + t) for lt, t in tail]
        assert verdict(f, cont) == (v is Verdict.SATISFIED), (f, cont)


def test_decided_marks_the_deciding_event():
    p, q = Atom("p"), Atom("q")
    mon = compile_monitor(G(Implies(p, X(q))))
    events = [set(), {"p"}, set(), {"q"}]
    s = mon.initial
    first = None
    for i, ev in enumerate(events):
        s = mon.step(s, mon.mask(ev))
        if first is None and mon.decided[s]:
            first = i
    assert first == 2 and mon.verdicts[s] is Verdict.VIOLATED
    mon2 = compile_monitor(F(q))
    s = mon2.initial
    assert mon2.verdict(s) is Verdict.PRESUMABLY_VIOLATED
    s = mon2.step(s, mon2.mask({"q"}))
    assert mon2.verdict(s) is Verdict.SATISFIED
