"""Generate the traces (and metrics) of every scenario into examples/shop/traces/.

    python examples/shop/generate.py                 # all scenarios, fault and control
    python examples/shop/generate.py cascade race    # some of them
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shopdemo.scenarios import SCENARIOS, run  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traces")


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return 2
    for name in names:
        for fault in (True, False):
            t = time.perf_counter()
            paths = run(name, OUT, fault=fault)
            written = ", ".join(os.path.relpath(p) for p in paths.values() if p)
            print(f"{name}{'' if fault else ' (control)'}: {written} "
                  f"in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
