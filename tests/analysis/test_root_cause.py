"""Service dependency graph and root-cause ranking, on hand-built and generated cascades."""
from __future__ import annotations

import random

import networkx as nx
import pytest

from tracelogic.analysis import blame_chain, group_traces, root_cause, service_graph
from tracelogic.analysis.services import personalized_pagerank

from .cascade import generate, make_system
from .helpers import MS, Builder


def slow_database_cascade(b: Builder, trace: int, *, db_ms: float = 2500):
    """gateway -> orders -> inventory -> inventory-db; the database is slow, callers time out."""
    gw = b.span("POST /checkout", 0, 1030, service="gateway", kind="server", trace=trace,
                status="error", http__response__status_code=503)
    c1 = b.span("POST /orders", 5, 1020, gw, service="gateway", kind="client", status="error")
    orders = b.span("POST /orders", 6, 1019, c1, service="orders", kind="server",
                    status="error")
    c2 = b.span("GET /stock", 10, 1010, orders, service="orders", kind="client",
                status="error", error__type="timeout")
    inv = b.span("GET /stock", 12, 12 + db_ms + 5, c2, service="inventory", kind="server")
    db = b.span("SELECT stock", 14, 14 + db_ms, inv, service="inventory", kind="client",
                db__system="sqlite", peer__service="inventory-db",
                db__query__text="SELECT qty FROM stock WHERE sku = ?")
    return gw, c1, orders, c2, inv, db


def healthy(b: Builder, trace: int):
    gw = b.span("POST /checkout", 0, 40, service="gateway", kind="server", trace=trace)
    c1 = b.span("POST /orders", 5, 35, gw, service="gateway", kind="client")
    orders = b.span("POST /orders", 6, 34, c1, service="orders", kind="server")
    c2 = b.span("GET /stock", 10, 30, orders, service="orders", kind="client")
    inv = b.span("GET /stock", 12, 28, c2, service="inventory", kind="server")
    b.span("SELECT stock", 14, 20, inv, service="inventory", kind="client",
           db__system="sqlite", peer__service="inventory-db")
    b.span("INSERT audit", 30, 32, orders, service="orders", kind="client",
           db__system="postgresql", db__namespace="audit")
    return gw


def test_the_slow_database_is_ranked_first_with_the_propagation_chain():
    b = Builder()
    roots = [slow_database_cascade(b, t)[0] for t in range(1, 6)]
    for t in range(6, 16):
        healthy(b, t)
    traces = group_traces(b.spans)
    rc = root_cause(traces, roots)
    assert [r.service for r in rc.ranking] == ["inventory-db", "gateway", "orders", "inventory"]
    assert rc.ranking[0].score > 0.5 > rc.ranking[1].score
    top = rc.top
    assert (top.stops, top.passes, top.chains) == (5, 0, 5)
    assert [(h.service, h.reason) for h in top.chain] == [
        ("gateway", "symptom"), ("orders", "error"), ("inventory", "timeout"),
        ("inventory-db", "callee")]
    assert top.chain[0].span.span_id == roots[0].span_id
    assert top.chain[-1].span.name == "SELECT stock"
    lines = rc.explain()
    assert lines[0].startswith("gateway: POST /checkout error, 1030.0 ms")
    assert "calls orders -> inventory: 5/15 failed" in lines[2]
    assert lines[3].startswith("inventory-db: SELECT stock, 2500.0 ms")
    assert rc.unexplained == []
    assert rc.to_json()["ranking"][0]["service"] == "inventory-db"


def test_a_latency_symptom_follows_the_dominant_child():
    b = Builder()
    gw = healthy(b, 1)
    t = group_traces(b.spans)[0]
    assert [(h.service, h.reason) for h in blame_chain(t, gw)] == [
        ("gateway", "symptom"), ("orders", "waited"), ("inventory", "waited")]


