"""Benchmark: `tracelogic monitor` start-up, on an empty trace file, whole process.

Issue 17: start-up must not eat the monitor's speed, so `tracelogic monitor` on an empty
file must take at most 0.3 s. Two specs:

- `empty`: one predicate, no property. What every run pays before the first span.
- `bench`: bench_monitor.py's 10 properties. The automata are built, with Z3 pruning
  their alphabets, so Z3 is imported: what a typical spec adds.

Each run is a fresh `python -m tracelogic monitor SPEC empty.json`, with a warm LALR table
cache (spec/parser.py) and bytecode caches written to a private temporary directory, as
an installed package has them. The disk cache of parses and alphabets (disk_cache.py) is warm
too, as on every run after the first with the same spec; ``--cold`` empties it before each
run (the LALR tables stay), as on the first run after the spec or tracelogic changed. With ``--before REV`` the same runs are made on the source
tree of commit REV (`git archive REV src`, plus this tree's built native core if any),
interleaved with this tree's runs so that both see the same load on a shared machine.
Wall and CPU (user + system) seconds, min and median of N runs.

    python bench/bench_startup.py                          # this tree
    python bench/bench_startup.py --before 8eb5e1c --record
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_S = 0.3


def bench_spec() -> str:
    from bench_monitor import SPEC  # bench/ is on sys.path when a bench runs as a script

    return SPEC


def source_tree(rev: str, into: Path) -> Path:
    """``src/`` of commit ``rev``, with this tree's native core copied in (same build)."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "src"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    tar_path = into / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as t:
        t.extractall(into, filter="data")
    for so in (ROOT / "src" / "tracelogic").glob("_native*.so"):
        shutil.copy2(so, into / "src" / "tracelogic" / so.name)
    return into / "src"


def run_once(src: Path | None, spec: Path, traces: Path, env: dict[str, str],
             cold: bool = False) -> tuple[float, float]:
    """One run of `monitor` on the tree ``src``; of a bare interpreter when it is None.
    ``cold``: with the disk cache's entries removed first (the LALR tables kept)."""
    if cold:
        cache = Path(env["XDG_CACHE_HOME"]) / "tracelogic"
        for entry in cache.glob("*.pickle"):
            entry.unlink()
    cmd = [sys.executable, "-m", "tracelogic", "monitor", str(spec), str(traces)] \
        if src is not None else [sys.executable, "-c", "pass"]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=dict(env, PYTHONPATH=str(src or "")), capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{src}: monitor {spec.name} exited {proc.returncode}:\n{proc.stderr}")
    return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def measure(trees: dict[str, Path | None], repeat: int, work: Path, cold: bool = False
            ) -> dict:
    traces = work / "empty.json"
    traces.write_bytes(b"")
    specs = {"empty": work / "empty.spec", "bench": work / "bench.spec"}
    specs["empty"].write_text('pred checkout = name == "POST /checkout"\n')
    specs["bench"].write_text(bench_spec())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env.pop("TRACELOGIC_CACHE_DIR", None)
    results: dict = {}
    # the interpreter alone, with this machine's site-packages: part of every run below
    trees = {**trees, "(python -c pass)": None}
    for spec_name, spec in specs.items():
        for tree, src in trees.items():  # warm: bytecode and LALR table caches
            run_once(src, spec, traces, env)
        runs: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
        for _ in range(repeat):
            for tree, src in trees.items():
                runs[tree].append(run_once(src, spec, traces, env, cold))
        for tree, rs in runs.items():
            walls, cpus = [w for w, _ in rs], [c for _, c in rs]
            results[(spec_name, tree)] = {
                "wall_min": min(walls), "wall_median": statistics.median(walls),
                "cpu_min": min(cpus), "cpu_median": statistics.median(cpus)}
    return results


def report(results: dict, repeat: int) -> str:
    lines = [f"| spec | tree | wall min | wall median | CPU min | CPU median |",
             "|---|---|---|---|---|---|"]
    for (spec, tree), r in results.items():
        lines.append(f"| {spec} | {tree} | {r['wall_min']:.3f} s | {r['wall_median']:.3f} s | "
                     f"{r['cpu_min']:.3f} s | {r['cpu_median']:.3f} s |")
    return "\n".join(lines) + f"\n\n(n = {repeat} runs each, interleaved)\n"


def record(table: str, argv: list[str], before: str | None, cold: bool = False) -> Path:
    from bench_parse import revision

    out = HERE / "RESULTS.md"
    command = "python bench/bench_startup.py " + " ".join(argv)
    try:
        load_avg = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load_avg = "load average unknown"
    native = "built" if list((ROOT / "src" / "tracelogic").glob("_native*.so")) else "not built"
    cache_state = "emptied before every run (cold)" if cold else "warm"
    section = f"""
## `tracelogic monitor` start-up on an empty file (issue 17) ({_dt.date.today().isoformat()})

- Command: `{command.strip()}`
- Source: {revision()}{f'; `before` is commit `{before}`' if before else ''}. Native core
  {native}.
- Machine: Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPU(s),
  {load_avg} when measured. The machine is shared: CPU time is what a run
  takes on an idle core, wall time includes the other tenants.
- `empty`: a spec with one predicate and no property; `bench`: bench_monitor.py's 10
  properties (their automata are built, with Z3 pruning the alphabets).
- Disk cache of parses and alphabets (disk_cache.py): {cache_state}.

{table}
Goal (issue 17): at most {GOAL_S:g} s for `monitor` on an empty file.
"""
    with open(out, "a", encoding="utf-8") as f:
        f.write(section)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--before", metavar="REV", help="also measure the source tree of this "
                   "commit, interleaved")
    p.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    p.add_argument("--cold", action="store_true", help="empty the disk cache of parses and "
                   "alphabets before every run (the LALR tables stay)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tl-startup-") as tmp:
        work = Path(tmp)
        trees: dict[str, Path | None] = {}
        if args.before:
            (work / "before").mkdir()
            trees["before"] = source_tree(args.before, work / "before")
        trees["after" if args.before else "this"] = ROOT / "src"
        table = report(measure(trees, args.repeat, work, args.cold), args.repeat)
    sys.stdout.write(table)
    if args.record:
        sys.stdout.write(f"recorded in {record(table, argv, args.before, args.cold)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
