"""Typed spec expressions -> Z3 terms: the solver plumbing every static checker shares.

Semantics follow SPEC-LANGUAGE.md §1 exactly, as :mod:`tracelogic.values.arith` defines
them for every back-end (a Z3 term cannot call Python, so each definition is rewritten
here, and tests/semantics/test_differential.py holds the two together):
- ``//`` and ``%`` are **floor** division and modulo, as in Python. Z3's ``div``
  is Euclidean; for a positive divisor the two agree, and ``a // b`` equals
  ``(-a) // (-b)``, so ``floordiv(a, b) = If(b > 0, a div b, (-a) div (-b))``
  (:func:`floordiv_term`, :func:`mod_term`).
- ``/`` is real division.
- Every division records a *side condition* (the path condition under which it
  is evaluated, and its divisor): a divisor that can be zero on a reachable
  path refutes a theorem with that counterexample. Path conditions follow the
  short-circuit reading of ``->``, ``and`` and ``or``.
- Durations and bytes are integers (nanoseconds, bytes); cpu and ratios are reals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from tracelogic.errors import UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import TExprWalker
from tracelogic.values.arith import DIVISIONS


def sort_of(t: T.Type, ctx: z3.Context | None = None):
    b = T.base(t)
    if b in (T.INT, T.DURATION, T.BYTES):
        return z3.IntSort(ctx)
    if b in (T.REAL, T.CPU):
        return z3.RealSort(ctx)
    if b == T.BOOL:
        return z3.BoolSort(ctx)
    if b == T.STRING:
        return z3.StringSort(ctx)
    if isinstance(b, T.EnumType):
        return z3.IntSort(ctx)  # member index; a range constraint keeps it in the enum
    raise UnhandledNode(f"no Z3 sort for type {t}", value=t)


def declare(name: str, t: T.Type, ctx: z3.Context | None = None) -> tuple[Any, list]:
    """A Z3 constant for a variable of type ``t``, and the constraints its type implies."""
    var = z3.Const(name, sort_of(t, ctx))
    return var, type_constraints(var, t)


def type_constraints(var, t: T.Type) -> list:
    out = []
    if isinstance(t, T.RangeType):
        out += [var >= _num(t.lo, var.ctx), var <= _num(t.hi, var.ctx)]
    elif t == T.RATIO:
        out += [var >= 0, var <= 1]
    elif t in (T.DURATION, T.BYTES, T.CPU):
        out += [var >= 0]  # no negative durations, sizes or CPU amounts
    elif isinstance(T.base(t), T.EnumType):
        out += [var >= 0, var < len(T.base(t).members)]
    return out


def _num(v, ctx=None):
    if isinstance(v, bool):
        return z3.BoolVal(v, ctx)
    if isinstance(v, int):
        return z3.IntVal(v, ctx)
    if isinstance(v, Fraction):
        return z3.RealVal(f"{v.numerator}/{v.denominator}", ctx)
    if isinstance(v, float):
        return z3.RealVal(str(Fraction(v)), ctx)
    raise TypeError(v)


def value_of(t: T.Type, v, ctx=None):
    """A Python value of type ``t`` as a Z3 term."""
    b = T.base(t)
    if b == T.STRING:
        return z3.StringVal(v, ctx)
    if isinstance(b, T.EnumType):
        return z3.IntVal(b.members.index(v), ctx)
    if b in (T.REAL, T.CPU) and not isinstance(v, bool):
        return z3.RealVal(str(Fraction(v)), ctx)
    return _num(v, ctx)


def from_model(model: z3.ModelRef, var, t: T.Type):
    """Read a variable's value back as the Python value of its type."""
    v = model.eval(var, model_completion=True)
    b = T.base(t)
    if z3.is_true(v) or z3.is_false(v):
        return z3.is_true(v)
    if z3.is_int_value(v):
        i = v.as_long()
        return b.members[i] if isinstance(b, T.EnumType) and 0 <= i < len(b.members) else i
    if z3.is_rational_value(v):
        return Fraction(v.numerator_as_long(), v.denominator_as_long())
    if z3.is_algebraic_value(v):
        return float(v.approx(20).as_decimal(20).rstrip("?"))
    if z3.is_string_value(v):
        return v.as_string()
    return str(v)


@dataclass
class Encoded:
    term: Any
    # (path condition, divisor term, the division node) for every division on the way
    divisions: list[tuple[Any, Any, TExpr]] = field(default_factory=list)


