"""The OTLP decoders' limits (docs/otlp-input.md, "Limits"), each at limit - 1, limit and
limit + 1, and the text rule, for OTLP/JSON and protobuf, traces and metrics. Every
limit gives a message naming where; nothing but InputError (or a counted rejection)
ever comes out of a decoder."""
from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest)

from tracelogic.errors import InputError
from tracelogic.ingest.otlp_common import (
    MAX_DEPTH, MAX_INT_DIGITS, MAX_JSON_DEPTH, MAX_STRING_BYTES, LongInt, json_depth, loads_json,
)
from tracelogic.ingest.metrics import decode_metrics_json, decode_metrics_pb
from tracelogic.ingest.otlp import (
    DecodeStats, decode_traces_json, decode_traces_pb, read_bytes,
)
from tracelogic.sidecar.server import decode_request
from tracelogic.ingest.spans import InvalidValue

from .otlp_badtext import BAD_TRACE, GOOD_TRACE, clean_request_pb, request_doc, request_json

ALL = None  # wanted_attrs: every attribute


def decode_json_bytes(body: bytes) -> tuple[list, DecodeStats]:
    """Through the sidecar's decoder (bytes in, InputError or counted rejections out)."""
    return decode_request("traces", "json", body, wanted_attrs=ALL, wanted_metrics=frozenset())


def with_attr(value: dict) -> dict:
    doc = request_doc(None)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"] = [
        {"key": "v", "value": value}]
    return doc


def child(spans: list) -> object:
    (c,) = [s for s in spans if s.name.startswith("charge")]
    return c


# -- JSON nesting ----------------------------------------------------------------------

def padded(depth: int) -> bytes:
    """A valid request whose unknown field ``x`` makes the whole document ``depth`` deep."""
    doc = json.dumps(request_doc(None))
    inner = depth - 1  # the top-level object is level 1
    return (doc[:-1] + ', "x": ' + "[" * inner + "]" * inner + "}").encode()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
def test_json_nesting_up_to_the_limit_is_read(depth):
    body = padded(depth)
    assert json_depth(body) == depth
    spans, stats = decode_json_bytes(body)
    assert len(spans) == 3 and stats.ok


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 100_000])
def test_json_nesting_over_the_limit_is_an_input_error(depth):
    body = padded(depth)
    with pytest.raises(InputError) as e:
        decode_json_bytes(body)
    assert f"nested {depth} deep, over the limit of {MAX_JSON_DEPTH}" in str(e.value)
    res = read_bytes(body, source="deep.json")
    assert res.spans == [] and len(res.stats.errors) == 1
    assert "over the limit of 256" in str(res.stats.errors[0])


def test_json_depth_ignores_brackets_in_strings_and_escapes():
    text = '{"a": "[[[[\\"[[[{{", "b": [[1]], "c": "\\\\", "d": ["]]]"]}'
    assert json_depth(text.encode()) == 3 == _depth_oracle(json.loads(text))
    deep = '{"k": "' + "[" * 10_000 + '"}'
    doc, _ = loads_json(deep)  # ten thousand brackets, all inside a string
    assert doc == {"k": "[" * 10_000}


def _depth_oracle(v) -> int:
    if isinstance(v, dict):
        return 1 + max(map(_depth_oracle, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(_depth_oracle, v), default=0)
    return 0


def test_json_lines_a_too_deep_line_is_reported_and_the_others_read():
    good = json.dumps(request_doc(None))
    text = "\n".join([good, "[" * 300 + "]" * 300, good]).encode()
    res = read_bytes(text, source="x.jsonl")
    assert len(res.spans) == 6 and len(res.stats.errors) == 1
    assert "x.jsonl:2" in str(res.stats.errors[0]) and "over the limit" in str(
        res.stats.errors[0])


# -- AnyValue nesting ------------------------------------------------------------------

def nested_json(levels: int) -> dict:
    v: dict = {"stringValue": "x"}
    for _ in range(levels):
        v = {"arrayValue": {"values": [v]}}
    return v


def depth_of(v) -> int:
    n = 0
    while isinstance(v, tuple):
        v = v[0]
        n += 1
    return n


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH])
def test_anyvalue_nesting_up_to_the_limit_is_converted(levels):
    spans = decode_traces_json(with_attr(nested_json(levels)))
    v = child(spans).attrs["v"]
    assert depth_of(v) == levels
    inner = v
    for _ in range(levels):
        inner = inner[0]
    assert inner == "x"


