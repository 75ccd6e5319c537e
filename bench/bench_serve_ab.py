"""Benchmark: `tracelogic serve` of two source trees, interleaved (A, B, B, A, A, B, ...).

Each run is :func:`bench_serve.run_transport` (a separate load generator, 20-property
spec, 500-span requests, spans per server CPU-second until every trace is decided), with
the ``serve`` process and the generator importing one tree's ``src``: the machine is
shared and noisy, so the two are measured in turn, never one after the other in blocks.

    python bench/bench_serve_ab.py /work/main . --pairs 3             # HTTP and gRPC
    python bench/bench_serve_ab.py /work/main . --pairs 1 --conns 16  # a flood
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def one(tree: str, transport: str, seconds: float, conns: int) -> dict:
    """One run from ``tree`` (in a child process whose imports are that tree's)."""
    env = dict(os.environ, PYTHONPATH=str(Path(tree, "src")))
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bench_serve, tracelogic;"
            "assert tracelogic.__file__.startswith(sys.argv[2]), tracelogic.__file__;"
            "print(json.dumps(bench_serve.run_transport(sys.argv[3], float(sys.argv[4]),"
            " int(sys.argv[5]), '1s', engine='native')))")
    out = subprocess.run([sys.executable, "-c", code, str(Path(tree, "bench")), tree,
                          transport, str(seconds), str(conns)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="the first source tree (e.g. main's checkout)")
    ap.add_argument("b", help="the second source tree")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--transports", default="http,grpc")
    args = ap.parse_args()
    a, b = (str(Path(t).resolve()) for t in (args.a, args.b))
    rates: dict[tuple[str, str], list[float]] = {}
    for i in range(args.pairs):
        for transport in args.transports.split(","):
            for tree in ((a, b) if i % 2 == 0 else (b, a)):
                r = one(tree, transport, args.seconds, args.conns)
                rates.setdefault((transport, tree), []).append(r["spans_per_cpu_s"])
                print(json.dumps(dict(r, tree=tree, pair=i + 1)), flush=True)
    for transport in args.transports.split(","):
        ra, rb = rates[(transport, a)], rates[(transport, b)]
        ma, mb = statistics.mean(ra), statistics.mean(rb)
        print(f"{transport}: spans per server CPU-second, {a} {ma:,.0f}, {b} {mb:,.0f}, "
              f"ratio {mb / ma:.2f} (pairwise {', '.join(f'{y / x:.2f}' for x, y in zip(ra, rb))})")


if __name__ == "__main__":
    main()
