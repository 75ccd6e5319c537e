"""Language equivalence with ltlf2dfa + MONA, by product-automaton search.

Correspondence (checked, not assumed):

* **Future-only LTLf.**  ltlf2dfa's ``X`` is *strong* (``ex1 v: v in $ & v =
  0+1``) and ``WX`` weak, exactly like ours, so formulas are printed as they
  are.  After MONA's extra initial state (see ``mona.py``), MONA's DFA and
  ours accept the same words -- including the empty word: MONA evaluates the
  formula at position 0 of an empty ``$``, which gives our end-of-trace
  convention (atoms false, strong operators false, weak ones true).
* **Pure-past PPLTL.**  ltlf2dfa evaluates a past formula at the *last*
  instant (``max($)``), so its language is ``{w : w, |w|-1 |= f}``: the
  language of our per-event valuation automaton (the state after reading
  ``w`` outputs the value at the last event).  On the empty word MONA again
  gives the end-of-trace convention (``max`` of the empty set is 0, which is
  not in ``$``); our valuation automaton's initial output is set to that
  value before comparing.

The product of the two DFAs is searched breadth-first for a distinguishing
word, so equivalence is exact.  State counts: MONA's minimal DFA has one
more state (its state 0) than the part reachable from the empty-word state;
ours must have at most that many, and exactly as many here where the atoms
are independent booleans.  With exclusive atoms (Z3-pruned alphabet) ours
may only be smaller.
"""
from __future__ import annotations

import pytest
import z3
from hypothesis import given, reject

from logic.strategies import examples, future_formulas, past_formulas
from oracle.mona import MonaTimeout, mona_dfa
from tracelogic.automata import compile_valuation, translate
from tracelogic.automata.dfa import DFA, find_difference
from tracelogic.automata.past import PastEvaluator, moore_dfa
from tracelogic.logic import Atom, F, G, Implies, Not, WX, X, Y
from tracelogic.logic.walkers import atoms as atoms_of


def _mona(f, atoms, letters, past=False):
    try:
        return mona_dfa(f, atoms, letters, past=past)
    except MonaTimeout:
        reject()


@examples(200, 2000)
@given(future_formulas(max_leaves=8))
def test_future_formulas_have_mona_language_and_state_count(f):
    aut = translate(f)
    atoms = aut.alphabet.atoms
    md = _mona(f, atoms, aut.alphabet.letters)
    w = find_difference(aut.dfa, md.dfa)
    assert w is None, (str(f), w, md.program)
    assert md.total_states == md.effective_states + 1 or md.total_states == 1
    assert aut.n_states == md.effective_states, (str(f), aut.n_states, md.effective_states)


@examples(200, 2000)
@given(past_formulas(max_leaves=8))
def test_past_formulas_have_mona_last_instant_language(f):
    mon = compile_valuation(f)
    # the valuation automaton: its state after a non-empty word outputs the value at
    # the last event; its initial state gets MONA's empty-word value (our end-of-trace
    # convention) before minimisation
    ev = PastEvaluator([f], mon.alphabet.index)
    ours = moore_dfa(ev, mon.alphabet.letters, mon.alphabet.n, int(f.empty_value))
    # ... and agrees with the monitor's own automaton on every non-empty word
    top = mon.stage.top.dfa
    fresh = DFA(top.letters, top.delta + [list(top.delta[top.initial])], top.n_states,
                list(top.output) + [int(f.empty_value)], top.n_bits)
    assert find_difference(ours, fresh, compare=lambda a, b: a == b) is None
    atoms = mon.alphabet.atoms
    md = _mona(f, atoms, mon.alphabet.letters, past=True)
    w = find_difference(ours, md.dfa)
    assert w is None, (str(f), w, md.program)
    assert ours.n_states == md.effective_states, (str(f), ours.n_states, md.effective_states)


ENC = {"p": z3.Int("x") == 1, "q": z3.Int("x") == 2, "r": z3.Int("x") >= 2}


@examples(100, 1000)
@given(future_formulas(max_leaves=8))
def test_pruned_alphabets_never_need_more_states_than_mona(f):
    atoms = tuple(sorted(atoms_of(f)))
    if not atoms:
        reject()
    plain = translate(f, atoms=atoms)
    pruned = translate(f, atoms=atoms, encode=ENC.__getitem__)
    md = _mona(f, atoms, plain.alphabet.letters)
    assert pruned.n_states <= plain.n_states == md.effective_states
    # on the feasible letters the languages agree with MONA's
    sub = DFA(pruned.alphabet.letters,
              [[md.dfa.delta[s][plain.alphabet.letters.index(m)] for m in pruned.alphabet.letters]
               for s in range(md.dfa.n_states)], md.dfa.initial, md.dfa.output, md.dfa.n_bits)
    assert find_difference(pruned.dfa, sub) is None


def test_ltlf2dfa_next_is_strong_and_wnext_weak():
    p = Atom("p")
    letters = (0, 1)
    for f, accepts_single_p in [(X(p), False), (WX(p), True), (X(Not(p)), False),
                                (WX(Not(p)), True)]:
        md = mona_dfa(f, ("p",), letters)
        s = md.dfa.delta[md.dfa.initial][1]  # read one letter with p
        assert bool(md.dfa.output[s]) is accepts_single_p, f


def test_empty_word_convention_matches_mona():
    p, q = Atom("p"), Atom("q")
    for f in [G(p), F(p), p, Not(p), X(p), WX(p), G(Implies(p, F(q)))]:
        md = mona_dfa(f, ("p", "q"), (0, 1, 2, 3))
        assert bool(md.dfa.output[md.dfa.initial]) is f.empty_value, f
    for f in [Y(p), Not(Y(p)), p]:
        md = mona_dfa(f, ("p",), (0, 1), past=True)
        assert bool(md.dfa.output[md.dfa.initial]) is f.empty_value, f


@pytest.mark.parametrize("text", ["G(p -> F q)", "F(p & X(q))"])
def test_mona_helper_reports_programs(text):
    from oracle.mona import mona_program
    p, q = Atom("p"), Atom("q")
    f = G(Implies(p, F(q))) if text.startswith("G") else F(p & X(q))
    prog = mona_program(f, ("p", "q"))
    # ltlf2dfa declares the atoms in set order, which string hashing varies per process;
    # parse_mona reads the order back from MONA's output
    import re
    decls = re.findall(r"^var2 (A\d+(?:, A\d+)*);$", prog, re.M)
    assert [sorted(d.split(", ")) for d in decls] == [["A0", "A1"]], prog
