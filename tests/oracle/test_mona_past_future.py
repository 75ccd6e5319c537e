"""LTLf with past in any nesting against MONA, by the first-order translation.

ltlf2dfa reads either future-only LTLf or pure-past PPLTL, so the mixed fragment (past
over future, future over past) goes to MONA as a WS1S program written by
``oracle/mona_fo.py`` (De Giacomo & Vardi 2013's translation of LTLf into first-order
logic, past operators as the dual quantifications over earlier positions). For each
random untimed formula our minimal DFA (``translate``) and MONA's must accept the same
words (an exact breadth-first search of the product for a distinguishing word), and have
the same number of states once MONA's extra initial state is discounted (the convention
of bench/RESULTS.md and test_mona_oracle.py).
"""
from __future__ import annotations

from hypothesis import given, reject

from logic.strategies import examples, nested_formulas, past_over_future
from oracle.mona import MonaTimeout, program_dfa
from oracle.mona_fo import fo_program
from tracelogic.automata import translate
from tracelogic.automata.dfa import find_difference
from tracelogic.logic import Atom, F, G, H, Implies, O, S, Trigger, U, X, Y, Z


def _same_as_mona(f):
    aut = translate(f)
    atoms = aut.alphabet.atoms
    try:
        md = program_dfa(fo_program(f, atoms), atoms, aut.alphabet.letters, timeout=60.0)
    except MonaTimeout:
        reject()
    w = find_difference(aut.dfa, md.dfa)
    assert w is None, (str(f), w, md.program)
    assert md.total_states == md.effective_states + 1 or md.total_states == 1
    assert aut.n_states == md.effective_states, (str(f), aut.n_states, md.effective_states)


@examples(150, 1500)
@given(past_over_future())
def test_past_over_future_has_mona_language_and_state_count(f):
    _same_as_mona(f)


@examples(100, 1000)
@given(nested_formulas())
def test_any_nesting_has_mona_language_and_state_count(f):
    _same_as_mona(f)


def test_hand_picked_mixed_formulas_against_mona():
    a, b, c = Atom("a"), Atom("b"), Atom("c")
    for f in [H(F(b)), Implies(F(H(a)), G(b)), G(Implies(a, Y(F(b)))), S(a, X(b)),
              O(G(a)), G(Implies(c, H(Implies(a, F(b))))), F(Trigger(U(a, b), X(c))),
              G(Z(X(a))), Y(X(a)), F(S(G(a), Y(F(b))))]:
        _same_as_mona(f)
