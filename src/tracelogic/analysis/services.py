"""Service dependency graph, and root-cause ranking of services for a set of symptoms.

**Dependency graph.** A call is a ``client`` (or ``producer``) span of service
``A``. Its callee is the service of its ``server`` (or ``consumer``) children;
with no instrumented child, the callee is named from the span's attributes:
``peer.service``, else ``db.system`` (with ``/db.namespace`` or ``/db.name``),
else ``server.address``, else ``"?"``; such nodes are marked uninstrumented.
A ``consumer`` span linking to a ``producer`` span of another service is an
asynchronous call too. Each edge ``A -> B`` counts calls, failed calls (the
client span or the server span has status ``error``) and the callers' latencies.

**Blame chain.** For one symptom span (a violation's witness), descend to the
span that explains it, one step at a time:

- an ``error`` span with ``error`` children blames the longest such child;
  a failed call (``client``/``producer``) without failed children blames its
  callee's span (a timeout, or an error reply); any other ``error`` span
  without failed children failed on its own: the descent stops;
- a span without error (a latency symptom) groups its children by destination
  (calls by callee service or peer, other children one by one); a group whose
  intervals together cover at least :data:`DOMINANCE` of the span's duration is
  blamed, through its longest child: the span mostly waited for it; otherwise the
  descent stops;
- where the descent stops, the span's service is to blame, unless the span is a
  call with no instrumented callee: then the callee (e.g. the database) is.

The services along the descent form the **explanation chain**
(``gateway -> orders -> inventory -> inventory-db``); the last one *stops* the
blame, the others *pass* it on.

**Ranking.** A personalised PageRank runs on the graph of blame transfers (each
``A -> B`` weighted by how often blame passed from ``A`` to ``B``, plus a small
weight from the dependency graph's error rates so that every call edge is
walkable), restarting at the symptoms' services in proportion to their symptom
counts. A service's rank is its PageRank mass times ``0.1 + 0.9 * stop share``,
where the stop share is the fraction of the blame reaching it that stops there:
a service whose errors its own downstreams explain is demoted.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import Span

from ._input import group_traces
from .critical_path import covered

__all__ = ["EdgeStats", "ServiceGraph", "service_graph", "Hop", "blame_chain", "Ranked",
           "RootCause", "root_cause", "peer_name", "DOMINANCE", "personalized_pagerank"]

DOMINANCE = 0.5
_CALLS = frozenset({"client", "producer"})
_HANDLERS = frozenset({"server", "consumer"})


def peer_name(span: Span) -> str | None:
    """The callee a call span names by attributes (for callees without spans)."""
    a = span.attrs
    v = a.get("peer.service")
    if isinstance(v, str) and v:
        return v
    db = a.get("db.system")
    if isinstance(db, str) and db:
        ns = a.get("db.namespace") or a.get("db.name")
        return f"{db}/{ns}" if isinstance(ns, str) and ns else db
    v = a.get("server.address") or a.get("net.peer.name")
    if isinstance(v, str) and v:
        return v
    return None


@dataclass
class EdgeStats:
    caller: str
    callee: str
    calls: int = 0
    errors: int = 0
    durations: list[int] = field(default_factory=list, repr=False)
    asynchronous: bool = False
    examples: list[str] = field(default_factory=list, repr=False)  # failing first

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def quantile(self, q: float) -> int:
        d = sorted(self.durations)
        if not d:
            return 0
        return d[min(len(d) - 1, max(0, int(round(q * (len(d) - 1)))))]

    @property
    def avg_ns(self) -> float:
        return sum(self.durations) / len(self.durations) if self.durations else 0.0

    def describe(self) -> str:
        return (f"{self.caller} -> {self.callee}: {self.errors}/{self.calls} calls failed, "
                f"p50 {self.quantile(0.5) / 1e6:.1f} ms, p95 {self.quantile(0.95) / 1e6:.1f} ms")

    def to_json(self) -> dict:
        return {"caller": self.caller, "callee": self.callee, "calls": self.calls,
                "errors": self.errors, "error_rate": round(self.error_rate, 4),
                "avg_ns": round(self.avg_ns), "p50_ns": self.quantile(0.5),
                "p95_ns": self.quantile(0.95), "asynchronous": self.asynchronous,
                "example_span_ids": self.examples[:5]}


@dataclass
class ServiceGraph:
    """``graph`` has one node per service (``instrumented``, ``spans``, ``errors``) and
    one edge per caller/callee pair (``stats``: :class:`EdgeStats`)."""

    graph: nx.DiGraph

    def edge(self, a: str, b: str) -> EdgeStats | None:
        d = self.graph.get_edge_data(a, b)
        return d["stats"] if d else None

    @property
    def edges(self) -> list[EdgeStats]:
        return sorted((d["stats"] for _, _, d in self.graph.edges(data=True)),
                      key=lambda e: (e.caller, e.callee))

    def to_json(self) -> dict:
        return {"services": [{"name": n, "instrumented": d.get("instrumented", True),
                              "spans": d.get("spans", 0), "errors": d.get("errors", 0)}
                             for n, d in sorted(self.graph.nodes(data=True))],
                "edges": [e.to_json() for e in self.edges]}

    def to_dot(self) -> str:
        lines = ["digraph services {", "  rankdir=LR;"]
        for n, d in sorted(self.graph.nodes(data=True)):
            shape = "box" if d.get("instrumented", True) else "cylinder"
            lines.append(f'  "{_esc(n)}" [shape={shape}];')
        for e in self.edges:
            style = ", style=dashed" if e.asynchronous else ""
            color = ", color=red" if e.errors else ""
            lines.append(f'  "{_esc(e.caller)}" -> "{_esc(e.callee)}" [label="{e.calls} calls, '
                         f'{e.error_rate:.0%} err, p95 {e.quantile(0.95) / 1e6:.0f} ms"'
                         f"{style}{color}];")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _callees(trace: Trace, span: Span) -> list[Span]:
    return [c for c in trace.children(span) if c.kind in _HANDLERS]


def service_graph(traces: Iterable[Trace]) -> ServiceGraph:
    """The dependency graph of the services in ``traces`` (see the module docstring)."""
    traces = list(traces)
    g = nx.DiGraph()
    index: dict[tuple[str, str], Span] = {}
    linked: set[tuple[str, str]] = set()  # producers some consumer links to
    for t in traces:
        for s in t.spans:
            index[s.key] = s
            if s.kind == "consumer":
                linked.update(s.links)

    def node(name: str, instrumented: bool) -> None:
        if name not in g:
            g.add_node(name, instrumented=instrumented, spans=0, errors=0)
        elif instrumented:
            g.nodes[name]["instrumented"] = True

    def call(a: str, b: str, failed: bool, duration: int, sid: str, asynchronous: bool) -> None:
        if not g.has_edge(a, b):
            g.add_edge(a, b, stats=EdgeStats(a, b, asynchronous=asynchronous))
        st: EdgeStats = g.edges[a, b]["stats"]
        st.calls += 1
        st.errors += failed
        st.durations.append(max(0, duration))
        if failed:
            st.examples.insert(0, sid) if len(st.examples) < 20 else None
        elif len(st.examples) < 20:
            st.examples.append(sid)

    for t in traces:
        for s in t.spans:
            svc = s.service or "?"
            node(svc, True)
            g.nodes[svc]["spans"] += 1
            g.nodes[svc]["errors"] += s.status == "error"
            if s.kind in _CALLS:
                handlers = _callees(t, s)
                if handlers:
                    for h in handlers:
                        node(h.service or "?", True)
                        call(svc, h.service or "?", s.status == "error" or h.status == "error",
                             s.end_ns - s.start_ns, s.span_id, s.kind == "producer")
                elif s.kind == "client" or s.key not in linked:
                    peer = peer_name(s) or "?"
                    node(peer, False)
                    call(svc, peer, s.status == "error", s.end_ns - s.start_ns, s.span_id,
                         s.kind == "producer")
            if s.kind == "consumer":
                for key in s.links:
                    p = index.get(key)
                    if p is not None and p.kind == "producer" and p.service != s.service:
                        call(p.service or "?", svc, s.status == "error", s.end_ns - s.start_ns,
                             s.span_id, True)
    return ServiceGraph(g)


# ------------------------------------------------------------------------ blame

@dataclass(frozen=True)
class Hop:
    """One service on an explanation chain, with the span that shows it."""

    service: str
    span: Span
    reason: str  # "symptom" | "error" | "timeout" | "waited" | "callee"

    def to_json(self) -> dict:
        return {"service": self.service, "span_id": self.span.span_id,
                "trace_id": self.span.trace_id, "name": self.span.name, "reason": self.reason,
                "status": self.span.status, "duration_ns": self.span.end_ns - self.span.start_ns}


def _culprit(trace: Trace, span: Span) -> tuple[Span, str] | None:
    lo, hi = span.start_ns, max(span.end_ns, span.start_ns)
    dur = hi - lo
    kids = []
    for c in trace.children(span):
        cov = min(c.end_ns, hi) - max(c.start_ns, lo)
        kids.append((max(0, cov), c))
    longest = lambda xs: max(xs, key=lambda x: (x[0], x[1].end_ns, x[1].span_id))[1]  # noqa: E731
    if span.status == "error":
        bad = [(cov, c) for cov, c in kids if c.status == "error"]
        if bad:
            return longest(bad), "error"
        if span.kind in _CALLS:
            # a failed call whose callee did not fail: a timeout, or an error reply
            handlers = [(cov, c) for cov, c in kids if c.kind in _HANDLERS]
            if handlers:
                return longest(handlers), "timeout"
        return None  # its own error: the children did not fail
    if dur > 0 and kids:
        # group the children by where they went: calls by callee, other spans alone; a
        # callee that took most of the span's time together (ten 60 ms queries in a
        # 700 ms span) is blamed, through its longest call
        groups: dict[object, list[tuple[int, Span]]] = defaultdict(list)
        for cov, c in kids:
            groups[_destination(trace, c)].append((cov, c))
        best = max(groups.values(), key=lambda g: (_covered(g, lo, hi), longest(g).end_ns,
                                                   longest(g).span_id))
        if _covered(best, lo, hi) >= DOMINANCE * dur:
            return longest(best), "waited"
    return None


def _destination(trace: Trace, span: Span) -> object:
    if span.kind in _CALLS:
        handlers = _callees(trace, span)
        if handlers:
            return ("service", handlers[0].service)
        return ("peer", peer_name(span) or span.span_id)
    return ("span", span.span_id)


def _covered(group: list[tuple[int, Span]], lo: int, hi: int) -> int:
    """The union of the group's intervals, clipped to ``[lo, hi]``."""
    return covered((c for _, c in group), lo, hi)


