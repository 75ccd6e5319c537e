"""OTLP trace decoding: protobuf and OTLP/JSON, against the OpenTelemetry SDK's own encoder."""
from __future__ import annotations

import gzip
import io
import json
import sys

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracelogic.errors import InputError, TracelogicError
from tracelogic.ingest.otlp import (
    DecodeStats, decode_traces_json, decode_traces_pb, decode_traces_request, read_bytes,
    read_path, request_to_json, sniff, spans_to_request,
)
from tracelogic.ingest.spans import MISSING, InvalidValue, from_sdk

from .otlp_testdata import (
    DATA, b64_ids_to_hex, by_id, checkout_trace, hex_ids_to_b64, record, two_traces,
)


@pytest.fixture(scope="module")
def sdk_spans():
    return record(checkout_trace) + record(two_traces, service="catalog", scope="items")


@pytest.fixture(scope="module")
def request_pb(sdk_spans):
    return encode_spans(sdk_spans)


# -- the SDK's encoder, both directions ---------------------------------------------

def test_protobuf_from_sdk_encoder_matches_from_sdk(sdk_spans, request_pb):
    stats = DecodeStats()
    decoded = decode_traces_pb(request_pb.SerializeToString(), stats=stats)
    assert by_id(decoded) == by_id(from_sdk(sdk_spans))
    assert (stats.received, stats.decoded, stats.rejected) == (len(sdk_spans),) * 2 + (0,)


def test_decoded_fields_are_the_spec_builtins(request_pb):
    spans = {s.name: s for s in decode_traces_pb(request_pb.SerializeToString())}
    root, charge = spans["POST /checkout"], spans["charge"]
    assert root.kind == "server" and root.status == "ok" and root.is_root
    assert root.parent_id == "" and charge.parent_id == root.span_id
    assert charge.status == "error" and charge.status_message == "card declined"
    assert charge.event_names == ("exception", "retry") and charge.has_event("exception")
    assert spans["authorize"].kind == "client" and spans["publish order"].kind == "producer"
    assert spans["consume order"].kind == "consumer" and charge.kind == "internal"
    assert spans["consume order"].links == ((root.trace_id, spans["publish order"].span_id),)
    assert root.service == "checkout" and root.scope_name == "shop"
    assert root.duration == root.end_ns - root.start_ns > 0
    assert len(root.trace_id) == 32 and root.trace_id == root.trace_id.lower()
    assert root.attrs["http.response.status_code"] == 500
    assert root.attrs["retry"] is False and root.attrs["ratio"] == 0.25
    assert root.attrs["tags"] == ("a", "b") and root.attrs["ids"] == (1, 2, 3)
    assert root.attr("service.name") == "checkout"          # falls back to the resource
    assert root.attr("no.such.key") is MISSING
    assert root.resource_attr("http.request.method") is MISSING  # span attrs are not resource


