"""Metric trends: a robust linear fit per series, its growth rate, and time to a limit.

A **series** is the data points of one metric from one service with one set of
point attributes. Delta sums are accumulated into a running total first, so every
series is a level (bytes in use, requests so far).

The fit is **Theil–Sen**: the slope is the median of the slopes between every pair
of points (pairs with equal timestamps are skipped), the intercept the median of
``y - slope * x``. Up to 29 % of the points can be arbitrary outliers without
moving it, unlike least squares. The 95 % confidence interval of the slope is
Sen's, from the normal approximation of Kendall's S. Above :data:`EXACT_MAX`
points, a fixed-seed sample of :data:`SAMPLED_PAIRS` pairs replaces the full
set of pairs: the result is deterministic and within sampling error of the exact
median.

**Projection.** With a ``limit``, a series whose fitted value at its last point
is already at or above the limit is ``above`` (with the fitted crossing time
when the slope is positive). A series is **growing** only when the whole 95 %
interval of its slope is above 0: a flat series with noise has a median slope a
hair above 0 and would otherwise "reach" any limit in a thousand days. A growing
series ``reaches`` the limit after ``(limit - fitted_last) / slope``; any other
``never`` does (it is not growing).

**Horizon.** A projected crossing is a finding only within a horizon
(:data:`DEFAULT_HORIZON_NS`, 7 days, unless the caller gives another): a
straight line fitted to the last hour says nothing about next year.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Fit", "Trend", "theil_sen", "trends", "EXACT_MAX", "SAMPLED_PAIRS",
           "DEFAULT_HORIZON_NS"]

EXACT_MAX = 700
SAMPLED_PAIRS = 250_000
_NS = 1_000_000_000
DEFAULT_HORIZON_NS = 7 * 24 * 3600 * _NS


@dataclass(frozen=True)
class Fit:
    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    n: int

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x

    @property
    def growing(self) -> bool:
        """The 95 % interval of the slope lies above 0 (it does not include 0)."""
        return self.slope_low > 0


def _median(v: list[float]) -> float:
    v = sorted(v)
    n = len(v)
    if not n:
        raise ValueError("median of nothing")
    m = n // 2
    return v[m] if n % 2 else (v[m - 1] + v[m]) / 2


def theil_sen(xs: Sequence[float], ys: Sequence[float], *, seed: int = 0) -> Fit:
    """The Theil–Sen fit of ``ys`` against ``xs`` (see the module docstring).

    Raises :class:`ValueError` with fewer than two distinct ``xs``.
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs and ys differ in length ({n} != {len(ys)})")
    if len(set(xs)) < 2:
        raise ValueError(f"a trend needs points at two different times at least; got {n} "
                         "point(s)")
    slopes: list[float] = []
    if n <= EXACT_MAX:
        for i in range(n):
            xi, yi = xs[i], ys[i]
            for j in range(i + 1, n):
                dx = xs[j] - xi
                if dx:
                    slopes.append((ys[j] - yi) / dx)
    else:
        rng = random.Random(seed)
        while len(slopes) < SAMPLED_PAIRS:
            i, j = rng.randrange(n), rng.randrange(n)
            dx = xs[j] - xs[i]
            if dx:
                slopes.append((ys[j] - ys[i]) / dx)
    slopes.sort()
    m = len(slopes)
    slope = slopes[m // 2] if m % 2 else (slopes[m // 2 - 1] + slopes[m // 2]) / 2
    intercept = _median([y - slope * x for x, y in zip(xs, ys)])
    # Sen's confidence interval: ranks (N -/+ z*sqrt(var S)) / 2 of the sorted slopes
    var_s = n * (n - 1) * (2 * n + 5) / 18
    c = 1.959964 * math.sqrt(var_s) * (m / (n * (n - 1) / 2))
    lo_i = max(0, int(math.floor((m - c) / 2)))
    hi_i = min(m - 1, int(math.ceil((m + c) / 2)))
    return Fit(slope, intercept, slopes[lo_i], slopes[hi_i], n)


@dataclass
class Trend:
    """The fit of one series, per second of wall time, and its projection."""

    metric: str
    service: str
    attrs: dict[str, Any]
    unit: str
    fit: Fit
    first_ns: int
    last_ns: int
    last_value: float
    limit: float | None = None
    status: str | None = None  # "above" | "reaches" | "never" | None without a limit
    limit_at_ns: int | None = None

    @property
    def slope_per_s(self) -> float:
        return self.fit.slope * _NS

    @property
    def fitted_last(self) -> float:
        return self.fit.at(self.last_ns - self.first_ns)

    @property
    def time_to_limit_ns(self) -> int | None:
        if self.limit_at_ns is None:
            return None
        return max(0, self.limit_at_ns - self.last_ns)

    @property
    def series(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.attrs.items()))
        return f"{self.metric}{{service={self.service}{',' + extra if extra else ''}}}"

    def to_json(self) -> dict:
        return {"metric": self.metric, "service": self.service, "attributes": self.attrs,
                "unit": self.unit, "points": self.fit.n, "first_unix_nano": self.first_ns,
                "last_unix_nano": self.last_ns, "last_value": self.last_value,
                "fitted_last": self.fitted_last, "slope_per_second": self.slope_per_s,
                "slope_per_second_95": [self.fit.slope_low * _NS, self.fit.slope_high * _NS],
                "growing": self.fit.growing, "limit": self.limit, "status": self.status,
                "limit_at_unix_nano": self.limit_at_ns,
                "time_to_limit_ns": self.time_to_limit_ns}


