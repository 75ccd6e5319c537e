"""Session guarantees and eventual consistency: one hand-built history per guarantee that
breaks it (and its repaired twin that keeps it), and the property that a linearizable
store (tests/consistency/stores.py, unique values) never breaks any of them."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from tracelogic.consistency import check, model
from tracelogic.consistency.history import Operation
from tracelogic.consistency.sessions import GUARANTEES, eventual, sessions

from .stores import kv_history

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
# the suite\'s 300 s per test is for the default run
LONG_TIMEOUT = pytest.mark.timeout(4 * 3600 if LONG else 300)


def W(i, v, call, ret, client, status="ok"):
    return Operation(i, "write", v, None, call, ret, status, "k", client)


def R(i, v, call, ret, client):
    return Operation(i, "read", None, v, call, ret, "ok", "k", client)


CASES = {
    "read-your-writes": ([W(0, 1, 0, 1, "a"), W(1, 2, 2, 3, "a"), R(2, 1, 4, 5, "a")],
                         [W(0, 1, 0, 1, "a"), W(1, 2, 2, 3, "a"), R(2, 2, 4, 5, "a")]),
    "monotonic-reads": ([W(0, 1, 0, 1, "w"), W(1, 2, 2, 3, "w"), R(2, 2, 4, 5, "a"),
                         R(3, 1, 6, 7, "a")],
                        [W(0, 1, 0, 1, "w"), W(1, 2, 2, 3, "w"), R(2, 1, 4, 5, "a"),
                         R(3, 2, 6, 7, "a")]),
    "monotonic-writes": ([W(0, 1, 0, 1, "w"), W(1, 2, 2, 3, "w"), R(2, 2, 4, 5, "r"),
                          R(3, 1, 6, 7, "r")],
                         [W(0, 1, 0, 1, "w"), W(1, 2, 2, 3, "w"), R(2, 1, 4, 5, "r"),
                          R(3, 2, 6, 7, "r")]),
    "writes-follow-reads": ([W(0, 1, 0, 1, "x"), R(1, 1, 2, 3, "w"), W(2, 2, 4, 5, "w"),
                             R(3, 2, 6, 7, "r"), R(4, 1, 8, 9, "r")],
                            [W(0, 1, 0, 1, "x"), R(1, 1, 2, 3, "w"), W(2, 2, 4, 5, "w"),
                             R(3, 1, 6, 7, "r"), R(4, 2, 8, 9, "r")]),
}


@pytest.mark.parametrize("guarantee", GUARANTEES)
def test_each_guarantee_is_broken_and_kept(guarantee):
    bad, good = CASES[guarantee]
    r = sessions(bad)
    assert r.verdict(guarantee) == "violated", r
    v = next(v for v in r.violations if v.guarantee == guarantee)
    assert v.key == "k" and v.operations and v.message
    assert sessions(good).verdict() == "satisfied"
    # breaking a session guarantee breaks linearizability (the converse does not hold:
    # a kept guarantee may still come with a stale read from another client)
    assert check(model("register"), bad).verdict == "violated"


def test_a_value_written_twice_is_inconclusive():
    r = sessions([W(0, 1, 0, 1, "a"), W(1, 1, 2, 3, "b"), R(2, 1, 4, 5, "a")])
    assert r.verdict() == "inconclusive" and "written twice" in r.inconclusive[0][1]


def test_eventual_convergence_within_the_bound():
    h = [W(0, 1, 0, 10, "w"), R(1, None, 12, 13, "a"), R(2, 1, 30, 31, "b"),
         R(3, 1, 40, 41, "a")]
    assert eventual(h, bound_ns=1).verdict() == "violated"   # nil at 12, 1 at 30
    assert eventual(h, bound_ns=15).verdict() == "satisfied"  # only reads from 25 on
    with pytest.raises(ValueError, match="bound_ns=-1"):
        eventual(h, bound_ns=-1)


@LONG_TIMEOUT
@settings(max_examples=300 * (50 if LONG else 1), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kv_history(bug="none", with_cas=False, unique=True))
def test_a_linearizable_store_keeps_every_session_guarantee(case):
    _, ops = case
    assert check(model("register"), ops).verdict == "satisfied"
    r = sessions(ops)
    assert r.verdict() == "satisfied", [v.message for v in r.violations]
