"""Atoms are literals (issue 20): the benchmark families get their minimal DFAs.

`tracelogic automaton` reads each proposition as one atom and keeps `!`, `&`, `|`,
`->`, `<->` in the formula, so `(!inc)` is the negation of `inc`, never an atom of its
own. Each family's DFA is compared with MONA's, on the program ltlf2dfa generates for
the same formula: equal languages (product search) and equal state counts (MONA's
minus its extra initial state). The 3-bit single counter (10 propositions) has 51
states; when `!inc` and the conjunction of `!counter_i` were atoms of their own it
had 85.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import ltlf_families as fam  # noqa: E402

from oracle.mona import mona_dfa  # noqa: E402
from tracelogic.automata import translate  # noqa: E402
from tracelogic.automata.cli import formula_of  # noqa: E402
from tracelogic.automata.dfa import find_difference  # noqa: E402
from tracelogic.spec.parser import parse_expr  # noqa: E402


def _formula(text: str):
    f, _ = formula_of(parse_expr(text))
    return f


CASES = [
    ("single-counter", fam.single_counter, 1),
    ("single-counter", fam.single_counter, 2),
    ("single-counter", fam.single_counter, 3),
    ("double-counter", fam.double_counter, 1),
    ("nim", lambda n: fam.nim(n, 1), 1),
    ("gf-and", fam.gf_and, 6),
    ("u-right", fam.u_right, 6),
]


@pytest.mark.parametrize("name, gen, n", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_family_member_is_minimal_and_equals_mona(name, gen, n):
    text, props = gen(n)
    aut = translate(_formula(text))
    # one atom per proposition: no boolean subformula became an atom
    assert sorted(aut.alphabet.atoms) == sorted(props)
    md = mona_dfa(aut.formula, aut.alphabet.atoms, aut.alphabet.letters, timeout=120)
    assert find_difference(aut.dfa, md.dfa) is None, (name, n)
    assert aut.n_states == md.effective_states, (name, n, aut.n_states, md.effective_states)


def test_single_counter_with_ten_propositions_has_51_states():
    text, props = fam.single_counter(3)
    assert len(props) == 10
    assert translate(_formula(text)).n_states == 51


def test_negation_is_never_an_atom_of_its_own():
    f = _formula("G ((!inc) -> X inc) & G ((!a & !b) | inc)")
    assert sorted(translate(f).alphabet.atoms) == ["a", "b", "inc"]