def trends(points: Iterable[Any], *, limit: float | None = None,
           metrics: Iterable[str] | None = None, min_points: int = 3) -> list[Trend]:
    """Fit every series in ``points`` (metric data points); see the module docstring.

    ``metrics`` keeps only those metric names. Series with fewer than ``min_points``
    points at distinct times are skipped. The result is ordered by the time to the
    limit (soonest first) when there is a limit, then by series name.
    """
    wanted = set(metrics) if metrics is not None else None
    series: dict[tuple, list[Any]] = defaultdict(list)
    for p in points:
        if wanted is not None and p.metric not in wanted:
            continue
        key = (p.metric, p.service, tuple(sorted((k, _hashable(v)) for k, v in p.attrs.items())))
        series[key].append(p)
    out = []
    for (metric, service, attrs), pts in series.items():
        pts.sort(key=lambda p: p.time_ns)
        values = [float(p.value) for p in pts]
        if pts[0].kind == "sum" and pts[0].temporality == "delta":
            acc = 0.0
            for i, v in enumerate(values):
                acc += v
                values[i] = acc
        t0 = pts[0].time_ns
        xs = [p.time_ns - t0 for p in pts]
        if len(set(xs)) < max(2, min_points):
            continue
        fit = theil_sen(xs, values)
        tr = Trend(metric, service, dict(attrs), pts[0].unit, fit, t0, pts[-1].time_ns,
                   values[-1], limit)
        if limit is not None:
            fl = tr.fitted_last
            if fl >= limit:
                tr.status = "above"
                if fit.slope > 0:
                    tr.limit_at_ns = t0 + int((limit - fit.intercept) / fit.slope)
                    tr.limit_at_ns = min(tr.limit_at_ns, tr.last_ns)
                else:
                    tr.limit_at_ns = tr.last_ns
            elif fit.growing:
                tr.status = "reaches"
                tr.limit_at_ns = tr.last_ns + int(math.ceil((limit - fl) / fit.slope))
            else:
                tr.status = "never"
        out.append(tr)
    out.sort(key=lambda t: (t.time_to_limit_ns if t.time_to_limit_ns is not None
                            else float("inf"), t.series))
    return out


def _hashable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)
