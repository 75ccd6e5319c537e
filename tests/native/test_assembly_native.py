"""The native span store, file-mode assembly and event order against the Python ones.

The Python side is the reference: ``Assembler`` with a constant clock (file mode), one
``add`` per request of the spans ``decode_traces_pb`` gives, then ``close``; each handed-out
trace's ``Trace.events`` (SPEC-LANGUAGE.md §3), ``Trace.spans``, ``parent``, ``children`` and
``is_partial``; and the counters. ``_native.assemble_pb`` does the same in Rust
(native/src/store.rs, assembly.rs, order.rs); both must agree exactly: the same traces in
the same order with the same outcomes and reasons (word for word), the same events.

The generated requests draw trace ids, span ids and times from small pools, so what is
rare in real input is common here: equal timestamps, ancestry at one instant, zero
durations, ends before starts, duplicates within and across requests (and whole retried
requests), orphans and rootless traces, self-parents and parent cycles, several roots,
evictions with small ``max_open_traces`` and late spans after an eviction.

``_native.store_rows_pb`` reads the store's rows through its accessors; they must answer as
the decoded Python ``Span`` does (every field, ``attr`` with its resource fallback,
``resource_attr``, ``has_event``).

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tracelogic import _native
from tracelogic.ingest.assembly import Assembler
from tracelogic.ingest.native_otlp import _value
from tracelogic.ingest.otlp import decode_traces_pb
from tracelogic.ingest.spans import MISSING

LONG = bool(os.environ.get("TRACELOGIC_LONG"))


def python_assembly(requests: list[bytes], max_open_traces: int):
    asm = Assembler(max_open_traces=max_open_traces, clock=lambda: 0)
    results = []
    for data in requests:
        results += asm.add(decode_traces_pb(data))
    results += asm.close()
    traces = []
    for r in results:
        t = r.trace
        events = [(e.span.span_id, e.is_start, e.time_ns) for e in t.events]
        spans = [(s.span_id, p.span_id if (p := t.parent(s)) is not None else None,
                  [c.span_id for c in t.children(s)]) for s in t.spans]
        traces.append((r.trace_id, r.outcome, r.reason, t.is_partial, events, spans))
    counters = {k: getattr(asm, k) for k in ("duplicates", "evicted", "late", "completed")}
    return traces, counters


def assert_same(requests: list[bytes], max_open_traces: int):
    expected = python_assembly(requests, max_open_traces)
    traces, counters = _native.assemble_pb(requests, max_open_traces)
    # every row was handed out in a trace (and released) or dropped as a duplicate
    assert counters.pop("held_rows") == 0
    got = ([(t[0], t[1], t[2], t[3], list(t[4]), [(s, p, list(c)) for s, p, c in t[5]])
            for t in traces], counters)
    assert got == expected
    return expected


# -- generated requests ---------------------------------------------------------------------

def _id(n: int, size: int) -> bytes:
    return bytes(size - 1) + bytes([n])


_span_ids = st.integers(1, 6)
_times = st.integers(0, 3)


@st.composite
def span_pb(draw, trace: int):
    parent = draw(st.integers(0, 7))  # 0: a root, 7: never present
    start = draw(_times)
    end = max(0, start + draw(st.integers(-1, 3)))  # zero, negative or positive duration
    return trace_pb2.Span(
        trace_id=_id(trace, 16), span_id=_id(draw(_span_ids), 8),
        parent_span_id=_id(parent, 8) if parent else b"", name=draw(st.sampled_from("ab")),
        kind=1, start_time_unix_nano=start, end_time_unix_nano=end)


@st.composite
def request_pb(draw, traces: int):
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = draw(
            st.sampled_from(["a", "b"]))
        ss = rs.scope_spans.add()
        for _ in range(draw(st.integers(0, 8))):
            ss.spans.append(draw(span_pb(draw(st.integers(1, traces)))))
    return req.SerializeToString()


@st.composite
def feeds(draw):
    traces = draw(st.integers(1, 4))
    requests: list[bytes] = []
    for _ in range(draw(st.integers(1, 6))):
        if requests and draw(st.integers(0, 4)) == 0:
            requests.append(draw(st.sampled_from(requests)))  # an exporter's retry
        else:
            requests.append(draw(request_pb(traces)))
    return requests, draw(st.integers(1, 4))


_settings = settings(max_examples=3000 if LONG else 250, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_settings
@given(feeds())
def test_generated_feeds(feed):
    requests, max_open_traces = feed
    assert_same(requests, max_open_traces)


# -- hand-picked cases: each must exercise the rule it names ------------------------------

def _req(*spans: tuple[int, int, int, int, int]) -> bytes:
    """A request of spans (trace, span, parent or 0, start, end)."""
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for t, s, p, a, b in spans:
        ss.spans.append(trace_pb2.Span(
            trace_id=_id(t, 16), span_id=_id(s, 8), parent_span_id=_id(p, 8) if p else b"",
            name="x", start_time_unix_nano=a, end_time_unix_nano=b))
    return req.SerializeToString()


def test_late_spans_after_eviction():
    traces, counters = assert_same(
        [_req((1, 1, 0, 0, 9)), _req((2, 1, 0, 0, 9)), _req((1, 1, 0, 0, 9)),
         _req((1, 2, 1, 1, 2))], 1)
    assert [t[1] for t in traces] == ["incomplete", "incomplete", "late"]
    assert counters == {"duplicates": 1, "evicted": 2, "late": 1, "completed": 0}


def test_evicted_late_spans():
    traces, _ = assert_same([_req((1, 1, 0, 0, 9)), _req((2, 1, 0, 0, 9)),
                             _req((1, 2, 1, 0, 9)), _req((3, 1, 0, 0, 9))], 1)
    assert traces[2][2].startswith("late spans evicted")


def test_ancestry_at_one_instant_and_cycles():
    # parent 9 and child 1 at one instant, a zero-duration grandchild, a 2-cycle
    traces, _ = assert_same([_req((1, 9, 0, 5, 7), (1, 1, 9, 5, 7), (1, 2, 1, 5, 5),
                                  (1, 3, 4, 5, 7), (1, 4, 3, 5, 7), (1, 5, 0, 6, 3))], 3)
    events = traces[0][4]
    starts = [sid[-1] for sid, is_start, t in events if is_start and t == 5]
    assert starts.index("9") < starts.index("1")
    assert ("0000000000000005", False, 6) in events  # end before start: at the start


def test_rejected_framing_raises():
    try:
        _native.assemble_pb([b"\x0a\xff"], 1)
    except ValueError as e:
        assert "request 0" in str(e)
    else:
        raise AssertionError("broken framing was accepted")


def test_max_open_traces_must_be_positive():
    try:
        _native.assemble_pb([], 0)
    except ValueError as e:
        assert "max_open_traces=0" in str(e)
    else:
        raise AssertionError("max_open_traces=0 was accepted")


# -- the store's accessors ------------------------------------------------------------------

_keys = st.sampled_from(["k", "service.name", "x", ""])
_scalar = st.one_of(
    st.builds(lambda v: common_pb2.AnyValue(string_value=v), st.sampled_from(["", "v", "é"])),
    st.builds(lambda v: common_pb2.AnyValue(int_value=v), st.integers(-2**63, 2**63 - 1)),
    st.builds(lambda v: common_pb2.AnyValue(double_value=v), st.floats()),
    st.builds(lambda v: common_pb2.AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: common_pb2.AnyValue(bytes_value=v), st.binary(max_size=3)),
    st.just(common_pb2.AnyValue()),
)
_value_pb = st.one_of(
    _scalar,
    st.builds(lambda xs: common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=xs)),
              st.lists(_scalar, max_size=2)),
    st.builds(lambda kvs: common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(
        values=[common_pb2.KeyValue(key=k, value=v) for k, v in kvs])),
        st.lists(st.tuples(_keys, _scalar), max_size=2)),
)
_kvs = st.lists(st.builds(lambda k, v: common_pb2.KeyValue(key=k, value=v), _keys, _value_pb),
                max_size=4)


@st.composite
def rich_request(draw):
    req = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(draw(_kvs))
        for _ in range(draw(st.integers(1, 2))):
            ss = rs.scope_spans.add()
            ss.scope.name = draw(st.sampled_from(["", "lib", "other"]))
            for _ in range(draw(st.integers(0, 3))):
                ss.spans.append(trace_pb2.Span(
                    trace_id=_id(draw(st.integers(1, 255)), 16),
                    span_id=_id(draw(st.integers(1, 255)), 8),
                    parent_span_id=draw(st.sampled_from([b"", bytes(8), _id(7, 8)])),
                    name=draw(st.sampled_from(["", "a", "GET /x"])),
                    kind=draw(st.integers(-1, 7)),
                    start_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                    end_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                    attributes=draw(_kvs),
                    events=[trace_pb2.Span.Event(name=n)
                            for n in draw(st.lists(_keys, max_size=2))],
                    links=[trace_pb2.Span.Link(trace_id=_id(3, 16), span_id=_id(s, 8))
                           for s in draw(st.lists(st.integers(0, 2), max_size=2))],
                    status=trace_pb2.Status(code=draw(st.integers(-1, 3)),
                                            message=draw(st.sampled_from(["", "boom"])))))
    return req.SerializeToString()


def _key(v):
    """A value compared with its type, NaN equal to itself, mappings by their items."""
    if v is MISSING:
        return ("MISSING",)
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    if isinstance(v, tuple):
        return ("tuple", tuple(_key(x) for x in v))
    if hasattr(v, "items"):
        return ("map", tuple((k, _key(x)) for k, x in v.items()))
    return (type(v).__name__, repr(v))


KEYS = ["k", "service.name", "x", "", "nope"]


@settings(max_examples=2000 if LONG else 150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rich_request(), st.sampled_from([None, frozenset(), frozenset({"k", "x"})]))
def test_store_rows_answer_as_python_spans(data, wanted):
    spans = decode_traces_pb(data, wanted_attrs=wanted)
    rows = _native.store_rows_pb(data, KEYS, None if wanted is None else set(wanted))
    assert len(rows) == len(spans)
    for s, r in zip(spans, rows):
        for f in ("name", "kind", "status", "status_message", "service", "scope_name",
                  "trace_id", "span_id", "parent_id", "start_ns", "end_ns", "is_root"):
            assert r[f] == getattr(s, f), f
        assert r["event_names"] == list(s.event_names)
        assert [tuple(x) for x in r["links"]] == list(s.links)
        for k, got, res, has, tname in zip(KEYS, r["attr"], r["resource_attr"],
                                          r["has_event"], r["attr_types"]):
            want = s.attr(k)
            assert (("MISSING",) if got is None else _key(_value(got[0]))) == _key(want), k
            assert tname == (None if want is MISSING else type(want).__name__), k
            want_res = s.resource_attr(k)
            assert (("MISSING",) if res is None else _key(_value(res[0]))) == _key(want_res), k
            assert has == s.has_event(k)
        assert _key(dict((k, _value(v)) for k, v in r["attrs"])) == _key(dict(s.attrs))
        assert _key(dict((k, _value(v)) for k, v in r["resource"])) == _key(dict(s.resource))
