"""Symbolic DFAs (BDD guards): the same minimal automata, without 2^n letters.

* On random future formulas the symbolic translation, expanded over every letter, is
  the very table of the explicit construction (both minimal, canonically numbered).
* Past the explicit alphabet limit (16 atoms) the families still translate; their state
  counts equal MONA's, and MONA's DFA and ours agree on random words (stepped through
  the (state, letter) cache, so only the letters that occur are materialised).
* Every family member up to 17 propositions (counters, Nim, U-right, random
  conjunctions) has MONA's state count and MONA's language, checked by a product over
  BDD guards (``oracle.mona.symbolic_difference``, no letter enumerated).
* U-right has ``n + 1`` states to explore, not ``2**n``: the care set of implications
  between obligations merges them during the exploration, not only in minimisation.
* The BDD operations the translation is built on (``ite``, ``simplify``) agree with
  brute-force evaluation.
* The resource limit answers with the subformula responsible.
"""
from __future__ import annotations

import os
import random
import sys

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import ltlf_families as fam  # noqa: E402

from logic.strategies import examples, future_formulas  # noqa: E402
from oracle.mona import mona_program, parse_mona, run_mona, symbolic_difference  # noqa: E402
from tracelogic.automata import translate  # noqa: E402
from tracelogic.automata.bdd import BDD, FALSE, TRUE  # noqa: E402
from tracelogic.automata.cli import formula_of  # noqa: E402
from tracelogic.automata.symbolic import SymbolicTooLarge, translate_symbolic  # noqa: E402
from tracelogic.spec.parser import parse_expr  # noqa: E402


@examples(150, 1500)
@given(future_formulas(max_leaves=8))
def test_symbolic_table_is_the_explicit_table(f):
    aut = translate(f)
    sym = translate_symbolic(f, atoms=aut.alphabet.atoms)
    dfa = sym.to_dfa(aut.alphabet.letters)
    assert [list(r) for r in dfa.delta] == [list(r) for r in aut.dfa.delta], str(f)
    assert list(dfa.output) == [bool(o) for o in aut.dfa.output], str(f)
    # guards of a state are disjoint and cover every letter
    for row in sym.trans:
        acc = FALSE
        for g, _ in row:
            assert sym.bdd.conj(acc, g) == FALSE
            acc = sym.bdd.disj(acc, g)
        assert acc == TRUE


def test_bdd_is_canonical():
    b = BDD()
    x, y, z = b.atom(0), b.atom(1), b.atom(2)
    lhs = b.conj(x, b.disj(y, z))
    rhs = b.disj(b.conj(x, y), b.conj(x, z))
    assert lhs == rhs
    assert b.neg(b.neg(lhs)) == lhs
    assert b.conj(lhs, b.neg(lhs)) == FALSE
    assert [m for m in range(8) if b.evaluate(lhs, m)] == [3, 5, 7]
    assert b.some_letter(lhs) == 3


def _mona_run(program: str, atoms, words):
    total, accepting, table = parse_mona(run_mona(program, 120), atoms)

    def step(s, m):
        (d,) = [d for src, lits, d in table
                if src == s and all(((m >> b) & 1) == (c == "1") for b, c in lits)]
        return d

    init = step(0, 0)
    outs = []
    for w in words:
        s = init
        for m in w:
            s = step(s, m)
        outs.append(s in accepting)
    return total, outs


@pytest.mark.parametrize("name, gen, n", [
    ("gf-and", fam.gf_and, 17),
    ("gf-and", fam.gf_and, 20),
])
def test_beyond_sixteen_atoms_agrees_with_mona(name, gen, n):
    text, props = gen(n)
    f, _ = formula_of(parse_expr(text))
    assert len(props) > 16
    sym = translate_symbolic(f)
    atoms = sym.atoms
    program = mona_program(f, atoms)
    rng = random.Random(n)
    words = [[rng.getrandbits(len(atoms)) for _ in range(rng.randrange(0, 12))]
             for _ in range(200)]
    total, mona_out = _mona_run(program, atoms, words)
    assert sym.n_states == total - 1, (name, sym.n_states, total)
    ours = []
    for w in words:
        s = sym.initial
        for m in w:
            s = sym.step(s, m)
        ours.append(sym.output[s])
    assert ours == mona_out
    # only the letters that occurred were materialised
    assert len(sym._cache) <= sum(len(w) for w in words)