def test_anyvalue_nesting_over_the_limit_is_an_invalid_value():
    v = child(decode_traces_json(with_attr(nested_json(MAX_DEPTH + 1)))).attrs["v"]
    assert depth_of(v) == MAX_DEPTH
    for _ in range(MAX_DEPTH):
        v = v[0]
    assert isinstance(v, InvalidValue) and "deeper than 64" in v.reason


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def nested_pb(levels: int) -> bytes:
    """Serialized AnyValue nested ``levels`` arrays deep (built by hand: the Python API
    itself refuses to build what upb cannot parse)."""
    v = _field(1, b"x")  # string_value
    for _ in range(levels):
        v = _field(5, _field(1, v))  # array_value { values: [v] }
    return v


def pb_with_attr(levels: int) -> bytes:
    req = clean_request_pb()
    sp = req.resource_spans[0].scope_spans[0].spans[1]
    sp.attributes.add(key="v")
    data = req.SerializeToString()
    kv = sp.attributes[0].SerializeToString()
    big_kv = _field(1, b"v") + _field(2, nested_pb(levels))
    # splice: re-serialize the span with the nested attribute appended by hand
    span_bytes = sp.SerializeToString()
    new_span = span_bytes.replace(_field(9, kv), b"") + _field(9, big_kv)
    ss = req.resource_spans[0].scope_spans[0]
    parts = [s.SerializeToString() for s in ss.spans]
    parts[1] = new_span
    ss_bytes = _field(1, ss.scope.SerializeToString()) + b"".join(_field(2, p) for p in parts)
    rs = req.resource_spans[0]
    rs_bytes = _field(1, rs.resource.SerializeToString()) + _field(2, ss_bytes)
    assert data  # the clean request serializes
    return _field(1, rs_bytes)


def test_protobuf_anyvalue_nesting_is_bounded_by_upb_and_rejects_only_that_span():
    """upb refuses messages nested deeper than 100 (2 per AnyValue level); the slow path
    then parses the span alone, so the limit is counted from the span: up to 49 levels
    decode, 50 and more reject the span (not the request)."""
    for levels in (48, 49):
        stats = DecodeStats()
        spans = decode_traces_pb(pb_with_attr(levels), stats=stats)
        assert stats.rejected == 0 and depth_of(child(spans).attrs["v"]) == levels
    for levels in (50, 51, 5000):
        stats = DecodeStats()
        spans = decode_traces_pb(pb_with_attr(levels), stats=stats)
        assert (stats.received, stats.decoded, stats.rejected) == (3, 2, 1)
        assert "charge" not in {s.name for s in spans}
        assert "nested deeper" in stats.messages[0] and "spans[1]" in stats.messages[0]


def _span_nested(kvlists: int, arrays: int) -> bytes:
    """A Span whose attribute value nests key-value lists, then arrays: 2 + 3 * kvlists +
    2 * arrays messages below the span."""
    v = _field(1, b"x")
    for _ in range(arrays):
        v = _field(5, _field(1, v))  # array_value { values: [v] }
    for _ in range(kvlists):
        v = _field(6, _field(1, _field(1, b"a") + _field(2, v)))  # kvlist_value {a: v}
    return _field(9, _field(1, b"k") + _field(2, v))


def _upb_accepts(data: bytes) -> bool:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1 import trace_pb2
    try:
        trace_pb2.Span.FromString(data)
    except DecodeError:
        return False
    return True


