"""Critical path of a trace, and hotspots by operation.

**Definition.** The critical path explains the root span's latency instant by
instant, walking *backwards* from the root's end (as Jaeger's critical-path view
and Uber's CRISP do):

1. Every child's interval is first clipped to its parent's (clipped) interval; a
   child with nothing left after clipping (clock skew, or a fire-and-forget child
   that outlived its parent entirely) is not considered. Zero-length children are
   not considered either.
2. At span ``p`` with cursor ``T`` (initially the root's end), the *blocking* child
   is the child of ``p`` that finished last no later than ``T`` (ties: the earlier
   start, then the smaller span id). The interval from its end to ``T`` is ``p``'s
   own time on the path; the walk continues inside the child with cursor = its end.
3. When no child of ``p`` qualifies, ``p`` owns the time from its (clipped) start
   to ``T``, and the walk returns to ``p``'s parent with cursor = ``p``'s start.

The segments tile the root's interval exactly. Among all ways of attributing
each instant backwards to a span and one of its children ("explanation paths"),
this is the one whose sequence of boundary times, read from the end, is greatest
in lexicographic order: at every step it picks what finished last. (An additive
"longest path" by self or child time does not identify the blocking child: with
``p = [0,10]``, ``a = [0,9]``, ``b = [5,10]``, making ``a`` faster changes nothing,
yet ``a`` carries more child time.)

The walk is a loop with a cursor, so traces of any depth are fine; each child
list is visited once in end order, so it runs in O(n log n).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import Span

__all__ = ["Segment", "CriticalPath", "Hotspot", "critical_path", "hotspots", "operation_of",
           "self_time"]


@dataclass(frozen=True, slots=True)
class Segment:
    """``span`` alone was what the root waited for from ``start_ns`` to ``end_ns``."""

    span: Span
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def __repr__(self) -> str:
        return f"Segment({self.span.name!r} {self.span.span_id}, {self.start_ns}, {self.end_ns})"


@dataclass
class CriticalPath:
    """The critical path of one trace: segments in time order, tiling the root."""

    trace_id: str
    root: Span
    segments: list[Segment]

    @property
    def total_ns(self) -> int:
        return sum(s.duration_ns for s in self.segments)

    @property
    def spans(self) -> list[Span]:
        """The spans on the path, each once, in order of first appearance in time."""
        seen: dict[str, Span] = {}
        for s in self.segments:
            seen.setdefault(s.span.span_id, s.span)
        return list(seen.values())

    def by_span(self) -> list[tuple[Span, int]]:
        """Each span on the path with its total time on it, largest first."""
        acc: dict[str, list] = {}
        for s in self.segments:
            acc.setdefault(s.span.span_id, [s.span, 0])[1] += s.duration_ns
        return sorted(((sp, t) for sp, t in acc.values()),
                      key=lambda x: (-x[1], x[0].start_ns, x[0].span_id))

    def to_json(self) -> dict:
        total = self.total_ns or 1
        return {
            "trace_id": self.trace_id, "root": self.root.span_id, "root_name": self.root.name,
            "duration_ns": self.total_ns,
            "segments": [{"span_id": s.span.span_id, "name": s.span.name,
                          "service": s.span.service, "start_unix_nano": s.start_ns,
                          "end_unix_nano": s.end_ns, "duration_ns": s.duration_ns}
                         for s in self.segments],
            "by_span": [{"span_id": sp.span_id, "name": sp.name, "service": sp.service,
                         "operation": operation_of(sp), "critical_ns": t,
                         "share": round(t / total, 4)} for sp, t in self.by_span()],
        }


def _clipped_children(trace: Trace, span: Span, lo: int, hi: int
                      ) -> list[tuple[int, int, Span]]:
    """Children of ``span`` clipped to ``[lo, hi]``, latest end first (ties: earlier start)."""
    out = []
    for c in trace.children(span):
        cs, ce = max(c.start_ns, lo), min(c.end_ns, hi)
        if ce > cs:
            out.append((cs, ce, c))
    out.sort(key=lambda x: (-x[1], x[0], x[2].span_id))
    return out


def critical_path(trace: Trace, root: Span | None = None) -> CriticalPath:
    """The critical path of ``trace`` from ``root`` (default: the root, or the longest root).

    Raises :class:`ValueError` when the trace has no root span and none is given.
    """
    if root is None:
        root = trace.root
        if root is None:
            if not trace.roots:
                raise ValueError(f"trace {trace.trace_id} has no root span; pass root=... "
                                 "to analyse the subtree of one span")
            root = max(trace.roots, key=lambda s: (s.end_ns - s.start_ns, -s.start_ns))
    lo = {root.span_id: root.start_ns}
    hi = {root.span_id: max(root.end_ns, root.start_ns)}
    kids: dict[str, list[tuple[int, int, Span]]] = {}
    pos: dict[str, int] = defaultdict(int)
    up: dict[str, Span] = {}  # parent along the walk (the walk only descends from parents)
    segments: list[Segment] = []
    span, cursor = root, hi[root.span_id]
    while True:
        sid = span.span_id
        if sid not in kids:
            kids[sid] = _clipped_children(trace, span, lo[sid], hi[sid])
        lst, i = kids[sid], pos[sid]
        while i < len(lst) and lst[i][1] > cursor:
            i += 1
        pos[sid] = i
        if i < len(lst):  # the blocking child
            cs, ce, child = lst[i]
            pos[sid] = i + 1
            if cursor > ce:
                segments.append(Segment(span, ce, cursor))
            lo[child.span_id], hi[child.span_id] = cs, ce
            up[child.span_id] = span
            span, cursor = child, ce
            continue
        if cursor > lo[sid]:
            segments.append(Segment(span, lo[sid], cursor))
        if span is root:
            break
        cursor = lo[sid]
        span = up[sid]
    segments.reverse()
    return CriticalPath(trace.trace_id, root, segments)


def self_time(trace: Trace, span: Span) -> int:
    """``span``'s duration minus the union of its children's (clipped) intervals."""
    lo, hi = span.start_ns, max(span.end_ns, span.start_ns)
    return (hi - lo) - covered(trace.children(span), lo, hi)


def covered(spans: Iterable[Span], lo: int, hi: int) -> int:
    """The length of the union of the spans' intervals, clipped to ``[lo, hi]``."""
    ivs = sorted((max(c.start_ns, lo), min(c.end_ns, hi)) for c in spans)
    total, cur_s, cur_e = 0, None, None
    for s, e in ivs:
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


