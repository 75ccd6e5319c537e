"""Test helpers: traces made by the real OpenTelemetry SDK, and id conversions.

Imported by the ingest tests as `from .otlp_testdata import ...`.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

DATA = Path(__file__).parent / "data"


def record(build: Callable[[Tracer], None], *, service: str = "checkout",
           resource: dict[str, Any] | None = None, scope: str = "shop") -> list[ReadableSpan]:
    """Run ``build(tracer)`` under a fresh TracerProvider; return the finished SDK spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                        **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer(scope, "1.0"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def checkout_trace(tracer: Tracer) -> None:
    """A small but varied trace: every span kind, every attribute type, events, links,
    an error status."""
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.request.method", "POST")
        root.set_attribute("http.response.status_code", 500)
        root.set_attribute("retry", False)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("tags", ["a", "b"])
        root.set_attribute("ids", [1, 2, 3])
        root.set_attribute("order.id", "o-17")
        with tracer.start_as_current_span("authorize", kind=SpanKind.CLIENT) as auth:
            auth.set_attribute("peer.service", "payments")
        with tracer.start_as_current_span("publish order", kind=SpanKind.PRODUCER) as pub:
            pub_ctx = pub.get_span_context()
        with tracer.start_as_current_span("consume order", kind=SpanKind.CONSUMER,
                                          links=[Link(pub_ctx)]):
            pass
        with tracer.start_as_current_span("charge") as charge:
            charge.add_event("exception", {"exception.type": "CardDeclined"})
            charge.add_event("retry")
            charge.set_status(Status(StatusCode.ERROR, "card declined"))
        root.set_status(Status(StatusCode.OK))


def two_traces(tracer: Tracer) -> None:
    for i in range(2):
        with tracer.start_as_current_span(f"GET /items/{i}", kind=SpanKind.SERVER):
            with tracer.start_as_current_span("db.query") as q:
                q.set_attribute("db.system", "postgresql")


_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def b64_ids_to_hex(obj: Any) -> Any:
    """Rewrite protobuf-JSON (base64) ids to OTLP/JSON (hex), recursively: the
    independent fix-up applied to ``json_format.MessageToDict`` output."""
    if isinstance(obj, list):
        return [b64_ids_to_hex(x) for x in obj]
    if isinstance(obj, dict):
        return {k: (base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str)
                    else b64_ids_to_hex(v)) for k, v in obj.items()}
    return obj


def hex_ids_to_b64(obj: Any) -> Any:
    """The inverse: OTLP/JSON ids to what ``json_format.ParseDict`` expects."""
    if isinstance(obj, list):
        return [hex_ids_to_b64(x) for x in obj]
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in _ID_KEYS
                    and isinstance(v, str) else hex_ids_to_b64(v)) for k, v in obj.items()}
    return obj


def by_id(spans: Any) -> list[Any]:
    return sorted(spans, key=lambda s: (s.trace_id, s.span_id))
