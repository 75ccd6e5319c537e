"""Lowering a property body to the logic IR (semantics/lower.py).

Atoms are literals (issue 20): `!p` is the negation of the atom `p`, one condition in two
places is one atom, boolean connectives stay in the formula. Triggers are the conditions
whose absence makes a success vacuous. The Z3 encoding of atoms prunes letters no span can
produce, and only those. A chain of 10^4 `|` lowers to one n-ary node without recursion.
"""
from __future__ import annotations

import z3

import tracelogic
from tracelogic.logic import constructors as L
from tracelogic.logic.formula import Kind
from tracelogic.logic.printers import to_tracelogic
from tracelogic.semantics.lower import LITERAL_ATOMS, AtomEncoder, _lower, lower, show


def body(text: str):
    return tracelogic.load(f"property p: {text}").property("p").body


def shown(text: str) -> tuple[list[str], str, list[str]]:
    """The atoms, the formula over names a0, a1, … in bit order, and the triggers."""
    low = lower(body(text))
    names = {a: f"a{i}" for i, a in enumerate(low.atoms)}
    return ([show(a) for a in low.atoms], to_tracelogic(low.formula, names),
            [show(t) for t in low.triggers])


def test_a_negated_condition_is_the_negation_of_its_atom():
    # formulas are compared as interned nodes: the printed order of `|`'s operands
    # follows node ids, which depend on what the process built before
    low = lower(body('always (name == "a" -> !(name == "a") | status == error)'))
    assert [show(a) for a in low.atoms] == ['name == "a"', "status == error"]
    a0, a1 = (L.Atom(a) for a in low.atoms)
    assert low.formula is L.G(L.Or(L.Not(a0), a1))
    assert [show(t) for t in low.triggers] == ['name == "a"']


def test_connectives_stay_in_the_formula_and_one_condition_is_one_atom():
    low = lower(body('always ((name == "a" & !(name == "b")) | (name == "b" & duration > 1s))'))
    assert [show(a) for a in low.atoms] == ['name == "a"', 'name == "b"', "duration > 1s"]
    a0, a1, a2 = (L.Atom(a) for a in low.atoms)
    assert low.formula is L.G(L.Or(L.And(a0, L.Not(a1)), L.And(a1, a2)))
    assert low.triggers == ()


def test_literal_booleans_fold_into_the_formula():
    assert shown("always (true)") == ([], "true", [])


def test_triggers_of_the_usual_shapes():
    low = lower(body('always (name == "a" -> eventually name == "b")'))
    a0, a1 = (L.Atom(a) for a in low.atoms)
    assert low.formula is L.G(L.Or(L.Not(a0), L.F(a1)))
    assert [show(t) for t in low.triggers] == ['name == "a"']
    assert shown('response(name == "a", name == "b")')[2] == ['name == "a"']
    assert shown('always (name == "a")')[2] == []


def test_a_long_chain_is_one_n_ary_node():
    n = 10_000
    text = "eventually (" + " | ".join(f'name == "s{i}"' for i in range(n)) + ")"
    formula, atoms = _lower(body(text), lump=False)
    assert len(atoms) == n
    (inner,) = {f for f in formula.args if f.kind == Kind.OR}
    assert len(inner.args) == n


def test_past_the_literal_bound_a_boolean_subformula_is_one_atom():
    """Up to LITERAL_ATOMS literals stay atoms; past them the non-temporal `|` is one atom
    (what a 30,000-term `or` needs), and only when that gives fewer atoms."""
    def chain_of(n: int) -> str:
        return "always (start -> (" + " | ".join(f'name == "s{i}"' for i in range(n)) + "))"

    assert len(lower(body(chain_of(LITERAL_ATOMS - 1))).atoms) == LITERAL_ATOMS  # + start
    wide = lower(body(chain_of(LITERAL_ATOMS)))
    (atom,) = wide.atoms  # `start -> (…)`, the maximal non-temporal subformula
    assert atom.op == "implies" and not wide.formula.is_propositional
    # many temporal operands, each over one literal: lumping gives no fewer atoms
    many = " & ".join(f'eventually (name == "s{i}")' for i in range(LITERAL_ATOMS + 1))
    assert len(lower(body(many)).atoms) == LITERAL_ATOMS + 1


def test_the_encoder_prunes_only_impossible_letters():
    enc = AtomEncoder()
    a, b, c = (enc(x) for x in lower(
        body('always (name == "a" | name == "b" | duration < 0ns)')).atoms)
    s = z3.Solver()
    s.add(*enc.domain())  # read after encoding: it constrains the fields met so far
    assert s.check(a, b) == z3.unsat      # one span has one name
    assert s.check(a, z3.Not(b)) == z3.sat
    assert s.check(c) == z3.unsat         # durations are non-negative
    # a condition the encoding does not look inside is a free Boolean: never pruned
    (d,) = lower(body('always (attr["x"] == 1)')).atoms
    assert s.check(enc(d), a) == z3.sat and s.check(z3.Not(enc(d))) == z3.sat
