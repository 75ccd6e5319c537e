"""The Span model: immutability, lookups, validation, SDK conversion."""
from __future__ import annotations

import pickle

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from tracelogic.ingest.otlp import DecodeStats
from tracelogic.ingest.spans import (
    MISSING, InvalidValue, Span, from_sdk,
)

from .otlp_testdata import checkout_trace, record

T = "0af7651916cd43dd8448eb211c80319c"


def make(**kw):
    base = dict(name="GET /", trace_id=T, span_id="b7ad6b7169203331", start_ns=10, end_ns=25)
    base.update(kw)
    return Span(**base)


def test_span_is_immutable_and_slotted():
    s = make()
    with pytest.raises(AttributeError, match="immutable"):
        s.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del s.name
    with pytest.raises(AttributeError):
        s.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(s, "__dict__")
    with pytest.raises(TypeError):
        s.attrs["k"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.__class__ = object  # type: ignore[assignment]


def test_builtin_fields_and_lookups():
    s = make(parent_id="00f067aa0ba902b7", kind="server", status="error",
             attrs={"http.route": "/", "shared": "span"},
             resource={"shared": "res", "region": "eu", "service.name": "web"},
             service="web", event_names=["exception"], links=[(T, "00f067aa0ba902b7")])
    assert s.duration == 15 and not s.is_root and s.kind == "server"
    assert s.attr("shared") == "span" and s.attr("region") == "eu"
    assert s.resource_attr("shared") == "res" and s.resource_attr("http.route") is MISSING
    assert s.attr("absent") is MISSING and not MISSING and repr(MISSING) == "MISSING"
    assert s.has_event("exception") and not s.has_event("retry")
    assert s.links == ((T, "00f067aa0ba902b7"),) and s.key == (T, "b7ad6b7169203331")
    assert make().is_root and make(parent_id=None).parent_id == ""


def test_missing_is_distinct_from_none():
    s = make(attrs={"n": None})
    assert s.attr("n") is None and s.attr("m") is MISSING and MISSING != None  # noqa: E711
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


def test_constructor_validates_and_teaches():
    with pytest.raises(ValueError, match="trace_id='ABC' is not 32 lower-case hex digits"):
        make(trace_id="ABC")
    with pytest.raises(ValueError, match="use one of unspecified, internal, server"):
        make(kind="SERVER")
    with pytest.raises(ValueError, match="status='failed'"):
        make(status="failed")
    with pytest.raises(TypeError, match="start_ns=1.5"):
        make(start_ns=1.5)
    with pytest.raises(ValueError, match="link span_id"):
        make(links=[(T, "xyz")])


def test_equality_hash_repr_and_pickle():
    s = make(attrs={"a": [1, 2], "b": {"k": "v"}}, status="ok", service="web",
             event_names=("e",), links=[(T, "00f067aa0ba902b7")], scope_name="sc")
    assert s.attrs["a"] == (1, 2)  # lists are frozen into tuples
    assert s == make(attrs={"a": (1, 2), "b": {"k": "v"}}, status="ok", service="web",
                     event_names=("e",), links=[(T, "00f067aa0ba902b7")], scope_name="sc")
    assert s != make() and hash(s) == hash(make())
    rebuilt = eval(repr(s), {"Span": Span})  # reprs rebuild the object
    assert rebuilt == s
    again = pickle.loads(pickle.dumps(s))
    assert again == s and type(again) is Span
    with pytest.raises(AttributeError):
        again.name = "x"  # type: ignore[misc]


def test_invalid_value_compares_false():
    v = InvalidValue("12x", "intValue is not an integer")
    assert v != "12x" and v != 12 and v == InvalidValue("12x", "intValue is not an integer")
    assert "12x" in repr(v) and hash(v) == hash(InvalidValue("12x", "intValue is not an integer"))


def test_from_sdk_maps_kinds_status_ids_and_resource():
    sdk = record(checkout_trace, resource={"region": "eu"})
    spans = {s.name: s for s in from_sdk(sdk)}
    root = spans["POST /checkout"]
    sdk_root = [s for s in sdk if s.name == "POST /checkout"][0]
    assert root.kind == "server" and root.status == "ok"
    assert root.trace_id == format(sdk_root.context.trace_id, "032x")
    assert root.span_id == format(sdk_root.context.span_id, "016x")
    assert spans["charge"].parent_id == root.span_id
    assert spans["charge"].status == "error" and spans["charge"].status_message == "card declined"
    assert root.attr("region") == "eu" and root.service == "checkout"
    assert root.attrs["tags"] == ("a", "b") and root.start_ns == sdk_root.start_time
    assert spans["consume order"].links[0][1] == spans["publish order"].span_id
    only = from_sdk(sdk, wanted_attrs=frozenset({"order.id"}))
    assert all(set(s.attrs) <= {"order.id"} and not s.resource for s in only)


def test_from_sdk_skips_and_counts_unended_spans():
    tracer = TracerProvider().get_tracer("t")
    ended = tracer.start_span("done", kind=SpanKind.CLIENT)
    ended.end()
    open_span = tracer.start_span("still running")
    stats = DecodeStats()
    out = from_sdk([ended, open_span], stats=stats)
    assert [s.name for s in out] == ["done"] and out[0].kind == "client"
    assert (stats.received, stats.decoded, stats.rejected) == (2, 1, 1)
    assert "has not ended" in stats.messages[0]
