"""Wait-for graphs from lock conventions, and deadlock detection by cycle search.

**Conventions** (docs/analysis.md). An *owner* -- whoever holds and waits for
locks -- is the attribute ``lock.owner`` when present (a transaction id, a
thread), else the trace: one request.

1. *Span attributes*: a span with ``lock.name`` = the lock and ``lock.op`` =

   - ``"wait"`` (or ``"acquire"``): the span is the time spent waiting to
     acquire the lock;
   - ``"hold"``: the span is the time the lock is held.

2. *Span events*, on any span: ``lock.wait`` (with attribute ``lock.name``)
   starts waiting; ``lock.acquired`` ends the wait and starts holding;
   ``lock.released`` ends holding. What is still open when the span ends ends
   there. ``lock.owner`` may be set on the event or on the span.

**Wait-for graph.** Owner ``A`` waits for owner ``B`` during the time where
``A`` waits for a lock that ``B`` holds (intervals are half-open,
``[start, end)``). A **deadlock** is a cycle of such edges that are all active
at one instant; it is found by sweeping over time and, whenever an edge
appears, searching the active graph for a path back to its source. The cycle
is the evidence: each edge with its waiting span, its holding span and the
instant from which the whole cycle was blocked.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from tracelogic.ingest.spans import Span

from ._input import SpanEvent, SpanKey

__all__ = ["LockInterval", "WaitEdge", "Deadlock", "lock_intervals", "wait_for_graph",
           "find_deadlocks"]

WAIT_OPS = frozenset({"wait", "acquire"})
HOLD_OPS = frozenset({"hold"})


@dataclass(frozen=True, slots=True)
class LockInterval:
    owner: str
    lock: str
    kind: str  # "wait" | "hold"
    start_ns: int
    end_ns: int
    span: Span


@dataclass(frozen=True, slots=True)
class WaitEdge:
    """``waiter`` waits for ``lock``, held by ``holder``, from ``start_ns`` to ``end_ns``."""

    waiter: str
    holder: str
    lock: str
    start_ns: int
    end_ns: int
    wait: LockInterval
    hold: LockInterval

    def to_json(self) -> dict:
        return {"waiter": self.waiter, "holder": self.holder, "lock": self.lock,
                "start_unix_nano": self.start_ns, "end_unix_nano": self.end_ns,
                "waiting_span": _ref(self.wait.span), "holding_span": _ref(self.hold.span)}


@dataclass
class Deadlock:
    """A cycle of owners, each waiting for a lock the next one holds, all at ``at_ns``."""

    edges: list[WaitEdge]
    at_ns: int
    until_ns: int
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def owners(self) -> list[str]:
        return [e.waiter for e in self.edges]

    @property
    def span_ids(self) -> list[str]:
        out: dict[str, None] = {}
        for e in self.edges:
            out[e.wait.span.span_id] = None
            out[e.hold.span.span_id] = None
        return list(out)

    def describe(self) -> str:
        parts = [f"{self._label(e.waiter)} waits for {e.lock!r} held by {self._label(e.holder)}"
                 for e in self.edges]
        return (f"deadlock between {len(self.edges)} owners for "
                f"{(self.until_ns - self.at_ns) / 1e6:.3f} ms: " + "; ".join(parts))

    def _label(self, owner: str) -> str:
        return self.labels.get(owner, owner)

    def to_json(self) -> dict:
        return {"owners": self.owners, "labels": {o: self._label(o) for o in self.owners},
                "locks": [e.lock for e in self.edges], "from_unix_nano": self.at_ns,
                "until_unix_nano": self.until_ns, "span_ids": self.span_ids,
                "cycle": [e.to_json() for e in self.edges], "message": self.describe()}


def _owner(span: Span, ev: SpanEvent | None = None) -> str:
    for src in ((ev.attrs if ev is not None else {}), span.attrs):
        v = src.get("lock.owner")
        if v is not None and v != "":
            return str(v)
    return span.trace_id


def lock_intervals(spans: Iterable[Span],
                   events: Mapping[SpanKey, tuple[SpanEvent, ...]] | None = None
                   ) -> list[LockInterval]:
    """Every wait and hold interval the conventions of the module docstring describe."""
    events = events or {}
    out: list[LockInterval] = []
    for s in spans:
        lock, op = s.attrs.get("lock.name"), s.attrs.get("lock.op")
        end = max(s.end_ns, s.start_ns)
        if lock is not None and isinstance(op, str):
            kind = "wait" if op in WAIT_OPS else "hold" if op in HOLD_OPS else None
            if kind:
                out.append(LockInterval(_owner(s), str(lock), kind, s.start_ns, end, s))
        evs = events.get(s.key, ())
        if not evs:
            continue
        waiting: dict[tuple[str, str], int] = {}
        holding: dict[tuple[str, str], int] = {}
        for ev in evs:
            name = ev.attrs.get("lock.name")
            if name is None:
                continue
            k = (_owner(s, ev), str(name))
            t = min(max(ev.time_ns, s.start_ns), end)
            if ev.name == "lock.wait":
                waiting.setdefault(k, t)
            elif ev.name == "lock.acquired":
                if k in waiting:
                    out.append(LockInterval(k[0], k[1], "wait", waiting.pop(k), t, s))
                holding.setdefault(k, t)
            elif ev.name == "lock.released":
                if k in holding:
                    out.append(LockInterval(k[0], k[1], "hold", holding.pop(k), t, s))
        for (o, lk), t in waiting.items():
            out.append(LockInterval(o, lk, "wait", t, end, s))
        for (o, lk), t in holding.items():
            out.append(LockInterval(o, lk, "hold", t, end, s))
    return out


def wait_for_graph(intervals: Iterable[LockInterval]) -> list[WaitEdge]:
    """Every wait-for edge with the time it is active (non-empty overlaps only)."""
    waits: dict[str, list[LockInterval]] = defaultdict(list)
    holds: dict[str, list[LockInterval]] = defaultdict(list)
    for iv in intervals:
        (waits if iv.kind == "wait" else holds)[iv.lock].append(iv)
    edges = []
    for lock, ws in waits.items():
        hs = sorted(holds.get(lock, ()), key=lambda h: h.start_ns)
        for w in ws:
            for h in hs:
                if h.start_ns >= w.end_ns:
                    break
                if h.owner == w.owner:
                    continue
                a, b = max(w.start_ns, h.start_ns), min(w.end_ns, h.end_ns)
                if a < b:
                    edges.append(WaitEdge(w.owner, h.owner, lock, a, b, w, h))
    edges.sort(key=lambda e: (e.start_ns, e.waiter, e.holder, e.lock))
    return edges


def find_deadlocks(spans: Iterable[Span],
                   events: Mapping[SpanKey, tuple[SpanEvent, ...]] | None = None
                   ) -> list[Deadlock]:
    """Deadlocks among ``spans``: cycles of simultaneously active wait-for edges.

    Each distinct cycle (by its set of ``(waiter, lock, holder)`` edges) is reported
    once, at the first instant it is complete.
    """
    spans = list(spans)
    intervals = lock_intervals(spans, events)
    edges = wait_for_graph(intervals)
    labels = _labels(spans, intervals)
    # sweep: at each instant, first drop edges that ended, then add the new ones
    timeline = sorted({e.start_ns for e in edges})
    active = nx.MultiDiGraph()
    ending: list[tuple[int, int, str, str, int]] = []  # heap of (end, seq, u, v, key)
    found: dict[frozenset, Deadlock] = {}
    i = 0
    for t in timeline:
        while ending and ending[0][0] <= t:
            _, _, u, v, key = heapq.heappop(ending)
            active.remove_edge(u, v, key)
        while i < len(edges) and edges[i].start_ns == t:
            e = edges[i]
            key = active.add_edge(e.waiter, e.holder, edge=e)
            heapq.heappush(ending, (e.end_ns, i, e.waiter, e.holder, key))
            i += 1
            try:
                back = nx.shortest_path(active, e.holder, e.waiter)
            except nx.NetworkXNoPath:
                continue
            cycle = [e]
            for u, v in zip(back, back[1:]):
                cand = [d["edge"] for d in active.get_edge_data(u, v).values()]
                cycle.append(min(cand, key=lambda x: (x.start_ns, x.lock)))
            sig = frozenset((c.waiter, c.lock, c.holder) for c in cycle)
            if sig in found:
                continue
            # rotate so the cycle starts at the smallest owner, for stable output
            k = min(range(len(cycle)), key=lambda j: cycle[j].waiter)
            cycle = cycle[k:] + cycle[:k]
            found[sig] = Deadlock(cycle, max(c.start_ns for c in cycle),
                                  min(c.end_ns for c in cycle),
                                  {c.waiter: labels.get(c.waiter, c.waiter) for c in cycle})
    return sorted(found.values(), key=lambda d: (d.at_ns, d.owners))


def _labels(spans: list[Span], intervals: Iterable[LockInterval] = ()) -> dict[str, str]:
    """How owners read: a trace id as ``service:root-name (trace abcd1234)``; a
    ``lock.owner`` as ``tx-1 (service db)``, the services its lock spans came from."""
    roots: dict[str, Span] = {}
    for s in spans:
        if not s.parent_id:
            roots.setdefault(s.trace_id, s)
    out = {tid: f"{r.service or '?'}:{r.name} (trace {tid[:8]})" for tid, r in roots.items()}
    services: dict[str, set[str]] = defaultdict(set)
    for iv in intervals:
        if iv.owner not in out and iv.span.service:
            services[iv.owner].add(iv.span.service)
    for owner, names in services.items():
        out[owner] = f"{owner} (service {', '.join(sorted(names))})"
    return out


def _ref(s: Span) -> dict:
    return {"trace_id": s.trace_id, "span_id": s.span_id, "name": s.name, "service": s.service}
