"""Benchmark: 10,000 config documents x 20 invariants through `tracelogic check` (goal < 10 s).

    python bench/bench_config.py [--docs 10000] [--record]

Generates a multi-document YAML file of Deployments (1% of them broken so that
violations, with their unsat cores, are part of the measurement), a spec with
20 per-document invariants plus one cross-document aggregate, and times the
whole static check in-process (loading YAML, binding, evaluating, explaining).
"""
from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import tempfile
import time

from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.spec.loader import load

INVARIANTS = [
    "mem_limit >= mem_req", "timeout >= 1s", "timeout <= 5m", "replicas >= 2",
    "replicas <= 500", "cpu_req <= 4", "cpu_req > 0", "mem_req >= 64Mi", "mem_limit <= 16Gi",
    "mem_limit <= mem_req * 4", "retries <= 5", "timeout * (retries + 1) <= 10m",
    "port >= 1024 or port == 80", "port <= 65535", "replicas * mem_req <= 256Gi",
    "cpu_req * replicas <= 200", "retries >= 0", "timeout % 1s == 0s",
    "(replicas // 2) + 1 <= replicas", "mem_req != 0Mi",
]


def spec_text() -> str:
    head = '''config deployment from "deploy.yaml" select kind == "Deployment" {
  replicas  : 1..1000  = spec.replicas
  mem_req   : bytes    = spec.resources.requests.memory
  mem_limit : bytes    = spec.resources.limits.memory
  cpu_req   : cpu      = spec.resources.requests.cpu default 0.1
  timeout   : duration = metadata.annotations["timeout"] default 30s
  retries   : int      = metadata.annotations["retries"] default 3
  port      : 1..65535 = spec.port
}
'''
    body = "".join(f"invariant i{i} on deployment: {inv}\n" for i, inv in enumerate(INVARIANTS))
    return head + body + "invariant total: sum(deployment.replicas) <= 10000000\n"


def documents(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        broken = rng.random() < 0.01
        req = rng.choice([128, 256, 512])
        limit = req // 2 if broken else req * 2
        out.append(f"""kind: Deployment
metadata:
  name: app{i}
  annotations: {{timeout: "{rng.choice([10, 30, 60])}s", retries: "{rng.randint(0, 5)}"}}
spec:
  replicas: {rng.randint(2, 50)}
  port: {rng.choice([80, 8080, 9090])}
  resources:
    requests: {{memory: {req}Mi, cpu: {rng.choice(['250m', '500m', '1'])}}}
    limits: {{memory: {limit}Mi}}
""")
    return "---\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "deploy.yaml"), "w") as f:
            f.write(documents(args.docs))
        with open(os.path.join(d, "c.spec"), "w") as f:
            f.write(spec_text())
        spec = load(os.path.join(d, "c.spec"))
        best, report = None, None
        for _ in range(3):
            report = CheckReport()
            t0 = time.perf_counter()
            run_checks(spec, report)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
    violated = sum(1 for r in report.results if r.status == "violated")
    line = (f"{args.docs} documents x {len(INVARIANTS)} invariants (+1 aggregate): "
            f"best of 3 = {best:.2f} s ({args.docs * len(INVARIANTS) / best:,.0f} "
            f"document-invariant checks/s), {violated} violations explained with unsat cores")
    print(line)
    if args.record:
        with open(os.path.join(os.path.dirname(__file__), "RESULTS.md"), "a") as f:
            f.write(f"\n## Config invariants ({datetime.date.today()})\n\n"
                    f"Command: `python bench/bench_config.py --docs {args.docs} --record`\n\n"
                    f"- {line}\n- Goal: under 10 s. YAML loading with line positions is "
                    "included; violations are the only solver calls.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
