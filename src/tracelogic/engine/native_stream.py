"""The sidecar's streaming monitor on the native core (issue 17 step 5; docs/native.md).

    sm = streaming_monitor(tracelogic.load("shop.spec"), idle_ns=5 * SECOND)
    sm.ingest_otlp(request_bytes, stats)   # what the receivers got, as bytes
    sm.poll(limit=50)
    for v in sm.take_violations(): ...

:func:`streaming_monitor` picks the engine as ``monitor`` does (``engine=``, else
``$TRACELOGIC_ENGINE``, else native where the core covers a property). When the core runs
some property it returns a :class:`NativeStreamingMonitor`, which has the public API of
:class:`~.stream.StreamingMonitor` (the reference, whose module docstring states the
streaming rules) and splits the work:

- the core (``_native.StreamRun``, ``native/src/stream_run.rs``) decodes each request,
  assembles traces in streaming mode with the same clock readings, and decides the
  **untimed formulas**: per trace (``prev``/``last`` registers included), and across
  traces (``per attr[...]``, ``per service``, ``global``; register-free) with the
  reference's watermark, late events,
  ``max_instances`` eviction and instance evidence. It counts verdicts itself and reports
  only violations, so no Python object is made per span for them. The cross-trace scopes
  run in one engine: all in the core when it covers every one of them, else all in Python
  (the watermark, the late-event count and the buffered events are shared by them);
- a Python :class:`~.stream.StreamingMonitor` runs every other property (timed ones,
  cross-trace registers, aggregates, metrics) on :class:`Span` objects built from the columns the core
  decoded (``spans_from_columns``): decoding happens once, in the core. It gets the same
  spans at the same clock readings, so both assemblers hand out the same traces. When it
  runs nothing that reads spans, no :class:`Span` is built at all.

Verdict counts, violations (in the reference's order), done traces and counters are
merged so that the sidecar sees what the reference would give; the differential test
``tests/engine/test_native_stream.py`` holds the two to that.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Iterable

from tracelogic.engine.monitor import Instance, Monitor
from tracelogic.engine.native_run import _render_key, final_verdicts
from tracelogic.engine.plan import NativePlan, build_plan
from tracelogic.engine.registry import Assignment, assign
from tracelogic.engine.report import Violation
from tracelogic.engine.stream import (SECOND, StreamCounters, StreamingMonitor,
                                      _same_property)
from tracelogic.ingest.events import Event
from tracelogic.ingest.native_otlp import record_problems, span_from_fields, spans_from_columns
from tracelogic.ingest.otlp import DecodeStats, decode_traces_pb, is_metrics_request
from tracelogic.gc_pause import gc_paused
from tracelogic.spec.typed import Spec

__all__ = ["streaming_monitor", "NativeStreamingMonitor", "CROSS_REASON", "KIND_REASON"]

#: why a cross-trace property the core could run runs in Python in `serve`: another
#: cross-trace property of the spec needs the Python engine, and the scopes share one
#: watermark, one late-event count and one event buffer, so they run in one engine
CROSS_REASON = ("serve runs every cross-trace scope in one engine, and another cross-trace "
                "property of this spec runs in the Python engine")
#: why serve steps a property the file-mode core runs in the Python engine
KIND_REASON = ("serve runs timed properties, aggregates and cross-trace prev()/last() registers "
               "in the Python engine: the core's streaming run steps untimed formulas, with "
               "registers per trace only")


def streaming_monitor(spec: Spec, **kw: Any) -> "StreamingMonitor | NativeStreamingMonitor":
    """The sidecar's streaming monitor for ``spec`` (keywords: :class:`StreamingMonitor`'s).

    A :class:`NativeStreamingMonitor` when the selected engine is native and the core runs
    some property; else the reference :class:`StreamingMonitor`. Either way
    ``sm.monitor.engine_plan`` says which engine runs each property, and why not the core.
    """
    full, engine_plan, plan = _split(spec, kw.get("properties"), kw.get("engine"))
    if plan is None:
        sm = StreamingMonitor(spec, **kw)
        sm.monitor.engine_plan = engine_plan
        return sm
    return NativeStreamingMonitor(spec, full, engine_plan, plan, **kw)


def _split(spec: Spec, properties: list[str] | None, engine: str | None,
           cross: bool = True) -> tuple[Monitor, dict[str, Assignment], NativePlan | None]:
    """The compiled spec (in a Monitor, for its violation records), which engine runs each
    property, and the core's plan (None when the core runs nothing). ``cross=False`` keeps
    every cross-trace property in Python (a reload keeps them where they ran)."""
    full = Monitor(spec, properties=properties, engine="python", streaming=True)
    chosen = assign(full.compiled.properties, engine)
    out: dict[str, Assignment] = {}
    for cp in full.compiled.properties:
        a = chosen[cp.name]
        if a.engine == "native" and (cp.prop.kind != "formula" or cp.timed or (
                cp.n_registers and cp.prop.scope != "trace")):
            a = Assignment(a.property, "python", a.needs, KIND_REASON)
        out[cp.name] = a
    native = [cp for cp in full.compiled.properties if out[cp.name].engine == "native"]
    plan = build_plan(full.compiled, native) if native else None
    if plan is not None:
        for name, why in plan.fallbacks.items():
            a = out[name]
            out[name] = Assignment(a.property, "python", a.needs, why)
    cross_cps = [cp for cp in full.compiled.properties if cp.prop.scope != "trace"
                 and cp.prop.kind != "metric"]
    if any(out[cp.name].engine == "python" for cp in cross_cps) or not cross:
        # the cross-trace scopes run in one engine: here, Python
        for cp in cross_cps:
            a = out[cp.name]
            if a.engine == "native":
                out[cp.name] = Assignment(a.property, "python", a.needs, CROSS_REASON)
        native = [cp for cp in native if out[cp.name].engine == "native"]
        plan = build_plan(full.compiled, native) if native else None
    if plan is not None and not plan.properties:
        plan = None
    return full, out, plan


def _tables(plan: NativePlan, names: list[str]) -> list[tuple[list[int], ...]]:
    """Per plan property: the verdict code of each state for a whole and a partial trace
    that ended there, and its verdict now (``monitor.verdict``: a cross-trace instance's)."""
    code = {n: i for i, n in enumerate(names)}
    return [tuple([code[v.value] for v in final_verdicts(cp, partial)]
                  for partial in (False, True))
            + ([code[v.value] for v in cp.monitor.verdicts],) for cp in plan.properties]


def _check_limits(lateness_ns: Any, max_instances: Any) -> None:
    """:class:`StreamingMonitor`'s checks of the limits, in its words."""
    for name, v in (("lateness_ns", lateness_ns), ("max_instances", max_instances)):
        if not isinstance(v, int) or v < 0:
            raise ValueError(f"{name}={v!r} must be a non-negative int")


class _CoreAssembler:
    """What the sidecar reads of ``sm.assembler``, from the core's assembler."""

    _NAMES = frozenset({"open_traces", "open_spans", "completed", "duplicates", "late",
                        "evicted"})

    def __init__(self, core: Any, lock: threading.Lock, max_open_traces: int):
        self._core = core
        self._lock = lock
        self.max_open_traces = max_open_traces

    def counters(self) -> dict[str, int]:
        with self._lock:
            return self._core.counters()

    def __getattr__(self, name: str) -> int:
        if name not in self._NAMES:
            raise AttributeError(name)
        return self.counters()[name]


class NativeStreamingMonitor:
    """:class:`StreamingMonitor`'s API on the core plus, for what the core does not run, a
    Python :class:`StreamingMonitor`; see the module docstring. One thread calls it."""

    def __init__(self, spec: Spec, full: Monitor, engine_plan: dict[str, Assignment],
                 plan: NativePlan, *, properties: list[str] | None = None,
                 lateness_ns: int = 30 * SECOND, idle_ns: int = 5 * SECOND,
                 rootless_idle_ns: int | None = None, max_open_traces: int = 100_000,
                 max_open_spans: int | None = None, max_instances: int = 100_000,
                 shape_cache: int = 4096, clock: Callable[[], int] = time.monotonic_ns,
                 engine: str | None = None):
        from tracelogic import _native

        _check_limits(lateness_ns, max_instances)
        if max_open_spans is not None:
            raise ValueError("max_open_spans is not supported by the native streaming core; "
                             "use engine='python'")
        self.lateness_ns = lateness_ns
        self.idle_ns = idle_ns
        self.rootless_idle_ns = (max(12 * idle_ns, 60 * SECOND) if rootless_idle_ns is None
                                 else rootless_idle_ns)
        self.max_open_traces = max_open_traces
        self.max_instances = max_instances
        self.shape_cache = shape_cache
        self.clock = clock
        self.engine = engine
        self.properties_filter = properties
        self._names = list(_native.StreamRun.verdict_names())
        self._now = 0
        self.spans = 0
        self._violations: list[Violation] = []
        self._done: list[str] = []
        self._done_log_keys: list[str] = []
        self._completions: deque[list] = deque()  # [perf_counter time, traces] found complete
        self._handed_out: list[float] = []
        self._old_counts: dict[tuple[str, str], int] = {}
        self._old_vacuous: dict[str, int] = {}
        self._core_violations = 0
        # the engine thread calls the core with the GIL released; the receivers (backlog)
        # and the metrics scrape (counters) read it from other threads: they take the
        # lock, or read the backlog as last counted here
        self._lock = threading.Lock()
        self._backlog = 0
        self._install(full, engine_plan, plan)
        self._core = _native.StreamRun(plan.to_json(), set(self.compiled.wanted_attrs),
                                       max_open_traces, idle_ns, self.rootless_idle_ns,
                                       lateness_ns, max_instances,
                                       _tables(plan, self._names), _render_key)
        self._core.set_shape_cache(max(0, shape_cache))  # the register-free per-trace ones
        self.assembler = _CoreAssembler(self._core, self._lock, max_open_traces)
        self.py: StreamingMonitor | None = None
        self._py_setup(spec)

    # ------------------------------------------------------------------ setup
    def _install(self, full: Monitor, engine_plan: dict[str, Assignment],
                 plan: NativePlan) -> None:
        full.engine_plan = engine_plan
        self.monitor = full
        self.compiled = full.compiled
        self.plan = plan
        self._core_cps = list(plan.properties)
        order = {cp.name: i for i, cp in enumerate(full.compiled.properties)}
        self._order = order
        native = {cp.name for cp in plan.properties}
        self._py_names = [cp.name for cp in full.compiled.properties if cp.name not in native]
        # the cross-trace scopes run in one engine (see _split): the core when it has one
        self._core_cross = [(j, cp) for j, cp in enumerate(plan.properties)
                            if cp.prop.scope != "trace"]
        self._cross_native = bool(self._core_cross)
        # the Python part needs spans unless it runs only metric invariants
        self._py_spans = any(cp.prop.kind != "metric" for cp in full.compiled.properties
                             if cp.name not in native)

    def _py_setup(self, spec: Spec) -> None:
        if self._py_names:
            self.py = StreamingMonitor(
                spec, properties=self._py_names, lateness_ns=self.lateness_ns,
                idle_ns=self.idle_ns, rootless_idle_ns=self.rootless_idle_ns,
                max_open_traces=self.max_open_traces, max_instances=self.max_instances,
                shape_cache=self.shape_cache, clock=lambda: self._now, engine="python")
        else:
            self.py = None

    # the reference's accessors read only ``monitor`` and ``compiled``, as here
    spec = StreamingMonitor.spec
    wanted_attrs = StreamingMonitor.wanted_attrs
    wanted_metrics = StreamingMonitor.wanted_metrics

    # ------------------------------------------------------------------ input
    def ingest_otlp(self, data: bytes, stats: DecodeStats, source: str = "request") -> None:
        """Decode one ``ExportTraceServiceRequest`` in the core and buffer its spans,
        counting it in ``stats`` exactly as the Python decoder would. Raises the
        decoder's :class:`InputError` for a request refused whole (nothing is kept)."""
        now = self._now = self.clock()
        cols = self._py_spans
        with self._lock:
            c = self._core.feed_pb(data, False, now, cols)
        if c["upb_refused"] and not c["committed"] and c["error"] is None:
            if is_metrics_request(data):  # refused whole, in the Python decoder's words
                decode_traces_pb(data, wanted_attrs=self.wanted_attrs, stats=stats,
                                 source=source)
            with self._lock:
                c = self._core.feed_pb(data, True, now, cols)
        record_problems(c, data, stats, source)
        self.spans += c["decoded"]
        self._given(c, [])
        if cols and self.py is not None:
            with gc_paused():  # spans hold no cycles (as Monitor.feed_otlp)
                self.py.ingest(spans_from_columns(c))

    def ingest(self, spans: Iterable[Any]) -> None:
        """Spans as objects (a replayed journal, OTLP/JSON decoded in Python): encoded as
        OTLP protobuf for the core, as ``Monitor.feed`` does."""
        from tracelogic.ingest.otlp import spans_to_request

        spans = list(spans)
        if spans:
            self.ingest_otlp(spans_to_request(spans).SerializeToString(), DecodeStats())

    @property
    def waiting_log_records(self) -> int:
        return self.py.waiting_log_records if self.py is not None else 0

    @property
    def late_log_records(self) -> int:
        return self.py.late_log_records if self.py is not None else 0

    @property
    def evicted_log_records(self) -> int:
        return self.py.evicted_log_records if self.py is not None else 0

    def ingest_logs(self, records: Iterable[Any], journal_key: str | None = None,
                    cross_only: bool = False) -> None:
        """Log records: only the Python engine's properties read them (docs/logs.md)."""
        records = list(records)
        self.log_records = getattr(self, "log_records", 0) + len(records)
        if self.py is not None:
            self.py.ingest_logs(records, journal_key, cross_only)
            self._violations.extend(self.py.take_violations())
        elif journal_key is not None:  # nothing reads them: nothing waits
            self._done_log_keys.append(journal_key)

    @property
    def sees_logs(self) -> bool:
        return self.py is not None and self.py.sees_logs

    def decided_trace(self, trace_id: str) -> bool:
        return self.py is not None and self.py.decided_trace(trace_id)

    def take_done_log_keys(self) -> list[str]:
        """The Python part's (only it reads log records), whichever engine runs the
        cross-trace scopes."""
        out, self._done_log_keys = self._done_log_keys, []
        return out + (self.py.take_done_log_keys() if self.py is not None else [])

    def feed_points(self, points: Iterable[Any]) -> None:
        if self.py is not None:
            self.py.feed_points(points)
            self._violations.extend(self.py.take_violations())

    def poll(self, now: int | None = None, *, limit: int | None = None) -> int:
        """:meth:`StreamingMonitor.poll`: the core's traces and the Python part's, at the
        same clock reading."""
        now = self._now = self.clock() if now is None else now
        t = time.perf_counter()
        with self._lock:
            g = self._core.poll(now, limit)
            self._backlog = self._core.backlog
        if g["completed"]:
            self._completions.append([t, g["completed"]])
        self._note_decided(g["decided"])
        py_out = []
        if self.py is not None:
            self.py.poll(now, limit=limit)
            py_out = self.py.take_violations()
        self._given(g, py_out)
        return g["decided"]

    @property
    def backlog(self) -> int:
        """Completed traces waiting to be decided (as of the last poll)."""
        return self._backlog

    def finish(self) -> None:
        with self._lock:
            g = self._core.finish()
            self._backlog = 0
        self._note_decided(g["decided"])
        py_out = []
        if self.py is not None:
            self.py.finish()
            py_out = self.py.take_violations()
        self._given(g, py_out)

    def release_all(self) -> None:
        with self._lock:
            g = self._core.release_all()
            self._backlog = 0
        self._note_decided(g["decided"])
        py_out = []
        if self.py is not None:
            self.py.release_all()
            py_out = self.py.take_violations()
        self._given(g, py_out)

    def _note_decided(self, n: int) -> None:
        """Completion times of ``n`` traces decided from the front of the backlog."""
        q = self._completions
        while n and q:
            t, k = q[0]
            take = min(n, k)
            self._handed_out.extend([t] * take)
            n -= take
            if take == k:
                q.popleft()
            else:
                q[0][1] = k - take

    def _given(self, g: dict[str, Any], py_out: list[Violation]) -> None:
        """Take one call's handed-out traces: the core's violations, merged with the Python
        part's in the reference's order (per trace in decision order: formulas, then
        aggregates, each in spec order; then cross-trace ones as their instances were
        decided, and metric ones)."""
        done = g["done"]
        if self._cross_native or self.py is None or not self._py_spans:
            self._done.extend(done)
        core_out = self._violations_of(g["violated"]) if g["violated"] else []
        cross_out = self._cross_violations(g["cross_violated"]) if g["cross_violated"] else []
        if not py_out:
            self._violations.extend(core_out + cross_out)
            return
        if not core_out:
            if cross_out:
                py_out = ([v for v in py_out if v.prop.scope == "trace"] + cross_out
                          + [v for v in py_out if v.prop.scope != "trace"])
            self._violations.extend(py_out)
            return
        pos: dict[str, int] = {}
        for i, tid in enumerate(g["handed"]):
            pos.setdefault(tid, i)
        order = self._order
        per_trace, rest = [], []
        for v in py_out:
            if v.prop.scope == "trace" and v.key in pos:
                per_trace.append(v)
            else:
                rest.append(v)
        per_trace += core_out
        per_trace.sort(key=lambda v: (pos[v.key], v.prop.kind == "aggregate",
                                      order[v.prop.name]))
        self._violations.extend(per_trace + cross_out + rest)

    def _cross_violations(self, violated: list) -> list[Violation]:
        """The core's cross-trace violations: the instance's evidence was copied out of the
        store when it was stepped (the traces may be gone)."""
        mon = self.monitor
        spans: dict[tuple, Any] = {}

        def event(w: tuple) -> Event:
            time_ns, is_start, fields = w
            k = (fields[7], fields[8])
            span = spans.get(k)
            if span is None:
                span = spans[k] = span_from_fields(fields)
            return Event(time_ns, is_start, span)
        out = []
        for j, key, trace_ids, state, raised, decided in violated:
            cp = self._core_cps[j]
            inst = Instance(key, cp)
            inst.state = state
            inst.decided_at = inst.last = event(decided)
            if raised is not None:
                inst.raised_at = event(raised)
            inst.trace_ids = dict.fromkeys(trace_ids)
            out.append(mon.violation(cp, inst))
        self._core_violations += len(out)
        return out

    def _violations_of(self, violated: list) -> list[Violation]:
        core, mon = self._core, self.monitor
        spans: dict[int, Any] = {}

        def event(t: int, i: int) -> Event:
            time_ns, is_start, row = core.event(t, i)
            span = spans.get(row)
            if span is None:
                span = spans[row] = span_from_fields(core.span(row))
            return Event(time_ns, is_start, span)
        out = []
        for j, t, tid, state, decided, raised, last in violated:
            cp = self._core_cps[j]
            inst = Instance(tid, cp)
            inst.state = state
            if decided >= 0:
                inst.decided_at = event(t, decided)
            if raised >= 0:
                inst.raised_at = event(t, raised)
            inst.last = inst.decided_at or event(t, last)
            inst.trace_ids[tid] = None
            out.append(mon.violation(cp, inst))
        self._core_violations += len(out)
        return out

    # ------------------------------------------------------------------ output
    def take_violations(self) -> list[Violation]:
        out, self._violations = self._violations, []
        return out

    def take_done_traces(self) -> list[str]:
        if self._cross_native:  # the core's are the reference's: its own wait for the
            if self.py is not None:  # cross-trace events; the Python part's are earlier
                self.py.take_done_traces()
        elif self.py is not None and self._py_spans:
            return self.py.take_done_traces()
        out, self._done = self._done, []
        return out

    def take_completion_times(self) -> list[float]:
        out, self._handed_out = self._handed_out, []
        return out

    @property
    def shape_hits(self) -> int:
        """Traces whose per-trace outcomes came from a trace-shape cache (the core's, and
        the Python part's)."""
        with self._lock:
            hits = self._core.shape_counts()[0]
        return hits + (self.py.shape_hits if self.py is not None else 0)

    @property
    def shape_misses(self) -> int:
        with self._lock:
            misses = self._core.shape_counts()[1]
        return misses + (self.py.shape_misses if self.py is not None else 0)

    @property
    def failures(self) -> int:
        return 0 if self.py is None else self.py.failures

    def take_failures(self) -> list[str]:
        return [] if self.py is None else self.py.take_failures()

    def _core_counts(self) -> tuple[list, list]:
        with self._lock:
            return self._core.verdict_counts()

    @property
    def verdict_counts(self) -> dict[tuple[str, str], int]:
        counts, _ = self._core_counts()
        out = dict(self._old_counts)
        for cp, row in zip(self._core_cps, counts):
            for name, n in zip(self._names, row):
                if n:
                    out[(cp.name, name)] = out.get((cp.name, name), 0) + n
        if self.py is not None:
            for k, n in self.py.verdict_counts.items():
                out[k] = out.get(k, 0) + n
        return out

    @property
    def vacuous(self) -> dict[str, int]:
        _, vac = self._core_counts()
        out = dict(self._old_vacuous)
        for cp, n in zip(self._core_cps, vac):
            if n:
                out[cp.name] = out.get(cp.name, 0) + n
        if self.py is not None:
            for k, n in self.py.vacuous.items():
                out[k] = out.get(k, 0) + n
        return out

    def _py_attr(self, name: str, default: Any) -> Any:
        return default if self.py is None else getattr(self.py, name)

    @property
    def traces_evicted(self) -> int:
        return self.assembler.evicted

    def _cross_attr(self, name: str) -> int:
        if self._cross_native:
            return self.assembler.counters()[name]
        return self._py_attr(name, 0)

    @property
    def late_events(self) -> int:
        return self._cross_attr("late_events")

    @property
    def evicted_instances(self) -> int:
        return self._cross_attr("evicted_instances")

    @property
    def open_instances(self) -> int:
        return self._cross_attr("open_instances")

    @property
    def buffered_events(self) -> int:
        return self._cross_attr("buffered_events")

    def _watermark(self) -> int | None:
        if self._cross_native:
            return self.assembler.counters()["watermark_ns"]
        return None if self.py is None else self.py._watermark()

    @property
    def points(self) -> int:
        return self._py_attr("points", 0)

    @property
    def violations_decided(self) -> int:
        return self._core_violations + self._py_attr("violations_decided", 0)

    def verdicts(self) -> dict[str, dict[str, str]]:
        out = {} if self.py is None else self.py.verdicts()
        if self._cross_native:
            names = self._names
            with self._lock:
                for j, cp in self._core_cross:
                    out[cp.name] = {k: names[c] for k, c in self._core.verdicts(j)}
        return out

    def counters(self) -> StreamCounters:
        c = self.assembler.counters()  # one reading of the core (the scrape's thread too)
        if self._cross_native:
            cross = [c[k] for k in ("late_events", "open_instances", "evicted_instances",
                                    "buffered_events", "watermark_ns")]
        else:
            cross = [self._py_attr(k, 0) for k in ("late_events", "open_instances",
                                                   "evicted_instances", "buffered_events")]
            cross.append(self._watermark())
        late_events, open_instances, evicted_instances, buffered_events, watermark = cross
        return StreamCounters(
            spans=self.spans, traces_completed=c["completed"], traces_evicted=c["evicted"],
            late_spans=c["late"], late_events=late_events, duplicates=c["duplicates"],
            open_traces=c["open_traces"], open_spans=c["open_spans"],
            open_instances=open_instances, evicted_instances=evicted_instances,
            buffered_events=buffered_events, watermark_ns=watermark,
            violations=self.violations_decided, points=self.points)

    # ------------------------------------------------------------------ reload
    def reload(self, spec: Spec) -> dict[str, list[str]]:
        """:meth:`StreamingMonitor.reload`. Per-trace properties keep no state between
        traces, so the core's open traces carry over to the new plan. Open cross-trace
        instances of unchanged properties carry over in the engine that runs them: the
        cross-trace scopes stay where they ran (in Python if they ran there). Two cases
        differ from the reference: if the reload brings the first property the core does
        not run, the Python part starts with no open trace (traces open at the reload reach
        it only with their later spans); if it brings a cross-trace property the core does
        not run while the core ran the others, they all move to Python and start afresh."""
        props = None if self.properties_filter is None else [
            p for p in self.properties_filter if any(q.name == p for q in spec.properties)]
        py_cross = not self._cross_native and any(
            cp.prop.scope != "trace" and cp.prop.kind != "metric"
            for cp in self.compiled.properties)
        full, engine_plan, plan = _split(spec, props, self.engine, cross=not py_cross)
        if plan is None:  # the core runs nothing now: an empty plan keeps it assembling
            plan = build_plan(full.compiled, [])
        old = {cp.name: cp for cp in self.compiled.properties}
        summary: dict[str, list[str]] = {"kept": [], "restarted": [], "added": [],
                                         "removed": []}
        for cp in full.compiled.properties:
            was = old.pop(cp.name, None)
            key = ("added" if was is None else "kept" if _same_property(was, cp)
                   else "restarted")
            summary[key].append(cp.name)
        summary["removed"] = sorted(old)
        counts, vacuous = self._core_counts()  # the old plan's, kept by name
        for cp, row, vac in zip(self._core_cps, counts, vacuous):
            for name, n in zip(self._names, row):
                if n:
                    self._old_counts[(cp.name, name)] = self._old_counts.get(
                        (cp.name, name), 0) + n
            if vac:
                self._old_vacuous[cp.name] = self._old_vacuous.get(cp.name, 0) + vac
        # the core's cross-trace instances: kept for an unchanged property, else dropped
        # (counted incomplete when the property was restarted, as the reference does)
        old_core = {cp.name: (j, cp) for j, cp in self._core_cross}
        with self._lock:
            opened = self._core.open_per_property()
        carry: list[int | None] = []
        for cp in plan.properties:
            was = old_core.pop(cp.name, None) if cp.prop.scope != "trace" else None
            if was is not None and _same_property(was[1], cp):
                carry.append(was[0])
                continue
            carry.append(None)
            if was is not None and opened[was[0]]:
                k = (cp.name, "incomplete")
                self._old_counts[k] = self._old_counts.get(k, 0) + opened[was[0]]
        restarted = set(summary["restarted"])
        for name, (j, _) in old_core.items():
            if name in restarted and opened[j]:
                k = (name, "incomplete")
                self._old_counts[k] = self._old_counts.get(k, 0) + opened[j]
        self._install(full, engine_plan, plan)
        with self._lock:
            self._core.set_plan(plan.to_json(), set(self.compiled.wanted_attrs),
                                _tables(plan, self._names), carry)
        if self._py_names and self.py is not None:
            self.py.properties_filter = self._py_names
            self.py.reload(spec)
        else:
            if self.py is not None:  # its buffered records go with it: their keys are done
                self._done_log_keys += self.py.take_done_log_keys() + list(
                    self.py._key_pending)
            self._py_setup(spec)
        return summary
