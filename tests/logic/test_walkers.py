"""``walkers.fold``, the memoised post-order every DAG pass runs on, against recursion."""
from __future__ import annotations

import sys

from hypothesis import given

from logic.strategies import examples, future_formulas, mixed_formulas
from tracelogic.logic import And, Atom, Or, X
from tracelogic.logic.formula import Kind
from tracelogic.logic.walkers import fold, size


def _below_next_left_out(node):
    return () if node.kind in (Kind.X, Kind.WX) else node.args


def _tree_nodes(f, children):
    """Recursive oracle: the distinct nodes reached through ``children``."""
    out = {f}
    for c in children(f):
        out |= _tree_nodes(c, children)
    return out


@examples(150)
@given(mixed_formulas(max_leaves=6))
def test_fold_combines_each_node_once_children_first(f):
    calls = []

    def combine(node, kids):
        assert all(c in done for c in node.args)
        assert kids == [done[c] for c in node.args]
        calls.append(node)
        done[node] = len(calls)
        return done[node]

    done: dict = {}
    memo: dict = {}
    assert fold(f, combine, memo=memo) == len(calls)
    assert len(calls) == len(set(calls)) == len(_tree_nodes(f, lambda n: n.args))
    assert memo == done


@examples(150)
@given(future_formulas(max_leaves=6))
def test_fold_reaches_only_the_children_it_is_given(f):
    seen = []
    fold(f, lambda node, kids: seen.append(node), _below_next_left_out)
    assert set(seen) == _tree_nodes(f, _below_next_left_out)


def test_fold_reuses_its_memo_across_calls():
    p, q = Atom("p"), Atom("q")
    shared = And(p, X(q))
    memo: dict = {}
    first: list = []
    fold(shared, lambda n, a: first.append(n), memo=memo)
    again: list = []
    fold(Or(shared, q), lambda n, a: again.append(n), memo=memo)
    assert again == [Or(shared, q)]  # q and the conjunction were already there
    assert fold(shared, lambda n, a: 1 / 0, memo=memo) is None  # answered from the memo


def test_fold_of_a_deep_chain_keeps_the_recursion_limit():
    f = Atom("p")
    for i in range(10_000):
        f = And(Atom(f"a{i % 5}"), X(f)) if i % 2 else Or(f, Atom("q"))
    assert sys.getrecursionlimit() < 20_000
    assert fold(f, lambda n, a: 1 + sum(a)) == size(f)
