"""Issue 13's acceptance: a request holding a string that is not valid Unicode text (a lone
surrogate in OTLP/JSON, invalid UTF-8 in protobuf) is answered 200 / OK with the span
rejected in ``partial_success``; the live `tracelogic serve` keeps serving, counts it,
exits 0 on SIGTERM and, with ``--journal``, restarts cleanly. `tracelogic monitor` on the
same input exits 2 with a message. Before the fix, the engine thread died on the first
such request and every `--journal` restart died again."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracelogic.sidecar.grpc_receiver import TRACE_METHOD
from tracelogic.sidecar.store import Store

from ingest.otlp_badtext import GOOD_TRACE, PLACES, request_doc, request_json, request_pb_bad_utf8
from .serve_helpers import ROOT, metric, metrics_text, start_serve, wait_for, write_spec

FAST = ("--idle", "200ms", "--lateness", "1s")
WHERE = {"attribute": "attributes[0].value.stringValue", "name": ".name",
         "event": "events[0].name"}


def post(sp, body: bytes, ctype: str = "application/json"):
    c = http.client.HTTPConnection("127.0.0.1", sp.http_port, timeout=30)
    c.request("POST", "/v1/traces", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def grpc_call(sp, payload: bytes) -> bytes:
    with grpc.insecure_channel(sp.grpc) as ch:
        call = ch.unary_unary(TRACE_METHOD, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=30)


def no_error_keys(sp) -> set:
    return {v["key"] for v in sp.violations() if v["property"] == "no_error"}


def engine_died(sp) -> bool:
    return any(r.get("msg") == "engine failed" for r in sp.logs())


def send_all_bad(sp) -> None:
    """Every bad request once, over OTLP/HTTP JSON, OTLP/HTTP protobuf and gRPC."""
    for place in PLACES:
        status, data = post(sp, request_json(place))
        assert status == 200, data
        ps = json.loads(data)["partialSuccess"]
        assert ps["rejectedSpans"] == "1"
        assert "lone surrogate U+D800" in ps["errorMessage"] and WHERE[place] in ps["errorMessage"]
    bad_pb, at = request_pb_bad_utf8()
    status, data = post(sp, bad_pb, "application/x-protobuf")
    assert status == 200
    ps = ExportTraceServiceResponse.FromString(data).partial_success
    assert ps.rejected_spans == 1 and f"byte offset {at}" in ps.error_message
    resp = ExportTraceServiceResponse.FromString(grpc_call(sp, bad_pb))
    assert resp.partial_success.rejected_spans == 1
    assert "not valid UTF-8" in resp.partial_success.error_message


@pytest.mark.parametrize("journal", [False, True], ids=["memory", "journal"])
def test_serve_rejects_bad_text_spans_keeps_serving_and_restarts(tmp_path, journal):
    flags = ("--journal",) if journal else ()
    sp = start_serve(tmp_path, *flags, *FAST)
    send_all_bad(sp)
    # the good part of each request was monitored: its violation is stored
    wait_for(lambda: GOOD_TRACE in no_error_keys(sp), 20, "the clean trace's violation")
    text = metrics_text(sp)
    assert metric(text, "tracelogic_requests_total", outcome="ok") == 5
    assert metric(text, "tracelogic_spans_rejected_total") == 5
    assert metric(text, "tracelogic_spans_received_total") == 15
    assert metric(text, "tracelogic_engine_errors_total") == 0
    assert metric(text, "tracelogic_monitor_failures_total") == 0
    # nothing downstream saw an unencodable value: every stored violation encodes
    for v in sp.violations():
        json.dumps(v, ensure_ascii=False).encode("utf-8")
    assert sp.terminate() == 0
    assert not engine_died(sp)
    # a restart (replaying the journal, with --journal) comes up, serves and stops cleanly
    sp2 = start_serve(tmp_path, *flags, *FAST, store=sp.store, name="serve2")
    status, data = post(sp2, request_json(None))
    assert status == 200 and json.loads(data) == {}
    text = metrics_text(sp2)
    assert metric(text, "tracelogic_journal_quarantined_total") == 0
    assert sp2.terminate() == 0
    assert not engine_died(sp2)


def test_a_journal_entry_that_cannot_be_replayed_is_quarantined_once(tmp_path):
    """What an older version journaled (a surrogate span, acknowledged) or a damaged entry
    must not kill every restart: it is quarantined, counted, and never replayed again."""
    store_path = tmp_path / "tracelogic.db"
    lone = request_doc("name")
    lone["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "cc" * 16
    st = Store(str(store_path))
    st.journal_requests([
        # its one open trace holds only the surrogate span, which is rejected now
        ("json", json.dumps(lone).encode(), ["cc" * 16]),
        ("protobuf", b"\x0a\xff\xff\xff\xff\x0f garbage", ["dd" * 16]),  # not protobuf
        ("json", request_json(None), [GOOD_TRACE]),  # fine: replayed
    ])
    st.close()
    sp = start_serve(tmp_path, "--journal", *FAST, store=store_path)
    text = metrics_text(sp)
    assert metric(text, "tracelogic_journal_quarantined_total") == 2
    wait_for(lambda: GOOD_TRACE in no_error_keys(sp), 20, "the replayed trace's violation")
    assert sp.terminate() == 0
    st = Store(str(store_path))
    q = st.quarantined()
    st.close()
    assert [f for _, f, _ in q] == ["json", "protobuf"]
    assert "lone surrogate" in q[0][2] and "byte offset" in q[1][2]
    sp2 = start_serve(tmp_path, "--journal", *FAST, store=store_path, name="serve2")
    assert metric(metrics_text(sp2), "tracelogic_journal_quarantined_total") == 0  # not again
    assert sp2.terminate() == 0
    assert not engine_died(sp) and not engine_died(sp2)


def run_monitor(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", "from tracelogic.cli import main; main()",
                           "monitor", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize("place", PLACES)
def test_monitor_exits_2_with_a_message_on_a_lone_surrogate(tmp_path, place):
    spec = write_spec(tmp_path)
    f = tmp_path / "bad.json"
    f.write_bytes(request_json(place))
    r = run_monitor(str(spec), str(f))
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr
    assert "lone surrogate U+D800" in r.stdout + r.stderr and WHERE[place] in r.stdout + r.stderr
    # the clean trace in the same file was still monitored
    assert "no_error" in r.stdout


def test_monitor_exits_2_with_a_message_on_invalid_utf8_protobuf(tmp_path):
    spec = write_spec(tmp_path)
    data, at = request_pb_bad_utf8()
    f = tmp_path / "bad.pb"
    f.write_bytes(data)
    r = run_monitor(str(spec), str(f), "--format", "json")
    assert r.returncode == 2, r.stderr
    report = json.loads(r.stdout)
    assert report["summary"]["spans"] == 2  # the two good spans of the three
    assert f"byte offset {at}" in r.stderr and "not valid UTF-8" in r.stderr
    assert {v["key"] for v in report["violations"] if v["property"] == "no_error"} == \
        {GOOD_TRACE}


# -- the issue's other OTLP examples, against the live server and the CLI ---------------

def test_5000_deep_json_and_5000_digit_integers_do_not_hurt_serve(tmp_path):
    sp = start_serve(tmp_path, *FAST)
    deep = b'{"resourceSpans": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, data = post(sp, deep)
    assert status == 400 and "nested 5001 deep, over the limit of 256" in \
        json.loads(data)["message"]
    big = request_json(None).replace(b'"1700000000000000000"', b"9" * 5000, 1)
    status, data = post(sp, big)
    assert status == 200
    ps = json.loads(data)["partialSuccess"]
    assert ps["rejectedSpans"] == "1" and "integer literal of 5000 digits" in ps["errorMessage"]
    text = metrics_text(sp)
    assert metric(text, "tracelogic_requests_total", outcome="invalid") == 1
    assert metric(text, "tracelogic_requests_total", outcome="ok") == 1
    assert sp.terminate() == 0 and not engine_died(sp)


@pytest.mark.parametrize("body,message", [
    (b'{"resourceSpans": ' + b"[" * 5000 + b"]" * 5000 + b"}", "over the limit of 256"),
    (request_json(None).replace(b'"1700000000000000000"', b"9" * 5000, 1),
     "integer literal of 5000 digits"),
], ids=["deep", "digits"])
def test_monitor_exits_2_on_the_issue_s_json_examples(tmp_path, body, message):
    f = tmp_path / "in.json"
    f.write_bytes(body)
    r = run_monitor(str(write_spec(tmp_path)), str(f))
    assert r.returncode == 2 and "internal error" not in r.stderr
    assert message in r.stdout + r.stderr
