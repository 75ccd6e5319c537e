"""`tracelogic serve` receives OTLP logs (docs/logs.md, "Logs in serve"): the Python SDK's
log exporters over HTTP and gRPC against a real `serve`, with the trace receivers'
guarantees — validation (400 / INVALID_ARGUMENT with the decoder's words, partial
success for rejected records), accounting in /metrics, backpressure (429 /
RESOURCE_EXHAUSTED, every record processed or refused and counted), durability on
SIGTERM (open traces and their records are decided and committed), and a seeded fuzz of
the logs decoder behind the receivers (longer with ``TRACELOGIC_LONG=1``).
"""
from __future__ import annotations

import json
import os
import random
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest

from tracelogic.errors import InputError
from tracelogic.ingest.logs import LogRecord, decode_logs_json, logs_to_request
from tracelogic.sidecar.server import decode_request
from tracelogic.sidecar.grpc_receiver import LOGS_METHOD

from ingest.otlp_fuzzing import mutated_json, mutated_pb
from .serve_helpers import metric, metrics_text, start_serve, wait_for, write_spec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "logs.md").read_text(encoding="utf-8")
[SPEC_TEXT] = re.findall(r"```spec\n(.*?)```", DOC, re.S)
LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")


def _providers(transport: str, sp):
    """A tracer and a logger exporting to ``sp`` over ``transport``, synchronously."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        spans = OTLPSpanExporter(endpoint=f"{sp.http}/v1/traces")
        logs = OTLPLogExporter(endpoint=f"{sp.http}/v1/logs")
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        spans = OTLPSpanExporter(endpoint=sp.grpc, insecure=True)
        logs = OTLPLogExporter(endpoint=sp.grpc, insecure=True)
    res = Resource.create({"service.name": "shop"})
    tp = TracerProvider(resource=res)
    tp.add_span_processor(SimpleSpanProcessor(spans))
    lp = LoggerProvider(resource=res)
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return tp, lp


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_sdk_log_exporter_against_a_real_serve(tmp_path, transport):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind, Status, StatusCode

    sp = start_serve(tmp_path, "--idle", "200ms", spec=write_spec(tmp_path, SPEC_TEXT))
    try:
        tp, lp = _providers(transport, sp)
        logger = lp.get_logger("shop")
        tracer = tp.get_tracer("shop")
        ids = {}
        for outcome, severity in (("bad", SeverityNumber.ERROR), ("good", SeverityNumber.INFO)):
            with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as s:
                logger.emit(severity_number=severity, severity_text=severity.name,
                            body=f"payment {outcome}")
                s.set_status(Status(StatusCode.OK))
                ids[outcome] = format(s.get_span_context().trace_id, "032x")
        # a record without trace context: an approval, then a deploy span (global scope)
        logger.emit(severity_number=SeverityNumber.INFO, body="deploy approved by ops")
        with tracer.start_as_current_span("deploy"):
            pass
        wait_for(lambda: any(v["property"] == "no_error_log_in_ok_checkout"
                             for v in sp.violations()), 30, "the violation in the store")
        bad = [v for v in sp.violations() if v["property"] == "no_error_log_in_ok_checkout"]
        assert [v["key"] for v in bad] == [ids["bad"]]
        text = metrics_text(sp)
        assert metric(text, "tracelogic_logs_received_total") == 3
        assert metric(text, "tracelogic_logs_decoded_total") == 3
        assert metric(text, "tracelogic_logs_processed_total") == 3
        assert metric(text, "tracelogic_requests_total", signal="logs", transport=transport,
                      outcome="ok") == 3
    finally:
        sp.terminate()
    assert not any(v["property"] == "deploys_are_approved" for v in sp.violations())


def _logs_pb(n: int, trace: bool = True) -> bytes:
    return logs_to_request([LogRecord(time_ns=10**18 + i, severity=9, body=f"r{i}",
                                      trace_id="%032x" % (i + 1) if trace else "",
                                      service="shop") for i in range(n)]).SerializeToString()


def _post(sp, body: bytes, ctype: str = "application/x-protobuf") -> tuple[int, bytes]:
    req = urllib.request.Request(f"{sp.http}/v1/logs", data=body, method="POST",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_validation_partial_success_and_accounting(tmp_path):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceResponse)

    sp = start_serve(tmp_path, spec=write_spec(tmp_path, SPEC_TEXT), grpc=False)
    try:
        code, body = _post(sp, b"\xff\xff\xff")
        assert code == 400 and b"ExportLogsServiceRequest" in body
        doc = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"timeUnixNano": "5", "body": {"stringValue": "ok"}},
            {"traceId": "not hex"}]}]}]}
        code, body = _post(sp, json.dumps(doc).encode(), "application/json")
        assert code == 200
        resp = json.loads(body)
        assert resp["partialSuccess"]["rejectedLogRecords"] == "1"
        assert "trace id 'not hex'" in resp["partialSuccess"]["errorMessage"]
        code, body = _post(sp, _logs_pb(3))
        assert code == 200 and ExportLogsServiceResponse.FromString(body).partial_success \
            .rejected_log_records == 0
        # one record's string is not UTF-8: that record only (the traces' salvage)
        good = _logs_pb(3)
        at = good.index(b"r0")  # the first record's body
        code, body = _post(sp, good[:at] + b"\xff" + good[at + 1:])
        part = ExportLogsServiceResponse.FromString(body).partial_success
        assert code == 200 and part.rejected_log_records == 1
        assert "logRecords[0]" in part.error_message and "log record skipped" in \
            part.error_message
        text = metrics_text(sp)
        assert metric(text, "tracelogic_logs_received_total") == 8
        assert metric(text, "tracelogic_logs_rejected_total") == 2
        assert metric(text, "tracelogic_logs_processed_total") == 6
        assert metric(text, "tracelogic_requests_total", signal="logs", outcome="invalid") == 1
    finally:
        sp.terminate()


def test_overload_gets_429_and_every_record_is_accounted_for(tmp_path):
    sp = start_serve(tmp_path, "--queue-spans", "5", spec=write_spec(tmp_path, SPEC_TEXT),
                     grpc=False)
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def sender(k: int) -> None:
        for _ in range(15):
            code, _ = _post(sp, _logs_pb(4, trace=bool(k % 2)))
            with lock:
                codes[code] = codes.get(code, 0) + 4
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        text = metrics_text(sp)
        assert set(codes) <= {200, 429}
        assert codes.get(429, 0) > 0, "the load did not overload the queue"
        assert codes[200] == metric(text, "tracelogic_logs_processed_total")
        assert codes[429] == metric(text, "tracelogic_logs_refused_total", reason="queue_full")
        assert metric(text, "tracelogic_requests_total", signal="logs", outcome="busy") == \
            codes[429] / 4
    finally:
        sp.terminate()


def test_overload_over_grpc_is_resource_exhausted(tmp_path):
    sp = start_serve(tmp_path, "--queue-spans", "5", spec=write_spec(tmp_path, SPEC_TEXT),
                     http=False)
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def sender() -> None:
        with grpc.insecure_channel(sp.grpc) as ch:
            call = ch.unary_unary(LOGS_METHOD, request_serializer=None,
                                  response_deserializer=None)
            for _ in range(15):
                try:
                    call(_logs_pb(4), timeout=30)
                    name = "OK"
                except grpc.RpcError as e:
                    name = e.code().name
                with lock:
                    seen[name] = seen.get(name, 0) + 1
    threads = [threading.Thread(target=sender) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    sp.terminate()
    assert set(seen) <= {"OK", "RESOURCE_EXHAUSTED"}
    assert seen.get("RESOURCE_EXHAUSTED", 0) > 0, "the load did not overload the queue"


def test_sigterm_decides_open_traces_with_their_log_records(tmp_path):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind, Status, StatusCode

    sp = start_serve(tmp_path, "--idle", "60s", spec=write_spec(tmp_path, SPEC_TEXT))
    tp, lp = _providers("grpc", sp)
    with tp.get_tracer("shop").start_as_current_span("POST /checkout",
                                                     kind=SpanKind.SERVER) as s:
        lp.get_logger("shop").emit(severity_number=SeverityNumber.ERROR, body="declined")
        s.set_status(Status(StatusCode.OK))
    assert sp.violations() == []  # the trace is still open: nothing decided yet
    assert sp.terminate() == 0
    assert [v["property"] for v in sp.violations()] == ["no_error_log_in_ok_checkout"]


# -- fuzz: the decoder behind both receivers --------------------------------------------------

def _seeds() -> tuple[str, ...]:
    rec = {"timeUnixNano": "7", "severityNumber": 17, "body": {"stringValue": "x"},
           "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
           "attributes": [{"key": "peer.service", "value": {"stringValue": "bank"}}]}
    return (json.dumps({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [rec, {"body": {}}]}]}]}),)


def test_fuzz_the_logs_requests_the_receivers_decode():
    rng = random.Random(4318)
    texts = _seeds()
    pbs = tuple(logs_to_request(decode_logs_json(json.loads(t))).SerializeToString()
                for t in texts)
    wanted = frozenset({"peer.service"})
    n = 20_000 if LONG else 1_000
    for i in range(n):
        fmt = "json" if i % 2 else "protobuf"
        data = mutated_json(rng, texts[0]) if fmt == "json" else mutated_pb(rng, pbs)
        try:
            recs, stats = decode_request("logs", fmt, data, wanted_attrs=wanted,
                                         wanted_metrics=frozenset())
        except InputError:
            continue
        assert stats.logs_received == stats.logs_decoded + stats.logs_rejected
        assert len(recs) == stats.logs_decoded
        assert set(recs[0].attrs) <= wanted if recs else True


def test_journal_replays_open_traces_with_their_log_records_after_sigkill(tmp_path):
    """With --journal, acknowledged records of open traces survive a crash, as spans do."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind, Status, StatusCode

    spec = write_spec(tmp_path, SPEC_TEXT)
    sp = start_serve(tmp_path, "--journal", "--idle", "60s", spec=spec)
    tp, lp = _providers("http", sp)
    logger = lp.get_logger("shop")
    with tp.get_tracer("shop").start_as_current_span("POST /checkout",
                                                     kind=SpanKind.SERVER) as s:
        logger.emit(severity_number=SeverityNumber.ERROR, body="declined")
        s.set_status(Status(StatusCode.OK))
        tid = format(s.get_span_context().trace_id, "032x")
    # a trace whose spans never come: its record alone, journaled too
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
    other = SpanContext(trace_id=0xabc, span_id=0xdef, is_remote=False,
                        trace_flags=TraceFlags(1))
    logger.emit(severity_number=SeverityNumber.ERROR, body="orphan",
                context=set_span_in_context(NonRecordingSpan(other)))
    assert sp.violations() == []
    sp.kill()
    sp2 = start_serve(tmp_path, "--journal", "--idle", "200ms", spec=spec, store=sp.store,
                      name="serve2")
    wait_for(lambda: sp2.violations(), 30, "the replayed violation")
    assert sp2.terminate() == 0
    assert [(v["property"], v["key"]) for v in sp2.violations()] == \
        [("no_error_log_in_ok_checkout", tid)]
    replayed = [r for r in sp2.logs() if r.get("msg") == "journal replayed"]
    assert replayed and replayed[0]["requests"] == 3  # the span's and the two records'


