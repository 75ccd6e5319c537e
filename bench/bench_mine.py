"""Benchmark: `tracelogic mine` against `tracelogic monitor` on the same spans, in one run.

Goal (issue 19): mining 100k spans takes at most 5x the time monitoring them takes.

Workload: bench_monitor.py's SDK-recorded checkout traces (10 spans a trace, 11-14
attributes a span), encoded by the OTLP exporter into protobuf files of 500 spans, on disk.

- **mine**: what the command does: read and decode the files (`read_inputs`), mine with the
  default options, render the `.spec` text;
- **monitor**: what `tracelogic monitor MINED.spec FILES` does: compile the mined spec
  (`Monitor(spec)`), feed every file's bytes, close (the report). The spec is the one just
  mined, so both sides work on the same spans and the same properties. For reference, the
  monitor on bench_monitor.py's own 10-property spec is timed too.

CPU time (`time.process_time`, the machine is shared), best of ``--repeat``, the three run
round-robin so they see the same load.

    python bench/bench_mine.py [--spans 100000] [--repeat 3] [--record]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

import tracelogic  # noqa: E402
from bench_monitor import SPEC as MONITOR_SPEC  # noqa: E402
from bench_monitor import make_requests  # noqa: E402
from tracelogic.analysis._input import read_inputs  # noqa: E402
from tracelogic.analysis.mining import mine  # noqa: E402
from tracelogic.engine.monitor import Monitor  # noqa: E402


def mined_text(paths: list[str]) -> tuple[str, int]:
    data = read_inputs(paths, want_events=False)
    assert not data.errors, data.errors
    spec = mine(data.spans, data.points)
    return spec.text(), len(spec.properties)


def monitored(spec, paths: list[str]):
    mon = Monitor(spec)
    for p in paths:
        with open(p, "rb") as f:
            mon.feed_otlp(f.read())
    return mon.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, req in enumerate(make_requests(args.spans)):
            p = Path(tmp) / f"r{i:04d}.pb"
            p.write_bytes(req)
            paths.append(str(p))
        text, n_props = mined_text(paths)
        spec = tracelogic.load(text)
        other = tracelogic.load(MONITOR_SPEC)
        report = monitored(spec, paths)
        assert not report.violations, "a mined property is violated on its own data"
        fns = [lambda: mined_text(paths), lambda: monitored(spec, paths),
               lambda: monitored(other, paths)]
        best = [float("inf")] * 3
        for _ in range(args.repeat):
            for i, f in enumerate(fns):
                gc.collect()
                t = time.process_time()
                f()
                best[i] = min(best[i], time.process_time() - t)
    t_mine, t_mon, t_other = best
    lines = [
        f"spans                              : {args.spans}",
        f"mined properties                   : {n_props}",
        f"mine (read, decode, mine, render)  : {t_mine:.2f} s CPU",
        f"monitor, the mined spec            : {t_mon:.2f} s CPU",
        f"monitor, bench_monitor's spec      : {t_other:.2f} s CPU",
        f"ratio mine / monitor (mined spec)  : {t_mine / t_mon:.2f}  (goal <= 5)",
        f"ratio mine / monitor (bench spec)  : {t_mine / t_other:.2f}",
    ]
    print("\n".join(lines))
    if args.record:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(f"\n\n## `tracelogic mine` vs `monitor` on the same spans "
                    f"({_dt.date.today().isoformat()})\n\n"
                    f"`python bench/bench_mine.py --spans {args.spans} --repeat "
                    f"{args.repeat} --record`, commit `{commit}`, "
                    f"CPython {platform.python_version()}:\n\n```\n" + "\n".join(lines)
                    + "\n```\n")


if __name__ == "__main__":
    main()
