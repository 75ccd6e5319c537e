"""The OTLP/HTTP receiver, and the operational endpoints on the same port.

``POST /v1/traces`` and ``POST /v1/metrics`` take ``application/x-protobuf`` or
``application/json`` bodies, optionally ``Content-Encoding: gzip``, and answer as
the OTLP specification prescribes:

- 200 with an ``Export*ServiceResponse`` in the request's encoding, carrying
  ``partial_success`` when some spans were rejected;
- 400 for a malformed body, with a ``google.rpc.Status`` saying what is wrong
  (protobuf or JSON, like the request); 413 over ``--max-request-bytes`` (also
  after decompression); 415 for another media type or encoding; 401 without the
  bearer token when one is configured;
- 429 (ingest queue full) and 503 (shutting down) with ``Retry-After``: retryable.

``GET /metrics`` (Prometheus), ``/healthz`` (the process and its engine are alive)
and ``/readyz`` (accepting data). Built on the standard library's threading HTTP
server with HTTP/1.1 keep-alive; TLS handshakes happen in the connection's thread.
"""
from __future__ import annotations

import hmac
import http.server
import logging
import socket
import ssl
import threading
import zlib
from typing import Any

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

__all__ = ["HttpReceiver", "parse_hostport"]

log = logging.getLogger("tracelogic.serve.http")

_PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics"}
_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf",
          "application/json": "json"}
