"""Formula IR: hash-consing, immutability, simplification, sugar, printers."""
from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples, future_formulas, mixed_formulas, past_formulas, words
from tracelogic.errors import SpecTypeError, TracelogicError, UnhandledNode
from tracelogic.logic import (
    FALSE, TRUE, And, Atom, F, FormulaManager, G, H, Iff, Implies, Kind, M, Not, O, Or, R, S,
    Trigger, U, W, WX, X, Xor, Y, Z, empty_value, nnf, to_ltlf2dfa, to_spot,
    to_tracelogic,
)
from tracelogic.logic.printers import UnsupportedFormula, format_duration
from tracelogic.logic.reference import empty_value as ref_empty, holds, verdict
from tracelogic.logic.walkers import DagWalker

p, q, r = Atom("p"), Atom("q"), Atom("r")


# -- hash-consing ----------------------------------------------------------------------------

def test_structurally_equal_formulas_are_the_same_object():
    a = G(Implies(Atom("p"), F(Atom("q"), (0, 5))))
    b = G(Implies(Atom("p"), F(Atom("q"), (0, 5))))
    assert a is b
    assert hash(a) == a.id
    assert And(p, q) is And(q, p) is And(p, And(q, p))
    assert U(p, q) is not U(q, p)
    assert F(p, (0, 5)) is not F(p, (0, 6))
    assert {a: 1}[b] == 1


def test_atom_keys_of_equal_value_but_different_type_stay_distinct():
    assert Atom(1) is not Atom(True)
    assert Atom(("k", 1)) is Atom(("k", 1))


def test_nodes_are_immutable():
    with pytest.raises(AttributeError):
        p.kind = Kind.FALSE
    with pytest.raises(AttributeError):
        del p.args


def test_managers_do_not_mix():
    m2 = FormulaManager()
    with pytest.raises(SpecTypeError, match="another FormulaManager"):
        And(p, m2.Atom("p"))
    assert m2.Atom("p") is not p
    assert m2.And(m2.Atom("p"), m2.TRUE()) is m2.Atom("p")


def test_unhashable_atom_key_is_rejected_with_a_hint():
    with pytest.raises(SpecTypeError, match="hashable"):
        Atom(["list"])


def test_pickle_restores_identity():
    f = G(Implies(p, F(q, (0, 9))))
    assert pickle.loads(pickle.dumps(f)) is f


def test_repr_rebuilds_the_node():
    import tracelogic.logic as L
    for f in [G(Implies(p, F(q, (0, 9)))), S(p, q, (1, None)), Trigger(p, q), Z(Y(p)), H(O(p)),
              And(X(p), WX(q)), R(p, q, (2, 3)), FALSE(), TRUE()]:
        assert eval(repr(f), vars(L)) is f


# -- simplification ----------------------------------------------------------------------------

@pytest.mark.parametrize("built, expected", [
    (lambda: And(p, TRUE()), lambda: p),
    (lambda: Or(p, FALSE()), lambda: p),
    (lambda: And(p, FALSE()), lambda: FALSE()),
    (lambda: Or(p, TRUE()), lambda: TRUE()),
    (lambda: Not(Not(p)), lambda: p),
    (lambda: And(p, Not(p)), lambda: FALSE()),
    (lambda: Or(p, Not(p)), lambda: TRUE()),
    (lambda: And(p, p, q), lambda: And(p, q)),
    (lambda: And(p, Or(p, q)), lambda: p),
    (lambda: Or(p, And(p, q)), lambda: p),
    (lambda: And(), lambda: TRUE()),
    (lambda: Or(), lambda: FALSE()),
    (lambda: G(G(p)), lambda: G(p)),
    (lambda: F(F(p)), lambda: F(p)),
    (lambda: O(O(p)), lambda: O(p)),
    (lambda: H(H(p)), lambda: H(p)),
    (lambda: X(FALSE()), lambda: FALSE()),
    (lambda: WX(TRUE()), lambda: TRUE()),
    (lambda: Y(FALSE()), lambda: FALSE()),
    (lambda: Z(TRUE()), lambda: TRUE()),
    (lambda: U(p, FALSE()), lambda: FALSE()),
    (lambda: R(p, TRUE()), lambda: TRUE()),
    (lambda: U(FALSE(), p), lambda: p),
    (lambda: U(p, p), lambda: p),
    (lambda: Iff(p, p), lambda: TRUE()),
    (lambda: Xor(p, p), lambda: FALSE()),
    (lambda: Implies(p, TRUE()), lambda: TRUE()),
    (lambda: Implies(FALSE(), p), lambda: TRUE()),
])
def test_simplifications(built, expected):
    assert built() is expected()


