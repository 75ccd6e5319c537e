"""Race candidates: overlapping writes to one resource that happens-before does not order.

**Convention** (docs/analysis.md): a span that accesses a shared resource carries
the span attributes ``resource.name`` (what is accessed, e.g. ``"stock/sku-42"``)
and ``resource.access`` = ``"write"`` or ``"read"``. Only span attributes count
(resource attributes of the same key are ignored).

Two accesses ``a`` and ``b`` to one resource form a **race candidate** when

- both are writes (with ``include_reads=True``: at least one is a write);
- their intervals overlap: ``a.start < b.end`` and ``b.start < a.end`` (a
  zero-length span counts as lasting 1 ns);
- happens-before does not order them (:mod:`.causality`): neither ``a.end``
  happens before ``b.start`` nor the reverse, and neither contains the other
  causally (an ancestor's write and its child's write are one operation).

The happens-before check matters across hosts: a clock that runs behind can make
two causally ordered writes *look* overlapping; they are not reported.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tracelogic.ingest.spans import Span

from ._input import SpanEvent, SpanKey
from .causality import HappensBefore, happens_before

__all__ = ["Access", "RaceCandidate", "accesses", "race_candidates"]


@dataclass(frozen=True, slots=True)
class Access:
    resource: str
    access: str  # "read" | "write"
    span: Span

    @property
    def start_ns(self) -> int:
        return self.span.start_ns

    @property
    def end_ns(self) -> int:
        return max(self.span.end_ns, self.span.start_ns + 1)


@dataclass(frozen=True)
class RaceCandidate:
    """Two unordered, overlapping accesses to ``resource``; ``first`` started first."""

    resource: str
    first: Access
    second: Access

    @property
    def overlap_ns(self) -> int:
        return min(self.first.end_ns, self.second.end_ns) - max(self.first.start_ns,
                                                                self.second.start_ns)

    @property
    def span_ids(self) -> list[str]:
        return [self.first.span.span_id, self.second.span.span_id]

    def describe(self) -> str:
        a, b = self.first.span, self.second.span
        return (f"{self.first.access} by {a.service or '?'}:{a.name} ({a.span_id}) and "
                f"{self.second.access} by {b.service or '?'}:{b.name} ({b.span_id}) to "
                f"{self.resource!r} overlap for {self.overlap_ns / 1e6:.3f} ms and are not "
                "ordered by happens-before")

    def to_json(self) -> dict:
        return {"resource": self.resource, "overlap_ns": self.overlap_ns,
                "span_ids": self.span_ids,
                "accesses": [{"access": x.access, "trace_id": x.span.trace_id,
                              "span_id": x.span.span_id, "name": x.span.name,
                              "service": x.span.service, "start_unix_nano": x.span.start_ns,
                              "end_unix_nano": x.span.end_ns}
                             for x in (self.first, self.second)],
                "message": self.describe()}


def accesses(spans: Iterable[Span]) -> list[Access]:
    out = []
    for s in spans:
        r, a = s.attrs.get("resource.name"), s.attrs.get("resource.access")
        if r is None or a not in ("read", "write"):
            continue
        out.append(Access(str(r), a, s))
    return out


def race_candidates(spans: Iterable[Span],
                    events: Mapping[SpanKey, tuple[SpanEvent, ...]] | None = None, *,
                    hb: HappensBefore | None = None,
                    include_reads: bool = False) -> list[RaceCandidate]:
    """Every race candidate among ``spans`` (see the module docstring), in time order."""
    spans = list(spans)
    acc = accesses(spans)
    if not acc:
        return []
    by_res: dict[str, list[Access]] = defaultdict(list)
    for x in acc:
        if x.access == "write" or include_reads:
            by_res[x.resource].append(x)
    out: list[RaceCandidate] = []
    for res, xs in by_res.items():
        xs.sort(key=lambda x: (x.start_ns, x.span.trace_id, x.span.span_id))
        open_: list[Access] = []
        for b in xs:
            open_ = [a for a in open_ if a.end_ns > b.start_ns]
            for a in open_:
                if a.access == "read" and b.access == "read":
                    continue
                if a.span.key == b.span.key:
                    continue
                if hb is None:
                    hb = happens_before(spans, events)
                if hb.ordered(a.span, b.span):
                    continue
                out.append(RaceCandidate(res, a, b))
            open_.append(b)
    out.sort(key=lambda r: (r.second.start_ns, r.resource, r.first.span.span_id,
                            r.second.span.span_id))
    return out
