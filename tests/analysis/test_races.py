"""Race candidates: exactly the overlapping writes that happens-before leaves unordered."""
from __future__ import annotations

import random
from collections import defaultdict

from tracelogic.analysis import happens_before, race_candidates
from tracelogic.analysis.races import accesses

from .helpers import MS, Builder


def test_two_concurrent_requests_writing_one_row_race():
    b = Builder()
    r1 = b.span("POST /cart", 0, 50, service="cart", kind="server", trace=1)
    w1 = b.span("UPDATE stock", 10, 30, r1, service="cart", kind="client",
                resource__name="stock/sku-42", resource__access="write")
    r2 = b.span("POST /cart", 5, 55, service="cart", kind="server", trace=2)
    w2 = b.span("UPDATE stock", 20, 40, r2, service="cart", kind="client",
                resource__name="stock/sku-42", resource__access="write")
    b.span("SELECT stock", 25, 26, r2, service="cart", kind="client",
           resource__name="stock/sku-42", resource__access="read")
    [race] = race_candidates(b.spans)
    assert race.resource == "stock/sku-42"
    assert race.span_ids == [w1.span_id, w2.span_id]
    assert race.overlap_ns == 10 * MS
    assert race.describe() == (
        f"write by cart:UPDATE stock ({w1.span_id}) and write by cart:UPDATE stock "
        f"({w2.span_id}) to 'stock/sku-42' overlap for 10.000 ms and are not ordered by "
        "happens-before")
    assert len(race_candidates(b.spans, include_reads=True)) == 3


def test_sequential_nested_and_skewed_but_ordered_writes_do_not_race():
    b = Builder()
    root = b.span("handler", 0, 100, service="api", kind="server")
    outer = b.span("save order", 10, 60, root, service="api", resource__name="order/1",
                   resource__access="write")
    b.span("INSERT", 20, 30, outer, service="api", resource__name="order/1",
           resource__access="write")                          # nested in the outer write
    b.span("UPDATE", 60, 70, root, service="api", resource__name="order/1",
           resource__access="write")                          # after it, same clock
    # a remote write that *looks* overlapping because its clock runs 10 ms behind,
    # but is causally after the local write (the call starts after the write ended)
    call = b.span("POST /audit", 71, 90, root, service="api", kind="client")
    b.span("audit write", 65, 75, call, service="audit", kind="server",
           resource__name="order/1", resource__access="write")
    assert race_candidates(b.spans) == []


def reference_hb(spans):
    """Happens-before edges written out the obvious way (quadratic siblings, no clock nodes)."""
    by = {s.key: s for s in spans}
    succ = defaultdict(set)
    kids = defaultdict(list)
    for s in spans:
        succ[(s.key, "start")].add((s.key, "end"))
        p = by.get((s.trace_id, s.parent_id)) if s.parent_id else None
        if p is not None:
            kids[p.key].append(s)
            succ[(p.key, "start")].add((s.key, "start"))
            if p.kind != "producer" and s.kind != "consumer":
                succ[(s.key, "end")].add((p.key, "end"))
        for t in s.links:
            if t in by and t != s.key:
                succ[(t, "start")].add((s.key, "start"))
    for pk, cs in kids.items():
        mine = [c for c in cs if c.service == by[pk].service]
        for a in mine:
            for c in mine:
                if a is not c and a.end_ns > a.start_ns and a.end_ns <= c.start_ns:
                    succ[(a.key, "end")].add((c.key, "start"))

    def reach(x, y):
        seen, todo = {x}, [x]
        while todo:
            n = todo.pop()
            if n == y:
                return True
            for m in succ[n]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return False
    return reach


def random_system(rng: random.Random) -> Builder:
    b = Builder()
    made = []
    for t in range(1, rng.randint(2, 4)):
        spans = []
        for i in range(rng.randint(2, 8)):
            a = rng.randint(0, 60)
            e = a + rng.choice([0, rng.randint(1, 40)])
            parent = rng.choice(spans) if spans else None
            attrs = {}
            if rng.random() < 0.6:
                attrs = {"resource__name": rng.choice(["r0", "r1"]),
                         "resource__access": rng.choice(["write", "write", "read"])}
            links = (rng.choice(made),) if made and rng.random() < 0.2 else ()
            spans.append(b.span(f"s{i}", a, e, parent, service=rng.choice(["a", "b"]),
                                kind=rng.choice(["internal", "client", "server", "producer",
                                                 "consumer"]), trace=t, links=links, **attrs))
        made += spans
    return b


def test_random_systems_against_the_reference():
    rng = random.Random(11)
    total = 0
    for _ in range(300):
        spans = random_system(rng).spans
        reach = reference_hb(spans)
        hb = happens_before(spans)
        writes = [x for x in accesses(spans) if x.access == "write"]
        expected = set()
        for i, x in enumerate(writes):
            for y in writes[i + 1:]:
                a, c = x.span, y.span
                if x.resource != y.resource:
                    continue
                if not (x.start_ns < y.end_ns and y.start_ns < x.end_ns):
                    continue
                st = lambda s: (s.key, "start")  # noqa: E731
                en = lambda s: (s.key, "end")  # noqa: E731
                ordered = (reach(en(a), st(c)) or reach(en(c), st(a))
                           or (reach(st(a), st(c)) and reach(en(c), en(a)))
                           or (reach(st(c), st(a)) and reach(en(a), en(c))))
                # the optimised graph agrees on every query, not only on the verdicts
                assert hb.ordered(a, c) == ordered
                if not ordered:
                    expected.add(frozenset((a.span_id, c.span_id)))
        got = [frozenset(r.span_ids) for r in race_candidates(spans, hb=hb)]
        assert len(got) == len(set(got))
        assert set(got) == expected
        total += len(expected)
    assert total > 50  # the generator does produce races
