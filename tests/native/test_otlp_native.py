"""The native OTLP protobuf decoder against the Python one (its reference and oracle).

The Python decoder defines the rules (docs/otlp-input.md: the text rule, the limits, which
span a problem rejects, the repairs, the words of every message, the counts). The native
decoder must give the same outcome on every input: the same spans (every field, projected
attributes included), the same DecodeStats (counts and every message, in order), or the
same InputError. The inputs are the monitor's test data re-encoded, Hypothesis-generated
requests that stress the rules (ids of every wrong length, all-zero ids, unknown enums,
times out of order, every AnyValue kind with nesting, NaN, ±2^63, the string-index fields,
non-string service names, duplicated keys), byte-level mutations of them, strings that are
not UTF-8 in every place a string can be, nesting around upb's limit, and strings around
the 1 MiB limit.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tracelogic.errors import InputError
from tracelogic.ingest.native_otlp import (decode_traces_pb_columns,
                                           decode_traces_pb_native)
from tracelogic.ingest.otlp import (DecodeStats, is_metrics_request,
                                    decode_traces_pb, read_path, spans_to_request)

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "ingest" / "data"
MONITOR_DATA = ROOT / "tests" / "engine" / "data" / "monitor"
TRACE_FILES = sorted(p for p in [*DATA.glob("*.json*"), *MONITOR_DATA.glob("*.json*")]
                     if p.name != "metrics.json")
WANTED = [None, frozenset(), frozenset({"k", "service.name"}), frozenset({"x", "nope"})]


def _key(v):
    """Values compared with NaN equal to itself."""
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    if isinstance(v, tuple):
        return tuple(_key(x) for x in v)
    if hasattr(v, "items"):
        return ("map", tuple((k, _key(x)) for k, x in v.items()))
    return (type(v).__name__, v)


def span_key(s):
    return (s.name, s.kind, s.status, s.status_message, s.start_ns, s.end_ns, s.service,
            s.trace_id, s.span_id, s.parent_id, _key(dict(s.attrs)), _key(dict(s.resource)),
            s.scope_name, s.event_names, s.links)


def stats_key(st_: DecodeStats):
    return (st_.received, st_.decoded, st_.rejected, st_.warnings, st_.messages,
            st_.messages_dropped)


def both(data: bytes, wanted):
    """(outcome of Python, outcome of native): ("ok", spans, stats) or ("error", message,
    stats): what was counted before the error counts too."""
    out = []
    for decode in (decode_traces_pb, decode_traces_pb_native):
        stats = DecodeStats()
        try:
            spans = decode(data, wanted_attrs=wanted, stats=stats, source="req")
        except InputError as e:
            out.append(("error", str(e), stats_key(stats)))
        else:
            out.append(("ok", [span_key(s) for s in spans], stats_key(stats)))
    return out


def assert_same(data: bytes, wanted) -> tuple:
    python, native = both(data, wanted)
    assert python == native
    return python


# ------------------------------------------------------------------ the test data

@pytest.mark.parametrize("wanted", WANTED,
                         ids=lambda w: "all" if w is None else ",".join(sorted(w)) or "none")
@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.name)
def test_test_data(path, wanted):
    data = spans_to_request(read_path(str(path)).spans).SerializeToString()
    result = assert_same(data, wanted)
    assert result[0] == "ok"


# ------------------------------------------------------------------ generated requests

def _ids(n: int):
    return st.one_of(st.binary(min_size=n, max_size=n), st.just(b""), st.just(bytes(n)),
                     st.binary(min_size=1, max_size=20))


_text = st.text(max_size=8)
_keys = st.sampled_from(["k", "x", "service.name", "", "nope", "k"])


def _any_values(depth: int = 3):
    scalars = st.one_of(
        st.builds(lambda s: common_pb2.AnyValue(string_value=s), _text),
        st.builds(lambda b: common_pb2.AnyValue(bool_value=b), st.booleans()),
        st.builds(lambda i: common_pb2.AnyValue(int_value=i),
                  st.one_of(st.integers(-2**63, 2**63 - 1),
                            st.sampled_from([-2**63, 2**63 - 1, 0, -1]))),
        st.builds(lambda f: common_pb2.AnyValue(double_value=f), st.floats()),
        st.builds(lambda b: common_pb2.AnyValue(bytes_value=b), st.binary(max_size=6)),
        st.builds(lambda i: common_pb2.AnyValue(string_value_strindex=i),
                  st.integers(-2**31, 2**31 - 1)),
        st.just(common_pb2.AnyValue()),
    )
    if depth == 0:
        return scalars
    inner = _any_values(depth - 1)
    return st.one_of(
        scalars,
        st.builds(lambda xs: common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=xs)),
                  st.lists(inner, max_size=3)),
        st.builds(lambda kvs: common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(
            values=[common_pb2.KeyValue(key=k, value=v) for k, v in kvs])),
            st.lists(st.tuples(_keys, inner), max_size=3)),
    )


_kvs = st.lists(st.builds(lambda k, v: common_pb2.KeyValue(key=k, value=v), _keys,
                          _any_values()), max_size=4)
_enum = st.one_of(st.integers(0, 6), st.sampled_from([-1, 2**31 - 1, -2**31]))
_time = st.one_of(st.integers(0, 10), st.integers(0, 2**64 - 1))


@st.composite
def spans_pb(draw):
    return trace_pb2.Span(
        trace_id=draw(_ids(16)), span_id=draw(_ids(8)),
        parent_span_id=draw(st.one_of(st.just(b""), _ids(8))),
        name=draw(_text), kind=draw(_enum), start_time_unix_nano=draw(_time),
        end_time_unix_nano=draw(_time), attributes=draw(_kvs),
        trace_state=draw(st.sampled_from(["", "a=b"])),
        events=[trace_pb2.Span.Event(name=n, attributes=draw(_kvs))
                for n in draw(st.lists(_text, max_size=2))],
        links=[trace_pb2.Span.Link(trace_id=t, span_id=s)
               for t, s in draw(st.lists(st.tuples(_ids(16), _ids(8)), max_size=2))],
        status=trace_pb2.Status(code=draw(_enum), message=draw(_text)))


@st.composite
def requests(draw):
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(draw(_kvs))
        if draw(st.booleans()):
            rs.resource.entity_refs.add(type=draw(_text),
                                        id_keys=draw(st.lists(_text, max_size=2)))
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            ss.scope.name = draw(_text)
            ss.spans.extend(draw(st.lists(spans_pb(), max_size=4)))
    return req.SerializeToString()


_settings = settings(max_examples=3000 if LONG else 60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_settings
@given(requests(), st.sampled_from(WANTED))
def test_generated_requests(data, wanted):
    assert assert_same(data, wanted)[0] == "ok"


@st.composite
def mutated(draw):
    data = bytearray(draw(requests()))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 3))]
    return bytes(data)


@_settings
@given(mutated(), st.sampled_from(WANTED))
def test_mutated_requests(data, wanted):
    """Whatever the Python decoder makes of broken bytes (spans, rejections with their
    offsets, or an InputError), the native decoder makes the same."""
    assert_same(data, wanted)


# ------------------------------------------------------------------ invalid UTF-8

_MARK = "\x01MARK\x01"


@_settings
@given(requests(), st.sampled_from(["name", "status", "event", "attr", "nested", "resource",
                                    "entity", "scope"]), st.data())
def test_invalid_utf8_rejects_the_span_not_the_request(data, where, draw):
    """A string that is not UTF-8 rejects the spans it is in (its span; every span of its
    resource or scope), not the request: the same outcome from both decoders, and, as the
    Python decoder defines it, the outcome of the request without those spans."""
    req = ExportTraceServiceRequest.FromString(data)
    spans = [(ri, si, k) for ri, rs in enumerate(req.resource_spans)
             for si, ss in enumerate(rs.scope_spans) for k in range(len(ss.spans))]
    if not spans:
        return
    ri, si, k = draw.draw(st.sampled_from(spans))
    rs = req.resource_spans[ri]
    sp = rs.scope_spans[si].spans[k]
    value = common_pb2.AnyValue(string_value=_MARK)
    if where == "name":
        sp.name = _MARK
    elif where == "status":
        sp.status.message = _MARK
    elif where == "event":
        sp.events.add(name=_MARK)
    elif where == "attr":
        sp.attributes.add(key="unwanted", value=value)
    elif where == "nested":
        sp.attributes.add(key="k", value=common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[value])))
    elif where == "resource":
        rs.resource.attributes.add(key="r", value=value)
    elif where == "entity":
        rs.resource.entity_refs.add(type=_MARK)
    else:
        rs.scope_spans[si].scope.name = _MARK
    # the same length: a stray byte, or a lone surrogate (which UTF-8 forbids)
    bad_text = draw.draw(st.sampled_from([b"\xffMARK\xfe", b"\xed\xa0\x80ARK"]))
    bad = req.SerializeToString().replace(_MARK.encode(), bad_text)
    wanted = draw.draw(st.sampled_from(WANTED))
    python = assert_same(bad, wanted)
    if python[0] == "error":  # bytes that also read as a metrics request are refused whole
        assert is_metrics_request(bad), python[1]
        return
    # the oracle: the Python decoder on the request without the spans the bad string is in
    hit = ([(ri, si2, j) for si2, ss in enumerate(rs.scope_spans) for j in range(len(ss.spans))]
           if where in ("resource", "entity") else
           [(ri, si, j) for j in range(len(rs.scope_spans[si].spans))] if where == "scope"
           else [(ri, si, k)])
    for r, s, j in sorted(hit, reverse=True):
        del req.resource_spans[r].scope_spans[s].spans[j]
    expect_stats = DecodeStats()
    expect = decode_traces_pb(req.SerializeToString(), wanted_attrs=wanted, stats=expect_stats)
    _, spans_got, (received, decoded, rejected, warnings, messages, _) = python
    assert spans_got == [span_key(s) for s in expect]
    assert (received, decoded, rejected, warnings) == (
        expect_stats.received + len(hit), expect_stats.decoded,
        expect_stats.rejected + len(hit), expect_stats.warnings)
    assert "not valid UTF-8" in messages[0]


# ------------------------------------------------------------------ limits and columns

def _ld(num: int, payload: bytes) -> bytes:
    """A length-delimited field, by hand (the protobuf API refuses to build what upb cannot
    parse)."""
    n, head = len(payload), bytearray([num << 3 | 2])
    while True:
        head.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(head) + payload


def _nested_array(levels: int) -> bytes:
    value = _ld(1, b"x")  # string_value
    for _ in range(levels):
        value = _ld(5, _ld(1, value))  # array_value { values: [value] }
    span = (_ld(1, bytes(range(1, 17))) + _ld(2, bytes(range(1, 9))) + _ld(5, b"deep")
            + _ld(9, _ld(1, b"k") + _ld(2, value)))
    return _ld(1, _ld(2, _ld(2, span)))


def test_nesting_around_upbs_limit():
    """upb refuses more than 100 nested messages; the Python decoder then parses the resource
    spans, the scope spans and the span on their own, so the limit is counted from the part
    it parses (docs/otlp-input.md). Both decoders give the same outcome at every depth
    around it, and the depths cover a kept span, a kept span on the slow path and a
    rejected one."""
    outcomes = set()
    for levels in range(45, 53):
        python = assert_same(_nested_array(levels), None)
        assert python[0] == "ok"
        _, spans, (received, decoded, rejected, *_rest) = python
        slow = decode_traces_pb_columns(_nested_array(levels))["upb_refused"]
        outcomes.add("rejected" if rejected else "kept on the slow path" if slow else "kept")
        assert (received, decoded + rejected) == (1, 1)
    assert outcomes == {"kept", "kept on the slow path", "rejected"}


@pytest.mark.parametrize("extra", [-1, 0, 1])
@pytest.mark.parametrize("where", ["name", "attr", "resource", "scope"])
def test_string_limit(where, extra):
    """One string at the text rule's limit - 1, limit and limit + 1 bytes, in a span, an
    attribute value, the resource and the scope: the same outcome from both decoders."""
    from tracelogic.ingest.text_rule import MAX_STRING_BYTES
    text = "é" * ((MAX_STRING_BYTES + extra) // 2) + "a" * ((MAX_STRING_BYTES + extra) % 2)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    ss = rs.scope_spans.add()
    for i in range(2):
        ss.spans.add(trace_id=bytes(range(1, 17)), span_id=bytes([i + 1] * 8), name=f"s{i}")
    value = common_pb2.AnyValue(string_value=text)
    if where == "name":
        ss.spans[1].name = text
    elif where == "attr":
        ss.spans[1].attributes.add(key="k", value=value)
    elif where == "resource":
        rs.resource.attributes.add(key="r", value=value)
    else:
        ss.scope.name = text
    python = assert_same(req.SerializeToString(), frozenset({"k"}))
    assert python[0] == "ok"
    assert (python[2][2] > 0) is (extra > 0)  # the Python decoder's rule, stated


@pytest.mark.parametrize("groups", [1, 99, 100, 101])
def test_groups_in_unknown_fields(groups):
    """upb takes groups in unknown fields (up to its nesting limit); the Python decoder's
    framing walk does not: both decoders agree on either side of each."""
    group = b"\x9b\x06" * groups + b"\x9c\x06" * groups  # field 99, nested
    span = _ld(1, bytes(range(1, 17))) + _ld(2, bytes(range(1, 9))) + group + _ld(5, b"after")
    for data in (_ld(1, _ld(2, _ld(2, span))), _ld(1, _ld(2, _ld(2, span))) + group):
        assert_same(data, None)


def test_limits_are_the_python_decoders():
    from tracelogic import _native
    from tracelogic.ingest.otlp_common import MAX_DEPTH
    from tracelogic.ingest.text_rule import MAX_STRING_BYTES
    assert dict(_native.limits()) == {"MAX_STRING_BYTES": MAX_STRING_BYTES,
                                      "MAX_VALUE_DEPTH": MAX_DEPTH, "MAX_PROTOBUF_DEPTH": 100}


def test_schema_matches_the_descriptors():
    """The core's schema (which fields are strings, which are messages) is the protobuf
    package's, for every message reachable from the request."""
    from google.protobuf.descriptor import FieldDescriptor as FD

    from tracelogic import _native

    want = {}
    todo = [ExportTraceServiceRequest.DESCRIPTOR]
    while todo:
        d = todo.pop()
        if d.full_name in want:
            continue
        fields = []
        for f in sorted(d.fields, key=lambda f: f.number):
            if f.type == FD.TYPE_MESSAGE:
                fields.append((f.number, f.name, f.message_type.full_name))
                todo.append(f.message_type)
            elif f.type == FD.TYPE_STRING:
                fields.append((f.number, f.name, "string"))
        want[d.full_name] = fields
    assert dict(_native.trace_schema()) == want


