"""tracelogic/json_text.py writes what ``json.dumps(obj, indent=2)`` writes, byte for byte:
the standard library is the oracle, on generated documents (Unicode and control
characters in strings and keys, huge integers, NaN and infinities, tuples, empty and
deeply nested containers, non-string keys, enum members and str subclasses)."""
from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from tracelogic.json_text import dumps


class Level(enum.IntEnum):
    LOW = 1


class Tag(str):
    pass


# lone surrogates too: a str can hold them (e.g. decoded with surrogateescape)
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


@settings(max_examples=300)
@given(documents)
def test_same_text_as_json_dumps(doc):
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_a_monitor_like_report():
    doc = {"schema": "tracelogic.monitor/1",
           "violations": [{"property": "p", "key": "k\u00e9\n", "trace_ids": ["ab"] * 2,
                           "events": [{"time_unix_nano": 2**63, "name": "GET /"}],
                           "values": {"x": 1.5, "y": math.inf, "z": None}}],
           "summary": {"spans": 0, "empty": {}, "none": []}}
    assert dumps(doc) == json.dumps(doc, indent=2)


# documents json.dumps refuses (TypeError)
REFUSED = ({(1, 2): 3}, {"x": object()}, [{1, 2}], [b"bytes"])


def test_refuses_what_json_refuses():
    for bad in REFUSED:
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2)
        with pytest.raises(TypeError):
            dumps(bad)
