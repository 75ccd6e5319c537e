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
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tracelogic.ingest.events import Trace

from .model import Operation

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


def collect(traces: Iterable[Trace], *, pairs: bool = True) -> TraceStats:
    """One pass over the traces: per operation, the indices and times of its start and end
    events; per pair of operations in a trace, whether each template holds."""
    st = TraceStats()
    for trace in traces:
        st.traces += 1
        starts: dict[Operation, list[int]] = {}
        ends: dict[Operation, list[int]] = {}
        end_times: dict[Operation, list[int]] = {}
        start_times: dict[Operation, list[int]] = {}
        failed = False
        for i, ev in enumerate(trace.events):
            sp = ev.span
            op = (sp.service, sp.name)
            if ev.is_start:
                if op in starts:
                    starts[op].append(i)
                    start_times[op].append(ev.time_ns)
                else:
                    starts[op] = [i]
                    start_times[op] = [ev.time_ns]
                    ends[op] = []
                    end_times[op] = []
                if sp.status == "error":
                    failed = True
            else:
                ends[op].append(i)
                end_times[op].append(ev.time_ns)
        st.failed_traces += failed
        for op, idx in starts.items():
            st.present[op] += 1
            st.spans[op] += len(idx)
        ops = sorted(starts)
        for a in ops:
            sa, ta = starts[a], start_times[a]
            for b in ops:
                if pairs or a == b:
                    eb, tb = ends[b], end_times[b]
                    # bounded response: each start of a answered by the next end of b
                    worst = -1
                    for i, t in zip(sa, ta):
                        k = bisect_left(eb, i)
                        if k == len(eb):
                            worst = -1
                            break
                        d = tb[k] - t
                        if d > worst:
                            worst = d
                    if worst >= 0:
                        key = (a, b)
                        st.bounded[key] += 1
                        if worst > st.max_delay[key]:
                            st.max_delay[key] = worst
                if a == b or not pairs:
                    continue
                sb = starts[b]
                if sb[-1] > sa[-1]:
                    st.response[(a, b)] += 1
                if sa[0] < sb[0]:
                    st.precedence[(a, b)] += 1
    return st
