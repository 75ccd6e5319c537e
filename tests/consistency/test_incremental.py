"""The window-by-window checker `serve` runs, against the whole-history search (itself
checked against the brute-force oracle in test_linearizability.py): the same verdict on
every key, wherever the watermark cuts the history, in whatever order the operations
arrive; and its limits (window, late operations, budget) as explicit verdicts.

TRACELOGIC_LONG=1 multiplies the example counts by 50.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tracelogic.consistency import Budget, Operation, check_key, model
from tracelogic.consistency.history import by_key
from tracelogic.consistency.incremental import KeyState, check_window, cut

from .stores import kv_history, model_history

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
LONG_TIMEOUT = pytest.mark.timeout(4 * 3600 if LONG else 300)
N = 50 if LONG else 1
O = Operation
BIG = Budget(steps=None)


def stream(m, ops, data) -> dict:
    """Feed ``ops`` to one KeyState per key as serve would: each arrives some time after
    it returned, the watermark trails the arrivals by the lateness, and the end of the
    stream releases everything. Returns key -> (verdict, windows)."""
    delay = [data.draw(st.integers(0, 6)) for _ in ops]
    arrive = sorted(range(len(ops)), key=lambda i: (max(ops[i].call, ops[i].ret) + delay[i], i))
    lateness = max((max(o.call, o.ret) + d - o.call for o, d in zip(ops, delay)), default=0)
    keys: dict = {}
    for i in arrive:
        o = ops[i]
        now = max(o.call, o.ret) + delay[i]
        ks = keys.setdefault(o.key, KeyState(o.key, m))
        assert ks.add(o) in ("ok", "dropped", "unchecked")
        if data.draw(st.booleans()):  # serve polls now and then
            for k in keys.values():
                k.advance(now - lateness, budget=BIG, max_configs=1000)
    for k in keys.values():
        k.advance(1 << 62, budget=BIG, max_configs=1000)
        assert k.verdict != "open" or not k.window
    return {k: (s.verdict, s.windows) for k, s in keys.items()}


def whole(m, ops) -> dict:
    return {k: check_key(m, part, key=k, budget=BIG).verdict for k, part in by_key(ops).items()}


def agree(m, ops, data):
    got = stream(m, ops, data)
    want = whole(m, ops)
    for k, (verdict, _) in got.items():
        assert {"open": "satisfied"}.get(verdict, verdict) == want[k], (k, got, ops)
    return got


@LONG_TIMEOUT
@settings(max_examples=100 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kv_history(max_ops=10), st.data())
def test_windows_agree_with_the_whole_history_on_every_store(case, data):
    _, ops = case
    agree(model("cas-register"), ops, data)


@pytest.mark.parametrize("name", ["counter", "set", "queue"])
@LONG_TIMEOUT
@settings(max_examples=30 * N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_windows_agree_on_the_other_models(name, data):
    agree(model(name), data.draw(model_history(name)), data)


def test_a_sequential_history_is_checked_in_many_windows():
    ops = [O(i, "write" if i % 2 == 0 else "read", i // 2 * 10 if i % 2 == 0 else None,
             None if i % 2 == 0 else i // 2 * 10, 10 * i, 10 * i + 5) for i in range(20)]
    ks = KeyState(None, model("register"))
    for o in ops:
        ks.add(o)
        ks.advance(o.ret + 1, budget=BIG, max_configs=8)
    assert ks.verdict == "open" and ks.windows == 20 and ks.checked == 20 and not ks.window


def test_an_indeterminate_write_stays_pending_across_windows():
    # the timed-out write(5) may take effect long after its window: between the two reads
    ops = [O(0, "write", 5, None, 0, 1, "indeterminate"),
           O(1, "read", None, None, 10, 11), O(2, "read", None, 5, 20, 21)]
    ks = KeyState(None, model("register"))
    for o in ops:
        ks.add(o)
        ks.advance(o.call + 2, budget=BIG, max_configs=8)
    assert ks.windows == 3 and ks.verdict == "open", ks.reason
    assert whole(model("register"), ops) == {None: "satisfied"}


def test_a_stale_read_is_violated_with_a_witness_from_the_carried_state():
    ops = [O(0, "write", 1, None, 0, 1), O(1, "write", 2, None, 10, 11),
           O(2, "read", None, 1, 20, 21)]
    ks = KeyState("k", model("register"))
    results = []
    for o in ops:
        ks.add(o)
        results.append(ks.advance(o.ret + 1, budget=BIG, max_configs=8))
    assert ks.verdict == "violated"
    last = results[-1]
    assert last.verdict == "violated" and last.initial_state == 2
    w = last.result.witness
    assert [o.id for o in w.operations] == [2] and w.state == 2


def test_the_cut_waits_for_overlapping_operations_and_the_watermark():
    a, b = O(0, "write", 1, None, 0, 10), O(1, "read", None, 1, 5, 12)
    c = O(2, "read", None, 1, 20, 21)
    assert cut([a, b, c], 5) == 0          # b not invoked before the watermark... a still open
    assert cut([a, b, c], 15) == 2         # a and b returned before c was invoked
    assert cut([a, b, c], 100) == 3
    assert cut([a, b], 11) == 0            # b returns at 12, after the watermark
    assert cut([a, O(4, "read", None, None, 10, 12)], 100) == 2  # touching: concurrent
    ind = O(3, "write", 2, None, 1, 0, "indeterminate")
    assert cut([a, ind, b, c], 15) == 3     # an indeterminate operation never blocks a cut


def test_operations_whose_times_touch_stay_in_one_window():
    # the read may come first: write(1) returned at 10, the read was invoked at 10
    ks = KeyState("k", model("register"))
    ks.add(O(0, "write", 1, None, 0, 10))
    ks.add(O(1, "read", None, None, 10, 20))
    assert ks.advance(15, budget=BIG, max_configs=8) is None  # the read is still open
    ks.advance(100, budget=BIG, max_configs=8)
    assert ks.verdict == "open" and ks.windows == 1, ks.reason


def test_a_late_operation_makes_the_key_incomplete():
    ks = KeyState("k", model("register"))
    ks.add(O(0, "write", 1, None, 0, 10))
    ks.advance(50, budget=BIG, max_configs=8)
    assert ks.add(O(1, "read", None, 1, 5, 60)) == "late"
    assert ks.verdict == "incomplete" and "before the window already checked" in ks.reason
    assert ks.add(O(2, "read", None, 1, 70, 80)) == "unchecked"


def test_a_budget_that_runs_out_is_inconclusive_with_the_reason():
    # many concurrent writes and a read: the search needs more than 3 steps
    ops = [O(i, "write", i, None, 0, 100) for i in range(6)] + [O(6, "read", None, 99, 0, 100)]
    r = check_window(model("register"), [(None, frozenset())], {}, ops, key="k",
                     budget=Budget(steps=3), max_configs=8)
    assert r.verdict == "inconclusive" and "3 steps" in r.reason


def test_too_many_carried_states_is_inconclusive():
    ops = [O(i, "write", i, None, 0, 100) for i in range(6)]
    r = check_window(model("register"), [(None, frozenset())], {}, ops, key="k",
                     budget=BIG, max_configs=3)
    assert r.verdict == "inconclusive" and "more than 3 model states" in r.reason
    r = check_window(model("register"), [(None, frozenset())], {}, ops, key="k",
                     budget=BIG, max_configs=6)
    assert r.verdict == "ok" and sorted(s for s, _ in r.configs) == list(range(6))