def blame_chain(trace: Trace, symptom: Span) -> list[Hop]:
    """The explanation chain of ``symptom`` (see the module docstring); iterative."""
    hops = [Hop(symptom.service or "?", symptom, "symptom")]
    cur = symptom
    seen = {cur.span_id}
    while True:
        nxt = _culprit(trace, cur)
        if nxt is None or nxt[0].span_id in seen:
            break
        cur, why = nxt
        seen.add(cur.span_id)
        svc = cur.service or "?"
        if svc != hops[-1].service:
            hops.append(Hop(svc, cur, why))
    if cur.kind in _CALLS and not _callees(trace, cur):
        peer = peer_name(cur)
        if peer is not None and peer != hops[-1].service:
            hops.append(Hop(peer, cur, "callee"))
            return hops
    return hops


def personalized_pagerank(g: nx.DiGraph, seeds: dict[str, float], *, alpha: float = 0.85,
                          weight: str = "weight", tol: float = 1e-12,
                          max_iter: int = 1000) -> dict[str, float]:
    """PageRank restarting at ``seeds`` (normalised); dangling mass restarts there too.

    Power iteration in pure Python, so no SciPy is needed.
    """
    nodes = list(g.nodes)
    if not nodes:
        return {}
    total = sum(seeds.get(n, 0.0) for n in nodes)
    if total <= 0:
        p = {n: 1.0 / len(nodes) for n in nodes}
    else:
        p = {n: seeds.get(n, 0.0) / total for n in nodes}
    out_w = {n: sum(d.get(weight, 1.0) for _, _, d in g.out_edges(n, data=True)) for n in nodes}
    x = dict(p)
    for _ in range(max_iter):
        nxt = {n: (1 - alpha) * p[n] for n in nodes}
        dangling = sum(x[n] for n in nodes if out_w[n] <= 0)
        for n in nodes:
            if out_w[n] <= 0:
                continue
            share = alpha * x[n] / out_w[n]
            for _, m, d in g.out_edges(n, data=True):
                nxt[m] += share * d.get(weight, 1.0)
        for n in nodes:
            nxt[n] += alpha * dangling * p[n]
        err = sum(abs(nxt[n] - x[n]) for n in nodes)
        x = nxt
        if err < tol * len(nodes):
            break
    return x