def test_fuzz_both_logs_receivers_in_a_running_sidecar(tmp_path):
    """Mutated log requests to the gRPC LogsService and to POST /v1/logs (protobuf and
    JSON) of a running sidecar: only the documented answers, nothing the engine had to
    survive, and every request counted (the receivers' own fuzz tests, for logs)."""
    import http.client

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceResponse)

    from tracelogic.engine.stream import SECOND
    from tracelogic.sidecar.server import ServeConfig, Sidecar

    cfg = ServeConfig(spec_path=str(write_spec(tmp_path, SPEC_TEXT)), grpc="127.0.0.1:0",
                      http="127.0.0.1:0", store=str(tmp_path / "v.db"), idle_ns=SECOND // 50,
                      lateness_ns=SECOND, max_request_bytes=1 << 20)
    sc = Sidecar(cfg)
    sc.start()
    rng = random.Random("logs-receivers")
    texts = _seeds()
    pbs = tuple(logs_to_request(decode_logs_json(json.loads(t))).SerializeToString()
                for t in texts)
    n = 20_000 if LONG else 300
    codes: dict[str, int] = {}
    try:
        port = int(sc.addresses()["http"].rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with grpc.insecure_channel(sc.addresses()["grpc"]) as ch:
            call = ch.unary_unary(LOGS_METHOD, request_serializer=None,
                                  response_deserializer=None)
            for i in range(n):
                if i % 3 == 0:
                    try:
                        ExportLogsServiceResponse.FromString(call(mutated_pb(rng, pbs),
                                                                  timeout=60))
                        name = "grpc OK"
                    except grpc.RpcError as e:
                        name = f"grpc {e.code().name}"
                else:
                    fmt = "json" if i % 3 == 1 else "protobuf"
                    body = mutated_json(rng, texts[0]) if fmt == "json" else \
                        mutated_pb(rng, pbs)
                    conn.request("POST", "/v1/logs", body=body, headers={
                        "Content-Type": "application/json" if fmt == "json"
                        else "application/x-protobuf"})
                    r = conn.getresponse()
                    r.read()
                    name = f"http {r.status}"
                codes[name] = codes.get(name, 0) + 1
        conn.close()
        assert set(codes) <= {"grpc OK", "grpc INVALID_ARGUMENT", "grpc RESOURCE_EXHAUSTED",
                              "http 200", "http 400", "http 429"}, codes
        assert codes.get("http 200", 0) + codes.get("grpc OK", 0) >= 0.05 * n, codes
        wait_for(lambda: metric(sc.metrics.render(), "tracelogic_requests_total",
                                signal="logs") == n, 30, "every request counted")
        text = sc.metrics.render()
        assert metric(text, "tracelogic_engine_errors_total") == 0, text
        assert metric(text, "tracelogic_monitor_failures_total") == 0, sc.sm.take_failures()
        assert sc.healthy and sc._engine.is_alive()
    finally:
        sc.stop()


def test_a_record_after_its_trace_was_decided_is_late_and_counted(tmp_path):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind, Status, StatusCode

    sp = start_serve(tmp_path, "--idle", "100ms", spec=write_spec(tmp_path, SPEC_TEXT))
    try:
        tp, lp = _providers("http", sp)
        with tp.get_tracer("shop").start_as_current_span("POST /checkout",
                                                         kind=SpanKind.SERVER) as s:
            s.set_status(Status(StatusCode.OK))
            ctx_span = s
        wait_for(lambda: metric(metrics_text(sp), "tracelogic_verdicts",
                                property="no_error_log_in_ok_checkout") == 1, 30, "the verdict")
        from opentelemetry.trace import set_span_in_context
        lp.get_logger("shop").emit(severity_number=SeverityNumber.ERROR, body="too late",
                                   context=set_span_in_context(ctx_span))
        wait_for(lambda: metric(metrics_text(sp), "tracelogic_logs_late") == 1, 30,
                 "the late record counted")
        assert metric(metrics_text(sp), "tracelogic_logs_waiting") == 0
    finally:
        sp.terminate()
    assert sp.violations() == []  # the trace's verdict was already given


def _journal_rows(store: Path, fmt: str = "%") -> int:
    """Journaled requests in ``store`` whose format is LIKE ``fmt``."""
    import sqlite3
    conn = sqlite3.connect(str(store), timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM requests WHERE format LIKE ?",
                            (fmt,)).fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("engine", ["python", "native"])
def test_journal_replays_records_without_a_trace_context_after_sigkill(tmp_path, engine):
    """Records without a trace context wait for the watermark: with --journal they are
    journaled before the acknowledgement like everything else, survive a SIGKILL, and
    after the restart the properties that read them give the verdicts they would have
    given without the crash (docs/logs.md, "Logs in serve")."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind

    spec = write_spec(tmp_path, SPEC_TEXT)
    args = ("--journal", "--idle", "200ms", "--lateness", "1h")  # nothing released early
    env = {"TRACELOGIC_ENGINE": engine}
    sp = start_serve(tmp_path, *args, spec=spec, env=env)
    tp, lp = _providers("http", sp)
    tracer, logger = tp.get_tracer("shop"), lp.get_logger("shop")
    with tracer.start_as_current_span("deploy"):  # before any approval: violated
        pass
    logger.emit(severity_number=SeverityNumber.INFO, body="deploy approved")  # no span
    logger.emit(severity_number=SeverityNumber.FATAL, body="disk gone")
    wait_for(lambda: metric(metrics_text(sp), "tracelogic_traces_completed") == 1, 30,
             "the deploy trace complete")
    text = metrics_text(sp)
    assert metric(text, "tracelogic_buffered_events") == 4  # 2 span events, 2 records
    assert metric(text, "tracelogic_logs_waiting") == 0  # none waits for a trace
    assert metric(text, "tracelogic_journal_requests_total") == 3
    assert metric(text, "tracelogic_journal_requests") == 3
    sp.kill()  # acknowledged, not released: only the journal holds them
    assert sp.violations() == [] and _journal_rows(sp.store) == 3

    sp2 = start_serve(tmp_path, *args, spec=spec, store=sp.store, name="serve2", env=env)
    [replayed] = [r for r in sp2.logs() if r.get("msg") == "journal replayed"]
    assert (replayed["requests"], replayed["free_log_records"]) == (3, 2)
    wait_for(lambda: metric(metrics_text(sp2), "tracelogic_buffered_events") == 4, 30,
             "the replayed deploy trace complete, its events beside the records")
    tp2, _ = _providers("http", sp2)
    with tp2.get_tracer("shop").start_as_current_span("GET /stock", kind=SpanKind.SERVER):
        pass  # after the FATAL record: violated for shop
    with tp2.get_tracer("shop").start_as_current_span("deploy"):  # approved: holds
        pass
    wait_for(lambda: metric(metrics_text(sp2), "tracelogic_traces_completed") == 3, 30,
             "the new traces complete")
    assert sp2.violations() == []  # everything waits for the watermark
    assert sp2.terminate() == 0  # the watermark passes everything at shutdown
    got = sorted((v["property"], v["key"]) for v in sp2.violations())
    assert got == [("deploys_are_approved", "*"), ("no_serving_after_fatal", "shop")]
    [early] = [v for v in sp2.violations() if v["property"] == "deploys_are_approved"]
    assert len(early["span_ids"]) == 1  # the first deploy, not the approved one
    assert _journal_rows(sp.store) == 0  # every entry released and forgotten


def test_journal_entries_of_records_without_a_trace_go_once_released(tmp_path):
    """A record without a trace context is forgotten from the journal once the watermark
    released it, so a request of such records is not replayed again."""
    import time as _time

    from opentelemetry._logs import SeverityNumber

    spec = write_spec(tmp_path, SPEC_TEXT)
    sp = start_serve(tmp_path, "--journal", "--idle", "100ms", "--lateness", "1s", spec=spec)
    try:
        tp, lp = _providers("http", sp)
        ten_s_ago = _time.time_ns() - 10 * 10**9
        lp.get_logger("shop").emit(severity_number=SeverityNumber.INFO,
                                   body="deploy approved", timestamp=ten_s_ago)
        assert _journal_rows(sp.store, "logs-%") == 1  # acknowledged: journaled
        with tp.get_tracer("shop").start_as_current_span("later"):  # moves the watermark
            pass
        wait_for(lambda: _journal_rows(sp.store, "logs-%") == 0, 30,
                 "the released record forgotten")
        assert metric(metrics_text(sp), "tracelogic_journal_requests_total") == 2
    finally:
        sp.kill()
    assert _journal_rows(sp.store, "logs-%") == 0 and _journal_rows(sp.store) == 1


# -- the traces' hardening tests, for logs ------------------------------------------------

def test_logs_requests_over_the_size_limit_are_refused_on_both_receivers(tmp_path):
    """--max-request-bytes at limit and limit + 1, as tests/sidecar/test_serve_http.py and
    test_serve_grpc_limits.py check it for traces: plain, chunked and gzip bodies over
    HTTP, and the gRPC LogsService; each refusal counted as oversize for signal logs."""
    import gzip

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceResponse)

    from tracelogic.sidecar.server import ServeConfig, Sidecar

    from .serve_helpers import send_raw
    from .test_serve_http import chunked, parse_responses, post_raw

    limit = 4096
    base = _logs_pb(3)
    pad = b"\xfa\x06"  # field 99, length-delimited: an unknown field, ignored

    def sized(n: int) -> bytes:
        for k in range(n):
            out = base + pad + bytes([k]) + bytes(k) if k < 128 else None
            if out is None:
                out = base + pad + bytes([k & 0x7F | 0x80, k >> 7]) + bytes(k)
            if len(out) == n:
                return out
        raise AssertionError(n)

    sc = Sidecar(ServeConfig(spec_path=str(write_spec(tmp_path, SPEC_TEXT)),
                             grpc="127.0.0.1:0", http="127.0.0.1:0",
                             store=str(tmp_path / "v.db"), max_request_bytes=limit))
    sc.start()
    try:
        port = int(sc.addresses()["http"].rsplit(":", 1)[1])
        for body, headers, want in [
                (sized(limit), (), 200), (sized(limit + 1), (), 413),
                (chunked(sized(limit + 1)), ("Transfer-Encoding: chunked",), 413),
                (gzip.compress(sized(limit + 1)), ("Content-Encoding: gzip",), 413)]:
            [(status, _, _)] = parse_responses(send_raw(port, post_raw(
                "/v1/logs", body, *headers, length=not headers or "gzip" in headers[0])))
            assert status == want, (len(body), headers)
        with grpc.insecure_channel(sc.addresses()["grpc"]) as ch:
            call = ch.unary_unary(LOGS_METHOD, request_serializer=None,
                                  response_deserializer=None)
            ExportLogsServiceResponse.FromString(call(sized(limit), timeout=30))
            with pytest.raises(grpc.RpcError) as e:
                call(sized(limit + 1), timeout=30)
            assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert f"request of {limit + 1} bytes exceeds the limit of {limit}" in \
                e.value.details()
        text = sc.metrics.render()
        assert metric(text, "tracelogic_requests_total", signal="logs", outcome="oversize") == 4
        assert metric(text, "tracelogic_requests_total", signal="logs", outcome="ok") == 2
        assert metric(text, "tracelogic_logs_processed_total") == 6
    finally:
        sc.stop()


def test_a_logs_journal_entry_that_cannot_be_replayed_is_quarantined_once(tmp_path):
    """As test_serve_text_rule.py's for traces: a damaged logs entry does not kill every
    restart; it is quarantined and counted once, and the sound entry is replayed."""
    from tracelogic.sidecar.server import LOG_KEY
    from tracelogic.sidecar.store import Store

    spec = write_spec(tmp_path, SPEC_TEXT)
    store_path = tmp_path / "tracelogic.db"
    doc = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": "1700000000000000000",
                                       "body": {"stringValue": "deploy approved"}}]}]}]}
    st = Store(str(store_path))
    st.journal_requests([("logs-protobuf", b"\x0a\xff\xff\xff\xff\x0f garbage",
                          [LOG_KEY + "broken"]),
                         ("logs-json", json.dumps(doc).encode(), [LOG_KEY + "sound"])])
    st.close()
    args = ("--journal", "--idle", "200ms", "--lateness", "1h")
    sp = start_serve(tmp_path, *args, spec=spec, store=store_path)
    text = metrics_text(sp)
    assert metric(text, "tracelogic_journal_quarantined_total") == 1
    assert metric(text, "tracelogic_buffered_events") == 1  # the sound record waits again
    [replayed] = [r for r in sp.logs() if r.get("msg") == "journal replayed"]
    assert (replayed["requests"], replayed["free_log_records"]) == (1, 1)
    assert sp.terminate() == 0  # released at shutdown: its entry goes
    st = Store(str(store_path))
    try:
        assert [(f, "byte offset" in why) for _, f, why in st.quarantined()] == \
            [("logs-protobuf", True)]
        assert st.journaled_requests() == 0
    finally:
        st.close()
    sp2 = start_serve(tmp_path, *args, spec=spec, store=store_path, name="serve2")
    assert metric(metrics_text(sp2), "tracelogic_journal_quarantined_total") == 0
    assert sp2.terminate() == 0


def test_a_reported_log_violation_survives_sigkill(tmp_path):
    """As test_serve_faults.py's for spans: a violation decided from a log record is in the
    store before it is logged, so a SIGKILL right after it was reported loses nothing."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.trace import SpanKind, Status, StatusCode

    sp = start_serve(tmp_path, "--idle", "100ms", spec=write_spec(tmp_path, SPEC_TEXT))
    tp, lp = _providers("grpc", sp)
    with tp.get_tracer("shop").start_as_current_span("POST /checkout",
                                                     kind=SpanKind.SERVER) as s:
        lp.get_logger("shop").emit(severity_number=SeverityNumber.ERROR, body="declined")
        s.set_status(Status(StatusCode.OK))
    wait_for(lambda: [r for r in sp.logs() if r.get("msg") == "violation"], 30,
             "the violation reported")
    sp.kill()
    reported = [r["violation"]["id"] for r in sp.logs() if r.get("msg") == "violation"]
    assert reported and [v["property"] for v in sp.violations()] == \
        ["no_error_log_in_ok_checkout"]


@pytest.mark.parametrize("signal", ["traces", "logs"])
def test_a_decide_backlog_refuses_spans_and_log_records_alike(tmp_path, signal):
    """Backpressure beyond the queue: with completed traces waiting to be decided past
    max_backlog, a request is refused (429 / RESOURCE_EXHAUSTED, retry later) and its
    spans or records are counted as refused for reason decide_backlog. The sidecar is not
    started: the refusal comes before the queue, and the test holds the backlog still."""
    from tracelogic.ingest.otlp import spans_to_request
    from tracelogic.ingest.spans import Span
    from tracelogic.sidecar.server import ServeConfig, Sidecar

    now = [0]
    sc = Sidecar(ServeConfig(spec_path=str(write_spec(tmp_path, SPEC_TEXT)), grpc=None,
                             http=None, store=str(tmp_path / "v.db"), idle_ns=1,
                             max_backlog=1), clock=lambda: now[0])
    try:
        sc.sm.ingest([Span(name="deploy", trace_id="%032x" % (i + 1), span_id="%016x" % 1,
                           start_ns=10**18, end_ns=10**18 + 1) for i in range(2)])
        now[0] = 10**9
        sc.sm.poll(limit=0)  # both complete, none decided yet
        assert sc.sm.backlog == 2
        payload = _logs_pb(3) if signal == "logs" else spans_to_request([
            Span(name="x", trace_id="%032x" % 9, span_id="%016x" % k, start_ns=10**18,
                 end_ns=10**18 + 1) for k in range(1, 4)]).SerializeToString()
        out = sc.handle(signal, "protobuf", payload, "grpc")
        assert out.status == "busy" and out.retry_after_s > 0
        assert "2 completed traces are waiting to be decided" in out.message
        text = sc.metrics.render()
        refused = "tracelogic_logs_refused_total" if signal == "logs" else \
            "tracelogic_spans_refused_total"
        assert metric(text, refused, reason="decide_backlog") == 3
        assert metric(text, "tracelogic_requests_total", signal=signal, outcome="busy") == 1
        assert len(sc.queue) == 0  # refused, not queued: the client still has it
    finally:
        sc.store.close()
