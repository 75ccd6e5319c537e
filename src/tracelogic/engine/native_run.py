"""The native core's share of one :class:`~.monitor.Monitor`'s work (docs/native.md).

The core (``tracelogic._native.NativeRun``) keeps its own copy of the decoded spans, assembles
traces and orders their events exactly as the Python engine does, evaluates the plan's atoms
and steps the plan's properties, without the GIL and without a Python object per span. This
module is the thin Python side: it feeds request bytes, records the decoder's counts and
messages as the Python decoder would, and turns the core's per-trace results into the
Monitor's records (per-trace verdicts, and the instances of cross-trace properties). Spans
and events become Python objects only for what is reported: the witnesses of violations.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from itertools import compress
from typing import Any, Sequence

from tracelogic.automata.monitor import INFEASIBLE, Verdict
from tracelogic.ingest.events import Event
from tracelogic.errors import InputError
from tracelogic.ingest.native_otlp import (column_value, json_split_errors, record_problems,
                                          span_fields, span_from_fields, spans_from_columns)
from tracelogic.engine.plan import NativePlan
from tracelogic.engine.report import VERDICT_CODES
from tracelogic.ingest.spans import Span

_new_tuple = tuple.__new__

__all__ = ["NativeRun", "Closed", "CrossColumns", "TraceColumns", "TraceResult",
           "TimedOracle", "count_vacuous", "final_verdicts", "timed_state", "unpack_closed",
           "verdict_codes", "violated", "undecided_partial"]


@dataclass(frozen=True, slots=True)
class TraceResult:
    """A handed-out trace that was not complete: ``outcome`` is the assembler's
    (``incomplete`` or ``late``) and ``reason`` says why."""

    trace_id: str
    outcome: str
    reason: str
    partial: bool


@dataclass(frozen=True)
class TraceColumns:
    """One per-trace property's results, per complete trace (in ``Closed.complete_ids``
    order): final ``state`` (``state_bytes`` holds the same states one byte each when all
    are below 256, for ``bytes.translate``), the deciding and the raising event's index
    (-1: none), and whether a trigger ever held (one byte each, 0 or 1)."""

    state: Sequence[int]
    state_bytes: bytes | None
    decided: Sequence[int]
    raised: Sequence[int]
    trigger: bytes
    # a timed property: per trace, its timed monitor's state ``(sid, registers)`` (see
    # timed_state), or None where the trace was stepped on the untimed twin (``state``)
    timed: list | None = None
    # a bounded property: per trace, the event that opened the obligation a violation
    # broke (``Monitor._opened``; -1: none); None for an unbounded one
    opened: Sequence[int] | None = None


@dataclass(frozen=True)
class CrossColumns:
    """One cross-trace property's instances, in first-seen key order. Events are
    ``(complete trace index, event index)`` in two arrays each, -1 for none; ``last`` is the
    deciding event, else the instance's last one; instance ``i``'s traces (up to its
    deciding event, in first-seen order) are ``traces[trace_offsets[i]:trace_offsets[i+1]]``."""

    keys: list[str]
    state: Sequence[int]
    state_bytes: bytes | None
    decided_trace: Sequence[int]
    decided_event: Sequence[int]
    raised_trace: Sequence[int]
    raised_event: Sequence[int]
    last_trace: Sequence[int]
    last_event: Sequence[int]
    trigger: bytes
    partial: bytes
    events: Sequence[int]
    trace_offsets: Sequence[int]
    traces: Sequence[int]
    timed: list | None = None  # a timed property: per instance ``(sid, registers)``
    # a bounded property: the event that opened the obligation a violation broke
    opened_trace: Sequence[int] | None = None
    opened_event: Sequence[int] | None = None


@dataclass(frozen=True)
class Closed:
    """What the core's ``close`` returned, unpacked (docs/native.md, "the boundary")."""

    complete_ids: list[str]     # the complete traces' ids, in the order results use
    complete_partial: bytes     # per complete trace: 1 when it misses parents
    n_events: Sequence[int]     # per complete trace
    others: list[TraceResult]   # the traces that were not complete, in handout order
    # per plan property: its per-trace results, None for a cross-trace one
    results: list[TraceColumns | None]
    # per plan property: its instances, None for a per-trace one
    cross: list[CrossColumns | None]
    # per trace in ``others``, per plan property: the distinct scope keys of its spans, in
    # span order (empty unless the property has a key scope)
    evicted_keys: list[list[list[str]]]
    counters: dict[str, int]
    # per mismatch site of the program: (count, first left type, first right type) or None
    mismatches: list[Any]
    # the part of ``mismatches`` counted by register atoms and updates, which the Python
    # engine's letters do not evaluate
    reg_mismatches: list[Any]
    # per plan property: None unless it is an aggregate, else its instances' keys: per
    # complete trace ("") for scope trace, else per key; their windows and samples stay in
    # the core (NativeRun.sample_windows, NativeRun.sample_rows)
    samples: list[Any]