@pytest.mark.parametrize("kvlists,arrays,below", [(32, 0, 98), (32, 1, 100), (33, 0, 101)])
def test_find_wire_error_nesting_limit_is_upbs(kvlists, arrays, below):
    """Regression: find_wire_error refused 100 nested messages, which upb decodes (so a
    span over 1 MiB holding them was rejected for a nesting that breaks no limit)."""
    from opentelemetry.proto.trace.v1 import trace_pb2

    from tracelogic.ingest.otlp_common import find_wire_error

    data = _span_nested(kvlists, arrays)
    assert _upb_accepts(data) is (below <= 100)
    found = find_wire_error(data, trace_pb2.Span.DESCRIPTOR)
    assert found is None if below <= 100 else found[1] == "messages nested deeper than 100"


@pytest.mark.parametrize("tag", [
    bytes([0xAA, 0x80, 0x80, 0x80, 0x80, 0x00]),  # field 5 padded to 6 bytes
    bytes([0xFA] + [0xFF] * 8 + [0x01]),  # 10 bytes, field number above 2**29
    bytes([0xFA, 0xFF, 0xFF, 0xFF, 0x7F]),  # 5 bytes over 32 bits
])
def test_find_wire_error_finds_a_tag_upb_refuses(tag):
    """Regression: a tag upb refuses (over 5 bytes or 32 bits) was walked as an unknown
    field, and the message said the framing looks sound."""
    from opentelemetry.proto.trace.v1 import trace_pb2

    from tracelogic.ingest.otlp_common import find_wire_error

    data = b"\x2a\x01a" + tag + b"\x00"  # name "a", then the tag with an empty value
    assert not _upb_accepts(data)
    assert find_wire_error(data, trace_pb2.Span.DESCRIPTOR) == (
        3, "field tag of more than 5 bytes or 32 bits (upb's limit)")
    five = bytes([0xAA, 0x80, 0x80, 0x80, 0x00, 0x00])  # 5 bytes, 32 bits: fine for both
    assert _upb_accepts(five)
    assert find_wire_error(five, trace_pb2.Span.DESCRIPTOR) is None


def test_a_bad_tag_in_a_span_is_named_with_its_offset():
    """The slow path's reason for a span holding such a tag is that tag, at its offset."""
    req = clean_request_pb()
    ss = req.resource_spans[0].scope_spans[0]
    parts = [s.SerializeToString() for s in ss.spans]
    parts[1] += bytes([0xAA, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00])
    ss_bytes = _field(1, ss.scope.SerializeToString()) + b"".join(_field(2, p) for p in parts)
    rs_bytes = _field(1, req.resource_spans[0].resource.SerializeToString()) + _field(2, ss_bytes)
    data = _field(1, rs_bytes)
    stats = DecodeStats()
    spans = decode_traces_pb(data, stats=stats)
    assert (stats.received, stats.decoded, stats.rejected) == (3, 2, 1)
    offset = data.index(bytes([0xAA, 0x80, 0x80, 0x80, 0x80]))
    assert stats.messages == [
        f"<protobuf>: resourceSpans[0].scopeSpans[0].spans[1]: field tag of more than 5 bytes "
        f"or 32 bits (upb's limit) at byte offset {offset}; span skipped"]
    assert len(spans) == 2


# -- integers --------------------------------------------------------------------------

def with_start(raw: str) -> bytes:
    body = json.dumps(request_doc(None))
    return body.replace('"startTimeUnixNano": "1700000000000000000"',
                        f'"startTimeUnixNano": {raw}', 1).encode()


@pytest.mark.parametrize("digits", [MAX_INT_DIGITS - 1, MAX_INT_DIGITS])
def test_integer_literals_up_to_20_digits_are_read(digits):
    raw = "1" + "0" * (digits - 1)  # 10**19 < 2**64: a valid uint64 at 20 digits
    spans, stats = decode_json_bytes(with_start(raw))
    assert stats.rejected == 0 and int(raw) in {s.start_ns for s in spans}


