"""Arithmetic, comparison and the built-in functions on the language's values
(SPEC-LANGUAGE.md §1), exactly: ints are unbounded, reals and cpu are Fractions.

- ``+ - *`` are Python's;
- ``/`` is exact real division (:func:`exact_div`, a Fraction);
- ``//`` and ``%`` are **floor** division and modulo, Python's ``//`` and ``%``:
  ``-7 // 2 == -4`` and ``-7 % 2 == 1``; the remainder takes the divisor's sign and
  ``a == b * (a // b) + a % b``. Z3's integer ``div``/``mod`` are Euclidean instead, so
  the Z3 encoding (``semantics.z3enc.floordiv_term``) is written from this definition:
  for ``b > 0`` the two agree, and ``a // b == (-a) // (-b)``;
- a zero divisor raises ``ZeroDivisionError`` here; each back-end says what that means
  (a fold problem, an ``EvalError``, a model fault, a controller error, MISSING at run
  time: :mod:`.dynamic`).

Comparisons are Python's operators (:data:`COMPARE`). Callers: the constant folder
(``spec.walker``), the evaluator (``semantics.evaluate``), the generated code of span
predicates (``semantics.codegen``) and of model checks (``models.machine``), and the
controller simulator (``models.control_sim``).
"""
from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any, Callable

#: the arithmetic operators of the language
ARITH_OPS = ("+", "-", "*", "/", "//", "%")
#: the operators with a divisor: no value (an error, or MISSING at run time) when it is zero
DIVISIONS = ("/", "//", "%")
#: the comparison operators of the language
CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")


def exact_div(a: Any, b: Any) -> Fraction:
    """``a / b`` exactly; ``ZeroDivisionError`` on a zero divisor."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return Fraction(a) / Fraction(b)


#: floor division: Python's ``//`` is the language's (module docstring)
floordiv: Callable[[Any, Any], Any] = operator.floordiv
#: floor modulo: Python's ``%`` is the language's; the result has the divisor's sign
mod: Callable[[Any, Any], Any] = operator.mod

#: the exact operators, as static checks, folds, models and controllers compute them
EXACT: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": exact_div,
    "//": floordiv, "%": mod,
}

#: span values are Python ints and floats (OTLP's int64 and double), and ``/`` on them is
#: float division, correctly rounded (the native core's ``value.rs`` computes the same)
RUNTIME: dict[str, Callable[[Any, Any], Any]] = {**EXACT, "/": operator.truediv}

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def clamp(v: Any, lo: Any, hi: Any) -> Any:
    """`clamp(x, lo, hi)`: `lo` when `x < lo`, else `hi` when `x > hi`, else `x`; crossed
    bounds are not reordered (docs/language.md §11)."""
    return lo if v < lo else hi if v > hi else v


def round_half_away(x: Any) -> int:
    """Round half away from zero, exactly (2.5 → 3, −2.5 → −3; docs/control.md)."""
    x = Fraction(x)
    return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))


#: the built-in functions of the language, defined once: config invariants, model checks,
#: controllers and span predicates (through :func:`.dynamic.builtin`) call these
BUILTINS: dict[str, Callable[..., Any]] = {
    "abs": abs, "ceil": math.ceil, "floor": math.floor, "min": min, "max": max,
    "clamp": clamp,
}
