"""Streaming monitoring: the sidecar's view of a :class:`~.monitor.Monitor`.

    sm = StreamingMonitor(tracelogic.load("shop.spec"), idle_ns=5 * SECOND)
    sm.ingest(spans)                 # decoded spans, in arrival order
    sm.poll()                        # complete idle traces, advance the watermark
    for v in sm.take_violations():   # decided so far, each exactly once
        store.add_violations([v.to_json()])

The rules are SPEC-LANGUAGE.md §3 and DESIGN.md "Streaming, sharding and durability":

- **Per-trace properties** are decided on the assembled trace, when its root has
  ended and no span of it arrived for ``idle_ns`` (:class:`~.assembly.Assembler`).
  The trace is then dropped: per-trace state lives only as long as the trace is open.
- **Cross-trace scopes** (``per attr[...]``, ``per service``, ``global``) receive the
  events of assembled traces under a **watermark**: the largest end time of any
  assembled trace minus ``lateness_ns``. Buffered events are released to their
  instances in the file-mode order ``(time, trace id, index in trace)``, so a
  stream with nothing late gives file mode's verdicts. An event at or behind the
  released watermark is **late**: counted, not stepped, and the instance it
  belongs to becomes ``inconclusive`` unless it was already final.
- An instance whose verdict is final is dropped and remembered as a verdict only.
  Open instances report ``presumably_satisfied``/``presumably_violated``
  (:meth:`StreamingMonitor.verdicts`).
- **Log records** (docs/logs.md) are events only of the properties that read a log
  field. A record with a trace context waits for its trace and joins its events when
  the trace is assembled; one whose trace never shows a span becomes a trace of its own
  when no record of it arrived for ``rootless_idle_ns`` (the wait of a trace whose root
  was not seen), or at shutdown; one for a trace already decided is late
  (counted; it still reaches the cross-trace scopes). A record without a trace context
  goes to the cross-trace scopes under the watermark, and advances it.
- Limits: the assembler evicts traces beyond ``max_open_traces`` and each
  cross-trace property keeps at most ``max_instances`` open instances; what is
  evicted gets the explicit, counted verdict ``incomplete``.

Nothing here touches files or sockets; the server (``server.py``) owns threads, the
store and the acknowledgements. The per-trace and per-instance stepping, verdicts
and violations are the :class:`Monitor`'s own (``step_instance``, ``final_verdict``,
``violation``, ``sample``, ``aggregate``, ``aggregate_violation``, ``metric_violation``,
with ``Instance`` and ``Samples``), so file mode and streaming cannot drift apart.
"""
from __future__ import annotations

import heapq
import itertools
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from tracelogic.automata.monitor import Verdict
from tracelogic.ingest.assembly import SECOND, Assembler, AssemblyResult
from tracelogic.engine.compiled import CompiledProperty, EvalError, aggregate_value
from tracelogic.ingest.events import Trace
from tracelogic.engine.monitor import (INCOMPLETE, Monitor, Instance, key_text, Samples,
                                       metric_holds, metric_key, metric_names,
                                       metric_update)
from tracelogic.engine.report import Violation
from tracelogic.ingest.spans import Span
from tracelogic.spec.scopes import routing_keys
from tracelogic.spec.typed import Spec

__all__ = ["StreamingMonitor", "StreamCounters", "routing_keys", "SECOND", "INCOMPLETE"]

_MAX_ROWS = 100_000  # samples kept by one window-less cross-trace aggregate instance


@dataclass
class StreamCounters:
    """A snapshot of what the streaming monitor did (all counts since start)."""

    spans: int
    traces_completed: int
    traces_evicted: int
    late_spans: int
    late_events: int
    duplicates: int
    open_traces: int
    open_spans: int
    open_instances: int
    evicted_instances: int
    buffered_events: int
    watermark_ns: int | None
    violations: int
    points: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Probe:
    """Just what :meth:`Monitor.final_verdict` reads of an instance."""

    __slots__ = ("state", "partial", "late")

    def __init__(self, state: int, partial: bool):
        self.state, self.partial, self.late = state, partial, False


class _Window:
    """Open tumbling windows of one cross-trace aggregate instance: index -> rows."""

    __slots__ = ("rows", "trace_ids", "late")

    def __init__(self) -> None:
        self.rows: dict[int, list] = {}
        self.trace_ids: dict[str, None] = {}
        self.late = False