def test_simplifications_keep_the_empty_trace_value():
    # true R p is p at every event of a non-empty trace, but p's end value is false
    # and R's is true: folding it would change the empty trace's verdict
    assert R(TRUE(), p) is not p and R(TRUE(), p).empty_value and not p.empty_value
    # on non-empty traces these are constants, but the empty trace tells them apart
    assert F(TRUE()) is not TRUE() and verdict(F(TRUE()), []) is False
    assert G(FALSE()) is not FALSE() and verdict(G(FALSE()), []) is True
    assert verdict(F(TRUE()), [(frozenset(), 0)]) is True
    assert verdict(G(FALSE()), [(frozenset(), 0)]) is False


def test_sugar_lowers_to_core():
    assert F(p) is U(TRUE(), p)
    assert G(p) is R(FALSE(), p)
    assert O(p) is S(TRUE(), p)
    assert H(p) is Trigger(FALSE(), p)
    assert W(p, q) is R(q, Or(p, q))
    assert M(p, q) is U(q, And(p, q))
    assert Implies(p, q) is Or(Not(p), q)
    kinds = {Kind.TRUE, Kind.FALSE, Kind.ATOM, Kind.NOT, Kind.AND, Kind.OR, Kind.X, Kind.WX,
             Kind.U, Kind.R, Kind.Y, Kind.Z, Kind.S, Kind.T}
    assert {k for k in Kind if k.name in {"UA", "RA"}} | kinds == set(Kind)


@pytest.mark.parametrize("bad", [(-1, 3), (5, 2), (1.5, 3), ("1s", None), (True, 3)])
def test_bad_intervals_are_rejected_with_the_value(bad):
    with pytest.raises(SpecTypeError) as e:
        F(p, bad)
    assert isinstance(e.value, TracelogicError)


def _until_direct(w, i, a, b, iv):
    lo, hi = iv if iv else (0, None)
    ts = [t for _, t in w]
    return any(lo <= ts[j] - ts[i] and (hi is None or ts[j] - ts[i] <= hi) and b(j)
               and all(a(k) for k in range(i, j)) for j in range(i, len(w)))


def _always_direct(w, i, a, iv):
    lo, hi = iv if iv else (0, None)
    ts = [t for _, t in w]
    return all(a(j) for j in range(i, len(w))
               if lo <= ts[j] - ts[i] and (hi is None or ts[j] - ts[i] <= hi))


ivs = st.one_of(st.none(), st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(3, 6))))


@examples(300)
@given(words(min_size=1), ivs, st.sampled_from(["W", "M", "F", "G", "O", "H"]))
def test_sugar_matches_the_spec_definitions(w, iv, op):
    """§3: W = (U) | G, M = !(!a W !b), F/G/O/H by their quantifiers -- written out directly."""
    inp = lambda k: (lambda j: k in w[j][0])  # noqa: E731
    for i in range(len(w)):
        if op == "W":
            want = (_until_direct(w, i, inp("p"), inp("q"), iv)
                    or _always_direct(w, i, inp("p"), iv))
            got = holds(W(p, q, iv), w, i)
        elif op == "M":
            notp = lambda j: "p" not in w[j][0]  # noqa: E731
            notq = lambda j: "q" not in w[j][0]  # noqa: E731
            want = not (_until_direct(w, i, notp, notq, iv) or _always_direct(w, i, notp, iv))
            got = holds(M(p, q, iv), w, i)
        elif op == "F":
            want = _until_direct(w, i, lambda j: True, inp("p"), iv)
            got = holds(F(p, iv), w, i)
        elif op == "G":
            want = _always_direct(w, i, inp("p"), iv)
            got = holds(G(p, iv), w, i)
        elif op == "O":
            lo, hi = iv if iv else (0, None)
            want = any("p" in w[j][0] and lo <= w[i][1] - w[j][1]
                       and (hi is None or w[i][1] - w[j][1] <= hi) for j in range(i + 1))
            got = holds(O(p, iv), w, i)
        else:
            lo, hi = iv if iv else (0, None)
            want = all("p" in w[j][0] for j in range(i + 1)
                       if lo <= w[i][1] - w[j][1] and (hi is None or w[i][1] - w[j][1] <= hi))
            got = holds(H(p, iv), w, i)
        assert got == want, (op, iv, w, i)