def test_our_json_mapping_matches_json_format_with_hex_fixup(request_pb):
    ours = request_to_json(request_pb)
    reference = b64_ids_to_hex(json_format.MessageToDict(request_pb,
                                                         use_integers_for_enums=True))
    assert ours == reference
    # ids are hex, 64-bit integers decimal strings, enums integers
    span = ours["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16) >= 0
    assert isinstance(span["startTimeUnixNano"], str) and isinstance(span["kind"], int)


def test_our_json_parses_back_to_the_same_protobuf(request_pb):
    ours = json.loads(json.dumps(request_to_json(request_pb)))
    back = json_format.ParseDict(hex_ids_to_b64(ours), ExportTraceServiceRequest())
    assert back == request_pb


def test_json_decoding_equals_protobuf_decoding(request_pb):
    doc = json.loads(json.dumps(request_to_json(request_pb)))
    assert by_id(decode_traces_json(doc)) == by_id(decode_traces_pb(
        request_pb.SerializeToString()))


def test_spans_to_request_roundtrip(request_pb):
    spans = decode_traces_pb(request_pb.SerializeToString())
    again = decode_traces_request(spans_to_request(spans))
    assert by_id(again) == by_id(spans)


# -- touch only what the spec reads --------------------------------------------------

def test_wanted_attrs_limits_span_and_resource_attributes(request_pb):
    data = request_pb.SerializeToString()
    wanted = frozenset({"order.id", "telemetry.sdk.language"})
    spans = {s.name: s for s in decode_traces_pb(data, wanted_attrs=wanted)}
    root = spans["POST /checkout"]
    assert dict(root.attrs) == {"order.id": "o-17"}
    assert dict(root.resource) == {"telemetry.sdk.language": "python"}
    assert root.service == "checkout"  # the built-in field is read regardless
    assert dict(spans["authorize"].attrs) == {}
    none = decode_traces_pb(data, wanted_attrs=frozenset())
    assert all(not s.attrs and not s.resource for s in none)
    doc = request_to_json(request_pb)
    from_json = {s.name: s for s in decode_traces_json(doc, wanted_attrs=wanted)}
    assert dict(from_json["POST /checkout"].attrs) == {"order.id": "o-17"}


def test_wanted_attrs_never_builds_a_full_dict(monkeypatch, request_pb):
    # any_pb is only called for non-scalar values of wanted keys: with a set of one
    # scalar key it must never run, however many attributes the spans carry.
    import tracelogic.ingest.otlp as otlp
    calls = []
    monkeypatch.setattr(otlp, "any_pb", lambda v: calls.append(v))
    decode_traces_pb(request_pb.SerializeToString(), wanted_attrs=frozenset({"order.id"}))
    assert calls == []
    decode_traces_pb(request_pb.SerializeToString(), wanted_attrs=frozenset({"tags"}))
    assert len(calls) == 1  # the one array value that was asked for


# -- OTLP/JSON rules --------------------------------------------------------------

def test_jsonl_int_as_string_and_number_and_snake_case():
    res = read_path(DATA / "collector.jsonl")
    assert res.stats.ok and res.stats.decoded == 3
    spans = {s.name: s for s in res.spans}
    assert spans["GET /"].attrs["http.response.status_code"] == 503       # "503"
    assert spans["GET /"].attrs["big"] == 2**63 - 1
    assert spans["rpc"].attrs["http.response.status_code"] == 200         # 200
    assert spans["rpc"].start_ns == 2000 and spans["rpc"].kind == "client"
    a = spans["rpc"].attrs
    assert a["ok"] is True and a["load"] == 0.5 and a["raw"] == b"hello"
    assert a["list"] == ("x", 2) and dict(a["map"]) == {"k": "v"}
    job = spans["job"]  # snake_case keys and enum names, as protobuf's parser accepts
    assert job.kind == "consumer" and job.status == "error" and job.status_message == "oops"
    assert job.parent_id == "3000000000000002" and job.attrs["attempt"] == 3
    assert job.service == "worker" and job.scope_name == "jobs"
    assert spans["GET /"].attr("region") == "eu"


def test_hex_ids_are_case_insensitive_and_normalised():
    spans = read_path(DATA / "out_of_order.json").spans
    a = [s for s in spans if s.name == "SELECT items"][0]
    assert a.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert a.kind == "client" and a.attrs["db.system"] == "postgresql"


def test_malformed_line_in_the_middle_of_jsonl():
    res = read_path(DATA / "malformed_middle.jsonl")
    assert sorted(s.name for s in res.spans) == ["fifth", "first", "third"]
    lines = sorted(e.span.line for e in res.stats.errors)
    assert lines == [3, 5]  # the broken object's line, blank line 2 skipped
    err = res.stats.errors[0]
    assert isinstance(err, InputError) and isinstance(err, ValueError)
    assert str(err).startswith(f"{DATA / 'malformed_middle.jsonl'}:3:")
    assert "malformed JSON" in str(err) and "other lines were still read" in str(err)
    assert not res.stats.ok


def test_malformed_single_document_reports_line_and_column():
    res = read_path(DATA / "pretty_broken.json")
    assert res.spans == [] and len(res.stats.errors) == 1
    e = res.stats.errors[0]
    assert (e.span.line, e.span.column) == (8, 26)  # the quote where "," was expected
    assert "Expecting ','" in str(e)


def test_bad_ids_are_skipped_counted_and_reported():
    res = read_path(DATA / "bad_ids.json")
    st = res.stats
    assert sorted(s.name for s in res.spans) == ["good", "odd attrs"]
    assert (st.received, st.decoded, st.rejected) == (9, 2, 7)
    text = "\n".join(st.messages)
    for needle in ("'short trace id': trace id", "'non-hex span id': span id",
                   "looks base64-encoded", "all zeros", "trace id is missing",
                   "'bad parent': parent span id", "'bad time'", "spans[7]"):
        assert needle in text, needle
    good = [s for s in res.spans if s.name == "good"][0]
    assert good.links == (("55555555555555555555555555555555", "5000000000000002"),)
    assert "links[1]" in text and st.warnings >= 1


def test_attributes_of_unexpected_types_are_kept():
    res = read_path(DATA / "bad_ids.json")
    odd = [s for s in res.spans if s.name == "odd attrs"][0]
    assert isinstance(odd.attrs["n"], InvalidValue) and odd.attrs["n"] != "12x"
    assert odd.attrs["n"] != 12
    assert isinstance(odd.attrs["s"], InvalidValue) and odd.attrs["s"] != 7
    assert odd.attrs["e"] is None and "e" in odd.attrs   # empty AnyValue: present, no value
    assert odd.attrs["x"] == "kept"                       # unknown field ignored


def test_sniff():
    assert sniff({"resourceSpans": []}) == "traces"
    assert sniff({"resource_spans": []}) == "traces"
    assert sniff({"resourceMetrics": []}) == "metrics"
    assert sniff({}) is None and sniff([1]) is None and sniff({"logs": 1}) is None


def test_read_bytes_sniffs_json_vs_protobuf_and_gzip(request_pb):
    data = request_pb.SerializeToString()
    assert data[:1] == b"\n"  # protobuf starts with the tag of field 1 ...
    pb = read_bytes(data)
    js = read_bytes(json.dumps(request_to_json(request_pb), indent=1).encode())
    gz = read_bytes(gzip.compress(data))
    total = sum(len(ss.spans) for rs in request_pb.resource_spans for ss in rs.scope_spans)
    assert len(pb.spans) == len(js.spans) == len(gz.spans) == total == 9
    assert by_id(pb.spans) == by_id(js.spans) == by_id(gz.spans)
    # ... and JSON starting with a newline is still JSON
    nl = read_bytes(b"\n" + json.dumps(request_to_json(request_pb)).encode())
    assert by_id(nl.spans) == by_id(pb.spans) and nl.stats.ok


def test_non_otlp_json_is_an_error_not_a_crash():
    res = read_bytes(b'{"hello": 1}\n', source="x.json")
    assert res.spans == [] and "not an OTLP/JSON request" in str(res.stats.errors[0])
    res = read_bytes(b"[1, 2]", source="x.json")
    assert "not an OTLP/JSON request" in str(res.stats.errors[0])
    res = read_bytes(b'{"resourceSpans": 5}', source="x.json")
    assert "must be a JSON array" in str(res.stats.errors[0])
    res = read_bytes(b'{"resourceSpans": [{"scopeSpans": [{"spans": [1, {"traceId": 3}]}]}]}')
    assert res.stats.rejected == 2 and res.stats.received == 2
    assert read_bytes(b"{}").stats.ok and read_bytes(b"").stats.ok


def test_deeply_nested_json_does_not_crash():
    res = read_bytes(b"[" * 100_000, source="deep.json")
    assert len(res.stats.errors) == 1 and "deep.json" in str(res.stats.errors[0])
    deep = {"arrayValue": {"values": []}}
    for _ in range(200):
        deep = {"arrayValue": {"values": [deep]}}
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "1" * 32, "spanId": "2" * 16, "name": "deep",
        "attributes": [{"key": "d", "value": deep}]}]}]}]}
    (span,) = decode_traces_json(doc)
    v = span.attrs["d"]
    depth = 0
    while isinstance(v, tuple):
        v, depth = v[0], depth + 1
    assert isinstance(v, InvalidValue) and depth == 64


