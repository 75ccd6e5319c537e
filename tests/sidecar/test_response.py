"""The export response both receivers send for an accepted request (sidecar/response.py)."""
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracelogic.sidecar.response import export_response


def test_nothing_rejected_is_an_empty_response():
    # OTLP: a server that accepted everything leaves partial_success unset
    for signal, cls in (("traces", ExportTraceServiceResponse),
                        ("metrics", ExportMetricsServiceResponse)):
        resp = export_response(signal, 0, "ignored")
        assert type(resp) is cls
        assert not resp.HasField("partial_success")
        assert resp.SerializeToString() == b""


def test_rejected_spans_are_reported_with_the_message():
    resp = export_response("traces", 3, "x: resourceSpans[0]: ...; span skipped")
    assert type(resp) is ExportTraceServiceResponse
    assert resp.partial_success.rejected_spans == 3
    assert resp.partial_success.error_message == "x: resourceSpans[0]: ...; span skipped"


def test_rejected_data_points_are_reported_with_the_message():
    resp = export_response("metrics", 2, "two bad points")
    assert type(resp) is ExportMetricsServiceResponse
    assert resp.partial_success.rejected_data_points == 2
    assert resp.partial_success.error_message == "two bad points"
