"""The streaming Monitor API: spans in, verdicts and violations with evidence out.

    mon = tracelogic.load("shop.spec").monitor()
    mon.feed(spans)            # SDK ReadableSpans or tracelogic Spans
    mon.feed_otlp(data)        # an ExportTraceServiceRequest (protobuf bytes)
    mon.feed_otlp(text, format="json")  # OTLP/JSON as a file holds it (or JSON Lines)
    report = mon.close()       # everything is complete at close (file mode)

Per-trace properties are decided on each assembled trace (SPEC-LANGUAGE.md §3:
never in arrival order). Cross-trace scopes (``per attr[...]``, ``per service``,
``global``) receive the events of every assembled trace in timestamp order;
in file mode the whole input is sorted first, so nothing is late.
"""
from __future__ import annotations

import difflib
import sys
from bisect import bisect_left
from collections import defaultdict
from functools import partial as bind
from itertools import repeat
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Sequence

from tracelogic.automata.monitor import Verdict
from tracelogic.errors import InputError
from tracelogic.engine.compiled import (CompiledProperty, CompiledSpec, EvalError, Refusal,
                                        aggregate_value)
from tracelogic.engine.native_run import (NativeRun, count_vacuous, final_verdicts,
                                          timed_state, undecided_partial, verdict_codes,
                                          violated, without)
from tracelogic.engine.plan import build_plan
from tracelogic.engine.registry import Assignment, assign
from tracelogic.engine.report import (VERDICT_CODES, DeferredViolation, MonitorReport,
                                      CoreBlock,
                                      PropertyResult, Violation)
from tracelogic.ingest.assembly import Assembler
from tracelogic.ingest.events import Event, Trace
from tracelogic.ingest.logs import LogRecord, decode_logs_json, decode_logs_pb
from tracelogic.spec.scopes import scope_text
from tracelogic.ingest.native_otlp import read_json_text, spans_from_columns
from tracelogic.ingest.otlp import (DecodeStats, OtlpInput, decode_traces_pb,
                                    is_metrics_request, read_bytes, read_json)
from tracelogic.ingest.spans import InvalidValue, Span, from_sdk
from tracelogic.gc_pause import gc_paused
from tracelogic.spec.lexicon import approx_duration, show_runtime
from tracelogic.spec.typed import Spec
from tracelogic.values.missing import MISSING

_END_MASK_MAX = 10  # aggregate witnesses: at most this many spans
_time_ns = attrgetter("time_ns")
_CHANGES_MAX = 256  # state changes a bounded streaming instance keeps for its evidence
_KEY_SAMPLE_BYTES = 4 << 20  # feed_otlp keeps this much input for did-you-mean suggestions
INCOMPLETE = "incomplete"  # the verdict of an instance that lost events to an eviction
#: what ``partial_traces=`` (``--partial-traces``) accepts; the first is the default
PARTIAL_TRACES = ("inconclusive", "ignore")
_MAX_REJECTIONS = 100


class _Stats(DecodeStats):
    """Decode counters that keep rejected spans' messages apart: a rejected span is an
    input error (exit 2, DESIGN.md), while repaired details are only warnings. ``listed``
    counts the spans and points the kept messages cover (one message may reject many)."""

    def __init__(self) -> None:
        super().__init__()
        self.rejections: list[str] = []
        self.listed = 0

    def _list(self, n: int, message: str) -> None:
        if len(self.rejections) < _MAX_REJECTIONS:
            self.rejections.append(message)
            self.listed += n

    def reject(self, message: str) -> None:
        DecodeStats.reject(self, message)
        self._list(1, message)

    def reject_point(self, message: str) -> None:
        DecodeStats.reject_point(self, message)
        self._list(1, message)

    def reject_many(self, n: int, message: str) -> None:
        # a bad resource or scope, or a span the protobuf slow path rejected: one message
        DecodeStats.reject_many(self, n, message)
        self._list(n, message)

    def reject_points(self, n: int, message: str) -> None:
        DecodeStats.reject_points(self, n, message)
        self._list(n, message)

    def reject_log(self, message: str) -> None:
        DecodeStats.reject_log(self, message)
        self._list(1, message)

    def reject_logs(self, n: int, message: str) -> None:
        DecodeStats.reject_logs(self, n, message)
        self._list(n, message)


class Instance:
    """One scope instance of one temporal property: a monitor state plus evidence."""

    __slots__ = ("key", "state", "R", "first", "decided_at", "raised_at", "last", "trigger",
                 "trace_ids", "partial", "late", "events", "reason", "opened_at", "changes")

    def __init__(self, key: str, cp: CompiledProperty):
        self.key = key
        self.state = cp.monitor.initial
        self.R = list(cp.register_defaults)
        self.first = True
        self.decided_at: Event | None = None
        self.raised_at: Event | None = None
        self.last: Event | None = None
        self.trigger = False
        self.trace_ids: dict[str, None] = {}
        self.partial = False
        self.late = False
        self.events = 0
        self.reason: str | None = None  # a model monitor's own words for its violation
        # a bounded property's violation decided by an event: the event that opened the
        # obligation it broke (Monitor._opened), else None
        self.opened_at: Event | None = None
        # a bounded property stepped in several calls (streaming): its latest state changes,
        # (event, state before it), for _opened
        self.changes: list | None = None


@dataclass
class Samples:
    """Aggregate samples of one instance: (time, span, per-aggregate (value, where))."""

    key: str
    rows: list = field(default_factory=list)
    trace_ids: dict = field(default_factory=dict)
    # the core's samples name their span as (trace, event) in its store: this reads the
    # rows of a violated window back with their spans (None: the rows hold spans)
    resolve: Any = None
    # the core's windows of the instance (``NativeRun.sample_windows``: ``(lo, hi, bounds,
    # values)`` each), when it cut and valued them; then ``rows`` is empty and
    # ``rows_of(lo, hi)`` gives a window's rows (for ``resolve``)
    windows: list | None = None
    rows_of: Any = None



def check_options(*, properties: Any, lateness_ns: Any) -> None:
    """The options the assembler does not check itself, with messages that echo
    ``name=value`` (a string for ``properties`` would otherwise be read letter by letter)."""
    if properties is not None and (isinstance(properties, (str, bytes)) or not all(
            isinstance(p, str) for p in properties)):
        raise InputError(f"properties={properties!r}: expected a list of property names, "
                         f"e.g. properties=[{properties!r}]" if isinstance(properties, str)
                         else f"properties={properties!r}: expected a list of property names")
    if isinstance(lateness_ns, bool) or not isinstance(lateness_ns, int) or lateness_ns < 0:
        raise InputError(f"lateness_ns={lateness_ns!r}: expected a non-negative int of "
                         f"nanoseconds, e.g. 30 * 1_000_000_000 for 30 s")

_DEFAULT_OPTIONS = {"properties": None, "lateness_ns": 30 * 10**9, "max_open_traces": 100_000,
                    "idle_ns": 5 * 10**9, "record_events": False, "engine": None,
                    "streaming": False, "partial_traces": "inconclusive"}


