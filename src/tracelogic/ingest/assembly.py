"""Trace assembly: spans arrive in any order, across requests, interleaving traces.

An :class:`Assembler` collects spans per trace id and hands out
:class:`AssemblyResult` objects:

- **file mode** -- feed everything, then :meth:`Assembler.close`: every open trace is
  complete at end of input;
- **streaming mode** -- call :meth:`Assembler.poll` from time to time: a trace is
  complete when its root span has arrived (spans are exported once ended, so the
  root has ended) and no span of it arrived for ``idle_ns``. A trace whose root
  never arrives is handed out after ``rootless_idle_ns`` without a span, as a
  partial trace (``Trace.is_partial``).

Memory is bounded: over ``max_open_traces`` open traces (or ``max_open_spans``
buffered spans), checked after each :meth:`Assembler.add` call (so one request
may briefly exceed them), the least recently active trace is evicted and handed out as an
explicit ``incomplete`` result, counted in ``evicted`` -- never dropped silently.

Duplicates (same trace id and span id, e.g. an exporter retrying a request)
are dropped and counted, also when the trace was already handed out: the span
ids of recently completed traces are remembered. A *new* span for a trace
already handed out is ``late``: late spans are collected and handed out as a
``late`` result, so a monitor can mark that trace's verdicts inconclusive. Span
ids are remembered for the last ``remember_completed`` handed-out traces only: a
retry of an older trace is assembled again, as a new trace.

The clock is injectable (``clock`` returns nanoseconds) so tests never sleep.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .otlp_common import DecodeStats
from .events import Trace
from .spans import Span

__all__ = ["Assembler", "AssemblyResult", "AssemblyCounters", "assemble_all", "SECOND"]

Outcome = Literal["complete", "incomplete", "late"]
SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class AssemblyResult:
    """One trace handed out by the assembler.

    ``outcome`` is ``"complete"`` (end of input, or root seen and idle),
    ``"incomplete"`` (evicted by a memory limit before it could complete: the
    monitor reports its verdicts as ``incomplete``) or ``"late"`` (spans that
    arrived after their trace was handed out). ``reason`` says which rule fired;
    late spans that are evicted before they are handed out come out as
    ``incomplete`` with a reason starting ``"late spans evicted"``.
    """

    trace: Trace
    outcome: Outcome
    reason: str

    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def complete(self) -> bool:
        return self.outcome == "complete"


@dataclass(frozen=True, slots=True)
class AssemblyCounters:
    """A snapshot of the assembler's counters.

    ``received``/``decoded``/``rejected`` count spans through the decoders (the
    assembler's :class:`DecodeStats`); ``duplicates`` spans dropped as repeats;
    ``evicted`` traces handed out as incomplete; ``late`` spans that arrived after
    their trace was handed out; ``completed`` traces handed out as complete;
    ``open_traces``/``open_spans`` what is buffered now.
    """

    received: int
    decoded: int
    rejected: int
    duplicates: int
    evicted: int
    late: int
    completed: int
    open_traces: int
    open_spans: int

    def to_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


class _Open:
    __slots__ = ("spans", "has_root", "last_ns", "late")

    def __init__(self, now: int, late: bool) -> None:
        self.spans: dict[str, Span] = {}
        self.has_root = False
        self.last_ns = now
        self.late = late


class Assembler:
    """Groups spans into traces; see the module docstring for the rules.

    Parameters are validated eagerly. ``remember_completed`` bounds how many
    handed-out traces keep their span ids for duplicate/late detection (default:
    ``max_open_traces``).
    """

    def __init__(self, *, idle_ns: int = 10 * SECOND, rootless_idle_ns: int = 60 * SECOND,
                 max_open_traces: int = 100_000, max_open_spans: int | None = None,
                 remember_completed: int | None = None,
                 clock: Callable[[], int] = time.monotonic_ns,
                 stats: DecodeStats | None = None) -> None:
        for name, v in (("idle_ns", idle_ns), ("rootless_idle_ns", rootless_idle_ns)):
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}={v!r} must be a non-negative int of nanoseconds, "
                                 f"e.g. 10 * 1_000_000_000 for 10 s")
        if rootless_idle_ns < idle_ns:
            raise ValueError(f"rootless_idle_ns={rootless_idle_ns} must be >= idle_ns={idle_ns}")
        if not isinstance(max_open_traces, int) or max_open_traces < 1:
            raise ValueError(f"max_open_traces={max_open_traces!r} must be an int >= 1")
        if max_open_spans is not None and (not isinstance(max_open_spans, int)
                                           or max_open_spans < 1):
            raise ValueError(f"max_open_spans={max_open_spans!r} must be None or an int >= 1")
        self.idle_ns = idle_ns
        self.rootless_idle_ns = rootless_idle_ns
        self.max_open_traces = max_open_traces
        self.max_open_spans = max_open_spans
        self.remember_completed = (max_open_traces if remember_completed is None
                                   else remember_completed)
        self.clock = clock
        self.stats = stats if stats is not None else DecodeStats()
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._done: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._open_spans = 0
        self.duplicates = 0
        self.evicted = 0
        self.late = 0
        self.completed = 0

    # -- input ---------------------------------------------------------------------
    def add(self, spans: Iterable[Span]) -> list[AssemblyResult]:
        """Buffer decoded spans. Returns the traces evicted to stay within the limits."""
        now = self.clock()
        open_ = self._open
        done = self._done
        added = 0
        for s in spans:
            tid = s.trace_id
            o = open_.get(tid)
            if o is None:
                late = False
                seen = done.get(tid)
                if seen is not None:
                    if s.span_id in seen:
                        self.duplicates += 1
                        continue
                    late = True
                o = open_[tid] = _Open(now, late)
            else:
                open_.move_to_end(tid)
                o.last_ns = now
            sid = s.span_id
            if sid in o.spans or (o.late and sid in done.get(tid, ())):
                self.duplicates += 1
                continue
            o.spans[sid] = s
            added += 1
            if o.late:
                self.late += 1
            if not s.parent_id:
                o.has_root = True
        self._open_spans += added
        return self._evict()

    def feed_pb(self, data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                source: str = "<protobuf>") -> list[AssemblyResult]:
        """Decode one protobuf ``ExportTraceServiceRequest`` and add its spans.

        Raises :class:`~tracelogic.errors.InputError` for corrupt protobuf (nothing added).
        """
        from .otlp import decode_traces_pb
        return self.add(decode_traces_pb(data, wanted_attrs=wanted_attrs, stats=self.stats,
                                         source=source))

    def feed_json(self, doc: Any, *, wanted_attrs: frozenset[str] | None = None,
                  source: str = "<json>") -> list[AssemblyResult]:
        """Decode one parsed OTLP/JSON trace request and add its spans."""
        from .otlp import decode_traces_json
        return self.add(decode_traces_json(doc, wanted_attrs=wanted_attrs, stats=self.stats,
                                           source=source))

    def feed_sdk(self, spans: Iterable[Any], *,
                 wanted_attrs: frozenset[str] | None = None) -> list[AssemblyResult]:
        """Convert OpenTelemetry SDK ``ReadableSpan`` objects and add them."""
        from .spans import from_sdk
        return self.add(from_sdk(spans, wanted_attrs=wanted_attrs, stats=self.stats))

    # -- output --------------------------------------------------------------------
    def poll(self, now: int | None = None) -> list[AssemblyResult]:
        """Streaming mode: hand out the traces that are complete at ``now`` (default: clock)."""
        if now is None:
            now = self.clock()
        out: list[AssemblyResult] = []
        ready: list[tuple[str, str]] = []
        for tid, o in self._open.items():  # least recently active first
            idle = now - o.last_ns
            if idle < self.idle_ns:
                break  # everything after this arrived later still
            if o.late:
                ready.append((tid, f"late spans, idle for {idle / SECOND:g} s"))
            elif o.has_root:
                ready.append((tid, f"root seen, idle for {idle / SECOND:g} s"))
            elif idle >= self.rootless_idle_ns:
                ready.append((tid, f"no root arrived, idle for {idle / SECOND:g} s"))
        for tid, reason in ready:
            out.append(self._finish(tid, reason))
        return out

    def close(self) -> list[AssemblyResult]:
        """End of input: hand out every open trace, ordered by start time then trace id."""
        tids = list(self._open)
        results = [self._finish(tid, "end of input") for tid in tids]
        results.sort(key=lambda r: (r.trace.start_ns, r.trace.trace_id, r.outcome))
        return results

    def counters(self) -> AssemblyCounters:
        st = self.stats
        return AssemblyCounters(
            received=st.received, decoded=st.decoded, rejected=st.rejected,
            duplicates=self.duplicates, evicted=self.evicted, late=self.late,
            completed=self.completed, open_traces=len(self._open),
            open_spans=self._open_spans)

    @property
    def open_traces(self) -> int:
        return len(self._open)

    @property
    def open_spans(self) -> int:
        """Spans buffered in open traces: what ``max_open_spans`` bounds."""
        return self._open_spans

    # -- internals -----------------------------------------------------------------
    def _finish(self, tid: str, reason: str, outcome: Outcome | None = None) -> AssemblyResult:
        o = self._open.pop(tid)
        self._open_spans -= len(o.spans)
        trace = Trace(o.spans.values())
        if outcome is None:
            outcome = "late" if o.late else "complete"
        elif o.late:
            reason = f"late spans {reason}"  # evicted late spans: still incomplete
        if outcome == "complete":
            self.completed += 1
        elif outcome == "incomplete":
            self.evicted += 1
        if self.remember_completed:
            prev = self._done.pop(tid, frozenset())
            self._done[tid] = prev | frozenset(o.spans)
            while len(self._done) > self.remember_completed:
                self._done.popitem(last=False)
        return AssemblyResult(trace, outcome, reason)

    def _evict(self) -> list[AssemblyResult]:
        out: list[AssemblyResult] = []
        while len(self._open) > self.max_open_traces:
            tid = next(iter(self._open))
            out.append(self._finish(
                tid, f"evicted: more than max_open_traces={self.max_open_traces} open traces",
                "incomplete"))
        if self.max_open_spans is not None:
            while self._open_spans > self.max_open_spans and self._open:
                tid = next(iter(self._open))
                out.append(self._finish(
                    tid, f"evicted: more than max_open_spans={self.max_open_spans} "
                         f"buffered spans", "incomplete"))
        return out


def assemble_all(spans: Iterable[Span], *, max_open_traces: int | None = None,
                 stats: DecodeStats | None = None) -> list[AssemblyResult]:
    """File mode in one call: group ``spans`` into traces, all complete at end of input.

    With ``max_open_traces`` set, traces beyond the limit are evicted as
    ``incomplete`` (least recently seen first), exactly as :class:`Assembler` does.
    """
    asm = Assembler(max_open_traces=max_open_traces or 1 << 62, stats=stats,
                    clock=lambda: 0)
    evicted = asm.add(spans)
    return evicted + asm.close()
