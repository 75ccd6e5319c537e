"""Guarded automata (issue 20): the symbolic translator behind monitors and export.

* Forced onto small alphabets, a :class:`GuardedMonitor` is the explicit
  :class:`TableMonitor` entry for entry: same states, same successor of every
  (state, letter), same verdicts, with and without Z3 pruning.
* Past ``EXPLICIT_ATOMS`` (20 atoms) random formulas monitor exactly as the reference
  evaluator says, on random words (the reference evaluator is the oracle).
* HOA export writes the BDD guards, and our HOA reader gets the same automaton back.
* The resource limit names the subformula.
"""
from __future__ import annotations

import random

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples, future_formulas
from tracelogic.automata import Alphabet, compile_monitor, parse_hoa, to_hoa, translate
from tracelogic.automata.alphabet import EXPLICIT_ATOMS
from tracelogic.automata.guarded import GuardedMonitor, translate_guarded
from tracelogic.automata.monitor import TableMonitor, Verdict
from tracelogic.automata.symbolic import SymbolicTooLarge
from tracelogic.logic import And, Atom, F, G, Implies, Not, Or, U, X
from tracelogic.logic.reference import verdict

NAME = z3.String("name")
SMALL = ('name == "a"', 'name == "b"', "ok", "x > 3")
X_INT = z3.Int("x")


def encode(key):
    if key.startswith("name"):
        return NAME == z3.StringVal(key.split('"')[1])
    if key == "x > 3":
        return X_INT > 3
    return z3.Bool(key)


@examples(60, 600)
@given(future_formulas(atoms=SMALL, max_leaves=7), st.booleans())
def test_guarded_monitor_is_the_table_monitor(f, pruned):
    enc = encode if pruned else None
    table = TableMonitor(translate(f, encode=enc))
    alph = Alphabet(table.atoms, enc, symbolic=True)
    guarded = GuardedMonitor(translate_guarded(f, alph))
    assert guarded.n_states == table.n_states, str(f)
    assert guarded.infeasible_state == table.infeasible_state
    assert guarded.verdicts == table.verdicts and guarded.accepting == table.accepting
    total = table.n_states + (table.infeasible_state is not None)
    for s in range(total):
        for m in range(table.n_letters):
            k = s * table.n_letters + m
            assert guarded.table[k] == table.table[k], (str(f), s, m)


ATOMS20 = tuple(f"a{i}" for i in range(20))


@examples(25, 250)
@given(future_formulas(atoms=ATOMS20[:6], max_leaves=6),
       st.lists(st.lists(st.sets(st.sampled_from(ATOMS20), max_size=4), max_size=7),
                min_size=1, max_size=8))
def test_twenty_atoms_monitor_as_the_reference_evaluator_says(f, words):
    # three responses, safety over the other atoms: every one of the 20 atoms is read
    g = And(f, *[G(Or(Not(Atom(ATOMS20[i])), F(Atom(ATOMS20[i + 1])))) for i in (6, 8, 10)],
            *[G(Or(Not(Atom(ATOMS20[i])), Not(Atom(ATOMS20[i + 1])))) for i in range(12, 19, 2)],
            G(Or(*[Not(Atom(a)) for a in ATOMS20[:6]])))
    mon = compile_monitor(g)
    assert isinstance(mon, GuardedMonitor) and len(mon.atoms) > EXPLICIT_ATOMS
    for letters in words:
        w = [(frozenset(lt), i) for i, lt in enumerate(letters)]
        assert mon.accepts(w) == verdict(g, w), (str(g), letters)


def test_span_names_prune_twenty_atoms_to_a_small_automaton():
    names = [f'name == "s{i}"' for i in range(20)]
    resp = [G(Implies(Atom(names[2 * i]), F(Atom(names[2 * i + 1])))) for i in range(10)]
    f = And(*resp)
    mon = compile_monitor(f, encode=encode)
    assert isinstance(mon, GuardedMonitor) and mon.alphabet.pruned
    assert mon.n_states == 2 ** 10  # each response pending or not: minimal, not smaller
    s = mon.initial
    both = mon.mask({names[0], names[1]})
    assert mon.step(s, both) == mon.infeasible_state  # two span names at once
    rng = random.Random(7)
    for _ in range(200):
        word = [({rng.choice(names)} if rng.random() < 0.9 else set(), i)
                for i in range(rng.randrange(10))]
        assert mon.accepts(word) == verdict(f, [(frozenset(a), t) for a, t in word])


