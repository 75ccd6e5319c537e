"""Depth-10,000 formulas never reach Python's recursion limit."""
from __future__ import annotations

import sys

from tracelogic.logic import (
    And, Atom, F, G, Not, Or, U, X, Y, atoms, depth, nnf, size, to_ltlf2dfa, to_repr, to_spot,
    to_tracelogic,
)
from tracelogic.logic.walkers import substitute

DEPTH = 10_000


def _deep_future():
    f = Atom("p")
    for i in range(DEPTH):
        f = X(f) if i % 3 == 0 else (Not(f) if i % 3 == 1 else U(Atom("q"), f))
    return f


def test_deep_formulas_pass_through_every_pass():
    assert sys.getrecursionlimit() < DEPTH * 2
    f = _deep_future()
    assert depth(f) >= DEPTH
    assert size(f) >= DEPTH
    assert set(atoms(f)) == {"p", "q"}
    g = nnf(f)
    assert depth(g) >= 2 * DEPTH // 3  # the negations moved onto the atoms
    for printer in (to_tracelogic, to_spot, to_ltlf2dfa, to_repr):
        text = printer(f, {"p": "p", "q": "q"}) if printer is not to_repr else printer(f)
        assert text.count("(") >= DEPTH // 3
    h = substitute(f, {Atom("q"): Atom("r")})
    assert set(atoms(h)) == {"p", "r"}


def test_deep_boolean_and_past_chains():
    f = Atom("a0")
    for i in range(1, DEPTH):
        f = And(Atom(f"a{i % 7}"), Or(f, Y(Atom("b")))) if i % 2 else Not(f)
    assert depth(f) >= DEPTH // 2
    assert len(atoms(f)) == 8
    assert to_tracelogic(f).startswith("(")


def test_deep_next_chain_translates_to_a_linear_dfa():
    from tracelogic.automata import compile_monitor
    n = DEPTH // 4
    f = Atom("p")
    for _ in range(n):
        f = X(f)
    mon = compile_monitor(f)
    # reading n letters, then p, then anything: n + 1 states before the decision,
    # plus accept-all and reject-all sinks
    assert mon.n_states == n + 3
    s = mon.initial
    for _ in range(n):
        s = mon.step(s, 0)
    assert not mon.final(s)
    s = mon.step(s, 1)
    assert mon.verdict(s).value == "satisfied"


def test_deep_nested_eventually_translates():
    from tracelogic.automata import compile_monitor
    f = Atom("p")
    for i in range(DEPTH):
        f = G(Or(Atom("q"), F(f))) if i % 2 else F(And(Atom("r"), f))
    mon = compile_monitor(f)
    assert mon.n_states >= 1
