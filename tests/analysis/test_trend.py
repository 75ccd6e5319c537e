"""Theil–Sen trends: slope under noise and outliers, projection to a limit, series."""
from __future__ import annotations

import random

import pytest

from tracelogic.analysis import theil_sen, trends
from tracelogic.analysis import trend as trend_mod
from tracelogic.ingest.metrics import DataPoint

from .helpers import T0

S = 1_000_000_000
MiB = 2**20


def leak(service="cart", n=120, slope_per_s=50_000.0, base=300 * MiB, noise=2 * MiB,
         outliers=0.2, seed=1, every_s=10, metric="process.memory.usage", **kw):
    rng = random.Random(seed)
    pts = []
    for i in range(n):
        t = i * every_s
        v = base + slope_per_s * t + rng.gauss(0, noise)
        if rng.random() < outliers:
            v += rng.choice([-1, 1]) * rng.uniform(200, 800) * MiB  # GC pauses, bad scrapes
        pts.append(DataPoint(metric, "gauge", v, T0 + t * S, service=service, unit="By", **kw))
    return pts


def ols(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def test_slope_is_recovered_under_noise_and_outliers_where_least_squares_fails():
    pts = leak()
    [tr] = trends(pts)
    assert tr.slope_per_s == pytest.approx(50_000, rel=0.03)
    assert tr.fit.slope_low * S <= 50_000 <= tr.fit.slope_high * S
    xs = [p.time_ns - T0 for p in pts]
    ys = [p.value for p in pts]
    assert abs(ols(xs, ys) * S - 50_000) / 50_000 > 0.1  # the outliers drag least squares


def test_exact_line_and_errors():
    fit = theil_sen([0, 1, 2, 3], [1, 3, 5, 7])
    assert (fit.slope, fit.intercept) == (2, 1)
    assert fit.at(10) == 21
    with pytest.raises(ValueError, match="two different times"):
        theil_sen([5, 5], [1, 2])
    with pytest.raises(ValueError, match="differ in length"):
        theil_sen([1, 2], [1])


def test_sampled_pairs_stay_close_to_the_exact_median(monkeypatch):
    pts = leak(n=300, seed=3)
    xs = [p.time_ns - T0 for p in pts]
    ys = [p.value for p in pts]
    exact = theil_sen(xs, ys).slope
    monkeypatch.setattr(trend_mod, "EXACT_MAX", 100)
    monkeypatch.setattr(trend_mod, "SAMPLED_PAIRS", 20_000)
    sampled = trend_mod.theil_sen(xs, ys).slope
    assert sampled == pytest.approx(exact, rel=0.02)
    assert trend_mod.theil_sen(xs, ys).slope == sampled  # fixed seed: deterministic


def test_projection_to_a_limit():
    pts = leak(outliers=0.0, noise=0.0)  # 300 MiB + 50 kB/s, last point at 1190 s
    limit = 2 * 1024 * MiB
    [tr] = trends(pts, limit=limit)
    assert tr.status == "reaches"
    expected = (limit - (300 * MiB + 50_000 * 1190)) / 50_000
    assert tr.time_to_limit_ns / S == pytest.approx(expected, rel=1e-6)
    assert tr.limit_at_ns == tr.last_ns + tr.time_to_limit_ns
    [above] = trends(pts, limit=310 * MiB)
    assert above.status == "above" and above.time_to_limit_ns == 0
    assert above.limit_at_ns - T0 == pytest.approx(10 * MiB / 50_000 * S, rel=1e-9)
    flat = leak(slope_per_s=0.0, noise=0.0, outliers=0.0)
    assert trends(flat, limit=limit)[0].status == "never"
    assert trends(pts)[0].status is None


def test_one_series_per_metric_service_and_point_attributes():
    pts = (leak("cart") + leak("orders", slope_per_s=-10.0)
           + leak("cart", metric="process.cpu.time", outliers=0.0)
           + leak("cart", n=2, **{"attrs": {"pool": "x"}}))
    trs = trends(pts, metrics=["process.memory.usage"], limit=4 * 1024 * MiB)
    assert [(t.metric, t.service, t.status) for t in trs] == [
        ("process.memory.usage", "cart", "reaches"), ("process.memory.usage", "orders", "never")]
    assert trs[0].series == "process.memory.usage{service=cart}"
    assert len(trends(pts, min_points=2)) == 4


def test_delta_sums_are_accumulated():
    pts = [DataPoint("requests", "sum", 5, T0 + i * S, service="api", temporality="delta")
           for i in range(10)]
    [tr] = trends(pts)
    assert tr.slope_per_s == pytest.approx(5.0)
    assert tr.last_value == 50


def test_a_flat_noisy_series_is_not_growing():
    """Issue 21 item 7: the median slope of pure noise is a hair above 0 (here +658 B/s),
    but its 95 % interval includes 0: no projection, not a finding."""
    flat = leak(slope_per_s=0.0, noise=2 * MiB, outliers=0.0, seed=3)
    [tr] = trends(flat, limit=2 * 1024 * MiB)
    assert tr.slope_per_s > 0 and tr.fit.slope_low < 0 < tr.fit.slope_high
    assert tr.status == "never" and not tr.fit.growing and tr.limit_at_ns is None
    assert tr.to_json()["growing"] is False
    [grows] = trends(leak(noise=2 * MiB, outliers=0.0, seed=3), limit=2 * 1024 * MiB)
    assert grows.fit.growing and grows.status == "reaches"
    assert trend_mod.DEFAULT_HORIZON_NS == 7 * 24 * 3600 * S
