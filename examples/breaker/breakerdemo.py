"""A circuit breaker instrumented with the OpenTelemetry SDK, with a bug switch.

Every call through :class:`CircuitBreaker` is one CLIENT span ``GET /quote`` whose
attribute ``breaker.state`` is the state the breaker handled the call in; the service
is the provider's resource ``service.name``. The breaker follows the model of
breaker.spec: after ``threshold`` failures in a row it opens; once ``reset_timeout``
has passed it lets one probe through (half_open), which closes it again or reopens it.

The bug switch ``skip_half_open=True`` closes the breaker directly when the timeout has
passed (open -> closed), as a hand-written breaker that forgot its probe state does.

    python examples/breaker/breakerdemo.py OUT_DIR   # writes correct.jsonl and buggy.jsonl

The clock is injected (:class:`Clock`): the reset timeout passes when the driver says so,
not after a sleep. Span timestamps are the SDK's own.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Callable, Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from tracelogic.ingest.otlp import request_to_json


class BreakerOpen(Exception):
    pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CircuitBreaker:
    def __init__(self, tracer: Tracer, *, threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = Clock(), skip_half_open: bool = False) -> None:
        self.tracer = tracer
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.skip_half_open = skip_half_open
        self.state = "closed"
        self.fails = 0
        self.opened_at = 0.0

    def call(self, fn: Callable[[], str]) -> str:
        if self.state == "open" and self.clock() - self.opened_at >= self.reset_timeout:
            # the bug: no probe, straight back to closed
            self.state = "closed" if self.skip_half_open else "half_open"
        with self.tracer.start_as_current_span(
                "GET /quote", kind=SpanKind.CLIENT, record_exception=False,
                set_status_on_exception=False,
                attributes={"breaker.state": self.state, "peer.service": "pricing"}) as span:
            if self.state == "open":
                span.set_status(Status(StatusCode.ERROR, "breaker open"))
                raise BreakerOpen("pricing")
            try:
                result = fn()
            except Exception as e:
                span.set_status(Status(StatusCode.ERROR, str(e)))
                self._failed()
                raise
            self.state, self.fails = "closed", 0
            return result

    def _failed(self) -> None:
        if self.state == "half_open":
            self.state, self.opened_at = "open", self.clock()   # the probe failed
            return
        self.fails += 1
        if self.fails >= self.threshold:
            self.state, self.fails, self.opened_at = "open", 0, self.clock()


class Pricing:
    """The dependency: down for the first ``outage`` calls, then healthy."""

    def __init__(self, outage: int) -> None:
        self.outage = outage
        self.calls = 0

    def quote(self) -> str:
        self.calls += 1
        if self.calls <= self.outage:
            raise ConnectionError("pricing unavailable")
        return "42.00"


def drive(breaker: CircuitBreaker, clock: Clock) -> list[str]:
    """Five failures (the breaker opens), two calls refused while open, the reset timeout
    passes, then three calls: the probe and two more, all answered."""
    pricing = Pricing(outage=5)
    outcomes = []
    for i in range(10):
        if i == 7:
            clock.advance(breaker.reset_timeout)
        try:
            outcomes.append(breaker.call(pricing.quote))
        except BreakerOpen:
            outcomes.append("refused")
        except ConnectionError:
            outcomes.append("failed")
    return outcomes


def generate(path: str, services: Sequence[str], *, skip_half_open: bool = False
             ) -> list[ReadableSpan]:
    """One breaker per service, each driven through :func:`drive`; spans to ``path``."""
    spans: list[ReadableSpan] = []
    for service in services:
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        clock = Clock()
        try:
            drive(CircuitBreaker(provider.get_tracer("breakerdemo"), clock=clock,
                                 skip_half_open=skip_half_open), clock)
        finally:
            provider.shutdown()
        spans += exporter.get_finished_spans()
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(request_to_json(encode_spans(spans))) + "\n")
    return spans


def generate_all(out_dir: str) -> dict[str, str]:
    """``correct.jsonl``: services checkout and search; ``buggy.jsonl``: search, buggy."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"correct": os.path.join(out_dir, "correct.jsonl"),
             "buggy": os.path.join(out_dir, "buggy.jsonl")}
    generate(paths["correct"], ["checkout", "search"])
    generate(paths["buggy"], ["search"], skip_half_open=True)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python breakerdemo.py OUT_DIR", file=sys.stderr)
        sys.exit(2)
    for name, path in generate_all(sys.argv[1]).items():
        print(f"{name}: {path}")