QUERY_KEYS = ("db.query.text", "db.statement")


def operation_of(span: Span) -> str:
    """How hotspots name an operation: ``service: name`` (``service -> callee: name`` for a
    call that names its callee), plus ``[query]`` for database spans."""
    from .services import peer_name

    q = None
    for k in QUERY_KEYS:
        v = span.attrs.get(k)
        if isinstance(v, str) and v:
            q = v
            break
    peer = peer_name(span) if span.kind in ("client", "producer") else None
    base = f"{span.service or '?'}{' -> ' + peer if peer else ''}: {span.name}"
    return f"{base} [{q}]" if q and q != span.name else base


@dataclass
class Hotspot:
    """One operation (``service[ -> callee]: name [query]``) over all the traces analysed."""

    operation: str
    service: str
    name: str
    query: str | None
    count: int = 0
    total_ns: int = 0
    self_ns: int = 0
    max_ns: int = 0
    critical_ns: int = 0
    durations: list[int] = field(default_factory=list, repr=False)
    span_ids: list[str] = field(default_factory=list, repr=False)  # slowest first, at most 10

    @property
    def avg_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0

    @property
    def avg_self_ns(self) -> float:
        return self.self_ns / self.count if self.count else 0.0

    def quantile(self, q: float) -> int:
        d = sorted(self.durations)
        if not d:
            return 0
        return d[min(len(d) - 1, max(0, int(round(q * (len(d) - 1)))))]

    def to_json(self, critical_total: int) -> dict:
        return {"operation": self.operation, "service": self.service, "name": self.name,
                "query": self.query, "count": self.count, "avg_ns": round(self.avg_ns),
                "p95_ns": self.quantile(0.95), "max_ns": self.max_ns,
                "avg_self_ns": round(self.avg_self_ns), "critical_ns": self.critical_ns,
                "critical_share": round(self.critical_ns / critical_total, 4)
                if critical_total else 0.0,
                "span_ids": self.span_ids}


def hotspots(traces: Iterable[Trace], *, threshold_ns: int | None = None,
             paths: Iterable[CriticalPath] | None = None) -> list[Hotspot]:
    """Operations by time on the critical paths (largest first).

    With ``threshold_ns``, only operations whose *average duration* exceeds it.
    ``paths`` may pass critical paths already computed for ``traces``.
    """
    traces = list(traces)
    ops: dict[str, Hotspot] = {}
    slow: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for t in traces:
        for s in t.spans:
            op = operation_of(s)
            h = ops.get(op)
            if h is None:
                q = next((s.attrs[k] for k in QUERY_KEYS if isinstance(s.attrs.get(k), str)),
                         None)
                h = ops[op] = Hotspot(op, s.service, s.name, q)
            d = max(0, s.end_ns - s.start_ns)
            h.count += 1
            h.total_ns += d
            h.max_ns = max(h.max_ns, d)
            h.self_ns += max(0, self_time(t, s))
            h.durations.append(d)
            slow[op].append((d, s.span_id))
    if paths is None:
        paths = [critical_path(t) for t in traces if t.roots]
    for p in paths:
        for seg in p.segments:
            ops[operation_of(seg.span)].critical_ns += seg.duration_ns
    for op, h in ops.items():
        h.span_ids = [sid for _, sid in sorted(slow[op], key=lambda x: (-x[0], x[1]))[:10]]
    out = list(ops.values())
    if threshold_ns is not None:
        out = [h for h in out if h.avg_ns > threshold_ns]
    out.sort(key=lambda h: (-h.critical_ns, -h.avg_ns, h.operation))
    return out
