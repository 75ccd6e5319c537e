"""Requests that break the text rule (docs/otlp-input.md), for the decoder, receiver and
CLI tests: a lone surrogate in OTLP/JSON, invalid UTF-8 in protobuf. No tests here.

Every request holds two traces: trace ``aa…`` has a root ``POST /checkout`` and one child
that carries the bad string; trace ``bb…`` is clean and violates ``no_error`` (its span
failed), so a test can see that the good part of the request is still monitored and its
violation stored.
"""
from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracelogic.ingest.otlp import request_to_json

BAD_TRACE = "aa" * 16
GOOD_TRACE = "bb" * 16
LONE = "\ud800"  # what json.loads makes of the escape "\ud800"
PLACES = ("attribute", "name", "event")


def _span(tid: str, sid: str, name: str, parent: str = "", **extra: Any) -> dict[str, Any]:
    sp = {"traceId": tid, "spanId": sid, "name": name, "kind": 2 if not parent else 1,
          "startTimeUnixNano": "1700000000000000000",
          "endTimeUnixNano": "1700000000100000000", **extra}
    if parent:
        sp["parentSpanId"] = parent
    return sp


def request_doc(place: str | None, bad: str = LONE) -> dict[str, Any]:
    """An OTLP/JSON request; ``place`` is where the bad string goes (None: nowhere)."""
    child: dict[str, Any] = _span(BAD_TRACE, "a2" * 8, "charge", parent="a1" * 8)
    if place == "attribute":
        child["attributes"] = [{"key": "order.id", "value": {"stringValue": f"o-{bad}-1"}}]
    elif place == "name":
        child["name"] = f"charge{bad}"
    elif place == "event":
        child["events"] = [{"timeUnixNano": "1700000000050000000", "name": f"retry{bad}"}]
    elif place is not None:
        raise ValueError(f"place={place!r}; use one of {PLACES}")
    spans = [_span(BAD_TRACE, "a1" * 8, "POST /checkout"), child,
             _span(GOOD_TRACE, "b1" * 8, "authorize", status={"code": 2})]
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}


def request_json(place: str | None) -> bytes:
    """The request as bytes on the wire: json.dumps writes the lone surrogate as the
    escape ``\\ud800``, which is valid JSON (about 600 bytes)."""
    body = json.dumps(request_doc(place)).encode("ascii")
    if place is not None:
        assert b"\\ud800" in body
    return body


def clean_request_pb() -> ExportTraceServiceRequest:
    """The same request as protobuf, with every string valid (the bad one is ``X``)."""
    from google.protobuf import json_format

    doc = request_doc("name", bad="X")
    # OTLP/JSON ids are hex, protobuf's JSON mapping wants base64: convert them
    import base64
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        sp[k] = base64.b64encode(bytes.fromhex(sp[k])).decode()
    req = json_format.ParseDict(doc, ExportTraceServiceRequest())
    assert request_to_json(req)["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["name"] == \
        "chargeX"
    return req


def request_pb_bad_utf8() -> tuple[bytes, int]:
    """The protobuf request with the child span's name holding the byte 0xFF (invalid
    UTF-8, which upb refuses for the whole message); and that byte's offset."""
    data = bytearray(clean_request_pb().SerializeToString())
    at = bytes(data).index(b"chargeX") + len("charge")
    data[at] = 0xFF
    return bytes(data), at
