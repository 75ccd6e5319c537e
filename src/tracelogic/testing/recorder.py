"""Capture the spans a test produces, with the real OpenTelemetry SDK.

A :class:`SpanRecorder` is an SDK ``SpanProcessor``. It is added to the global
``TracerProvider`` (the application's own, when it has set one), never put in
its place, so whatever exporters the application configured keep working. One
recorder serves a whole test session; each test sees only the spans that ended
while it ran.
"""
from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider


class SpanRecorder(SpanProcessor):
    """Collects finished spans in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReadableSpan] = []
        self.provider: TracerProvider | None = None

    # -- SpanProcessor
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self._spans.append(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- for tests
    @property
    def spans(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def __len__(self) -> int:
        return len(self._spans)


def attach(recorder: SpanRecorder) -> TracerProvider:
    """Add ``recorder`` to the global SDK provider, creating and installing one if none is set.

    OpenTelemetry allows the global provider to be set once per process; when the
    application (or conftest) set an SDK provider first, the recorder joins it.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        candidate = TracerProvider()
        trace.set_tracer_provider(candidate)
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):  # someone else won the race
            raise RuntimeError("the global tracer provider is not an OpenTelemetry SDK "
                               f"TracerProvider ({type(provider).__name__}); tracelogic can "
                               "only record spans from the SDK")
    provider.add_span_processor(recorder)
    recorder.provider = provider
    return provider
