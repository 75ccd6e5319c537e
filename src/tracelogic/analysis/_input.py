"""What every analysis reads: spans, metric points, and span events with their details.

The runtime monitor's :class:`~tracelogic.ingest.spans.Span` keeps only the
*names* of span events (that is all a predicate can ask: ``has_event("x")``). Some
analyses need an event's time and attributes -- ``lock.wait`` events name a lock,
RPC ``message`` events carry a direction and a sequence number -- so this module
keeps a side table of :class:`SpanEvent` by ``(trace_id, span_id)``, filled from
the same OTLP inputs (JSON or protobuf) or from OpenTelemetry SDK spans.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracelogic.errors import InputError
from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import Span, from_sdk

__all__ = ["AnalysisInput", "SpanEvent", "read_inputs", "group_traces"]

SpanKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """One span event: its name, time and attributes."""

    name: str
    time_ns: int
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class AnalysisInput:
    """Spans, metric data points and span-event details from one or more inputs.

    ``errors`` holds one line per malformed part of the input (the rest was still
    read); ``events`` maps ``(trace_id, span_id)`` to the span's events in time order.
    """

    spans: list[Span] = field(default_factory=list)
    points: list[Any] = field(default_factory=list)
    events: dict[SpanKey, tuple[SpanEvent, ...]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_spans(cls, spans: Iterable[Any], points: Iterable[Any] = (),
                   events: Mapping[SpanKey, Iterable[SpanEvent]] | None = None
                   ) -> AnalysisInput:
        """From tracelogic :class:`Span`\\ s and/or OpenTelemetry SDK ``ReadableSpan``\\ s.

        SDK spans bring their events' times and attributes along; tracelogic spans
        only have event names, so pass ``events`` for them when an analysis needs more.
        """
        items = list(spans)
        ours = [s for s in items if isinstance(s, Span)]
        sdk = [s for s in items if not isinstance(s, Span)]
        table: dict[SpanKey, tuple[SpanEvent, ...]] = {}
        if sdk:
            ours += from_sdk(sdk)
            for s in sdk:
                evs = getattr(s, "events", None) or ()
                if not evs:
                    continue
                ctx = s.get_span_context() if hasattr(s, "get_span_context") else s.context
                key = (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
                table[key] = _sorted(SpanEvent(e.name, int(e.timestamp), dict(e.attributes or {}))
                                     for e in evs)
        for k, v in (events or {}).items():
            table[k] = _sorted(v)
        return cls(spans=ours, points=list(points), events=table)

    def events_of(self, span: Span) -> tuple[SpanEvent, ...]:
        return self.events.get((span.trace_id, span.span_id), ())

    def traces(self) -> list[Trace]:
        return group_traces(self.spans)


def group_traces(spans: Iterable[Span]) -> list[Trace]:
    """One :class:`Trace` per trace id, ordered by start time then trace id."""
    by: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by[s.trace_id].append(s)
    traces = [Trace(v) for v in by.values()]
    traces.sort(key=lambda t: (t.start_ns, t.trace_id))
    return traces


def _sorted(evs: Iterable[SpanEvent]) -> tuple[SpanEvent, ...]:
    return tuple(sorted(evs, key=lambda e: e.time_ns))


def read_inputs(traces: Iterable[str], metrics: Iterable[str] = (), *,
                want_events: bool = True) -> AnalysisInput:
    """Read OTLP files (``-`` is stdin, read once) into one :class:`AnalysisInput`.

    Trace files may also hold JSON metrics (sniffed by content); protobuf metrics must
    come through ``metrics``. An unreadable file or malformed content is recorded in
    ``errors`` and the rest is still read.
    """
    from tracelogic.ingest.otlp import DecodeStats, read_bytes

    out = AnalysisInput()
    inputs = [(p, "auto") for p in traces] + [(p, "metrics") for p in metrics]
    for path, signal in inputs:
        try:
            data, source = _read(path)
        except InputError as e:
            out.errors.append(str(e))
            continue
        stats = DecodeStats()
        got = read_bytes(data, source=source, signal=signal, stats=stats)  # type: ignore[arg-type]
        out.spans.extend(got.spans)
        out.points.extend(got.points)
        out.errors.extend(str(e) for e in stats.errors)
        if stats.rejected or stats.points_rejected:
            first = f"; first: {stats.messages[0]}" if stats.messages else ""
            out.errors.append(f"{source}: {stats.rejected} span(s) and {stats.points_rejected} "
                              f"metric point(s) rejected{first}")
        if want_events and got.spans and any(s.event_names for s in got.spans):
            try:
                out.events.update(_events_from_bytes(data))
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                out.errors.append(f"{source}: span events unreadable: {e}")
    return out


def _read(path: str) -> tuple[bytes, str]:
    import sys

    if path == "-":
        data, source = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror or e}", value=path,
                             hint="check the path; use - to read standard input") from e
        source = path
    if data[:2] == b"\x1f\x8b":
        from tracelogic.ingest.compression import gunzip_file

        data = gunzip_file(data, source)  # bounded: a gzip bomb stops at the limit
    return data, source


def _events_from_bytes(data: bytes) -> dict[SpanKey, tuple[SpanEvent, ...]]:
    """The span-event side table of one OTLP traces input (JSON, JSON Lines or protobuf)."""
    from tracelogic.ingest.otlp_common import (DecodeStats, attrs_json, attrs_pb,
                                                jget, json_documents, json_id,
                                                json_int, pb_id)

    table: dict[SpanKey, tuple[SpanEvent, ...]] = {}
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"["):
        for _, doc in json_documents(data, "<events>", DecodeStats()):
            if not isinstance(doc, dict):
                continue
            for rs in jget(doc, "resourceSpans", "resource_spans") or ():
                scopes = (jget(rs, "scopeSpans", "scope_spans")
                          or jget(rs, "instrumentationLibrarySpans",
                                  "instrumentation_library_spans") or ())
                for ss in scopes:
                    for sp in (ss.get("spans") or ()) if isinstance(ss, dict) else ():
                        evs = sp.get("events") if isinstance(sp, dict) else None
                        if not evs or not isinstance(evs, list):
                            continue
                        tid, _ = json_id(jget(sp, "traceId", "trace_id"), 16, "trace id")
                        sid, _ = json_id(jget(sp, "spanId", "span_id"), 8, "span id")
                        if not tid or not sid:
                            continue
                        got = []
                        for e in evs:
                            if not isinstance(e, dict) or not isinstance(e.get("name"), str):
                                continue
                            t = json_int(jget(e, "timeUnixNano", "time_unix_nano") or 0)
                            try:
                                attrs = dict(attrs_json(e.get("attributes"), None))
                            except ValueError:
                                attrs = {}
                            got.append(SpanEvent(e["name"], t or 0, attrs))
                        table[(tid, sid)] = _sorted(got)
        return table
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import \
        ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    req.ParseFromString(data)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                if not sp.events:
                    continue
                tid, _ = pb_id(sp.trace_id, 16, "trace id")
                sid, _ = pb_id(sp.span_id, 8, "span id")
                if tid and sid:
                    table[(tid, sid)] = _sorted(
                        SpanEvent(e.name, int(e.time_unix_nano), dict(attrs_pb(e.attributes, None)))
                        for e in sp.events)
    return table
