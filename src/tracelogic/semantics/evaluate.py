"""Concrete evaluation of typed expressions: the fast path for config documents.

Checking 10,000 documents against 20 invariants must not make 200,000 solver
calls, so each invariant is compiled once into a Python closure and run on
every document; Z3 is only asked to explain the failures (the unsat core).
Values: int for int/duration/bytes, Fraction for real/cpu (exact, as in Z3),
str for strings and enum members. Arithmetic, comparisons and the built-in functions are
:mod:`tracelogic.values.arith`'s, defined once for every back-end.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

from tracelogic.errors import TracelogicError, UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import TExprWalker
from tracelogic.values.arith import BUILTINS, COMPARE, EXACT

Env = dict
Fn = Callable[[Env], Any]


class EvalError(TracelogicError, ValueError):
    """A runtime error of the expression itself (division by zero, a missing value)."""

    def __init__(self, message: str, node: TExpr):
        super().__init__(message, value=node)
        self.node = node


def _arith(op: str, node: TExpr) -> Callable[[Any, Any], Any]:
    """The language's operator (``values.arith.EXACT``); a zero divisor is an EvalError."""
    fn = EXACT[op]

    def apply(a, b):
        try:
            return fn(a, b)
        except ZeroDivisionError:
            raise EvalError("division by zero", node) from None
    return apply


def compile_expr(e: TExpr, resolve: Callable[[TExpr], Fn | None] | None = None) -> Fn:
    """A closure computing ``e`` from an environment keyed by ``var`` payloads.

    ``resolve`` may supply closures for nodes this module does not know (aggregates,
    document paths); it is asked first. Built bottom-up without recursion, and run
    without deep recursion either: a closure calls its operands' closures, so a
    subexpression nested more than ``HOIST_DEPTH`` closures deep is *hoisted*: computed
    first, in order, into a slot that its parent reads (see :class:`_Compile`).
    """
    c = _Compile(resolve)
    fn, _ = c.walk(e)
    if not c.cells:
        return fn
    cells = tuple(c.cells)

    def run(env: Env) -> Any:
        slots: list = []
        inner = {**env, _SLOTS: slots}
        for cell in cells:
            try:
                slots.append((True, cell(inner)))
            except Exception as err:  # raised only if the expression reads this slot
                slots.append((False, err))
        return fn(inner)
    return run


HOIST_DEPTH = 50  # closures nested beyond this depth are hoisted into a slot
_SLOTS = object()  # the environment key of a run's hoisted values


class _Compile(TExprWalker):
    """One closure per node, children first; ``resolve`` answers for a node first.

    Each result is ``(closure, depth)``, the depth of closures it calls through. Past
    ``HOIST_DEPTH`` the node's closure becomes a *cell*, run before the whole
    expression, children's cells first (the walk's order); the node is replaced by a
    read of the cell's slot, depth 1. A cell runs whether or not its value is read
    (`&` and `|` may skip an operand), so an error it raises is kept and raised only
    where the slot is read: the value and the errors are those of the nested closures."""

    def __init__(self, resolve: Callable[[TExpr], Fn | None] | None) -> None:
        super().__init__()
        self.resolve = resolve
        self.cells: list[Fn] = []

    def pre(self, node: TExpr) -> Any:
        custom = self.resolve(node) if self.resolve else None
        return self.PASS if custom is None else (custom, 1)

    def dispatch(self, node: TExpr, args: list) -> tuple[Fn, int]:
        fn = _build(node, [f for f, _ in args])
        depth = 1 + max((d for _, d in args), default=0)
        if depth <= HOIST_DEPTH:
            return fn, depth
        k = len(self.cells)
        self.cells.append(fn)

        def read(env: Env) -> Any:
            ok, value = env[_SLOTS][k]
            if not ok:
                raise value
            return value
        return read, 1


def _build(node: TExpr, a: list[Fn]) -> Fn:
    op = node.op
    if op == "lit":
        v = node.payload
        if T.base(node.type) in (T.REAL, T.CPU) and not isinstance(v, bool):
            v = Fraction(v)
        return lambda env: v
    if op == "var":
        key = node.payload

        def var(env):
            try:
                return env[key]
            except KeyError:
                raise EvalError(f"no value for `{key[-1]}`", node) from None
        return var
    if op == "enum":
        member = node.payload[1]
        return lambda env: member
    if op == "pred":
        return a[0]
    if op == "neg":
        f = a[0]
        return lambda env: -f(env)
    if op in ("+", "-", "*", "/", "//", "%"):
        fn, x, y = _arith(op, node), a[0], a[1]
        return lambda env: fn(x(env), y(env))
    if op == "cmp":
        fn, x, y = COMPARE[node.payload], a[0], a[1]
        return lambda env: fn(x(env), y(env))
    if op == "and":
        x, y = a
        return lambda env: bool(x(env)) and bool(y(env))
    if op == "or":
        x, y = a
        return lambda env: bool(x(env)) or bool(y(env))
    if op == "implies":
        x, y = a
        return lambda env: (not x(env)) or bool(y(env))
    if op == "iff":
        x, y = a
        return lambda env: bool(x(env)) == bool(y(env))
    if op == "xor":
        x, y = a
        return lambda env: bool(x(env)) != bool(y(env))
    if op == "not":
        x = a[0]
        return lambda env: not x(env)
    if op in ("list", "range"):
        fs = a
        return lambda env: tuple(f(env) for f in fs)
    if op == "in":
        x, target = a
        if node.args[1].op == "range":
            return lambda env: (lambda v, r: r[0] <= v <= r[1])(x(env), target(env))
        return lambda env: x(env) in target(env)
    if op == "contains":
        x, y = a
        return lambda env: isinstance(x(env), str) and y(env) in x(env)
    if op == "startswith":
        x, y = a
        return lambda env: isinstance(x(env), str) and x(env).startswith(y(env))
    if op == "matches":
        import re2

        x, pattern = a[0], re2.compile(node.args[1].payload)
        return lambda env: isinstance(x(env), str) and pattern.search(x(env)) is not None
    if op == "call":
        return _builtin(node.payload, a)
    raise UnhandledNode(f"`{op}` cannot be evaluated on a document", value=node)


def _builtin(name: str, a: list[Fn]) -> Fn:
    fn = BUILTINS.get(name)
    if fn is None:
        raise UnhandledNode(f"no evaluator for `{name}`", value=name)
    if len(a) == 1:
        x = a[0]
        return lambda env: fn(x(env))
    return lambda env: fn(*(f(env) for f in a))
