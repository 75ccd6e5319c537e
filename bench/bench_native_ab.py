"""Two builds of the core, interleaved in one process: bench_monitor's workload through
``Monitor`` with each build in turn, CPU time per span split into feed and close.

A shared machine's load moves a benchmark by ±15% between runs; comparing two builds
run after each other mostly measures that. This loads each given ``_native`` shared
library as its own copy of ``tracelogic._native`` and alternates them round by round, so
both see the same load; the minimum and the median over the rounds are reported, for the
whole ``Monitor`` (feed = 80 ``feed_otlp`` calls with the monitor's construction, close =
``close``) and for the core alone (``NativeRun.feed_pb`` and ``.close``). Every round's
report must be identical for every build (``to_json``), or the run stops.

    python bench/bench_native_ab.py --rounds 20 before.so after.so

(copy ``src/tracelogic/_native.abi3.so`` of each build to a file of its own first). Every
build must speak this tree's ``NATIVE_ABI_VERSION``: another one would be refused and the
Python engine timed instead, so the script stops.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_monitor as B  # noqa: E402

import tracelogic  # noqa: E402


def load_build(path: str) -> Any:
    """The shared library at ``path`` as a module object named ``tracelogic._native``."""
    spec = importlib.util.spec_from_file_location("tracelogic._native", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use(module: Any) -> None:
    """Make ``module`` the core every later ``from tracelogic import _native`` gets."""
    sys.modules["tracelogic._native"] = module
    tracelogic._native = module


class _Timed:
    """A ``NativeRun`` whose ``feed_pb`` and ``close`` add their CPU time to ``spent``."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self.spent = [0.0, 0.0]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def _timed(self, slot: int, method: str, args: tuple) -> Any:
        t = time.process_time()
        try:
            return getattr(self._run, method)(*args)
        finally:
            self.spent[slot] += time.process_time() - t

    def feed_pb(self, *args: Any) -> Any:
        return self._timed(0, "feed_pb", args)

    def close(self, *args: Any) -> Any:
        return self._timed(1, "close", args)


def one_round(spec: Any, compiled: Any, requests: list[bytes]) -> tuple[list[float], str]:
    """CPU seconds of (feed, close, core feed_pb, core close), and the report as JSON."""
    from tracelogic.engine.monitor import Monitor

    gc.collect()
    t0 = time.process_time()
    mon = Monitor(spec, compiled=compiled)
    timed = mon._native._run = _Timed(mon._native._run)
    for data in requests:
        mon.feed_otlp(data)
    t1 = time.process_time()
    report = mon.close()
    t2 = time.process_time()
    return [t1 - t0, t2 - t1, *timed.spent], report.to_json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builds", nargs="+", help="copies of _native.abi3.so, one per build")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--spans", type=int, default=40_000)
    args = ap.parse_args()
    from tracelogic.engine.monitor import Monitor

    from tracelogic.engine.registry import NATIVE_ABI_VERSION

    modules = [load_build(p) for p in args.builds]
    for path, module in zip(args.builds, modules):
        abi = getattr(module, "ABI_VERSION", None)
        assert abi == NATIVE_ABI_VERSION, \
            f"{path}: ABI {abi}, this tree speaks {NATIVE_ABI_VERSION}"
    use(modules[0])
    spec = tracelogic.load(B.SPEC, filename="bench.spec")
    compiled = Monitor(spec).compiled
    requests = B.make_requests(args.spans)
    n = args.spans
    times: list[list[list[float]]] = [[] for _ in modules]
    first = None
    for _ in range(args.rounds):
        for i, module in enumerate(modules):
            use(module)
            spent, report = one_round(spec, compiled, requests)
            first = report if first is None else first
            assert report == first, f"{args.builds[i]}: the report differs"
            times[i].append([s / n * 1e6 for s in spent])
    print(f"{n} spans, {args.rounds} rounds; CPU µs a span, min / median")
    for path, rounds in zip(args.builds, times):
        cols = [(min(c), statistics.median(c)) for c in zip(*rounds)]
        total = [a + b for a, b, *_ in rounds]
        print(f"{Path(path).name:24s} feed {cols[0][0]:.2f} / {cols[0][1]:.2f}  "
              f"close {cols[1][0]:.2f} / {cols[1][1]:.2f}  "
              f"total {min(total):.2f} / {statistics.median(total):.2f}  |  "
              f"core feed_pb {cols[2][0]:.2f} / {cols[2][1]:.2f}  "
              f"close {cols[3][0]:.2f} / {cols[3][1]:.2f}")


if __name__ == "__main__":
    main()
