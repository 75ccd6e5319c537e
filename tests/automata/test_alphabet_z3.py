"""Alphabet pruning with real Z3 constraints."""
from __future__ import annotations

import itertools

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from logic.strategies import examples
from tracelogic.automata import Alphabet, AlphabetTooLarge, Verdict, compile_monitor, translate
from tracelogic.automata.alphabet import feasible_masks
from tracelogic.errors import InputError
from tracelogic.logic import Atom, F, G, Implies, Not, X
from tracelogic.logic.reference import verdict

NAME = z3.String("name")
STATUS = z3.Int("status")
ENC = {
    'name == "a"': NAME == z3.StringVal("a"),
    'name == "b"': NAME == z3.StringVal("b"),
    'name == "c"': NAME == z3.StringVal("c"),
    "status >= 500": STATUS >= 500,
    "status < 400": STATUS < 400,
}


def encode(key):
    return ENC[key]


A, B, C, E5, OK = (Atom(k) for k in ENC)


def test_exclusive_atoms_prune_the_alphabet():
    alph = Alphabet(list(ENC), encode)
    # name: a | b | c | other (4) x status: >=500 | <400 | [400, 500) (3)
    assert len(alph.letters) == 12
    for m in alph.letters:
        names = [i for i in range(3) if m >> i & 1]
        assert len(names) <= 1
        assert not (m >> 3 & 1 and m >> 4 & 1)
    assert alph.pruned


def brute_force(atoms, enc):
    out = []
    for m in range(1 << len(atoms)):
        s = z3.Solver()
        for i, a in enumerate(atoms):
            s.add(enc(a) if m >> i & 1 else z3.Not(enc(a)))
        if s.check() == z3.sat:
            out.append(m)
    return out


@examples(60)
@given(st.lists(st.tuples(st.sampled_from(["<", ">=", "=="]), st.integers(0, 6)),
                min_size=1, max_size=5, unique=True))
def test_dfs_pruning_equals_brute_force(constraints):
    x = z3.Int("x")
    ops = {"<": lambda c: x < c, ">=": lambda c: x >= c, "==": lambda c: x == c}
    atoms = [f"x {op} {c}" for op, c in constraints]
    enc = dict(zip(atoms, (ops[op](c) for op, c in constraints)))
    assert feasible_masks(atoms, enc.__getitem__) == brute_force(atoms, enc.__getitem__)


def test_seventeen_service_and_name_pairs_are_enumerated():
    """The mined shop spec's operation atoms: each is ``service == s and name == n``, all
    pairwise exclusive.  Z3's push after a satisfiable string check never returned on this
    group; the assumption-based DFS finds the 18 letters (none, or exactly one atom)."""
    service, name = z3.String("span.service"), z3.String("span.name")
    pairs = [(s, n) for s in ("gateway", "inventory", "orders", "r1")
             for n in ("GET /report", "POST /reserve", "POST /append", "UPDATE")][:17]
    pairs.append(("r5", "POST /append"))
    enc = [z3.And(service == z3.StringVal(s), name == z3.StringVal(n)) for s, n in pairs]
    masks = feasible_masks(list(range(len(enc))), enc.__getitem__)
    assert masks == sorted([0] + [1 << i for i in range(len(enc))])


def test_an_undecided_check_keeps_the_letter(monkeypatch):
    """Z3's ``unknown`` (its time budget ran out) must not remove a letter: pruning may only
    drop letters no span can produce."""
    monkeypatch.setattr(z3.Solver, "check", lambda self, *assumptions: z3.unknown)
    assert feasible_masks(["status >= 500", "status < 400"], encode) == [0, 1, 2, 3]


def test_pruned_dfa_is_no_larger_and_agrees_on_feasible_words():
    f = G(Implies(A, X(Not(B)))) & F(C)
    plain = translate(f)
    pruned = translate(f, encode=encode)
    assert pruned.n_states <= plain.n_states
    mon = compile_monitor(f, encode=encode)
    letters = [frozenset(), frozenset({'name == "a"'}), frozenset({'name == "b"'}),
               frozenset({'name == "c"'})]
    for n in range(5):
        for combo in itertools.product(letters, repeat=n):
            w = [(lt, i) for i, lt in enumerate(combo)]
            assert mon.accepts(w) == verdict(f, w)


def test_infeasible_letter_goes_to_the_inconclusive_sink():
    f = G(Implies(A, F(B)))
    mon = compile_monitor(f, atoms=['name == "a"', 'name == "b"'], encode=encode)
    assert mon.infeasible_state is not None
    bad = mon.mask({'name == "a"', 'name == "b"'})
    s = mon.step(mon.initial, bad)
    assert s == mon.infeasible_state
    assert mon.verdict(s) is Verdict.INCONCLUSIVE and mon.decided[s] and not mon.final(s)
    assert mon.step(s, 0) == s
    with pytest.raises(InputError, match="impossible"):
        mon.run([({'name == "a"', 'name == "b"'}, 0)])


def test_timed_monitor_infeasible_letter():
    f = G(Implies(A, F(B, (0, 10))))
    mon = compile_monitor(f, encode=encode)
    s = mon.step(mon.initial, mon.mask({'name == "a"', 'name == "b"'}), 0)
    assert mon.verdict(s) is Verdict.INCONCLUSIVE