def _ints(data: bytes, fmt: str) -> Sequence[int]:
    """A column of machine-order ``u32`` (``I``) or ``i32`` (``i``) as a read-only view."""
    return memoryview(data).cast(fmt)


def _states(data: bytes, width: int) -> tuple[Sequence[int], bytes | None]:
    return (data, data) if width == 1 else (_ints(data, "I"), None)


def unpack_closed(out: dict[str, Any]) -> Closed:
    """The core's packed results (``_native.NativeRun.close``; laid out by
    ``native/src/packed.rs``) as :class:`Closed`: a view per column, no object per
    instance."""
    ids = out["complete_ids"]
    results: list[TraceColumns | None] = []
    for r in out["results"]:
        results.append(None if r is None else TraceColumns(
            *_states(r["state"], r["state_width"]), _ints(r["decided"], "i"),
            _ints(r["raised"], "i"), r["trigger"], r.get("timed"),
            _ints(r["opened"], "i") if "opened" in r else None))
    cross: list[CrossColumns | None] = []
    for c in out["cross"]:
        cross.append(None if c is None else CrossColumns(
            c["keys"], *_states(c["state"], c["state_width"]),
            *(_ints(c[name], "i") for name in ("decided_trace", "decided_event",
                                               "raised_trace", "raised_event",
                                               "last_trace", "last_event")),
            c["trigger"], c["partial"], _ints(c["events"], "I"),
            _ints(c["trace_offsets"], "I"), _ints(c["traces"], "I"), c.get("timed"),
            *((_ints(c["opened_trace"], "i"), _ints(c["opened_event"], "i"))
              if "opened_trace" in c else (None, None))))
    return Closed([ids[i:i + 32] for i in range(0, len(ids), 32)], out["complete_partial"],
                  _ints(out["n_events"], "I"), [TraceResult(*t) for t in out["others"]],
                  results, cross, out["evicted_keys"], out["counters"], out["mismatches"],
                  out["reg_mismatches"], out["samples"])


