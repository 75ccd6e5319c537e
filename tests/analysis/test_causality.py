"""Happens-before graph and its checks: cycles, clock skew, broken causal chains."""
from __future__ import annotations

import networkx as nx

from tracelogic.analysis import SpanEvent, check_causality, happens_before
from tracelogic.ingest.spans import Span

from .helpers import MS, T0, Builder, sid, tid


def rpc(b: Builder, *, server_start=12, server_end=18, client=(10, 20), trace=None):
    root = b.span("GET /checkout", 0, 30, service="gateway", kind="server", trace=trace)
    call = b.span("POST /orders", *client, root, service="gateway", kind="client")
    srv = b.span("POST /orders", server_start, server_end, call, service="orders",
                 kind="server")
    return root, call, srv


def test_a_consistent_trace_passes_every_check():
    b = Builder()
    rpc(b)
    rep = check_causality(b.spans)
    assert rep.ok and rep.spans == 3
    assert rep.to_json()["acyclic"] is True


def test_child_starting_before_its_parent_is_clock_skew():
    b = Builder()
    _, call, srv = rpc(b, server_start=7)
    rep = check_causality(b.spans)
    assert [(s.kind, s.source.span_id, s.target.span_id, s.amount_ns) for s in rep.skews] == [
        ("child_starts_before_parent", call.span_id, srv.span_id, 3 * MS)]
    assert rep.skew_by_services() == [("gateway", "orders", 1, 3 * MS)]
    assert "starts 3.000 ms before its parent gateway:POST /orders" in rep.skews[0].describe()
    assert not check_causality(b.spans, tolerance_ns=3 * MS).skews


def test_synchronous_child_ending_late_is_skew_but_async_children_may_outlive():
    b = Builder()
    _, call, srv = rpc(b, server_end=25)
    rep = check_causality(b.spans)
    assert [(s.kind, s.source.span_id, s.target.span_id, s.amount_ns) for s in rep.skews] == [
        ("child_ends_after_parent", srv.span_id, call.span_id, 5 * MS)]
    b2 = Builder()
    root = b2.span("publish", 0, 10, service="a", kind="producer")
    b2.span("consume", 5, 50, root, service="b", kind="consumer")
    assert check_causality(b2.spans).ok
    # a client that timed out stops waiting: its server may go on
    b3 = Builder()
    root = b3.span("GET /", 0, 1100, service="a", kind="server")
    call = b3.span("GET /stock", 10, 1010, root, service="a", kind="client", status="error")
    b3.span("GET /stock", 12, 2500, call, service="b", kind="server")
    assert check_causality(b3.spans).ok


def test_a_missing_parent_breaks_the_causal_chain():
    b = Builder()
    root, call, srv = rpc(b)
    lost = Span(name="charge", trace_id=root.trace_id, span_id=sid(77), parent_id=sid(99),
                start_ns=T0 + 13 * MS, end_ns=T0 + 15 * MS, service="payments", kind="server")
    child = Span(name="INSERT", trace_id=root.trace_id, span_id=sid(78), parent_id=sid(77),
                 start_ns=T0 + 13 * MS, end_ns=T0 + 14 * MS, service="payments")
    rep = check_causality(b.spans + [lost, child])
    assert not rep.cycles and not rep.skews
    [broken] = rep.broken
    assert broken.trace_id == root.trace_id
    assert [[s.span_id for s in p] for p in broken.parts] == [
        [root.span_id, call.span_id, srv.span_id], [lost.span_id, child.span_id]]
    assert f"parent {sid(99)} never arrived" in broken.describe()