class Monitor:
    """Feed spans; read verdicts. See the module docstring."""

    def __repr__(self) -> str:
        """The call that builds this monitor: ``Monitor(tracelogic.load('shop.spec'),
        engine='native')``, with the options that are not their defaults."""
        opts = "".join(f", {k}={v!r}" for k, v in self._options.items())
        return f"Monitor({self.spec!r}{opts})"

    def __init__(self, spec: Spec, *, properties: list[str] | None = None,
                 lateness_ns: int = 30 * 10**9, max_open_traces: int = 100_000,
                 idle_ns: int = 5 * 10**9, compiled: CompiledSpec | None = None,
                 record_events: bool = False, engine: str | None = None,
                 streaming: bool = False,
                 partial_traces: Literal["inconclusive", "ignore"] = "inconclusive"):
        """``compiled`` reuses a :class:`CompiledSpec` of ``spec`` (e.g. ``other.compiled``)
        instead of compiling again; its per-run state is reset. ``record_events`` keeps
        every trace's events and letters, for :meth:`valuations`. ``engine`` is
        ``"python"`` or ``"native"`` (default: ``$TRACELOGIC_ENGINE``, else native where
        the core covers a property); :attr:`engines` says which one runs each property.
        ``streaming`` is set by :class:`~.stream.StreamingMonitor`, which steps the
        Python engine itself. ``partial_traces`` says what becomes of an instance still
        undecided at the end that saw a partial trace (a span's parent never arrived):
        ``"inconclusive"`` (its verdict) or ``"ignore"`` (left out of the results and
        counted in the property's ``ignored_partial``); docs/monitor.md."""
        check_options(properties=properties, lateness_ns=lateness_ns)
        if partial_traces not in PARTIAL_TRACES:
            raise InputError(f"partial_traces={partial_traces!r}: expected one of "
                             f"{', '.join(PARTIAL_TRACES)}", value=partial_traces)
        self.partial_traces = partial_traces
        self.spec = spec
        given = {"properties": properties, "lateness_ns": lateness_ns,
                 "max_open_traces": max_open_traces, "idle_ns": idle_ns,
                 "record_events": record_events, "engine": engine, "streaming": streaming,
                 "partial_traces": partial_traces}
        self._options = {k: v for k, v in given.items() if v != _DEFAULT_OPTIONS[k]}
        self._recorded: list | None = [] if record_events else None
        if compiled is None:
            compiled = CompiledSpec(spec, properties)
        else:
            compiled.gen.namespace["_LINKS"] = {}
            compiled.gen.mismatches.clear()
            compiled.gen.readings.clear()
        self.compiled = compiled
        self.requested_engine = engine
        self.engine_plan = assign(compiled.properties, engine)
        self._native: NativeRun | None = None
        native = [cp for cp in compiled.properties
                  if self.engine_plan[cp.name].engine == "native"]
        if native and streaming:
            self._demote(native, "serve steps every property in the Python engine until "
                                 "issue 17 step 5")
        elif native and record_events:
            self._demote(native, "record_events keeps the events as Python objects")
        elif native:
            plan = build_plan(compiled, native)
            self._demote([cp for cp in native if cp.name in plan.fallbacks], plan.fallbacks)
            if plan.properties:
                self._native = NativeRun(plan, compiled.wanted_attrs, max_open_traces)
        self.stats = _Stats()
        self.lateness_ns = lateness_ns
        self.assembler = Assembler(idle_ns=idle_ns, max_open_traces=max_open_traces,
                                   stats=self.stats)
        self._instances: list[dict[str, Instance]] = [{} for _ in self.compiled.properties]
        # per-trace instances are decided as soon as their trace is: (key, verdict,
        # vacuous, violations); only this is kept, not the instance
        self._decided: list[list[tuple]] = [[] for _ in self.compiled.properties]
        self._memo: list[dict[tuple, tuple]] = [{} for _ in self.compiled.properties]
        self._samples: list[dict[str, Samples]] = [{} for _ in self.compiled.properties]
        # per property the core ran: (keys, verdict codes, vacuous, violations, undecided
        # partial instances) (`_close_core`)
        self._core_blocks: list[tuple | None] = [None for _ in self.compiled.properties]
        # per property: instances undecided at the end that saw a partial trace, reported
        # inconclusive or (partial_traces="ignore") left out of the results
        self._partial: list[int] = [0 for _ in self.compiled.properties]
        # the properties the Python engine steps, per trace and cross-trace (`_route`)
        self._trace_cps: list[CompiledProperty] = []
        self._cross_cps: list[CompiledProperty] = []
        self._python_spans = True  # whether the Python engine needs the spans as objects
        # the properties that see log events (docs/language.md, "Log records"), and the
        # log records fed, by trace id ("" : no trace context); with such properties the
        # assembled traces wait for close(), when every log record has arrived
        self._log_cps: set[int] = set()
        self._logs: dict[str, list[LogRecord]] = {}
        self._log_count = 0
        self._waiting: list[Trace] = []
        self._route()
        # cross-trace instances' events, by property and scope key, as rows
        # (time, trace_id, index in its trace, event, global letter, trace)
        self._buckets: list[dict[str, list]] = [{} for _ in self.compiled.properties]
        self._points: list = []        # metric data points
        self._traces = 0
        self._spans = 0
        self._incomplete: list[tuple[str, str]] = []  # (trace_id, reason)
        self._seen_keys: set[str] = set()
        self._all_keys: set[str] = set()
        self._closed: MonitorReport | None = None
        self._unresolved_links = 0
        self._key_samples: list[tuple[bytes, str]] = []   # (input, format): see feed_otlp
        self._key_sample_bytes = 0
        # per property: trace ids / scope keys that lost events to an eviction
        self._evicted_keys: list[dict[str, None]] = [{} for _ in self.compiled.properties]
        self.input_errors: list[InputError] = []

    def _demote(self, cps: list[CompiledProperty], why: str | dict[str, str]) -> None:
        """Run ``cps`` in the Python engine after all, saying why in :attr:`engine_plan`."""
        for cp in cps:
            a = self.engine_plan[cp.name]
            reason = why if isinstance(why, str) else why[cp.name]
            self.engine_plan[cp.name] = Assignment(a.property, "python", a.needs, reason)

    def _route(self) -> None:
        """Which properties the Python engine steps, and whether it needs spans."""
        native = set() if self._native is None else {cp.name for cp in
                                                     self._native.plan.properties}
        self._trace_cps = [cp for cp in self.compiled.properties
                           if cp.prop.scope == "trace" and cp.prop.kind != "metric"
                           and cp.name not in native]
        self._cross_cps = [cp for cp in self.compiled.properties
                           if cp.prop.scope != "trace" and cp.prop.kind != "metric"
                           and cp.name not in native]
        self._log_cps = {cp.index for cp in self.compiled.properties
                         if cp.sees_logs and cp.name not in native}
        # per trace: the properties stepped on span events, and on the merged events
        self._span_cps = ([cp for cp in self._trace_cps if cp.index not in self._log_cps],
                          [cp for cp in self._cross_cps if cp.index not in self._log_cps])
        self._with_logs_cps = ([cp for cp in self._trace_cps if cp.index in self._log_cps],
                               [cp for cp in self._cross_cps if cp.index in self._log_cps])
        self._python_spans = (self._recorded is not None or self._native is None
                              or any(cp.name not in native and cp.prop.kind != "metric"
                                     for cp in self.compiled.properties))

    @property
    def runs_on_core(self) -> bool:
        """Whether the native core runs some property: then feed OTLP bytes, protobuf or
        JSON (:meth:`feed_otlp`), which the core reads without Python objects per span."""
        return self._native is not None

    def without_core(self, why: str) -> None:
        """Run every property in the Python engine, with ``why`` as the reason. Only before
        anything was fed to the core."""
        if self._native is not None and self._native.fed:
            raise RuntimeError("spans were already fed to the native core")
        self._without_core(why)

    def _without_core(self, why: str) -> None:
        """Nothing was fed to the core yet: let the Python engine run everything."""
        if self._native is not None:
            self._demote(list(self._native.plan.properties), why)
            self._native = None
            self._route()

    @property
    def refused(self) -> dict[str, str]:
        """Property name -> why the engine does not monitor it (in spec syntax). Such a
        property is in the report with ``monitored`` False; every other one runs."""
        return {r.name: r.reason for r in self.compiled.refused}

    @property
    def engines(self) -> dict[str, str]:
        """Property name -> the engine that runs it (``python`` or ``native``);
        :attr:`engine_plan` has the reason for each fallback."""
        return {name: a.engine for name, a in self.engine_plan.items()}

    # ------------------------------------------------------------- input
    @property
    def wanted_attrs(self) -> frozenset[str]:
        return self.compiled.wanted_attrs

    def feed(self, spans: Iterable[Any]) -> None:
        """Spans from the OpenTelemetry SDK (ReadableSpan) or tracelogic :class:`Span`s."""
        with gc_paused():  # spans and events hold no cycles; see close()
            items = list(spans)
            ours = [s for s in items if isinstance(s, Span)]
            sdk = [s for s in items if not isinstance(s, Span)]
            if sdk:
                ours += from_sdk(sdk, stats=self.stats)
            if self._native is not None and not self._native.fed:
                self._without_core("spans were given as objects (Monitor.feed); the core "
                                   "reads OTLP bytes (feed_otlp)")
            if self._native is not None and ours:
                # the core already holds spans from bytes: give it these as bytes too
                from tracelogic.ingest.otlp import spans_to_request

                self._native.feed_pb(spans_to_request(ours).SerializeToString(), _Stats(),
                                     "<spans>", columns=False, is_metrics=_not_metrics)
            self._add(ours)

    def feed_otlp(self, data: bytes, *, source: str = "<otlp>",
                  format: Literal["protobuf", "json"] = "protobuf") -> None:
        """One serialized ExportTraceServiceRequest; or, with ``format="json"``, OTLP/JSON
        as a file holds it: one request, or one per line (JSON Lines), metrics requests
        among them read as data points (as ``tracelogic monitor`` reads a JSON file).

        Only the attributes the spec reads are decoded. The first few requests are kept
        (at most 4 MB) so that, if the spec reads an attribute that never appears, the
        warning can suggest a key that did.
        """
        if format == "json":
            self._feed_json(bytes(data), source)
            return
        with gc_paused():
            try:
                if self._native is None:
                    spans = decode_traces_pb(data, wanted_attrs=self.compiled.wanted_attrs,
                                             stats=self.stats, source=source)
                else:
                    spans = self._feed_core(bytes(data), source)
            except InputError as e:
                self.stats.error(e)  # a content problem, as read_path records it
                return
            self._sample(bytes(data), "protobuf")
            self._add(spans)

    def _feed_json(self, data: bytes, source: str) -> None:
        """OTLP/JSON input: split and decoded by the core when it runs some property,
        else by the Python decoder (``read_bytes``'s rules and words either way)."""
        from tracelogic.ingest.logs import looks_like_logs_json

        if looks_like_logs_json(data):  # a log file (issue 19)
            self.feed_otlp_logs(data, source=source, format="json")
            return
        got = OtlpInput(source=source, stats=self.stats)
        wanted = self.compiled.wanted_attrs
        metrics = frozenset(m.metric for m in self.spec.metrics.values())
        with gc_paused():
            if self._native is None:
                spans = read_json(data, got, wanted_attrs=wanted,
                                  wanted_metrics=metrics).spans
            else:
                def python_doc(line: int, text: bytes, what: str) -> list[Span]:
                    # what the core leaves to Python: parsed again here (json.loads)
                    n = len(got.spans)
                    read_json_text(got, text, line, wanted_attrs=wanted,
                                   wanted_metrics=metrics)
                    return got.spans[n:]

                spans, kept = self._native.feed_json(data, self.stats, source,
                                                     columns=self._python_spans,
                                                     python_doc=python_doc)
                if not self._python_spans:
                    self._spans += kept
            self._sample(data, "json")
            self._add(spans)
            self.feed_points(got.points)
            if got.logs:
                self.feed_logs(got.logs)

    def _sample(self, data: bytes, fmt: str) -> None:
        """Keep the first inputs (at most 4 MB) for did-you-mean suggestions."""
        if self._key_sample_bytes < _KEY_SAMPLE_BYTES:
            self._key_samples.append((data, fmt))
            self._key_sample_bytes += len(data)

    def _feed_core(self, data: bytes, source: str) -> list[Span]:
        """Give the request to the core; the spans the Python engine needs, as objects."""
        def is_metrics(raw: bytes) -> None:
            if is_metrics_request(raw):  # refused whole, in the Python decoder's words
                decode_traces_pb(raw, wanted_attrs=self.compiled.wanted_attrs,
                                 stats=self.stats, source=source)

        c = self._native.feed_pb(data, self.stats, source, columns=self._python_spans,
                                 is_metrics=is_metrics)
        if self._python_spans:
            return spans_from_columns(c)
        self._spans += c["decoded"]
        return []

    def feed_logs(self, records: Iterable[Any]) -> None:
        """Log records: :class:`~tracelogic.ingest.logs.LogRecord` objects, or the
        OpenTelemetry SDK's ``LogData`` (e.g. from ``InMemoryLogExporter``). They are
        events of the properties that read a log field (docs/language.md, "Log records");
        the others never see them."""
        items = list(records)
        ours = [r for r in items if isinstance(r, LogRecord)]
        sdk = [r for r in items if not isinstance(r, LogRecord)]
        if sdk:
            from tracelogic.ingest.logs import from_sdk_logs

            ours += from_sdk_logs(sdk, stats=self.stats)
        self._log_count += len(ours)
        if not self._log_cps:
            return  # no property reads logs: nothing to keep
        logs = self._logs
        for r in ours:
            bucket = logs.get(r.trace_id)
            if bucket is None:
                bucket = logs[r.trace_id] = []
            bucket.append(r)

    def feed_otlp_logs(self, data: bytes, *, source: str = "<otlp logs>",
                       format: Literal["protobuf", "json"] = "protobuf") -> None:
        """One serialized ExportLogsServiceRequest; or, with ``format="json"``, OTLP/JSON
        logs as a file holds them (one request, or one per line). Problems are recorded as
        for traces (:meth:`feed_otlp`)."""
        wanted = self.compiled.wanted_attrs
        try:
            if format == "json":
                from tracelogic.ingest.otlp_common import split_json

                recs: list[LogRecord] = []
                for line, doc, _ in split_json(bytes(data), source, self.stats):
                    try:
                        recs += decode_logs_json(doc, wanted_attrs=wanted, stats=self.stats,
                                                 source=source, line=line)
                    except InputError as e:
                        self.stats.error(e)
            else:
                recs = decode_logs_pb(data, wanted_attrs=wanted, stats=self.stats,
                                      source=source)
        except InputError as e:
            self.stats.error(e)
            return
        self.feed_logs(recs)

    def feed_points(self, points: Iterable[Any]) -> None:
        """OTLP metric data points, for `metric invariant` properties."""
        self._points.extend(points)

    def _add(self, spans: list[Span]) -> None:
        self._spans += len(spans)
        wanted = self.compiled.wanted_attrs
        if wanted and not wanted <= self._seen_keys:  # stop looking once all were seen
            seen = self._seen_keys
            for s in spans:
                seen.update(s.attrs)
                seen.update(s.resource)
        for result in self.assembler.add(spans) or ():
            self._assembled(result)

    # ------------------------------------------------------------- traces
    def _assembled(self, result: Any) -> None:
        if result.outcome != "complete":
            self._incomplete.append((result.trace_id, result.reason))
            self._evicted(result.trace)
            return
        if self._log_cps:
            self._waiting.append(result.trace)  # its log records may still come
            return
        self.process_trace(result.trace)

    def _close_logs(self) -> None:
        """At close, with properties that read logs: decide the traces that waited for
        their log records; then the traces of log records only, and give the records
        without a trace context to the cross-trace scopes."""
        logs = self._logs
        for trace in self._waiting:
            self.process_trace(trace.with_logs(logs.pop(trace.trace_id, ())))
        self._waiting = []
        free = logs.pop("", [])
        for tid in sorted(logs):
            self.process_trace(Trace((), logs[tid], trace_id=tid))
        logs.clear()
        if free:
            trace = Trace((), free, trace_id="")
            events = trace.events_with_logs
            letter = self.compiled.letter
            gs = [letter(ev.span, None, trace) for ev in events]
            self._bucket(trace, events, gs, self._with_logs_cps[1])

    def _evicted(self, trace: Trace) -> None:
        """Remember which instances lost this trace's events: they become `incomplete`."""
        for cp in self.compiled.properties:
            keys = self._evicted_keys[cp.index]
            if cp.prop.scope == "trace":
                keys[trace.trace_id] = None
            elif cp.prop.scope == "global":
                keys["*"] = None
            elif cp.key is not None:
                for sp in trace.spans:
                    k = key_text(cp.key(sp))
                    if k is not None:
                        keys[k] = None

    def process_trace(self, trace: Trace) -> None:
        """Decide every per-trace property on one assembled trace; queue cross-trace events."""
        self._traces += 1
        letter = self.compiled.letter
        span_events = trace.events
        if span_events:
            span_gs = [letter(ev.span, ev.is_start, trace) for ev in span_events]
            if self._recorded is not None:
                self._recorded.append((trace.trace_id, span_events, span_gs))
            self._process(trace, span_events, span_gs, *self._span_cps)
        if self._log_cps:
            events = trace.events_with_logs
            if events is span_events:
                gs = span_gs
            else:
                gs = [letter(ev.span, ev.is_start, trace) for ev in events]
            if events:
                self._process(trace, events, gs, *self._with_logs_cps)

    def _process(self, trace: Trace, events, gs, trace_cps: list, cross_cps: list) -> None:
        """Decide ``trace_cps`` on one trace's ``events`` (with letters ``gs``); queue
        the events for ``cross_cps``."""
        trace_id = trace.trace_id
        partial = trace.is_partial
        shape = None  # the trace's letters, as a key to the verdicts of earlier traces
        duration = events[-1].time_ns - events[0].time_ns
        for cp in trace_cps:
            if cp.prop.kind != "aggregate":
                by_letters = cp.by_letters(duration)
                if by_letters is not None:
                    cp = by_letters
                    inst = Instance(trace_id, cp)
                    if shape is None:
                        shape = tuple(gs)
                    self._memoized(cp, inst, events, gs, trace, shape)
                else:
                    inst = Instance(trace_id, cp)
                    self.step_instance(cp, inst, events, gs, trace)
                inst.partial = partial
                verdict = self.final_verdict(cp, inst)
                if partial and self._undecided_partial(cp, inst):
                    self._partial[cp.index] += 1
                    if self.partial_traces == "ignore":
                        continue
                self._decided[cp.index].append((
                    trace_id, verdict,
                    verdict is Verdict.SATISFIED and cp.triggers and not inst.trigger,
                    [self.violation(cp, inst)] if verdict is Verdict.VIOLATED else []))
            else:
                samples = Samples(trace_id)
                self.sample(cp, samples, events, trace)
                counts: dict[str, int] = {}
                verdict, violations = self.aggregate(cp, samples, counts)
                self._decided[cp.index].append((
                    trace_id, verdict,
                    verdict is Verdict.SATISFIED and not counts["evaluated"], violations))
        if cross_cps:
            self._bucket(trace, events, gs, cross_cps)

    def _bucket(self, trace: Trace, events, gs, cross_cps: list) -> None:
        """File each event with the cross-trace instances it belongs to (by scope key; a
        span without a value for the key belongs to none, §3). Aggregates sample ends."""
        n = len(events)
        rows = list(zip([ev.time_ns for ev in events], repeat(trace.trace_id, n), range(n),
                        events, gs, repeat(trace, n)))
        ends = None
        by_scope: dict = {}  # properties with one scope key share its values
        for cp in cross_cps:
            buckets = self._buckets[cp.index]
            mine = rows
            if cp.prop.kind == "aggregate":
                if ends is None:
                    ends = [r for r in rows if r[3].is_start is False]
                mine = ends
            if cp.prop.scope == "global":
                buckets.setdefault("*", []).extend(mine)
                continue
            keys = by_scope.get(cp.prop.scope_key)
            if keys is None:
                keyfn = cp.key
                keys = by_scope[cp.prop.scope_key] = {
                    sp.span_id: key_text(keyfn(sp)) for sp in trace.spans}
            for r in mine:
                if r[3].is_start is None:  # a log record: its own key
                    key = key_text(cp.key(r[3].span))
                else:
                    key = keys[r[3].span.span_id]
                if key is not None:
                    bucket = buckets.get(key)
                    if bucket is None:
                        bucket = buckets[key] = []
                    bucket.append(r)

    def _memoized(self, cp: CompiledProperty, inst: Instance, events, gs, trace,
                  shape: tuple) -> None:
        """Step a per-trace instance, or replay what an earlier trace with the same letters
        gave: the final state, the indices of the deciding and raising events, and
        whether a trigger occurred. Traffic has few distinct trace shapes."""
        memo = self._memo[cp.index]
        hit = memo.get(shape)
        if hit is None:
            self._run(cp, inst, events, gs, trace)
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[shape] = (inst.state, _position(events, inst.decided_at),
                           _position(events, inst.raised_at), inst.trigger,
                           _position(events, inst.opened_at))
            return
        inst.state, decided, raised, inst.trigger, opened = hit
        inst.events = len(events)
        inst.first = False
        if decided is not None:
            inst.decided_at = inst.last = events[decided]
        else:
            inst.last = events[-1]
        if raised is not None:
            inst.raised_at = events[raised]
        if opened is not None:
            inst.opened_at = events[opened]
        inst.trace_ids[events[0].span.trace_id] = None

    def step_instance(self, cp: CompiledProperty, inst: Instance, events, gs, trace,
                      traces: list | None = None) -> None:
        """Step one instance over ``events`` of ``trace`` (or of ``traces[i]`` each, for
        cross-trace instances): the one entry point for every instance kind."""
        if cp.observe is not None:
            self._run_steps(cp, inst, events, trace, traces)
        else:
            self._run(cp, inst, events, gs, trace, traces)

    def _run_steps(self, cp: CompiledProperty, inst: Instance, events, trace,
                   traces: list | None = None) -> None:
        """Step a model's own monitor (conforms, saga, follows) over the events that are
        observations of it (§6, §7); the others leave its state alone.

        The witness of a violation is the observation before the deciding one (for
        `follows`, the value the bad one cannot follow) and the deciding one.
        """
        if not events:
            return
        mon, observe, step, verdict = cp.monitor, cp.observe, cp.monitor.step, cp.monitor.verdict
        pv = Verdict.PRESUMABLY_VIOLATED
        follows = cp.prop.kind == "follows"
        state = inst.state
        i = -1
        for ev in events:
            i += 1
            if inst.decided_at is not None:
                break
            tr = trace if traces is None else traces[i]
            inst.trace_ids[ev.span.trace_id] = None
            obs = observe(ev.span, ev.is_start, tr)
            if obs is MISSING:
                continue
            inst.events += 1
            before = verdict(state)
            nxt = step(state, obs)
            after = verdict(nxt)
            if after.is_final:
                inst.decided_at = ev
                if follows:
                    inst.reason = mon.explain(state, obs)
                elif hasattr(mon, "reason"):
                    inst.reason = mon.reason(nxt)
            elif follows:
                inst.raised_at = ev  # the last value observed, for a later violation's evidence
            elif after is pv and before is not pv:
                inst.raised_at = ev
            state = nxt
        inst.state = state
        inst.last = inst.decided_at or events[-1]

    def _run(self, cp: CompiledProperty, inst: Instance, events, gs, trace,
             traces: list | None = None) -> None:
        """Step one instance over ``events`` (with global letters ``gs``), all of ``trace``,
        or of ``traces[i]`` each (cross-trace instances). The hot loop.

        Stepping stops at the event that makes the verdict final: nothing after it can
        change the verdict or its witness. The property's own letter is memoized by the
        global letter (few distinct letters occur) unless it has registers.
        """
        if not events:
            return
        inst.events += len(events)
        trig = cp.trigger_mask
        if trig and not inst.trigger:  # vacuity looks at every event, decided or not
            for g in gs:
                if g & trig:
                    inst.trigger = True
                    break
        if inst.decided_at is not None:
            return
        mon = cp.monitor
        mask, local = cp.mask, cp.local
        regs, update = cp.regs, cp.update
        R = inst.R
        raised = inst.raised_at
        first = inst.last is None
        pv = Verdict.PRESUMABLY_VIOLATED
        decided_at = None
        timed = cp.timed
        if getattr(mon, "whole_trace", False):
            # evaluated over the finished trace (ReferenceMonitor): its verdict is asked
            # once, at the end; no event decides it or raises an obligation
            s = inst.state
            step = mon.step
            for i, g in enumerate(gs):
                if regs is not None:
                    ev = events[i]
                    tr = trace if traces is None else traces[i]
                    m = mask(g, regs(ev.span, ev.is_start, tr, R, inst.first))
                    update(ev.span, ev.is_start, tr, R)
                    inst.first = False
                else:
                    m = local.get(g)
                    if m is None:
                        m = local[g] = mask(g, 0)
                s = step(s, m, events[i].time_ns)
            inst.state = s
            inst.last = events[-1]
            inst.trace_ids[events[0].span.trace_id] = None
            return
        if timed:
            step, verdict = mon.step, mon.verdict
            v = verdict(inst.state)
        else:
            table, n, decided, verdicts = mon.table, mon.n_letters, mon.decided, mon.verdicts
        s = inst.state
        # a bounded property logs its state changes: (event index, state before it)
        log: list | None = [] if cp.bounded else None
        i = -1
        for g in gs:
            i += 1
            if regs is not None:
                ev = events[i]
                tr = trace if traces is None else traces[i]
                m = mask(g, regs(ev.span, ev.is_start, tr, R, inst.first))
                update(ev.span, ev.is_start, tr, R)
                inst.first = False
            else:
                m = local.get(g)
                if m is None:
                    m = local[g] = mask(g, 0)
            if timed:
                if log is not None:
                    before = s
                    s = step(s, m, events[i].time_ns)
                    if s != before:
                        log.append((i, before))
                else:
                    s = step(s, m, events[i].time_ns)
                nv = verdict(s)
                if nv is v and not first:
                    continue
                if nv.is_final:
                    decided_at = events[i]
                    break
                if nv is pv:
                    if first or v is not pv:
                        raised = events[i]  # the event that opened the current obligation
                else:
                    raised = None
                v = nv
                first = False
            else:
                ns = table[s * n + m]
                if ns == s and not first:
                    continue
                if log is not None and ns != s:
                    log.append((i, s))
                if decided[ns]:
                    s = ns
                    decided_at = events[i]
                    break
                if verdicts[ns] is pv:
                    # for `F a` the obligation is there from the instance's first event
                    if first or verdicts[s] is not pv:
                        raised = events[i]
                else:
                    raised = None
                s = ns
                first = False
        inst.state = s
        inst.raised_at = raised
        if log is not None:
            self._log_changes(cp, inst, events, log, None if decided_at is None else i, m)
        if decided_at is not None:
            inst.decided_at = decided_at
            inst.last = decided_at
        else:
            inst.last = events[-1]
            i = len(events) - 1
        if traces is None:
            inst.trace_ids[events[0].span.trace_id] = None
        else:
            for tr in traces[:i + 1]:
                inst.trace_ids[tr.trace_id] = None

    def _log_changes(self, cp: CompiledProperty, inst: Instance, events, log: list,
                     decided: int | None, m: int) -> None:
        """A bounded property's state changes of one `_run` call: at a violation decided by
        event ``decided`` (with letter ``m``), the event that opened the broken obligation
        (:meth:`_opened`); else kept (the latest ``_CHANGES_MAX``) for a later call, as a
        streaming instance is stepped."""
        if decided is None:
            if log:
                kept = inst.changes or []
                kept.extend((events[j], q) for j, q in log)
                inst.changes = kept[-_CHANGES_MAX:] if len(kept) > _CHANGES_MAX else kept
            return
        changes = [(events[j], q) for j, q in log]
        if inst.changes:
            changes = inst.changes + changes
        inst.changes = None
        inst.opened_at = self._opened(cp, inst.state, changes, m, events[decided].time_ns)

    @staticmethod
    def _opened(cp: CompiledProperty, decided_state, changes: list, m: int, t: int
                ) -> Event | None:
        """The event that opened the bounded obligation a violation broke: of the events
        that changed the instance's state, the latest one from whose *previous* state the
        deciding event (letter ``m`` at time ``t``) would not have violated the property.
        None when the deciding event violates from every earlier state (`G !x`, or the
        obligation was there from the start), or the instance is not violated.

        The native core defines it so too (``opened_timed`` in native/src/timed.rs,
        ``opened_letters`` in native/src/run.rs), stepping the instance again."""
        mon = cp.monitor
        violated = Verdict.VIOLATED
        if mon.verdict(decided_state) is not violated:
            return None
        step, verdict = mon.step, mon.verdict
        for ev, q in reversed(changes):
            if verdict(step(q, m, t)) is not violated:
                return ev
        return None

    def sample(self, cp: CompiledProperty, samples: Samples, events, trace,
                traces: list | None = None) -> None:
        """Aggregates range over spans: one sample per span, at its end event (of
        ``trace``, or of ``traces[i]`` for cross-trace instances)."""
        aggs = cp.aggregates
        rows = samples.rows
        for i, ev in enumerate(events):
            if ev.is_start:
                continue
            s = ev.span
            tr = trace if traces is None else traces[i]
            rows.append((ev.time_ns, s, tuple((value(s, False, tr), bool(where(s, False, tr)))
                                              for _, value, where in aggs)))
            samples.trace_ids[s.trace_id] = None

    # ------------------------------------------------------------- close
    def close(self) -> MonitorReport:
        """End of input: decide every open instance and return the report."""
        if self._closed is not None:
            return self._closed
        results = self.assembler.close() or ()
        # Deciding allocates many small objects that all stay alive until the report:
        # the cyclic collector would scan them over and over and free nothing (measured:
        # a quarter of the time of bench_monitor, with feeding paused the same way).
        with gc_paused():
            if self.compiled.gen.uses_links:
                self._index_links(results)
            for result in results:
                self._assembled(result)
            if self._log_cps:
                self._close_logs()
            self._run_cross()
            if self._native is not None:
                self._close_core()
        report = MonitorReport(spans=self._spans, logs=self._log_count)
        for cp in self.compiled.order:  # spec order, refused properties in their place
            if isinstance(cp, Refusal):
                report.properties.append(PropertyResult(
                    cp.name, scope_text(cp.prop), monitored=False, reason=cp.reason,
                    span=cp.prop.span))
            else:
                report.properties.append(self._result(cp, report))
        report.incomplete = len(self._incomplete)
        report.dropped = getattr(self.stats, "rejected", 0)
        duplicates, evicted = self._assembly_counts()
        report.duplicates = duplicates
        if not self._spans and not self._points and not self._log_count \
                and self.compiled.properties:
            report.warnings.append("the input held no spans and no metric points: nothing "
                                   "was monitored")
        if self._log_count and not self._log_cps and self.compiled.properties:
            report.warnings.append(
                f"{self._log_count} log record(s) were read, but no property reads a log field "
                "(signal, severity, severity_text, body): no property saw them (docs/logs.md)")
        report.warnings.extend(self._attribute_warnings())
        if evicted:
            report.warnings.append(
                f"{evicted} trace(s) were evicted before they were complete, "
                f"with more than {self.assembler.max_open_traces} open at once; their "
                "verdicts are incomplete (raise max_open_traces, `--max-open-traces`)")
        if self._unresolved_links:
            report.warnings.append(
                f"{self._unresolved_links} span link(s) point to spans absent from the input; "
                "`linked(...)` is false for them")
        report.warnings.extend(self._mismatch_warnings())
        report.input_errors = [str(e) for e in self.input_errors] + [
            str(e) for e in getattr(self.stats, "errors", [])]
        rejections = getattr(self.stats, "rejections", [])
        report.input_errors += rejections
        rejected = self.stats.rejected + self.stats.points_rejected + self.stats.logs_rejected
        listed = getattr(self.stats, "listed", len(rejections))
        if rejected > listed:
            report.input_errors.append(f"... and {rejected - listed} more rejected "
                                       "spans, data points or log records")
        self._closed = report
        return report

    def _assembly_counts(self) -> tuple[int, int]:
        """(duplicate spans, evicted traces): the Python assembler's, unless only the core
        saw the spans."""
        if self._python_spans or self._native is None or self._native.closed is None:
            return self.assembler.duplicates, self.assembler.evicted
        counters = self._native.closed.counters
        return counters["duplicates"], counters["evicted"]

    def _close_core(self) -> None:
        """The core's results, recorded per property as a block of verdict codes
        (``_core_blocks``: the report lists them lazily), violations built only for the
        violated instances, and the keys that lost events to an eviction in
        ``_evicted_keys``."""
        core = self._native
        closed = core.close()
        cps = core.plan.properties
        alone = not self._python_spans  # the core alone saw the spans: its counts are the run's
        for tr, keys in zip(closed.others, closed.evicted_keys):
            if alone:
                self._incomplete.append((tr.trace_id, tr.reason))
            for j, cp in enumerate(cps):  # as Monitor._evicted
                evicted = self._evicted_keys[cp.index]
                if cp.prop.scope == "trace":
                    evicted[tr.trace_id] = None
                elif cp.prop.scope == "global":
                    evicted["*"] = None
                else:
                    evicted.update(dict.fromkeys(keys[j]))
        if alone:
            self._traces += len(closed.complete_ids)
        for j, cp in enumerate(cps):
            if cp.prop.kind == "aggregate":
                self._core_samples(cp, j, closed.samples[j], closed.complete_ids)
            elif closed.results[j] is not None:
                self._core_blocks[cp.index] = self._core_traces(cp, closed.results[j], closed)
            elif closed.cross[j] is not None:
                self._core_blocks[cp.index] = self._core_cross(cp, closed.cross[j], closed)
        if alone:
            self._seen_keys.update(core.seen_keys())
        # the core's type mismatches: all of them when it alone saw the spans, else those of
        # register atoms (the Python engine's letters counted the others again)
        mismatches = self.compiled.gen.mismatches
        for label, seen in zip(core.plan.document["program"]["sites"],
                               closed.mismatches if alone else closed.reg_mismatches):
            if seen is None:
                continue
            mine = mismatches.get(label)
            if mine is None:
                mismatches[label] = list(seen)
            else:
                mine[0] += seen[0]

    def _core_samples(self, cp: CompiledProperty, j: int, keys: list, complete: list[str]
                      ) -> None:
        """The core's instances of aggregate property ``cp`` (plan property ``j``), decided
        as ``process_trace`` decides a per-trace one, or kept per key as ``_run_cross``
        keeps them. The core cuts their windows and computes the aggregates' values
        (``NativeRun.sample_windows``, exactly as ``aggregate_value``); an instance it
        declines (a value it cannot compute exactly) gets its samples as rows, which
        ``aggregate`` then reads as the Python engine's."""
        from tracelogic.ingest.native_otlp import column_value

        core = self._native
        event = core.event
        doc = core.plan.document
        aggs = doc["program"]["samples"][doc["properties"][j]["samples"]]["aggs"]
        raw = [i for i, a in enumerate(aggs) if a["raw"]]  # attribute values as stored

        def rows_of(i: int, lo: int, hi: int) -> list:
            rows = core.sample_rows(j, i, lo, hi)
            if raw:
                rows = [(t, at, tuple((column_value(v), w) if k in raw else (v, w)
                                      for k, (v, w) in enumerate(values)))
                        for t, at, values in rows]
            return rows

        def resolve(rows: list) -> list:  # ``at`` is trace << 32 | event
            return [(t, event(at >> 32, at & 0xFFFF_FFFF).span, values)
                    for t, at, values in rows]

        window = cp.prop.window
        if window is None or (type(window[0]) is int and 0 < window[0] <= 2 ** 100):
            windows = core.sample_windows(j, [node.payload for node, _, _ in cp.aggregates],
                                          window)
        else:
            windows = [None] * len(keys)
        scope_trace = cp.prop.scope == "trace"
        for i, key in enumerate(keys):
            if windows[i] is None:  # declined: Python's own path
                samples = Samples(complete[i] if scope_trace else key,
                                  rows_of(i, 0, sys.maxsize), resolve=resolve)
            else:
                samples = Samples(complete[i] if scope_trace else key, resolve=resolve,
                                  windows=windows[i], rows_of=bind(rows_of, i))
            if not scope_trace:
                self._samples[cp.index][key] = samples
                continue
            counts: dict[str, int] = {}
            verdict, violations = self.aggregate(cp, samples, counts)
            self._decided[cp.index].append((
                samples.key, verdict,
                verdict is Verdict.SATISFIED and not counts["evaluated"], violations))

    def _core_traces(self, cp: CompiledProperty, res: Any, closed: Any) -> tuple:
        """Per-trace property ``cp``'s block: (keys, verdict codes, vacuous, violations)."""
        ids = closed.complete_ids
        if cp.timed:
            codes, step = self._timed_codes(cp, res.state, res.timed, closed.complete_partial)
        else:
            codes = verdict_codes(cp, res.state, res.state_bytes, closed.complete_partial)

            def step(i: int) -> tuple:
                return cp, res.state[i]
        violations = self._deferred(cp, ids, codes, bind(self._native.trace_text, cp, res),
                                    self._core_trace_built, step, res, closed)
        vacuous = count_vacuous(codes, res.trigger) if cp.triggers else 0

        def undecided(i: int) -> bool:
            stepped, st = step(i)
            return not stepped.monitor.verdict(st).is_final
        ids, codes, partial = self._partial_block(ids, codes, closed.complete_partial,
                                                  undecided)
        return ids, codes, vacuous, violations, partial

    @staticmethod
    def _deferred(cp: CompiledProperty, keys: Sequence[str], codes: bytearray, text: Any,
                  *build: Any) -> list[Violation]:
        """The violations of a block of the core's results (the instances ``codes`` says
        are violated), each ``bind(*build)(at)`` for its place ``at``, its evidence read
        back from the core's store only when the report reads it (``DeferredViolation``):
        a run has thousands, an exit code or a count reads none, and the text and JSON
        reports have the core write theirs (``text``, a :class:`CoreBlock`'s) unless a
        violation's message could be a model's own words (``reason``), which only Python
        has. A property with a ``message`` clause builds them now: its message reads the
        span's values, which may count type mismatches into the run's warnings, and those
        are final at ``close``."""
        ats = violated(codes)
        if not ats:
            return []
        if cp.message_fns:
            return list(map(bind(*build), ats))
        if any(hasattr(c.monitor, "reason") for c in (cp, cp.untimed) if c is not None):
            block = bind(*build)
        else:
            block = CoreBlock(*build)
            block.text = text
        return DeferredViolation.many(cp.prop, block, [keys[at] for at in ats], ats)

    def _core_trace_built(self, step: Callable[[int], tuple], res: Any, closed: Any,
                          t: int) -> Violation:
        """:meth:`_core_trace_violation` of complete trace ``t``, stepped as ``step(t)``
        says (one builder per block: see :meth:`_deferred`)."""
        stepped, state = step(t)
        return self._core_trace_violation(stepped, state, t, res, closed)

    def _core_trace_violation(self, stepped: CompiledProperty, state: Any, t: int, res: Any,
                              closed: Any) -> Violation:
        """The violation of complete trace ``t`` of a per-trace property the core ran,
        stepped on ``stepped`` (the property or its untimed twin) to ``state``."""
        event = self._native.event
        key = closed.complete_ids[t]
        decided, raised = res.decided[t], res.raised[t]
        decided_at = event(t, decided) if decided >= 0 else None
        raised_at = event(t, raised) if raised >= 0 else None
        opened_at = (event(t, res.opened[t])
                     if res.opened is not None and res.opened[t] >= 0 else None)
        reason = None
        if decided_at is None:
            last = event(t, closed.n_events[t] - 1)
            if hasattr(stepped.monitor, "reason"):
                reason = stepped.monitor.reason(state)  # a saga left uncompensated
        else:
            last = decided_at
        return self.witness_violation(stepped, key, [key] if key else [], decided_at,
                                      raised_at, opened_at, last, reason)

    def _core_cross_built(self, cp: CompiledProperty, states: Any, c: Any, closed: Any,
                          i: int) -> Violation:
        """:meth:`_core_cross_violation` of instance ``i``, in ``states[i]`` (one builder
        per block: see :meth:`_deferred`)."""
        return self._core_cross_violation(cp, states[i], i, c, closed)

    def _core_cross_violation(self, cp: CompiledProperty, state: Any, i: int, c: Any,
                              closed: Any) -> Violation:
        """The violation of instance ``i`` of cross-trace property ``cp`` the core ran, in
        ``state`` at the end: witnesses are events read back from the core's store."""
        event, ids, offsets = self._native.event, closed.complete_ids, c.trace_offsets
        decided = (event(c.decided_trace[i], c.decided_event[i])
                   if c.decided_trace[i] >= 0 else None)
        raised = (event(c.raised_trace[i], c.raised_event[i])
                  if c.raised_trace[i] >= 0 else None)
        opened = (event(c.opened_trace[i], c.opened_event[i])
                  if c.opened_trace is not None and c.opened_trace[i] >= 0 else None)
        reason = None
        if decided is None:
            last = event(c.last_trace[i], c.last_event[i])
            if hasattr(cp.monitor, "reason"):
                reason = cp.monitor.reason(state)  # a saga left uncompensated
        else:
            last = decided
        trace_ids = [t for t in dict.fromkeys(
            ids[t] for t in c.traces[offsets[i]:offsets[i + 1]]) if t]
        return self.witness_violation(cp, c.keys[i], trace_ids, decided, raised, opened,
                                      last, reason)

    def _partial_block(self, keys: Any, codes: bytearray, partial: bytes,
                       undecided: Any) -> tuple:
        """A core block's instances undecided on a partial trace: counted, and with
        ``partial_traces="ignore"`` left out (as the Python engine leaves them out)."""
        drop = undecided_partial(codes, partial, undecided)
        if self.partial_traces == "ignore":
            keys, codes = without(keys, codes, drop)
        return keys, codes, len(drop)

    def _timed_codes(self, cp: CompiledProperty, state: Any, timed: list | None,
                     partial: bytes) -> tuple[bytearray, Callable[[int], tuple]]:
        """A timed property's verdict codes, and ``step(i)``: the property instance ``i``
        was stepped on with its final state, its timed monitor's (``timed[i]``), or for a
        trace within every bound its untimed twin's table state (``state[i]``, as
        ``by_letters``). Most traces stay within every bound: their codes are the twin's,
        computed for all at once; only the others are looked at one by one."""
        twin = cp.untimed
        if twin is not None:
            codes = verdict_codes(twin, state, state if type(state) is bytes else None,
                                  partial)
        else:  # no twin: the core stepped every instance on the timed monitor
            codes = bytearray(len(partial))
        clocked: dict[int, Any] = {}
        for i, ts in enumerate(timed or ()):
            if ts is not None:
                probe = Instance("", cp)
                probe.state = clocked[i] = timed_state(ts)  # never None
                probe.partial = bool(partial[i])
                codes[i] = VERDICT_CODES[self.final_verdict(cp, probe).value]

        def step(i: int) -> tuple:
            st = clocked.get(i)
            return (twin, state[i]) if st is None else (cp, st)

        return codes, step

    def _core_cross(self, cp: CompiledProperty, c: Any, closed: Any) -> tuple:
        """Cross-trace property ``cp``'s block, as ``_result`` reports the Python engine's
        instances: an undecided instance that lost events to an eviction is incomplete;
        witnesses are events read back from the core's store."""
        if cp.timed:  # a cross-trace instance is always stepped on the timed monitor
            codes, step = self._timed_codes(cp, c.state, c.timed, c.partial)
            states = [step(i)[1] for i in range(len(codes))]
        else:
            codes, states = verdict_codes(cp, c.state, c.state_bytes, c.partial), c.state
        evicted = self._evicted_keys[cp.index]
        if evicted:
            verdict = cp.monitor.verdict
            for i, key in enumerate(c.keys):
                if key in evicted and not verdict(states[i]).is_final:
                    codes[i] = VERDICT_CODES["incomplete"]
        violations = self._deferred(cp, c.keys, codes, bind(self._native.cross_text, cp, c),
                                    self._core_cross_built, cp, states, c, closed)
        vacuous = count_vacuous(codes, c.trigger) if cp.triggers else 0
        verdict = cp.monitor.verdict
        keys, codes, partial = self._partial_block(
            c.keys, codes, c.partial, lambda i: not verdict(states[i]).is_final)
        return keys, codes, vacuous, violations, partial

    def _index_links(self, results) -> None:
        """`linked(P)` sees every span of the input: index them before any trace is decided."""
        index = self.compiled.gen.namespace["_LINKS"]
        for r in results:
            for sp in r.trace.spans:
                index[(sp.trace_id, sp.span_id)] = (sp, r.trace)
        for r in results:
            for sp in r.trace.spans:
                self._unresolved_links += sum(1 for key in sp.links if key not in index)

    def _run_cross(self) -> None:
        for cp in self._cross_cps:
            buckets = self._buckets[cp.index]
            for key, rows in buckets.items():
                rows.sort()  # by (time, trace id, index): unique, so events are never compared
                evs = [r[3] for r in rows]
                traces = [r[5] for r in rows]
                if cp.prop.kind != "aggregate":
                    inst = Instance(key, cp)
                    self.step_instance(cp, inst, evs, [r[4] for r in rows], None, traces)
                    inst.partial = any(t.is_partial for t in dict.fromkeys(traces))
                    self._instances[cp.index][key] = inst
                else:
                    samples = Samples(key)
                    self.sample(cp, samples, evs, None, traces)
                    self._samples[cp.index][key] = samples
            buckets.clear()

    def _result(self, cp: CompiledProperty, report: MonitorReport) -> PropertyResult:
        res = PropertyResult(cp.name, scope_text(cp.prop))
        evicted = self._evicted_keys[cp.index]
        block = self._core_blocks[cp.index]
        if block is not None:  # the core ran it
            keys, codes, vacuous, violations, partial = block
            self._partial[cp.index] += partial
            res.add_codes(keys, codes)
            res.vacuous += vacuous
            report.violations.extend(violations)
        if cp.prop.kind != "metric":
            for key, verdict, vacuous, violations in self._decided[cp.index]:
                res.add(key, verdict)
                res.vacuous += bool(vacuous)
                report.violations.extend(violations)
        if cp.prop.kind not in ("aggregate", "metric"):
            for key, inst in self._instances[cp.index].items():
                verdict = self.final_verdict(cp, inst)
                if key in evicted and not cp.monitor.verdict(inst.state).is_final:
                    verdict = INCOMPLETE  # undecided, and some of its events were evicted
                elif self._undecided_partial(cp, inst):
                    self._partial[cp.index] += 1
                    if self.partial_traces == "ignore":
                        continue
                res.add(key, verdict)
                if verdict is Verdict.SATISFIED and cp.triggers and not inst.trigger:
                    res.vacuous += 1
                if verdict is Verdict.VIOLATED:
                    report.violations.append(self.violation(cp, inst))
        elif cp.prop.kind == "aggregate":
            for key, samples in self._samples[cp.index].items():
                if key in evicted:
                    res.add(key, INCOMPLETE)  # its windows lack the evicted events
                    continue
                counts: dict[str, int] = {}
                verdict, violations = self.aggregate(cp, samples, counts)
                res.add(key, verdict)
                if verdict is Verdict.SATISFIED and not counts["evaluated"]:
                    res.vacuous += 1  # no window had a value to compare
                report.violations.extend(violations)
        elif cp.prop.kind == "metric":
            for key, verdict, violation in self._metric(cp):
                res.add(key, verdict)
                if violation is not None:
                    report.violations.append(violation)
        if cp.prop.kind != "metric" and evicted:
            seen = {k for k, _ in res.results}
            for key in evicted:
                if key not in seen:
                    res.add(key, INCOMPLETE)  # every event of the instance was evicted
        if self.partial_traces == "ignore":
            res.ignored_partial = self._partial[cp.index]
        else:
            res.inconclusive_partial = self._partial[cp.index]
        return res

    @staticmethod
    def _undecided_partial(cp: CompiledProperty, inst: Instance) -> bool:
        """Whether the instance is inconclusive only because it saw a partial trace: its
        verdict was not final at the end (and it missed no late event)."""
        return inst.partial and not inst.late and not cp.monitor.verdict(inst.state).is_final

    def final_verdict(self, cp: CompiledProperty, inst: Instance) -> Verdict:
        """The verdict of an instance whose input has ended: an undecided one is
        inconclusive when it is known to miss events (partial trace, late events)."""
        mon = cp.monitor
        v = mon.verdict(inst.state)
        if v is Verdict.INCONCLUSIVE:
            return v
        if v.is_final:
            return v
        if inst.partial or inst.late:
            return Verdict.INCONCLUSIVE  # the missing part could change an undecided verdict
        return Verdict.SATISFIED if mon.final(inst.state) else Verdict.VIOLATED

    def violation(self, cp: CompiledProperty, inst: Instance) -> Violation:
        """A violated instance's violation: witness events by DESIGN.md's rules, and the
        message (the `message` clause, the model's own words, or one in words)."""
        if (inst.decided_at is None and inst.reason is None
                and hasattr(cp.monitor, "reason")):
            inst.reason = cp.monitor.reason(inst.state)  # a saga left uncompensated
        return self.witness_violation(cp, inst.key, [t for t in inst.trace_ids if t],
                                      inst.decided_at, inst.raised_at, inst.opened_at,
                                      inst.last, inst.reason)

    def witness_violation(self, cp: CompiledProperty, key: str, trace_ids: list[str],
                          decided: Event | None, raised: Event | None,
                          opened_at: Event | None, last: Event | None,
                          reason: str | None) -> Violation:
        """:meth:`violation` from an instance's evidence alone (the core's violations
        have no :class:`Instance`): the event that ``decided`` it, the one that ``raised``
        the obligation it broke, the one that opened a bounded obligation, its ``last``
        event, and a model's ``reason``."""
        if decided is not None:
            # the deciding event, after the event that opened the obligation it settled
            # (a missed deadline is decided by a later event; the raiser is the evidence)
            witness = [decided] if raised is None else [raised, decided]
            if cp.prop.kind == "follows":
                # the bad value first (the witness span that messages and healing read),
                # then the observation it cannot follow
                witness.reverse()
            opened = opened_at
        else:  # an obligation still open at the end: who raised it, and where the trace ended
            witness = [e for e in (raised, last) if e is not None]
            opened = None
        if opened is not None and opened not in witness:
            # the event that opened the bounded obligation the deciding event broke: in
            # time order with the others (it may precede or follow the raiser)
            witness = sorted([opened, *witness], key=_time_ns)
        if len(witness) > 1:
            witness = list(dict.fromkeys(witness))  # the raiser may be the last event itself
            spans = list(dict.fromkeys(e.span for e in witness))
        else:
            spans = [e.span for e in witness]
        message = (self._message(cp, spans[0] if spans else None, None) or reason
                   or _default_message(cp, witness, decided is None, opened, raised))
        trigger = opened
        if trigger is None and cp.bounded and decided is None:
            trigger = raised  # an obligation open at the end: its raiser opened it
        return Violation(cp.prop, key, trace_ids, [s.span_id for s in spans if s.span_id],
                         message, witness, trigger=trigger)

    # ------------------------------------------------------------- aggregates
    def aggregate(self, cp: CompiledProperty, samples: Samples, counts: dict | None = None):
        """The verdict of an aggregate property over an instance's samples, window by
        window (empty windows never decide), and its violations; ``counts["evaluated"]``
        tells how many windows had a value to compare."""
        if samples.windows is not None:
            return self._core_aggregate(cp, samples, counts)
        window = cp.prop.window
        rows = samples.rows
        if not rows:
            if counts is not None:
                counts["evaluated"] = 0
            return Verdict.SATISFIED, []
        rows.sort(key=itemgetter(0))
        violations = []
        evaluated = 0
        names = [node.payload for node, _, _ in cp.aggregates]
        for bounds, lo, hi, values in window_values(names, rows, window):
            if values is None:
                continue  # an empty window neither violates nor satisfies
            evaluated += 1
            env = {("agg", i): v for i, v in enumerate(values)}
            try:
                ok = bool(cp.body_fn(env))
            except (EvalError, TypeError):
                ok = False
            if not ok:
                part = rows[lo:hi]
                if samples.resolve is not None:
                    part = samples.resolve(part)
                violations.append(self.aggregate_violation(cp, samples.key, env, part, bounds))
        if counts is not None:
            counts["evaluated"] = evaluated  # windows that had a value to compare
        return (Verdict.VIOLATED if violations else Verdict.SATISFIED), violations

    def _core_aggregate(self, cp: CompiledProperty, samples: Samples,
                        counts: dict | None = None):
        """``aggregate`` over the windows the core cut and valued (``samples.windows``:
        only those with a value for every aggregate); a violated window's rows are read
        back from the core."""
        violations = []
        body = cp.body_fn
        for lo, hi, bounds, values in samples.windows:
            env = {("agg", i): v for i, v in enumerate(values)}
            try:
                ok = bool(body(env))
            except (EvalError, TypeError):
                ok = False
            if not ok:
                part = samples.resolve(samples.rows_of(lo, hi))
                violations.append(self.aggregate_violation(cp, samples.key, env, part, bounds))
        if counts is not None:
            counts["evaluated"] = len(samples.windows)  # windows that had a value to compare
        return (Verdict.VIOLATED if violations else Verdict.SATISFIED), violations

    def _metric(self, cp: CompiledProperty):
        """Metric invariants: at every data point, with the latest value of each metric."""
        by_metric = metric_names(self.spec, cp)
        needed = sum(map(len, by_metric.values()))
        points = sorted((p for p in self._points if p.metric in by_metric),
                        key=lambda p: p.time_ns)
        latest: dict[str, dict[str, Any]] = defaultdict(dict)
        bad: dict[str, list] = defaultdict(list)
        seen: dict[str, None] = {}
        for p in points:
            key = metric_key(cp, p)
            if key is None:
                continue
            seen[key] = None
            if metric_update(latest[key], by_metric[p.metric], p.value, needed) and \
                    not metric_holds(cp, latest[key]):
                bad[key].append((p, dict(latest[key])))
        for key in seen:
            if bad[key]:
                yield key, Verdict.VIOLATED, self.metric_violation(
                    cp, key, bad[key][0][1], [q for q, _ in bad[key]])
            else:
                yield key, Verdict.SATISFIED, None

    def aggregate_violation(self, cp: CompiledProperty, key: str, env: dict, rows: list,
                             bounds: tuple | None) -> Violation:
        """A window (or the whole instance, ``bounds`` None) whose aggregates broke the
        property: its worst spans are the witness (file mode and the sidecar alike)."""
        worst = _worst(cp, rows)[:_END_MASK_MAX]
        spans = [r[1] for r in worst]
        labels = [(_agg_label(n), env[("agg", i)], n.type)
                  for i, (n, _, _) in enumerate(cp.aggregates)]
        message = self._message(cp, spans[0] if spans else None, rows) or (
            f"{cp.prop.description or cp.name}: "
            + ", ".join(f"{label} = {_fmt(v, t)}" for label, v, t in labels)
            + (_window_text(bounds, cp.prop.window[1]) if bounds else ""))
        # the witness events are the samples' end events: a healing policy reads the
        # worst span as its witness, as it does a temporal violation's
        return Violation(cp.prop, key, list(dict.fromkeys(s.trace_id for s in spans)),
                         [s.span_id for s in spans], message,
                         [Event(r[0], False, r[1]) for r in worst],
                         values={label: v for label, v, _ in labels}, window=bounds)

    def metric_violation(self, cp: CompiledProperty, key: str, values: dict,
                          points: list) -> Violation:
        """Metric values that broke an invariant, first at ``points[0]``."""
        types = self.spec.metrics
        message = self._message(cp, None, None, metrics=values) or (
            f"{cp.prop.description or cp.name}: " + ", ".join(
                f"{n} = {_fmt(v, types[n].type if n in types else None)}"
                for n, v in values.items()) + f" at {_ts(points[0].time_ns)}")
        return Violation(cp.prop, key, [], [], message, [], values=dict(values),
                         points=[{"metric": q.metric, "time_unix_nano": q.time_ns,
                                  "value": q.value, "service": q.service}
                                 for q in points[:_END_MASK_MAX]])

    # ------------------------------------------------------------- messages
    def _message(self, cp: CompiledProperty, span: Span | None, rows,
                 metrics: dict | None = None) -> str | None:
        if not cp.message_fns:
            return None
        out = []
        for part in cp.message_fns:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "span":
                value = part[1](span) if span is not None else MISSING
                out.append("?" if value is MISSING else _fmt(value, part[2]))
            elif part[0] == "metric":
                out.append(_fmt((metrics or {}).get(part[1], "?"), part[2]))
            else:
                _, name, value, where, typ = part
                samples = [(value(r[1]), bool(where(r[1]))) for r in (rows or [])] if rows \
                    else []
                if not rows and span is not None:
                    samples = []
                result = aggregate_value(name, samples, None)
                out.append("?" if result is None else _fmt(result, typ))
        return "".join(out)

    def missing_attrs(self) -> list[str]:
        """Attribute keys the spec reads that no span so far has carried."""
        seen = self._seen_keys
        if self._native is not None:  # the core saw the spans the Python engine did not
            seen = seen | set(self._native.seen_keys())
        return sorted(k for k in self.compiled.wanted_attrs if k not in seen)

    def note_keys(self, spans: Iterable[Span]) -> None:
        """Record the attribute keys of spans (all of them), for did-you-mean suggestions."""
        for s in spans:
            self._all_keys.update(s.attrs)
            self._all_keys.update(s.resource)

    def _attribute_warnings(self) -> list[str]:
        out = []
        if self._key_samples and self.missing_attrs():
            for data, fmt in self._key_samples:  # every key of the first inputs
                try:
                    if fmt == "json":
                        self.note_keys(read_bytes(data, fmt="json", wanted_attrs=None,
                                                  wanted_metrics=frozenset()).spans)
                    else:
                        self.note_keys(decode_traces_pb(data, wanted_attrs=None))
                except InputError:
                    pass
        self._key_samples = []
        known = sorted(self._seen_keys | self._all_keys)
        for key in self.missing_attrs():
            if self._traces:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
                hint = f"; did you mean \"{close[0]}\"?" if close else ""
                out.append(f"attribute \"{key}\" never appeared in the input{hint}")
        return out

    def _mismatch_warnings(self) -> list[str]:
        return self.compiled.gen.mismatch_warnings() + self.compiled.gen.reading_warnings()

    # ------------------------------------------------------------- queries
    def valuations(self, name: str) -> dict[str, list[tuple[Event, bool]]]:
        """The truth of a pure-past property at every event of every trace, by trace id.

        For row-by-row comparison with other monitors (DESIGN.md, Python API). Needs
        ``Monitor(..., record_events=True)``; registers are not supported here.
        """
        from tracelogic.automata import compile_valuation
        from tracelogic.errors import SpecError

        if self._recorded is None:
            raise SpecError("valuations need the events: create the monitor with "
                            "record_events=True", value=name)
        cp = next((c for c in self.compiled.properties if c.name == name), None)
        if cp is None or cp.prop.kind != "formula" or cp.regs is not None:
            raise SpecError(f"valuations are defined for temporal properties without "
                            f"registers; `{name}` is not one", value=name)
        if cp.lowered.formula.has_future:
            raise SpecError(f"property `{name}` has future operators; per-event valuations "
                            "are defined for past-time formulas (Y O H S)", value=name)
        vm = compile_valuation(cp.lowered.formula, atoms=list(cp.monitor.atoms))
        out: dict[str, list[tuple[Event, bool]]] = {}
        for trace_id, events, gs in self._recorded:
            values = vm.values([cp.mask(g, 0) for g in gs], [ev.time_ns for ev in events])
            out[trace_id] = list(zip(events, values))
        return out

    def verdicts(self) -> dict[str, dict[str, str]]:
        """The verdict of every instance of every temporal property, by property and key.

        Before :meth:`close` these are the current four-valued verdicts of the instances
        decided so far (``presumably_*`` while open); after it, the final ones.
        """
        if self._closed is not None:
            kinds = {cp.name: cp.prop.kind for cp in self.compiled.properties}
            return {p.name: dict(p.results) for p in self._closed.properties
                    if p.monitored and kinds.get(p.name) not in ("aggregate", "metric")}
        out: dict[str, dict[str, str]] = {}
        for cp in self.compiled.properties:
            if cp.prop.kind in ("aggregate", "metric"):
                continue
            got = {k: v.value for k, v, _, _ in self._decided[cp.index]}  # whole traces
            got.update((k, cp.monitor.verdict(i.state).value)
                       for k, i in self._instances[cp.index].items())
            out[cp.name] = got
        return out