def test_invalid_utf8_in_jsonl_line():
    good = (DATA / "collector.jsonl").read_bytes().split(b"\n")[0]
    res = read_bytes(good + b"\n" + b'{"resourceSpans": ["\xff"]}\n' + good, source="u.jsonl")
    assert len(res.spans) == 2  # line 3 repeats line 1 (same ids); both are decoded
    assert res.stats.decoded == 2 and res.stats.errors[0].span.line == 2
    assert "UTF-8" in str(res.stats.errors[0])


# -- malformed protobuf ------------------------------------------------------------

def test_truncated_protobuf_reports_byte_offset(request_pb):
    data = request_pb.SerializeToString()
    # the last top-level field (the second ResourceSpans) starts right after the first
    first = ExportTraceServiceRequest(resource_spans=[request_pb.resource_spans[0]])
    last_field = len(first.SerializeToString())
    with pytest.raises(InputError) as ei:
        decode_traces_pb(data[:-7], source="cut.pb")
    e = ei.value
    assert f"byte offset {last_field} (of {len(data) - 7} bytes)" in str(e)
    assert e.value == last_field and "cut.pb" in str(e) and "truncated" in str(e)


def test_bad_utf8_string_in_protobuf_rejects_that_span_and_reports_its_offset(request_pb):
    # upb refuses the whole request; the text rule rejects only the span holding the string
    data = bytearray(request_pb.SerializeToString())
    name = b"POST /checkout"
    at = bytes(data).index(name)
    data[at + 2] = 0xFF
    stats = DecodeStats()
    spans = decode_traces_pb(bytes(data), source="bad.pb", stats=stats)
    n = sum(len(ss.spans) for rs in request_pb.resource_spans for ss in rs.scope_spans)
    assert (stats.received, stats.decoded, stats.rejected) == (n, n - 1, 1) == (n, len(spans), 1)
    assert "POST /checkout" not in {s.name for s in spans}
    msg = stats.messages[0]
    assert f"byte offset {at + 2}" in msg and "not valid UTF-8" in msg and "'name'" in msg