@pytest.mark.parametrize("digits", [MAX_INT_DIGITS + 1, 4301, 5000])
def test_longer_integer_literals_reject_the_span_with_a_message(digits):
    spans, stats = decode_json_bytes(with_start("9" * digits))
    assert (stats.received, stats.decoded, stats.rejected) == (3, 2, 1)
    assert f"integer literal of {digits} digits" in stats.messages[0]
    doc, _ = loads_json("[" + "9" * digits + "]")
    assert isinstance(doc[0], LongInt)


@pytest.mark.parametrize("value,ok", [
    (str((1 << 64) - 1), True), (str(1 << 64), False), ("-1", False),
    ('"18446744073709551615"', True), ('"18446744073709551616"', False),
    ('"' + "1" * 21 + '"', False), ('"' + "9" * 5000 + '"', False), ("1e19", True),
    ("1e300", False),
])
def test_timestamps_are_uint64(value, ok):
    spans, stats = decode_json_bytes(with_start(value))
    assert (stats.rejected == 0) is ok
    if not ok:
        assert "0..2**64-1" in stats.messages[0]


@pytest.mark.parametrize("value,ok", [
    (str((1 << 63) - 1), True), (str(1 << 63), False), (str(-(1 << 63)), True),
    (str(-(1 << 63) - 1), False), ('"' + "9" * 5000 + '"', False), ("9" * 5000, False),
])
def test_int_values_are_int64_else_invalid_value(value, ok):
    body = json.dumps(with_attr({"intValue": "PLACEHOLDER"})).replace('"PLACEHOLDER"', value)
    spans, stats = decode_json_bytes(body.encode())
    v = child(spans).attrs["v"]
    if ok:
        assert v == int(value)
    else:
        assert isinstance(v, InvalidValue) and "64-bit" in v.reason


def test_metric_as_int_and_times_are_64_bit():
    def doc(as_int: str, t: str = '"5"') -> bytes:
        return (f'{{"resourceMetrics": [{{"scopeMetrics": [{{"metrics": [{{"name": "m", '
                f'"gauge": {{"dataPoints": [{{"asInt": {as_int}, "timeUnixNano": {t}}}]}}}}'
                f']}}]}}]}}').encode()
    for as_int, t, ok in [(str((1 << 63) - 1), '"5"', True), (str(1 << 63), '"5"', False),
                          ("9" * 5000, '"5"', False), ("1", "9" * 5000, False),
                          ("1", str((1 << 64) - 1), True)]:
        res = read_bytes(doc(as_int, t), source="m.json")
        assert (res.stats.points_rejected == 0) is ok, (as_int, t)
        assert len(res.points) == int(ok)


# -- strings ---------------------------------------------------------------------------

@pytest.mark.parametrize("extra,ok", [(-1, True), (0, True), (1, False)])
def test_string_size_limit_in_json_and_protobuf(extra, ok):
    s = "v" * (MAX_STRING_BYTES + extra)
    doc = with_attr({"stringValue": s})
    spans, stats = decode_json_bytes(json.dumps(doc).encode())
    assert (stats.rejected == 0) is ok and len(spans) == 3 - (not ok)
    req = clean_request_pb()
    req.resource_spans[0].scope_spans[0].spans[1].attributes.add(key="v").value.string_value = s
    pstats = DecodeStats()
    pspans = decode_traces_pb(req.SerializeToString(), stats=pstats)
    assert (pstats.rejected == 0) is ok and len(pspans) == 3 - (not ok)
    if not ok:
        assert f"over the limit of {MAX_STRING_BYTES}" in stats.messages[0]
        assert f"over the limit of {MAX_STRING_BYTES}" in pstats.messages[0]
    else:
        assert child(spans).attrs["v"] == s == child(pspans).attrs["v"]


