"""Dwyer patterns between operations, mined per trace (Dwyer, Avrunin & Corbett, ICSE 1999;
mined as Texada mines LTL templates: Lemieux, Park & Beschastnikh, ASE 2015).

Each candidate is a template instantiated with operations, and its support and confidence
are counted exactly as the monitor will judge it, on the §3 event order of every trace:

| pattern | `.spec` | holds in a trace when | trigger |
|---|---|---|---|
| response | `response(A & start, B & start)` | the last start of B comes after the last start of A | A occurs |
| precedence | `precedence(A & start, B & start)` | the first start of A comes before the first start of B | B occurs |
| bounded response | `response(A & start, B & end, within D)` | every start of A has an end of B at or after it, at most D later | A occurs |
| latency | `response(A & start, A & end, within D)` | the same with B = A | A occurs |
| existence | `existence(A)` | A occurs | every trace |
| absence | `absence(failed)` | no span has `status == error` | every trace |

``D`` is the largest delay seen, widened by the margin (model.MineOptions). Support is the
number of traces whose trigger occurs; confidence the share of those where the pattern holds.

Cost: one pass over each trace's events. Response and precedence depend only on the order
of the start events' operations, so they are computed once per distinct order (healthy
traces of one request type share very few); bounded responses need the times, and are one
backward sweep per trace (the next end of every operation, at every start).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tracelogic.ingest.events import Trace

from .model import Operation
from .workflow import Term, term_of_intervals

__all__ = ["TraceStats", "collect"]


@dataclass
class TraceStats:
    """Counts over every trace, from which :mod:`.render` proposes the patterns."""

    traces: int = 0
    failed_traces: int = 0
    present: dict[Operation, int] = field(default_factory=lambda: defaultdict(int))
    spans: dict[Operation, int] = field(default_factory=lambda: defaultdict(int))
    response: dict[tuple[Operation, Operation], int] = field(
        default_factory=lambda: defaultdict(int))
    precedence: dict[tuple[Operation, Operation], int] = field(
        default_factory=lambda: defaultdict(int))
    bounded: dict[tuple[Operation, Operation], int] = field(
        default_factory=lambda: defaultdict(int))
    max_delay: dict[tuple[Operation, Operation], int] = field(
        default_factory=lambda: defaultdict(int))
    terms: list[Term | None] = field(default_factory=list)  # one per trace, for the workflow


def collect(traces: Iterable[Trace], *, pairs: bool = True, workflow: bool = True,
            max_trace_spans: int = 300) -> TraceStats:
    """One pass over the traces (see the module docstring)."""
    st = TraceStats()
    order_cache: dict[tuple[Operation, ...], tuple[list, list]] = {}
    term_cache: dict[tuple, Term | None] = {}
    present, nspans = st.present, st.spans
    bounded, max_delay = st.bounded, st.max_delay
    for trace in traces:
        st.traces += 1
        evs = trace.events
        opi: list[Operation] = []
        start_ops: list[Operation] = []
        first_at: dict[str, int] = {}
        ivs: list[tuple[int, int, Operation]] = []
        failed = False
        for i, ev in enumerate(evs):
            sp = ev.span
            op = (sp.service, sp.name)
            opi.append(op)
            if ev.is_start:
                start_ops.append(op)
                first_at[sp.span_id] = i
                if sp.status == "error":
                    failed = True
            else:
                ivs.append((first_at[sp.span_id], i, op))
        st.failed_traces += failed
        key = tuple(start_ops)
        got = order_cache.get(key)
        if got is None:
            got = order_cache[key] = _orders(key, pairs)
        for op, n in got[0]:
            present[op] += 1
            nspans[op] += n
        for pair, is_response, is_precedence in got[1]:
            if is_response:
                st.response[pair] += 1
            if is_precedence:
                st.precedence[pair] += 1
        # bounded response: at each start, the next end of every operation of the trace
        ops = [op for op, _ in got[0]]
        nxt: dict[Operation, int] = {}
        worst: dict[tuple[Operation, Operation], int] = {}
        for i in range(len(evs) - 1, -1, -1):
            ev = evs[i]
            if not ev.is_start:
                nxt[opi[i]] = ev.time_ns
                continue
            a, t = opi[i], ev.time_ns
            for b in (ops if pairs else (a,)):
                tb = nxt.get(b)
                k = (a, b)
                if tb is None:
                    worst[k] = -1
                else:
                    w = worst.get(k, 0)
                    if w >= 0 and tb - t >= w:
                        worst[k] = tb - t
        for k, w in worst.items():
            if w >= 0:
                bounded[k] += 1
                if w > max_delay[k]:
                    max_delay[k] = w
        if workflow:
            if len(ivs) > max_trace_spans:
                st.terms.append(None)
            else:
                ivs.sort()
                tkey = tuple(ivs)
                term = term_cache.get(tkey, False)
                if term is False:
                    term = term_cache[tkey] = term_of_intervals(ivs)
                st.terms.append(term)
    return st


def _orders(start_ops: tuple[Operation, ...], pairs: bool) -> tuple[list, list]:
    """For one order of start events: (op, spans) per operation, and per ordered pair of
    distinct operations whether response and precedence hold."""
    first: dict[Operation, int] = {}
    last: dict[Operation, int] = {}
    count: dict[Operation, int] = {}
    for i, op in enumerate(start_ops):
        if op not in first:
            first[op] = i
            count[op] = 0
        last[op] = i
        count[op] += 1
    ops = sorted(first)
    out = []
    if pairs:
        for a in ops:
            for b in ops:
                if a != b:
                    out.append(((a, b), last[b] > last[a], first[a] < first[b]))
    return [(op, count[op]) for op in ops], out
