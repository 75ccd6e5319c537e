"""Generated cascading failures: a random call tree, one faulty service, noise.

Every trace walks the tree from the gateway; each call is made with some
probability. The faulty node (a service or an uninstrumented database) either
fails fast (``error``) or becomes slow (``slow``), and callers time out. A few
unrelated errors in other services are the noise.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from tracelogic.ingest.spans import Span

from .helpers import Builder

MS_TIMEOUT = 1000


@dataclass
class System:
    services: list[str]
    calls: dict[str, list[str]]          # caller -> callees (services or databases)
    databases: set[str]
    faulty: str
    mode: str
    spans: list[Span] = field(default_factory=list)

    def path_to(self, target: str) -> list[str]:
        path = [target]
        while path[-1] != self.services[0]:
            path.append(next(c for c, cs in self.calls.items() if path[-1] in cs))
        return path[::-1]


def make_system(rng: random.Random, *, n_services: int | None = None, faulty: str | None = None,
                mode: str | None = None) -> System:
    n = n_services or rng.randint(3, 7)
    services = ["gateway"] + [f"svc{i}" for i in range(1, n)]
    calls: dict[str, list[str]] = {s: [] for s in services}
    for i, s in enumerate(services[1:], 1):
        calls[services[rng.randrange(i)]].append(s)
    databases = set()
    for s in services[1:]:
        if rng.random() < 0.5:
            db = f"{s}-db"
            calls[s].append(db)
            databases.add(db)
    candidates = services + sorted(databases)
    return System(services, calls, databases, faulty or rng.choice(candidates),
                  mode or rng.choice(["error", "slow"]))


def generate(system: System, rng: random.Random, *, traces: int = 40, noise: float = 0.05,
             call_p: float = 0.8) -> System:
    b = Builder()
    for t in range(1, traces + 1):
        root_start = t * 10_000.0
        _visit(system, rng, b, system.services[0], None, root_start, t, noise, call_p)
    system.spans = b.spans
    return system


def _visit(system, rng, b, service, client, start, trace, noise, call_p):
    """Serve one request at ``service``; returns (end time, failed)."""
    server = b.span(f"{service} handler", start, start, client, service=service,
                    kind="server", trace=trace)
    t = start + rng.uniform(1, 5)
    failed = False
    for callee in system.calls[service]:
        if rng.random() > call_p:
            continue
        name = f"call {callee}"
        if callee in system.databases:
            slow = system.faulty == callee and system.mode == "slow"
            err = system.faulty == callee and system.mode == "error"
            dur = rng.uniform(1500, 3000) if slow else rng.uniform(2, 10)
            timed_out = dur > MS_TIMEOUT
            end = t + min(dur, MS_TIMEOUT)
            b.span(f"SELECT {callee}", t, end, server, service=service, kind="client",
                   status="error" if err or timed_out else "unset", peer__service=callee,
                   db__system="sqlite")
            failed |= err or timed_out
            t = end + rng.uniform(0.5, 2)
            continue
        call = b.span(name, t, t, server, service=service, kind="client", trace=trace)
        c_end, c_failed = _visit(system, rng, b, callee, call, t + 0.5, trace, noise, call_p)
        timed_out = c_end - t > MS_TIMEOUT
        end = t + MS_TIMEOUT if timed_out else c_end + 0.5
        _replace(b, call, end, "error" if (c_failed or timed_out) else "unset")
        failed |= c_failed or timed_out
        t = end + rng.uniform(0.5, 2)
    if system.faulty == service:
        if system.mode == "error":
            failed = True
        else:
            t += rng.uniform(1500, 3000)
    elif rng.random() < noise:  # an unrelated failure of this service's own
        failed = True
    t += rng.uniform(1, 3)
    _replace(b, server, t, "error" if failed else "unset")
    return t, failed


def _replace(b: Builder, span: Span, end_ms: float, status: str) -> None:
    from .helpers import MS, T0
    i = len(b.spans) - 1  # the span is recent: search from the end (linear generation)
    while b.spans[i] is not span:
        i -= 1
    b.spans[i] = Span(name=span.name, trace_id=span.trace_id, span_id=span.span_id,
                      parent_id=span.parent_id, start_ns=span.start_ns,
                      end_ns=T0 + int(end_ms * MS), service=span.service, kind=span.kind,
                      status=status, attrs=dict(span.attrs))
