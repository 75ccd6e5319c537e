"""A live store: a small key-value service on a loopback socket, concurrent clients that
trace every call with the real OpenTelemetry SDK by the span convention, and a fault
switch that makes the service answer reads from a stale replica. The correct run is
linearizable on every key; the faulty run is flagged on the keys whose reads went stale,
with a witness made of the clients' spans. Here the spans go through the checker
`tracelogic monitor` runs; test_live_serve.py sends the same service's spans to a real
`tracelogic serve`."""
from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tracelogic.consistency import check, model, sessions
from tracelogic.consistency.spans import operations
from tracelogic.ingest.spans import from_sdk


class Store:
    """A primary and a replica that lags; with ``stale`` on, reads come from the replica."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.primary: dict[str, int] = {}
        self.replica: dict[str, int] = {}
        self.stale = False

    def write(self, k: str, v: int) -> None:
        with self.lock:
            self.primary[k] = v  # the replica catches up only on sync()

    def read(self, k: str) -> int | None:
        with self.lock:
            return (self.replica if self.stale else self.primary).get(k)

    def sync(self) -> None:
        with self.lock:
            self.replica = dict(self.primary)


def serve(store: Store) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(store.read(self.path.strip("/"))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):  # noqa: N802
            n = int(self.headers["Content-Length"])
            store.write(self.path.strip("/"), json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def run_clients(store: Store, clients: int = 4, rounds: int = 6, *, export_to=None,
                prefix: str = "") -> list:
    """Run the clients; returns their spans. ``export_to()``: one more span exporter for
    each client (an OTLP exporter pointed at `tracelogic serve`, in test_live_serve.py);
    ``prefix`` goes before each key."""
    srv = serve(store)
    exporter = InMemorySpanExporter()
    providers = []
    port = srv.server_address[1]

    def client(c: int) -> None:
        provider = TracerProvider(resource=Resource.create(
            {"service.name": "kv-client", "service.instance.id": f"client-{c}"}))
        for e in (exporter, *([export_to()] if export_to else [])):
            provider.add_span_processor(SimpleSpanProcessor(e))
        providers.append(provider)
        tracer = provider.get_tracer("kv")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for r in range(rounds):
            key = f"{prefix}k{(c + r) % 2}"
            value = c * 100 + r  # unique per key
            with tracer.start_as_current_span("PUT") as s:
                s.set_attributes({"db.operation.name": "write", "consistency.key": key,
                                  "consistency.input": value})
                conn.request("PUT", f"/{key}", body=json.dumps(value))
                conn.getresponse().read()
            with tracer.start_as_current_span("GET") as s:
                s.set_attributes({"db.operation.name": "read", "consistency.key": key})
                conn.request("GET", f"/{key}")
                got = json.loads(conn.getresponse().read())
                if got is not None:
                    s.set_attribute("consistency.output", got)
                s.set_status(Status(StatusCode.OK))
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    srv.shutdown()
    srv.server_close()
    for p in providers:
        p.shutdown()
    return from_sdk(exporter.get_finished_spans())


def test_a_correct_store_is_linearizable_on_every_key():
    spans = run_clients(Store())
    ops = operations(spans)
    assert len(ops) == 4 * 6 * 2 and {o.client for o in ops} == {f"client-{c}" for c in range(4)}
    r = check(model("register"), ops)
    assert r.verdict == "satisfied", r.text()
    assert sessions(ops).verdict() == "satisfied"


def test_stale_reads_are_flagged_with_the_clients_spans():
    store = Store()
    store.stale = True  # the replica never syncs: every read after a write is stale
    spans = run_clients(store)
    ops = operations(spans)
    r = check(model("register"), ops)
    assert r.verdict == "violated"
    assert {k.key for k in r.violations} == {"k0", "k1"}
    ids = {s.key for s in spans}
    for k in r.violations:
        assert k.witness.operations and all(o.span in ids for o in k.witness.operations)
    # each client reads behind its own write: read-your-writes names it
    assert sessions(ops).verdict("read-your-writes") == "violated"