def test_more_atoms_than_listable_letters_is_symbolic_not_refused():
    # issue 20: no formula is refused for its number of atoms
    from tracelogic.logic import And
    f = And(*[Atom(f"a{i}") for i in range(17)])
    aut = translate(f)
    assert aut.alphabet.symbolic and aut.alphabet.letters is None
    assert aut.n_states == 3  # initial (empty trace rejects), all-true, sink


def test_past_over_a_symbolic_alphabet_names_its_past_subformula():
    from tracelogic.logic import And, O
    past = O(Atom("a0"))
    f = And(G(Implies(Atom("a1"), past)), *[F(Atom(f"a{i}")) for i in range(2, 18)])
    with pytest.raises(AlphabetTooLarge, match=r"O a0.*18 atoms, 262144 feasible letters"):
        translate(f)


NAMES = [f'name == "s{i}"' for i in range(20)]
SPAN_NAME = z3.String("span.name")
DUR = z3.Int("span.duration")


def _encode_many(key):
    if key.startswith("name"):
        return SPAN_NAME == z3.StringVal(key.split('"')[1])
    if key.startswith("dur"):
        return DUR > int(key.split()[-1])
    return z3.Bool(key)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(NAMES + ["dur > 5", "dur > 9", "x", "y"]), min_size=1,
                max_size=24, unique=True), st.data())
def test_symbolic_constraints_agree_with_the_explicit_feasible_letters(atoms, data):
    """Grouping atoms by shared Z3 constants loses nothing: a mask is feasible for the
    symbolic alphabet iff it is one of the explicit alphabet's letters (checked on
    alphabets small enough to list, and on sampled masks of larger ones against Z3)."""
    sym = Alphabet(atoms, _encode_many, symbolic=True)
    n = len(atoms)
    if n <= 10:
        explicit = set(Alphabet(atoms, _encode_many, symbolic=False).letters)
        assert {m for m in range(1 << n) if sym.feasible[m]} == explicit
        from tracelogic.automata.bdd import BDD
        bdd = BDD()
        care = sym.care_in(bdd)
        assert {m for m in range(1 << n) if bdd.evaluate(care, m)} == explicit
    for m in data.draw(st.lists(st.integers(0, (1 << n) - 1), max_size=5)):
        solver = z3.Solver()
        for i, a in enumerate(atoms):
            e = _encode_many(a)
            solver.add(e if (m >> i) & 1 else z3.Not(e))
        assert sym.feasible[m] == (solver.check() == z3.sat)


def test_a_group_past_the_bounds_is_left_unconstrained_not_searched():
    """Forty span names (one Z3 group, 41 feasible masks) are more than ``MAX_GROUP_ATOMS``:
    the group is left unconstrained (every mask kept, which is sound) instead of 1,640
    solver checks; thirty are within the bounds and pruned to 31 letters' worth."""
    from tracelogic.automata.alphabet import MAX_GROUP_ATOMS

    name = z3.String("span.name")
    enc = {f"s{i}": name == z3.StringVal(f"s{i}") for i in range(40)}
    assert len(enc) > MAX_GROUP_ATOMS
    wide = Alphabet(list(enc), enc.__getitem__)
    assert wide.symbolic and not wide.pruned and wide.count() == 1 << 40
    keys = list(enc)[:30]
    narrow = Alphabet(keys, enc.__getitem__)
    assert narrow.pruned and narrow.count() == 31


def test_a_search_over_its_check_budget_gives_up():
    x = z3.Int("x")
    enc = [x > i for i in range(20)]  # 21 feasible masks, about 420 checks
    assert feasible_masks(list(range(20)), enc.__getitem__, max_checks=50) is None
    assert len(feasible_masks(list(range(20)), enc.__getitem__, max_checks=5000)) == 21



_STRINGS = [z3.String("span.name"), z3.String("span.service")]
_BOOLS = [z3.Bool("span.start"), z3.Bool("cond")]


@st.composite
def _family(draw):
    """Atoms like a spec's: string equalities (either side first, values that may repeat)
    and Boolean constants or their negations, over one or two constants of each sort; and
    whether the solver is not needed: one constant, and distinct values if strings."""
    out, used, values = [], set(), []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            c = draw(st.sampled_from(range(2)))
            v = draw(st.sampled_from("abcde"))
            lhs, rhs = _STRINGS[c], z3.StringVal(v)
            out.append(lhs == rhs if draw(st.booleans()) else rhs == lhs)
            used.add(("s", c))
            values.append(v)
        else:
            c = draw(st.sampled_from(range(2)))
            out.append(_BOOLS[c] if draw(st.booleans()) else z3.Not(_BOOLS[c]))
            used.add(("b", c))
    return out, len(used) == 1 and len(set(values)) == len(values)


@examples(80)
@given(_family())
def test_families_decided_without_the_solver_are_what_the_solver_says(family):
    """``_syntactic_masks`` answers string-equality and Boolean families without Z3: it
    answers every family of one constant (distinct values), each answer equals the
    brute-force enumeration, and ``feasible_masks`` agrees with brute force either way."""
    from tracelogic.automata.alphabet import _syntactic_masks

    encs, decidable = family
    keys = list(range(len(encs)))
    truth = brute_force(keys, encs.__getitem__)
    known = _syntactic_masks(encs)
    assert (known is not None) == decidable
    if known is not None:
        assert known == truth
    assert feasible_masks(keys, encs.__getitem__) == truth
