"""OpenTelemetry plumbing: one SDK provider per service, OTLP/HTTP export to a file sink.

:class:`Sink` is a tiny OTLP/HTTP receiver (``POST /v1/traces``, ``POST /v1/metrics``,
protobuf bodies): it appends each request to a JSON Lines file in the OTLP/JSON
mapping, one request per line. The services export to it with the real
``OTLPSpanExporter`` / ``OTLPMetricExporter``. ``Sink(..., also=[URL])`` gives every
service a second exporter per URL (for example ``tracelogic serve``'s OTLP/HTTP
receiver), so one run is both written to the file and monitored live.
"""
from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Sequence

from google.protobuf import json_format
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import \
    ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracelogic.ingest.otlp import request_to_json


class Sink:
    """An OTLP/HTTP receiver writing ``traces.jsonl`` and ``metrics.jsonl``."""

    def __init__(self, traces_path: str, metrics_path: str | None = None, *,
                 also: Sequence[str] = ()) -> None:
        for url in also:
            if not url.startswith(("http://", "https://")) or url.rstrip("/") != url:
                raise ValueError(f"an OTLP/HTTP endpoint is http(s)://HOST:PORT without a "
                                 f"trailing slash or path, got {url!r}")
        self.traces_path = traces_path
        self.metrics_path = metrics_path
        self._lock = threading.Lock()
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                enc = self.headers.get("Content-Encoding", "")
                if enc == "gzip":
                    body = gzip.decompress(body)
                elif enc == "deflate":
                    body = zlib.decompress(body)
                sink._write(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        # every service exports to each of these: the file sink first, then `also`
        self.endpoints = [self.endpoint, *also]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _write(self, path: str, body: bytes) -> None:
        if path == "/v1/traces":
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            line, target = json.dumps(request_to_json(req)), self.traces_path
        elif path == "/v1/metrics" and self.metrics_path:
            req = ExportMetricsServiceRequest()
            req.ParseFromString(body)
            doc = json_format.MessageToDict(req)
            line, target = json.dumps(doc), self.metrics_path
        else:
            return
        with self._lock:
            with open(target, "a", encoding="utf-8") as f:
                f.write(line + "\n")
            self.requests += 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Telemetry:
    """The OpenTelemetry SDK objects of one service."""

    def __init__(self, service: str, sink: Sink) -> None:
        self.service = service
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        for endpoint in sink.endpoints:
            self.provider.add_span_processor(BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
                schedule_delay_millis=200))
        self.tracer = self.provider.get_tracer("shopdemo")
        self.meter_provider: MeterProvider | None = None

    def gauge(self, sink: Sink, name: str, unit: str, read: Callable[[], float],
              interval_ms: int = 100) -> None:
        """Export ``read()`` as an observable gauge every ``interval_ms`` (to each endpoint)."""
        readers = [PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
            export_interval_millis=interval_ms) for endpoint in sink.endpoints]
        self.meter_provider = MeterProvider(
            metric_readers=readers,
            resource=Resource.create({"service.name": self.service}))

        def callback(_options: CallbackOptions):
            return [Observation(read())]
        self.meter_provider.get_meter("shopdemo").create_observable_gauge(
            name, callbacks=[callback], unit=unit)

    def shutdown(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.force_flush()
            self.meter_provider.shutdown()


def inject() -> dict[str, str]:
    """W3C trace-context headers for the current span."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def extract(headers: Any) -> Any:
    return propagate.extract({k.lower(): v for k, v in headers.items()})


def fail(span: trace.Span, message: str, error_type: str | None = None) -> None:
    span.set_status(Status(StatusCode.ERROR, message))
    if error_type:
        span.set_attribute("error.type", error_type)


__all__ = ["Sink", "Telemetry", "SpanKind", "inject", "extract", "fail"]
