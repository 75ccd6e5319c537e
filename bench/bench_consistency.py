"""Benchmark: our linearizability checker vs Porcupine itself, on the same histories.

Porcupine (github.com/anishathalye/porcupine, pinned in bench/porcupine/go.mod) is built
from the module in Go's module cache (scripts/install.sh downloads it) together with the
small driver bench/porcupine/main.go, in the same run. Both read the same operations:
Jepsen's etcd histories (test_data/jepsen/etcd_*.log, a compare-and-set register) and
the kv histories of 10 and 50 clients (test_data/kv, per key), parsed once by
tracelogic.consistency.jepsen and handed to Porcupine as JSON. Each side's time is the
best of --repeat runs of the check alone (no parsing); ours includes no witness
shrinking (`shrink_checks=0`, Porcupine computes none) and both stop at the first
violated key. The verdicts must agree; the script fails if they do not.

    python bench/bench_consistency.py              # print the numbers
    python bench/bench_consistency.py --record     # and append them to bench/RESULTS.md

Goal (issue 18): within 3x of Porcupine's time on the Jepsen etcd histories.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from tracelogic.consistency import Budget, check, model  # noqa: E402
from tracelogic.consistency.jepsen import parse_etcd, parse_kv  # noqa: E402

GO_ENV = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}


def porcupine_dir() -> Path:
    r = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}",
                        "github.com/anishathalye/porcupine"], cwd=HERE / "porcupine",
                       capture_output=True, text=True, env=GO_ENV, check=True)
    return Path(r.stdout.strip())


def histories(src: Path) -> list[tuple[str, str, list]]:
    out = [(p.stem, "cas-register", parse_etcd(p.read_text()))
           for p in sorted((src / "test_data" / "jepsen").glob("etcd_*.log"))]
    out += [(p.stem, "kv", parse_kv(p.read_text()))
            for p in sorted((src / "test_data" / "kv").glob("c*.txt")) if p.stem[:3] != "c01"]
    return out


def ours(kind: str, ops: list, repeat: int) -> tuple[str, float]:
    m = model("kv", init="") if kind == "kv" else model("cas-register")
    best = float("inf")
    verdict = ""
    for _ in range(repeat):
        t = time.perf_counter()
        verdict = check(m, ops, budget=Budget(steps=None, shrink_checks=0),
                        stop_at_first=True).verdict
        best = min(best, time.perf_counter() - t)
    return verdict, best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    src = porcupine_dir()
    hs = histories(src)
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "porcupine-bench"
        subprocess.run(["go", "build", "-o", str(binary), "."], cwd=HERE / "porcupine",
                       env=GO_ENV, check=True)
        paths = []
        for name, kind, ops in hs:
            p = Path(tmp) / f"{name}.json"
            p.write_text(json.dumps({"model": "kv" if kind == "kv" else "cas-register",
                                     "ops": [dict(f=o.f, key=o.key, input=o.input,
                                                  output=o.output, call=o.call, ret=o.ret,
                                                  status=o.status) for o in ops]}))
            paths.append(str(p))
        r = subprocess.run([str(binary), "-repeat", str(args.repeat), *paths],
                           capture_output=True, text=True, check=True)
        theirs = {Path(d["history"]).stem: d for d in map(json.loads, r.stdout.splitlines())}
    rows = []
    for name, kind, ops in hs:
        v, t = ours(kind, ops, args.repeat if len(ops) < 1000 else 1)
        p = theirs[name]
        if v != p["verdict"]:
            print(f"DISAGREE on {name}: ours {v}, Porcupine {p['verdict']}", file=sys.stderr)
            return 1
        rows.append((name, kind, len(ops), v, t, p["seconds"]))
    etcd = [r for r in rows if r[1] != "kv"]
    ours_etcd = sum(r[4] for r in etcd)
    theirs_etcd = sum(r[5] for r in etcd)
    lines = [f"## Linearizability: ours vs Porcupine v1.3.1 (issue 18; {_dt.date.today()})", "",
             "- Command: `python bench/bench_consistency.py --record`",
             f"- Machine: Python {platform.python_version()}, {platform.machine()}, "
             f"{os.cpu_count()} CPU(s), load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (the machine is shared).",
             "- Both stop at the first violated key; ours shrinks no witness (Porcupine "
             "computes none); best of the runs, check only. All verdicts agree.", "",
             "| histories | operations | ours | Porcupine | ratio (ours / Porcupine) |",
             "|---|---|---|---|---|",
             f"| Jepsen etcd, {len(etcd)} histories | {sum(r[2] for r in etcd)} | "
             f"{ours_etcd:.3f} s | {theirs_etcd:.3f} s | {ours_etcd / theirs_etcd:.2f}x |"]
    slow = max(etcd, key=lambda r: r[4])
    lines.append(f"| slowest etcd for us: {slow[0]} ({slow[3]}) | {slow[2]} | {slow[4]:.3f} s "
                 f"| {slow[5]:.3f} s | {slow[4] / slow[5]:.2f}x |")
    for r in rows:
        if r[1] == "kv":
            lines.append(f"| kv {r[0]} ({r[3]}) | {r[2]} | {r[4]:.3f} s | {r[5]:.3f} s | "
                         f"{r[4] / r[5]:.2f}x |")
    lines += ["", "Goal: within 3x of Porcupine on the etcd histories (the issue's goal; the "
              "native core is to make it faster). It does not block the issue; the verdicts do."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
