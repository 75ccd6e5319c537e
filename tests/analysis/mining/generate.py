"""Seeded random traces for the mining tests: nested spans with overlap, equal timestamps,
zero durations, failures, attributes (enums, ranges, shared keys) and a metric.

Trace ``i`` lives in its own second, so the spans that carry a shared key (``lock``) are
serialised across traces unless one trace holds two of them at once: the exclusion miner
has something to find, and something to refuse.
"""
from __future__ import annotations

import random
from types import SimpleNamespace

from tracelogic.ingest.spans import Span

MS = 1_000_000
T0 = 1_700_000_000_000_000_000
ROOTS = ("GET /a", "POST /b")
CHILDREN = ("db", "cache", "auth", "call")


def traces(seed: int, n_traces: int = 12, *, failures: bool = False) -> list[Span]:
    rnd = random.Random(seed)
    out: list[Span] = []
    ids = iter(range(1, 10**9))
    for t in range(n_traces):
        trace_id = f"{seed % 4096:03x}{t + 1:029x}"
        base = T0 + t * 1000 * MS
        root_end = rnd.choice((300, 400, 500))
        root = _span(ids, trace_id, "", rnd.choice(ROOTS), "front", base, base + root_end * MS,
                     {"http.route": rnd.choice(("/a", "/b")), "code": rnd.choice((200, 201))})
        out.append(root)
        stack = [(root, 0, root_end)]
        while stack:
            parent, lo, hi = stack.pop()
            if hi - lo < 20 or len(out) > 40 * (t + 1):
                continue
            at = lo
            for _ in range(rnd.randint(0, 3)):
                st = at + rnd.choice((0, 0, 5, 10))          # equal starts happen
                en = st + rnd.choice((0, 10, 20, 40, 60))    # zero durations happen
                if en > hi:
                    break
                name = rnd.choice(CHILDREN)
                attrs = {"n": rnd.randint(0, 9), "mode": rnd.choice(("r", "w"))}
                if name == "db":
                    attrs["lock"] = rnd.choice(("x", "y"))
                if name == "call":
                    attrs["peer.port"] = rnd.randint(1000, 2000)
                status = "error" if failures and rnd.random() < 0.2 else "unset"
                sp = _span(ids, trace_id, parent.span_id, name, rnd.choice(("back", "front")),
                           base + st * MS, base + en * MS, attrs, status)
                out.append(sp)
                stack.append((sp, st, en))
                at = en if rnd.random() < 0.6 else st + 5   # overlap of siblings happens
    return out


def points(seed: int, n: int = 20) -> list[SimpleNamespace]:
    """Metric points shaped like ingest's DataPoint (the fields the miner reads)."""
    rnd = random.Random(seed)
    return [SimpleNamespace(metric="queue.depth", value=rnd.randint(3, 9), unit="1",
                            service="back", time_ns=T0 + i * 100 * MS) for i in range(n)]


def _span(ids, trace_id: str, parent: str, name: str, service: str, start: int, end: int,
          attrs: dict, status: str = "unset") -> Span:
    return Span(name=name, trace_id=trace_id, span_id=f"{next(ids):016x}", parent_id=parent,
                start_ns=start, end_ns=end, service=service, status=status, attrs=attrs,
                kind="server" if not parent else "internal")
