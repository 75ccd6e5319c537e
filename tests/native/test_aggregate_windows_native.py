"""The core's aggregate windows and values against the Python engine's, over generated samples.

``_native.aggregate_windows`` cuts an instance's samples into windows and computes each
aggregate as ``NativeRun.sample_windows`` does for a run (native/src/samples.rs); the oracle
is the Python engine's own ``monitor.window_values`` (the windows of ``Monitor.aggregate``
and ``compiled.aggregate_value``). Generated samples hold negative numbers, zero, ints near
±2^53, ±2^63 and ±2^127, floats (NaN, infinities, -0.0, huge), bools, strings whose text
reads like a number or a bool, missing values, values only Python renders (bytes), equal
times and times near 2^64, under no window and tumbling and sliding windows of sizes from
1 ns to 2^100. Every window the core returns must equal Python's: bounds, the samples in it
(after the same stable sort by time), and each value's type and bits. The core may decline an
instance (Python then computes it) only where it cannot be exact: ``count_distinct`` and
``distinct`` of floats, raw values or a bool beside an int, a percentile over a NaN, an
``avg`` whose exact int sum leaves i128, or one over a float where ``sum`` is not left to
right.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import math
import os
import struct
import sys
from operator import itemgetter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelogic import _native
from tracelogic.engine.monitor import _span_ns, window_values

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
PLAIN_SUM = sys.version_info < (3, 12)  # CPython's sum adds floats left to right
NAMES = ["count", "fraction", "per_second", "count_distinct", "distinct", "avg", "min", "max",
         "p50", "p90", "p95", "p99"]
_DISTINCT = ("count_distinct", "distinct")
_I128 = (-2 ** 127, 2 ** 127 - 1)

ints = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([2 ** 53, 2 ** 53 + 1, -2 ** 53 - 1, 2 ** 63 - 1, 2 ** 63, -2 ** 63,
                     -2 ** 63 - 1, 2 ** 64 + 1, 2 ** 126, -2 ** 126, *_I128]),
    st.integers(*_I128))
floats = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1.0, -1.0, 2.0 ** 63, -2.0 ** 63, 1e300, -1e300,
                     math.inf, -math.inf, math.nan, 0.1, 1e-310]),
    st.floats(allow_nan=True, allow_infinity=True))
values = st.one_of(st.none(), st.booleans(), ints, floats,
                   st.sampled_from(["", "a", "1", "True", "1.0", "b, c", "é", "Z"]),
                   st.just(b"\x00b"))
times = st.one_of(st.integers(0, 12), st.sampled_from([10 ** 9, 6 * 10 ** 10, 2 ** 63,
                                                         2 ** 64 - 2, 2 ** 64 - 1]))
windows = st.one_of(st.none(), st.tuples(
    st.sampled_from([1, 2, 3, 7, 10 ** 9, 2 ** 63, 2 ** 63 + 1025, 2 ** 64, 2 ** 100 - 1,
                     2 ** 100]), st.booleans()))


@st.composite
def instances(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
    # a few kinds of value per instance, so that the aggregates meet some of each
    kinds = draw(st.sampled_from([values, st.one_of(ints, floats), ints, st.booleans()]))
    pool = draw(st.lists(kinds, min_size=1, max_size=6))
    val = st.one_of(st.sampled_from(pool), values) if draw(st.booleans()) else \
        st.sampled_from(pool)
    sample = st.tuples(times, st.tuples(*[st.tuples(val, st.booleans()) for _ in names]))
    samples = draw(st.lists(sample, max_size=30))
    return names, samples, draw(windows), draw(st.booleans()) and PLAIN_SUM


def _same(a, b) -> bool:
    """Equal, of one type, floats bit for bit."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def _declinable(name: str, part: list, i: int, plain: bool) -> bool:
    """Whether the core may leave aggregate ``name`` over window ``part`` to Python."""
    vals = [r[2][i][0] for r in part if r[2][i][1]]
    if name in _DISTINCT:
        vals = [v for v in vals if v is not None]
        return any(type(v) in (float, bytes) for v in vals) or (
            any(type(v) is bool for v in vals) and any(type(v) is int for v in vals))
    nums = [v for v in vals if type(v) in (int, float)]
    if name.startswith("p") and name != "per_second":
        return any(type(v) is float and math.isnan(v) for v in nums)
    if name == "avg":
        total = 0
        for v in nums:
            if type(v) is float:
                return not plain
            total += v
            if not _I128[0] <= total <= _I128[1]:
                return True
    return False


