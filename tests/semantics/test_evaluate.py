"""compile_expr's closures run without deep recursion (issue 14, item 1).

A closure calls its operands' closures, so a subexpression nested more than
``HOIST_DEPTH`` deep is computed first into a slot (semantics/evaluate.py). The slot is
computed even where `&`, `|` or `->` would not read it, so an error there must wait until
it is read. Differential: each generated expression is evaluated by the hoisting compiler
and by the same compiler with hoisting off (the nested closures, the oracle: deep enough
to hoist many times, shallow enough for the recursion limit), on the same environments;
values and errors must agree. Then 10^5-deep expressions against values computed here.
"""
from __future__ import annotations

import sys

import pytest
from hypothesis import Phase, given, settings, strategies as st

import tracelogic.semantics.evaluate as ev
from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr

X = TExpr("var", type=T.INT, payload=("theorem", "x"))


def lit(v: int) -> TExpr:
    return TExpr("lit", type=T.INT, payload=v)


def num_step(e: TExpr, op: str, k: int) -> TExpr:
    return TExpr(op, (e, lit(k) if op != "//" else TExpr("-", (X, lit(k)), T.INT)), T.INT)


@st.composite
def expressions(draw, depth: int) -> TExpr:
    """A number chain (with `//` by `x - k`, which divides by zero when x == k) compared,
    then a boolean chain whose `&`, `|` and `->` skip operands that may divide by zero."""
    e = X
    for _ in range(depth):
        op = draw(st.sampled_from(["+", "-", "*", "//"]))
        e = num_step(e, op, draw(st.integers(-3, 3)))
        if op == "*":  # keep the values small
            e = TExpr("%", (e, lit(1000)), T.INT)
    b = TExpr("cmp", (e, lit(draw(st.integers(-5, 5)))), T.BOOL, draw(
        st.sampled_from(["==", "<", ">="])))
    for _ in range(depth):
        op = draw(st.sampled_from(["and", "or", "implies", "not"]))
        if op == "not":
            b = TExpr("not", (b,), T.BOOL)
            continue
        other = TExpr("cmp", (num_step(X, "//", draw(st.integers(-3, 3))), lit(0)), T.BOOL, ">")
        b = TExpr(op, (other, b) if draw(st.booleans()) else (b, other), T.BOOL)
    return b


def outcome(fn, env):
    try:
        return "value", fn(env)
    except EvalError as e:
        return "error", e.message


def nested_closures(e: TExpr):
    """The oracle: ``compile_expr`` with hoisting off."""
    saved = ev.HOIST_DEPTH
    ev.HOIST_DEPTH = 10**9
    try:
        return compile_expr(e)
    finally:
        ev.HOIST_DEPTH = saved


# no `explain` phase: its tracer makes a failing 120-deep example take minutes
@settings(max_examples=60, deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))
@given(e=expressions(depth=120))
def test_hoisted_closures_agree_with_nested_ones(e):
    walker = ev._Compile(None)
    walker.walk(e)
    assert len(walker.cells) >= 2  # hoisted, more than once
    hoisted = compile_expr(e)
    nested = nested_closures(e)
    for x in range(-4, 5):
        env = {("theorem", "x"): x}
        assert outcome(hoisted, env) == outcome(nested, env)


def test_100000_deep_expressions_evaluate_with_the_default_recursion_limit():
    limit = sys.getrecursionlimit()
    n = 100_000
    e = X
    for i in range(n):
        e = TExpr("+", (e, lit(1)), T.INT)
    b = TExpr("cmp", (e, lit(n)), T.BOOL, ">=")
    for _ in range(n):  # an even number of negations
        b = TExpr("not", (b,), T.BOOL)
    fn = compile_expr(b)
    assert fn({("theorem", "x"): 0}) is True
    assert fn({("theorem", "x"): -1}) is False
    assert sys.getrecursionlimit() == limit


def test_an_error_in_a_hoisted_operand_that_is_not_read_is_not_raised():
    """`x > 0 & (… 1 // x …)` with x == 0: the right side is hoisted (deep) and divides by
    zero, but `&` does not read it, as the nested closures did not."""
    deep = TExpr("//", (lit(1), X), T.INT)
    for _ in range(3 * ev.HOIST_DEPTH):
        deep = TExpr("+", (deep, lit(0)), T.INT)
    guarded = TExpr("and", (TExpr("cmp", (X, lit(0)), T.BOOL, ">"),
                            TExpr("cmp", (deep, lit(0)), T.BOOL, ">=")), T.BOOL)
    fn = compile_expr(guarded)
    assert fn({("theorem", "x"): 0}) is False
    assert fn({("theorem", "x"): 2}) is True  # 1 // 2 == 0
    unguarded = compile_expr(TExpr("cmp", (deep, lit(0)), T.BOOL, ">="))
    with pytest.raises(EvalError, match="division by zero"):
        unguarded({("theorem", "x"): 0})