class Encoder:
    """Encode typed expressions over an environment of Z3 terms (``var`` payload -> term).

    Both passes are iterative: deep expressions never hit the recursion limit.
    """

    def __init__(self, env: dict, ctx: z3.Context | None = None):
        self.env = env
        self.ctx = ctx

    def encode(self, e: TExpr) -> Encoded:
        terms = self._terms(e)
        return Encoded(terms[e], self._divisions(e, terms))

    def _terms(self, root: TExpr) -> dict[TExpr, Any]:
        """The term of every node, children first (a memoised :class:`TExprWalker`)."""
        walker = _Terms(self)
        walker.walk(root)
        return walker.memo

    def _divisions(self, root: TExpr, terms: dict[TExpr, Any]) -> list:
        """Every division with the path condition under which it is evaluated."""
        out = []
        true = z3.BoolVal(True, self.ctx)
        stack: list[tuple[TExpr, Any]] = [(root, true)]
        while stack:
            node, cond = stack.pop()
            if node.op in DIVISIONS:
                out.append((cond, terms[node.args[1]], node))
            if node.op in ("implies", "and") and len(node.args) == 2:
                stack.append((node.args[0], cond))
                stack.append((node.args[1], z3.And(cond, terms[node.args[0]])))
            elif node.op == "or" and len(node.args) == 2:
                stack.append((node.args[0], cond))
                stack.append((node.args[1], z3.And(cond, z3.Not(terms[node.args[0]]))))
            else:
                stack.extend((c, cond) for c in node.args)
        return out

    def _apply(self, e: TExpr, a: list) -> Any:
        op = e.op
        ctx = self.ctx
        if op == "lit":
            if T.base(e.type) == T.STRING:
                return z3.StringVal(e.payload, ctx)
            if T.base(e.type) in (T.REAL, T.CPU):
                return z3.RealVal(str(Fraction(e.payload)), ctx)
            return _num(e.payload, ctx)
        if op == "var":
            key = e.payload
            if key not in self.env:
                raise UnhandledNode(f"no value for {key}", value=e)
            return self.env[key]
        if op == "enum":
            enum = T.base(e.type)
            return z3.IntVal(enum.members.index(e.payload[1]), ctx)
        if op == "pred":
            return a[0]
        if op == "neg":
            return -a[0]
        if op in ("+", "-", "*"):
            x, y = coerce(a[0], a[1])
            return x + y if op == "+" else x - y if op == "-" else x * y
        if op == "/":
            x, y = to_real(a[0]), to_real(a[1])
            return x / y
        if op == "//":
            return floordiv_term(a[0], a[1])
        if op == "%":
            return mod_term(a[0], a[1])
        if op == "cmp":
            x, y = coerce(a[0], a[1])
            return {"==": lambda: x == y, "!=": lambda: x != y, "<": lambda: x < y,
                    "<=": lambda: x <= y, ">": lambda: x > y, ">=": lambda: x >= y}[e.payload]()
        if op == "and":
            return z3.And(*a)
        if op == "or":
            return z3.Or(*a)
        if op == "not":
            return z3.Not(a[0])
        if op == "implies":
            return z3.Implies(a[0], a[1])
        if op == "iff":
            return a[0] == a[1]
        if op == "xor":
            return z3.Xor(a[0], a[1])
        if op == "in":
            value, target = a[0], e.args[1]
            if target.op == "list":
                return z3.Or(*[_eq(value, item) for item in a[1]]) if target.args else \
                    z3.BoolVal(False, ctx)
            if target.op == "range":
                lo, hi = a[1]
                return z3.And(coerce(value, lo)[0] >= coerce(value, lo)[1],
                              coerce(value, hi)[0] <= coerce(value, hi)[1])
        if op == "list" or op == "range":
            return tuple(a)
        if op == "call":
            return builtin_term(e.payload, a)
        if op == "contains":
            return z3.Contains(a[0], a[1])
        if op == "startswith":
            return z3.PrefixOf(a[1], a[0])
        raise UnhandledNode(f"`{op}` cannot be checked with Z3 here", value=e)


def floordiv_term(x, y):
    """``x // y`` as :func:`tracelogic.values.arith.floordiv` defines it (Python's floor
    division; a Z3 term cannot call it, so it is rewritten here and held equal by
    tests/semantics/test_differential.py). Z3's Int ``/`` is Euclidean: for ``y > 0`` it
    is the floor, and ``x // y == (-x) // (-y)``. On reals, the floor of the quotient. At
    ``y == 0`` the term is unconstrained: every caller records the division's side
    condition instead."""
    if z3.is_real(x) or z3.is_real(y):
        return z3.ToInt(to_real(x) / to_real(y))
    return z3.If(y > 0, x / y, (-x) / (-y))


def mod_term(x, y):
    """``x % y`` as :func:`tracelogic.values.arith.mod` defines it: ``x - y * (x // y)``,
    so the remainder takes the divisor's sign."""
    return x - y * floordiv_term(x, y)


def _eq(x, y):
    x, y = coerce(x, y)
    return x == y


def to_real(x):
    """An Int term as a Real (Z3 refuses mixed arithmetic); any other term as is."""
    return z3.ToReal(x) if z3.is_int(x) else x


def coerce(x, y):
    """Two terms of one sort: an Int beside a Real becomes Real."""
    if z3.is_int(x) and z3.is_real(y):
        return z3.ToReal(x), y
    if z3.is_real(x) and z3.is_int(y):
        return x, z3.ToReal(y)
    return x, y


def builtin_term(name: str, a: list):
    """The built-in function ``name`` (:data:`tracelogic.values.arith.BUILTINS`) on Z3
    terms; ``ceil`` and ``floor`` of an Int are the Int itself."""
    if name == "abs":
        return z3.If(a[0] >= 0, a[0], -a[0])
    if name == "ceil":
        return -z3.ToInt(-a[0]) if z3.is_real(a[0]) else a[0]
    if name == "floor":
        return z3.ToInt(a[0]) if z3.is_real(a[0]) else a[0]
    if name in ("min", "max"):
        out = a[0]
        for y in a[1:]:
            x, y = coerce(out, y)
            out = z3.If(x <= y, x, y) if name == "min" else z3.If(x >= y, x, y)
        return out
    if name == "clamp":
        x, lo = coerce(a[0], a[1])
        x, hi = coerce(x, a[2])
        lo, hi = coerce(lo, hi)
        x, lo = coerce(x, lo)
        return z3.If(x < lo, lo, z3.If(x > hi, hi, x))
    raise UnhandledNode(f"no Z3 encoding for `{name}`", value=name)


class _Terms(TExprWalker):
    """:meth:`Encoder._apply` over the expression DAG, children first."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def dispatch(self, node: TExpr, args: list) -> Any:
        return self.encoder._apply(node, args)
