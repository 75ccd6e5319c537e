"""The happens-before graph of a set of spans, and checks on it.

**Nodes** are instants of spans: ``(trace_id, span_id, "start")``,
``(trace_id, span_id, "end")`` and ``(trace_id, span_id, i)`` for the span's
``i``-th event (in time order) when event details are known. Each node carries
its timestamp (``time``).

**Edges** (attribute ``kind``) come from structure, never from comparing
timestamps across clocks:

======== ================================================================
kind     edge
======== ================================================================
span     ``s.start -> s's events in time order -> s.end``
child    ``parent.start -> child.start``
return   ``child.end -> parent.end``, for synchronous children: not when the
         parent is a ``producer`` or the child a ``consumer`` (asynchronous), nor
         when the parent is a failed ``client`` call (it may have timed out or
         been cancelled, and stopped waiting for the server)
sibling  ``a.end -> b.start`` for children ``a``, ``b`` of one parent, of the
         parent's own service, when ``a`` ended no later than ``b`` started:
         one process observed both on one clock. (Built through a chain of
         ``clock`` nodes, one per distinct end time, so the graph stays linear;
         a zero-length child is ordered after earlier siblings only.)
link     ``target.start -> s.start`` for each span link of ``s`` to a span present
message  RPC message events (OpenTelemetry RPC conventions): an event named
         ``message`` with ``message.type`` ``SENT`` on one span and ``RECEIVED``
         with the same ``message.id`` on its parent or child is an edge from the
         send to the receive; and a ``producer`` span and a ``consumer`` span with
         the same ``messaging.message.id`` give ``producer.start -> consumer.start``
======== ================================================================

**Checks** (:func:`check_causality`):

- *acyclic*: a cycle means the structure contradicts itself (a parent chain that
  loops, links in a circle); each strongly connected component is reported with
  its spans;
- *clock skew*: a structural edge whose target's timestamp is earlier than its
  source's (a child starting before its parent, a synchronous child ending after
  its parent, a message received before it was sent), with the amount and the
  pair of services, and a per-service-pair summary;
- *broken causal chains*: a trace whose spans fall into several weakly connected
  components (lost context propagation, a parent that never arrived).
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from tracelogic.ingest.spans import Span

from ._input import SpanEvent, SpanKey, group_traces

__all__ = ["HappensBefore", "happens_before", "CausalityReport", "Skew", "BrokenChain",
           "CausalCycle", "check_causality"]

Node = tuple[str, str, Any]

_ASYNC_PARENT = frozenset({"producer"})
_ASYNC_CHILD = frozenset({"consumer"})


class HappensBefore:
    """The happens-before graph (``graph``, a networkx ``DiGraph``) over span instants."""

    def __init__(self, graph: nx.DiGraph, spans: Mapping[SpanKey, Span]):
        self.graph = graph
        self.spans = dict(spans)
        self._reach: dict[Node, frozenset[Node]] = {}

    @staticmethod
    def start(span: Span) -> Node:
        return (span.trace_id, span.span_id, "start")

    @staticmethod
    def end(span: Span) -> Node:
        return (span.trace_id, span.span_id, "end")

    def reaches(self, a: Node, b: Node) -> bool:
        """Whether there is a path from ``a`` to ``b`` (``a`` happens before ``b``)."""
        if a == b:
            return True
        r = self._reach.get(a)
        if r is None:
            if len(self._reach) > 256:
                self._reach.clear()
            r = self._reach[a] = frozenset(nx.descendants(self.graph, a))
        return b in r

    def before(self, a: Span, b: Span) -> bool:
        """``a`` ended before ``b`` started, causally: ``a.end`` happens before ``b.start``."""
        return self.reaches(self.end(a), self.start(b))

    def nested(self, a: Span, b: Span) -> bool:
        """One of the two spans causally contains the other (e.g. an ancestor)."""
        return ((self.reaches(self.start(a), self.start(b))
                 and self.reaches(self.end(b), self.end(a)))
                or (self.reaches(self.start(b), self.start(a))
                    and self.reaches(self.end(a), self.end(b))))

    def ordered(self, a: Span, b: Span) -> bool:
        """``a`` before ``b``, ``b`` before ``a``, or one nested in the other."""
        return self.before(a, b) or self.before(b, a) or self.nested(a, b)

    def __repr__(self) -> str:
        return (f"<HappensBefore {len(self.spans)} spans, {self.graph.number_of_nodes()} nodes, "
                f"{self.graph.number_of_edges()} edges>")


def happens_before(spans: Iterable[Span],
                   events: Mapping[SpanKey, tuple[SpanEvent, ...]] | None = None
                   ) -> HappensBefore:
    """Build the happens-before graph of ``spans`` (see the module docstring)."""
    events = events or {}
    g = nx.DiGraph()
    by_key: dict[SpanKey, Span] = {}
    for s in spans:
        by_key.setdefault((s.trace_id, s.span_id), s)
    msg_send: dict[tuple[SpanKey, Any], Node] = {}
    msg_recv: dict[tuple[SpanKey, Any], Node] = {}
    producers: dict[Any, list[Span]] = defaultdict(list)
    consumers: dict[Any, list[Span]] = defaultdict(list)
    for key, s in by_key.items():
        st, en = (*key, "start"), (*key, "end")
        g.add_node(st, time=s.start_ns)
        g.add_node(en, time=s.end_ns)
        prev = st
        for i, ev in enumerate(events.get(key, ())):
            n = (*key, i)
            g.add_node(n, time=ev.time_ns, event=ev.name)
            g.add_edge(prev, n, kind="span")
            prev = n
            if ev.name == "message":
                mtype = str(ev.attrs.get("message.type", "")).upper()
                mid = ev.attrs.get("message.id")
                if mid is not None:
                    (msg_send if mtype == "SENT" else msg_recv if mtype == "RECEIVED"
                     else {})[(key, mid)] = n
        g.add_edge(prev, en, kind="span")
        mm = s.attrs.get("messaging.message.id")
        if mm is not None:
            if s.kind == "producer":
                producers[mm].append(s)
            elif s.kind == "consumer":
                consumers[mm].append(s)
    children: dict[SpanKey, list[Span]] = defaultdict(list)
    for key, s in by_key.items():
        if s.parent_id:
            p = by_key.get((s.trace_id, s.parent_id))
            if p is not None:
                children[(p.trace_id, p.span_id)].append(s)
                g.add_edge((*p.key, "start"), (*key, "start"), kind="child")
                if (p.kind not in _ASYNC_PARENT and s.kind not in _ASYNC_CHILD
                        and not (p.kind == "client" and p.status == "error")):
                    g.add_edge((*key, "end"), (*p.key, "end"), kind="return")
        for t_key in s.links:
            t = by_key.get(t_key)
            if t is not None and t is not s:
                g.add_edge((*t_key, "start"), (*key, "start"), kind="link")
    # message events: sends and receives with one id on a parent/child pair
    for (key, mid), n in msg_send.items():
        s = by_key[key]
        partners = list(children.get(key, ()))
        if s.parent_id and (s.trace_id, s.parent_id) in by_key:
            partners.append(by_key[(s.trace_id, s.parent_id)])
        for o in partners:
            r = msg_recv.get((o.key, mid))
            if r is not None:
                g.add_edge(n, r, kind="message")
    for mid, prods in producers.items():
        for p in prods:
            for c in consumers.get(mid, ()):
                g.add_edge((*p.key, "start"), (*c.key, "start"), kind="message")
    # same-clock siblings of the parent's own service, through a chain of clock nodes
    # (one per distinct end time) so the edges stay linear in the number of children
    for pkey, kids in children.items():
        service = by_key[pkey].service
        mine = [c for c in kids if c.service == service]
        if len(mine) < 2:
            continue
        ends = sorted({c.end_ns for c in mine if c.end_ns > c.start_ns})
        if not ends:
            continue
        clock = [(*pkey, ("clock", j)) for j in range(len(ends))]
        index = {t: j for j, t in enumerate(ends)}
        for j, n in enumerate(clock):
            g.add_node(n, time=ends[j], clock=True)
            if j:
                g.add_edge(clock[j - 1], n, kind="sibling")
        for c in mine:
            if c.end_ns > c.start_ns:  # a zero-length span only receives, or it would loop
                g.add_edge((*c.key, "end"), clock[index[c.end_ns]], kind="sibling")
            j = bisect.bisect_right(ends, c.start_ns) - 1
            if j >= 0:
                g.add_edge(clock[j], (*c.key, "start"), kind="sibling")
    return HappensBefore(g, by_key)


# ------------------------------------------------------------------------- checks

@dataclass(frozen=True)
class Skew:
    """A structural edge that goes backwards in time by ``amount_ns``."""

    kind: str  # child_starts_before_parent | child_ends_after_parent | link | message
    source: Span
    target: Span
    amount_ns: int

    def describe(self) -> str:
        ms = self.amount_ns / 1e6
        if self.kind == "child_starts_before_parent":
            return (f"{_who(self.target)} starts {ms:.3f} ms before its parent "
                    f"{_who(self.source)}")
        if self.kind == "child_ends_after_parent":
            return (f"synchronous child {_who(self.source)} ends {ms:.3f} ms after its "
                    f"parent {_who(self.target)}")
        if self.kind == "link":
            return (f"{_who(self.target)} starts {ms:.3f} ms before {_who(self.source)}, "
                    "which it links to")
        return (f"{_who(self.target)} receives a message {ms:.3f} ms before "
                f"{_who(self.source)} sent it")

    def to_json(self) -> dict:
        return {"kind": self.kind, "amount_ns": self.amount_ns,
                "source": _ref(self.source), "target": _ref(self.target),
                "message": self.describe()}


@dataclass(frozen=True)
class BrokenChain:
    """A trace whose spans form several causally disconnected parts."""

    trace_id: str
    parts: list[list[Span]]  # each part's spans, its top span first

    def describe(self) -> str:
        tops = []
        for part in self.parts:
            top = part[0]
            why = (f"parent {top.parent_id} never arrived" if top.parent_id
                   else "a root")
            tops.append(f"{_who(top)} ({why}, {len(part)} span(s))")
        return (f"trace {self.trace_id} falls into {len(self.parts)} disconnected parts: "
                + "; ".join(tops))

    def to_json(self) -> dict:
        return {"trace_id": self.trace_id, "message": self.describe(),
                "parts": [{"top": _ref(p[0]), "missing_parent": p[0].parent_id or None,
                           "span_ids": [s.span_id for s in p]} for p in self.parts]}


@dataclass(frozen=True)
class CausalCycle:
    """Spans whose instants happen before themselves."""

    spans: list[Span]
    kinds: list[str]

    def describe(self) -> str:
        return ("happens-before cycle through " + " -> ".join(_who(s) for s in self.spans)
                + f" (edges: {', '.join(sorted(set(self.kinds)))})")

    def to_json(self) -> dict:
        return {"span_ids": [s.span_id for s in self.spans], "edge_kinds": sorted(set(self.kinds)),
                "message": self.describe()}


@dataclass
class CausalityReport:
    spans: int
    cycles: list[CausalCycle] = field(default_factory=list)
    skews: list[Skew] = field(default_factory=list)
    broken: list[BrokenChain] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.cycles or self.skews or self.broken)

    def skew_by_services(self) -> list[tuple[str, str, int, int]]:
        """``(source service, target service, count, max skew ns)``, worst first."""
        acc: dict[tuple[str, str], list[int]] = defaultdict(list)
        for s in self.skews:
            acc[(s.source.service, s.target.service)].append(s.amount_ns)
        return sorted(((a, b, len(v), max(v)) for (a, b), v in acc.items()),
                      key=lambda r: (-r[3], r[0], r[1]))

    def to_json(self) -> dict:
        return {"acyclic": not self.cycles, "cycles": [c.to_json() for c in self.cycles],
                "clock_skew": [s.to_json() for s in self.skews],
                "skew_by_services": [{"source_service": a, "target_service": b, "count": n,
                                      "max_ns": m} for a, b, n, m in self.skew_by_services()],
                "broken_chains": [b.to_json() for b in self.broken]}


def check_causality(spans: Iterable[Span],
                    events: Mapping[SpanKey, tuple[SpanEvent, ...]] | None = None, *,
                    tolerance_ns: int = 0, hb: HappensBefore | None = None) -> CausalityReport:
    """Run the three checks of the module docstring over ``spans``.

    A skew is reported only when it exceeds ``tolerance_ns``.
    """
    spans = list(spans)
    hb = hb or happens_before(spans, events)
    g = hb.graph
    rep = CausalityReport(spans=len(hb.spans))
    if not nx.is_directed_acyclic_graph(g):
        for comp in nx.strongly_connected_components(g):
            if len(comp) < 2:
                continue
            sub = g.subgraph(comp)
            cyc = nx.find_cycle(sub)
            seen: dict[SpanKey, Span] = {}
            for u, _v in cyc:
                seen.setdefault(u[:2], hb.spans[u[:2]])
            rep.cycles.append(CausalCycle(list(seen.values()),
                                          [g.edges[u, v]["kind"] for u, v in cyc]))
        rep.cycles.sort(key=lambda c: [s.span_id for s in c.spans])
    for u, v, kind in g.edges(data="kind"):
        if kind in ("span", "sibling"):
            continue
        tu, tv = g.nodes[u]["time"], g.nodes[v]["time"]
        if tu - tv <= tolerance_ns:
            continue
        a, b = hb.spans[u[:2]], hb.spans[v[:2]]
        name = {"child": "child_starts_before_parent", "return": "child_ends_after_parent",
                "link": "link", "message": "message"}[kind]
        rep.skews.append(Skew(name, a, b, tu - tv))
    rep.skews.sort(key=lambda s: (-s.amount_ns, s.source.span_id, s.target.span_id))
    rep.broken = _broken_chains(hb)
    return rep


def _broken_chains(hb: HappensBefore) -> list[BrokenChain]:
    # union-find over spans, joined by every edge inside one trace
    parent: dict[SpanKey, SpanKey] = {k: k for k in hb.spans}

    def find(x: SpanKey) -> SpanKey:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in hb.graph.edges():
        a, b = u[:2], v[:2]
        if a != b and a[0] == b[0]:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    out = []
    for t in group_traces(hb.spans.values()):
        parts: dict[SpanKey, list[Span]] = defaultdict(list)
        for s in t.spans:
            parts[find(s.key)].append(s)
        if len(parts) < 2:
            continue
        ordered = []
        for members in parts.values():
            ids = {m.span_id for m in members}
            tops = [m for m in members if m.parent_id not in ids]
            top = min(tops or members, key=lambda m: (m.start_ns, m.span_id))
            rest = sorted((m for m in members if m is not top),
                          key=lambda m: (m.start_ns, m.span_id))
            ordered.append([top] + rest)
        ordered.sort(key=lambda p: (p[0].start_ns, p[0].span_id))
        out.append(BrokenChain(t.trace_id, ordered))
    return out


def _who(s: Span) -> str:
    return f"{s.service or '?'}:{s.name} ({s.span_id})"


def _ref(s: Span) -> dict:
    return {"trace_id": s.trace_id, "span_id": s.span_id, "name": s.name, "service": s.service}
