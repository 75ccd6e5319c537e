"""Generate the traces (and metrics) of every scenario into examples/shop/traces/.

    python examples/shop/generate.py                 # all scenarios, fault and control
    python examples/shop/generate.py cascade race    # some of them
    python examples/shop/generate.py cascade --out /tmp/shop
    python examples/shop/generate.py cascade --serve http://127.0.0.1:4318
                                                     # the fault run only, exported to the
                                                     # file and to `tracelogic serve`
    python examples/shop/generate.py cascade --serve http://127.0.0.1:4318 --control
                                                     # the control run only, likewise
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shopdemo.scenarios import SCENARIOS, run  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traces")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="generate.py", description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", metavar="SCENARIO",
                   help=f"scenarios to run (default all: {', '.join(SCENARIOS)})")
    p.add_argument("--out", default=OUT, metavar="DIR", help="where to write the files "
                   "(default examples/shop/traces)")
    p.add_argument("--serve", metavar="URL", help="also export to this OTLP/HTTP endpoint "
                   "(e.g. tracelogic serve's http://127.0.0.1:4318); then only one run per "
                   "scenario: the fault run, or the control run with --control")
    p.add_argument("--control", action="store_true", help="with --serve: the control run")
    args = p.parse_args(argv)
    if args.control and not args.serve:
        p.error("--control goes with --serve (without it both runs are generated)")
    names = args.names or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return 2
    also = []
    if args.serve:
        url = urllib.parse.urlsplit(args.serve)
        if url.scheme not in ("http", "https") or not url.hostname or url.path.strip("/"):
            print(f"--serve takes http(s)://HOST:PORT, got {args.serve!r}", file=sys.stderr)
            return 2
        try:  # the exporters would only log their failures: refuse before running instead
            socket.create_connection((url.hostname, url.port or 80), timeout=2).close()
        except OSError as e:
            print(f"--serve {args.serve}: nothing accepts connections there ({e})",
                  file=sys.stderr)
            return 2
        also = [f"{url.scheme}://{url.netloc}"]
    runs = [not args.control] if args.serve else [True, False]
    for name in names:
        for fault in runs:
            t = time.perf_counter()
            paths = run(name, args.out, fault=fault, also=also)
            written = ", ".join(_shown(p) for p in paths.values() if p)
            print(f"{name}{'' if fault else ' (control)'}: {written} "
                  f"in {time.perf_counter() - t:.1f} s")
    return 0


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