def test_links_order_traces_and_a_circle_of_links_is_a_cycle():
    b = Builder()
    a = b.span("publish", 0, 5, service="a", trace=1)
    c = b.span("consume", 10, 20, service="b", trace=2, links=(a,))
    hb = happens_before(b.spans)
    assert hb.reaches(hb.start(a), hb.start(c)) and not hb.reaches(hb.start(c), hb.start(a))
    assert check_causality(b.spans).ok
    # a link to a span that starts later is skew
    b2 = Builder()
    late = b2.span("publish", 30, 35, service="a", trace=1)
    early = b2.span("consume", 10, 20, service="b", trace=2, links=(late,))
    rep = check_causality(b2.spans)
    assert [(s.kind, s.source.span_id, s.target.span_id) for s in rep.skews] == [
        ("link", late.span_id, early.span_id)]
    # two spans linking to each other
    x = Span(name="x", trace_id=tid(5), span_id=sid(5), start_ns=T0, end_ns=T0 + MS,
             links=((tid(6), sid(6)),))
    y = Span(name="y", trace_id=tid(6), span_id=sid(6), start_ns=T0, end_ns=T0 + MS,
             links=((tid(5), sid(5)),))
    rep = check_causality([x, y])
    assert [[s.span_id for s in c.spans] for c in rep.cycles] == [[sid(5), sid(6)]] or \
        [[s.span_id for s in c.spans] for c in rep.cycles] == [[sid(6), sid(5)]]
    assert rep.cycles[0].kinds == ["link", "link"]
    assert not rep.ok and rep.to_json()["acyclic"] is False


def test_rpc_message_events_order_send_before_receive():
    b = Builder()
    root, call, srv = rpc(b)
    events = {
        call.key: (SpanEvent("message", T0 + 11 * MS, {"message.type": "SENT", "message.id": 1}),
                   SpanEvent("message", T0 + 19 * MS, {"message.type": "RECEIVED",
                                                        "message.id": 1})),
        srv.key: (SpanEvent("message", T0 + 12 * MS, {"message.type": "RECEIVED",
                                                       "message.id": 1}),
                  SpanEvent("message", T0 + 17 * MS, {"message.type": "SENT", "message.id": 1})),
    }
    hb = happens_before(b.spans, events)
    kinds = sorted(k for _, _, k in hb.graph.edges(data="kind") if k == "message")
    assert kinds == ["message", "message"]
    assert hb.reaches((*call.key, 0), (*srv.key, 0))
    assert hb.reaches((*srv.key, 1), (*call.key, 1))
    assert check_causality(b.spans, events).ok
    # the server's clock is 5 ms behind: it receives before the client sent
    events[srv.key] = (SpanEvent("message", T0 + 6 * MS, {"message.type": "RECEIVED",
                                                           "message.id": 1}),)
    rep = check_causality(b.spans, events)
    assert ("message", call.span_id, srv.span_id, 5 * MS) in [
        (s.kind, s.source.span_id, s.target.span_id, s.amount_ns) for s in rep.skews]


def test_messaging_ids_join_producer_and_consumer():
    b = Builder()
    p = b.span("orders publish", 0, 2, service="orders", kind="producer", trace=1,
               messaging__message__id="m-1")
    c = b.span("orders process", 5, 9, service="billing", kind="consumer", trace=2,
               messaging__message__id="m-1")
    other = b.span("orders process", 5, 9, service="billing", kind="consumer", trace=3,
                   messaging__message__id="m-2")
    hb = happens_before(b.spans)
    assert hb.reaches(hb.start(p), hb.start(c))
    assert not hb.reaches(hb.start(p), hb.start(other))


def test_same_service_siblings_are_ordered_by_their_own_clock_only():
    b = Builder()
    root = b.span("handler", 0, 100, service="api", kind="server")
    w1 = b.span("UPDATE 1", 10, 20, root, service="api", kind="client")
    z = b.span("mark", 20, 20, root, service="api")
    w2 = b.span("UPDATE 2", 20, 30, root, service="api", kind="client")
    par = b.span("UPDATE 3", 15, 25, root, service="api", kind="client")
    remote = b.span("remote", 40, 50, root, service="elsewhere", kind="server")
    hb = happens_before(b.spans)
    assert nx.is_directed_acyclic_graph(hb.graph)
    assert hb.before(w1, w2) and not hb.before(w2, w1)
    assert hb.before(w1, z) and not hb.before(z, w1)
    assert not hb.before(w1, par) and not hb.before(par, w2)
    assert not hb.before(w2, remote)          # another service's clock: no order
    assert hb.nested(root, w1) and not hb.nested(w1, w2)
    assert check_causality(b.spans).ok