def test_string_size_counts_utf8_bytes():
    ok = "é" * (MAX_STRING_BYTES // 2)  # two bytes each: exactly the limit
    spans, stats = decode_json_bytes(json.dumps(with_attr({"stringValue": ok})).encode())
    assert stats.rejected == 0
    spans, stats = decode_json_bytes(json.dumps(with_attr({"stringValue": ok + "é"})).encode())
    assert stats.rejected == 1


# -- the text rule, decoder by decoder ---------------------------------------------------

SURROGATE_PLACES = [
    ("name", lambda sp: sp.update(name="a\ud800")),
    ("attribute key", lambda sp: sp.update(attributes=[{"key": "k\udfff",
                                                         "value": {"stringValue": "v"}}])),
    ("nested value", lambda sp: sp.update(attributes=[{"key": "k", "value": {
        "kvlistValue": {"values": [{"key": "n", "value": {"arrayValue": {
            "values": [{"stringValue": "\udc00"}]}}}]}}}])),
    ("unwanted attribute", lambda sp: sp.update(attributes=[{"key": "not.read", "value": {
        "stringValue": "\ud800"}}])),
    ("event attribute", lambda sp: sp.update(events=[{"name": "e", "attributes": [
        {"key": "k", "value": {"stringValue": "\ud800"}}]}])),
    ("link trace state", lambda sp: sp.update(links=[{"traceId": "cc" * 16,
                                                      "spanId": "cc" * 8,
                                                      "traceState": "\ud800"}])),
    ("status message", lambda sp: sp.update(status={"code": 2, "message": "\ud800"})),
    ("unknown field", lambda sp: sp.update(somethingNew="\ud800")),
]


@pytest.mark.parametrize("what,mutate", SURROGATE_PLACES, ids=[p[0] for p in SURROGATE_PLACES])
def test_a_lone_surrogate_anywhere_in_a_span_rejects_that_span(what, mutate):
    doc = request_doc(None)
    mutate(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1])
    body = json.dumps(doc).encode()
    for wanted in (None, frozenset({"order.id"})):
        spans, stats = decode_request("traces", "json", body, wanted_attrs=wanted,
                                      wanted_metrics=frozenset())
        assert (stats.received, stats.decoded, stats.rejected) == (3, 2, 1)
        assert {s.trace_id for s in spans} == {BAD_TRACE, GOOD_TRACE}
        assert "lone surrogate" in stats.messages[0] and "spans[1]" in stats.messages[0]
        stats.messages[0].encode("utf-8")
    # the parsed-document entry point checks too, without being told
    stats = DecodeStats()
    assert len(decode_traces_json(json.loads(body), stats=stats)) == 2 and stats.rejected == 1


def test_a_lone_surrogate_in_the_resource_or_scope_rejects_their_spans():
    doc = request_doc(None)
    doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = "s\ud800"
    spans, stats = decode_json_bytes(json.dumps(doc).encode())
    assert spans == [] and (stats.received, stats.rejected) == (3, 3)
    assert "resourceSpans[0].resource" in stats.messages[0]
    doc = request_doc(None)
    doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["version"] = "\udfff"
    spans, stats = decode_json_bytes(json.dumps(doc).encode())
    assert spans == [] and (stats.received, stats.rejected) == (3, 3)
    assert "scopeSpans[0].scope.version" in stats.messages[0]


def test_surrogate_pairs_are_text_and_are_kept():
    doc = request_doc(None)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["name"] = "pay \U0001F600"
    body = json.dumps(doc).encode()  # ensure_ascii: written as the pair \ud83d\ude00
    assert b"\\ud83d\\ude00" in body
    spans, stats = decode_json_bytes(body)
    assert stats.rejected == 0 and "pay \U0001F600" in {s.name for s in spans}


def test_protobuf_invalid_utf8_in_resource_scope_and_span():
    req = clean_request_pb()
    data = req.SerializeToString()
    # the resource's service.name value "shop", the scope name "t", the span name
    for needle, rejected, where in [(b"shop", 3, "resourceSpans[0]: the resource"),
                                    (b"chargeX", 1, "spans[1]")]:
        at = data.index(needle)
        bad = data[:at] + b"\xc3\x28" + data[at + 2:]
        stats = DecodeStats()
        spans = decode_traces_pb(bad, stats=stats)
        assert (stats.received, stats.rejected) == (3, rejected)
        assert len(spans) == 3 - rejected and where in stats.messages[0]
        assert f"byte offset {at}" in stats.messages[0]


