"""Run one scenario against a fresh shop and write its telemetry as OTLP/JSON Lines.

    from shopdemo.scenarios import run
    paths = run("cascade", "out/")                 # the fault switched on
    paths = run("cascade", "out/", fault=False)    # the control run
    paths = run("cascade", "out/", also=["http://127.0.0.1:4318"])  # and to `tracelogic serve`

Each scenario starts the services it needs, drives traffic, flushes every
provider through its OTLP exporter into the sink and returns the files written:
``{"traces": ".../cascade.jsonl", "metrics": ".../cascade.metrics.jsonl" or None}``.
``also`` lists further OTLP/HTTP endpoints every service exports to, besides the file.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Sequence

from .services import (MiB, Faults, Gateway, Inventory, Network, Orders, Replica, start,
                       stop)
from .telemetry import Sink

SHOP = {"gateway": Gateway, "orders": Orders, "inventory": Inventory}
SCENARIOS: dict[str, Callable] = {}


def scenario(fn: Callable) -> Callable:
    SCENARIOS[fn.__name__.replace("_", "-")] = fn
    return fn


def run(name: str, out_dir: str, *, fault: bool = True,
        also: Sequence[str] = ()) -> dict[str, str | None]:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    os.makedirs(out_dir, exist_ok=True)
    stem = name if fault else f"{name}.control"
    traces = os.path.join(out_dir, f"{stem}.jsonl")
    metrics = os.path.join(out_dir, f"{stem}.metrics.jsonl")
    for p in (traces, metrics):
        if os.path.exists(p):
            os.remove(p)
    sink = Sink(traces, metrics, also=also)
    try:
        SCENARIOS[name](sink, fault)
    finally:
        sink.close()
    return {"traces": traces, "metrics": metrics if os.path.exists(metrics) else None}


def _shop(sink: Sink, faults: Faults, network: Network | None = None):
    return start(list(SHOP), sink, faults, network or Network(), SHOP)


@scenario
def cascade(sink: Sink, fault: bool) -> None:
    """The database slows down: inventory is late, orders time out, the gateway answers 503."""
    faults = Faults(db_slow_ms=600 if fault else 0)
    shop = _shop(sink, faults)
    try:
        for i in range(6):
            _client(shop["gateway"], "POST", "/checkout", {"sku": f"sku-{i % 3 + 1}"})
    finally:
        stop(shop)


@scenario
def slow_query(sink: Sink, fault: bool) -> None:
    """The stock report query takes 150 ms."""
    faults = Faults(slow_query_ms=150 if fault else 0)
    shop = _shop(sink, faults)
    try:
        for _ in range(6):
            _client(shop["gateway"], "GET", "/report")
    finally:
        stop(shop)


@scenario
def memory_leak(sink: Sink, fault: bool) -> None:
    """Orders keeps 3 MiB per request and never frees it; memory is exported every 100 ms."""
    faults = Faults(leak_bytes=3 * MiB if fault else 0)
    shop = _shop(sink, faults)
    orders = shop["orders"]
    orders.telemetry.gauge(sink, "process.memory.usage", "By", orders.memory_usage,
                           interval_ms=100)
    try:
        for i in range(30):
            _client(shop["gateway"], "POST", "/checkout", {"sku": f"sku-{i % 5 + 1}"})
            time.sleep(0.05)
    finally:
        stop(shop)


@scenario
def partition(sink: Sink, fault: bool) -> None:
    """r3, r4 and r5 are cut off from r1 and r2 for a while; the leader r1 keeps committing."""
    network = Network()
    replicas = start(Replica.CLUSTER, sink, Faults(), network,
                     {n: Replica for n in Replica.CLUSTER})
    leader = replicas["r1"]
    try:
        for i in range(36):
            if fault and i == 8:
                network.partition(["r1", "r2"], ["r3", "r4", "r5"])
            if fault and i == 28:
                network.heal()
            _client(leader, "POST", "/put", {"value": f"v{i}"})
            if network.cut:
                for n in ("r3", "r4", "r5"):  # the cut-off side looks for a leader
                    replicas[n].campaign([p for p in Replica.CLUSTER if p != n])
            time.sleep(0.03)
    finally:
        stop(replicas)


@scenario
def race(sink: Sink, fault: bool) -> None:
    """Two checkouts reserve the same stock row at once; without the lock both read 100."""
    faults = Faults(race=fault, race_window_ms=40)
    shop = _shop(sink, faults)
    try:
        threads = [threading.Thread(target=_client, args=(shop["gateway"], "POST",
                                                          "/checkout", {"sku": "sku-1"}),
                                    daemon=True)
                   for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.005)
        for t in threads:
            t.join(timeout=30)  # each call has a 5 s socket timeout; never hang here
            if t.is_alive():
                raise TimeoutError("a checkout of the race scenario did not finish in 30 s")
    finally:
        stop(shop)


def _client(service, method: str, path: str, body: dict | None = None) -> int:
    """An uninstrumented client (a browser, a load generator) calling ``service``."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
    try:
        conn.request(method, path, body=json.dumps(body or {}).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()