@settings(max_examples=3000 if LONG else 300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(instances())
def test_the_cores_windows_are_the_python_engines(inst):
    names, samples, window, plain = inst
    got, order = _native.aggregate_windows([t for t, _ in samples], [list(v) for _, v in samples],
                                           names, window, plain)
    rows = [(t, k, v) for k, (t, v) in enumerate(samples)]
    rows.sort(key=itemgetter(0))
    assert list(order) == [r[1] for r in rows]  # the same stable sort by time
    # (Monitor.aggregate decides an instance without samples before cutting: no window)
    cuts = list(window_values(names, rows, window)) if rows else []
    if got is None:
        assert any(_declinable(n, rows[lo:hi], i, plain)
                   for _, lo, hi, _ in cuts for i, n in enumerate(names)), (names, rows)
        return
    expected = [(lo, hi, bounds, tuple(vals)) for bounds, lo, hi, vals in cuts
                if vals is not None]
    assert [w[:3] for w in got] == [w[:3] for w in expected]
    for (lo, hi, _, mine), (_, _, _, theirs) in zip(got, expected):
        assert all(map(_same, mine, theirs)), (names, rows[lo:hi], mine, theirs)


def _one(name, vals, window=None, plain=PLAIN_SUM):
    """The core's value of aggregate ``name`` over one window of samples ``vals`` (all
    where-true, at times 0, 1, ...), or "declined"."""
    got, _ = _native.aggregate_windows(list(range(len(vals))), [[(v, True)] for v in vals],
                                       [name], window, plain)
    if got is None:
        return "declined"
    return got[0][3][0] if got else None


def test_exact_where_a_double_would_round():
    # ints summed exactly, then one correctly rounded division (float(sum) / n would differ)
    big = [2 ** 63 - 1, 2 ** 63 - 1, 1]
    assert _same(_one("avg", big), sum(big) / 3)
    assert _same(_one("avg", [2 ** 53 + 1, 0]), (2 ** 53 + 1) / 2)
    # the first float adds to the exact int sum rounded once, then left to right
    mixed = [2 ** 60 + 1, 2 ** 60 + 1, 0.5, 3, 1e-3]
    if PLAIN_SUM:
        assert _same(_one("avg", mixed), sum(mixed) / 5)
    assert _one("avg", [1.5, 2], plain=False) == "declined"
    assert _same(_one("avg", [1, 2], plain=False), 1.5)
    # min/max keep the first of equals, with its type; NaN never replaces nor is replaced
    assert _same(_one("min", [1.0, 1, True, -0.0, 0]), -0.0)
    assert _same(_one("max", [1, 1.0]), 1)
    assert math.isnan(_one("min", [math.nan, 1]))
    assert _same(_one("min", [1, math.nan, 0]), 0)
    # a percentile is a sample of the stable sort
    assert _same(_one("p50", [1.0, 1, 1, 1.0]), 1)
    assert _same(_one("p99", [2 ** 127 - 1, -2 ** 127, 5]), 2 ** 127 - 1)
    assert _one("p50", [math.nan, 1.0]) == "declined"
    # distinct by Python's equality and str order
    assert _one("distinct", ["b", 10, 9, "a", 10]) == "10, 9, a, b"
    assert _one("count_distinct", [True, False, True, "True"]) == 3
    assert _one("count_distinct", [True, 1]) == "declined"
    assert _one("count_distinct", [1.0]) == "declined"
    assert _one("count_distinct", [b"x"]) == "declined"
    # counts: `v is True` only; fraction over where-true samples; per_second over the span
    assert _one("count", [True, 1, 1.0, "True", None]) == 1
    assert _same(_one("fraction", [True, False, False]), 1 / 3)
    assert _same(_one("per_second", [True, True, False]), 2 / (2 / 1e9))
    assert _one("per_second", [True]) is None  # a span of 0 ns: no rate
    assert _one("avg", [2 ** 127 - 1, 1]) == "declined"  # the exact sum leaves i128
    assert _one("avg", ["1", None, True]) is None  # no number: an empty window


def test_windows_as_python_cuts_them():
    t = [0, 1, 1, 5, 9, 9, 10]
    vals = [[(1, True)] for _ in t]
    got, _ = _native.aggregate_windows(t, vals, ["count_distinct"], (5, False), True)
    assert [(lo, hi, b) for lo, hi, b, _ in got] == [(0, 3, (0, 5)), (3, 6, (5, 10)),
                                                     (6, 7, (10, 15))]
    got, _ = _native.aggregate_windows(t, vals, ["count_distinct"], (5, True), True)
    assert [(lo, hi, b) for lo, hi, b, _ in got] == [
        (0, 1, (-5, 0)), (0, 3, (-4, 1)), (1, 4, (0, 5)), (3, 6, (4, 9)), (4, 7, (5, 10))]
    # samples out of order are sorted stably by time first
    got, order = _native.aggregate_windows([3, 1, 3, 1], [[(i, True)] for i in range(4)],
                                           ["min"], None, True)
    assert list(order) == [1, 3, 0, 2] and got == [(0, 4, None, (0,))]
    assert _span_ns([(1, 0, ()), (3, 0, ())]) == 2