class StreamingMonitor:
    """Incremental monitoring of an unbounded span stream; see the module docstring.

    Not thread-safe: one thread (the server's engine thread) calls every method.
    ``clock`` gives the arrival time in nanoseconds (monotonic) used for idleness;
    the watermark uses the spans' own timestamps.
    """

    def __init__(self, spec: Spec, *, properties: list[str] | None = None,
                 lateness_ns: int = 30 * SECOND, idle_ns: int = 5 * SECOND,
                 rootless_idle_ns: int | None = None, max_open_traces: int = 100_000,
                 max_open_spans: int | None = None, max_instances: int = 100_000,
                 shape_cache: int = 4096, clock: Callable[[], int] = time.monotonic_ns,
                 engine: str | None = None):
        for name, v in (("lateness_ns", lateness_ns), ("max_instances", max_instances)):
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}={v!r} must be a non-negative int")
        self.lateness_ns = lateness_ns
        self.idle_ns = idle_ns
        self.rootless_idle_ns = (max(12 * idle_ns, 60 * SECOND) if rootless_idle_ns is None
                                 else rootless_idle_ns)
        self.max_instances = max_instances
        self.max_open_traces = max_open_traces
        self.shape_cache = shape_cache
        self.shape_hits = 0
        self.shape_misses = 0
        self.clock = clock
        self.properties_filter = properties
        self.engine = engine  # see Monitor: which engine runs each property
        self.monitor = Monitor(spec, properties=properties, lateness_ns=lateness_ns,
                               max_open_traces=max_open_traces, idle_ns=idle_ns, engine=engine,
                               streaming=True)
        self.stats = self.monitor.stats
        self.assembler = Assembler(idle_ns=idle_ns, rootless_idle_ns=self.rootless_idle_ns,
                                   max_open_traces=max_open_traces,
                                   max_open_spans=max_open_spans, clock=clock,
                                   stats=self.stats)
        self._generation = 0
        self._setup(self.monitor)
        # cross-trace state, by property index
        self._open: list[OrderedDict[str, Any]] = [OrderedDict() for _ in self._cps]
        self._decided: list[OrderedDict[str, str]] = [OrderedDict() for _ in self._cps]
        # (time, trace id, index in trace, arrival sequence, event, ...): the sequence
        # keeps entries distinct when one trace is handed out twice (late spans), so
        # heapq never goes on to compare two events
        self._heap: list[tuple] = []
        self._seq = itertools.count()
        self._max_end: int | None = None
        self._released: int | None = None  # the watermark up to which events were released
        self._pending_events: dict[str, int] = {}
        self._done_traces: list[str] = []
        self._violations: list[Violation] = []
        self._latest: list[dict[str, dict[str, Any]]] = [dict() for _ in self._cps]
        self._bad: list[dict[str, bool]] = [dict() for _ in self._cps]
        self._links: OrderedDict[str, list] = OrderedDict()
        self._backlog: deque = deque()
        self._handed_out: list[float] = []
        # log records waiting for their trace: trace id -> (last arrival, records); trace
        # ids decided recently, to tell a late record from one of a new trace
        self._trace_logs: OrderedDict[str, tuple[int, list]] = OrderedDict()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.log_records = 0
        self.late_log_records = 0
        self.evicted_log_records = 0
        # journal keys of log requests (the sidecar's --journal): records that go to the
        # cross-trace scopes only (no trace context, or late) wait in the heap under their
        # request's key; the key is done when the last of them is released
        self._free_key: dict[int, str] = {}       # heap entry's sequence number -> key
        self._key_pending: dict[str, int] = {}
        self._done_log_keys: list[str] = []
        # counters
        self.verdict_counts: dict[tuple[str, str], int] = defaultdict(int)
        self.vacuous: dict[str, int] = defaultdict(int)
        self.spans = 0
        self.points = 0
        self.traces_evicted = 0
        self.late_events = 0
        self.evicted_instances = 0
        self.violations_decided = 0
        # a bug deciding one trace (or stepping one event) must not stop the stream:
        # it is counted here, described in _failures for the server to log, and the
        # trace counts as done (its journal entry goes; it is not retried forever)
        self.failures = 0
        self._failures: list[str] = []

    # ------------------------------------------------------------------ setup
    def _setup(self, monitor: Monitor) -> None:
        self.compiled = monitor.compiled
        self._cps = monitor.compiled.properties
        live = self._cps
        # "instances": temporal formulas and the model-monitored conforms/saga/follows
        self._trace_formula = [cp for cp in live if cp.prop.scope == "trace"
                               and cp.prop.kind not in ("aggregate", "metric")
                               and not cp.sees_logs]
        # the properties that see log records (docs/logs.md): per trace, and their indexes
        self._trace_log = [cp for cp in live if cp.prop.scope == "trace" and cp.sees_logs]
        self._log_idx = {cp.index for cp in live if cp.sees_logs}
        self._trace_agg = [cp for cp in live if cp.prop.scope == "trace"
                           and cp.prop.kind == "aggregate"]
        self._cross = [cp for cp in live if cp.prop.scope != "trace"
                       and cp.prop.kind != "metric"]
        self._metric = [cp for cp in live if cp.prop.kind == "metric"]
        self._uses_links = monitor.compiled.gen.uses_links
        # per-trace table monitors without registers take the fast path (_fast_verdict):
        # untimed formulas, and the unbounded twins of timed ones for traces that fit in
        # every bound (engine.CompiledProperty.untimed); keyed by id(property)
        self._fast = {id(c): {} for cp in self._trace_formula if cp.prop.kind == "formula"
                      for c in (cp, cp.untimed) if c is not None and not c.timed
                      and c.regs is None}
        # a trace's verdicts depend only on its letters: traces of one shape share them
        self._shapes: dict[tuple, dict[int, tuple]] = {}

    @property
    def spec(self) -> Spec:
        return self.monitor.spec

    @property
    def wanted_attrs(self) -> frozenset[str]:
        """The attribute keys the spec reads: all that decoding needs to extract."""
        return self.compiled.wanted_attrs

    @property
    def wanted_metrics(self) -> frozenset[str]:
        return frozenset(m.metric for m in self.spec.metrics.values())

    # ------------------------------------------------------------------ input
    def ingest(self, spans: Iterable[Span]) -> None:
        """Buffer decoded spans; traces evicted by the memory limits are handled at once."""
        spans = spans if isinstance(spans, list) else list(spans)
        self.spans += len(spans)
        for result in self.assembler.add(spans):
            self._safe_handle(result)

    def ingest_logs(self, records: Iterable[Any], journal_key: str | None = None,
                    cross_only: bool = False) -> None:
        """Buffer decoded log records (module docstring). Without a property that reads a
        log field they are only counted.

        ``journal_key`` names the journal entry of these records (the sidecar's
        ``--journal``): it is handed out by :meth:`take_done_log_keys` once every record
        that went to the cross-trace scopes only (no trace context, or late) has been
        released under the watermark, or at once when none did. ``cross_only`` (a replay)
        sends every record there, counting none late: their traces were decided before
        the restart.
        """
        recs = list(records)
        self.log_records += len(recs)
        queued = 0
        if self._log_idx:
            now = self.clock()
            for r in recs:
                tid = r.trace_id
                if not tid:
                    queued += self._push_free(r, journal_key=journal_key)
                elif cross_only or tid in self._recent:  # its trace was decided: late
                    if not cross_only:
                        self.late_log_records += 1
                    queued += self._push_free(r, keep_trace=True, journal_key=journal_key)
                else:
                    got = self._trace_logs.pop(tid, None)
                    recs_of = got[1] if got is not None else []
                    recs_of.append(r)
                    self._trace_logs[tid] = (now, recs_of)  # most recent last
            while len(self._trace_logs) > self.max_open_traces:
                _, (_, dropped) = self._trace_logs.popitem(last=False)
                self.evicted_log_records += len(dropped)
        if journal_key is not None:
            if queued:
                self._key_pending[journal_key] = self._key_pending.get(journal_key, 0) + queued
            elif journal_key not in self._key_pending:
                self._done_log_keys.append(journal_key)

    @property
    def sees_logs(self) -> bool:
        """Whether a monitored property reads log records (else they are only counted)."""
        return bool(self._log_idx)

    def decided_trace(self, trace_id: str) -> bool:
        """Whether ``trace_id`` was decided recently: a record of it now is late."""
        return trace_id in self._recent

    def take_done_log_keys(self) -> list[str]:
        """Journal keys given to :meth:`ingest_logs` whose records are all released."""
        out, self._done_log_keys = self._done_log_keys, []
        return out

    def _push_free(self, rec: Any, keep_trace: bool = False,
                   journal_key: str | None = None) -> int:
        """A record outside any trace's events: to the cross-trace scopes that see logs.
        Returns 1 when it waits for the watermark, else 0."""
        keys = tuple((cp, k) for cp, k in self._keys(rec) if cp.index in self._log_idx)
        if not keys:
            return 0
        trace = Trace((), [rec], trace_id=rec.trace_id if keep_trace else "")
        if self._released is not None and rec.time_ns <= self._released:
            self.late_events += 1
            for cp, key in keys:
                inst = self._open[cp.index].get(key)
                if inst is not None:
                    inst.late = True
            return 0
        ev = trace.events_with_logs[0]
        g = self.compiled.letter(rec, None, trace)
        seq = next(self._seq)
        heapq.heappush(self._heap, (rec.time_ns, "", rec.seq, seq, ev, g, trace,
                                    self._generation, keys))
        if journal_key is not None:
            self._free_key[seq] = journal_key
        if self._max_end is None or rec.time_ns > self._max_end:
            self._max_end = rec.time_ns
        return 1

    def _idle_logs(self, now: int) -> None:
        """Records whose trace showed no span and no record for ``rootless_idle_ns``: a
        trace of their own."""
        idle = self.rootless_idle_ns  # no root seen: the wait of a trace without one
        waiting = set(self.assembler._open) | {r.trace_id for _, r in self._backlog}
        done = []
        for tid, (last, recs) in self._trace_logs.items():  # least recently active first
            if now - last < idle:
                break
            if tid not in waiting:  # no span of it is open or waiting to be decided
                done.append((tid, recs))
        for tid, recs in done:
            del self._trace_logs[tid]
            self._safe_handle(AssemblyResult(Trace((), recs, trace_id=tid), "complete", ""))

    def feed_points(self, points: Iterable[Any]) -> None:
        """OTLP metric data points for `metric invariant` properties, in time order per call.

        Each key keeps the latest value of every metric it reads; a violation is
        emitted when the invariant turns false (once per bad episode, not per point).
        """
        pts = sorted(points, key=lambda p: p.time_ns)
        self.points += len(pts)
        for cp in self._metric:
            try:
                self._metric_points(cp, pts)
            except Exception as e:  # one property's bug must not stop the others
                self._fail(f"metric invariant {cp.name!r}", e)

    def poll(self, now: int | None = None, *, limit: int | None = None) -> int:
        """Complete the traces that are idle at ``now``; release events under the watermark.

        With ``limit``, decide at most that many completed traces now and keep the rest
        in a backlog for the next calls (:attr:`backlog`), so a caller can commit and
        acknowledge in between. Returns how many traces were decided.
        """
        t = time.perf_counter()
        for result in self.assembler.poll(now):
            self._backlog.append((t, result))
        n = len(self._backlog) if limit is None else min(limit, len(self._backlog))
        for _ in range(n):
            t_out, result = self._backlog.popleft()
            self._safe_handle(result)
            self._handed_out.append(t_out)
        if self._trace_logs:
            self._idle_logs(self.clock() if now is None else now)
        self._release()
        return n

    @property
    def backlog(self) -> int:
        """Completed traces waiting to be decided (see ``poll(limit=...)``)."""
        return len(self._backlog)

    @property
    def open_instances(self) -> int:
        """Open cross-trace instances, over every property: what ``max_instances`` bounds."""
        return sum(len(d) for d in self._open)

    @property
    def waiting_log_records(self) -> int:
        """Log records waiting for their trace's spans (docs/logs.md)."""
        return sum(len(recs) for _, recs in self._trace_logs.values())

    @property
    def buffered_events(self) -> int:
        """Cross-trace events held until the watermark passes them."""
        return len(self._heap)

    def take_completion_times(self) -> list[float]:
        """``time.perf_counter()`` at which each trace decided since the last call was
        found complete: for the completion-to-commit latency."""
        out, self._handed_out = self._handed_out, []
        return out

    def finish(self) -> None:
        """Shutdown without a journal: every open trace is complete now (as at end of
        input), every buffered event is released and every open window is evaluated.
        Open cross-trace formula instances stay open (their verdicts are presumable)."""
        while self._backlog:
            self._safe_handle(self._backlog.popleft()[1])
        for result in self.assembler.close():
            self._safe_handle(result)
        if self._trace_logs:  # records whose trace showed no span: traces of their own
            self._idle_logs(1 << 126)
        self._release(final=True)

    def release_all(self) -> None:
        """Shutdown with a journal: decide the backlog and release every buffered
        cross-trace event of the traces already complete (open traces stay open, to be
        replayed from the journal)."""
        while self._backlog:
            self._safe_handle(self._backlog.popleft()[1])
        self._release(final=True)

    # ------------------------------------------------------------------ output
    def take_violations(self) -> list[Violation]:
        """The violations decided since the last call, each exactly once."""
        out, self._violations = self._violations, []
        return out

    def take_failures(self) -> list[str]:
        """Descriptions of the failures since the last call (at most 100 are kept between
        calls; :attr:`failures` counts them all)."""
        out, self._failures = self._failures, []
        return out

    def take_done_traces(self) -> list[str]:
        """Trace ids whose every verdict has been computed (their journal entries can go)."""
        out, self._done_traces = self._done_traces, []
        return out

    def verdicts(self) -> dict[str, dict[str, str]]:
        """Current verdicts of cross-trace instances, by property and key.

        Open instances are ``presumably_*`` (or ``inconclusive`` after a late event);
        decided ones keep their final verdict; evicted ones are ``incomplete``.
        """
        out: dict[str, dict[str, str]] = {}
        for cp in self._cross:
            d: dict[str, str] = dict(self._decided[cp.index])
            for key, inst in self._open[cp.index].items():
                d[key] = self._open_verdict(cp, inst)
            out[cp.name] = d
        return out

    def counters(self) -> StreamCounters:
        a = self.assembler
        return StreamCounters(
            spans=self.spans, traces_completed=a.completed, traces_evicted=self.traces_evicted,
            late_spans=a.late, late_events=self.late_events, duplicates=a.duplicates,
            open_traces=a.open_traces, open_spans=a.open_spans,
            open_instances=self.open_instances,
            evicted_instances=self.evicted_instances, buffered_events=self.buffered_events,
            watermark_ns=self._watermark(), violations=self.violations_decided,
            points=self.points)

    # ------------------------------------------------------------------ reload
    def reload(self, spec: Spec) -> dict[str, list[str]]:
        """Switch to a new spec, keeping open traces and the open cross-trace instances of
        every property whose definition is unchanged. Returns the property names that were
        ``kept``, ``restarted`` (changed: their open instances are dropped and counted as
        ``incomplete``), ``added`` and ``removed``.

        Spans already buffered were decoded with the old spec's attribute set; a new
        predicate that reads an attribute the old spec did not sees it missing on them.
        """
        new = Monitor(spec, properties=None if self.properties_filter is None else [
            p for p in self.properties_filter if any(q.name == p for q in spec.properties)],
            lateness_ns=self.lateness_ns, max_open_traces=self.max_open_traces,
            idle_ns=self.idle_ns, engine=self.engine, streaming=True)
        old_by_name = {cp.name: cp for cp in self._cps}
        new_cps = new.compiled.properties
        summary: dict[str, list[str]] = {"kept": [], "restarted": [], "added": [],
                                         "removed": []}
        open_, decided, latest, bad = [], [], [], []
        for cp in new_cps:
            old = old_by_name.pop(cp.name, None)
            if old is None:
                summary["added"].append(cp.name)
            elif _same_property(old, cp):
                summary["kept"].append(cp.name)
                open_.append(self._open[old.index])
                decided.append(self._decided[old.index])
                latest.append(self._latest[old.index])
                bad.append(self._bad[old.index])
                continue
            else:
                summary["restarted"].append(cp.name)
                for _ in self._open[old.index]:
                    self.verdict_counts[(old.name, INCOMPLETE)] += 1
            open_.append(OrderedDict())
            decided.append(OrderedDict())
            latest.append({})
            bad.append({})
        summary["removed"] = sorted(old_by_name)
        self.monitor = new
        new.stats = self.stats
        self._open, self._decided, self._latest, self._bad = open_, decided, latest, bad
        self._generation += 1
        self._setup(new)
        return summary

    # ------------------------------------------------------------------ failures
    def _fail(self, what: str, e: BaseException) -> None:
        from tracelogic.ingest.text_rule import safe_text

        self.failures += 1
        if len(self._failures) < 100:
            self._failures.append(safe_text(f"{what}: {type(e).__name__}: {e}"))

    def _safe_handle(self, result: AssemblyResult) -> None:
        """:meth:`_handle`, but a failure on one trace is counted and the stream goes on."""
        try:
            self._handle(result)
        except Exception as e:
            tid = result.trace.trace_id
            self._fail(f"trace {tid}", e)
            if tid not in self._pending_events:
                self._done_traces.append(tid)

    # ------------------------------------------------------------------ traces
    def _handle(self, result: AssemblyResult) -> None:
        trace = result.trace
        tid = trace.trace_id
        if result.outcome == "complete":
            self._complete(trace)
            return
        if result.outcome == "incomplete":
            self.traces_evicted += 1
            for cp in self._trace_formula + self._trace_agg:
                self.verdict_counts[(cp.name, INCOMPLETE)] += 1
        else:  # late spans of a trace whose per-trace verdicts were already given
            self._cross_late(trace)
        if tid not in self._pending_events:
            self._done_traces.append(tid)

    def _complete(self, trace: Trace) -> None:
        mon = self.monitor
        tid = trace.trace_id
        if self._log_idx:
            waiting = self._trace_logs.pop(tid, None)
            if waiting is not None:
                trace = trace.with_logs(waiting[1])
            self._recent[tid] = None
            if len(self._recent) > self.max_open_traces:
                self._recent.popitem(last=False)
        if self._uses_links:
            self._index_links(trace)
        events = trace.events
        if not events and not trace.logs:
            self._done_traces.append(tid)
            return
        letter = self.compiled.letter
        gs = [letter(ev.span, ev.is_start, trace) for ev in events]
        if self._log_idx:
            self._complete_logs(trace, events, gs)
            if trace.logs:  # cross-trace scopes get the merged events
                events = trace.events_with_logs
                gs = [letter(ev.span, ev.is_start, trace) for ev in events]
        if not trace.spans:  # a trace of log records only: the span-only properties skip it
            self._queue_cross(trace, events, gs)
            return
        span_events = trace.events
        span_gs = gs if events is span_events else [letter(ev.span, ev.is_start, trace)
                                                    for ev in span_events]
        events_x, gs_x = events, gs  # for the cross-trace scopes
        events, gs = span_events, span_gs
        partial = trace.is_partial
        counts = self.verdict_counts
        fast = self._fast
        shape = (partial, tuple(gs))
        known = self._shapes.get(shape)
        if known is None:
            self.shape_misses += 1
            known = {}
            if len(self._shapes) >= self.shape_cache:
                self._shapes.clear()
            if self.shape_cache:
                self._shapes[shape] = known
        else:
            self.shape_hits += 1
        duration = events[-1].time_ns - events[0].time_ns
        for cp in self._trace_formula:
            cp = cp.by_letters(duration) or cp  # a timed one's twin if the bounds cannot matter
            cache = fast.get(id(cp))
            if cache is not None:
                hit = known.get(id(cp))
                if hit is None:
                    hit = known[id(cp)] = self._fast_verdict(cp, cache, gs, partial)
                verdict, triggered = hit
                if verdict is not Verdict.VIOLATED:
                    counts[(cp.name, verdict.value)] += 1
                    if verdict is Verdict.SATISFIED and cp.triggers and not triggered:
                        self.vacuous[cp.name] += 1
                    continue
                # violated (rare): step again with the evidence the report needs
            inst = Instance(tid, cp)
            inst.partial = partial
            mon.step_instance(cp, inst, events, gs, trace)
            verdict = mon.final_verdict(cp, inst)
            counts[(cp.name, verdict.value)] += 1
            if verdict is Verdict.SATISFIED and cp.triggers and not inst.trigger:
                self.vacuous[cp.name] += 1
            elif verdict is Verdict.VIOLATED:
                self._emit(mon.violation(cp, inst))
        for cp in self._trace_agg:
            samples = Samples(tid)
            mon.sample(cp, samples, events, trace)
            verdict, violations = mon.aggregate(cp, samples)
            counts[(cp.name, verdict.value)] += 1
            for v in violations:
                self._emit(v)
        self._queue_cross(trace, events_x, gs_x)

    def _complete_logs(self, trace: Trace, events, gs) -> None:
        """The per-trace properties that see log records, on the merged events."""
        if not self._trace_log:
            return
        mon = self.monitor
        merged = trace.events_with_logs
        if merged is not events:
            letter = self.compiled.letter
            gs = [letter(ev.span, ev.is_start, trace) for ev in merged]
        if not merged:
            return
        for cp in self._trace_log:
            inst = Instance(trace.trace_id, cp)
            inst.partial = trace.is_partial
            mon.step_instance(cp, inst, merged, gs, trace)
            verdict = mon.final_verdict(cp, inst)
            self.verdict_counts[(cp.name, verdict.value)] += 1
            if verdict is Verdict.SATISFIED and cp.triggers and not inst.trigger:
                self.vacuous[cp.name] += 1
            elif verdict is Verdict.VIOLATED:
                self._emit(mon.violation(cp, inst))

    def _queue_cross(self, trace: Trace, events, gs) -> None:
        """Buffer a decided trace's events for the cross-trace scopes (by watermark)."""
        tid = trace.trace_id
        if not self._cross or not events:
            self._done_traces.append(tid)
            return
        released = self._released
        gen = self._generation
        queued = 0
        heap = self._heap
        span_keys: dict[str, tuple] = {}
        for i, ev in enumerate(events):
            if ev.is_start is None:  # a log record: only the properties that see logs
                keys = tuple((cp, k) for cp, k in self._keys(ev.span)
                             if cp.index in self._log_idx)
            else:
                keys = span_keys.get(ev.span.span_id)
                if keys is None:
                    keys = span_keys[ev.span.span_id] = self._keys(ev.span)
            if not keys:
                continue  # belongs to no cross-trace instance
            if released is not None and ev.time_ns <= released:
                self._late_event(ev, trace)
                continue
            heapq.heappush(heap, (ev.time_ns, tid, i, next(self._seq), ev, gs[i], trace, gen,
                                  keys))
            queued += 1
        if queued:
            self._pending_events[tid] = self._pending_events.get(tid, 0) + queued
        else:
            self._done_traces.append(tid)
        end = trace.end_ns
        if self._max_end is None or end > self._max_end:
            self._max_end = end

    def _fast_verdict(self, cp: CompiledProperty, cache: dict, gs: list[int],
                      partial: bool) -> tuple[Verdict, bool]:
        """The verdict :meth:`Monitor._run` + ``_final_verdict`` give, without evidence.

        The same DFA table; the property's letter is memoized by the global letter (few
        distinct letters occur), and stepping stops once the verdict is final.
        """
        mon = cp.monitor
        table, n, decided = mon.table, mon.n_letters, mon.decided
        mask = cp.mask
        s = mon.initial
        for g in gs:
            local = cache.get(g)
            if local is None:
                local = cache[g] = mask(g, 0)
            s = table[s * n + local]
            if decided[s]:
                break
        trig = 0
        for t in cp.triggers:
            trig |= 1 << t
        triggered = bool(trig) and any(g & trig for g in gs)
        probe = _Probe(s, partial)
        return self.monitor.final_verdict(cp, probe), triggered

    def _cross_late(self, trace: Trace) -> None:
        """Spans that arrived after their trace was handed out: per-trace verdicts stand;
        their events still reach cross-trace instances if the watermark allows."""
        if not self._cross:
            return
        letter = self.compiled.letter
        tid = trace.trace_id
        queued = 0
        for i, ev in enumerate(trace.events):
            if self._released is not None and ev.time_ns <= self._released:
                self._late_event(ev, trace)
                continue
            keys = self._keys(ev.span)
            if not keys:
                continue
            g = letter(ev.span, ev.is_start, trace)
            # index offset keeps the heap order total and distinct from the first hand-out
            heapq.heappush(self._heap, (ev.time_ns, tid, 1_000_000 + i, next(self._seq), ev,
                                        g, trace, self._generation, keys))
            queued += 1
        if queued:
            self._pending_events[tid] = self._pending_events.get(tid, 0) + queued

    def _index_links(self, trace: Trace) -> None:
        """`linked(P)` in a stream sees the spans of recently completed traces."""
        index = self.compiled.gen.namespace["_LINKS"]
        keys = []
        for sp in trace.spans:
            k = (sp.trace_id, sp.span_id)
            index[k] = (sp, trace)
            keys.append(k)
        self._links[trace.trace_id] = keys
        while len(self._links) > self.max_open_traces:
            _, old = self._links.popitem(last=False)
            for k in old:
                index.pop(k, None)

    # ------------------------------------------------------------------ watermark
    def _watermark(self) -> int | None:
        return None if self._max_end is None else self._max_end - self.lateness_ns

    def _release(self, final: bool = False) -> None:
        wm = self._watermark()
        if final:
            wm = 1 << 126
        if wm is None:
            return
        heap = self._heap
        touched: dict[int, dict[str, None]] = defaultdict(dict)
        letter = self.compiled.letter
        gen = self._generation
        pending = self._pending_events
        while heap and heap[0][0] <= wm:
            t, tid, _, seq, ev, g, trace, g_gen, keys = heapq.heappop(heap)
            try:
                if g_gen != gen:  # decided before a reload: the letter is the new spec's
                    g = letter(ev.span, ev.is_start, trace)
                    keys = self._keys(ev.span)
                    if ev.is_start is None:
                        keys = tuple((c, k) for c, k in keys if c.index in self._log_idx)
                for cp, key in keys:
                    if cp.prop.kind != "aggregate":
                        self._step(cp, key, ev, g, trace)
                    else:
                        self._sample_cross(cp, key, ev, trace, touched[cp.index])
            except Exception as e:  # one event's bug must not stop the stream
                self._fail(f"event of trace {tid}", e)
            if not tid:  # a record outside any trace's events (ingest_logs)
                jk = self._free_key.pop(seq, None)
                if jk is not None:
                    left = self._key_pending.get(jk, 0) - 1
                    if left <= 0:
                        self._key_pending.pop(jk, None)
                        self._done_log_keys.append(jk)
                    else:
                        self._key_pending[jk] = left
                continue
            n = pending.get(tid, 0) - 1
            if n <= 0:
                pending.pop(tid, None)
                self._done_traces.append(tid)
            else:
                pending[tid] = n
        if not final:
            self._released = wm if self._released is None else max(self._released, wm)
        for cp in self._cross:
            if cp.prop.kind == "aggregate":
                try:
                    self._close_windows(cp, wm, touched.get(cp.index, {}))
                except Exception as e:
                    self._fail(f"windows of {cp.name!r}", e)

    def _keys(self, span: Span) -> tuple:
        """``(property, key)`` of every cross-trace instance the span belongs to; a span
        without a value for a scope key belongs to no instance of that property (§3)."""
        out = []
        for cp in self._cross:
            key = "*" if cp.prop.scope == "global" else key_text(cp.key(span))
            if key is not None:
                out.append((cp, key))
        return tuple(out)

    def _key(self, cp: CompiledProperty, span: Span) -> str | None:
        if cp.prop.scope == "global":
            return "*"
        return key_text(cp.key(span))

    def _step(self, cp: CompiledProperty, key: str, ev, g: int, trace: Trace) -> None:
        opened = self._open[cp.index]
        inst = opened.get(key)
        if inst is None:
            if key in self._decided[cp.index]:
                return  # final verdicts do not change
            inst = opened[key] = Instance(key, cp)
            self._limit(cp)
        else:
            opened.move_to_end(key)
        self.monitor.step_instance(cp, inst, [ev], [g], trace)
        inst.partial |= trace.is_partial
        if inst.decided_at is not None:
            verdict = cp.monitor.verdict(inst.state)
            if inst.late and verdict is not Verdict.INCONCLUSIVE:
                verdict = Verdict.INCONCLUSIVE  # a missing event could have changed it
            self._decide(cp, key, verdict.value)
            if verdict is Verdict.VIOLATED:
                self._emit(self.monitor.violation(cp, inst))

    def _decide(self, cp: CompiledProperty, key: str, verdict: str) -> None:
        self._open[cp.index].pop(key, None)
        decided = self._decided[cp.index]
        decided[key] = verdict
        self.verdict_counts[(cp.name, verdict)] += 1
        while len(decided) > self.max_instances:
            decided.popitem(last=False)  # forgotten: a new event starts a new instance

    def _limit(self, cp: CompiledProperty) -> None:
        opened = self._open[cp.index]
        while len(opened) > self.max_instances:
            key, _ = opened.popitem(last=False)
            self.evicted_instances += 1
            self._decide(cp, key, INCOMPLETE)

    def _late_event(self, ev, trace: Trace) -> None:
        self.late_events += 1
        for cp in self._cross:
            if ev.is_start is None and cp.index not in self._log_idx:
                continue  # a log record is no event of a property that reads no log field
            key = self._key(cp, ev.span)
            if key is None or key in self._decided[cp.index]:
                continue
            if cp.prop.kind != "aggregate":
                inst = self._open[cp.index].get(key)
                if inst is None:
                    inst = self._open[cp.index][key] = Instance(key, cp)
                    self._limit(cp)
                inst.late = True
            elif cp.prop.window is None or cp.prop.window[1]:
                state = self._open[cp.index].get(key)
                if state is not None:
                    state.late = True
            else:  # tumbling: a window that is still open takes the row as usual
                size = cp.prop.window[0]
                state = self._open[cp.index].get(key)
                if ev.is_start:
                    continue
                if state is not None and ev.time_ns // size in state.rows:
                    self._add_row(cp, state, ev, trace)
                elif state is not None:
                    state.late = True

    def _open_verdict(self, cp: CompiledProperty, inst: Any) -> str:
        if isinstance(inst, Instance):
            v = cp.monitor.verdict(inst.state)
            if (inst.late or inst.partial) and not v.is_final:
                return Verdict.INCONCLUSIVE.value
            return v.value
        return (Verdict.INCONCLUSIVE if inst.late else Verdict.PRESUMABLY_SATISFIED).value

    # ------------------------------------------------------------------ aggregates
    def _add_row(self, cp: CompiledProperty, state: Any, ev, trace: Trace) -> None:
        s = ev.span
        row = tuple((value(s, False, trace), bool(where(s, False, trace)))
                    for _, value, where in cp.aggregates)
        state.trace_ids[s.trace_id] = None
        window = cp.prop.window
        if window is None:
            state.rows.setdefault(0, []).append((ev.time_ns, s, row))
        elif window[1]:
            state.rows.setdefault(0, deque()).append((ev.time_ns, s, row))
        else:
            state.rows.setdefault(ev.time_ns // window[0], []).append((ev.time_ns, s, row))

    def _sample_cross(self, cp: CompiledProperty, key: str, ev, trace: Trace,
                      touched: dict[str, None]) -> None:
        if ev.is_start:
            return  # aggregates range over spans: one sample per span, at its end event
        opened = self._open[cp.index]
        state = opened.get(key)
        if state is None:
            if cp.prop.window is None and key in self._decided[cp.index]:
                return
            state = opened[key] = _Window()
            self._limit(cp)
        else:
            opened.move_to_end(key)
        self._add_row(cp, state, ev, trace)
        window = cp.prop.window
        if window is not None and window[1]:  # sliding: the window ending at this row
            rows = state.rows[0]
            t = ev.time_ns
            while rows and rows[0][0] <= t - window[0]:
                rows.popleft()
            self._evaluate(cp, key, state, list(rows), (t - window[0], t))
        elif window is None:
            touched[key] = None

    def _close_windows(self, cp: CompiledProperty, wm: int, touched: dict[str, None]) -> None:
        window = cp.prop.window
        opened = self._open[cp.index]
        if window is None:  # one aggregate over the whole instance: re-evaluated as it grows
            for key in touched:
                state = opened.get(key)
                if state is None:
                    continue
                rows = state.rows.get(0, [])
                if self._evaluate(cp, key, state, rows, None):
                    self._decide(cp, key, Verdict.VIOLATED.value)
                elif len(rows) > _MAX_ROWS:
                    self.evicted_instances += 1
                    self._decide(cp, key, INCOMPLETE)
            return
        if window[1]:
            return
        size = window[0]
        for key in list(opened):
            state = opened[key]
            for idx in sorted(state.rows):
                if (idx + 1) * size > wm:
                    break
                rows = state.rows.pop(idx)
                bad = self._evaluate(cp, key, state, rows, (idx * size, (idx + 1) * size))
                verdict = (Verdict.INCONCLUSIVE if state.late and not bad else
                           Verdict.VIOLATED if bad else Verdict.SATISFIED)
                self.verdict_counts[(cp.name, verdict.value)] += 1
                state.late = False
            if not state.rows:
                del opened[key]

    def _evaluate(self, cp: CompiledProperty, key: str, state: Any, part: list,
                  bounds: tuple | None) -> bool:
        """One window (or the whole instance): emit a violation if the body is false.
        The same evaluation as :meth:`Monitor.aggregate` for one window."""
        if not part:
            return False
        window = cp.prop.window
        env: dict = {}
        for i, (node, _, _) in enumerate(cp.aggregates):
            span_ns = window[0] if window else (
                (part[-1][0] - part[0][0]) or None if len(part) > 1 else None)
            value = aggregate_value(node.payload, [r[2][i] for r in part], span_ns)
            if value is None:
                return False  # an empty window neither violates nor satisfies
            env[("agg", i)] = value
        try:
            ok = bool(cp.body_fn(env))
        except (EvalError, TypeError):
            ok = False
        if ok:
            return False
        self._emit(self.monitor.aggregate_violation(cp, key, env, part, bounds))
        return True

    # ------------------------------------------------------------------ metrics
    def _metric_points(self, cp: CompiledProperty, points: list) -> None:
        by_metric = metric_names(self.spec, cp)
        needed = sum(map(len, by_metric.values()))
        latest, bad = self._latest[cp.index], self._bad[cp.index]
        for p in points:
            if p.metric not in by_metric:
                continue
            key = metric_key(cp, p)
            if key is None:
                continue
            values = latest.setdefault(key, {})
            if not metric_update(values, by_metric[p.metric], p.value, needed):
                continue
            ok = metric_holds(cp, values)
            self.verdict_counts[(cp.name, "satisfied" if ok else "violated")] += 1
            if ok:
                bad[key] = False
                continue
            if bad.get(key):
                continue  # the same bad episode
            bad[key] = True
            self._emit(self.monitor.metric_violation(cp, key, values, [p]))

    # ------------------------------------------------------------------ helpers
    def _emit(self, v: Violation) -> None:
        self.violations_decided += 1
        self._violations.append(v)


def _same_property(old: CompiledProperty, new: CompiledProperty) -> bool:
    """Unchanged definition and an identical automaton, so open states carry over."""
    if old.prop != new.prop or old.observe is not None:
        return False  # a model's or workflow's monitor: its instances start afresh
    a, b = old.monitor, new.monitor
    if a is None or b is None:
        return a is None and b is None
    if hasattr(a, "table") != hasattr(b, "table"):
        return False
    sym_a, sym_b = (getattr(m, "guarded", False) for m in (a, b))
    if hasattr(a, "table") and (sym_a or sym_b):
        # a lazily filled table: one formula over one atom order is one guarded automaton
        return (sym_a and sym_b and str(a.formula) == str(b.formula)
                and a.n_states == b.n_states and a.initial == b.initial
                and tuple(map(str, a.atoms)) == tuple(map(str, b.atoms)))
    if hasattr(a, "table"):
        return (list(a.table) == list(b.table) and a.n_letters == b.n_letters
                and list(a.verdicts) == list(b.verdicts) and a.initial == b.initial
                and tuple(map(str, a.atoms)) == tuple(map(str, b.atoms)))
    return str(a.formula) == str(b.formula) and tuple(map(str, a.atoms)) == tuple(
        map(str, b.atoms))
