"""Types of spec expressions, and the unit rules of SPEC-LANGUAGE.md §1.

Units are types: ``duration``, ``bytes`` and ``cpu`` are numbers that never mix
with each other or with plain numbers, except that ``cpu`` is written as plain
cores. ``dyn`` is the type of ``attr["k"]``: a comparison fixes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Type:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class EnumType(Type):
    members: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class RangeType(Type):
    """An inclusive range of a base numeric type, e.g. ``1..1000`` (int) or ``0.0..1.0``."""

    base: Type = None  # type: ignore[assignment]
    lo: int | Fraction = 0
    hi: int | Fraction = 0

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True, slots=True)
class ListType(Type):
    """A list of ``elem``. Lists nest as deep as brackets do (docs/language.md, "Limits"),
    so the hash is computed once from the element's, and equality is a loop: neither may
    cost the depth of the type, nor recurse, at every level of a nested list."""

    elem: Type = None  # type: ignore[assignment]
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(("list", self.name, self.elem)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        a, b = self, other
        while isinstance(a, ListType) and isinstance(b, ListType):
            if a is b:
                return True
            if a.name != b.name or a._hash != b._hash:
                return False
            a, b = a.elem, b.elem
        if isinstance(a, ListType) or isinstance(b, ListType):
            return False
        return a == b


BOOL = Type("bool")
INT = Type("int")
REAL = Type("real")
STRING = Type("string")
DURATION = Type("duration")
BYTES = Type("bytes")
CPU = Type("cpu")
RATIO = Type("ratio")
DYN = Type("dyn")        # attr["k"]: dynamic until compared
ERROR = Type("<error>")  # an expression already reported; suppresses follow-on errors

KIND = EnumType("span kind", ("internal", "server", "client", "producer", "consumer",
                              "unspecified"))
STATUS = EnumType("span status", ("unset", "ok", "error"))
SIGNAL = EnumType("signal", ("span", "log"))  # which signal an event is (issue 19)

NAMED_TYPES = {t.name: t for t in (BOOL, INT, REAL, STRING, DURATION, BYTES, CPU, RATIO)}

UNIT_TYPES = frozenset({DURATION, BYTES})
PLAIN_NUMBERS = frozenset({INT, REAL, CPU, RATIO})


def base(t: Type) -> Type:
    """The type a value of ``t`` behaves as: ranges as their bounds' type, ratio as real."""
    if isinstance(t, RangeType):
        return base(t.base)
    if t == RATIO:
        return REAL
    return t


def is_numeric(t: Type) -> bool:
    return base(t) in PLAIN_NUMBERS or base(t) in UNIT_TYPES or base(t) == DYN


def unit_example(t: Type) -> str:
    return {DURATION: "`1s`", BYTES: "`512Mi`", CPU: "`0.5`"}.get(base(t), "`1`")


def join_numeric(a: Type, b: Type) -> Type | None:
    """The type of `a + b`/comparison operands, or None when the units differ."""
    a, b = base(a), base(b)
    if a == DYN:
        return b
    if b == DYN:
        return a
    if a in UNIT_TYPES or b in UNIT_TYPES:
        return a if a == b else None
    if a == CPU or b == CPU:
        return CPU
    if a == REAL or b == REAL:
        return REAL
    return INT


def comparable(a: Type, b: Type) -> bool:
    a, b = base(a), base(b)
    if a == ERROR or b == ERROR or a == DYN or b == DYN:
        return True
    if is_numeric(a) and is_numeric(b):
        return join_numeric(a, b) is not None
    if isinstance(a, EnumType) or isinstance(b, EnumType):
        return a == b
    return a == b
