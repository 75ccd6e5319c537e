"""tracelogic/engine/json_report.py, through the core's ``dumps_indent2``
(native/src/json_py.rs), writes what ``json.dumps(obj, indent=2)`` writes, byte for byte:
the standard library is the oracle, on generated documents with everything the fast path
hands back to Python (subclasses, enum members, non-string keys, lone surrogates, big
integers, floats in every spelling, nesting past the core's depth limit)."""
from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from tracelogic import _native
from tracelogic.engine.json_report import dumps


class Level(enum.IntEnum):
    LOW = 1


class Tag(str):
    pass


def test_the_core_writes_it():
    # the fast path is what this file tests: a build without it would test json_text only
    assert callable(getattr(_native, "dumps_indent2", None))


texts = st.text() | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**200, 2**200)
           | st.sampled_from([2**63 - 1, -2**63, 2**63, -2**63 - 1])
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([1e16, 1e-05, 0.1, -0.0, 1.5e300, 5e-324]) | texts
           | st.just(Level.LOW) | st.text(max_size=5).map(Tag))
keys = texts | st.integers() | st.floats() | st.booleans() | st.none() | st.just(Level.LOW)
documents = st.recursive(
    scalars,
    lambda inner: (st.lists(inner, max_size=5) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(keys, inner, max_size=5)),
    max_leaves=40)


@settings(max_examples=400)
@given(documents)
def test_same_text_as_json_dumps(doc):
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_control_and_non_ascii_characters():
    s = "".join(map(chr, range(0, 0x100))) + "\u2028\uffff\U0001f600\U0010ffff"
    doc = {s: [s, {"k": s}]}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_deeper_than_the_core_writes_itself():
    doc: object = "leaf"
    for i in range(300):  # the core's limit is 256 levels; the rest is json.dumps's
        doc = [doc] if i % 2 else {"k": doc}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_a_monitor_like_report():
    doc = {"schema": "tracelogic.monitor/1",
           "violations": [{"property": "p", "key": "k\u00e9\n", "trace_ids": ["ab"] * 2,
                           "events": [{"time_unix_nano": 2**63, "name": "GET /"}],
                           "values": {"x": 1.5, "y": math.inf, "z": None}}],
           "summary": {"spans": 0, "empty": {}, "none": []}}
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_refuses_what_json_refuses():
    for bad in ({(1, 2): 3}, {"x": object()}, [{1, 2}], [b"bytes"]):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2)
        with pytest.raises(TypeError):
            dumps(bad)


def test_a_cycle_is_an_error_not_a_crash():
    doc: list = []
    doc.append(doc)
    with pytest.raises((ValueError, RecursionError)):
        json.dumps(doc, indent=2)
    with pytest.raises((ValueError, RecursionError)):
        dumps(doc)
