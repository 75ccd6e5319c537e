"""Building spans for the analysis tests: short ids, times in milliseconds."""
from __future__ import annotations

import itertools
import json
from typing import Any

from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

MS = 1_000_000
T0 = 1_700_000_000_000_000_000  # a fixed epoch offset, so timestamps look real


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


class Builder:
    """Spans with sequential ids; ``span(...)`` returns the Span and remembers it."""

    def __init__(self, trace: int = 1) -> None:
        self.trace = trace
        self.spans: list[Span] = []
        self._ids = itertools.count(1)

    def span(self, name: str, start_ms: float, end_ms: float, parent: Span | None = None, *,
             service: str = "svc", kind: str = "internal", status: str = "unset",
             trace: int | None = None, links: tuple = (), events: tuple = (),
             **attrs: Any) -> Span:
        n = next(self._ids) + 1000 * (trace if trace is not None else self.trace)
        s = Span(name=name, trace_id=parent.trace_id if parent else tid(
                     trace if trace is not None else self.trace),
                 span_id=sid(n), parent_id=parent.span_id if parent else "",
                 start_ns=T0 + int(start_ms * MS), end_ns=T0 + int(end_ms * MS),
                 service=service, kind=kind, status=status,
                 attrs={k.replace("__", "."): v for k, v in attrs.items()},
                 links=tuple((x.trace_id, x.span_id) for x in links), event_names=events)
        self.spans.append(s)
        return s


def write_otlp_json(path, spans) -> str:
    """Write spans as one OTLP/JSON request; returns the path as a string."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(request_to_json(spans_to_request(spans)), f)
    return str(path)


def write_metrics_json(path, points) -> str:
    """Write DataPoints (gauges, as doubles) as one OTLP/JSON metrics request."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import \
        ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1 import common_pb2

    req = ExportMetricsServiceRequest()
    by_service: dict[str, Any] = {}
    for p in points:
        rm = by_service.get(p.service)
        if rm is None:
            rm = by_service[p.service] = req.resource_metrics.add()
            rm.resource.attributes.append(common_pb2.KeyValue(
                key="service.name", value=common_pb2.AnyValue(string_value=p.service)))
            rm.scope_metrics.add()
        sm = rm.scope_metrics[0]
        m = next((m for m in sm.metrics if m.name == p.metric), None)
        if m is None:
            m = sm.metrics.add(name=p.metric, unit=p.unit)
        dp = m.gauge.data_points.add(time_unix_nano=p.time_ns, as_double=float(p.value))
        for k, v in p.attrs.items():
            dp.attributes.append(common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(
                string_value=str(v))))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(json_format.MessageToDict(req), f)
    return str(path)


class SdkRecorder:
    """Real OpenTelemetry SDK spans with explicit timestamps (ms after T0), per service."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        self.exporter = InMemorySpanExporter()
        self._tracers: dict[str, Any] = {}

    def tracer(self, service: str):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        if service not in self._tracers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self._tracers[service] = provider.get_tracer("tests")
        return self._tracers[service]

    def span(self, service: str, name: str, start_ms: float, end_ms: float, parent=None, *,
             kind: str = "internal", attrs: dict | None = None, events=(), error: bool = False):
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer(service).start_span(
            name, context=ctx, kind=getattr(SpanKind, kind.upper()), attributes=attrs or {},
            start_time=T0 + int(start_ms * MS))
        for ev_name, t_ms, ev_attrs in events:
            span.add_event(ev_name, ev_attrs, timestamp=T0 + int(t_ms * MS))
        if error:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=T0 + int(end_ms * MS))
        return span

    def write(self, path) -> str:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        req = encode_spans(self.exporter.get_finished_spans())
        with open(path, "w", encoding="utf-8") as f:
            json.dump(request_to_json(req), f)
        return str(path)