@dataclass
class Ranked:
    service: str
    score: float
    pagerank: float
    stops: int
    passes: int
    symptoms: int
    chain: list[Hop] = field(default_factory=list)  # the longest chain ending here
    chains: int = 0  # how many chains end here

    @property
    def stop_share(self) -> float:
        n = self.stops + self.passes
        return self.stops / n if n else 0.0

    def to_json(self) -> dict:
        return {"service": self.service, "score": round(self.score, 6),
                "pagerank": round(self.pagerank, 6), "stops": self.stops,
                "passes": self.passes, "symptoms": self.symptoms, "chains": self.chains,
                "chain": [h.to_json() for h in self.chain]}


@dataclass
class RootCause:
    ranking: list[Ranked]
    graph: ServiceGraph
    symptoms: list[Span]
    chains: list[list[Hop]]
    unexplained: list[str] = field(default_factory=list)  # symptom span ids not found

    @property
    def top(self) -> Ranked | None:
        return self.ranking[0] if self.ranking else None

    def explain(self, ranked: Ranked | None = None) -> list[str]:
        """The explanation chain of ``ranked`` (default: the top service), one line per hop."""
        r = ranked or self.top
        if r is None:
            return []
        lines = []
        for i, h in enumerate(r.chain):
            s = h.span
            what = (f"{s.name} {s.status}" if s.status == "error" else s.name)
            line = f"{h.service}: {what}, {(s.end_ns - s.start_ns) / 1e6:.1f} ms ({s.span_id})"
            if i:
                prev = r.chain[i - 1].service
                e = self.graph.edge(prev, h.service)
                if e is not None:
                    line += f"; calls {prev} -> {h.service}: {e.errors}/{e.calls} failed, " \
                            f"p95 {e.quantile(0.95) / 1e6:.1f} ms"
            lines.append(line)
        return lines

    def to_json(self) -> dict:
        return {"ranking": [r.to_json() for r in self.ranking],
                "symptoms": [s.span_id for s in self.symptoms],
                "unexplained": self.unexplained,
                "explanation": self.explain(), "graph": self.graph.to_json()}


