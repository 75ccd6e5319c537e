"""Benchmark: model-checking engines on scalable models, and our time vs spin's.

    python bench/bench_models.py [--quick] [--record]

Families (bench/model_families.py), one check each:
- ``counters n``: two n-bit ripple counters stepped together, invariant "equal"
  (2^n reachable states, 1-inductive);
- ``peterson n``: Peterson's filter lock for n processes, mutual exclusion;
- ``philosophers n``: dining philosophers, no two neighbours eat (holds) and
  ``deadlock_free`` (fails: everyone takes the left fork).

For every size: our explicit search (bound 2,000,000 states), k-induction and
PDR (each with a 60 s timeout), and spin on the exported Promela (``spin -a``,
``gcc -O2``, ``pan -a``; compile and search times separately). Then, per family,
the largest size proved within 60 s. ``--record`` appends a dated section to
bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from model_families import counters, peterson, philosophers  # noqa: E402

from tracelogic.models.check import check_deadlock_free, check_invariant  # noqa: E402
from tracelogic.models.export import to_promela  # noqa: E402
from tracelogic.models.machine import Machine  # noqa: E402
from tracelogic.spec.loader import load  # noqa: E402

TIMEOUT = 60.0
BOUND = 2_000_000


def prepare(text: str):
    spec = load(text, filename="bench.spec")
    (name,) = spec.models
    return Machine(spec.models[name]), spec.checks[0]


def ours(machine, check, engine: str) -> tuple[str, float, str]:
    t = time.perf_counter()
    if check.kind == "invariant":
        o = check_invariant(machine, check.body, engine=engine, bound=BOUND, timeout=TIMEOUT)
    else:
        o = check_deadlock_free(machine, engine=engine, bound=BOUND, timeout=TIMEOUT)
    dt = time.perf_counter() - t
    note = ""
    if o.engine == "explicit" and "states" in o.details:
        note = f"{o.details['states']:,} states"
    elif o.details.get("k") is not None:
        note = f"k = {o.details['k']}"
    if o.run is not None:
        note += f"{', ' if note else ''}cx {len(o.run) - 1} steps"
    if o.status == "unknown":
        note = (o.details.get("reason") or o.message)[:40]
    return o.status, dt, note


def spin(machine, check) -> tuple[str, float, float, str]:
    exe = shutil.which("spin")
    if not exe:
        return "n/a", 0.0, 0.0, "spin not installed"
    text = to_promela(machine, [check])
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "m.pml"), "w") as f:
            f.write(text)
        t0 = time.perf_counter()
        subprocess.run([exe, "-a", "m.pml"], cwd=d, check=True, capture_output=True)
        subprocess.run(["gcc", "-O2", "-w", "-DVECTORSZ=8192", "-o", "pan", "pan.c"], cwd=d,
                       check=True, capture_output=True)
        t1 = time.perf_counter()
        label = "invariant_1" if check.kind == "invariant" else "deadlock_free_1"
        try:
            r = subprocess.run(["./pan", "-a", "-m10000000", "-N", label], cwd=d,
                               capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return "timeout", t1 - t0, TIMEOUT, ""
        t2 = time.perf_counter()
        m = re.search(r"errors: (\d+)", r.stdout)
        st = re.search(r"([\d.e+]+) states, stored", r.stdout)
        status = "?" if not m else ("holds" if m.group(1) == "0" else "fails")
        return status, t1 - t0, t2 - t1, (f"{float(st.group(1)):,.0f} states" if st else "")


FAMILIES = {
    "counters": (counters, [8, 12, 16, 20], [64, 128, 256]),
    "peterson": (peterson, [2, 3, 4, 5], [6]),
    "philosophers": (philosophers, [4, 8, 12, 14], [16, 20, 32]),
    "philosophers-deadlock": (lambda n: philosophers(n, deadlock=True), [4, 8, 12], [16, 32]),
}
QUICK = {"counters": ([8, 12], [64]), "peterson": ([2, 3], []),
         "philosophers": ([4, 8], []), "philosophers-deadlock": ([4, 8], [])}


def fmt(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    rows = []
    largest = {}
    for fam, (gen, sizes, big) in FAMILIES.items():
        if args.quick:
            sizes, big = QUICK[fam]
        for n in sizes + big:
            machine, check = prepare(gen(n))
            row = {"family": fam, "n": n}
            for engine in ("explicit", "kind", "pdr"):
                if n in big and engine == "explicit" and fam == "counters":  # 2^64 states
                    row[engine] = ("skipped", 0.0, "")
                    continue
                row[engine] = ours(machine, check, engine)
                print(fam, n, engine, row[engine], flush=True)
                st, dt, _ = row[engine]
                if st in ("holds", "fails") and dt <= TIMEOUT:
                    largest.setdefault(fam, {})
                    if n > largest[fam].get(engine, (0, 0))[0]:
                        largest[fam][engine] = (n, dt)
            row["spin"] = spin(machine, check) if n not in big or fam == "peterson" \
                else ("skipped", 0.0, 0.0, "")
            print(fam, n, "spin", row["spin"], flush=True)
            rows.append(row)
    table = ["| model | n | explicit | k-induction | PDR | spin (compile + search) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for e in ("explicit", "kind", "pdr"):
            st, dt, note = r[e]
            cells.append("—" if st == "skipped" else f"{st} {fmt(dt)}" + (f" ({note})" if note
                                                                          else ""))
        st, tc, ts, note = r["spin"]
        cells.append("—" if st == "skipped" else
                     f"{st} {fmt(tc)} + {fmt(ts)}" + (f" ({note})" if note else ""))
        table.append(f"| {r['family']} | {r['n']} | " + " | ".join(cells) + " |")
    lines = ["", "Largest size decided within 60 s (of the sizes tried):", ""]
    for fam, per in largest.items():
        parts = [f"{e} n = {n} ({fmt(dt)})" for e, (n, dt) in sorted(per.items())]
        lines.append(f"- {fam}: " + "; ".join(parts))
    text = "\n".join(table + lines)
    print(text)
    if args.record:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip()
        except OSError:
            commit = "?"
        head = [f"\n## Model checking: engines and spin ({datetime.date.today().isoformat()})", "",
                f"- Command: `python bench/bench_models.py{' --quick' if args.quick else ''} "
                "--record`",
                f"- Source: commit `{commit}`; Python {platform.python_version()}, "
                f"{os.cpu_count()} CPU(s), load average "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared machine).",
                "- Timeouts 60 s per run; explicit search bound 2,000,000 states. Spin times are "
                "`spin -a` + `gcc -O2` (compile) and `pan -a` (search) on our Promela export.",
                ""]
        with open(os.path.join(os.path.dirname(__file__), "RESULTS.md"), "a") as f:
            f.write("\n".join(head) + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