def test_garbage_protobuf_is_recorded_by_read_bytes():
    res = read_bytes(b"\x0a\xff\xff\xff\xff\x0f", source="junk.pb", fmt="protobuf")
    assert res.spans == [] and len(res.stats.errors) == 1
    e = res.stats.errors[0]
    assert isinstance(e, TracelogicError) and "byte offset" in str(e)


def test_bad_protobuf_ids_are_rejected_not_fatal(request_pb):
    req = ExportTraceServiceRequest()
    req.CopyFrom(request_pb)
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[0].span_id = b"\x01\x02"
    spans[1].trace_id = bytes(16)
    spans[2].parent_span_id = b"\x01" * 9
    total = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    stats = DecodeStats()
    out = decode_traces_pb(req.SerializeToString(), stats=stats, source="ids.pb")
    assert len(out) == total - 3 and stats.rejected == 3 and stats.received == total
    text = "\n".join(stats.messages)
    assert "span id has 2 bytes, expected 8" in text and "all zeros" in text
    assert "parent span id has 9 bytes" in text and "ids.pb: resourceSpans[0]" in text


def test_unknown_enum_values_are_warned_and_mapped(request_pb):
    req = ExportTraceServiceRequest()
    req.CopyFrom(request_pb)
    sp = req.resource_spans[0].scope_spans[0].spans[0]
    sp.kind = 42
    sp.status.code = 7
    stats = DecodeStats()
    out = decode_traces_request(req, stats=stats)
    s = [x for x in out if x.span_id == sp.span_id.hex()][0]
    assert (s.kind, s.status) == ("unspecified", "unset") and stats.warnings == 2


# -- read_path ----------------------------------------------------------------------

def test_read_path_stdin(monkeypatch):
    raw = (DATA / "collector.jsonl").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    res = read_path("-")
    assert res.source == "<stdin>" and len(res.spans) == 3


def test_read_path_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_path(tmp_path / "nope.json")


def test_read_path_pb_extension(tmp_path, request_pb):
    p = tmp_path / "t.binpb"
    p.write_bytes(request_pb.SerializeToString())
    assert len(read_path(p).spans) == sum(
        len(ss.spans) for rs in request_pb.resource_spans for ss in rs.scope_spans)


def test_stats_messages_are_capped_but_counts_are_not():
    spans = [{"traceId": "zz", "spanId": "1" * 16, "name": f"s{i}"} for i in range(250)]
    stats = DecodeStats(max_messages=10)
    decode_traces_json({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}, stats=stats)
    assert stats.rejected == 250 and len(stats.messages) == 10 and stats.messages_dropped == 240
    assert "250 rejected" in stats.summary()
    assert stats.to_dict()["rejected"] == 250


def test_all_zero_parent_is_a_root_and_negative_durations_are_warned(request_pb):
    req = ExportTraceServiceRequest()
    req.CopyFrom(request_pb)
    sp = req.resource_spans[0].scope_spans[0].spans[0]
    sp.parent_span_id = bytes(8)
    sp.end_time_unix_nano = sp.start_time_unix_nano - 5
    for decode in (lambda st: decode_traces_pb(req.SerializeToString(), stats=st),
                   lambda st: decode_traces_json(request_to_json(req), stats=st)):
        stats = DecodeStats()
        s = [x for x in decode(stats) if x.span_id == sp.span_id.hex()][0]
        assert s.is_root and s.parent_id == "" and s.duration == -5
        assert stats.rejected == 0 and stats.warnings == 2
        text = " ".join(stats.messages)
        assert "parent span id is all zeros; read as a root" in text and "ends (" in text


def test_gzipped_json_by_extension_and_invalid_utf8_in_one_document(tmp_path):
    p = tmp_path / "traces.json.gz"
    p.write_bytes(gzip.compress((DATA / "out_of_order.json").read_bytes()))
    assert len(read_path(p).spans) == 4
    res = read_bytes(b'{"resourceSpans":\n [\xff]}', source="one.json")
    (err,) = res.stats.errors
    assert (err.span.line, err.span.column) == (2, 3) and "byte offset 20" in str(err)
