"""The live acceptance of issue 18 for `serve`: the key-value service of test_live.py
(real sockets), concurrent clients tracing every call with the real OpenTelemetry SDK,
exporting over OTLP/HTTP to a real `tracelogic serve` process that checks the spec's
`consistency` declaration window by window. A fault switch makes the service answer
reads from a replica that never syncs. serve flags exactly the stale run's keys, with a
witness of the clients' own spans, in the store, `tracelogic violations`, `/status` and
`/metrics`; the correct run gives none.
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from sidecar.serve_helpers import (http_exporter, metric, metrics_text, start_serve,
                                   wait_for, write_spec)

from .test_live import Store, run_clients

SPEC = "consistency kv_linearizable: linearizable register\n"
CLIENTS, ROUNDS = 4, 6
OPS = CLIENTS * ROUNDS * 2


@pytest.fixture(scope="module")
def sp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-serve")
    # a window closes once its operations were invoked more than --lateness ago
    proc = start_serve(tmp, "--lateness", "1s", spec=write_spec(tmp, SPEC, "kv.spec"),
                       grpc=False)
    yield proc
    assert proc.terminate() == 0


def status(sp) -> dict:
    with urllib.request.urlopen(f"{sp.http}/status", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"
        return json.loads(r.read())


def settled(sp) -> int:
    """Operations serve is done with: checked, or dropped from checking with a count
    (after their key's violation: `unchecked`)."""
    doc = status(sp)["consistency"]
    return sum(doc["operations"].values()) if doc["open_operations"] == 0 else -1


def drive(sp, prefix: str, stale: bool) -> list:
    """Run the clients against a store (stale or not); wait until serve is done with
    every one of their operations; return the clients' spans."""
    before = settled(sp)
    store = Store()
    store.stale = stale
    spans = run_clients(store, CLIENTS, ROUNDS, export_to=lambda: http_exporter(sp),
                        prefix=prefix)
    assert len(spans) == OPS
    wait_for(lambda: settled(sp) >= before + OPS, 30, "serve to check every operation")
    return spans


def test_stale_reads_are_flagged_by_serve_with_the_clients_spans_as_witness(sp):
    spans = drive(sp, "stale-", stale=True)
    mine = [v for v in sp.violations() if v["key"].startswith("stale-")]
    assert sorted(v["key"] for v in mine) == ["stale-k0", "stale-k1"]
    ids = {(s.trace_id, s.span_id) for s in spans}
    for v in mine:
        assert v["property"] == "kv_linearizable" and v["kind"] == "consistency"
        w = v["consistency"]["witness"]
        ops = w["operations"]
        # the smallest set that cannot be linearized: the clients' own spans, a read of
        # nil after the write it should have seen, and the longest order that got through
        assert ops and all((o["trace_id"], o["span_id"]) in ids for o in ops)
        assert w["minimal"] and w["blocked"]["op"] == "read" and w["blocked"]["output"] is None
        # the write the read missed is in the set, or in an earlier window whose end
        # state the set starts from
        assert any(o["op"] == "write" for o in ops) or (
            v["consistency"]["initial_state"] is not None and "from state" in v["message"])
        assert "cannot be linearized together" in v["consistency"]["witness_text"]
        assert sorted(v["span_ids"]) == sorted(o["span_id"] for o in ops)
    doc = status(sp)["consistency"]
    assert doc["checks"][0]["keys"]["violated"] == 2 and doc["incomplete"] == 0
    assert metric(metrics_text(sp), "tracelogic_consistency_keys", check="kv_linearizable",
                  verdict="violated") == 2
    # `tracelogic violations` reads the same store, witness and all
    run = subprocess.run([sys.executable, "-c", "from tracelogic.cli import main; main()",
                          "violations", "--store", str(sp.store), "--property",
                          "kv_linearizable"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert run.stdout.count("cannot be linearized together") == 2
    assert "key stale-k0" in run.stdout and "longest partial linearization" in run.stdout


def test_a_correct_run_gives_no_violation(sp):
    drive(sp, "ok-", stale=False)
    assert not [v for v in sp.violations() if v["key"].startswith("ok-")]
    doc = status(sp)["consistency"]
    keys = doc["checks"][0]["keys"]
    assert keys.get("presumably_satisfied", 0) >= 2 and keys.get("incomplete", 0) == 0
    assert doc["operations"]["checked"] >= OPS and doc["operations"]["late"] == 0