class NativeRun:
    """One file-mode run of a plan in the core."""

    def __init__(self, plan: NativePlan, wanted_attrs: frozenset[str],
                 max_open_traces: int) -> None:
        from tracelogic import _native

        self.plan = plan
        self.fed = False
        self._run = _native.NativeRun(plan.to_json(), set(wanted_attrs), max_open_traces)
        self._spans: dict[int, Span] = {}
        self.closed: Closed | None = None

    def feed_pb(self, data: bytes, stats: Any, source: str, *, columns: bool,
                is_metrics: Any) -> dict[str, Any]:
        """Decode and keep one ``ExportTraceServiceRequest``; count it in ``stats`` exactly
        as the Python decoder does and return the decoder's columns (the span columns only
        when ``columns``, for the Python engine). Raises the decoder's :class:`InputError`
        for a request refused whole, keeping nothing of it.

        A request upb would refuse is kept only after ``is_metrics(data)`` said it is not a
        metrics request: the Python decoder refuses those whole (``is_metrics`` raises then).
        """
        c = self._run.feed_pb(data, False, columns)
        if c["upb_refused"] and not c["committed"]:
            is_metrics(data)
            c = self._run.feed_pb(data, True, columns)
        record_problems(c, data, stats, source)
        self.fed = self.fed or bool(c["decoded"])
        return c

    def feed_json(self, data: bytes, stats: Any, source: str, *, columns: bool,
                  python_doc: Any) -> tuple[list[Span], int]:
        """Split OTLP/JSON input (one request, or JSON Lines) in the core and keep the spans
        of its trace requests; count everything in ``stats`` exactly as the Python side's
        ``read_bytes`` does. Returns the kept spans as objects when ``columns`` (for the
        Python engine), else [], and how many spans the core kept.

        ``python_doc(line, text, what)`` decodes a document the core leaves to Python (its
        bytes ``text``): ``what`` is ``"metrics"``, ``"other"`` (not a request) or
        ``"python"`` (a trace request the core does not decode; see docs/native.md); it
        records the document in ``stats`` and returns its spans, which the core then keeps
        in their place.
        """
        first_error = len(stats.errors)
        spans: list[Span] = []
        kept = [0]

        def on_doc(line: int, start: int, end: int, what: str, c: Any) -> Any:
            if what == "traces":
                try:
                    record_problems(c, data, stats, f"{source}:{line}")
                except InputError as e:  # refused whole: nothing of it was kept
                    stats.error(e)
                    return None
                self.fed = self.fed or bool(c["decoded"])
                kept[0] += c["decoded"]
                if columns:
                    spans.extend(spans_from_columns(c))
                return None
            got = python_doc(line, data[start:end], what)
            if what != "python":
                return None
            self.fed = self.fed or bool(got)
            kept[0] += len(got)
            if columns:
                spans.extend(got)
            return [span_fields(s) for s in got]

        bad, whole = self._run.feed_json(data, columns, on_doc)
        if bad or whole:  # split_json records these before any document's problems
            stats.errors[first_error:first_error] = json_split_errors(data, source, bad, whole)
        return spans, kept[0]

    def close(self) -> Closed:
        """Assemble, order, evaluate and step everything fed (once)."""
        if self.closed is None:
            self.closed = unpack_closed(self._run.close(_render_key, TimedOracle(self.plan)))
        return self.closed

    def sample_windows(self, j: int, aggs: list[str], window: tuple[int, bool] | None
                       ) -> list[list[tuple] | None]:
        """The windows of each instance of aggregate plan property ``j`` (in
        ``closed.samples[j]`` order), cut and valued by the core exactly as
        ``Monitor.aggregate`` and ``aggregate_value`` would: per instance a list of ``(lo,
        hi, bounds, values)`` for the windows with a value for every aggregate (``aggs``,
        their names), or None for an instance the core leaves to Python (its rows:
        :meth:`sample_rows`). ``window`` is the property's ``(size, sliding)``."""
        return self._run.sample_windows(j, aggs, window, sys.version_info < (3, 12))

    def sample_rows(self, j: int, i: int, lo: int, hi: int) -> list[tuple]:
        """Samples ``lo:hi`` (sorted by time) of instance ``i`` of aggregate plan property
        ``j``: rows ``(time, trace << 32 | event, values)``, ``values`` a tuple of ``(value,
        where)`` per aggregate."""
        return self._run.sample_rows(j, i, lo, hi)

    def event(self, trace: int, index: int) -> Event:
        """Event ``index`` of complete trace ``trace``, with its span as a :class:`Span`."""
        time_ns, is_start, row = self._run.event(trace, index)
        span = self._spans.get(row)
        if span is None:
            span = self._spans[row] = span_from_fields(self._run.span(row))
        # Event's fields in order, without its generated __new__'s Python frame: a run
        # reads back an event or two for each of its (many) violations
        return _new_tuple(Event, (time_ns, is_start, span))

    def seen_keys(self) -> list[str]:
        """The wanted attribute keys some kept span (or its resource) carried."""
        return self._run.seen_keys()

    def trace_text(self, cp: Any, res: TraceColumns, json: bool, style: tuple,
                   ats: list[int], keys: list[str], as_bytes: bool = False
                   ) -> str | bytes | list[str | None]:
        """The report's text of each violation of per-trace property ``cp`` on complete
        trace ``ats[i]`` (key ``keys[i]``), written by the core from ``res``'s evidence
        (``native/src/violation_text.rs``), as ``report.CoreBlock.text`` says."""
        return self._run.trace_violation_text(
            json, style, _witness_rules(cp), ats, keys, res.decided.obj, res.raised.obj,
            None if res.opened is None else res.opened.obj, as_bytes)

    def cross_text(self, cp: Any, c: CrossColumns, json: bool, style: tuple,
                   ats: list[int], keys: list[str], as_bytes: bool = False
                   ) -> str | bytes | list[str | None]:
        """:meth:`trace_text` for instances ``ats`` of cross-trace property ``cp``."""
        return self._run.cross_violation_text(
            json, style, _witness_rules(cp), ats, keys,
            (c.decided_trace.obj, c.decided_event.obj), (c.raised_trace.obj, c.raised_event.obj),
            (c.last_trace.obj, c.last_event.obj),
            None if c.opened_trace is None else (c.opened_trace.obj, c.opened_event.obj),
            (c.traces.obj, c.trace_offsets.obj), as_bytes)


class TimedOracle:
    """What the core asks about timed properties (``native/src/timed.rs``): their monitors'
    states and transitions, from the Python engine's own ``Progression`` (one semantics,
    one cache: the core asks only when its cache misses, once per explored transition).

    ``prop`` is the plan's property index; a state is described as ``(relevant, anchors,
    n_slots, verdict, accepting)`` with anchors ``(slot, lo, hi | None)`` in the state's
    order and verdict 0 satisfied, 1 violated, 2 presumably satisfied, 3 presumably
    violated (``TimedMonitor.verdict``). Bounds are clamped to ±2^100 ns: the core compares
    them, exactly, with differences of two u64 timestamps.
    """

    def __init__(self, plan: NativePlan) -> None:
        self._futures = [cp.monitor.future if cp.timed else None for cp in plan.properties]

    def state(self, prop: int, sid: int) -> tuple:
        info = self._futures[prop].states[sid]
        verdict = (0 if info.is_true else 1 if info.is_false
                   else 2 if info.accepting else 3)
        return (info.relevant,
                [(slot, _clamp(lo), None if hi is None else _clamp(hi))
                 for _, slot, lo, hi in info.anchors],
                info.n_slots, verdict, info.accepting)

    def successor(self, prop: int, sid: int, mask: int, sides: tuple, eq: bool) -> tuple:
        return self._futures[prop].transition(sid, mask, sides, eq)


