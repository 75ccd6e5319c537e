"""A tiny checkout service, instrumented with the OpenTelemetry API.

It only uses `opentelemetry.trace`; whichever SDK provider the process has
(the tracelogic pytest plugin's, in the tests) records its spans. The WSGI
app runs under wsgiref in production-like tests; the functions can be called
directly too.
"""
from __future__ import annotations

import json
from typing import Callable, Iterable

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

tracer = trace.get_tracer("examples.shop")


class PaymentDeclined(Exception):
    pass


def authorize(order_id: str, amount: int) -> None:
    with tracer.start_as_current_span("authorize", kind=SpanKind.CLIENT,
                                      attributes={"order.id": order_id, "amount": amount}) as span:
        if amount > 1000:
            span.set_status(Status(StatusCode.ERROR, "declined"))
            raise PaymentDeclined(order_id)


def charge(order_id: str, amount: int) -> None:
    with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT,
                                      attributes={"order.id": order_id, "amount": amount}):
        pass


def checkout(order_id: str, amount: int, *, skip_authorize: bool = False) -> str:
    """Authorize, then charge. `skip_authorize` is the bug the failing example exposes."""
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER,
                                      attributes={"order.id": order_id}) as span:
        try:
            if not skip_authorize:
                authorize(order_id, amount)
            charge(order_id, amount)
        except PaymentDeclined:
            span.set_status(Status(StatusCode.ERROR, "payment declined"))
            return "declined"
        return "ok"


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """WSGI: POST /checkout with {"order": "...", "amount": N}."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/checkout":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    result = checkout(str(body.get("order", "")), int(body.get("amount", 0)))
    status = "200 OK" if result == "ok" else "402 Payment Required"
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps({"result": result}).encode()]