def _not_metrics(data: bytes) -> None:
    """Spans the Monitor encoded itself are a traces request."""


_MEMO_MAX = 4096  # remembered trace shapes per property (forgotten all at once when full)


def _position(events: list, ev: Event | None) -> int | None:
    if ev is None:
        return None
    for i, e in enumerate(events):
        if e is ev:
            return i
    raise ValueError("event not in its trace")


def _worst(cp: CompiledProperty, rows: list) -> list:
    """The window's contributing spans, worst first (by the first aggregate).

    "Worst" follows the comparison the aggregate appears in: for `p99(d) <= 1s`
    the largest values, for `avg(x) >= 10` the smallest; for `count`/`fraction`/
    `per_second` bounded from above, the spans that were counted, and bounded
    from below, the spans (matching `where`) that were not.
    """
    if not cp.aggregates:
        return rows
    node = cp.aggregates[0][0]
    name = node.payload
    larger_is_worse = _larger_is_worse(cp.prop.body, node, default=name != "min")
    hits = [r for r in rows if r[2][0][1]]
    if name in ("count", "fraction", "per_second"):
        worst = [r for r in hits if (r[2][0][0] is True) == larger_is_worse]
    else:
        numeric = [r for r in hits if isinstance(r[2][0][0], (int, float))
                   and not isinstance(r[2][0][0], bool)]
        worst = sorted(numeric, key=lambda r: r[2][0][0], reverse=larger_is_worse)
    return worst or hits or rows  # never an empty witness: at worst, the window's spans


