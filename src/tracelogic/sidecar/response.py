"""The OTLP export response both receivers answer an accepted request with (HTTP body,
gRPC return value).

One function so that the two receivers cannot drift apart on how they report a
partial success: the count goes into ``rejected_spans`` or ``rejected_data_points``,
the decoder's messages into ``error_message``, and a request with nothing rejected
gets an empty response, as OTLP asks.
"""
from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

__all__ = ["export_response"]


def export_response(signal: str, rejected: int, message: str
                    ) -> ExportTraceServiceResponse | ExportMetricsServiceResponse:
    """The response to an accepted ``signal`` ("traces" | "metrics") export request
    of which ``rejected`` spans (data points) were rejected, ``message`` saying why."""
    if signal == "logs":  # issue 19: rejected log records
        resp = ExportLogsServiceResponse()
        if rejected:
            resp.partial_success.rejected_log_records = rejected
            resp.partial_success.error_message = message
        return resp
    resp = (ExportTraceServiceResponse() if signal == "traces"
            else ExportMetricsServiceResponse())
    if rejected:
        ps = resp.partial_success
        if signal == "traces":
            ps.rejected_spans = rejected
        else:
            ps.rejected_data_points = rejected
        ps.error_message = message
    return resp