def test_hoa_of_a_guarded_automaton_reads_back_as_the_same_automaton():
    f = And(G(Implies(Atom("a0"), X(Atom("a1")))), U(Atom("a2"), Atom("a3")), F(Atom("a4")),
            *[G(Or(Not(Atom(f"a{i}")), Not(Atom(f"a{i + 1}")))) for i in range(5, 18, 2)])
    mon = compile_monitor(f)
    assert isinstance(mon, GuardedMonitor)
    aut = parse_hoa(to_hoa(mon))
    n = len(mon.atoms)
    assert aut.n_states == mon.n_states + 1 and "deterministic" in aut.properties
    alive = 1 << n
    rng = random.Random(3)
    for s in range(mon.n_states):
        edges = aut.states[s].edges
        for m in [rng.getrandbits(n) for _ in range(40)] + [0, (1 << n) - 1]:
            assert [e.dst[0] for e in edges if e.label(m | alive)] == [mon.step(s, m)]


def test_resource_limit_names_the_subformula():
    f = And(*[G(Implies(Atom(f"a{2 * i}"), F(Atom(f"a{2 * i + 1}")))) for i in range(10)])
    alph = Alphabet([f"a{i}" for i in range(20)], None)
    with pytest.raises(SymbolicTooLarge, match="BDD nodes.*G") as e:
        translate_guarded(f, alph, node_limit=20_000)
    assert e.value.hint


def test_verdicts_of_a_guarded_monitor_are_final_where_the_table_says():
    f = And(F(Atom("a0")), *[G(Not(Atom(f"a{i}"))) for i in range(1, 18)])
    mon = compile_monitor(f)
    assert isinstance(mon, GuardedMonitor)
    s = mon.step(mon.initial, mon.mask({"a0"}))  # F a0 done, every G still holds
    assert mon.verdict(s) is Verdict.PRESUMABLY_SATISFIED
    s = mon.step(s, mon.mask({"a1"}))  # violated for good
    assert mon.verdict(s) is Verdict.VIOLATED and mon.decided[s]


def _nine_atom_responses():
    return And(*[G(Implies(Atom(f"r{i}"), F(Atom(f"s{i}")))) for i in range(4)],
               F(Atom("t")))


def test_the_route_over_listable_letters_is_decided_by_nodes_not_by_time(monkeypatch):
    """Nine atoms, 512 letters: the symbolic route; a machine so slow that each clock
    reading is half a second later (an old 2 s head start fell back to the explicit race
    here) takes the same route, so the export's guard text does not depend on load."""
    from tracelogic.automata import clear_cache, symbolic

    f = _nine_atom_responses()
    clear_cache()
    fast = translate(f)
    assert hasattr(fast, "sdfa")
    clock = iter(range(10**6))
    monkeypatch.setattr(symbolic.time, "perf_counter", lambda: next(clock) * 0.5)
    clear_cache()
    slow = translate(f)
    monkeypatch.undo()
    assert hasattr(slow, "sdfa")
    assert slow.dfa.delta == fast.dfa.delta and slow.dfa.output == fast.dfa.output


def test_over_the_node_head_start_the_explicit_race_gives_the_same_table(monkeypatch):
    from tracelogic.automata import clear_cache, guarded

    f = _nine_atom_responses()
    clear_cache()
    symbolic_route = translate(f)
    monkeypatch.setattr(guarded, "LISTABLE_NODE_LIMIT", 50)
    clear_cache()
    explicit_route = translate(f)
    assert not hasattr(explicit_route, "sdfa")
    assert explicit_route.dfa.delta == symbolic_route.dfa.delta
    assert explicit_route.dfa.output == symbolic_route.dfa.output
    clear_cache()