_CODES = {"invalid": 3, "busy": 8, "unavailable": 14, "unauthenticated": 16}


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``[v6]:PORT`` or ``HOST`` (default port)."""
    v = value.strip()
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port = rest.lstrip(":") or str(default_port)
    elif v.count(":") == 1:
        host, port = v.split(":")
    else:
        host, port = v, str(default_port)
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: the port must be a number 0-65535, e.g. 127.0.0.1:4318")
    return host or "127.0.0.1", int(port)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, addr, handler, sidecar, ssl_ctx: ssl.SSLContext | None, max_conns: int):
        host = addr[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sidecar = sidecar
        self.ssl_ctx = ssl_ctx
        self.slots = threading.BoundedSemaphore(max_conns)
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.sidecar.refused("connections", "http", "too_many_connections")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            if self.ssl_ctx is not None:
                request.settimeout(10)
                try:
                    request = self.ssl_ctx.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    self.shutdown_request(request)
                    return
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tracelogic"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- stdlib's name
        log.debug(format % args)

    # ---------------------------------------------------------------- helpers
    def _send(self, code: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int, grpc_code: int, message: str, fmt: str = "protobuf",
                headers: dict | None = None) -> None:
        st = status_pb2.Status(code=grpc_code, message=message)
        if fmt == "json":
            self._send(code, json_format.MessageToJson(st, indent=None).encode(),
                       "application/json", headers)
        else:
            self._send(code, st.SerializeToString(), "application/x-protobuf", headers)

    def _authorized(self) -> bool:
        token = self.server.sidecar.config.token
        if not token:
            return True
        got = self.headers.get("Authorization", "")
        return hmac.compare_digest(got.encode(), f"Bearer {token}".encode())

    # ---------------------------------------------------------------- GET
    def do_GET(self) -> None:  # noqa: N802 -- stdlib's name
        sc = self.server.sidecar
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            ok = sc.healthy
            self._send(200 if ok else 503, b"ok\n" if ok else b"engine stopped\n", "text/plain")
        elif path == "/readyz":
            ok = sc.ready.is_set() and sc.healthy
            self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
        elif path == "/metrics":
            if not self._authorized():
                self._send(401, b"unauthorized\n", "text/plain",
                           {"WWW-Authenticate": "Bearer"})
                return
            self._send(200, sc.metrics.render().encode(),
                       "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._send(404, b"not found: OTLP/HTTP is POST /v1/traces and /v1/metrics\n",
                       "text/plain")

    # ---------------------------------------------------------------- POST
    def do_POST(self) -> None:  # noqa: N802 -- stdlib's name
        sc = self.server.sidecar
        limit = sc.config.max_request_bytes
        path = self.path.split("?", 1)[0]
        signal = _PATHS.get(path)
        ctype = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        fmt = _TYPES.get(ctype, "protobuf")
        length = self.headers.get("Content-Length")
        if signal is None:
            self.close_connection = True
            self._status(404, 5, f"no OTLP endpoint at {path}; use /v1/traces or /v1/metrics",
                         fmt)
            return
        if not self._authorized():
            self.close_connection = True
            sc.refused(signal, "http", "unauthenticated")
            self._status(401, 16, "missing or wrong bearer token", fmt,
                         {"WWW-Authenticate": "Bearer"})
            return
        if ctype not in _TYPES:
            self.close_connection = True
            sc.refused(signal, "http", "unsupported_media_type")
            self._status(415, 3, f"unsupported Content-Type {ctype!r}; use "
                         "application/x-protobuf or application/json", fmt)
            return
        if length is None or not length.isdigit():
            self.close_connection = True
            sc.refused(signal, "http", "invalid")
            self._status(411, 3, "a Content-Length header is required", fmt)
            return
        n = int(length)
        if n > limit:
            self.close_connection = True  # the body is not read
            sc.refused(signal, "http", "oversize")
            self._status(413, 3, f"request body of {n} bytes exceeds the limit of {limit} "
                         "bytes (--max-request-bytes); send smaller batches", fmt)
            return
        body = self.rfile.read(n)
        if len(body) < n:
            self.close_connection = True
            return  # the client went away
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                body = _gunzip(body, limit)
            except _TooLarge:
                sc.refused(signal, "http", "oversize")
                self._status(413, 3, f"request body exceeds the limit of {limit} bytes once "
                             "decompressed (--max-request-bytes)", fmt)
                return
            except (zlib.error, EOFError) as e:
                sc.refused(signal, "http", "invalid")
                self._status(400, 3, f"corrupt gzip body: {e}", fmt)
                return
        elif encoding not in ("identity", ""):
            sc.refused(signal, "http", "unsupported_media_type")
            self._status(415, 3, f"unsupported Content-Encoding {encoding!r}; use gzip or none",
                         fmt)
            return
        out = sc.handle(signal, fmt, body, "http")
        if out.status == "ok":
            resp = (ExportTraceServiceResponse() if signal == "traces"
                    else ExportMetricsServiceResponse())
            if out.rejected:
                ps = resp.partial_success
                if signal == "traces":
                    ps.rejected_spans = out.rejected
                else:
                    ps.rejected_data_points = out.rejected
                ps.error_message = out.message
            if fmt == "json":
                self._send(200, json_format.MessageToJson(resp, indent=None).encode(),
                           "application/json")
            else:
                self._send(200, resp.SerializeToString(), "application/x-protobuf")
        elif out.status == "invalid":
            self._status(400, 3, out.message, fmt)
        elif out.status == "busy":
            self._status(429, 8, out.message, fmt, {"Retry-After": str(out.retry_after_s)})
        else:
            self._status(503, 14, out.message, fmt, {"Retry-After": str(out.retry_after_s)})


class _TooLarge(Exception):
    pass


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes (a gzip bomb stops at the limit)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise _TooLarge()
    if not d.eof:
        raise EOFError("truncated gzip stream")
    return out


class HttpReceiver:
    transport = "http"

    def __init__(self, sidecar: Any, listen: str):
        cfg = sidecar.config
        host, port = parse_hostport(listen, 4318)
        ctx = None
        if cfg.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        self.server = _Server((host, port), _Handler, sidecar, ctx, cfg.max_connections)
        self.address = f"{host}:{self.server.server_address[1]}"
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={
            "poll_interval": 0.2}, name="tracelogic-http", daemon=True)
        self._thread.start()

    def stop_accepting(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def stop(self, grace_s: float) -> None:
        pass  # connection threads are daemons; each in-flight request was answered
