"""Timed properties on the core vs the Python engine, same bytes, same run (issue 17 step 4).

bench_monitor's checkout traces (its frozen workload, `make_requests`) and three timed
properties over them, each alone, per engine:

- `answered`: bench_monitor's own `G (checkout & start -> F[<= 2s] (checkout & end))`;
  its traces fit in 2 s, so both engines step the untimed twin (`by_letters`);
- `answered_1ms`: the same with `F[<= 1ms]`: no trace fits, every one is stepped on the timed
  monitor, and every one is violated (a report per trace: Python builds violations);
- `answered_range`: `F[1ms, 2s]`: an interval not starting at 0, so no twin: the timed
  monitor on every trace, few violations.

CPU seconds (process time), best of --repeat; the reports of both engines must be equal.

    python bench/bench_timed.py [--spans 40000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_monitor  # noqa: E402  (the frozen workload and spec)

import tracelogic  # noqa: E402
from tracelogic.engine.compiled import CompiledSpec  # noqa: E402
from tracelogic.engine.monitor import Monitor  # noqa: E402

EXTRA = '''
property answered_1ms:
  G (checkout & start -> F[<= 1ms] (checkout & end))
property answered_range:
  G (checkout & start -> F[1ms, 2s] (checkout & end))
'''


def run(spec, compiled, engine: str, props: list[str], requests: list[bytes]):
    mon = Monitor(spec, compiled=compiled, engine=engine, properties=props)
    for r in requests:
        mon.feed_otlp(r)
    return mon, mon.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=40_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    requests = bench_monitor.make_requests(args.spans)
    spec = tracelogic.load(bench_monitor.SPEC + EXTRA)
    print(f"{args.spans} spans in {len(requests)} requests")
    for name in ("answered", "answered_1ms", "answered_range"):
        compiled = CompiledSpec(spec, [name])
        best, reports, engines = {}, {}, {}
        for engine in ("python", "native"):
            best[engine] = float("inf")
            for _ in range(args.repeat):
                t0 = time.process_time()
                mon, rep = run(spec, compiled, engine, [name], requests)
                best[engine] = min(best[engine], time.process_time() - t0)
            reports[engine] = rep.to_json()
            engines[engine] = mon.engines[name]
        assert reports["python"] == reports["native"], name
        assert engines == {"python": "python", "native": "native"}, engines
        violated = reports["native"]["summary"]["violated"]
        print(f"{name:15s} python {args.spans / best['python'] / 1e3:7.1f}k spans/s, "
              f"native {args.spans / best['native'] / 1e3:7.1f}k spans/s, "
              f"ratio {best['python'] / best['native']:.1f}x ({violated} violated)")


if __name__ == "__main__":
    main()
