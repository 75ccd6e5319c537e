"""Log records as events in the monitor (issue 19; docs/logs.md, docs/language.md "Log
records"): the worked examples of docs/logs.md, one property mixing spans and logs in each
scope, the engine plan marking log-reading properties, `tracelogic monitor` reading log
files, the OpenTelemetry SDK's log records, and a differential test of the Python engine
against an oracle written from the definitions (the Rust core does not run these
properties; the plan says so).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic import cli
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.logs import LogRecord, logs_to_request
from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

DOC = (Path(__file__).resolve().parents[2] / "docs" / "logs.md").read_text(encoding="utf-8")
[SPEC_TEXT] = re.findall(r"```spec\n(.*?)```", DOC, re.S)
SPEC = tracelogic.load(SPEC_TEXT, filename="logs.spec")
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" /
                     "monitor.schema.json").read_text())
S = 10**9
LOG_PROPS = ("no_error_log_in_ok_checkout", "retry_logged", "breaker_holds",
             "no_serving_after_fatal", "deploys_are_approved")


def tid(i: int) -> str:
    return "%032x" % i


def sid(i: int) -> str:
    return "%016x" % i


def span(t: int, s: int, name: str, start: float, end: float, *, parent: int = 0,
         kind: str = "internal", status: str = "unset", service: str = "shop",
         attrs: dict | None = None) -> Span:
    return Span(name=name, trace_id=tid(t), span_id=sid(s), parent_id=sid(parent) if parent
                else "", start_ns=int(start * S), end_ns=int(end * S), kind=kind,
                status=status, service=service, attrs=attrs, resource={"service.name": service})


def log(at: float, body: str, severity: int = 9, *, t: int = 0, s: int = 0,
        service: str = "shop", attrs: dict | None = None) -> LogRecord:
    return LogRecord(time_ns=int(at * S), severity=severity, body=body, service=service,
                     trace_id=tid(t) if t else "", span_id=sid(s) if s else "",
                     attrs=attrs, resource={"service.name": service})


def run(spans, logs, engine: str | None = None):
    mon = Monitor(SPEC, engine=engine)
    mon.feed(spans)
    mon.feed_logs(logs)
    return mon, mon.close()


def violated(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {p: set() for p in LOG_PROPS}
    for p in report.properties:
        for key, verdict in p.results:
            assert verdict in ("satisfied", "violated"), (p.name, key, verdict)
            if verdict == "violated":
                out[p.name].add(key)
    return out


# -- the worked examples -------------------------------------------------------------------

def test_an_error_log_in_an_ok_checkout_trace_is_a_violation_with_the_record_as_witness():
    spans = [span(1, 1, "POST /checkout", 0, 2, kind="server", status="ok"),
             span(1, 2, "charge", 0.5, 1, parent=1, kind="client"),
             span(2, 3, "POST /checkout", 0, 2, kind="server", status="ok")]
    logs = [log(0.7, "payment declined", 17, t=1, s=2), log(0.7, "all fine", 9, t=2, s=3)]
    _, report = run(spans, logs)
    assert violated(report)["no_error_log_in_ok_checkout"] == {tid(1)}
    [v] = [v for v in report.violations if v.prop.name == "no_error_log_in_ok_checkout"]
    assert v.span_ids == [sid(2)] and v.trace_ids == [tid(1)]
    assert "payment declined" in v.message


def test_the_error_log_does_not_matter_when_the_checkout_failed():
    spans = [span(1, 1, "POST /checkout", 0, 2, kind="server", status="error")]
    _, report = run(spans, [log(1, "payment declined", 17, t=1, s=1)])
    assert violated(report)["no_error_log_in_ok_checkout"] == set()


def test_a_retry_log_before_every_second_attempt():
    spans = [span(1, 1, "GET /", 0, 10, kind="server"),
             span(1, 2, "GET bank", 1, 2, parent=1, kind="client"),
             span(1, 3, "GET bank", 3, 4, parent=1, kind="client", attrs={"http.request.resend_count": 1}),
             span(2, 4, "GET /", 0, 10, kind="server"),
             span(2, 5, "GET bank", 1, 2, parent=4, kind="client"),
             span(2, 6, "GET bank", 3, 4, parent=4, kind="client", attrs={"http.request.resend_count": 1})]
    logs = [log(2.5, "retrying GET bank", 13, t=1, s=1),
            log(3.5, "retrying too late", 13, t=2, s=6)]
    _, report = run(spans, logs)
    assert violated(report)["retry_logged"] == {tid(2)}


def test_a_retry_log_at_the_instant_the_second_attempt_starts():
    # logged inside the second attempt's own span at its start: after that start (§ Order)
    own = [span(1, 1, "GET /", 0, 10, kind="server"),
           span(1, 3, "GET bank", 3, 4, parent=1, kind="client", attrs={"http.request.resend_count": 1})]
    _, report = run(own, [log(3, "retrying", 13, t=1, s=3)])
    assert violated(report)["retry_logged"] == {tid(1)}
    # logged in the parent at that instant: after every span event at that time, too
    _, report = run(own, [log(3, "retrying", 13, t=1, s=1)])
    assert violated(report)["retry_logged"] == {tid(1)}
    # a nanosecond earlier: before it
    _, report = run(own, [LogRecord(time_ns=3 * S - 1, body="retrying", trace_id=tid(1),
                                    span_id=sid(1))])
    assert violated(report)["retry_logged"] == set()


def test_after_circuit_opened_no_call_to_that_peer_for_30s_across_traces():
    logs = [log(100, "circuit opened", 13, attrs={"peer.service": "bank"})]
    spans = [span(1, 1, "pay", 110, 111, kind="client", attrs={"peer.service": "bank"}),
             span(2, 2, "ship", 110, 111, kind="client", attrs={"peer.service": "shipping"}),
             span(3, 3, "pay", 131, 132, kind="client", attrs={"peer.service": "bank"})]
    _, report = run(spans, logs)
    assert violated(report)["breaker_holds"] == {"bank"}
    _, report = run(spans[1:], logs)  # only the call 31 s later: fine
    assert violated(report)["breaker_holds"] == set()


def test_a_fatal_log_then_a_request_served_per_service():
    spans = [span(1, 1, "GET /a", 10, 11, kind="server", service="a"),
             span(2, 2, "GET /b", 10, 11, kind="server", service="b")]
    logs = [log(5, "out of memory", 21, service="a"), log(20, "dying", 21, service="b")]
    _, report = run(spans, logs)
    assert violated(report)["no_serving_after_fatal"] == {"a"}


def test_deploys_follow_an_approval_logged_without_trace_context_global():
    approval = log(50, "deploy approved by ops", 9, service="ops")
    ok = span(1, 1, "deploy", 60, 61, service="cd")
    early = span(2, 2, "deploy", 40, 41, service="cd")
    _, report = run([ok], [approval])
    assert violated(report)["deploys_are_approved"] == set()
    _, report = run([ok, early], [approval])
    assert violated(report)["deploys_are_approved"] == {"*"}


def test_properties_that_read_no_log_field_never_see_log_events():
    spec = tracelogic.load('property next_is_end:\n  G (name == "a" & start -> X end)\n',
                           filename="x.spec")
    mon = Monitor(spec)
    mon.feed([span(1, 1, "a", 0, 2)])
    mon.feed_logs([log(1, "between the start and the end", t=1, s=1)])
    [p] = mon.close().properties
    assert p.results == [(tid(1), "satisfied")]


def test_span_fields_are_missing_at_a_log_event():
    spec = tracelogic.load('''
property missing_everywhere:
  G (signal == log -> !(kind != server) & !(duration >= 0s) & !(name != "x") & !start & !end
                      & !(status == unset) & !has_ancestor(true))
property log_fields_missing_at_spans:
  G (signal == span -> !(severity >= 0) & !(body != "x") & !(severity_text != "x"))
''', filename="m.spec")
    mon = Monitor(spec)
    mon.feed([span(1, 1, "root", 0, 2), span(1, 2, "child", 0.5, 1, parent=1)])
    mon.feed_logs([log(0.7, "inside", 9, t=1, s=2), log(1, "free")])
    report = mon.close()
    assert [p.results for p in report.properties] == [[(tid(1), "satisfied")]] * 2


def test_a_trace_with_log_records_only_is_an_instance():
    _, report = run([], [log(1, "payment declined", 17, t=7)])
    [p] = [p for p in report.properties if p.name == "no_error_log_in_ok_checkout"]
    assert p.results == [(tid(7), "satisfied")]  # no ok checkout in it


def test_aggregates_that_read_logs_are_refused_with_the_reason():
    spec = tracelogic.load('property n window 1m:\n  count(signal == log) < 3\n',
                           filename="a.spec")
    mon = Monitor(spec)
    assert "sees span events only" in mon.refused["n"]


# -- engines, CLI ----------------------------------------------------------------------------

def test_the_plan_marks_log_properties_as_python_only():
    mon = Monitor(SPEC, engine="native")
    for name in LOG_PROPS:
        a = mon.engine_plan[name]
        assert a.engine == "python" and "reads log records" in a.fallback


def _write(tmp_path, spans, logs):
    traces = tmp_path / "traces.json"
    traces.write_text(json.dumps(request_to_json(spans_to_request(spans))))
    # the Collector's file exporter: one request per line
    lines = [json.dumps(_logs_json([r])) for r in logs]
    logfile = tmp_path / "logs.jsonl"
    logfile.write_text("\n".join(lines) + "\n")
    pb = tmp_path / "logs.pb"
    pb.write_bytes(logs_to_request(logs).SerializeToString())
    return traces, logfile, pb


def _logs_json(records) -> dict:
    out = {"resourceLogs": []}
    for r in records:
        rec = {"timeUnixNano": str(r.time_ns), "severityNumber": r.severity,
               "body": {"stringValue": r.body},
               "attributes": [{"key": k, "value": {"stringValue": v}}
                              for k, v in r.attrs.items()]}
        if r.trace_id:
            rec["traceId"], rec["spanId"] = r.trace_id, r.span_id
        out["resourceLogs"].append({
            "resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": r.service}}]},
            "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [rec]}]})
    return out


@pytest.mark.parametrize("how", ["json-among-traces", "--logs json", "--logs protobuf"])
def test_monitor_reads_log_files(tmp_path, how):
    spec = tmp_path / "logs.spec"
    spec.write_text(SPEC_TEXT)
    spans = [span(1, 1, "POST /checkout", 0, 2, kind="server", status="ok")]
    logs = [log(1, "payment declined", 17, t=1, s=1), log(3, "circuit opened", 13,
                                                          attrs={"peer.service": "bank"})]
    traces, logfile, pb = _write(tmp_path, spans, logs)
    extra = {"json-among-traces": [str(logfile)], "--logs json": ["--logs", str(logfile)],
             "--logs protobuf": ["--logs", str(pb)]}[how]
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["monitor", str(spec), str(traces), *extra, "--format", "json",
                     "--verbose"], out=out, err=err)
    assert code == 1, err.getvalue()
    doc = json.loads(out.getvalue())
    jsonschema.validate(doc, SCHEMA)  # log events in the witness keep the JSON contract
    bad = {v["property"] for v in doc["violations"]}
    [event] = doc["violations"][0]["events"]
    assert (event["event"], event["severity"], event["body"]) == ("log", 17, "payment declined")
    text = io.StringIO()
    assert cli.run(["monitor", str(spec), str(traces), *extra], out=text, err=io.StringIO()) == 1
    assert "ERROR log 'payment declined'" in text.getvalue() or \
        "severity 17 log 'payment declined'" in text.getvalue()
    assert bad == {"no_error_log_in_ok_checkout"}
    assert "no_error_log_in_ok_checkout: python (fallback: it reads log records" in \
        err.getvalue()


def test_a_malformed_log_file_exits_2(tmp_path):
    spec = tmp_path / "logs.spec"
    spec.write_text(SPEC_TEXT)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "nothex"}]}]}]}))
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["monitor", str(spec), str(bad)], out=out, err=err) == 2
    assert "trace id 'nothex'" in out.getvalue() + err.getvalue()


def test_the_sdk_log_records_feed_the_monitor():
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from opentelemetry._logs import SeverityNumber

    res = Resource.create({"service.name": "shop"})
    spans_out, logs_out = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tp = TracerProvider(resource=res)
    tp.add_span_processor(SimpleSpanProcessor(spans_out))
    lp = LoggerProvider(resource=res)
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs_out))
    logger = lp.get_logger("shop")
    with tp.get_tracer("shop").start_as_current_span("POST /checkout",
                                                     kind=SpanKind.SERVER) as sp:
        logger.emit(severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                    body="payment declined")
        sp.set_status(Status(StatusCode.OK))
    mon = Monitor(SPEC)
    mon.feed(spans_out.get_finished_spans())
    mon.feed_logs(logs_out.get_finished_logs())
    report = mon.close()
    tid_hex = format(spans_out.get_finished_spans()[0].context.trace_id, "032x")
    assert violated(report)["no_error_log_in_ok_checkout"] == {tid_hex}


# -- differential: the Python engine against the definitions ---------------------------------

@st.composite
def workloads(draw):
    """Traces and log records with pairwise distinct times (ties are the order test's
    business, tests/ingest/test_logs.py), in multiples of 5 s so that 30 s bounds are hit
    exactly."""
    times = iter(draw(st.permutations(range(0, 60))))
    spans, logs = [], []
    n = 0
    for t in range(1, draw(st.integers(1, 4)) + 1):
        service = draw(st.sampled_from(["a", "b"]))
        root_name = draw(st.sampled_from(["POST /checkout", "deploy", "GET /"]))
        a, b = sorted((next(times), next(times)))
        n += 1
        root = n
        spans.append(span(t, root, root_name, 5 * a, 5 * b, kind="server", service=service,
                          status=draw(st.sampled_from(["ok", "error", "unset"]))))
        for _ in range(draw(st.integers(0, 3))):
            a, b = sorted((next(times), next(times)))
            n += 1
            attrs = {"peer.service": draw(st.sampled_from(["bank", "ship"]))}
            if draw(st.booleans()):
                attrs["http.request.resend_count"] = draw(st.sampled_from([0, 1]))
            spans.append(span(t, n, "call", 5 * a, 5 * b, parent=root, service=service,
                              kind=draw(st.sampled_from(["client", "server"])), attrs=attrs))
    ids = [(sp.trace_id, sp.span_id) for sp in spans]
    for _ in range(draw(st.integers(0, 6))):
        body = draw(st.sampled_from(["circuit opened", "retrying", "deploy approved",
                                     "hello"]))
        ctx = draw(st.sampled_from([None] + ids))
        rec = log(5 * next(times), body, draw(st.sampled_from([5, 9, 13, 17, 21])),
                  service=draw(st.sampled_from(["a", "b", "ops"])),
                  attrs={"peer.service": draw(st.sampled_from(["bank", "ship"]))})
        if ctx is not None:
            rec = LogRecord(time_ns=rec.time_ns, severity=rec.severity, body=rec.body,
                            service=rec.service, trace_id=ctx[0], span_id=ctx[1],
                            attrs=rec.attrs, resource=rec.resource)
        logs.append(rec)
    return spans, logs


def oracle(spans: list[Span], logs: list[LogRecord]) -> dict[str, set[str]]:
    """The five properties of docs/logs.md, straight from their words (distinct times)."""
    out: dict[str, set[str]] = {p: set() for p in LOG_PROPS}
    traces = {sp.trace_id for sp in spans} | {r.trace_id for r in logs if r.trace_id}
    for t in traces:
        mine = [sp for sp in spans if sp.trace_id == t]
        recs = [r for r in logs if r.trace_id == t]
        ok_checkout = any(sp.name == "POST /checkout" and sp.kind == "server"
                          and not sp.parent_id and sp.status == "ok" for sp in mine)
        if ok_checkout and any(r.severity >= 17 for r in recs):
            out["no_error_log_in_ok_checkout"].add(t)
        for sp in mine:
            if sp.kind == "client" and sp.attr("http.request.resend_count") == 1 and not any(
                    "retrying" in r.body and r.time_ns < sp.start_ns for r in recs):
                out["retry_logged"].add(t)
    for r in logs:
        if "circuit opened" in r.body:
            peer = r.attr("peer.service")
            if any(sp.kind == "client" and sp.attr("peer.service") == peer
                   and r.time_ns < sp.start_ns <= r.time_ns + 30 * S for sp in spans):
                out["breaker_holds"].add(peer)
        if r.severity >= 21 and any(sp.service == r.service and sp.kind == "server"
                                    and sp.start_ns > r.time_ns for sp in spans):
            out["no_serving_after_fatal"].add(r.service)
    for sp in spans:
        if sp.name == "deploy" and not any("deploy approved" in r.body
                                           and r.time_ns < sp.start_ns for r in logs):
            out["deploys_are_approved"].add("*")
    return out


@settings(max_examples=150, deadline=None)
@given(workloads())
def test_the_python_engine_agrees_with_the_definitions(case):
    spans, logs = case
    _, report = run(spans, logs, engine="python")
    assert violated(report) == oracle(spans, logs)


# -- streaming (serve) against file mode --------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(workloads(), st.randoms(use_true_random=False))
def test_streaming_gives_file_modes_verdicts(case, rnd):
    """The sidecar's streaming monitor, fed spans and log records in any arrival order with
    nothing late, decides what file mode decides (docs/logs.md, "Logs in serve")."""
    from tracelogic.engine.stream import StreamingMonitor

    spans, logs = case
    _, report = run(spans, logs, engine="python")
    expected = {(v.prop.name, v.key) for v in report.violations}
    now = [0]
    sm = StreamingMonitor(SPEC, idle_ns=10, lateness_ns=10**6 * S, clock=lambda: now[0])
    items = [("span", sp) for sp in spans] + [("log", r) for r in logs]
    rnd.shuffle(items)
    for what, x in items:
        (sm.ingest if what == "span" else sm.ingest_logs)([x])
    now[0] = 1000
    sm.poll()
    sm.finish()
    got = {(v.prop.name, v.key) for v in sm.take_violations()}
    # the five properties are safety properties: an event decides each violation, so the
    # stream decides every one once all events are released
    assert got == expected


def test_the_report_counts_log_records_and_warns_when_no_property_reads_them():
    _, report = run([span(1, 1, "a", 0, 1)], [log(0.5, "x", t=1), log(2, "y")])
    assert report.summary()["logs"] == 2 and not any("log record" in w for w in report.warnings)
    spec = tracelogic.load('property p:\n  G !(name == "b")\n', filename="p.spec")
    mon = Monitor(spec)
    mon.feed([span(1, 1, "a", 0, 1)])
    mon.feed_logs([log(0.5, "x", t=1)])
    report = mon.close()
    assert report.summary()["logs"] == 1
    assert any("no property reads a log field" in w for w in report.warnings)


def test_the_core_runs_span_properties_beside_python_log_properties():
    """With the native engine, a span-only property stays on the core while the one
    reading logs runs in Python, on the same input bytes, and both decide."""
    spec = tracelogic.load('property spans_only:\n  G !(status == error)\n'
                           'property with_logs:\n  G !(signal == log & severity >= ERROR)\n',
                           filename="m.spec")
    sp = span(1, 1, "a", 0, 1, status="error")
    mon = Monitor(spec, engine="native")
    assert mon.engines == {"spans_only": "native", "with_logs": "python"}
    mon.feed_otlp(spans_to_request([sp]).SerializeToString())
    mon.feed_logs([log(0.5, "boom", 17, t=1, s=1)])
    report = mon.close()
    assert mon.engines == {"spans_only": "native", "with_logs": "python"}
    assert [p.results for p in report.properties] == [[(tid(1), "violated")]] * 2


def test_serve_with_the_core_gives_log_records_to_its_python_properties():
    """The sidecar's native streaming monitor keeps span properties on the core and hands
    log records to the Python engine's properties, with the spans they need."""
    from tracelogic.engine.native_stream import streaming_monitor

    spec = tracelogic.load('property spans_only:\n  G !(status == error)\n'
                           'property with_logs:\n  G !(signal == log & severity >= ERROR)\n',
                           filename="m.spec")
    now = [0]
    sm = streaming_monitor(spec, idle_ns=10**8, clock=lambda: now[0], engine="native")
    assert {a.property: a.engine for a in sm.monitor.engine_plan.values()} == \
        {"spans_only": "native", "with_logs": "python"}
    sm.ingest_logs([log(0.5, "boom", 17, t=1, s=1)])  # before its span, as SDKs may send it
    assert sm.waiting_log_records == 1
    sm.ingest([span(1, 1, "a", 0, 1, status="error")])
    now[0] = 10**9
    sm.poll()
    assert sorted((v.prop.name, v.key) for v in sm.take_violations()) == \
        [("spans_only", tid(1)), ("with_logs", tid(1))]
    assert sm.waiting_log_records == 0
