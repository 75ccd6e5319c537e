"""The native OTLP protobuf decoder against the Python one (its oracle).

For every request both accept, the spans (every field, projected attributes included) and
the DecodeStats (counts and every message) must be equal. The requests are the monitor's
test data re-encoded, Hypothesis-generated requests that stress the rules (ids of every
wrong length, all-zero ids, unknown enums, times out of order, every AnyValue kind with
nesting, NaN, ±2^63, the string-index fields, non-string service names, duplicated keys),
and byte-level mutations of them: there, whatever the Python decoder refuses the native
one refuses too (or, for invalid UTF-8 only, rejects the span holding it), and the native
decoder never refuses what the Python one accepts.

The one intended difference, invalid UTF-8 rejecting a span instead of the request, is
checked against the Python decoder run on the request without that span.

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
from tracelogic.runtime_monitor.native_otlp import (decode_traces_pb_columns,
                                                    decode_traces_pb_native)
from tracelogic.runtime_monitor.otlp import (DecodeStats, decode_traces_pb, read_path,
                                             spans_to_request)

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "runtime_monitor" / "data"
TRACE_FILES = sorted(p for p in [*DATA.glob("*.json*"), *(DATA / "monitor").glob("*.json*")]
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
    """(outcome of Python, outcome of native): ("ok", spans, stats) or ("error", message)."""
    out = []
    for decode in (decode_traces_pb, decode_traces_pb_native):
        stats = DecodeStats()
        try:
            spans = decode(data, wanted_attrs=wanted, stats=stats, source="req")
        except InputError as e:
            out.append(("error", str(e)))
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
    python, native = both(data, wanted)
    if python[0] == "ok":
        assert native == python  # never refuse what upb accepts, and decode it the same
    elif native[0] == "error":
        # the same message when the offset is known; otherwise each names its own cause
        assert native == python or "byte offset of the problem is not known" in python[1]
    else:  # only invalid UTF-8 makes the two differ: the native decoder rejects the spans
        # holding it (none, if it is in a resource or scope without spans); which ones is
        # test_invalid_utf8_rejects_the_span_not_the_request's business
        assert "UTF-8" in python[1], python[1]


# ------------------------------------------------------------------ invalid UTF-8

_MARK = "\x01MARK\x01"


@_settings
@given(requests(), st.sampled_from(["name", "status", "event", "attr", "nested", "resource",
                                    "entity", "scope"]), st.data())
def test_invalid_utf8_rejects_the_span_not_the_request(data, where, draw):
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
    # the oracle: the Python decoder on the request without the spans the bad string is in
    hit = ([(ri, si2, j) for si2, ss in enumerate(rs.scope_spans) for j in range(len(ss.spans))]
           if where in ("resource", "entity") else
           [(ri, si, j) for j in range(len(rs.scope_spans[si].spans))] if where == "scope"
           else [(ri, si, k)])
    def ids_ok(sp) -> bool:
        return (len(sp.trace_id) == 16 and any(sp.trace_id) and len(sp.span_id) == 8
                and any(sp.span_id) and len(sp.parent_span_id) in (0, 8))
    n_bad_text = sum(ids_ok(req.resource_spans[r].scope_spans[s].spans[j]) for r, s, j in hit)
    for r, s, j in sorted(hit, reverse=True):
        del req.resource_spans[r].scope_spans[s].spans[j]
    expect_stats = DecodeStats()
    expect = decode_traces_pb(req.SerializeToString(), stats=expect_stats)
    stats = DecodeStats()
    got = decode_traces_pb_native(bad, stats=stats)
    assert [span_key(s) for s in got] == [span_key(s) for s in expect]
    # each span the bad string is in is rejected once: for its ids if they are bad (the
    # first check, as in the Python decoder), else for the text
    n_utf8 = sum("not valid UTF-8; span skipped" in m for m in stats.messages)
    assert n_utf8 == n_bad_text
    assert stats.rejected == expect_stats.rejected + len(hit)
    assert stats.received == expect_stats.received + len(hit)
    assert (stats.decoded, stats.warnings) == (expect_stats.decoded, expect_stats.warnings)
    with pytest.raises(InputError, match="UTF-8"):
        decode_traces_pb(bad)


# ------------------------------------------------------------------ limits and columns

def _nested_array(levels: int) -> bytes:
    value = common_pb2.AnyValue(string_value="x")
    for _ in range(levels):
        value = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[value]))
    req = ExportTraceServiceRequest()
    sp = req.resource_spans.add().scope_spans.add().spans.add(
        trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="deep")
    sp.attributes.add(key="k", value=value)
    return req.SerializeToString()


@pytest.mark.parametrize("levels", [46, 47, 48, 49])
def test_nesting_limit_is_upbs(levels):
    """upb refuses 101 nested messages: 47 nested arrays decode, 48 do not (5 + 2n)."""
    python, native = both(_nested_array(levels), None)
    assert python[0] == ("ok" if levels <= 47 else "error")
    assert native[0] == python[0]


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
    with pytest.raises(InputError, match="byte offset"):
        decode_traces_pb_native(b"\x0a\x05\x12\x03", source="req")
