"""Hopcroft minimisation and the two constructions of the future part."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples, future_formulas
from tracelogic.automata.construction import (
    Progression, _gen_progression, _gen_reversal, split_past,
)
from tracelogic.automata.alphabet import Alphabet
from tracelogic.automata.dfa import DFA, find_difference, minimize
from tracelogic.logic import nnf
from tracelogic.logic.walkers import atoms


@st.composite
def dfas(draw):
    n = draw(st.integers(1, 12))
    bits = draw(st.integers(0, 2))
    letters = tuple(range(1 << bits))
    delta = [[draw(st.integers(0, n - 1)) for _ in letters] for _ in range(n)]
    out = [draw(st.integers(0, 2)) for _ in range(n)]
    return DFA(letters, delta, 0, out, bits)


def naive_classes(d: DFA) -> int:
    """Number of Nerode classes of the reachable part by naive refinement."""
    from tracelogic.automata.dfa import reachable_from
    reach = reachable_from(d)
    cls = {s: d.output[s] for s in reach}
    while True:
        sig = {s: (cls[s], tuple(cls[t] for t in d.delta[s])) for s in reach}
        ids: dict = {}
        new = {s: ids.setdefault(sig[s], len(ids)) for s in reach}
        if len(set(new.values())) == len(set(cls.values())):
            return len(set(new.values()))
        cls = new


@examples(300)
@given(dfas())
def test_hopcroft_is_minimal_and_equivalent(d):
    m = minimize(d)
    assert m.n_states == naive_classes(d)
    assert find_difference(d, m, compare=lambda a, b: a == b) is None
    assert minimize(m).delta == m.delta  # canonical numbering is a fixpoint


@examples(200)
@given(dfas(), dfas())
def test_find_difference_returns_a_real_witness(a, b):
    if a.letters != b.letters:
        return
    w = find_difference(a, b, compare=lambda x, y: x == y)
    from tracelogic.automata.dfa import run_dfa
    if w is None:  # equivalent: the canonical minimal automata are identical
        ma, mb = minimize(a), minimize(b)
        assert ma.delta == mb.delta and ma.output == mb.output
    else:
        assert a.output[run_dfa(a, w)] != b.output[run_dfa(b, w)]


def _finish(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


@examples(300)
@given(future_formulas(max_leaves=10))
def test_progression_and_reversal_build_the_same_minimal_dfa(f):
    """Two independent constructions; minimal DFAs are unique up to numbering,
    and both are numbered canonically, so the tables must be identical."""
    alph = Alphabet(sorted(atoms(f)))
    g = nnf(f)
    fut, pasts = split_past(g)
    assert not pasts
    a = _finish(_gen_progression(Progression(fut, alph.index, f.manager, f.empty_value),
                                 alph.letters, alph.n, f.empty_value))
    b = _finish(_gen_reversal(fut, alph.index, alph.letters, alph.n, f.empty_value))
    assert a.delta == b.delta and a.output == b.output, f
