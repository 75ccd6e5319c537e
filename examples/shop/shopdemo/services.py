"""The shop's services: real HTTP servers on 127.0.0.1, instrumented by hand with the SDK.

- ``gateway``: ``POST /checkout`` -> orders; ``GET /report`` -> inventory.
- ``orders``: ``POST /orders`` -> inventory ``POST /reserve``; may leak memory.
- ``inventory``: a SQLite "database" (``peer.service = inventory-db``); ``POST /reserve``
  (read-modify-write of one stock row, under a lock unless the race fault is on),
  ``GET /report`` (an aggregate query).
- ``r1`` .. ``r5``: a replicated key-value store; ``r1`` leads, replicating each put to
  the others and committing with the acknowledgements it got.

:class:`Faults` holds the switches; :class:`Network` can cut links between services.
"""
from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from opentelemetry import trace

from .telemetry import Sink, SpanKind, Telemetry, extract, fail, inject

MiB = 2**20


@dataclass
class Faults:
    db_slow_ms: int = 0          # every inventory query sleeps this long (cascading failure)
    slow_query_ms: int = 0       # the report query sleeps this long (slow query)
    leak_bytes: int = 0          # orders keeps this many bytes per request (memory leak)
    race: bool = False           # reserve without the stock lock (race condition)
    race_window_ms: int = 30     # time between reading and writing a stock row


