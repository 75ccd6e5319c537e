"""One expression, every back-end, one meaning (issue 14, item 2).

Hypothesis builds typed arithmetic expressions directly as ``TExpr`` nodes: ``+ - * //
% neg`` over int, duration and bytes literals (negative numbers, zero divisors, values
near ±2^63 and beyond, unit literals read by ``values.units``) and attributes of no
declared type, with exact division ``/`` at the root. Each is computed by

- the type checker's constant folding (``spec.walker.fold_constant``),
- the evaluator (``semantics.evaluate.compile_expr``),
- the generated Python of span predicates (``semantics.codegen.CodeGen``),
- Z3 (``semantics.z3enc.Encoder``, simplified to a numeral),
- the native core's atom program (``semantics.atoms.emit`` run by ``_native.eval_atoms``),

and every answer must be the one ``values.arith``/``values.dynamic`` define: the same
number, or no value at all (a fold problem, an ``EvalError``, ``MISSING``, a reachable
division by zero in Z3, both ``==`` and ``!=`` false in the core) for a zero divisor or a
missing or non-numeric attribute. With attributes, the span's values are substituted as
literals, and the closed expression must give the back-ends without spans the same
answer.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import json
import os
from fractions import Fraction
from typing import Any

import z3
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from tracelogic import _native
from tracelogic.semantics.atoms import Unsupported, emit
from tracelogic.semantics.codegen import CodeGen
from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.semantics.z3enc import Encoder
from tracelogic.ingest.spans import Span
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import fold_constant
from tracelogic.values import dynamic
from tracelogic.values.arith import CMP_OPS
from tracelogic.values.missing import MISSING
from tracelogic.values.units import parse_bytes, parse_duration

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
SETTINGS = dict(deadline=None, max_examples=2000 if LONG else 150,
                suppress_health_check=[HealthCheck.too_slow],
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])

NOVALUE = "no value"  # a zero divisor, or a missing or non-numeric operand
KEYS = ("a", "b", "c")
NEAR = [0, 1, -1, 2, -2, 3, -3, 7, -7, 2 ** 63 - 1, -2 ** 63, -2 ** 63 + 1, 2 ** 62]
INT_LITS = st.sampled_from(NEAR + [2 ** 63, 2 ** 64, -2 ** 64 - 1]) | st.integers(-10 ** 6, 10 ** 6)
DURATIONS = ["0ns", "1ns", "250ms", "1.5m", "2s", "1h", "1d", "9223372036854775807ns"]
SIZES = ["0k", "1k", "512Mi", "4Gi", "1Ei"]
ATTR_VALUES = (st.sampled_from(NEAR) | st.integers(-2 ** 63, 2 ** 63 - 1)
               | st.sampled_from([1.5, -2.5, 0.0, -0.0, 2.0 ** 63, "3", True, None]))


def lit(value: int, type_: T.Type = T.INT) -> TExpr:
    return TExpr("lit", (), type_, value)


def attr(key: str) -> TExpr:
    return TExpr("attr", (), T.DYN, ((), "attr", key))


@st.composite
def leaves(draw, attrs: bool) -> TExpr:
    kind = draw(st.sampled_from(["int", "int", "duration", "bytes"] + ["attr"] * attrs * 2))
    if kind == "duration":
        return lit(parse_duration(draw(st.sampled_from(DURATIONS))), T.DURATION)
    if kind == "bytes":
        return lit(parse_bytes(draw(st.sampled_from(SIZES))), T.BYTES)
    if kind == "attr":
        return attr(draw(st.sampled_from(KEYS)))
    return lit(draw(INT_LITS))


def expressions(attrs: bool) -> st.SearchStrategy[TExpr]:
    def extend(inner):
        def binary(pair, op):
            a, b = pair
            # the node takes its left operand's type (a unit times a number keeps the
            # unit); the back-ends read no type off an arithmetic node but its result's
            return TExpr(op, (a, b), T.DYN if T.DYN in (a.type, b.type) else a.type)
        return (st.builds(binary, st.tuples(inner, inner), st.sampled_from(["+", "-", "*"]))
                | st.builds(binary, st.tuples(inner, inner), st.sampled_from(["//", "%"]))
                | st.builds(lambda a: TExpr("neg", (a,), a.type), inner))
    tree = st.recursive(leaves(attrs), extend, max_leaves=6)
    divided = st.builds(lambda a, b: TExpr("/", (a, b), T.DYN if T.DYN in (a.type, b.type)
                                           else T.REAL), tree, tree)
    return st.one_of(tree, tree, divided)


# ------------------------------------------------------------------ the back-ends

def reference(e: TExpr, attrs: dict) -> Any:
    """The definition: values.dynamic over the span's attributes (MISSING when absent)."""
    if e.op == "lit":
        return e.payload
    if e.op == "attr":
        return attrs.get(e.payload[2], MISSING)
    if e.op == "neg":
        return dynamic.neg(reference(e.args[0], attrs))
    return dynamic.arith(e.op)(reference(e.args[0], attrs), reference(e.args[1], attrs))


def exact(v: Any) -> Any:
    return NOVALUE if v is MISSING else v


def by_fold(e: TExpr) -> Any:
    value, problem = fold_constant(e)
    if value is None:
        assert problem is not None, "a constant expression folds or says why not"
        return "too large" if "beyond" in problem else NOVALUE
    return value


def by_evaluate(e: TExpr) -> Any:
    try:
        return compile_expr(e)({})
    except EvalError as err:
        assert "division by zero" in str(err)
        return NOVALUE


def by_codegen(e: TExpr, span: Span) -> Any:
    gen = CodeGen()
    src = gen.expr(e)
    return exact(eval(src, dict(gen.namespace), {"s": span, "st": True, "tr": None}))