def _larger_is_worse(body: Any, agg: Any, default: bool) -> bool:
    for n in body.walk():
        if n.op == "cmp" and n.payload in ("<", "<=", ">", ">="):
            if n.args[0] is agg:
                return n.payload in ("<", "<=")
            if n.args[1] is agg:
                return n.payload in (">", ">=")
    return default


def window_values(names: Sequence[str], rows: list, window: tuple | None
                  ) -> Iterable[tuple[tuple | None, int, int, list | None]]:
    """The windows of an instance's samples ``rows`` (sorted by time): per window its
    bounds (None without ``window``, the property's ``(size, sliding)``), its rows
    ``rows[lo:hi]`` and the value of each aggregate ``names[i]`` (``aggregate_value``), or
    None for an empty window (one without a value for some aggregate). The core's
    ``sample_windows`` gives the same for the non-empty windows (native/src/samples.rs)."""
    if window is None:
        cuts: Iterable = [(None, 0, len(rows))]
    else:
        size, sliding = window
        cuts = []
        if sliding:
            lo = 0
            for hi, (t, _, _) in enumerate(rows):
                if hi + 1 < len(rows) and rows[hi + 1][0] == t:
                    continue  # the window (t - size, t] holds every sample at t
                while rows[lo][0] <= t - size:
                    lo += 1
                cuts.append(((t - size, t), lo, hi + 1))
        else:  # the non-empty tumbling windows, cut from the sorted times by bisection
            times = [r[0] for r in rows]
            lo = 0
            while lo < len(rows):
                k = times[lo] // size
                hi = bisect_left(times, (k + 1) * size, lo)
                cuts.append(((k * size, (k + 1) * size), lo, hi))
                lo = hi
    for bounds, lo, hi in cuts:
        part = rows[lo:hi]
        values = []
        for i, name in enumerate(names):
            value = aggregate_value(name, [r[2][i] for r in part],
                                    window[0] if window else _span_ns(part))
            if value is None:
                values = None
                break
            values.append(value)
        yield bounds, lo, hi, values


