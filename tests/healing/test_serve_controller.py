"""`serve` runs the healing controller in-process: committed violations lead to policies."""
from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.http import trace_exporter as exporter_mod

from tracelogic.healing.audit import AuditLog
from tracelogic.runtime_monitor import server
from tracelogic.runtime_monitor.store import Store

from .conftest import config_toml, read_argv_lines
from .test_e2e import SPEC, sdk_spans


def serve_once(tmp_path, recorder, receiver, *, execute: bool):
    out = tmp_path / "argv.jsonl"
    spec_path = tmp_path / "shop.spec"
    spec_path.write_text(SPEC.replace("{prog}", recorder).replace("{out}", str(out)))
    db = str(tmp_path / "serve.db")
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0", store=db,
                             idle_ns=50_000_000, lateness_ns=10**9, execute=execute,
                             controller_config=config_toml(tmp_path, receiver))
    sidecar = server.Sidecar(cfg)
    assert sidecar.healer is not None  # the spec has heal policies
    sidecar.start()
    try:
        exporter = exporter_mod.OTLPSpanExporter(
            endpoint=f"http://{sidecar.addresses()['http']}/v1/traces")
        assert exporter.export(sdk_spans(["o-1"])).name == "SUCCESS"
        deadline = time.monotonic() + 20
        while not Store(db).violations() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sidecar.stop(1)  # drains the healer after the engine
    assert Store(db).violations(), "no violation was recorded"
    return AuditLog(db).events(), out


def test_dry_run_plans_and_runs_nothing(tmp_path, recorder, receiver):
    events, out = serve_once(tmp_path, recorder, receiver, execute=False)
    plans = {(e.policy, e.event) for e in events}
    assert ("notify", "plan") in plans and ("record", "plan") in plans
    assert not any(e.event == "execute" for e in events)
    assert receiver.requests == [] and not out.exists()


def test_execute_acts_with_the_witness_attributes(tmp_path, recorder, receiver):
    events, out = serve_once(tmp_path, recorder, receiver, execute=True)
    assert read_argv_lines(out) == [["--", "o-1"]]  # the witness span's attr["order.id"]
    assert len(receiver.requests) == 1 and receiver.signed_ok(receiver.requests[0])
    assert {(e.policy, e.event, e.outcome) for e in events if e.event == "execute"} == {
        ("notify", "execute", "ok"), ("record", "execute", "ok")}
