"""A synthetic shop workload for the sidecar's tests, soak and benchmark.

Deterministic for a seed. Each trace is one checkout: a server root and a call chain
``depth`` deep (DESIGN.md's "large shop": call depth 8). Some traces carry the
mistakes the example spec catches: an error status, a charge without an authorize,
a missing reply, a slow query, and an order charged in two traces (a cross-trace
violation of ``per attr["order.id"]``).

``SPEC`` is the example spec; ``bench_spec(n)`` makes a spec of ``n`` properties of
the same shapes, for the benchmark's 20-property run.
"""
from __future__ import annotations

import random
from typing import Iterator

from tracelogic.ingest.spans import Span

__all__ = ["SPEC", "bench_spec", "traces", "request_bytes", "MS"]

MS = 1_000_000

SPEC = '''\
pred checkout  = name == "POST /checkout" and kind == server
pred failed    = status == error
pred charge    = name == "charge"
pred authorize = name == "authorize"
pred slow_query = attr["db.system"] exists and duration > 50ms

property no_error "no span fails":
  G !failed
property auth_before_charge:
  !charge W authorize
property answered:
  G (checkout & start -> F (name == "reply"))
property fast_queries severity warning:
  G !slow_query
property no_double_charge per attr["order.id"]:
  G (charge & end -> WX G !(charge & end))
property no_panic global:
  G !(name == "panic")
'''

_SERVICES = ("frontend", "cart", "payments", "inventory", "shipping")


def bench_spec(n: int = 20) -> str:
    """A spec with ``n`` runtime properties, most per trace, a few cross-trace."""
    head = SPEC.split("\nproperty ", 1)[0] + "\n"
    shapes = [
        'property p{i}_never:\n  G !(failed & duration > {i}ms)\n',
        'property p{i}_response:\n  G (name == "step{j}" & start -> F (name == "step{k}"))\n',
        'property p{i}_precedence:\n  !(name == "step{k}") W (name == "step{j}")\n',
        'property p{i}_slow:\n  G !(name == "step{j}" & duration > {ms}ms)\n',
        'property p{i}_attr:\n  G (checkout & end -> attr["order.id"] exists)\n',
    ]
    parts = [head]
    for i in range(n):
        if i == n - 1 and n >= 2:
            parts.append(f'property p{i}_double per attr["order.id"]:\n'
                         '  G (charge & end -> WX G !(charge & end))\n')
            continue
        shape = shapes[i % len(shapes)]
        parts.append(shape.format(i=i, j=i % 5, k=(i % 5) + 1, ms=200 + i))
    return "".join(parts)


def _hex(rng: random.Random, n: int) -> str:
    return "%0*x" % (2 * n, rng.getrandbits(8 * n) or 1)


def traces(n: int, *, seed: int = 1, depth: int = 8, start_ns: int = 1_700_000_000 * 10**9,
           gap_ns: int = MS, bad_every: int = 7, orders: int | None = None
           ) -> Iterator[list[Span]]:
    """``n`` traces of ``depth + 1`` spans each (root, chain, reply), in start order.

    Every ``bad_every``-th trace (by a seeded choice) has one mistake. ``orders``
    bounds the distinct order ids, so that some orders are charged in two traces.
    """
    rng = random.Random(seed)
    orders = orders or max(1, n)
    for t in range(n):
        tid = _hex(rng, 16)
        t0 = start_ns + t * gap_ns
        mistake = rng.randrange(6) if rng.randrange(bad_every) == 0 else -1
        order = f"o-{rng.randrange(orders)}"
        service = _SERVICES[t % len(_SERVICES)]
        root_id = _hex(rng, 8)
        total = (depth + 2) * 10 * MS
        spans = []
        parent = root_id
        chain = ["authorize", "charge"] + [f"step{i}" for i in range(depth - 2)]
        if mistake == 1:
            chain[0], chain[1] = "charge", "authorize"
        for i, name in enumerate(chain[:depth]):
            sid = _hex(rng, 8)
            st = t0 + (i + 1) * MS
            en = t0 + total - (i + 1) * MS
            attrs: dict = {"order.id": order} if name == "charge" else {}
            if name.startswith("step") and i % 3 == 2:
                attrs["db.system"] = "postgresql"
                if mistake == 3 and i == 2:
                    st, en = st, st + 80 * MS
                else:
                    en = min(en, st + 5 * MS)
            status = "error" if (mistake == 0 and i == depth - 1) else "unset"
            spans.append(Span(name=name, trace_id=tid, span_id=sid, parent_id=parent,
                              start_ns=st, end_ns=max(en, st), kind="client" if i == 0
                              else "internal", status=status,
                              service=_SERVICES[(t + i) % len(_SERVICES)], attrs=attrs))
            parent = sid
        if mistake != 2:
            spans.append(Span(name="reply", trace_id=tid, span_id=_hex(rng, 8),
                              parent_id=root_id, start_ns=t0 + total - MS // 2,
                              end_ns=t0 + total - MS // 4, service=service))
        if mistake == 4:  # the same order charged again, in this trace too
            spans.append(Span(name="charge", trace_id=tid, span_id=_hex(rng, 8),
                              parent_id=root_id, start_ns=t0 + total - MS // 8,
                              end_ns=t0 + total - MS // 16, service=service,
                              attrs={"order.id": order}))
        if mistake == 5 and t % 2 == 0:
            spans.append(Span(name="panic", trace_id=tid, span_id=_hex(rng, 8),
                              parent_id=root_id, start_ns=t0 + 2 * MS, end_ns=t0 + 3 * MS,
                              service=service))
        spans.append(Span(name="POST /checkout", trace_id=tid, span_id=root_id,
                          parent_id="", start_ns=t0, end_ns=t0 + total, kind="server",
                          service=service, attrs={"order.id": order}))
        yield spans


def request_bytes(spans: list[Span]) -> bytes:
    """One serialized ExportTraceServiceRequest holding ``spans``."""
    from tracelogic.ingest.otlp import spans_to_request

    return spans_to_request(spans).SerializeToString()


def to_sdk(spans: list[Span]) -> list:
    """The same spans as OpenTelemetry SDK ``ReadableSpan`` objects, for the SDK exporters."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    kinds = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER,
             "client": SpanKind.CLIENT, "producer": SpanKind.PRODUCER,
             "consumer": SpanKind.CONSUMER, "unspecified": SpanKind.INTERNAL}
    statuses = {"unset": StatusCode.UNSET, "ok": StatusCode.OK, "error": StatusCode.ERROR}
    scope = InstrumentationScope("shop", "1.0")
    resources: dict[str, Resource] = {}
    out = []
    for s in spans:
        tid = int(s.trace_id, 16)
        ctx = SpanContext(tid, int(s.span_id, 16), False, TraceFlags(1))
        parent = (SpanContext(tid, int(s.parent_id, 16), False, TraceFlags(1))
                  if s.parent_id else None)
        res = resources.get(s.service)
        if res is None:
            res = resources[s.service] = Resource({"service.name": s.service})
        out.append(ReadableSpan(
            name=s.name, context=ctx, parent=parent, resource=res,
            attributes=dict(s.attrs), kind=kinds[s.kind],
            status=Status(statuses[s.status]), start_time=s.start_ns, end_time=s.end_ns,
            instrumentation_scope=scope))
    return out
