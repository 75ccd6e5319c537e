"""Wait-for graphs and deadlock detection, from lock attributes and from span events."""
from __future__ import annotations

import itertools
import random

import networkx as nx

from tracelogic.analysis import SpanEvent, find_deadlocks, lock_intervals, wait_for_graph

from .helpers import MS, T0, Builder


def two_transactions(b: Builder, *, second_waits_from=6, timeout=(15, 16)):
    t1 = b.span("POST /orders", 0, 20, service="orders", kind="server", trace=1)
    h1 = b.span("lock orders:7", 1, 15, t1, service="orders", lock__name="orders:7",
                lock__op="hold")
    w1 = b.span("acquire stock:42", 5, timeout[0], t1, service="orders", status="error",
                lock__name="stock:42", lock__op="wait")
    t2 = b.span("POST /restock", 0, 20, service="stock", kind="server", trace=2)
    h2 = b.span("lock stock:42", 2, 16, t2, service="stock", lock__name="stock:42",
                lock__op="hold")
    w2 = b.span("acquire orders:7", second_waits_from, timeout[1], t2, service="stock",
                lock__name="orders:7", lock__op="acquire")
    return t1, h1, w1, t2, h2, w2


def test_a_two_party_deadlock_is_found_with_its_cycle():
    b = Builder()
    t1, h1, w1, t2, h2, w2 = two_transactions(b)
    [d] = find_deadlocks(b.spans)
    assert d.owners == [t1.trace_id, t2.trace_id]
    assert [(e.waiter, e.lock, e.holder) for e in d.edges] == [
        (t1.trace_id, "stock:42", t2.trace_id), (t2.trace_id, "orders:7", t1.trace_id)]
    assert [(e.wait.span.span_id, e.hold.span.span_id) for e in d.edges] == [
        (w1.span_id, h2.span_id), (w2.span_id, h1.span_id)]
    assert d.span_ids == [w1.span_id, h2.span_id, w2.span_id, h1.span_id]
    assert (d.at_ns, d.until_ns) == (T0 + 6 * MS, T0 + 15 * MS)
    assert d.describe() == (
        "deadlock between 2 owners for 9.000 ms: orders:POST /orders (trace 00000000) waits "
        "for 'stock:42' held by stock:POST /restock (trace 00000000); stock:POST /restock "
        "(trace 00000000) waits for 'orders:7' held by orders:POST /orders (trace 00000000)")


def test_waits_that_never_overlap_in_time_are_no_deadlock():
    b = Builder()
    # the second transaction starts waiting only after the first gave up
    two_transactions(b, second_waits_from=15.5)
    assert find_deadlocks(b.spans) == []
    # only the first transaction waited while the other held its lock
    assert [(e.lock, e.start_ns - T0, e.end_ns - T0) for e in wait_for_graph(
        lock_intervals(b.spans))] == [("stock:42", 5 * MS, 15 * MS)]


def test_lock_owner_attribute_and_span_events():
    b = Builder()
    s1 = b.span("tx", 0, 30, service="db", trace=1, lock__owner="tx-1")
    s2 = b.span("tx", 0, 30, service="db", trace=1, lock__owner="tx-2")
    s3 = b.span("tx", 0, 30, service="db", trace=1, lock__owner="tx-3")
    ev = lambda name, t, lock: SpanEvent(name, T0 + t * MS, {"lock.name": lock})  # noqa: E731
    events = {
        s1.key: (ev("lock.wait", 0, "a"), ev("lock.acquired", 1, "a"), ev("lock.wait", 5, "b")),
        s2.key: (ev("lock.acquired", 2, "b"), ev("lock.wait", 6, "c")),
        s3.key: (ev("lock.acquired", 3, "c"), ev("lock.wait", 7, "a"),
                 ev("lock.released", 9, "c")),
    }
    ivs = lock_intervals(b.spans, events)
    assert sorted((i.owner, i.lock, i.kind, (i.start_ns - T0) // MS, (i.end_ns - T0) // MS)
                  for i in ivs) == [
        ("tx-1", "a", "hold", 1, 30), ("tx-1", "a", "wait", 0, 1), ("tx-1", "b", "wait", 5, 30),
        ("tx-2", "b", "hold", 2, 30), ("tx-2", "c", "wait", 6, 30),
        ("tx-3", "a", "wait", 7, 30), ("tx-3", "c", "hold", 3, 9)]
    [d] = find_deadlocks(b.spans, events)
    assert d.owners == ["tx-1", "tx-2", "tx-3"]
    assert [e.lock for e in d.edges] == ["b", "c", "a"]
    assert (d.at_ns - T0, d.until_ns - T0) == (7 * MS, 9 * MS)
    # owners name their service too (issue 21 item 8)
    assert "tx-3 (service db) waits for 'a' held by tx-1 (service db)" in d.describe()
    assert d.to_json()["labels"]["tx-2"] == "tx-2 (service db)"


def brute_force_cycles(edges):
    """Owner cycles whose edges are all active at one instant, checked at every instant."""
    found = set()
    instants = sorted({e.start_ns for e in edges})
    for t in instants:
        g = nx.DiGraph()
        g.add_edges_from((e.waiter, e.holder) for e in edges if e.start_ns <= t < e.end_ns)
        for cyc in nx.simple_cycles(g):
            found.add(frozenset(cyc))
    return found


def test_random_lock_histories_against_a_brute_force_sweep():
    rng = random.Random(7)
    for _ in range(150):
        b = Builder()
        owners = rng.randint(2, 4)
        for o, k in itertools.product(range(owners), range(rng.randint(1, 3))):
            a, e = sorted(rng.sample(range(40), 2))
            b.span("x", a, e, service="s", trace=1, lock__owner=f"o{o}",
                   lock__name=f"L{rng.randint(0, 2)}", lock__op=rng.choice(["hold", "wait"]))
        edges = wait_for_graph(lock_intervals(b.spans))
        expected = brute_force_cycles(edges)
        got = find_deadlocks(b.spans)
        got_sets = {frozenset(d.owners) for d in got}
        # every reported cycle is real, and every instant with a cycle has one reported
        assert got_sets <= expected
        assert bool(got_sets) == bool(expected)
        for d in got:
            assert all(e.start_ns <= d.at_ns < e.end_ns for e in d.edges)
            assert [e.holder for e in d.edges] == d.owners[1:] + d.owners[:1]