def root_cause(traces: Sequence[Trace] | Iterable[Span], symptoms: Iterable[Span | str], *,
               service_symptoms: dict[str, float] | None = None,
               graph: ServiceGraph | None = None) -> RootCause:
    """Rank services as the root cause of ``symptoms`` (spans or span ids).

    ``service_symptoms`` adds symptoms that have no span (a metric invariant violated
    by a service) as restart weight for that service. ``traces`` may be
    :class:`Trace` objects or plain spans.
    """
    items = list(traces)
    trs = items if not items or isinstance(items[0], Trace) else group_traces(items)
    by_span: dict[str, tuple[Trace, Span]] = {}
    for t in trs:
        for s in t.spans:
            by_span[s.span_id] = (t, s)
    graph = graph or service_graph(trs)
    found: list[Span] = []
    missing: list[str] = []
    for x in symptoms:
        sid = x if isinstance(x, str) else x.span_id
        if sid in by_span:
            found.append(by_span[sid][1])
        else:
            missing.append(sid)
    found = list({s.span_id: s for s in found}.values())
    chains = [blame_chain(by_span[s.span_id][0], s) for s in found]
    stops: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    seeds: Counter[str] = Counter()
    transfers: Counter[tuple[str, str]] = Counter()
    for ch in chains:
        seeds[ch[0].service] += 1
        stops[ch[-1].service] += 1
        for a, b in zip(ch, ch[1:]):
            passes[a.service] += 1
            transfers[(a.service, b.service)] += 1
    for svc, w in (service_symptoms or {}).items():
        seeds[svc] += w
        stops[svc] += w  # a service's own metric is its own problem
    h = nx.DiGraph()
    h.add_nodes_from(graph.graph.nodes)
    h.add_nodes_from(seeds)
    n_chains = max(1, len(chains))
    for e in graph.edges:
        w = 0.05 * e.error_rate
        if w > 0:
            h.add_edge(e.caller, e.callee, weight=w)
    for (a, b), c in transfers.items():
        w = c / n_chains
        if h.has_edge(a, b):
            h.edges[a, b]["weight"] += w
        else:
            h.add_edge(a, b, weight=w)
    pr = personalized_pagerank(h, dict(seeds)) if seeds else {}
    ends: dict[str, Counter] = defaultdict(Counter)
    example: dict[tuple, list[Hop]] = {}
    for ch in chains:
        sig = tuple(x.service for x in ch)
        ends[ch[-1].service][sig] += 1
        example.setdefault(sig, ch)
    ranking = []
    involved = set(stops) | set(passes) | set(seeds)
    for svc in h.nodes:
        if svc not in involved and pr.get(svc, 0.0) <= 0:
            continue
        n = stops[svc] + passes[svc]
        share = stops[svc] / n if n else 0.0
        score = pr.get(svc, 0.0) * (0.1 + 0.9 * share)
        # the representative chain: the longest one ending here (the whole propagation
        # path), then the most common
        sigs = sorted(ends[svc].items(), key=lambda kv: (-len(kv[0]), -kv[1], kv[0]))
        chain = example[sigs[0][0]] if sigs else []
        ranking.append(Ranked(svc, score, pr.get(svc, 0.0), stops[svc], passes[svc],
                              int(seeds[svc]), chain, sum(ends[svc].values())))
    total = sum(r.score for r in ranking) or 1.0
    for r in ranking:
        r.score /= total
    ranking.sort(key=lambda r: (-r.score, -r.stops, r.service))
    ranking = [r for r in ranking if r.score > 0 or r.stops or r.symptoms]
    return RootCause(ranking, graph, found, chains, missing)