@examples(300)
@given(st.one_of(future_formulas(metric=True), past_formulas(metric=True), mixed_formulas()),
       words(min_size=1, max_size=6))
def test_nnf_is_equivalent_and_has_negations_on_atoms_only(f, w):
    g = nnf(f)
    for n in _all_nodes(g):
        if n.kind is Kind.NOT:
            assert n.args[0].kind is Kind.ATOM
    assert g.empty_value == f.empty_value
    for i in range(len(w)):
        assert holds(g, w, i) == holds(f, w, i)


@examples(300)
@given(st.one_of(future_formulas(metric=True), past_formulas(metric=True), mixed_formulas()))
def test_cached_empty_value_matches_the_pass_and_the_reference(f):
    assert f.empty_value == empty_value(f) == ref_empty(f) == verdict(f, [])


def _all_nodes(f):
    from tracelogic.logic import topological
    return topological(f)


# -- printers ------------------------------------------------------------------------------------

def test_our_syntax():
    assert to_tracelogic(G(Implies(p, F(q, (0, 2_000_000_000))))) == "(G ((!p) | (F[<= 2s] q)))" \
        or to_tracelogic(G(Implies(p, F(q, (0, 2_000_000_000))))) == "(G ((F[<= 2s] q) | (!p)))"
    assert to_tracelogic(X(p)) == "(X p)"
    assert to_tracelogic(WX(p)) == "(WX p)"
    assert to_tracelogic(U(p, q, (100_000_000, 2_000_000_000))) == "(p U[100ms, 2s] q)"
    assert to_tracelogic(S(p, q, (10_000_000, None))) == "(p S[>= 10ms] q)"
    assert to_tracelogic(O(p, (0, 10_000_000))) == "(O[<= 10ms] p)"
    assert to_tracelogic(Atom('name == "a"')) == '(name == "a")'
    assert to_tracelogic(p, {"p": "checkout"}) == "checkout"


def test_spot_syntax_uses_spot_next_conventions():
    assert to_spot(X(p)) == "(X[!] p)"
    assert to_spot(WX(p)) == "(X p)"
    assert to_spot(G(Implies(p, F(q)))) in ("(G ((!p) | (F q)))", "(G ((F q) | (!p)))")
    assert to_spot(Atom("Fa")) == '"Fa"'
    with pytest.raises(UnsupportedFormula, match="past"):
        to_spot(O(p))
    with pytest.raises(UnsupportedFormula, match="metric"):
        to_spot(F(p, (0, 3)))


def test_ltlf2dfa_syntax_parses_with_ltlf2dfa():
    from ltlf2dfa.parser.ltlf import LTLfParser
    from ltlf2dfa.parser.ppltl import PPLTLParser
    names = {"p": "a0", "q": "a1", "r": "a2"}
    fut = And(G(Implies(p, X(q))), WX(r), U(p, R(q, r)))
    s = to_ltlf2dfa(fut, names)
    assert "WX" in s and "X" in s
    assert LTLfParser()(s) is not None
    past = And(H(Implies(p, Y(q))), Z(r), S(p, Trigger(q, r)))
    s2 = to_ltlf2dfa(past, names)
    assert "WY" in s2 and " P " in s2
    assert PPLTLParser()(s2) is not None
    with pytest.raises(UnsupportedFormula):
        to_ltlf2dfa(And(F(p), O(q)), names)


def test_format_duration():
    assert format_duration(0) == "0s"
    assert format_duration(1500) == "1500ns"
    assert format_duration(90_000_000_000) == "90s"
    assert format_duration(120_000_000_000) == "2m"
    assert format_duration(86_400_000_000_000) == "1d"


def test_unhandled_kind_names_the_node():
    class OnlyAtoms(DagWalker):
        def walk_atom(self, n, a):
            return 1

    with pytest.raises(UnhandledNode) as e:
        OnlyAtoms().walk(And(p, X(q)))
    assert e.value.value is not None and "walk_" in str(e.value)
