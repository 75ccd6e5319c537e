"""Module-level constructors bound to the default :class:`FormulaManager`.

These are the names the spec compiler calls (the parser maps the word
aliases ``eventually``, ``always``, ``until``… onto them)::

    TRUE() FALSE() Atom(key)
    Not(f) And(*fs) Or(*fs) Implies(a, b) Iff(a, b) Xor(a, b)
    X(f) WX(f) F(f, iv) G(f, iv) U(a, b, iv) W(a, b, iv) R(a, b, iv) M(a, b, iv)
    Y(f) Z(f) O(f, iv) H(f, iv) S(a, b, iv) Trigger(a, b, iv)

``iv`` is an optional interval ``(lo_ns, hi_ns | None)``, see
:func:`tracelogic.logic.formula.interval`.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from tracelogic.logic.formula import Formula, get_manager

__all__ = ["TRUE", "FALSE", "Bool", "Atom", "Not", "And", "Or", "Implies", "Iff", "Xor",
           "X", "WX", "F", "G", "U", "W", "R", "M", "Y", "Z", "O", "H", "S", "Trigger"]

_m = get_manager()


def TRUE() -> Formula:
    return _m.TRUE()


def FALSE() -> Formula:
    return _m.FALSE()


def Bool(value: bool) -> Formula:
    return _m.Bool(value)


def Atom(key: Hashable) -> Formula:
    return _m.Atom(key)


def Not(f: Formula) -> Formula:
    return _m.Not(f)


def And(*fs: Any) -> Formula:
    return _m.And(*fs)


def Or(*fs: Any) -> Formula:
    return _m.Or(*fs)


def Implies(a: Formula, b: Formula) -> Formula:
    return _m.Implies(a, b)


def Iff(a: Formula, b: Formula) -> Formula:
    return _m.Iff(a, b)


def Xor(a: Formula, b: Formula) -> Formula:
    return _m.Xor(a, b)


def X(f: Formula) -> Formula:
    """Strong next."""
    return _m.X(f)


def WX(f: Formula) -> Formula:
    """Weak next."""
    return _m.WX(f)


def F(f: Formula, interval: Any = None) -> Formula:
    return _m.F(f, interval)


def G(f: Formula, interval: Any = None) -> Formula:
    return _m.G(f, interval)


def U(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.U(a, b, interval)


def W(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.W(a, b, interval)


def R(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.R(a, b, interval)


def M(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.M(a, b, interval)


def Y(f: Formula) -> Formula:
    """Strong yesterday."""
    return _m.Y(f)


def Z(f: Formula) -> Formula:
    """Weak yesterday (``!Y!f``)."""
    return _m.Z(f)


def O(f: Formula, interval: Any = None) -> Formula:  # noqa: E743
    return _m.O(f, interval)


def H(f: Formula, interval: Any = None) -> Formula:
    return _m.H(f, interval)


def S(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.S(a, b, interval)


def Trigger(a: Formula, b: Formula, interval: Any = None) -> Formula:
    return _m.Trigger(a, b, interval)