def test_protobuf_framing_errors_above_the_spans_stay_request_errors():
    data = clean_request_pb().SerializeToString()
    with pytest.raises(InputError) as e:
        decode_traces_pb(data[:-3], source="cut.pb")
    assert "byte offset" in str(e.value) and "cut.pb" in str(e.value)


def metrics_doc(name: str = "m", attr: str = "a", unit: str = "1") -> dict:
    pts = [{"asInt": "1", "timeUnixNano": "5", "attributes": [
        {"key": "k", "value": {"stringValue": attr}}]},
           {"asInt": "2", "timeUnixNano": "6"}]
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": name, "unit": unit, "gauge": {"dataPoints": pts}},
        {"name": "other", "sum": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": "7"}]}}]}]}]}


def test_metrics_json_text_rule_per_point_and_per_metric():
    body = json.dumps(metrics_doc(attr="\ud800")).encode()
    points, stats = decode_request("metrics", "json", body, wanted_attrs=None,
                                   wanted_metrics=frozenset({"m", "other"}))
    assert (stats.points_received, stats.points_decoded, stats.points_rejected) == (3, 2, 1)
    assert "dataPoints[0]" in stats.messages[0] and "lone surrogate" in stats.messages[0]
    body = json.dumps(metrics_doc(unit="\ud800")).encode()
    stats = DecodeStats()
    points = decode_metrics_json(json.loads(body), stats=stats)
    assert [p.metric for p in points] == ["other"] and stats.points_rejected == 2


def metrics_pb(name: str = "m", attr: str = "a") -> bytes:
    from google.protobuf import json_format
    return json_format.ParseDict(metrics_doc(name, attr),
                                 ExportMetricsServiceRequest()).SerializeToString()


def test_metrics_protobuf_invalid_utf8_per_point_and_per_metric():
    data = metrics_pb(attr="Q")
    at = data.index(b"Q")
    bad = data[:at] + b"\xff" + data[at + 1:]
    stats = DecodeStats()
    points = decode_metrics_pb(bad, stats=stats)
    assert sorted(p.value for p in points) == [1.5, 2]
    assert stats.points_rejected == 1 and f"byte offset {at}" in stats.messages[0]
    data = metrics_pb(name="mZ")
    at = data.index(b"mZ") + 1
    bad = data[:at] + b"\xff" + data[at + 1:]
    stats = DecodeStats()
    points = decode_metrics_pb(bad, stats=stats, wanted_metrics=frozenset({"mZ", "other"}))
    assert [p.metric for p in points] == ["other"] and stats.points_rejected == 2
    assert "'name' is not valid UTF-8" in stats.messages[0]


def test_the_issue_s_250_byte_request():
    """The request from the issue: accepted (200), the span rejected, nothing crashes."""
    body = request_json("attribute")
    spans, stats = decode_json_bytes(body)
    assert stats.rejected == 1 and len(spans) == 2


def test_sdk_spans_follow_the_text_rule():
    """Spans from the OpenTelemetry SDK (the pytest plugin's path) hold whatever str the
    application gave: the same rule applies, so RE2 and reports never see a surrogate."""
    from tracelogic.ingest.spans import from_sdk

    from .otlp_testdata import record

    def build(tracer):
        with tracer.start_as_current_span("ok") as a:
            a.set_attribute("order.id", "o-1")
        with tracer.start_as_current_span("name\ud800"):
            pass
        with tracer.start_as_current_span("attr") as c:
            c.set_attribute("order.id", ["o-2", "o-\udfff"])
        with tracer.start_as_current_span("event") as d:
            d.add_event("retry\ud800")
    stats = DecodeStats()
    spans = from_sdk(record(build), stats=stats)
    assert [s.name for s in spans] == ["ok"]
    assert (stats.received, stats.decoded, stats.rejected) == (4, 1, 3)
    assert all("lone surrogate" in m for m in stats.messages)
    assert "attribute 'order.id' value" in stats.messages[1]
