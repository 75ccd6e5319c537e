"""``--forward URL``: pass everything accepted on to an upstream OTLP endpoint.

``http://host:4318`` or ``https://…`` forwards with OTLP/HTTP to ``/v1/traces`` and
``/v1/metrics`` under the URL's path; ``grpc://host:4317`` (or ``grpcs://``) with
OTLP/gRPC. A request is forwarded after it was acknowledged, byte for byte as it
arrived (decompressed). Forwarding is asynchronous through a bounded queue with a
few retries: when the upstream is down, requests are dropped **and counted**
(``tracelogic_forwarded_total{outcome="dropped"|"failed"}``) and logged; tracelogic's
own monitoring is never held up by the upstream.
"""
from __future__ import annotations

import http.client
import logging
import queue
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Forwarder"]

log = logging.getLogger("tracelogic.serve.forward")

_CTYPE = {"protobuf": "application/x-protobuf", "json": "application/json"}


class Forwarder:
    def __init__(self, url: str, metrics: Any, *, capacity: int = 1000, retries: int = 3):
        u = urlsplit(url)
        if u.scheme not in ("http", "https", "grpc", "grpcs") or not u.hostname:
            raise ValueError(f"--forward {url!r}: use http://HOST:PORT, https://HOST:PORT or "
                             "grpc://HOST:PORT")
        self.url = url
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (4317 if u.scheme.startswith("grpc") else
                               443 if u.scheme == "https" else 4318)
        self.base = u.path.rstrip("/")
        self.metrics = metrics
        self.retries = retries
        self._q: queue.Queue = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="tracelogic-forward", daemon=True)
        self._conn: Any = None
        self._channel: Any = None

    def start(self) -> None:
        self._thread.start()

    def offer(self, signal: str, fmt: str, payload: bytes) -> None:
        try:
            self._q.put_nowait((signal, fmt, payload))
        except queue.Full:
            self.metrics.inc("tracelogic_forwarded_total", 1, "dropped")
            log.warning("forward queue full; request dropped", extra={"fields": {
                "upstream": self.url}})

    def stop(self, grace_s: float) -> None:
        self._q.put(None)
        self._thread.join(grace_s)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            for attempt in range(self.retries):
                try:
                    self._send(*item)
                    self.metrics.inc("tracelogic_forwarded_total", 1, "ok")
                    break
                except Exception as e:  # any upstream failure: retry, then count and log
                    self._conn = None
                    if attempt + 1 == self.retries:
                        self.metrics.inc("tracelogic_forwarded_total", 1, "failed")
                        log.warning("forward failed", extra={"fields": {
                            "upstream": self.url, "error": str(e)}})
                    else:
                        time.sleep(0.2 * 2 ** attempt)

    def _send(self, signal: str, fmt: str, payload: bytes) -> None:
        if self.scheme.startswith("grpc"):
            self._send_grpc(signal, payload if fmt == "protobuf" else _json_to_pb(signal,
                                                                                  payload))
            return
        if self._conn is None:
            if self.scheme == "https":
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=10, context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        self._conn.request("POST", f"{self.base}/v1/{signal}", body=payload,
                           headers={"Content-Type": _CTYPE[fmt]})
        resp = self._conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise OSError(f"upstream answered HTTP {resp.status}")

    def _send_grpc(self, signal: str, payload: bytes) -> None:
        import grpc

        if self._channel is None:
            target = f"{self.host}:{self.port}"
            self._channel = (grpc.secure_channel(target, grpc.ssl_channel_credentials())
                             if self.scheme == "grpcs" else grpc.insecure_channel(target))
        service = {"traces": "opentelemetry.proto.collector.trace.v1.TraceService",
                   "logs": "opentelemetry.proto.collector.logs.v1.LogsService"}.get(
            signal, "opentelemetry.proto.collector.metrics.v1.MetricsService")
        call = self._channel.unary_unary(f"/{service}/Export", request_serializer=None,
                                         response_deserializer=None)
        call(payload, timeout=10)


def _json_to_pb(signal: str, payload: bytes) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    if signal == "logs":  # hex ids in OTLP/JSON: re-encode through ours, as for traces
        import json

        from tracelogic.ingest.logs import decode_logs_json, logs_to_request
        return logs_to_request(decode_logs_json(json.loads(payload))).SerializeToString()
    msg = ExportTraceServiceRequest() if signal == "traces" else ExportMetricsServiceRequest()
    # OTLP/JSON ids are hex, protobuf's JSON mapping expects base64: re-encode through ours
    if signal == "traces":
        import json

        from tracelogic.ingest.otlp import decode_traces_json, spans_to_request
        return spans_to_request(decode_traces_json(json.loads(payload))).SerializeToString()
    json_format.Parse(payload, msg, ignore_unknown_fields=True)
    return msg.SerializeToString()
