"""The circuit-breaker callback of the healing controller (``[circuit_breaker] callback``).

``tracelogic serve --execute`` calls ``set_state(name, state, idempotency_key=...)`` when a
``circuit_breaker`` policy fires. A real deployment would flip the breaker in its gateway
or service mesh here; the demo appends the request as one JSON line to the file named by
``SHOPDEMO_BREAKER_LOG``, so a test can see whether it was called (in dry-run it never is).
"""
from __future__ import annotations

import json
import os


def set_state(name: str, state: str, *, idempotency_key: str) -> dict:
    path = os.environ.get("SHOPDEMO_BREAKER_LOG")
    if not path:
        raise RuntimeError("SHOPDEMO_BREAKER_LOG is not set: nowhere to record the breaker "
                           "change")
    record = {"name": name, "state": state, "idempotency_key": idempotency_key}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    return record
