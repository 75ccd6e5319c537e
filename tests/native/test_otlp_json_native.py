"""The native OTLP/JSON decoder against the Python one (its reference and oracle).

The reference is what ``split_json`` does with one document: ``loads_json`` on its bytes,
then ``decode_traces_json`` (``native_otlp.decode_traces_json_py``). The native decoder
(``decode_traces_json_native``) must give the same outcome on every input: the same spans
(every field, projected attributes included), the same DecodeStats (counts, every message
in order, every document-level error with its value), or the same exception. Documents the
core leaves to Python (``fallback``, docs/native.md step 4) are decoded by the reference
itself, so the tests also check that the core decodes the documents it claims to: the test
data, and generated documents of the kinds it covers, never fall back.

The inputs: the monitor's and the ingest tests' data files (each document of them),
Hypothesis-generated requests that stress every rule (ids of odd sizes and cases, all-zero
ids, enums as names, numbers, numeric strings and out of range, integers as strings, numbers,
floats and too long, every AnyValue kind, camel and snake case, nested values around the
depth limit, duplicate keys, surrogate pairs and lone surrogates, NaN literals, wrong types
everywhere), byte mutations of them, nesting around 256 and strings around 1 MiB.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelogic.errors import InputError
from tracelogic.ingest.otlp_common import MAX_JSON_DEPTH, MAX_STRING_BYTES, JsonLimitError
from tracelogic.ingest.native_otlp import (decode_traces_json_columns,
                                           decode_traces_json_native, decode_traces_json_py)
from tracelogic.ingest.otlp import DecodeStats

from tracelogic.ingest.spans import InvalidValue

from .test_otlp_native import _key, stats_key

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for d in ("tests/ingest/data", "tests/engine/data/monitor")
               for p in (ROOT / d).glob("*.json*") if p.name != "metrics.json")
WANTED = [None, frozenset(), frozenset({"k", "service.name"}), frozenset({"x", "nope"})]


def _plain(v):
    """A value with InvalidValue as its repr: its raw value may be a LongInt, which
    equals only itself, so two decodes never give equal InvalidValues of one."""
    if isinstance(v, InvalidValue):
        return ("InvalidValue", repr(v))
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if hasattr(v, "items"):
        return {k: _plain(x) for k, x in v.items()}
    return v


def span_key(s):
    return (s.name, s.kind, s.status, s.status_message, s.start_ns, s.end_ns, s.service,
            s.trace_id, s.span_id, s.parent_id, _key(_plain(dict(s.attrs))),
            _key(_plain(dict(s.resource))), s.scope_name, s.event_names, s.links)


def outcome(decode, data: bytes, wanted, line=None):
    """("ok", spans, stats, errors) or (exception type, message, stats, errors)."""
    stats = DecodeStats()
    try:
        spans = decode(data, wanted_attrs=wanted, stats=stats, source="req", line=line)
    except (InputError, JsonLimitError) as e:
        result = (type(e).__name__, str(e), repr(getattr(e, "value", None)))
    else:
        result = ("ok", [span_key(s) for s in spans])
    errors = [(str(e), repr(e.value)) for e in stats.errors]
    return result, stats_key(stats), errors


def assert_same(data: bytes, wanted, line=None) -> dict:
    """Both decoders agree on ``data``; returns the native columns (``fallback`` says
    whether the core decoded the document itself)."""
    python = outcome(decode_traces_json_py, data, wanted, line)
    native = outcome(decode_traces_json_native, data, wanted, line)
    assert python == native
    return decode_traces_json_columns(data, wanted_attrs=wanted)


def documents(path: Path) -> list[bytes]:
    """The documents of a test file as split_json sees them: the whole file, or its lines."""
    data = path.read_bytes()
    try:
        json.loads(data)
    except ValueError:
        return [line for line in data.split(b"\n") if line.strip()]
    return [data]


# ------------------------------------------------------------------ the test data

@pytest.mark.parametrize("wanted", WANTED,
                         ids=lambda w: "all" if w is None else ",".join(sorted(w)) or "none")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_test_data(path, wanted):
    for i, doc in enumerate(documents(path), 1):
        c = assert_same(doc, wanted, line=i)
        try:
            json.loads(doc)
        except ValueError:
            assert c["fallback"] == "malformed JSON or not UTF-8"
            continue
        # every well-formed test document is decoded by the core itself
        assert c["fallback"] is None, (path.name, i, c["fallback"])


# ------------------------------------------------------------------ generated requests

class Dup:
    """An object written with its pairs as given: duplicate keys stay in the text."""

    def __init__(self, pairs):
        self.pairs = pairs


def enc(v) -> str:
    if isinstance(v, Dup):
        return "{" + ",".join(f"{json.dumps(k)}:{enc(x)}" for k, x in v.pairs) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{enc(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(enc(x) for x in v) + "]"
    return json.dumps(v)  # NaN and Infinity as Python writes them


def mostly(good, bad):
    """``good`` nine times in ten."""
    return st.integers(0, 9).flatmap(lambda i: bad if i == 0 else good)


@functools.cache
def _hex(n: int):
    digits = st.sampled_from("0123456789abcdefABCDEF")
    return mostly(st.text(digits, min_size=2 * n, max_size=2 * n), st.one_of(
        st.just("0" * 2 * n),
        st.text(digits, min_size=0, max_size=2 * n + 3),
        st.just("A" * (24 if n == 16 else 12 - 1) + "="),
        st.sampled_from(["", "xyz", "0x" + "1" * (2 * n - 2), " " + "1" * (2 * n - 1)]),
        st.sampled_from([None, 7, True, [], {}]),
    ))


_weird = st.sampled_from([None, True, False, 0, 1, -1, 0.0, 1.5, 2.0, "", "x", [], {}, [1],
                          {"a": 1}, float("nan"), float("inf"), 10**25, -(10**25)])
_ints = mostly(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1).map(str)),
               st.one_of(
    st.integers(-2**64, 2**65), st.sampled_from([0, 2**63 - 1, 2**63, -2**63, 2**64 - 1,
                                                  2**64, -2**63 - 1, 10**19, 10**20 - 1]),
    st.integers(-2**64, 2**65).map(str),
    st.sampled_from(["007", "-0", "+1", " 1", "1e3", "١", "0x10", "9" * 21, "-" + "9" * 20,
                     "-" + "9" * 21, "1.0"]),
    st.sampled_from([1.0, 1e19, 1e30, -1.0, 0.5, 1e300]),
    _weird))
_texts = st.one_of(st.text(max_size=6), st.sampled_from(["é", "\U0001f600", "a'b", 'a"b',
                                                        "\\", "\x00\x1f", "\u2028"]))


@functools.cache
def _enum(names: tuple[str, ...]):
    return mostly(st.one_of(st.integers(0, 2), st.sampled_from(names)), st.one_of(
        st.integers(-2, 7), st.sampled_from(
        ["SPAN_KIND_NOPE", "2", "-1", "18446744073709551615", "99999999999999999999"]),
        st.just(2**40), _weird))


@functools.cache
def _any_value(depth: int):
    scalars = st.one_of(
        st.builds(lambda k, s: {k: s}, st.sampled_from(["stringValue", "string_value"]),
                  st.one_of(_texts, _weird)),
        st.builds(lambda k, b: {k: b}, st.sampled_from(["boolValue", "bool_value"]),
                  st.one_of(st.booleans(), _weird)),
        st.builds(lambda k, i: {k: i}, st.sampled_from(["intValue", "int_value"]), _ints),
        st.builds(lambda k, d: {k: d}, st.sampled_from(["doubleValue", "double_value"]),
                  st.one_of(st.floats(), st.floats().map(repr), st.sampled_from(
                      ["NaN", "Infinity", "-Infinity", "1e5", "-.5", "5.", "+1", "1_0",
                       " 1", "inf", "nan", "0x1p3", "", "\x1c1", "1\x1f", "\x0b1\x0c",
                       "-nan", "+InFiNiTy", "1__0", "_1", "1_", "1_.5", "1e1_0", "-_1",
                       "in_f", " ", "1e400", "\u0661", "\xa01"]), _ints)),
        st.builds(lambda k, b: {k: b}, st.sampled_from(["bytesValue", "bytes_value"]),
                  st.one_of(st.sampled_from(["", "QQ==", "QQ", "QUI", "QUJD", "Q", "QR==",
                                             "Q===", "_-8=", "QQ=", "a b", "QUJDRA"]),
                            st.binary(max_size=6).map(lambda b: __import__("base64")
                                                      .b64encode(b).decode()),
                            _weird)),
        st.just({}), st.just({"other": 1}), st.just({"other": 1, "intValue": "5"}),
        _weird)
    if depth <= 0:
        return scalars
    inner = _any_value(depth - 1)
    return st.one_of(
        scalars,
        st.builds(lambda k, xs: {k: {"values": xs}},
                  st.sampled_from(["arrayValue", "array_value"]), st.lists(inner, max_size=3)),
        st.builds(lambda k, kvs: {k: {"values": kvs}},
                  st.sampled_from(["kvlistValue", "kvlist_value"]),
                  st.lists(st.one_of(st.builds(lambda a, v: {"key": a, "value": v},
                                               _keys, inner),
                                     st.just({"key": "nokey"}), st.just({"value": {}}), _weird),
                           max_size=3)),
        st.sampled_from([{"arrayValue": {}}, {"kvlistValue": {"values": None}},
                         {"arrayValue": []}, {"arrayValue": {"values": {}}}]))


_keys = st.sampled_from(["k", "x", "service.name", "", "nope", "k"])


@functools.cache
def _kv(depth: int = 2):
    return mostly(
        st.builds(lambda k, v: {"key": k, "value": v}, _keys, _any_value(depth)),
        st.one_of(st.builds(lambda k: {"key": k}, _keys),
                  st.sampled_from([{"value": {"stringValue": "v"}}, {"key": 5}, "kv"])))


@functools.cache
def _attrs():
    return mostly(st.lists(_kv(), max_size=4), _weird)


def _maybe(d: dict, draw) -> dict:
    """Some keys of d, in the camel or the snake spelling."""
    out = {}
    for k, v in d.items():
        if draw(st.integers(0, 12)) == 0:
            continue
        out[k] = v
    return out


@st.composite
def spans(draw):
    if draw(st.integers(0, 50)) == 0:
        return draw(_weird)
    tid = draw(_hex(16))
    sid = draw(_hex(8))
    d = _maybe({
        draw(st.sampled_from(["traceId", "trace_id"])): tid,
        draw(st.sampled_from(["spanId", "span_id"])): sid,
        draw(st.sampled_from(["parentSpanId", "parent_span_id"])):
            draw(st.one_of(_hex(8), st.just("0" * 16))),
        "name": draw(mostly(_texts, _weird)),
        "kind": draw(_enum(("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_UNSPECIFIED"))),
        draw(st.sampled_from(["startTimeUnixNano", "start_time_unix_nano"])): draw(_ints),
        draw(st.sampled_from(["endTimeUnixNano", "end_time_unix_nano"])): draw(_ints),
        "attributes": draw(_attrs()),
        "events": draw(mostly(st.lists(mostly(
            st.builds(lambda n: {"name": n}, mostly(_texts, _weird)), _weird), max_size=3),
            _weird)),
        "links": draw(mostly(st.lists(mostly(
            st.builds(lambda t, s: {"traceId": t, "spanId": s}, _hex(16), _hex(8)),
            st.one_of(st.builds(lambda t, s: {"trace_id": t, "span_id": s}, _hex(16),
                                _hex(8)), _weird)), max_size=3), _weird)),
        "status": draw(mostly(
            st.builds(lambda c, m: _maybe({"code": c, "message": m}, draw),
                      _enum(("STATUS_CODE_ERROR", "STATUS_CODE_OK")),
                      mostly(_texts, _weird)), _weird)),
        "unknownField": draw(_weird),
    }, draw)
    if draw(st.integers(0, 10)) == 0:  # a duplicate key: the last value counts
        k = draw(st.sampled_from(sorted(d) or ["name"]))
        return Dup([*d.items(), (k, draw(st.one_of(_texts, _hex(8), _weird)))])
    return d


@st.composite
def requests(draw):
    """An OTLP/JSON trace request, mostly well-formed, wrong in places."""
    rss = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 20)) == 0:
            rss.append(draw(_weird))
            continue
        scopes = []
        legacy = draw(st.integers(0, 8)) == 0
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 20)) == 0:
                scopes.append(draw(_weird))
                continue
            sc = {"name": draw(mostly(_texts, _weird)), "version": "1"}
            ss = {("instrumentationLibrary" if legacy else "scope"):
                  draw(mostly(st.just(sc), _weird)),
                  "spans": draw(mostly(st.lists(spans(), max_size=4),
                                       st.sampled_from([None, {}, "s"])))}
            scopes.append(_maybe(ss, draw))
        res_attrs = draw(mostly(
            st.lists(st.one_of(_kv(), st.builds(
                lambda v: {"key": "service.name", "value": v},
                st.one_of(st.builds(lambda s: {"stringValue": s}, _texts),
                          st.just({"string_value": "svc"}), _any_value(0)))), max_size=3),
            _weird))
        rs = _maybe({
            "resource": draw(mostly(st.just({"attributes": res_attrs}), _weird)),
            draw(st.sampled_from(["instrumentationLibrarySpans" if legacy else "scopeSpans",
                                  "instrumentation_library_spans" if legacy
                                  else "scope_spans"])):
                draw(mostly(st.just(scopes), _weird)),
            "schemaUrl": "u",
        }, draw)
        rss.append(rs)
    top = draw(st.sampled_from(["resourceSpans", "resource_spans"]))
    doc = draw(mostly(st.just({top: rss}), st.one_of(
        st.just(Dup([("resourceSpans", None), ("resource_spans", rss)])),
        st.builds(lambda w: {"resourceSpans": w}, _weird), _weird)))
    return enc(doc).encode()


_settings = settings(max_examples=1500 if LONG else 50, deadline=None,
                     suppress_health_check=list(HealthCheck))
_long_timeout = pytest.mark.timeout(1800 if LONG else 300)


@_long_timeout
@_settings
@given(requests(), st.sampled_from(WANTED))
def test_generated_requests(data, wanted):
    assert_same(data, wanted)


@st.composite
def mutated(draw):
    data = bytearray(draw(requests()))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 2))
        at = draw(st.integers(0, len(data)))
        if op == 0 and at < len(data):
            data[at] = draw(st.sampled_from(b'{}[]",:0\\ue9x\x00\xff '))
        elif op == 1:
            data[at:at] = draw(st.sampled_from([b'"', b"\\ud800", b"\\udc00", b"\\ud83d\\ude00",
                                                b"[", b"}", b",", b"1", b"\xc3\xa9", b"\xed\xa0\x80"]))
        else:
            del data[at:at + draw(st.integers(1, 5))]
    return bytes(data)


@_long_timeout
@_settings
@given(mutated(), st.sampled_from(WANTED))
def test_mutated_requests(data, wanted):
    assert_same(data, wanted)


# ------------------------------------------------------------------ limits and edges

def _request(span: dict, res_attrs=()) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": list(res_attrs)},
                               "scopeSpans": [{"scope": {"name": "s"}, "spans": [span]}]}]}


_SPAN = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
         "name": "op", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}


def _nested_unknown(levels: int) -> bytes:
    """A request whose unknown field nests arrays so that the document is `levels` deep."""
    inner = levels - 5  # {resourceSpans: [ {scopeSpans: [ {spans: [ span{ x: ...
    span = dict(_SPAN, x="@")
    text = json.dumps(_request(span)).replace('"@"', "[" * (inner - 2) + "]" * (inner - 2))
    return text.encode()


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_json_nesting_limit(levels):
    data = _nested_unknown(levels)
    from tracelogic.ingest.otlp_common import json_depth
    assert json_depth(data) == levels
    c = assert_same(data, None)
    assert (c["fallback"] is None) == (levels <= MAX_JSON_DEPTH)


def _nested_value(levels: int) -> dict:
    v: dict = {"intValue": "1"}
    for _ in range(levels):
        v = {"arrayValue": {"values": [v]}}
    return v


@pytest.mark.parametrize("levels", [63, 64, 65])
def test_anyvalue_depth_limit(levels):
    data = json.dumps(_request(dict(_SPAN, attributes=[
        {"key": "k", "value": _nested_value(levels)}]))).encode()
    c = assert_same(data, None)
    assert c["fallback"] is None
    stats = DecodeStats()
    (span,) = decode_traces_json_native(data, stats=stats)
    v, depth = span.attrs["k"], 0
    while isinstance(v, tuple):
        v, depth = v[0], depth + 1
    assert depth == min(levels, 64) and (v == 1) == (levels <= 64)


def _big(n: int) -> str:
    """A string of exactly n bytes of UTF-8."""
    return "é" * (n // 2) + "x" * (n % 2)


@pytest.mark.parametrize("extra", [-1, 0, 1])
@pytest.mark.parametrize("where", ["name", "attr", "resource", "scope", "key"])
def test_string_limit(where, extra):
    big = _big(MAX_STRING_BYTES + extra)
    span, res = dict(_SPAN), []
    if where == "name":
        span["name"] = big
    elif where == "attr":
        span["attributes"] = [{"key": "k", "value": {"stringValue": big}}]
    elif where == "resource":
        res = [{"key": "r", "value": {"stringValue": big}}]
    elif where == "key":
        span[big] = 1
    doc = _request(span, res)
    if where == "scope":
        doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = big
    data = json.dumps(doc, ensure_ascii=False).encode()
    c = assert_same(data, None)
    # a key over the limit is left to Python (its message quotes it with ascii())
    assert (c["fallback"] is None) == (where != "key" or extra <= 0)


@pytest.mark.parametrize("escape,native", [
    ("\\ud800", True), ("\\udfff", True), ("a\\udc00\\ud800", True),
    ("\\ud83d\\ude00", True), ("\\\\ud800", True), ("\\ud83d\\ud83d\\ude00", True)])
@pytest.mark.parametrize("where", ["name", "attr", "resource", "scope", "key", "doc"])
def test_surrogates(escape, native, where):
    doc = _request(dict(_SPAN, attributes=[{"key": "k", "value": {"stringValue": "@"}}]),
                   [{"key": "r", "value": {"stringValue": "@" if where == "resource" else "r"}}])
    doc["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = "@" if where == "scope" else "s"
    text = json.dumps(doc)
    if where == "name":
        text = text.replace('"op"', '"o@p"')
    elif where == "key":
        text = text.replace('"name": "op"', '"@": 1, "name": "op"')
    elif where == "doc":
        text = json.dumps(["@"])
    data = text.replace("@", escape).encode()
    c = assert_same(data, None)
    lone = escape not in ("\\ud83d\\ude00", "\\\\ud800")
    # a lone surrogate in a key is left to Python (its message quotes it with ascii())
    assert (c["fallback"] is None) == (not lone or where != "key")


def test_covered_documents_are_decoded_by_the_core():
    """Duplicate keys, NaN literals, long integers, snake case, names for enums,
    problems of every kind: all decoded natively, none left to Python."""
    span = dict(_SPAN, kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR"},
                attributes=[{"key": "k", "value": {"doubleValue": float("nan")}},
                            {"key": "b", "value": {"bytesValue": "_-8"}},
                            {"key": "l", "value": {"kvlistValue": {"values": [
                                {"key": "a", "value": {"intValue": 5.0}}]}}}],
                links=[{"traceId": "0" * 32, "spanId": "1" * 16}, 7],
                events=[{"name": "e"}, {}], x=10**30)
    bad = [dict(_SPAN, traceId="ab"), dict(_SPAN, spanId="A" * 11 + "="),
           dict(_SPAN, startTimeUnixNano=2**64), dict(_SPAN, name=5), 3,
           dict(_SPAN, status=[]), dict(_SPAN, kind=1.0, parentSpanId="0" * 16)]
    doc = _request(span)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"] += bad
    doc["resourceSpans"] += [5, {"resource": []}, {"scopeSpans": [{"scope": 1, "spans": [1]}]}]
    text = json.dumps(doc).replace('"x": 1', '"name": "dup", "x": 1')
    stats = DecodeStats()
    c = assert_same(text.encode(), None)
    assert c["fallback"] is None
    decode_traces_json_native(text.encode(), stats=stats)
    assert (stats.decoded, stats.rejected, len(stats.errors)) == (2, 7, 3)
    for whole in (b"[1]", b'{"resourceSpans": 5}', b"{}", b'"x"', b"null"):
        c = assert_same(whole, None)
        assert c["fallback"] is None


@pytest.mark.parametrize("value,native", [
    ({"intValue": "12x"}, True), ({"stringValue": 5}, True), ("v", True),
    ({"arrayValue": []}, True), ({"kvlistValue": {"values": [{"key": "a", "value": None}]}},
                                 True),
    ({"doubleValue": "1_0"}, True), ({"doubleValue": " 1"}, True),
    ({"doubleValue": "-iNf"}, True), ({"doubleValue": "\u0661"}, False),
    ({"doubleValue": "1e5"}, True), ({"bytesValue": "Q"}, True), ({"bytesValue": "QR=="}, True)])
def test_attribute_values(value, native):
    """Wrong spellings are InvalidValue in the columns too; only non-ASCII doubleValue
    strings (Python's float() reads Unicode digits) are left to Python."""
    data = json.dumps(_request(dict(_SPAN, attributes=[{"key": "k", "value": value}]))).encode()
    assert (assert_same(data, None)["fallback"] is None) == native
    # not projected: not converted, so the core decodes the document itself
    assert assert_same(data, frozenset({"other"}))["fallback"] is None


_FLOAT_STRINGS = ["NaN", "Infinity", "-Infinity", "nan", "-nan", "+InFiNiTy", "inf", "in_f",
                  "1e5", "1E+5", "-.5", "5.", "+1", "1_0", "1__0", "_1", "1_", "1_.5", "1._5",
                  "1e1_0", "-_1", " 1", "1 ", "\t1\n", "\x0b1\x0c", "\x1c1", "1\x1f", "", " ",
                  "1e400", "-1e400", "1e-400", "0x1p3", "1.5.2", "e5", ".", "+-1", "1e", "١",
                  "\xa01"]


def test_double_value_strings_read_as_pythons_float():
    for s in _FLOAT_STRINGS:
        data = json.dumps(_request(dict(_SPAN, attributes=[
            {"key": "k", "value": {"doubleValue": s}}]))).encode()
        c = assert_same(data, None)
        assert (c["fallback"] is None) == s.isascii(), s
