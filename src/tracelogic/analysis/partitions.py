"""Network partitions: groups of services that others could not reach, and when.

Calls are ``client``/``producer`` spans. The callee is the service of the call's
``server``/``consumer`` child, else the one its attributes name (``peer.service``,
``db.system``, ``server.address``: see :func:`.services.peer_name`) -- a call that
never arrived has no child, so instrument calls with ``peer.service``.

Time is cut into windows (``window_ns``, aligned to multiples of it since the
epoch). In each window, services that *reached* each other -- a call that succeeded,
or at least arrived (the callee recorded a ``server`` span: a service answering
with errors is reachable, merely failing) -- are joined, directly or through
others. Of the resulting groups, the main side is the one where requests come in
(most ``server`` spans without a parent in the window), then the largest, then
the one that made the most calls; every other group into which at least ``min_failed``
calls from outside were lost is **cut off**. A cut-off service that still recorded
spans of its own in the window is **partitioned** (it runs, but cannot be
reached); one without spans may simply be **down**. Consecutive windows with the
same groups merge into one :class:`Partition` episode, with the callers whose
calls were lost and those calls as evidence.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import Span

from ._input import group_traces
from .services import peer_name

__all__ = ["Partition", "find_partitions", "calls"]

_CALLS = frozenset({"client", "producer"})
_HANDLERS = frozenset({"server", "consumer"})


@dataclass(frozen=True, slots=True)
class Call:
    time_ns: int
    caller: str
    callee: str
    ok: bool
    arrived: bool  # an instrumented callee recorded the request
    span: Span


def calls(traces: Iterable[Trace]) -> list[Call]:
    """Every call whose callee is known, in time order."""
    out = []
    for t in traces:
        for s in t.spans:
            if s.kind not in _CALLS:
                continue
            handlers = [c for c in t.children(s) if c.kind in _HANDLERS]
            callee = (handlers[0].service if handlers else peer_name(s)) or None
            if not callee or callee == s.service:
                continue
            ok = s.status != "error" and not any(h.status == "error" for h in handlers)
            out.append(Call(s.start_ns, s.service or "?", callee, ok, bool(handlers), s))
    out.sort(key=lambda c: (c.time_ns, c.span.span_id))
    return out


@dataclass
class Partition:
    """Services others could not reach from ``start_ns`` to ``end_ns``."""

    start_ns: int
    end_ns: int
    groups: list[list[str]]          # each group: services that could still reach each other
    partitioned: list[str]           # unreachable but still running
    down: list[str]                  # unreachable and silent
    callers: list[str]               # services whose calls into the groups failed
    edges: dict[tuple[str, str], int] = field(default_factory=dict)  # failed calls per pair
    span_ids: list[str] = field(default_factory=list)  # failed calls, at most 10

    @property
    def unreachable(self) -> list[str]:
        return sorted(self.partitioned + self.down)

    def describe(self) -> str:
        groups = "; ".join("{" + ", ".join(g) + "}" for g in self.groups)
        who = []
        if self.partitioned:
            who.append(f"partitioned (still running): {', '.join(self.partitioned)}")
        if self.down:
            who.append(f"unreachable and silent (down?): {', '.join(self.down)}")
        n = sum(self.edges.values())
        return (f"{groups} unreachable from {', '.join(self.callers)} for "
                f"{(self.end_ns - self.start_ns) / 1e9:.1f} s ({n} failed calls); "
                + "; ".join(who))

    def to_json(self) -> dict:
        return {"start_unix_nano": self.start_ns, "end_unix_nano": self.end_ns,
                "groups": self.groups, "partitioned": self.partitioned, "down": self.down,
                "callers": self.callers,
                "failed_calls": [{"caller": a, "callee": b, "count": n}
                                 for (a, b), n in sorted(self.edges.items())],
                "span_ids": self.span_ids, "message": self.describe()}


def find_partitions(spans_or_traces: Iterable[Span] | Iterable[Trace], *,
                    window_ns: int = 1_000_000_000, min_failed: int = 2) -> list[Partition]:
    """Partition episodes in the input (see the module docstring), in time order."""
    if window_ns <= 0:
        raise ValueError(f"window_ns={window_ns} must be positive")
    items = list(spans_or_traces)
    traces = items if not items or isinstance(items[0], Trace) else group_traces(items)
    cs = calls(traces)
    active: dict[int, set[str]] = defaultdict(set)   # window -> services with own spans
    entry: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in traces:
        for s in t.spans:
            for w in range(s.start_ns // window_ns, max(s.end_ns, s.start_ns) // window_ns + 1):
                active[w].add(s.service or "?")
            if not s.parent_id and s.kind == "server":  # a request from outside
                entry[s.start_ns // window_ns][s.service or "?"] += 1
    by_window: dict[int, list[Call]] = defaultdict(list)
    for c in cs:
        by_window[c.time_ns // window_ns].append(c)
    episodes: list[Partition] = []
    prev_sig = None
    for w in sorted(by_window):
        wc = by_window[w]
        # services that reached each other in this window, directly or through others
        g = nx.Graph()
        made: dict[str, int] = defaultdict(int)
        for c in wc:
            g.add_node(c.caller)
            g.add_node(c.callee)
            made[c.caller] += 1
            if c.ok or c.arrived:
                g.add_edge(c.caller, c.callee)
        comps = [frozenset(x) for x in nx.connected_components(g)]
        where = {n: comp for comp in comps for n in comp}
        lost: dict[frozenset, int] = defaultdict(int)
        for c in wc:
            if where[c.caller] is not where[c.callee]:
                lost[where[c.callee]] += 1
        # the main side: where requests come in, then the largest group, then the one
        # that made the most calls
        ins = entry.get(w, {})
        main = max(comps, key=lambda comp: (sum(ins.get(n, 0) for n in comp), len(comp),
                                            sum(made[n] for n in comp), sorted(comp)))
        cut_comps = [comp for comp in comps if comp is not main and lost[comp] >= min_failed]
        if not cut_comps:
            prev_sig = None
            continue
        cut = set().union(*cut_comps)
        groups = sorted(sorted(comp) for comp in cut_comps)
        sig = tuple(tuple(x) for x in groups)
        start, end = w * window_ns, (w + 1) * window_ns
        bad = [c for c in wc if c.callee in cut and where[c.caller] is not where[c.callee]]
        if sig == prev_sig and episodes and episodes[-1].end_ns == start:
            ep = episodes[-1]
            ep.end_ns = end
        else:
            ep = Partition(start, end, groups, [], [], [])
            episodes.append(ep)
        for c in bad:
            ep.edges[(c.caller, c.callee)] = ep.edges.get((c.caller, c.callee), 0) + 1
            if len(ep.span_ids) < 10:
                ep.span_ids.append(c.span.span_id)
        ep.callers = sorted(set(ep.callers) | {c.caller for c in bad})
        running = set(ep.partitioned) | {s for s in cut if s in active.get(w, ())}
        ep.partitioned = sorted(running)
        ep.down = sorted((set(ep.down) | cut) - running)
        prev_sig = sig
    return episodes
