"""Values of no declared type at run time (SPEC-LANGUAGE.md §2): span attributes hold
bools, numbers (int or float), strings, or are :data:`~.missing.MISSING`.

A missing value, or one of another kind, makes every comparison on it false, ``!=``
too; booleans are equal or not, never ordered; ``True == 1`` is false. Arithmetic on
anything but two numbers, and a zero divisor, is MISSING. The generated Python of span
predicates (``semantics.codegen``) calls these, and the native core
(``native/src/value.rs``) is held to them by the differential tests.
"""
from __future__ import annotations

from typing import Any, Callable

from tracelogic.values.arith import BUILTINS, COMPARE, RUNTIME
from tracelogic.values.missing import MISSING

_NUM = (int, float)


def kind(v: Any) -> str | None:
    """``"bool"``, ``"num"`` or ``"str"``; None for a missing or malformed value (and for
    any other, such as bytes or arrays, which compare with nothing)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, _NUM):
        return "num"
    if isinstance(v, str):
        return "str"
    return None


def incomparable(op: str, ka: str | None, kb: str | None) -> bool:
    """Whether a comparison ``op`` of values of kinds ``ka`` and ``kb`` is false by kind
    alone: a missing or malformed side, two kinds, or an ordering of booleans."""
    return ka is None or ka != kb or (ka == "bool" and op not in ("==", "!="))


def compare(op: str) -> Callable[[Any, Any], bool]:
    """The comparison ``op`` on dynamic values (false when :func:`incomparable`)."""
    fn = COMPARE[op]

    def cmp(a: Any, b: Any) -> bool:
        ka = kind(a)
        if incomparable(op, ka, kind(b)):
            return False
        return fn(a, b)
    return cmp


def arith(op: str) -> Callable[[Any, Any], Any]:
    """The operator ``op`` on dynamic values: MISSING unless both are numbers, and on a
    zero divisor; ``/`` is float division (:data:`.arith.RUNTIME`)."""
    fn = RUNTIME[op]

    def apply(a: Any, b: Any) -> Any:
        if kind(a) != "num" or kind(b) != "num":
            return MISSING
        try:
            return fn(a, b)
        except ZeroDivisionError:
            return MISSING
    return apply


def neg(a: Any) -> Any:
    """``-a`` for a number, else MISSING."""
    return -a if kind(a) == "num" else MISSING


def builtin(name: str) -> Callable[..., Any]:
    """The built-in function ``name`` (:data:`.arith.BUILTINS`) on dynamic values: an
    argument that is missing or not a number, or a result with no value (``ceil`` of an
    infinity or NaN), is MISSING, so comparisons on it are false."""
    fn = BUILTINS[name]

    def call(*args: Any) -> Any:
        for a in args:
            if kind(a) != "num":
                return MISSING
        try:
            return fn(*args)
        except (OverflowError, ValueError):
            return MISSING
    return call


def in_list(v: Any, items: tuple) -> bool:
    """``v in [items]``: some item of ``v``'s kind equals it."""
    k = kind(v)
    return k is not None and any(kind(i) == k and i == v for i in items)


def in_range(v: Any, lo: Any, hi: Any) -> bool:
    """``v in lo..hi`` (inclusive), for a number ``v``."""
    return kind(v) == "num" and lo <= v <= hi


def contains(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and b in a


def startswith(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.startswith(b)


def truthy(v: Any) -> bool:
    """A bare dynamic value used as a condition: true only when it is the boolean true."""
    return v is True
