"""Decode throughput vs a bare upb decode-and-touch loop (not a test; run by hand).

    python tests/ingest/bench_otlp_decode.py [n_spans]

The baseline parses the same bytes with upb and touches every field a Span holds
(ids, name, kind, times, status, scope, service, event names, links) and the
wanted attributes, without building anything. The ratio is baseline time divided
by decode time: 1.0 means decoding costs nothing on top of touching the fields.
"""
from __future__ import annotations

import random
import sys
import time

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tracelogic.ingest.otlp import decode_traces_pb


def make_request(n: int) -> bytes:
    exp = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({
        "service.name": "checkout", "service.version": "1.2.3", "host.name": "h1",
        "deployment.environment": "prod", "k8s.pod.name": "checkout-7d9f"}))
    tp.add_span_processor(SimpleSpanProcessor(exp))
    tr = tp.get_tracer("bench", "0.1")
    rnd = random.Random(1)
    made = 0
    while made < n:
        with tr.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
            root.set_attribute("http.request.method", "POST")
            root.set_attribute("http.route", "/checkout")
            root.set_attribute("http.response.status_code", 200)
            made += 1
            for j in range(9):
                with tr.start_as_current_span(f"db.query {j}") as c:
                    c.set_attribute("db.system", "postgresql")
                    c.set_attribute("db.statement", "SELECT * FROM items WHERE id = $1")
                    c.set_attribute("db.rows", rnd.randint(0, 100))
                    c.set_attribute("net.peer.name", "db-1")
                    c.set_attribute("retry", rnd.random() < 0.1)
                    c.set_attribute("order.id", f"o-{rnd.randint(0, 999)}")
                    if j == 3:
                        c.add_event("exception", {"exception.type": "Timeout"})
                    made += 1
    return encode_spans(exp.get_finished_spans()[:n]).SerializeToString()


def baseline(data: bytes, wanted: frozenset[str] | None) -> int:
    req = ExportTraceServiceRequest.FromString(data)
    n = 0
    for rs in req.resource_spans:
        for kv in rs.resource.attributes:
            if wanted is None or kv.key in wanted or kv.key == "service.name":
                v = kv.value
                getattr(v, v.WhichOneof("value"))
        for ss in rs.scope_spans:
            ss.scope.name
            for sp in ss.spans:
                sp.trace_id; sp.span_id; sp.parent_span_id; sp.name; sp.kind
                sp.start_time_unix_nano; sp.end_time_unix_nano
                st = sp.status
                st.code; st.message
                for kv in sp.attributes if wanted is None or wanted else ():
                    if wanted is None or kv.key in wanted:
                        v = kv.value
                        getattr(v, v.WhichOneof("value"))
                evs = sp.events
                if evs:
                    for e in evs:
                        e.name
                lks = sp.links
                if lks:
                    for ln in lks:
                        ln.trace_id; ln.span_id
                n += 1
    return n


def best_pair(f, g, repeat: int = 15) -> tuple[float, float]:
    """Best time of each of f and g, run alternately so both see the same machine load."""
    tf, tg = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        tf.append(time.perf_counter() - t)
        t = time.perf_counter()
        g()
        tg.append(time.perf_counter() - t)
    return min(tf), min(tg)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    data = make_request(n)
    print(f"{n} spans, {len(data)} bytes of protobuf")
    for label, wanted in (("wanted_attrs={'db.system','http.route'}",
                           frozenset({"db.system", "http.route"})),
                          ("wanted_attrs=frozenset()", frozenset()),
                          ("wanted_attrs=None (all)", None)):
        assert baseline(data, wanted) == len(decode_traces_pb(data, wanted_attrs=wanted)) == n
        tb, td = best_pair(lambda: baseline(data, wanted),
                           lambda: decode_traces_pb(data, wanted_attrs=wanted))
        print(f"{label:42s} baseline {n / tb / 1e3:7.1f}k spans/s   decode "
              f"{n / td / 1e3:7.1f}k spans/s   ratio {tb / td:.2f}")


if __name__ == "__main__":
    main()