def test_bytes_that_are_a_metrics_request_are_refused_whole():
    """Bytes upb refuses as a trace request but reads as a metrics request with a metric
    are refused whole by the Python decoder (the input is of the wrong signal), not
    salvaged span by span: the native decoder does the same. Here a link's trace_state is
    not UTF-8 (field 13 is unknown to a Metric, whose name and description are the span's
    ASCII ids)."""
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.add(
        trace_id=b"a" * 16, span_id=b"b" * 8,
        links=[trace_pb2.Span.Link(trace_id=b"c" * 16, span_id=b"d" * 8, trace_state=_MARK)])
    data = req.SerializeToString().replace(_MARK.encode(), b"\xffMARK\xfe")
    python, native = both(data, None)
    assert native == python
    assert python[0] == "error" and "'trace_state' is not valid UTF-8" in python[1]


def test_columns_are_columns():
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="s"))
    ss = rs.scope_spans.add()
    ss.scope.name = "lib"
    for i in range(3):
        sp = ss.spans.add(trace_id=bytes([1] * 16), span_id=bytes([i + 1] * 8), name=f"n{i}",
                          start_time_unix_nano=i, end_time_unix_nano=i + 5, kind=2)
        sp.attributes.add(key="k", value=common_pb2.AnyValue(int_value=i))
        sp.attributes.add(key="skip", value=common_pb2.AnyValue(int_value=i))
    c = decode_traces_pb_columns(req.SerializeToString(), wanted_attrs=frozenset({"k"}))
    assert c["received"] == 3 and c["name"] == ["n0", "n1", "n2"]
    assert c["trace_id"] == bytes([1] * 48) and c["span_id"][8:16] == bytes([2] * 8)
    assert c["start_ns"] == [0, 1, 2] and c["end_ns"] == [5, 6, 7] and c["kind"] == [2] * 3
    assert c["attr_span"] == [0, 1, 2] and c["attr_key"] == ["k"] * 3
    assert c["attr_value"] == [0, 1, 2]
    assert c["resources"] == [("s", [])] and c["scopes"] == ["lib"]
    assert c["resource"] == [0, 0, 0] and c["problems"] == []


def test_corrupt_bytes_are_an_input_error_with_the_offset():
    with pytest.raises(InputError, match="byte offset 0") as e:
        decode_traces_pb_native(b"\x0a\x05\x12\x03", source="req")
    python, native = both(b"\x0a\x05\x12\x03", None)
    assert native == python and python[1] == str(e.value).replace("<protobuf>", "req")