def by_z3(e: TExpr) -> Any:
    enc = Encoder({}).encode(e)
    for cond, divisor, _ in enc.divisions:
        d = z3.simplify(divisor)
        assert z3.is_true(z3.simplify(cond))  # no `and`/`or` above arithmetic: reachable
        if (z3.is_int_value(d) and d.as_long() == 0) or \
                (z3.is_rational_value(d) and d.as_fraction() == 0):
            return NOVALUE
    v = z3.simplify(enc.term)
    if z3.is_int_value(v):
        return v.as_long()
    assert z3.is_rational_value(v), v
    return Fraction(v.numerator_as_long(), v.denominator_as_long())


def by_core(e: TExpr, span: Span, expected: Any) -> list[bool] | None:
    """Each comparison of ``e`` with ``expected`` (0 for no value), as the core computes
    it; None when the emitter refuses an atom (a value that may leave i128)."""
    other = 0 if expected is NOVALUE else expected
    if isinstance(other, Fraction):
        other = float(other)
    atoms = [TExpr("cmp", (e, lit(other, T.REAL if isinstance(other, float) else e.type
                                  if e.type != T.DYN else T.INT)), T.BOOL, op)
             for op in CMP_OPS]
    sites: dict[str, int] = {}
    nodes = [emit(a, sites) for a in atoms]
    if any(isinstance(n, Unsupported) for n in nodes):
        return None
    prog = json.dumps({"atoms": nodes, "sites": sorted(sites, key=sites.__getitem__)})
    row = ((span.name, span.kind, span.status, span.status_message, span.service,
            span.scope_name), (span.trace_id, span.span_id, span.parent_id),
           (span.start_ns, span.end_ns), dict(span.attrs), dict(span.resource), [])
    letters, _ = _native.eval_atoms(prog, [row])
    word = sum(w << (64 * i) for i, w in enumerate(letters[0][0]))
    return [bool(word >> i & 1) for i in range(len(CMP_OPS))]


def substitute(e: TExpr, attrs: dict) -> TExpr:
    """``e`` with each attribute replaced by its (int) value as a literal."""
    if e.op == "attr":
        return lit(attrs[e.payload[2]])
    if not e.args:
        return e
    args = tuple(substitute(a, attrs) for a in e.args)
    typ = e.type if e.type != T.DYN else (T.REAL if e.op == "/" else T.INT)
    return TExpr(e.op, args, typ, e.payload)


def span_with(attrs: dict) -> Span:
    return Span(name="s", trace_id="0" * 31 + "1", span_id="0" * 15 + "1", start_ns=0,
                end_ns=1, attrs=attrs)


def same(a: Any, b: Any) -> bool:
    """Equal values; a float (run-time ``/``, float attributes) equals the correctly
    rounded exact value."""
    if a is NOVALUE or b is NOVALUE:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        try:
            return float(a) == float(b) or (a != a and b != b)
        except OverflowError:
            return False
    return a == b and type(a) is not bool and type(b) is not bool


# ------------------------------------------------------------------ the tests

def check_closed(e: TExpr, want: Any) -> None:
    """Every back-end without spans gives ``want`` for the constant expression ``e``."""
    folded = by_fold(e)
    if folded == "too large":
        event("fold: beyond the front end's magnitude limit")
    else:
        assert same(folded, want), ("fold", folded, want)
    assert same(by_evaluate(e), want), ("evaluate", by_evaluate(e), want)
    assert same(by_z3(e), want), ("z3", by_z3(e), want)
    if e.op == "/" and want is not NOVALUE:
        assert isinstance(by_evaluate(e), Fraction)  # exact, where run time has a float


@settings(**SETTINGS)
@given(expressions(attrs=False))
def test_constant_expressions_agree_on_every_back_end(e):
    want = exact(reference(e, {}))
    if e.op == "/" and want is not NOVALUE:
        # statically `/` is exact: the definition's float is the rounded Fraction
        want = Fraction(by_evaluate(e.args[0])) / by_evaluate(e.args[1])
    event("no value" if want is NOVALUE else "a value")
    check_closed(e, want)
    assert same(by_codegen(e, span_with({})), want)
    core = by_core(e, span_with({}), want)
    if core is None:
        event("the core refuses: the value may leave i128")
    else:
        expect_core(core, want)


def expect_core(core: list[bool], want: Any) -> None:
    if want is NOVALUE:
        assert core == [False] * len(CMP_OPS)  # a missing value: every comparison false
    else:
        # compared with itself: ==, <=, >= hold; !=, <, > do not
        assert core == [op in ("==", "<=", ">=") for op in CMP_OPS] or want != want, \
            (core, want)


@settings(**SETTINGS)
@given(expressions(attrs=True), st.dictionaries(st.sampled_from(KEYS), ATTR_VALUES))
def test_expressions_over_attributes_agree_with_the_definition(e, attrs):
    span = span_with(attrs)
    want = exact(reference(e, dict(span.attrs)))
    event("no value" if want is NOVALUE else "a value")
    assert same(by_codegen(e, span), want), (by_codegen(e, span), want)
    core = by_core(e, span, want)
    if core is None:
        event("the core refuses: the value may leave i128")
    elif not (isinstance(want, float) and want != want):
        expect_core(core, want)
    # the span's values as literals: the back-ends without spans agree
    used = {n.payload[2] for n in e.walk() if n.op == "attr"}
    if all(type(attrs.get(k)) is int for k in used):
        closed = substitute(e, attrs)
        event("the attributes substituted as literals")
        if closed.op == "/" and want is not NOVALUE:
            want = by_evaluate(closed.args[0]) / Fraction(by_evaluate(closed.args[1]))
            assert same(by_codegen(e, span), want)  # run time: the rounded exact quotient
        check_closed(closed, want)
