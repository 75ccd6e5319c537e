"""The OTLP/HTTP receiver, and the operational endpoints on the same port.

``POST /v1/traces`` and ``POST /v1/metrics`` take ``application/x-protobuf`` or
``application/json`` bodies, framed by ``Content-Length`` or ``Transfer-Encoding:
chunked`` (the OpenTelemetry JavaScript exporters send only the latter), optionally
``Content-Encoding: gzip``, and answer as the OTLP specification prescribes; every
status is one of :data:`STATUSES` (the table in docs/serve.md) and is counted in
``tracelogic_requests_total``. ``GET /metrics`` (Prometheus), ``/healthz`` and
``/readyz`` are the probes.

Why h11 under our own asyncio loop, not the standard library's threading server
(which this replaced) or an ASGI server:

- **Framing is h11's**, a small, well-kept, sans-I/O HTTP/1.1 parser: chunked bodies,
  pipelining, ``Expect: 100-continue``, and strict ``Content-Length`` checks (ASCII
  digits; differing values are an error, not a smuggling vector) come from code that
  is fuzzed and used by httpx, hypercorn and uvicorn, not from our own parsing.
- **An idle connection costs a coroutine, not a thread**, so idle sockets cannot use
  up the request slots; when the connection limit is reached, the longest-idle
  connection is closed to make room. Each connection has a keep-alive timeout and
  each request a total deadline for its head and body, so a client dripping bytes is
  answered 408 and closed.
- **Probes are answered on the loop itself**, without a request slot: ``/healthz``,
  ``/readyz`` and ``/metrics`` answer while every slot is busy.
- **Decoding runs on worker threads** (one per request slot), never on the loop, so
  one large or slow request does not stall the others. An OTLP protobuf trace request
  needs no decoding before it is queued (the engine thread decodes it), so the loop
  queues it itself and awaits the engine's answer without a thread: one hand-off less
  per request, and the engine wakes the loop once per step, not once per request.
  uvicorn or hypercorn would bring the same parser but also an ASGI layer, their own
  process and signal handling, and their own limits and logging, which the sidecar
  already owns.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import h11
from google.protobuf import json_format
from google.rpc import status_pb2

from tracelogic.ingest.compression import BodyTooLarge, gunzip
from tracelogic.sidecar.auth import bearer_matches
from tracelogic.sidecar.response import export_response
from tracelogic.sidecar.server import Outcome

__all__ = ["HttpReceiver", "parse_hostport", "gunzip", "BodyTooLarge", "STATUSES"]

log = logging.getLogger("tracelogic.serve.http")

#: every status the receiver answers with (docs/serve.md's table); 100 Continue aside
STATUSES = frozenset({200, 400, 401, 404, 405, 408, 411, 413, 415, 429, 431, 503})

_PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}
_PROBES = ("/healthz", "/readyz", "/metrics", "/status")
_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf",
          "application/json": "json"}
_MAX_HEAD = 64 * 1024          # request line and headers; beyond it 431
_READ = 64 * 1024
_PROBE_BODY = 64 * 1024        # a probe's (unexpected) body is drained up to this
_LINGER_S = 5.0                # after an early answer, read and drop the body this long


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


# ---------------------------------------------------------------------- bodies

# gzip bodies are decompressed by tracelogic.ingest.compression.gunzip, up to the limit


# ---------------------------------------------------------------------- replies

@dataclass
class _Reply:
    status: int
    body: bytes
    ctype: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


def _status_reply(code: int, grpc_code: int, message: str, fmt: str = "protobuf",
                  headers: list | None = None, close: bool = False) -> _Reply:
    st = status_pb2.Status(code=grpc_code, message=message)
    if fmt == "json":
        return _Reply(code, json_format.MessageToJson(st, indent=None).encode(),
                      "application/json", headers or [], close)
    return _Reply(code, st.SerializeToString(), "application/x-protobuf", headers or [], close)


def _text(code: int, text: str, headers: list | None = None, close: bool = False) -> _Reply:
    return _Reply(code, text.encode(), "text/plain; charset=utf-8", headers or [], close)


def _export(sc: Any, signal: str, fmt: str, encoding: str, body: bytes) -> _Reply:
    """Decompress, hand to the sidecar, and build the answer (on a worker thread)."""
    limit = sc.config.max_request_bytes
    if encoding == "gzip":
        try:
            body = gunzip(body, limit)
        except BodyTooLarge:
            sc.refused(signal, "http", "oversize")
            return _status_reply(413, 3, f"request body exceeds the limit of {limit} bytes "
                                 "once decompressed (--max-request-bytes)", fmt)
        except ValueError as e:
            sc.refused(signal, "http", "invalid")
            return _status_reply(400, 3, f"corrupt gzip body: {e}", fmt)
    return _outcome_reply(sc.handle(signal, fmt, body, "http"), signal, fmt)


def _outcome_reply(out: Any, signal: str, fmt: str) -> _Reply:
    """The answer to an export request the sidecar took, refused or found invalid."""
    if out.status == "ok":
        resp = export_response(signal, out.rejected, out.message)
        if fmt == "json":
            return _Reply(200, json_format.MessageToJson(resp, indent=None).encode(),
                          "application/json")
        return _Reply(200, resp.SerializeToString(), "application/x-protobuf")
    if out.status == "invalid":
        return _status_reply(400, 3, out.message, fmt)
    retry = [("Retry-After", str(out.retry_after_s))]
    if out.status == "busy":
        return _status_reply(429, 8, out.message, fmt, retry)
    return _status_reply(503, 14, out.message, fmt, retry)


# ---------------------------------------------------------------------- connections

class _Timeout(Exception):
    pass


class _Conn:
    """One client connection: its h11 state machine, streams and idleness."""

    __slots__ = ("h", "reader", "writer", "idle_since", "closing")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, now: float):
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self.reader, self.writer = reader, writer
        self.idle_since: float | None = now  # None while a request is in progress
        self.closing = False

    def abort(self) -> None:
        self.closing = True
        self.writer.transport.abort()


class HttpReceiver:
    """The OTLP/HTTP listener: an asyncio loop on its own thread, h11 for framing."""

    transport = "http"

    def __init__(self, sidecar: Any, listen: str):
        cfg = sidecar.config
        self.sidecar = sidecar
        host, port = parse_hostport(listen, 4318)
        self.ssl_ctx: ssl.SSLContext | None = None
        if cfg.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
            self.ssl_ctx = ctx
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # bind here, on the caller's thread, so that a bad address fails `serve` at once
        self._sock = socket.create_server((host, port), family=family, backlog=1024)
        self.port = self._sock.getsockname()[1]
        self.address = f"{host}:{self.port}"
        self.max_conns = cfg.max_http_connections
        self.request_timeout = cfg.request_timeout_s
        self.keepalive_timeout = cfg.keepalive_timeout_s
        self._workers = ThreadPoolExecutor(max_workers=cfg.max_connections,
                                           thread_name_prefix="tracelogic-http")
        self._loop = asyncio.new_event_loop()
        self._slots: asyncio.Semaphore | None = None
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[_Conn] = set()
        self._inflight = 0
        self._pending: dict[Any, tuple] = {}  # queued from the loop: future -> (item, deadline)
        self._thread: threading.Thread | None = None
        m = sidecar.metrics
        m.gauge("tracelogic_http_connections", "open OTLP/HTTP connections",
                fn=lambda: [((), len(self._conns))])
        m.gauge("tracelogic_http_requests_in_flight", "OTLP/HTTP requests holding a request "
                "slot (reading their body or being processed)", fn=lambda: [((), self._inflight)])
        m.counter("tracelogic_http_connections_closed_total", "OTLP/HTTP connections closed "
                  "by the receiver: idle past --keepalive-timeout, or the longest idle one "
                  "closed to make room at --max-http-connections", ("reason",))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._slots = asyncio.Semaphore(self.sidecar.config.max_connections)
            self._server = self._loop.run_until_complete(asyncio.start_server(
                self._serve, sock=self._sock, ssl=self.ssl_ctx, limit=_READ,
                ssl_handshake_timeout=10 if self.ssl_ctx else None))
            self._loop.create_task(self._watch_engine())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="tracelogic-http-loop", daemon=True)
        self._thread.start()
        started.wait(30)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop_accepting(self) -> None:
        """Close the listener; open connections are still answered (503 from now on)."""
        if self._server is None or self._loop.is_closed():
            return

        def close() -> None:
            self._server.close()
        self._loop.call_soon_threadsafe(close)

    def stop(self, grace_s: float) -> None:
        """Let in-flight answers go out (up to ``grace_s``), then close every connection."""
        if self._thread is None:
            return

        async def finish() -> None:
            deadline = self._loop.time() + grace_s
            while self._inflight and self._loop.time() < deadline:
                await asyncio.sleep(0.02)
            for c in list(self._conns):
                c.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(finish(), self._loop).result(grace_s + 5)
        except Exception:  # a loop that is already gone has nothing left to close
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._workers.shutdown(wait=False)

    # ------------------------------------------------------------------ one connection
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        now = self._loop.time()
        if len(self._conns) >= self.max_conns and not self._evict_idle():
            self.sidecar.refused("connections", "http", "too_many_connections")
            writer.transport.abort()
            return
        conn = _Conn(reader, writer, now)
        self._conns.add(conn)
        try:
            while not conn.closing and await self._one_request(conn):
                conn.h.start_next_cycle()
        except (ConnectionError, OSError, ssl.SSLError, asyncio.CancelledError):
            pass
        except Exception as e:  # a bug here must cost one connection, never the loop
            log.exception("HTTP connection failed", extra={"fields": {"error": repr(e)}})
            await self._safe_reply(conn, _text(500, "internal error\n", close=True), "other",
                                   "error")
        finally:
            self._conns.discard(conn)
            if not writer.transport.is_closing():
                writer.transport.abort() if conn.closing else writer.close()

    def _evict_idle(self) -> bool:
        """Close the longest-idle connection to make room for a new one."""
        idle = [c for c in self._conns if c.idle_since is not None and not c.closing]
        if not idle:
            return False
        min(idle, key=lambda c: c.idle_since).abort()
        self.sidecar.metrics.inc("tracelogic_http_connections_closed_total", 1, "evicted")
        return True

    async def _read(self, conn: _Conn, until: float) -> bytes:
        left = until - self._loop.time()
        if left <= 0:
            raise _Timeout()
        try:  # a timeout scope, not wait_for: no task per read
            async with asyncio.timeout(left):
                return await conn.reader.read(_READ)
        except TimeoutError:
            raise _Timeout() from None

    async def _next(self, conn: _Conn, until: float) -> Any:
        """The next h11 event, reading as needed until ``until``."""
        while True:
            ev = conn.h.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            data = await self._read(conn, until)
            conn.h.receive_data(data)

    async def _one_request(self, conn: _Conn) -> bool:
        """Serve one request; True to keep the connection for the next."""
        h = conn.h
        conn.idle_since = self._loop.time()
        # wait for the first byte of a request (or a pipelined one already buffered)
        try:
            ev = h.next_event()
            if ev is h11.NEED_DATA:
                data = await self._read(conn, conn.idle_since + self.keepalive_timeout)
                h.receive_data(data)
        except _Timeout:  # idle keep-alive connection: close quietly (RFC 9112 §9.8)
            self.sidecar.metrics.inc("tracelogic_http_connections_closed_total", 1, "idle")
            return False
        except h11.RemoteProtocolError as e:
            return await self._protocol_error(conn, e)
        conn.idle_since = None
        deadline = self._loop.time() + self.request_timeout
        try:
            if ev is h11.NEED_DATA:
                ev = await self._next(conn, deadline)
        except _Timeout:
            await self._safe_reply(conn, _text(408, "request head not complete within "
                                   f"{self.request_timeout:g}s\n", close=True), "other",
                                   "timeout")
            return False
        except h11.RemoteProtocolError as e:
            return await self._protocol_error(conn, e)
        if isinstance(ev, h11.ConnectionClosed):
            return False
        assert isinstance(ev, h11.Request), ev
        return await self._route(conn, ev, deadline)

    async def _protocol_error(self, conn: _Conn, e: h11.RemoteProtocolError) -> bool:
        code = 431 if e.error_status_hint == 431 else 400
        what = ("request head over 64 KiB" if code == 431 else f"malformed HTTP request: {e}")
        # linger like an early answer: a client still sending must get to read the 400
        return await self._early(conn, _text(code, what + "\n", close=True), "other",
                                 "invalid", self._loop.time() + self.request_timeout)

    async def _route(self, conn: _Conn, req: h11.Request, deadline: float) -> bool:
        sc = self.sidecar
        path = req.target.split(b"?", 1)[0].decode("latin-1")
        headers: dict[str, list[bytes]] = {}
        for name, value in req.headers:
            headers.setdefault(name.decode("latin-1"), []).append(value)
        method = req.method
        if path in _PROBES:
            if method != b"GET":
                return await self._early(conn, _text(405, f"{path} takes GET\n",
                                         [("Allow", "GET")], close=True), "probe",
                                         "method_not_allowed", deadline)
            if not await self._drain(conn, deadline, _PROBE_BODY):
                return False
            return await self._reply(conn, self._probe(path, headers), "probe")
        signal = _PATHS.get(path)
        if signal is None:
            return await self._early(conn, _text(
                404, "not found: OTLP/HTTP is POST /v1/traces, /v1/metrics and /v1/logs\n",
                close=True),
                "other", "not_found", deadline)
        ctype = _one(headers, "content-type").split(";", 1)[0].strip().lower()
        fmt = _TYPES.get(ctype, "protobuf")
        if method != b"POST":
            return await self._early(conn, _status_reply(
                405, 12, f"{path} takes POST", fmt, [("Allow", "POST")], close=True),
                signal, "method_not_allowed", deadline)
        token = sc.config.token
        if token and not (len(headers.get("authorization", ())) == 1
                          and bearer_matches(headers["authorization"][0], token)):
            return await self._early(conn, _status_reply(
                401, 16, "missing or wrong bearer token", fmt, [("WWW-Authenticate", "Bearer")],
                close=True), signal, "unauthenticated", deadline)
        if ctype not in _TYPES:
            return await self._early(conn, _status_reply(
                415, 3, f"unsupported Content-Type {ctype!r}; use application/x-protobuf or "
                "application/json", fmt, close=True), signal, "unsupported_media_type",
                deadline)
        encoding = _one(headers, "content-encoding").strip().lower() or "identity"
        if encoding not in ("identity", "gzip"):
            return await self._early(conn, _status_reply(
                415, 3, f"unsupported Content-Encoding {encoding!r}; use gzip or none", fmt,
                close=True), signal, "unsupported_media_type", deadline)
        chunked = "transfer-encoding" in headers
        length = headers.get("content-length")
        if chunked and length is not None:
            # RFC 9112 §6.1: both together may be a smuggling attempt; refuse and close
            return await self._early(conn, _status_reply(
                400, 3, "both Transfer-Encoding and Content-Length; send one", fmt,
                close=True), signal, "invalid", deadline)
        if not chunked and length is None:
            return await self._early(conn, _status_reply(
                411, 3, "the body's length is unknown: send Content-Length or "
                "Transfer-Encoding: chunked", fmt, close=True), signal, "length_required",
                deadline)
        limit = sc.config.max_request_bytes
        if length is not None and int(length[0]) > limit:
            return await self._early(conn, _status_reply(
                413, 3, f"request body of {int(length[0])} bytes exceeds the limit of {limit} "
                "bytes (--max-request-bytes); send smaller batches", fmt, close=True),
                signal, "oversize", deadline)
        # a request slot bounds concurrent bodies in memory and decoding threads
        assert self._slots is not None
        try:
            if self._slots.locked():  # every slot is busy: wait for one, until the deadline
                async with asyncio.timeout(max(0.0, deadline - self._loop.time())):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
        except TimeoutError:
            return await self._early(conn, _status_reply(
                429, 8, "every request slot is busy; retry later", fmt,
                [("Retry-After", str(sc.config.retry_after_s))], close=True),
                signal, "busy", deadline)
        self._inflight += 1
        try:
            if conn.h.they_are_waiting_for_100_continue:
                conn.writer.write(conn.h.send(h11.InformationalResponse(
                    status_code=100, headers=[])))
            body = bytearray()
            try:
                while True:
                    ev = await self._next(conn, deadline)
                    if isinstance(ev, h11.Data):
                        body += ev.data
                        if len(body) > limit:
                            return await self._early(conn, _status_reply(
                                413, 3, f"request body exceeds the limit of {limit} bytes "
                                "(--max-request-bytes); send smaller batches", fmt,
                                close=True), signal, "oversize", deadline)
                    elif isinstance(ev, h11.EndOfMessage):
                        break
            except _Timeout:
                await self._safe_reply(conn, _status_reply(
                    408, 4, f"request body not complete within {self.request_timeout:g}s",
                    fmt, close=True), signal, "timeout")
                return False
            except h11.RemoteProtocolError as e:
                return await self._early(conn, _status_reply(
                    400, 3, f"malformed request body framing: {e}", fmt, close=True),
                    signal, "invalid", self._loop.time() + _LINGER_S)
            try:
                reply = None
                if encoding == "identity" and signal == "traces" and fmt == "protobuf":
                    reply = await self._export_on_loop(bytes(body))
                if reply is None:
                    reply = await self._loop.run_in_executor(
                        self._workers, _export, sc, signal, fmt, encoding, bytes(body))
            except Exception as e:  # a decoder bug: answer, count, log; keep serving
                log.exception("HTTP export failed", extra={"fields": {"error": repr(e)}})
                sc.refused(signal, "http", "error")
                reply = _text(500, "internal error\n", close=True)
            return await self._reply(conn, reply, None)
        finally:
            self._inflight -= 1
            self._slots.release()

    async def _export_on_loop(self, body: bytes) -> _Reply | None:
        """An OTLP protobuf trace request, queued from the loop itself: the engine decodes
        it, so no thread is needed to hand it over or to wait for the engine (the engine
        resolves a future here, once per loop for every request of its step). None when the
        request must be decoded first (its framing does not count): a worker thread does
        that."""
        sc = self.sidecar
        fut = self._loop.create_future()
        got = sc.submit("traces", "protobuf", body, "http", waiter=(self._loop, fut))
        if got is None or isinstance(got, Outcome):
            return got if got is None else _outcome_reply(got, "traces", "protobuf")
        self._pending[fut] = (got, self._loop.time() + sc.config.engine_wait_s)
        try:
            await fut
        finally:
            self._pending.pop(fut, None)
        return _outcome_reply(sc.answer(got, got.finished), "traces", "protobuf")

    async def _watch_engine(self) -> None:
        """Stop waiting for an engine that is gone or late, as :meth:`Sidecar.handle`
        does: every 0.2 s, a request queued from the loop whose engine thread died, or
        that waited ``engine_wait_s`` in vain, is answered unavailable."""
        sc = self.sidecar
        while True:
            await asyncio.sleep(0.2)
            if not self._pending:
                continue
            now, alive = self._loop.time(), sc.engine_alive
            for fut, (it, deadline) in list(self._pending.items()):
                if not it.finished and not fut.done() and (not alive or now > deadline):
                    fut.set_result(False)

    def _probe(self, path: str, headers: dict[str, list[bytes]]) -> _Reply:
        sc = self.sidecar
        if path == "/healthz":
            ok = sc.healthy
            return _text(200 if ok else 503, "ok\n" if ok else "engine stopped\n")
        if path == "/readyz":
            ok = sc.ready.is_set() and sc.healthy
            return _text(200 if ok else 503, "ready\n" if ok else "not ready\n")
        token = sc.config.token
        if token and not (len(headers.get("authorization", ())) == 1
                          and bearer_matches(headers["authorization"][0], token)):
            return _text(401, "unauthorized\n", [("WWW-Authenticate", "Bearer")])
        if path == "/status":  # the JSON status (docs/serve.md, "Operations")
            return _Reply(200, (json.dumps(sc.status()) + "\n").encode(), "application/json")
        return _Reply(200, sc.metrics.render().encode(),
                      "text/plain; version=0.0.4; charset=utf-8")

    # ------------------------------------------------------------------ answering
    async def _drain(self, conn: _Conn, deadline: float, bound: int) -> bool:
        """Read and drop the rest of the request's body; False if it is too long or slow."""
        n = 0
        try:
            while True:
                ev = await self._next(conn, deadline)
                if isinstance(ev, h11.EndOfMessage):
                    return True
                if isinstance(ev, h11.Data):
                    n += len(ev.data)
                    if n > bound:
                        break
        except (_Timeout, h11.RemoteProtocolError):
            pass
        await self._safe_reply(conn, _text(400, "a probe takes no request body\n",
                                           close=True), "probe", "invalid")
        return False

    async def _early(self, conn: _Conn, reply: _Reply, signal: str, outcome: str,
                     deadline: float) -> bool:
        """Answer before the body is read, then close so that the client can read it.

        The answer goes out first; the body is then read and dropped until the client
        has sent it (or for at most a few seconds), so that the client, still writing,
        gets the answer instead of a connection reset (the lingering close of RFC 9112
        §9.6).
        """
        await self._safe_reply(conn, reply, signal, outcome)
        if conn.closing:
            return False
        try:
            if conn.writer.can_write_eof():
                conn.writer.write_eof()
        except (OSError, RuntimeError):
            return False
        until = min(deadline, self._loop.time() + _LINGER_S)
        dropped = 0
        limit = max(4 * self.sidecar.config.max_request_bytes, 16 * 2**20)
        try:
            while dropped <= limit:
                data = await self._read(conn, until)
                if not data:
                    break
                dropped += len(data)
        except (_Timeout, ConnectionError, OSError):
            pass
        return False

    async def _safe_reply(self, conn: _Conn, reply: _Reply, signal: str | None,
                          outcome: str) -> None:
        """Send an error answer if the state machine still allows one, and count it."""
        if signal is not None:
            self.sidecar.refused(signal, "http", outcome)
        if conn.closing or conn.h.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            await self._send(conn, reply)
        except (h11.LocalProtocolError, ConnectionError, OSError, _Timeout):
            conn.closing = True

    async def _reply(self, conn: _Conn, reply: _Reply, count_as: str | None) -> bool:
        if count_as is not None:
            self.sidecar.refused(count_as, "http", "ok" if reply.status == 200 else
                                 "unauthenticated" if reply.status == 401 else "unavailable")
        await self._send(conn, reply)
        return not reply.close and conn.h.our_state is h11.DONE and \
            conn.h.their_state is h11.DONE

    async def _send(self, conn: _Conn, reply: _Reply) -> None:
        h = conn.h
        headers = [("Content-Type", reply.ctype), ("Content-Length", str(len(reply.body))),
                   ("Server", "tracelogic"), *reply.headers]
        if reply.close:
            headers.append(("Connection", "close"))
        data = h.send(h11.Response(status_code=reply.status, headers=headers))
        data += h.send(h11.Data(data=reply.body))
        data += h.send(h11.EndOfMessage())
        conn.writer.write(data)
        try:
            async with asyncio.timeout(self.request_timeout):
                await conn.writer.drain()
        except TimeoutError:
            raise _Timeout() from None


def _one(headers: dict[str, list[bytes]], name: str) -> str:
    values = headers.get(name)
    return values[0].decode("latin-1") if values else ""