def _witness_rules(cp: Any) -> tuple[str, bool, bool]:
    """What ``Monitor.witness_violation`` asks of a property: its scope, whether it is a
    `follows` property (the bad value first), whether it has time bounds."""
    return cp.prop.scope, cp.prop.kind == "follows", cp.bounded


_BOUND = 1 << 100


def _clamp(ns: int) -> int:
    return max(-_BOUND, min(_BOUND, ns))


def timed_state(state: tuple) -> Any:
    """The ``TimedMonitor`` state of a core result ``(sid, registers)`` (no past stage)."""
    sid, regs = state
    return INFEASIBLE if sid < 0 else (None, sid, tuple(regs))


def _render_key(value: Any) -> str | None:
    """``key_text`` of an attribute value the core cannot render (bytes, an array, a
    key-value list), given as the core gives attributes."""
    from tracelogic.engine.monitor import key_text

    return key_text(column_value(value))


def final_verdicts(cp: Any, partial: bool) -> list[Verdict]:
    """Per automaton state, :meth:`Monitor.final_verdict` of an instance that ended there
    (``partial``: it has events of a trace that misses parents, so an undecided verdict is
    inconclusive)."""
    mon = cp.monitor
    out = []
    for state, v in enumerate(mon.verdicts):
        if not (v is Verdict.INCONCLUSIVE or v.is_final):
            if partial:
                v = Verdict.INCONCLUSIVE
            else:
                v = Verdict.SATISFIED if mon.accepting[state] else Verdict.VIOLATED
        out.append(v)
    return out


def verdict_codes(cp: Any, state: Sequence[int], state_bytes: bytes | None,
                  partial: bytes) -> bytearray:
    """The final verdict of each instance as its code (``report.VERDICT_CODES``), from its
    final ``state`` and whether it is ``partial``: one ``bytes.translate`` over the states
    when they fit a byte, then a fix-up of the (few) partial instances."""
    whole = [VERDICT_CODES[v.value] for v in final_verdicts(cp, False)]
    if state_bytes is not None:
        codes = bytearray(state_bytes.translate(bytes((whole + [0] * 256)[:256])))
    else:
        codes = bytearray(whole[s] for s in state)
    i = partial.find(1)
    if i >= 0:
        part = [VERDICT_CODES[v.value] for v in final_verdicts(cp, True)]
        while i >= 0:
            codes[i] = part[state[i]]
            i = partial.find(1, i + 1)
    return codes


_VIOLATED = VERDICT_CODES["violated"]
_INCONCLUSIVE = VERDICT_CODES["inconclusive"]


def undecided_partial(codes: bytearray, partial: bytes, undecided: Any) -> list[int]:
    """The instances that are ``inconclusive`` only because they saw a partial trace: the
    ``partial`` ones whose code is inconclusive and whose state ``undecided(i)`` says was
    not final (``Monitor._undecided_partial`` of the Python engine). Partial instances are
    few: found with ``bytes.find``."""
    out = []
    i = partial.find(1)
    while i >= 0:
        if codes[i] == _INCONCLUSIVE and undecided(i):
            out.append(i)
        i = partial.find(1, i + 1)
    return out


def without(keys: Sequence[str], codes: bytearray, drop: list[int]
            ) -> tuple[Sequence[str], bytearray]:
    """``keys`` and ``codes`` without the instances at the (sorted) indices ``drop``."""
    if not drop:
        return keys, codes
    gone = set(drop)
    return ([k for i, k in enumerate(keys) if i not in gone],
            bytearray(c for i, c in enumerate(codes) if i not in gone))
# 1 where the code is `satisfied`, for count_vacuous
_IS_VIOLATED = bytes(int(c == _VIOLATED) for c in range(256))
_IS_SATISFIED = bytes(int(c == VERDICT_CODES["satisfied"]) for c in range(256))


def violated(codes: bytearray) -> list[int]:
    """The indices of the violated instances, picked at C speed (one in five of
    bench_monitor's traces violates something)."""
    return list(compress(range(len(codes)), codes.translate(_IS_VIOLATED)))


def count_vacuous(codes: bytearray, trigger: bytes) -> int:
    """How many instances are satisfied without a trigger ever holding (``vacuous``): both
    are one byte (0 or 1) per instance, so the count is the bits of one big-integer ``and``."""
    satisfied = int.from_bytes(codes.translate(_IS_SATISFIED), "little")
    return (satisfied & ~int.from_bytes(trigger, "little")).bit_count()