@dataclass
class Network:
    """Links cut between services: a call across one fails at once, never arriving."""

    cut: set = field(default_factory=set)

    def partition(self, side_a: list[str], side_b: list[str]) -> None:
        self.cut = {frozenset((a, b)) for a in side_a for b in side_b}

    def heal(self) -> None:
        self.cut = set()

    def blocked(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.cut


class HttpError(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(f"{status} {message}")
        self.status = status


class Service:
    """An HTTP server whose handlers run inside a SERVER span with the caller's context."""

    routes: dict[tuple[str, str], str] = {}

    def __init__(self, name: str, sink: Sink, registry: dict[str, Service], faults: Faults,
                 network: Network) -> None:
        self.name = name
        self.telemetry = Telemetry(name, sink)
        self.tracer = self.telemetry.tracer
        self.registry = registry
        self.faults = faults
        self.network = network
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self, method: str) -> None:
                route = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = service.dispatch(method, route, body, self.headers)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller timed out and went away

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False   # close() waits for requests still running,
        self.server.block_on_close = True    # so their spans end and are exported
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        registry[name] = self

    def dispatch(self, method: str, route: str, body: dict, headers: Any) -> tuple[int, dict]:
        handler = self.routes.get((method, route))
        name = f"{method} {route}"
        with self.tracer.start_as_current_span(
                name, context=extract(headers), kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route}) as span:
            if handler is None:
                span.set_attribute("http.response.status_code", 404)
                return 404, {"error": "not found"}
            try:
                status, payload = getattr(self, handler)(body, span)
            except HttpError as e:
                status, payload = e.status, {"error": str(e)}
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                fail(span, f"HTTP {status}")
            return status, payload

    def call(self, target: str, method: str, path: str, body: dict | None = None, *,
             timeout: float = 2.0, attrs: dict | None = None) -> tuple[int, dict]:
        """A CLIENT span around one HTTP call to ``target``; raises HttpError(504) on timeout
        and HttpError(503) when the network cut the link."""
        other = self.registry[target]
        with self.tracer.start_as_current_span(
                f"{method} {path}", kind=SpanKind.CLIENT,
                attributes={"peer.service": target, "http.request.method": method,
                            "server.address": "127.0.0.1", "server.port": other.port,
                            **(attrs or {})}) as span:
            if self.network.blocked(self.name, target):
                time.sleep(0.002)
                fail(span, "connection refused", "ConnectionRefusedError")
                raise HttpError(503, f"{target} unreachable")
            data = json.dumps(body or {}).encode()
            conn = http.client.HTTPConnection("127.0.0.1", other.port, timeout=timeout)
            try:
                conn.request(method, path, body=data, headers={
                    "Content-Type": "application/json", **inject()})
                resp = conn.getresponse()
                payload = json.loads(resp.read() or b"{}")
            except (socket.timeout, TimeoutError):
                fail(span, f"timeout after {timeout}s", "timeout")
                raise HttpError(504, f"{target} timed out") from None
            finally:
                conn.close()
            span.set_attribute("http.response.status_code", resp.status)
            if resp.status >= 500:
                fail(span, f"HTTP {resp.status}")
            return resp.status, payload

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gateway(Service):
    routes = {("POST", "/checkout"): "checkout", ("GET", "/report"): "report"}

    def checkout(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        try:
            status, payload = self.call("orders", "POST", "/orders", body, timeout=1.0)
        except HttpError as e:
            return 503, {"error": str(e)}
        return (503 if status >= 500 else status), payload

    def report(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        return self.call("inventory", "GET", "/report", timeout=2.0)


class Orders(Service):
    routes = {("POST", "/orders"): "create"}

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.leaked: list[int] = []
        self.base_bytes = 48 * MiB

    def memory_usage(self) -> float:
        return float(self.base_bytes + sum(self.leaked))

    def create(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        if self.faults.leak_bytes:
            self.leaked.append(self.faults.leak_bytes)  # a cache that is never evicted
        sku = str(body.get("sku", "sku-1"))
        span.set_attribute("order.sku", sku)
        try:
            status, payload = self.call("inventory", "POST", "/reserve",
                                        {"sku": sku, "qty": body.get("qty", 1)}, timeout=0.3)
        except HttpError as e:
            return 504, {"error": str(e)}
        if status != 200:
            return (502 if status >= 500 else status), payload
        return 200, {"order": "created", **payload}


class Inventory(Service):
    routes = {("POST", "/reserve"): "reserve", ("GET", "/report"): "report"}

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db_lock = threading.Lock()      # one statement at a time on the connection
        self._locks: dict[str, threading.Lock] = {}  # the fix for the race: a lock per row
        self._locks_lock = threading.Lock()
        self.db.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER)")
        self.db.executemany("INSERT INTO stock VALUES (?, ?)",
                            [(f"sku-{i}", 100) for i in range(1, 6)])

    def query(self, sql: str, args: tuple = (), *, delay_ms: int = 0) -> list:
        with self.tracer.start_as_current_span(
                sql.split()[0], kind=SpanKind.CLIENT,
                attributes={"db.system": "sqlite", "db.namespace": "inventory",
                            "db.query.text": sql, "peer.service": "inventory-db"}):
            slow = self.faults.db_slow_ms + delay_ms
            if slow:
                time.sleep(slow / 1000)
            with self.db_lock:
                return self.db.execute(sql, args).fetchall()

    def reserve(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        sku, qty = str(body.get("sku")), int(body.get("qty", 1))
        with self._locks_lock:
            row_lock = self._locks.setdefault(sku, threading.Lock())
        lock: Any = _NoLock() if self.faults.race else row_lock
        with lock:
            with self.tracer.start_as_current_span(
                    "reserve stock", attributes={"resource.name": f"stock/{sku}",
                                                 "resource.access": "write",
                                                 "stock.sku": sku}) as section:
                [(before,)] = self.query("SELECT qty FROM stock WHERE sku = ?", (sku,))
                time.sleep(self.faults.race_window_ms / 1000)
                after = before - qty
                self.query("UPDATE stock SET qty = ? WHERE sku = ?", (after, sku))
                section.set_attribute("stock.before", before)
                section.set_attribute("stock.after", after)
        return 200, {"sku": sku, "left": after}

    def report(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        rows = self.query("SELECT sku, SUM(qty) FROM stock GROUP BY sku ORDER BY sku",
                          delay_ms=self.faults.slow_query_ms)
        return 200, {"rows": rows}


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


class Replica(Service):
    """One replica of the key-value store. The leader (r1) replicates each put to the
    others and -- the weakness the partition exposes -- commits with whatever
    acknowledgements it got, recording how many."""

    routes = {("POST", "/put"): "put", ("POST", "/append"): "append",
              ("POST", "/vote"): "vote"}
    CLUSTER = ["r1", "r2", "r3", "r4", "r5"]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.term = 1
        self.log: list[tuple[int, str]] = []
        self.commit_index = 0

    def _node(self, span: trace.Span) -> None:
        span.set_attribute("consensus.node", self.name)
        span.set_attribute("consensus.term", self.term)

    def put(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        self._node(span)
        index = len(self.log) + 1
        self.log.append((self.term, str(body.get("value"))))
        span.set_attribute("kv.round", index)
        acks = 1  # the leader's own log
        for peer in self.CLUSTER:
            if peer == self.name:
                continue
            try:
                status, _ = self.call(peer, "POST", "/append",
                                      {"index": index, "term": self.term},
                                      timeout=0.2, attrs={"kv.round": index})
                acks += status == 200
            except HttpError:
                pass
        with self.tracer.start_as_current_span("kv.commit", attributes={
                "consensus.event": "commit", "consensus.index": index, "kv.round": index,
                "consensus.acks": acks, "consensus.cluster_size": len(self.CLUSTER)}) as c:
            self._node(c)
            self.commit_index = index
            c.set_attribute("consensus.commit_index", index)
        return 200, {"index": index, "acks": acks}

    def append(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        self._node(span)
        span.set_attribute("kv.round", int(body.get("index", 0)))
        self.log.append((int(body.get("term", 0)), ""))
        return 200, {"ok": True}

    def vote(self, body: dict, span: trace.Span) -> tuple[int, dict]:
        self._node(span)
        return 200, {"granted": False}

    def campaign(self, peers: list[str]) -> None:
        """A replica that lost its leader asks the others for votes (and gets none)."""
        with self.tracer.start_as_current_span("raft.campaign") as span:
            self._node(span)
            for p in peers:
                try:
                    self.call(p, "POST", "/vote", {"term": self.term + 1}, timeout=0.2)
                except HttpError:
                    pass


def start(names: list[str], sink: Sink, faults: Faults, network: Network,
          kinds: dict[str, Callable[..., Service]]) -> dict[str, Service]:
    registry: dict[str, Service] = {}
    for name in names:
        kinds[name](name, sink, registry, faults, network)
    return registry


def stop(registry: dict[str, Service]) -> None:
    """Close the servers front to back (each waits for its running requests), then flush."""
    for s in registry.values():
        s.close()
    for s in registry.values():
        s.telemetry.shutdown()
