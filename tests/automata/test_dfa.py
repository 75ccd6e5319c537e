"""Graph helpers of ``automata.dfa`` against a fixed-point oracle."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples
from tracelogic.automata.dfa import DFA, co_reachable, co_reachable_in


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 8))
    succ = [draw(st.sets(st.integers(0, n - 1), max_size=3)) for _ in range(n)]
    targets = draw(st.lists(st.integers(0, n - 1), max_size=3))
    return succ, targets


def reaches(succ, targets):
    """Least fixed point of ``r(s) = s in targets or any r(t) for t in succ[s]``."""
    mark = [s in targets for s in range(len(succ))]
    changed = True
    while changed:
        changed = False
        for s, ts in enumerate(succ):
            if not mark[s] and any(mark[t] for t in ts):
                mark[s] = changed = True
    return mark


@examples(200)
@given(graphs())
def test_co_reachable_in_is_the_fixed_point(g):
    succ, targets = g
    assert co_reachable_in(succ, targets) == reaches(succ, targets)


@examples(100)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(0, n - 1), min_size=2, max_size=2), min_size=n, max_size=n),
    st.lists(st.integers(0, n - 1), max_size=2))))
def test_co_reachable_of_a_dfa_reads_its_letters(g):
    delta, targets = g
    dfa = DFA((0, 1), [tuple(r) for r in delta], 0, [False] * len(delta), 1)
    assert co_reachable(dfa, targets) == reaches([set(r) for r in delta], targets)
