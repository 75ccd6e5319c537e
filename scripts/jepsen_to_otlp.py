#!/usr/bin/env python3
"""Convert Jepsen histories to OTLP/JSON spans, one file per history.

    python3 scripts/jepsen_to_otlp.py OUT_DIR HISTORY...

HISTORY is a Jepsen etcd log (``*.log``, e.g. Porcupine's test_data/jepsen/etcd_000.log)
or a Jepsen kv history (``*.txt``, test_data/kv/c10-ok.txt); OUT_DIR/NAME.json gets its
operations as spans by tracelogic's span convention (docs/consistency.md): one client span
per operation, ``consistency.operation`` / ``.key`` / ``.input`` / ``.output`` attributes,
and an ``error`` status with ``consistency.indeterminate`` for Jepsen's ``:info``.

Porcupine's histories live in Go's module cache after scripts/install.sh:
    cd bench/porcupine && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/anishathalye/porcupine
They are read from there and never committed. Exit 2 on a malformed history.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from tracelogic.consistency.jepsen import parse_etcd, parse_kv, to_otlp_json  # noqa: E402
from tracelogic.errors import InputError  # noqa: E402
from tracelogic.private_files import open_private  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out_dir, paths = argv[0], argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    for path in paths:
        parse = parse_kv if path.endswith(".txt") else parse_etcd
        try:
            with open(path, encoding="utf-8") as f:
                ops = parse(f.read())
        except (OSError, UnicodeDecodeError, InputError) as e:
            print(f"jepsen_to_otlp: {path}: {e}", file=sys.stderr)
            return 2
        name = os.path.splitext(os.path.basename(path))[0]
        with open_private(os.path.join(out_dir, name + ".json")) as out:
            json.dump(to_otlp_json(ops, history=name), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
