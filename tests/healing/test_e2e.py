"""End to end: OpenTelemetry SDK spans -> Monitor -> violation -> policy -> actions -> audit.

The webhook goes to a receiver on 127.0.0.1 that checks the HMAC; the command is a
recording program that writes its argv to a file. A span attribute crafted as a
shell injection reaches the program only as one literal argv element.
"""
from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import tracelogic
from tracelogic import cli
from tracelogic.healing.audit import AuditLog
from tracelogic.healing.controller import Controller
from tracelogic.healing.config import load_config
from tracelogic.healing.trail import verify_audit
from tracelogic.healing.worker import HealingWorker
from tracelogic.sidecar.store import Store

from .conftest import config_toml, read_argv_lines

SPEC = """
pred checkout = name == "POST /checkout" and kind == server
property answered "checkout answers within 2s":
  G (checkout & start -> F[<= 2s] (checkout & end))

heal notify
  on violated answered
  do webhook(endpoint: "oncall", order: attr["order.id"], service: service)
  cooldown 1m
  limit 5 per 1h

heal record
  on violated answered
  do command(argv: ["{prog}", "{out}", "--", attr["order.id"]])
  limit 5 per 1h
"""


def sdk_spans(order_ids: list[str]):
    """One slow checkout (3 s) per order id, recorded by the real OpenTelemetry SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop")
    t0 = 1_800_000_000 * 10**9
    for i, oid in enumerate(order_ids):
        s = tracer.start_span("POST /checkout", kind=SpanKind.SERVER,
                              start_time=t0 + i * 10**10, attributes={"order.id": oid})
        s.end(end_time=t0 + i * 10**10 + 3 * 10**9)
    provider.shutdown()
    return exporter.get_finished_spans()


def run_pipeline(tmp_path, recorder, receiver, *, execute: bool, order_ids):
    out = tmp_path / "argv.jsonl"
    spec = tracelogic.load(SPEC.replace("{prog}", recorder).replace("{out}", str(out)),
                           filename=str(tmp_path / "shop.spec"))
    mon = spec.monitor()
    mon.feed(sdk_spans(order_ids))
    report = mon.close()
    assert len(report.violations) == len(order_ids)
    db = str(tmp_path / "tracelogic.db")
    store = Store(db)
    records = store.add_violations(report.violations)
    ctl = Controller(spec, db, load_config(config_toml(tmp_path, receiver)), execute=execute)
    decisions = []
    for record, inserted in records:
        assert inserted and record.id is not None and record.witness is not None
        decisions += ctl.handle(record)  # the sidecar's call: the committed record
    return ctl, decisions, out


def test_execute_runs_webhook_and_command_and_audits(tmp_path, recorder, receiver):
    evil = f"x; rm -rf / ; touch {tmp_path}/pwned $(touch {tmp_path}/pwned2)"
    ctl, decisions, out = run_pipeline(tmp_path, recorder, receiver, execute=True,
                                       order_ids=[evil])
    assert sorted(d.outcome for d in decisions) == ["executed", "executed"]
    # the webhook: one signed POST whose JSON carries the span value as one field
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert receiver.signed_ok(req)
    body = json.loads(req["body"])
    assert body["fields"] == {"order": evil, "service": "checkout"}
    assert body["violation"]["property"] == "answered"
    assert {k.lower(): v for k, v in req["headers"].items()}["idempotency-key"] == \
        body["idempotency_key"]
    # the command: the attribute is exactly one literal argv element, nothing was run by a shell
    assert read_argv_lines(out) == [["--", evil]]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    # the audit trail: plan then execute, for both policies
    events = ctl.log.events()
    by_policy = {p: [(e.event, e.outcome) for e in events if e.policy == p]
                 for p in ("notify", "record")}
    assert by_policy["notify"] == [("plan", "matched"), ("execute", "ok")]
    assert by_policy["record"] == [("plan", "matched"), ("execute", "ok")]
    # std.healing holds over the controller's own audit spans
    reports = verify_audit(ctl.log, ctl.spec)
    assert [v.to_json() for r in reports for v in r.violations] == []
    assert sum(p.instances for r in reports for p in r.properties) > 0


def test_dry_run_executes_nothing_but_audits_the_plan(tmp_path, recorder, receiver):
    ctl, decisions, out = run_pipeline(tmp_path, recorder, receiver, execute=False,
                                       order_ids=["o-1"])
    assert sorted(d.outcome for d in decisions) == ["dry_run", "dry_run"]
    assert receiver.requests == []
    assert not out.exists()
    plans = {e.policy: e.detail["plan"] for e in ctl.log.events() if e.event == "dry_run"}
    assert plans["record"]["argv"] == [ctl.spec.heals[1].args[0][1].args[0].payload,
                                       str(out), "--", "o-1"]
    assert plans["record"]["shell"] is False
    assert plans["notify"]["url"] == receiver.url and plans["notify"]["signed"] is True
    # the CLI shows the same trail
    import io
    buf, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", ctl.store_path, "--format", "json"], buf, err) == 0
    doc = json.loads(buf.getvalue())
    assert {a["state"] for a in doc["actions"]} == {"dry_run"}
    assert [e["event"] for e in doc["events"] if e["policy"] == "record"] == ["plan", "dry_run"]


def test_heal_cli_over_a_store_is_idempotent(tmp_path, recorder, receiver):
    """`tracelogic heal --execute` twice over one store: each action runs once."""
    out = tmp_path / "argv.jsonl"
    spec_path = tmp_path / "shop.spec"
    spec_path.write_text(SPEC.replace("{prog}", recorder).replace("{out}", str(out)))
    spec = tracelogic.load(str(spec_path))
    mon = spec.monitor()
    spans = sdk_spans(["o-7"])
    mon.feed(spans)
    db = str(tmp_path / "t.db")
    Store(db).add_violations([v.to_json() for v in mon.close().violations])
    # the witness attributes come from the OTLP file given with --traces
    from tracelogic.ingest.otlp import request_to_json, spans_to_request
    from tracelogic.ingest.spans import from_sdk
    traces = tmp_path / "traces.json"
    traces.write_text(json.dumps(request_to_json(spans_to_request(from_sdk(spans)))))
    cfg = config_toml(tmp_path, receiver)
    import io
    for _ in range(2):
        o, e = io.StringIO(), io.StringIO()
        code = cli.run(["heal", str(spec_path), "--store", db, "--execute",
                        "--controller-config", cfg, "--traces", str(traces)], o, e)
        assert code == 0, e.getvalue()
    assert read_argv_lines(out) == [["--", "o-7"]]
    assert len(receiver.requests) == 1
    # a second consumer (another --name) re-reads the same violations: duplicates only
    o, e = io.StringIO(), io.StringIO()
    assert cli.run(["heal", str(spec_path), "--store", db, "--execute", "--controller-config",
                    cfg, "--traces", str(traces), "--name", "other"], o, e) == 0
    assert "duplicate" in o.getvalue()
    assert read_argv_lines(out) == [["--", "o-7"]]
    assert len(receiver.requests) == 1


def test_without_witness_attributes_the_action_is_skipped_with_the_reason(tmp_path, recorder,
                                                                          receiver):
    """Over a bare store (no --traces), `attr[...]` has no value: skipped, and the audit says why."""
    out = tmp_path / "argv.jsonl"
    spec = tracelogic.load(SPEC.replace("{prog}", recorder).replace("{out}", str(out)))
    mon = spec.monitor()
    mon.feed(sdk_spans(["o-8"]))
    db = str(tmp_path / "t.db")
    Store(db).add_violations([v.to_json() for v in mon.close().violations])
    ctl = Controller(spec, db, load_config(config_toml(tmp_path, receiver)), execute=True)
    decisions = ctl.poll()
    assert {d.outcome for d in decisions} == {"skipped"}
    reasons = {d.policy: d.reason for d in decisions}
    assert "`order`" in reasons["notify"] and "no value" in reasons["notify"]
    assert "`argv`" in reasons["record"] and "no value" in reasons["record"]
    skips = [e for e in AuditLog(db).events() if e.event == "skip"]
    assert len(skips) == 2 and "no value on the witness span" in skips[0].detail["reason"]
    assert receiver.requests == [] and not out.exists()


@pytest.mark.parametrize("execute", [True])
def test_e2e_through_the_serve_sidecar(tmp_path, recorder, receiver, execute):
    """OTel SDK -> OTLP/HTTP exporter -> `serve` (in-process, 127.0.0.1) -> store -> heal."""
    from opentelemetry.exporter.otlp.proto.http import trace_exporter as exporter_mod

    from tracelogic.sidecar import server
    out = tmp_path / "argv.jsonl"
    spec_path = tmp_path / "shop.spec"
    spec_path.write_text(SPEC.replace("{prog}", recorder).replace("{out}", str(out))
                         .replace('attr["order.id"]]', 'key]'))
    db = str(tmp_path / "serve.db")
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0", store=db,
                             idle_ns=50_000_000, lateness_ns=10**9)
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
    sidecar.start()
    try:
        addr = sidecar.addresses()["http"]
        exporter = exporter_mod.OTLPSpanExporter(endpoint=f"http://{addr}/v1/traces")
        spans = sdk_spans(["o-9"])
        assert exporter.export(spans).name == "SUCCESS"
        import time
        deadline = time.monotonic() + 20
        store = Store(db)
        while not store.violations() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.violations(), "the sidecar recorded no violation"
    finally:
        sidecar.stop(1)
    import io
    o, e = io.StringIO(), io.StringIO()
    assert cli.run(["heal", str(spec_path), "--store", db, "--execute", "--controller-config",
                    config_toml(tmp_path, receiver)], o, e) == 0, e.getvalue()
    trace_id = format(spans[0].context.trace_id, "032x")
    assert read_argv_lines(out) == [["--", trace_id]]      # `key` of a per-trace property
    assert "executed" in o.getvalue()
