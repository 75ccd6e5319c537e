"""OTLP/JSON enum names, known to the decoders without importing protobuf.

otlp.py and metrics.py derive the names (``SPAN_KIND_SERVER``) from the span model's
own names, so that OTLP/JSON input never imports the generated protobuf classes
(tests/test_startup.py). Here the generated classes are the oracle: the derived maps
must be exactly protobuf's, and decoding a name gives the value decoding its number does.
"""
from __future__ import annotations

import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tracelogic.ingest import metrics, otlp
from tracelogic.ingest.spans import KIND_NAMES, STATUS_NAMES


def test_the_derived_maps_are_protobufs():
    assert otlp._KIND_ENUM == dict(trace_pb2.Span.SpanKind.items())
    assert otlp._STATUS_ENUM == dict(trace_pb2.Status.StatusCode.items())
    assert metrics._TEMPORALITY_ENUM == dict(metrics_pb2.AggregationTemporality.items())


def _span(kind, code) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "n", "kind": kind, "startTimeUnixNano": "1", "endTimeUnixNano": "2",
        "status": {"code": code}}]}]}]}


@pytest.mark.parametrize("kind", sorted(trace_pb2.Span.SpanKind.keys()))
@pytest.mark.parametrize("code", sorted(trace_pb2.Status.StatusCode.keys()))
def test_a_name_decodes_as_its_number(kind, code):
    by_name = otlp.decode_traces_json(_span(kind, code))
    by_number = otlp.decode_traces_json(_span(trace_pb2.Span.SpanKind.Value(kind),
                                              trace_pb2.Status.StatusCode.Value(code)))
    assert [(s.kind, s.status) for s in by_name] == [(s.kind, s.status) for s in by_number]
    assert by_name[0].kind == KIND_NAMES[trace_pb2.Span.SpanKind.Value(kind)]
    assert by_name[0].status == STATUS_NAMES[trace_pb2.Status.StatusCode.Value(code)]