def _span_ns(rows: list) -> int | None:
    if len(rows) < 2:
        return None
    return rows[-1][0] - rows[0][0] or None


def metric_names(spec: Spec, cp: CompiledProperty) -> dict[str, tuple[str, ...]]:
    """The OTLP metric names a metric invariant reads, to the spec's names bound to each."""
    out: dict[str, tuple[str, ...]] = {}
    for n in cp.prop.body.walk():
        if n.op == "var" and n.payload[0] == "metric":
            name = n.payload[1]
            otlp = spec.metrics[name].metric
            if name not in out.get(otlp, ()):
                out[otlp] = out.get(otlp, ()) + (name,)
    return out


def metric_update(values: dict[str, Any], names: tuple[str, ...], value: Any,
                  needed: int) -> bool:
    """Record a point's value under each spec name bound to its metric; True once every
    metric of the invariant has a value."""
    for n in names:
        values[n] = value
    return len(values) == needed


def metric_key(cp: CompiledProperty, point: Any) -> str | None:
    """The instance a data point belongs to: by the resource's service.name, a point's (or
    its resource's) attribute, or the global one; None when it has no value for it."""
    if cp.prop.scope == "global":
        return "*"
    if cp.prop.scope_key is None or cp.prop.scope_key.payload[1] == "service":
        return point.service or None
    return key_text(point.attr(cp.prop.scope_key.payload[2]))


