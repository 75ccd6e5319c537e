"""An order service that runs the §6 saga, instrumented with the OpenTelemetry SDK.

``POST /orders`` (a SERVER span) runs ``validate``, then ``reserve`` and ``charge`` in
parallel (two threads, real overlapping spans; the charge completes last), then ships
(``POST /shipments``, a CLIENT span). When shipping fails, the completed steps are
compensated: ``refund`` undoes ``charge`` and ``release_stock`` undoes ``reserve``.

The bug switch ``reverse_compensation=False`` undoes them in completion order
(``for step in completed`` instead of ``reversed(completed)``): the stock is released
while the payment still stands.

    python examples/saga/sagademo.py OUT_DIR     # writes correct.jsonl and buggy.jsonl

:func:`generate` runs orders on a fresh ``TracerProvider`` and writes the finished spans
as one OTLP/JSON line (the SDK's own OTLP encoder, as the Collector's file exporter
would store them).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Sequence

from opentelemetry import context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from tracelogic.ingest.otlp import request_to_json


class ShippingFailed(Exception):
    pass


class OrderService:
    def __init__(self, tracer: Tracer, *, reverse_compensation: bool = True) -> None:
        self.tracer = tracer
        self.reverse_compensation = reverse_compensation

    def _step(self, name: str, parent: context.Context | None = None, **attrs: str) -> None:
        with self.tracer.start_as_current_span(name, context=parent, attributes=attrs):
            time.sleep(0.002)  # the work

    def place(self, order_id: str, *, shipping_fails: bool = False) -> str:
        """One order: ``"shipped"``, or ``"compensated"`` when shipping failed."""
        with self.tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER,
                                               attributes={"order.id": order_id}) as root:
            completed: list[tuple[str, str]] = []   # (step, its compensation), as they end
            self._step("validate", **{"order.id": order_id})
            parent = context.get_current()
            charging, reserved = threading.Event(), threading.Event()

            def reserve() -> None:
                # The spans must overlap however the threads are scheduled: the stock is
                # reserved while the charge is open, and the charge ends after the stock.
                if not charging.wait(10):
                    raise TimeoutError("charge did not start within 10 s")
                self._step("reserve", parent, **{"order.id": order_id})
                completed.append(("reserve", "release_stock"))
                reserved.set()

            def charge() -> None:
                with self.tracer.start_as_current_span("charge", context=parent,
                                                       attributes={"order.id": order_id}):
                    charging.set()
                    if not reserved.wait(10):  # the payment provider answers after the stock
                        raise TimeoutError("reserve did not finish within 10 s")
                    time.sleep(0.002)
                completed.append(("charge", "refund"))

            threads = [threading.Thread(target=f, daemon=True) for f in (reserve, charge)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=15)
                if t.is_alive():
                    raise TimeoutError("a parallel step of the saga did not finish in 15 s")
            try:
                with self.tracer.start_as_current_span(
                        "POST /shipments", kind=SpanKind.CLIENT,
                        attributes={"order.id": order_id, "peer.service": "shipping"},
                        record_exception=False, set_status_on_exception=False) as ship:
                    time.sleep(0.002)
                    if shipping_fails:
                        ship.set_status(Status(StatusCode.ERROR, "carrier rejected the parcel"))
                        raise ShippingFailed(order_id)
            except ShippingFailed:
                root.set_status(Status(StatusCode.ERROR, "shipping failed; order compensated"))
                undo = reversed(completed) if self.reverse_compensation else completed
                for _, compensation in list(undo):
                    self._step(compensation, **{"order.id": order_id})
                return "compensated"
            self._step("notify", **{"order.id": order_id})
            return "shipped"


def generate(path: str, orders: Sequence[tuple[str, bool]], *,
             reverse_compensation: bool = True) -> list[ReadableSpan]:
    """Run ``orders`` (``(order id, shipping fails?)``) and write their spans to ``path``."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "orders"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    service = OrderService(provider.get_tracer("sagademo"),
                           reverse_compensation=reverse_compensation)
    try:
        for order_id, shipping_fails in orders:
            service.place(order_id, shipping_fails=shipping_fails)
    finally:
        provider.shutdown()
    spans = list(exporter.get_finished_spans())
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(request_to_json(encode_spans(spans))) + "\n")
    return spans


def generate_all(out_dir: str) -> dict[str, str]:
    """``correct.jsonl``: one order shipped, one compensated in reverse completion order.
    ``buggy.jsonl``: one order compensated in completion order (the bug)."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"correct": os.path.join(out_dir, "correct.jsonl"),
             "buggy": os.path.join(out_dir, "buggy.jsonl")}
    generate(paths["correct"], [("o-1", False), ("o-2", True)])
    generate(paths["buggy"], [("o-3", True)], reverse_compensation=False)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python sagademo.py OUT_DIR", file=sys.stderr)
        sys.exit(2)
    for name, path in generate_all(sys.argv[1]).items():
        print(f"{name}: {path}")
