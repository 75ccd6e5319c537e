"""The Wing–Gong–Lowe search against the brute-force oracle, over correct and buggy
stores (tests/consistency/stores.py), and its witness, budget and edge cases.

0 disagreements is the acceptance bar (issue 18). TRACELOGIC_LONG=1 multiplies the
example counts by 50.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tracelogic.consistency import Budget, Operation, check, check_key, model
from tracelogic.consistency import oracle
from tracelogic.consistency.linearizability import _relaxed

from .stores import BUGS, kv_history, model_history

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
# the suite\'s 300 s per test is for the default run
LONG_TIMEOUT = pytest.mark.timeout(4 * 3600 if LONG else 300)
N = 50 if LONG else 1
O = Operation
KV = model("cas-register")


def agree(m, ops):
    got = check(m, ops)
    want = oracle.linearizable(m, ops)
    assert got.verdict == ("satisfied" if want else "violated"), (got.text(), ops)
    return got


@LONG_TIMEOUT
@settings(max_examples=400 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kv_history())
def test_search_agrees_with_the_oracle_on_every_store(case):
    bug, ops = case
    got = agree(KV, ops)
    if bug == "none":  # the correct store is linearizable by construction
        assert got.verdict == "satisfied", got.text()


@pytest.mark.parametrize("bug", BUGS[1:])
@LONG_TIMEOUT
@settings(max_examples=100 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_bug_is_found_where_the_oracle_finds_it(bug, data):
    _, ops = data.draw(kv_history(bug=bug, keys=1, with_cas=False))
    agree(model("register"), ops)


@pytest.mark.parametrize("name", ["counter", "set", "queue"])
@LONG_TIMEOUT
@settings(max_examples=200 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_other_models_agree_with_the_oracle(name, data):
    agree(model(name), data.draw(model_history(name)))


@LONG_TIMEOUT
@settings(max_examples=150 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kv_history(bug="stale", keys=1))
def test_a_witness_fails_and_is_one_minimal(case):
    _, ops = case
    r = check(KV, ops)
    if r.verdict != "violated":
        return
    w = r.violations[0].witness
    assert w.minimal
    keep = {o.id for o in w.operations}

    def relaxed_except(ids):
        return [o if o.id in ids or o.status != "ok" else _relaxed(o) for o in ops
                if o.status != "fail"]

    assert not oracle.linearizable(KV, relaxed_except(keep))
    for o in w.operations:  # relaxing any one more makes it linearizable
        assert oracle.linearizable(KV, relaxed_except(keep - {o.id}))
    # the partial linearization is one the model accepts, in real-time order
    assert oracle.linearizable(KV, [o for o in w.partial]) or any(
        o.indeterminate for o in w.partial)


def test_the_witness_of_a_stale_read():
    h = [O(0, "write", 1, None, 0, 10), O(1, "read", None, 2, 11, 20),
         O(2, "write", 2, None, 5, 30), O(3, "read", None, 1, 21, 25)]
    r = check(model("register"), h)
    assert r.verdict == "violated"
    w = r.violations[0].witness
    assert [o.id for o in w.operations] == [0, 1, 3] and w.minimal
    assert [o.id for o in w.partial] == [0, 2, 1] and w.state == 2
    assert w.blocked.id == 3
    assert "read() -> 1 returned and could not be placed" in r.text()
    js = r.to_json()
    assert js["verdict"] == "violated" and js["keys"][0]["witness"]["state"] == 2


def test_indeterminate_operations_may_take_effect_late_or_never():
    m = model("register")
    w = O(0, "write", 1, None, 0, 0, "indeterminate")
    # it may take effect after a later read...
    assert check(m, [w, O(1, "read", None, None, 5, 6), O(2, "read", None, 1, 7, 8)]
                 ).verdict == "satisfied"
    # ...or never, but never before its call
    assert check(m, [w, O(1, "read", None, None, 50, 60)]).verdict == "satisfied"
    late = O(0, "write", 1, None, 10, 0, "indeterminate")
    assert check(m, [late, O(1, "read", None, 1, 0, 5)]).verdict == "violated"


def test_failed_operations_never_take_effect():
    m = model("register")
    h = [O(0, "write", 1, None, 0, 1, "fail"), O(1, "read", None, 1, 2, 3)]
    assert check(m, h).verdict == "violated"
    assert check(m, h[1:] + [O(2, "write", 1, None, 0, 1)]).verdict == "satisfied"


def test_touching_operations_are_concurrent():
    m = model("register")
    # the read's call is the write's return: either order is allowed
    assert check(m, [O(0, "write", 1, None, 0, 5), O(1, "read", None, None, 5, 6)]
                 ).verdict == "satisfied"
    assert check(m, [O(0, "write", 1, None, 0, 4), O(1, "read", None, None, 5, 6)]
                 ).verdict == "violated"


def test_keys_are_checked_apart():
    h = [O(0, "write", 1, None, 0, 1, key="a"), O(1, "read", None, 1, 2, 3, key="a"),
         O(2, "read", None, 1, 2, 3, key="b")]
    r = check(model("kv"), h)
    assert [(k.key, k.verdict) for k in r.keys] == [("a", "satisfied"), ("b", "violated")]
    assert r.verdict == "violated"


def test_a_spent_budget_is_inconclusive_never_a_verdict():
    # many concurrent writes and a read nobody wrote: a search with room says violated,
    # one with 5 steps must say inconclusive with its reason
    h = [O(i, "write", i, None, 0, 100) for i in range(8)] + [O(8, "read", None, 99, 0, 100)]
    full = check_key(model("register"), h)
    assert full.verdict == "violated"
    r = check_key(model("register"), h, budget=Budget(steps=5))
    assert r.verdict == "inconclusive" and "budget of 5 steps" in r.reason
    assert r.witness is None
    with pytest.raises(ValueError, match="steps=0"):
        Budget(steps=0)


def test_the_oracle_refuses_big_histories():
    with pytest.raises(ValueError, match="at most 8"):
        oracle.linearizable(KV, [O(i, "write", i, None, i, i) for i in range(9)])