def metric_holds(cp: CompiledProperty, values: dict[str, Any]) -> bool:
    """The invariant over the latest value of each metric (a type clash is a violation)."""
    try:
        return bool(cp.body_fn({("metric", n): v for n, v in values.items()}))
    except (EvalError, TypeError):
        return False


def key_text(value: Any) -> str | None:
    if value is MISSING or value is None or isinstance(value, InvalidValue):
        return None  # no (usable) value for the scope key: no instance
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fmt(v: Any, typ: Any = None) -> str:
    """A value for people, in the unit its spec type reads: `1.2s`, `96Mi`, `600m`."""
    return show_runtime(v, typ)


def _ts(ns: int | None) -> str:
    if ns is None:
        return "?"
    import datetime
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def _what(ev: Event) -> str:
    """How a message names an event: `` `name` start``, or a log record by its severity
    and body."""
    if ev.is_start is None:
        return ev.span.label
    return f"`{ev.span.name}` {ev.kind}"


def _default_message(cp: CompiledProperty, witness: list[Event], open_at_end: bool,
                     opened: Event | None = None, raised: Event | None = None) -> str:
    """The violation in words, when the property has no `message` clause; ``opened`` is the
    event that opened the bounded obligation the deciding event broke, ``raised`` the one
    that raised the obligation still open before it."""
    if not witness:
        return "violated"
    if opened is not None and not open_at_end:
        ev = witness[-1]
        text = (f"violated at {_what(ev)}, "
                f"{approx_duration(ev.time_ns - opened.time_ns)} after its trigger "
                f"{_what(opened)}")
        if raised is not None and raised != opened and raised != ev:
            text += f"; an obligation was raised at {_what(raised)}"
        return text
    if open_at_end:
        # what ended depends on the scope: the trace; a keyed instance, whose events run
        # until the end of input; or the whole input (`global`)
        first = witness[0]
        scope = cp.prop.scope
        if len(witness) == 1:
            ended = {"trace": "the trace ended", "key": "the instance ended at the end of input",
                     "global": "the input ended"}.get(scope, "the trace ended")
            return f"{ended} with an obligation open ({_what(first)})"
        last = f"{_what(witness[-1])}"
        when = {"trace": f"when the trace ended at {last}",
                "key": f"when the instance ended at the end of input (its last event: {last})",
                "global": f"at the end of input (the last event: {last})"
                }.get(scope, f"when the trace ended at {last}")
        return f"obligation raised at {_what(first)} was still open {when}"
    ev = witness[-1]
    if len(witness) == 1:
        return f"violated at {_what(ev)}"
    first = witness[0]
    return (f"violated at {_what(ev)}; the obligation was raised at "
            f"{_what(first)}")


def _window_text(bounds: tuple, sliding: bool) -> str:
    lo, hi = _ts(bounds[0]), _ts(bounds[1])
    return f" in window ({lo}, {hi}]" if sliding else f" in window [{lo}, {hi})"


def _agg_label(node: Any) -> str:
    """`p90(duration where op("db.query"))`, or `fraction(failed)` without a `where`."""
    from tracelogic.semantics.lower import show

    value, where = node.args[0], node.args[1]
    inner = show(value)
    if not (where.op == "lit" and where.payload is True):
        inner += f" where {show(where)}"
    return f"{node.payload}({inner})"

