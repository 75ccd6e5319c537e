"""MISSING: the value of an absent attribute, a field of an absent parent, a field a log
record lacks, or an operation with no value (a zero divisor at run time).

SPEC-LANGUAGE.md §2: a missing value makes every comparison on it false, `!=` too, and
arithmetic on it is missing again (:func:`tracelogic.values.arith.dynamic`). It is
falsy, equal only to itself, and one object per process (pickling keeps it one).
"""
from __future__ import annotations

from typing import Final


class _Missing:
    """The type of :data:`MISSING`; one instance, falsy, compares equal only to itself."""

    __slots__ = ()
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Returned by attribute lookups for an absent key. Test with ``is MISSING``."""