def test_resource_limit_names_the_subformula():
    text, _ = fam.u_right(24)
    f, _ = formula_of(parse_expr(text))
    with pytest.raises(SymbolicTooLarge, match=r"BDD nodes|ran out of time") as e:
        translate_symbolic(f, node_limit=200)
    assert "p" in str(e.value)


@pytest.mark.parametrize("name, gen, n", [
    ("single-counter", fam.single_counter, 5),   # 16 propositions
    ("double-counter", fam.double_counter, 3),   # 17
    ("nim", lambda n: fam.nim(n, 1), 3),         # 16
    ("u-right", fam.u_right, 12),
] + [("random", lambda k: fam.random_conjunction(3 + k % 4, 5 + 5 * (k % 4), 1 + k), k)
     for k in (range(8) if os.environ.get("TRACELOGIC_LONG") else (3, 7))])
def test_families_equal_mona_by_product(name, gen, n):
    text, _ = gen(n)
    f, _ = formula_of(parse_expr(text))
    sym = translate_symbolic(f)
    out = run_mona(mona_program(f, sym.atoms), 120)
    total, _, _ = parse_mona(out, sym.atoms)
    assert sym.n_states == max(total - 1, 1), (name, n, sym.n_states, total)
    assert symbolic_difference(sym, out) is None, (name, n)


def test_a_wrong_automaton_is_caught_by_the_product():
    """The product check is not vacuous: flip one output and it finds a word."""
    text, _ = fam.single_counter(2)
    f, _ = formula_of(parse_expr(text))
    sym = translate_symbolic(f)
    out = run_mona(mona_program(f, sym.atoms), 120)
    good = translate_symbolic(f)
    sym.output[3] = not sym.output[3]
    word = symbolic_difference(sym, out)
    assert word is not None
    s = t = 0
    for m in word:
        s, t = sym.step(s, m), good.step(t, m)
    assert sym.output[s] != good.output[t]


def test_u_right_explores_n_plus_one_states(monkeypatch):
    from tracelogic.automata import symbolic

    explored = []
    real = symbolic.symbolic_minimize

    def spy(d, canonical=True):
        explored.append(d.n_states)
        return real(d, canonical)

    monkeypatch.setattr(symbolic, "symbolic_minimize", spy)
    text, _ = fam.u_right(14)
    f, _ = formula_of(parse_expr(text))
    sym = translate_symbolic(f)
    assert sym.n_states == 15
    # MONA's count, plus the initial state (the formula itself, before any letter)
    assert explored == [16]


@st.composite
def _functions(draw, n_vars=4):
    """A random BDD built from literals by ite, with its truth table."""
    b = BDD()
    nodes = [(FALSE, [False] * 16), (TRUE, [True] * 16)]
    for v in range(n_vars):
        nodes.append((b.atom(v), [bool((m >> v) & 1) for m in range(16)]))
    for _ in range(draw(st.integers(1, 8))):
        (f, tf), (g, tg), (h, th) = (nodes[draw(st.integers(0, len(nodes) - 1))]
                                     for _ in range(3))
        nodes.append((b.ite(f, g, h), [tg[m] if tf[m] else th[m] for m in range(16)]))
    return b, nodes


@examples(100)
@given(_functions(), st.data())
def test_ite_and_simplify_agree_with_truth_tables(bn, data):
    b, nodes = bn
    for node, table in nodes:
        assert [b.evaluate(node, m) for m in range(16)] == table
    (f, tf), (c, tc) = (nodes[data.draw(st.integers(0, len(nodes) - 1))] for _ in range(2))
    r = b.simplify(f, c)
    assert all(b.evaluate(r, m) == tf[m] for m in range(16) if tc[m])
