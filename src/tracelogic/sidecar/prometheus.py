"""Prometheus metrics for the sidecar, in the text exposition format (version 0.0.4).

A deliberately small registry: counters and gauges with labels, and histograms
with fixed buckets. Every name starts with ``tracelogic_``. Thread-safe.
"""
from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import defaultdict
from typing import Callable, Iterable

__all__ = ["Registry", "LATENCY_BUCKETS"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)


def _labels(names: tuple[str, ...], values: tuple) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values))
    return "{" + inner + "}"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "+Inf" if v > 0 else "-Inf"
        if v.is_integer():
            return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


class _Family:
    def __init__(self, name: str, kind: str, help: str, labels: tuple[str, ...]):
        self.name, self.kind, self.help, self.labels = name, kind, help, labels


class Registry:
    """Counters, gauges (set, or computed at scrape time) and histograms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        self._values: dict[str, dict[tuple, float]] = defaultdict(dict)
        self._hist: dict[str, dict[tuple, list]] = defaultdict(dict)
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._callbacks: dict[str, Callable[[], Iterable[tuple[tuple, float]]]] = {}

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self._families[name] = _Family(name, "counter", help, labels)

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = (),
              fn: Callable[[], Iterable[tuple[tuple, float]]] | None = None) -> None:
        """A gauge; with ``fn``, its samples ``(label values, value)`` are read at scrape."""
        self._families[name] = _Family(name, "gauge", help, labels)
        if fn is not None:
            self._callbacks[name] = fn

    def histogram(self, name: str, help: str, buckets: tuple[float, ...] = LATENCY_BUCKETS,
                  labels: tuple[str, ...] = ()) -> None:
        self._families[name] = _Family(name, "histogram", help, labels)
        self._buckets[name] = tuple(buckets)

    def inc(self, name: str, amount: float = 1, *labels: str) -> None:
        if not amount:
            return
        with self._lock:
            d = self._values[name]
            d[labels] = d.get(labels, 0) + amount

    def set(self, name: str, value: float, *labels: str) -> None:
        with self._lock:
            self._values[name][labels] = value

    def get(self, name: str, *labels: str) -> float:
        with self._lock:
            return self._values[name].get(labels, 0)

    def observe(self, name: str, value: float, *labels: str, count: int = 1) -> None:
        self.observe_many(name, ((value, count),), *labels)

    def observe_many(self, name: str, samples: Iterable[tuple[float, int]],
                     *labels: str) -> None:
        """Observe ``(value, count)`` pairs under one lock (the engine observes a batch's
        requests and decided traces at once)."""
        buckets = self._buckets[name]
        top = len(buckets)
        with self._lock:
            h = self._hist[name].get(labels)
            if h is None:
                h = self._hist[name][labels] = [[0] * top, 0.0, 0]
            counts = h[0]
            for value, count in samples:
                i = bisect_left(buckets, value)  # the first bucket with value <= bound
                if i < top:
                    counts[i] += count
                h[1] += value * count
                h[2] += count

    def quantile(self, name: str, q: float, *labels: str) -> float | None:
        """An upper bound of the ``q`` quantile from the buckets (None without samples)."""
        buckets = self._buckets[name]
        with self._lock:
            h = self._hist[name].get(labels)
            if h is None or not h[2]:
                return None
            need = q * h[2]
            seen = 0
            for i, b in enumerate(buckets):
                seen += h[0][i]
                if seen >= need:
                    return b
            return math.inf

    def render(self) -> str:
        """The whole registry in the Prometheus text format."""
        out: list[str] = []
        with self._lock:
            values = {k: dict(v) for k, v in self._values.items()}
            hist = {k: {lk: [list(h[0]), h[1], h[2]] for lk, h in v.items()}
                    for k, v in self._hist.items()}
        for name, fam in self._families.items():
            out.append(f"# HELP {name} {fam.help}")
            out.append(f"# TYPE {name} {fam.kind}")
            if fam.kind == "histogram":
                buckets = self._buckets[name]
                series = hist.get(name, {})
                if not series and not fam.labels:  # an unlabelled histogram starts at zero
                    series = {(): [[0] * len(buckets), 0.0, 0]}
                for lk, (counts, total, n) in sorted(series.items()):
                    acc = 0
                    for b, c in zip(buckets, counts):
                        acc += c
                        out.append(f"{name}_bucket{_labels(fam.labels + ('le',), lk + (_num(b),))}"
                                   f" {acc}")
                    out.append(f"{name}_bucket{_labels(fam.labels + ('le',), lk + ('+Inf',))} {n}")
                    out.append(f"{name}_sum{_labels(fam.labels, lk)} {_num(float(total))}")
                    out.append(f"{name}_count{_labels(fam.labels, lk)} {n}")
                continue
            samples = dict(values.get(name, {}))
            fn = self._callbacks.get(name)
            if fn is not None:
                samples.update(fn())
            if not samples and not fam.labels:
                samples = {(): 0}
            for lk, v in sorted(samples.items()):
                out.append(f"{name}{_labels(fam.labels, lk)} {_num(v)}")
        return "\n".join(out) + "\n"
