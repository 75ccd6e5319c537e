"""What every miner shares: operations (activities), mined properties with their evidence,
the options, and the spelling of names, strings, numbers and durations in `.spec` text.

An **operation** is a span's ``(service, name)``: the unit the patterns relate. Service is
part of it because one name is often both a client span and the server span it calls
(``POST /orders`` in ``gateway`` and in ``orders``), and those are different operations.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Operation", "Mined", "MineOptions", "spec_string", "spec_number",
           "spec_duration", "identifier"]

Operation = tuple[str, str]  # (service, name)


@dataclass(frozen=True)
class MineOptions:
    """The knobs of :func:`~tracelogic.analysis.mining.mine` (docs/mining.md).

    ``margin`` widens every learned time bound and metric range by that fraction of
    the observed value (1.0: twice the largest delay seen), so that a bound learned on
    a few healthy runs does not fire on the next one.
    """

    max_properties: int = 100
    max_pattern_length: int = 2
    min_support: int = 2
    min_confidence: float = 1.0
    margin: float = 1.0
    max_enum: int = 8
    max_workflow_steps: int = 64
    max_workflow_size: int = 200
    workflow: bool = True

    def __post_init__(self) -> None:
        for name, lo in (("max_properties", 1), ("max_pattern_length", 1), ("min_support", 1),
                         ("max_enum", 1), ("max_workflow_steps", 1),
                         ("max_workflow_size", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name}={v!r}: give an integer of at least {lo}")
        if not 0.0 < self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence={self.min_confidence!r}: give a fraction in "
                             "(0, 1], e.g. 0.95")
        if not 0.0 <= self.margin <= 100.0 or math.isnan(self.margin):
            raise ValueError(f"margin={self.margin!r}: give a fraction of at least 0, e.g. 0.5 "
                             "for 50%")


@dataclass
class Mined:
    """One proposed property: its `.spec` text (without the evidence comments) and why.

    ``rank`` orders the kinds when ``--max-properties`` cuts (lower first); ``support``
    is the number of instances whose trigger occurred (traces, or key values for
    cross-trace scopes), ``holds`` how many of them satisfied the property, so
    ``confidence = holds / support``.
    """

    kind: str
    name: str
    body: str                      # the property declaration (one or more lines)
    support: int
    holds: int
    evidence: list[str] = field(default_factory=list)
    rank: int = 0
    operations: tuple[Operation, ...] = ()

    @property
    def confidence(self) -> float:
        return self.holds / self.support if self.support else 0.0


_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def spec_string(s: str) -> str | None:
    """``s`` as a `.spec` string literal, or None if it holds a character the language
    cannot write (control characters other than newline and tab)."""
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in s):
        return None
    return '"' + "".join(_STRING_ESCAPES.get(c, c) for c in s) + '"'


def spec_number(v: Any) -> str | None:
    """An int or a finite float as a `.spec` number (a negative one as ``-N``)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        text = repr(v)
        if "e" in text or "E" in text:
            mant, _, exp = text.lower().partition("e")
            if "." not in mant:
                mant += ".0"
            text = f"{mant}e{int(exp)}"
        elif "." not in text:
            text += ".0"
        return text
    return None


_UNITS = (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("s", 10**9), ("ms", 10**6),
          ("us", 10**3), ("ns", 1))


def spec_duration(ns: int) -> str:
    """A duration literal of at least ``ns`` nanoseconds, in the largest unit that keeps two
    significant digits (rounded up: a bound must not shrink when printed)."""
    ns = max(int(ns), 0)
    for unit, size in _UNITS[2:]:
        if ns >= 10 * size or size == 1:
            return f"{-(-ns // size)}{unit}"
    return f"{ns}ns"  # pragma: no cover


def format_ns(ns: float) -> str:
    """A human reading of a duration for the evidence comments (3 significant digits)."""
    for unit, size in _UNITS[2:]:
        if abs(ns) >= size or size == 1:
            return f"{ns / size:.3g}{unit}"
    return f"{ns:.3g}ns"  # pragma: no cover


_WORD = re.compile(r"[^A-Za-z0-9]+")


def identifier(*parts: str, taken: set[str], prefix: str) -> str:
    """A readable, unused `.spec` name built from ``parts``: ``prefix_part_part``; a
    number is appended when two would collide. ``prefix`` keeps it off reserved words."""
    words = [w.lower() for p in parts for w in _WORD.split(p) if w]
    base = "_".join([prefix] + words)[:60].rstrip("_") or prefix
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name
