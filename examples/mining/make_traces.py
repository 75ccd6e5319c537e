"""Write the worked example of docs/mining.md: healthy.jsonl and faulty.jsonl (OTLP/JSON).

A payment API: `POST /pay` (service `api`) authorizes, then charges (service `payments`,
which reads the card in `SELECT card`, service `payments-db`). Six healthy payments, one
second apart. The faulty run has three payments: one charged without authorizing, one whose
query takes 300 ms, and one that fails with HTTP 502.

    python examples/mining/make_traces.py      # rewrites the two files next to this script
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))

from tracelogic.ingest.otlp import request_to_json, spans_to_request  # noqa: E402
from tracelogic.ingest.spans import Span  # noqa: E402

MS = 1_000_000
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def payment(n: int, *, authorize: bool = True, query_ms: int = 4, status: int = 200,
            t0: int = T0) -> list[Span]:
    tid = f"{0xa000 + n:032x}"
    base = t0 + n * 1000 * MS
    ids = iter(range(n * 16 + 1, n * 16 + 16))

    def sid() -> str:
        return f"{next(ids):016x}"

    root = sid()
    out, at = [], 1
    if authorize:
        out.append(Span(name="authorize", trace_id=tid, span_id=sid(), parent_id=root,
                        start_ns=base + at * MS, end_ns=base + (at + 6) * MS,
                        service="payments", kind="internal",
                        attrs={"payment.method": "card" if n % 2 else "wallet"}))
        at += 8
    charge = sid()
    end = at + query_ms + 10
    out.append(Span(name="charge", trace_id=tid, span_id=charge, parent_id=root,
                    start_ns=base + at * MS, end_ns=base + end * MS, service="payments",
                    status="error" if status >= 500 else "unset",
                    attrs={"amount": 10 + 5 * (n % 6)}))
    out.append(Span(name="SELECT card", trace_id=tid, span_id=sid(), parent_id=charge,
                    start_ns=base + (at + 2) * MS, end_ns=base + (at + 2 + query_ms) * MS,
                    service="payments-db", kind="client", attrs={"db.system": "postgresql"}))
    out.insert(0, Span(name="POST /pay", trace_id=tid, span_id=root, start_ns=base,
                       end_ns=base + (end + 2) * MS, service="api", kind="server",
                       status="error" if status >= 500 else "unset",
                       attrs={"http.response.status_code": status}))
    return out


def write(path: str, spans: list[Span]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(request_to_json(spans_to_request(spans)), sort_keys=True) + "\n")


def main(out_dir: str = HERE) -> None:
    write(os.path.join(out_dir, "healthy.jsonl"),
          [s for n in range(6) for s in payment(n, query_ms=3 + n % 3)])
    write(os.path.join(out_dir, "faulty.jsonl"),
          payment(10, authorize=False) + payment(11, query_ms=300)
          + payment(12, status=502))


if __name__ == "__main__":
    main()
