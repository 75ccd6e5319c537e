"""Per-operation attribute invariants (Daikon-style ranges and enums: Ernst et al., "The
Daikon system for dynamic detection of likely invariants", 2007) and metric ranges.

For every operation and span attribute the miner keeps its types, a few distinct values
and the numeric range; :mod:`.render` turns them into one property per operation,
``G (A -> attr["k"] in [...] & lo <= attr["j"] <= hi ...)``. An attribute seen on some
of the operation's spans only is written ``(!(attr["k"] exists) | ...)``.

Attributes that name an endpoint or an identity (keys ending in ``.port``, ``.address``,
``.id``, ``_id``, ``.pid``, ``.instance.id``; see :data:`SKIPPED_SUFFIXES`) differ from
one run to the next by construction, so they are neither ranges nor enums.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracelogic.ingest.spans import Span

from .model import Operation

__all__ = ["AttrStats", "MetricStats", "SKIPPED_SUFFIXES", "collect_attrs", "collect_metrics",
           "skipped_key"]

SKIPPED_SUFFIXES = (".port", ".address", ".id", "_id", ".pid", ".uid", ".ip")


_SKIPPED: dict[str, bool] = {}


def skipped_key(key: str) -> bool:
    got = _SKIPPED.get(key)
    if got is None:
        got = _SKIPPED[key] = key.lower().endswith(SKIPPED_SUFFIXES)
    return got


@dataclass
class AttrStats:
    """One attribute of one operation: how often present, its types, values and range."""

    present: int = 0
    types: set[str] = field(default_factory=set)
    values: set[Any] = field(default_factory=set)   # at most cap + 1 kept
    lo: Any = None
    hi: Any = None

    def add(self, v: Any, cap: int) -> None:
        self.present += 1
        t = _TYPES.get(type(v), "other")
        if t == "float" and not math.isfinite(v):
            t = "other"
        self.types.add(t)
        if t == "other":
            return
        if len(self.values) <= cap:
            self.values.add(v)
        if t == "int" or t == "float":
            if self.lo is None or v < self.lo:
                self.lo = v
            if self.hi is None or v > self.hi:
                self.hi = v


_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}


def collect_attrs(spans: Iterable[Span], cap: int) -> dict[Operation, dict[str, AttrStats]]:
    out: dict[Operation, dict[str, AttrStats]] = defaultdict(dict)
    for s in spans:
        per = out[(s.service, s.name)]
        for k, v in s.attrs.items():
            if skipped_key(k):
                continue
            a = per.get(k)
            if a is None:
                a = per[k] = AttrStats()
            a.add(v, cap)
    return out


@dataclass
class MetricStats:
    points: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    services: set[str] = field(default_factory=set)
    unit: str = ""


def collect_metrics(points: Iterable[Any]) -> dict[str, MetricStats]:
    """The range of every gauge and sum by metric name (the points the monitor reads)."""
    out: dict[str, MetricStats] = {}
    for p in points:
        v = p.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        m = out.get(p.metric)
        if m is None:
            m = out[p.metric] = MetricStats(unit=p.unit or "")
        m.points += 1
        m.lo = min(m.lo, v)
        m.hi = max(m.hi, v)
        m.services.add(p.service)
    return out