def test_service_graph_edges_count_calls_errors_and_latency():
    b = Builder()
    slow_database_cascade(b, 1)
    healthy(b, 2)
    p = b.span("publish", 0, 5, service="orders", kind="producer", trace=3)
    b.span("process", 10, 20, service="billing", kind="consumer", trace=4, links=(p,))
    g = service_graph(group_traces(b.spans))
    assert [(e.caller, e.callee, e.calls, e.errors, e.asynchronous) for e in g.edges] == [
        ("gateway", "orders", 2, 1, False), ("inventory", "inventory-db", 2, 0, False),
        ("orders", "billing", 1, 0, True), ("orders", "inventory", 2, 1, False),
        ("orders", "postgresql/audit", 1, 0, False)]
    e = g.edge("inventory", "inventory-db")
    assert e.quantile(0.95) == 2500 * MS and e.quantile(0.5) == 6 * MS
    assert g.graph.nodes["inventory-db"]["instrumented"] is False
    assert g.graph.nodes["orders"]["instrumented"] is True
    assert g.edge("orders", "billing").asynchronous
    assert 'shape=cylinder' in g.to_dot()


def test_metric_symptoms_seed_their_service():
    b = Builder()
    healthy(b, 1)
    rc = root_cause(group_traces(b.spans), [], service_symptoms={"inventory": 3.0})
    assert rc.top.service == "inventory"
    assert rc.ranking[0].stops == 3


def test_nothing_to_explain():
    b = Builder()
    healthy(b, 1)
    rc = root_cause(b.spans, ["ffffffffffffffff"])
    assert rc.ranking == [] and rc.top is None and rc.unexplained == ["ffffffffffffffff"]
    assert rc.explain() == []


@pytest.mark.parametrize("seed", range(24))
def test_generated_cascades_rank_the_faulty_node_first(seed):
    rng = random.Random(seed)
    system = generate(make_system(rng), rng, noise=0.1)
    traces = group_traces(system.spans)
    symptoms = [r for t in traces for r in t.roots
                if r.status == "error" or r.end_ns - r.start_ns > 1000 * MS]
    rc = root_cause(traces, symptoms)
    assert rc.top.service == system.faulty, (system.calls, system.mode)
    assert [h.service for h in rc.top.chain] == system.path_to(system.faulty)
    # the symptom services pass blame on and are demoted below the cause
    if system.faulty != "gateway":
        gw = next(r for r in rc.ranking if r.service == "gateway")
        assert gw.score < rc.top.score and gw.pagerank > 0


def test_personalised_pagerank_matches_networkx():  # networkx needs scipy: a test extra
    rng = random.Random(5)
    for _ in range(20):
        g = nx.gnp_random_graph(8, 0.3, seed=rng.randrange(10**6), directed=True)
        for u, v in g.edges:
            g.edges[u, v]["weight"] = rng.uniform(0.1, 2)
        seeds = {n: rng.random() for n in rng.sample(list(g.nodes), 3)}
        ours = personalized_pagerank(g, seeds)
        total = sum(seeds.values())
        pers = {n: seeds.get(n, 0) / total for n in g.nodes}
        ref = nx.pagerank(g, alpha=0.85, personalization=pers, dangling=pers, tol=1e-12,
                          max_iter=1000)
        for n in g.nodes:
            assert ours[n] == pytest.approx(ref[n], abs=1e-8)


def test_many_calls_to_one_callee_are_blamed_together():
    b = Builder()
    root = b.span("POST /reserve", 0, 1000, service="inventory", kind="server")
    section = b.span("reserve stock", 5, 995, root, service="inventory")
    b.span("SELECT", 10, 455, section, service="inventory", kind="client",
           peer__service="inventory-db")
    upd = b.span("UPDATE", 500, 990, section, service="inventory", kind="client",
                 peer__service="inventory-db")
    chain = blame_chain(group_traces(b.spans)[0], root)
    assert [(h.service, h.reason, h.span.span_id) for h in chain] == [
        ("inventory", "symptom", root.span_id), ("inventory-db", "callee", upd.span_id)]
    # spread over two different callees, neither took most of the time: its own fault
    b2 = Builder()
    root = b2.span("POST /reserve", 0, 1000, service="inventory", kind="server")
    b2.span("SELECT", 10, 455, root, service="inventory", kind="client", peer__service="a-db")
    b2.span("UPDATE", 500, 990, root, service="inventory", kind="client", peer__service="b-db")
    assert [h.service for h in blame_chain(group_traces(b2.spans)[0], root)] == ["inventory"]
