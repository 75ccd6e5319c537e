"""The metrics registry: a batch of observations is the same as observing them one by one."""
from __future__ import annotations

import random

from tracelogic.sidecar.prometheus import LATENCY_BUCKETS, Registry


def test_observe_many_is_observe_one_by_one():
    rng = random.Random(5)
    values = [rng.choice(LATENCY_BUCKETS) for _ in range(50)]  # on a bound: that bucket
    values += [rng.uniform(0, 12) for _ in range(200)] + [0.0, 11.0, 1e9]  # beyond the last
    one, many = Registry(), Registry()
    for r in (one, many):
        r.histogram("h", "a histogram", labels=("l",))
    pairs = [(v, rng.randint(1, 3)) for v in values]
    for v, n in pairs:
        for _ in range(n):
            one.observe("h", v, "x")
    many.observe_many("h", pairs[:100], "x")
    many.observe_many("h", pairs[100:], "x")
    a, b = one.render().splitlines(), many.render().splitlines()
    assert [ln for ln in a if "_sum" not in ln] == [ln for ln in b if "_sum" not in ln]
    sa, sb = (float(next(ln for ln in x if "_sum" in ln).split()[-1]) for x in (a, b))
    assert abs(sa - sb) <= 1e-9 * max(1.0, sa)
    assert one.quantile("h", 0.99, "x") == many.quantile("h", 0.99, "x")
