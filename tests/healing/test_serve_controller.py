"""`serve` runs the healing controller in-process: committed violations lead to policies."""
from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.http import trace_exporter as exporter_mod

from tracelogic.healing.audit import AuditLog
from tracelogic.healing.worker import HealingWorker
from tracelogic.sidecar import server
from tracelogic.sidecar.store import Store

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
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
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


# ---------------------------------------------------------------- issue 21 items 1 and 2, live

LIVE = """
pred checkout = name == "POST /checkout" and kind == server
property answered "checkout answers within 2s":
  G (checkout & start -> F[<= 2s] (checkout & end))

heal record
  on violated answered
  do command(argv: ["{prog}", "{out}", "--", service], target: service)
  cooldown 1m
"""


def _slow_checkout(start_ns: int):
    """One 3 s checkout starting at ``start_ns``, recorded by the real OpenTelemetry SDK."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    s = provider.get_tracer("shop").start_span("POST /checkout", kind=SpanKind.SERVER,
                                               start_time=start_ns)
    s.end(end_time=start_ns + 3 * 10**9)
    provider.shutdown()
    return exporter.get_finished_spans()


def _wait_for(db, pred, what):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = AuditLog(db).events()
        if pred(events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"serve never got to: {what}")


def test_serve_execute_verifies_by_event_time_and_escalates_once(tmp_path, recorder):
    out = tmp_path / "argv.jsonl"
    spec_path = tmp_path / "live.spec"
    spec_path.write_text(LIVE.replace("{prog}", recorder).replace("{out}", str(out)))
    db = str(tmp_path / "live.db")
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0", store=db,
                             idle_ns=50_000_000, lateness_ns=10**9, execute=True,
                             controller_config=config_toml(tmp_path))
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
    sidecar.start()
    try:
        exporter = exporter_mod.OTLPSpanExporter(
            endpoint=f"http://{sidecar.addresses()['http']}/v1/traces")
        before = time.time_ns() - 60 * 10**9
        assert exporter.export(_slow_checkout(time.time_ns() - 3 * 10**9)).name == "SUCCESS"
        _wait_for(db, lambda ev: any(e.event == "execute" for e in ev), "the first action")
        # a late trace from a minute before the action: not a failed fix
        assert exporter.export(_slow_checkout(before)).name == "SUCCESS"
        events = _wait_for(db, lambda ev: sum(e.event == "plan" for e in ev) == 2,
                           "the late violation")
        assert not [e for e in events if e.event in ("verify", "escalate")]
        # the property is violated again after the action: the fix failed
        assert exporter.export(_slow_checkout(time.time_ns())).name == "SUCCESS"
        events = _wait_for(db, lambda ev: any(e.event == "escalate" for e in ev),
                           "the escalation")
    finally:
        sidecar.stop(1)
    assert read_argv_lines(out) == [["--", "checkout"]]      # the follow-ups were held back
    guards = [e.outcome for e in AuditLog(db).events() if e.event == "guard"]
    assert guards == ["cooldown", "cooldown"]
    [verify] = [e for e in AuditLog(db).events() if e.event == "verify"]
    [esc] = [e for e in AuditLog(db).events() if e.event == "escalate"]
    assert verify.outcome == "failed" and esc.action_id == verify.action_id
    assert esc.detail["follow_up"]["reason"].startswith("cooldown:")
