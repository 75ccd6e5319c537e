"""Regression: a translation cached for one atom order must not be reused for another."""
from __future__ import annotations

from tracelogic.automata import compile_monitor
from tracelogic.logic import constructors as L
from tracelogic.logic import patterns as P
from tracelogic.logic.reference import holds


def run(mon, word):
    state = mon.initial
    for letter, t in word:
        state = mon.step(state, mon.mask(letter), t)
    return mon.final(state)


def test_same_future_part_under_two_atom_orders():
    a, c = L.Atom("authorize"), L.Atom("charge")
    first = L.W(L.Not(c), a)
    second = P.precedence(a, c)
    word = [(frozenset({"charge"}), 1), (frozenset({"authorize"}), 2)]
    m1 = compile_monitor(first, atoms=["authorize", "charge"])
    m2 = compile_monitor(second, atoms=["charge", "authorize"])  # same formula, other bits
    assert run(m1, word) == holds(first, word, 0)
    assert run(m2, word) == holds(second, word, 0)
