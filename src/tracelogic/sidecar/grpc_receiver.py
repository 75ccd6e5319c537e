"""The OTLP/gRPC receiver: TraceService/Export, MetricsService/Export and
LogsService/Export (docs/logs.md).

Requests arrive as raw bytes (grpc's own deserializer is not used), so a malformed
message is answered by our decoder's message with ``INVALID_ARGUMENT``. Other
answers, as the OTLP specification prescribes:

- ``OK`` with ``partial_success`` when some spans were rejected;
- ``RESOURCE_EXHAUSTED`` with a ``google.rpc.RetryInfo`` (in ``grpc-status-details-bin``,
  and in ``google.rpc.retryinfo-bin``, which the Python exporter reads) when the
  ingest queue is full: retryable;
- ``UNAVAILABLE`` while shutting down; ``UNAUTHENTICATED`` without the bearer token;
- ``INVALID_ARGUMENT`` for a request over ``--max-request-bytes`` (not retryable).
  grpc itself refuses messages over twice that limit before we see them.

gzip request compression is handled by grpc.
"""
from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tracelogic.sidecar.auth import bearer_matches
from tracelogic.sidecar.http_receiver import parse_hostport
from tracelogic.sidecar.response import export_response

__all__ = ["GrpcReceiver", "TRACE_METHOD", "METRICS_METHOD"]

log = logging.getLogger("tracelogic.serve.grpc")

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
TRACE_METHOD = f"/{TRACE_SERVICE}/Export"
METRICS_METHOD = f"/{METRICS_SERVICE}/Export"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
LOGS_METHOD = f"/{LOGS_SERVICE}/Export"


def _retry_trailers(code: int, message: str, delay_s: int) -> list[tuple[str, bytes]]:
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=delay_s))
    detail = any_pb2.Any()
    detail.Pack(info)
    st = status_pb2.Status(code=code, message=message, details=[detail])
    return [("grpc-status-details-bin", st.SerializeToString()),
            ("google.rpc.retryinfo-bin", info.SerializeToString())]


class GrpcReceiver:
    transport = "grpc"

    def __init__(self, sidecar: Any, listen: str):
        cfg = sidecar.config
        self.sidecar = sidecar
        host, port = parse_hostport(listen, 4317)
        limit = cfg.max_request_bytes
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=cfg.grpc_workers,
                                       thread_name_prefix="tracelogic-grpc"),
            options=[("grpc.max_receive_message_length", 2 * limit + 1024),
                     ("grpc.max_send_message_length", 1 << 20),
                     ("grpc.so_reuseport", 0)],
            maximum_concurrent_rpcs=max(cfg.max_connections, cfg.grpc_workers))
        handlers = {
            "Export": grpc.unary_unary_rpc_method_handler(
                self._export_traces, request_deserializer=None,
                response_serializer=lambda m: m.SerializeToString())}
        mhandlers = {
            "Export": grpc.unary_unary_rpc_method_handler(
                self._export_metrics, request_deserializer=None,
                response_serializer=lambda m: m.SerializeToString())}
        lhandlers = {
            "Export": grpc.unary_unary_rpc_method_handler(
                self._export_logs, request_deserializer=None,
                response_serializer=lambda m: m.SerializeToString())}
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(TRACE_SERVICE, handlers),
            grpc.method_handlers_generic_handler(METRICS_SERVICE, mhandlers),
            grpc.method_handlers_generic_handler(LOGS_SERVICE, lhandlers)))
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if cfg.tls_cert:
            with open(cfg.tls_key, "rb") as f:
                key = f.read()
            with open(cfg.tls_cert, "rb") as f:
                cert = f.read()
            bound = self.server.add_secure_port(target, grpc.ssl_server_credentials([(key, cert)]))
        else:
            bound = self.server.add_insecure_port(target)
        if not bound:
            raise OSError(f"cannot listen for OTLP/gRPC on {listen}")
        self.port = bound
        self.address = f"{host}:{bound}"
        self._stopped: Any = None

    def start(self) -> None:
        self.server.start()

    def stop_accepting(self) -> None:
        # new RPCs are refused at once; in-flight ones get until stop() to finish
        self._stopped = self.server.stop(grace=30)

    def stop(self, grace_s: float) -> None:
        if self._stopped is not None:
            self._stopped.wait(grace_s)

    # ---------------------------------------------------------------- handlers
    def _export_traces(self, request: bytes, context: grpc.ServicerContext):
        return self._export("traces", request, context)

    def _export_metrics(self, request: bytes, context: grpc.ServicerContext):
        return self._export("metrics", request, context)

    def _export_logs(self, request: bytes, context: grpc.ServicerContext):
        return self._export("logs", request, context)

    def _export(self, signal: str, data: bytes, context: grpc.ServicerContext):
        sc = self.sidecar
        cfg = sc.config
        if cfg.token:
            got = [v for k, v in context.invocation_metadata() if k == "authorization"]
            if len(got) != 1 or not bearer_matches(got[0], cfg.token):
                sc.refused(signal, "grpc", "unauthenticated")
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        if len(data) > cfg.max_request_bytes:
            sc.refused(signal, "grpc", "oversize")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"request of {len(data)} bytes exceeds the limit of "
                          f"{cfg.max_request_bytes} bytes (--max-request-bytes); send smaller "
                          "batches")
        out = sc.handle(signal, "protobuf", data, "grpc")
        if out.status == "ok":
            return export_response(signal, out.rejected, out.message)
        if out.status == "invalid":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, out.message)
        code = (grpc.StatusCode.RESOURCE_EXHAUSTED if out.status == "busy"
                else grpc.StatusCode.UNAVAILABLE)
        context.set_trailing_metadata(_retry_trailers(code.value[0], out.message,
                                                      out.retry_after_s))
        context.abort(code, out.message)
