"""Generated traces for the standard-library tests: tracelogic Spans with short ids."""
from __future__ import annotations

import itertools
from typing import Any

import tracelogic
from tracelogic.ingest.spans import Span
from tracelogic.spec.loader import std_path

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


class Gen:
    """``span(name, start_ms, end_ms, **attrs)``: ids are 1, 2, 3, ... in creation order."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._n = itertools.count(1)

    def span(self, name: str, start_ms: float, end_ms: float, *, trace: int = 1,
             parent: Span | None = None, service: str = "svc", status: str = "unset",
             kind: str = "internal", **attrs: Any) -> Span:
        n = next(self._n)
        s = Span(name=name, trace_id=parent.trace_id if parent else f"{trace:032x}",
                 span_id=f"{n:016x}", parent_id=parent.span_id if parent else "",
                 start_ns=T0 + int(start_ms * MS), end_ns=T0 + int(end_ms * MS),
                 service=service, status=status, kind=kind,
                 attrs={k.replace("__", "."): v for k, v in attrs.items()})
        self.spans.append(s)
        return s


def sid(n: int) -> str:
    return f"{n:016x}"


_SPECS: dict[str, Any] = {}


def run_std(name: str, spans) -> Any:
    """Monitor ``spans`` with the properties of ``std.NAME``; returns the report."""
    if name not in _SPECS:
        _SPECS[name] = tracelogic.load(std_path(name))
    mon = _SPECS[name].monitor()
    mon.feed(spans)
    return mon.close()


def found(report) -> list[tuple[str, str, str, list[str]]]:
    """(property, key, message, witness span ids) of every violation, sorted."""
    return sorted((v.prop.name, v.key, v.message, list(v.span_ids)) for v in report.violations)


def verdicts(report) -> dict[str, dict[str, str]]:
    return {p.name: {k: str(v.value if hasattr(v, "value") else v) for k, v in p.results}
            for p in report.properties}


class Sdk:
    """Real OpenTelemetry SDK spans with explicit times (ms after T0) in one trace per root."""

    def __init__(self, service: str = "shop") -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import \
            InMemorySpanExporter
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("std-tests")

    def span(self, name: str, start_ms: float, end_ms: float, parent=None, *,
             error: bool = False, **attrs: Any):
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        s = self.tracer.start_span(name, context=ctx, start_time=T0 + int(start_ms * MS),
                                   attributes={k.replace("__", "."): v
                                               for k, v in attrs.items()})
        if error:
            s.set_status(Status(StatusCode.ERROR, "failed"))
        s.end(end_time=T0 + int(end_ms * MS))
        return s

    @property
    def spans(self):
        return list(self.exporter.get_finished_spans())


def hex_id(sdk_span) -> str:
    return format(sdk_span.context.span_id, "016x")


def hex_trace(sdk_span) -> str:
    return format(sdk_span.context.trace_id, "032x")
