"""Sequential consistency against its brute-force oracle, over the same correct and buggy
stores as linearizability, and the two facts that relate them: every linearizable history
is sequentially consistent, and a stale read from another client may be SC but not
linearizable."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from tracelogic.consistency import Budget, check, model
from tracelogic.consistency import oracle
from tracelogic.consistency.history import Operation
from tracelogic.consistency.sequential import check_sequential

from .stores import kv_history

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
# the suite\'s 300 s per test is for the default run
LONG_TIMEOUT = pytest.mark.timeout(4 * 3600 if LONG else 300)
KV = model("cas-register")


@LONG_TIMEOUT
@settings(max_examples=300 * (50 if LONG else 1), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kv_history())
def test_the_search_agrees_with_the_oracle(case):
    _, ops = case
    got = check_sequential(KV, ops).verdict
    assert got == ("satisfied" if oracle.sequentially_consistent(KV, ops) else "violated")
    # linearizable implies SC when each client is sequential (its operations do not overlap:
    # the generator's clients may overlap, and then invocation order is not real time)
    # (an indeterminate operation never returns: it overlaps every later one of its client)
    def end(o):
        return float("inf") if o.indeterminate else o.ret

    sequential = all(end(a) < b.call or end(b) < a.call for a in ops for b in ops
                     if a is not b and a.client == b.client and a.status != "fail"
                     and b.status != "fail")
    if sequential and check(KV, ops).verdict == "satisfied":
        assert got == "satisfied"


def test_a_stale_read_from_another_client_is_sc_but_not_linearizable():
    O = Operation
    h = [O(0, "write", 1, None, 0, 1, client="a"), O(1, "read", None, None, 2, 3, client="b")]
    assert check(model("register"), h).verdict == "violated"
    assert check_sequential(model("register"), h).verdict == "satisfied"
    # but a client never reads behind its own write
    h2 = h + [O(2, "write", 2, None, 4, 5, client="b"), O(3, "read", None, None, 6, 7,
                                                          client="b")]
    r = check_sequential(model("register"), h2)
    assert r.verdict == "violated" and r.keys[0].witness.partial


def test_the_budget_makes_it_inconclusive():
    O = Operation
    h = [O(i, "write", i, None, 0, 1, client=f"c{i}") for i in range(6)] + \
        [O(9, "read", None, 99, 0, 1, client="r")]
    assert check_sequential(model("register"), h).verdict == "violated"
    r = check_sequential(model("register"), h, budget=Budget(steps=3))
    assert r.verdict == "inconclusive" and "budget of 3 steps" in r.keys[0].reason
