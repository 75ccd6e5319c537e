"""tracelogic/engine/json_report.py, through the core's ``dumps_indent2``
(native/src/json_py.rs), writes what ``json.dumps(obj, indent=2)`` writes, byte for byte:
the standard library is the oracle, on generated documents with everything the fast path
hands back to Python (subclasses, enum members, non-string keys, lone surrogates, big
integers, floats in every spelling, nesting past the core's depth limit)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from tests.test_json_text import REFUSED, documents
from tracelogic import _native
from tracelogic.engine.json_report import dumps


def test_the_core_writes_it():
    # the fast path is what this file tests: a build without it would test json_text only
    assert callable(getattr(_native, "dumps_indent2", None))


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


@pytest.mark.parametrize("bad", REFUSED)
def test_refuses_what_json_refuses(bad):
    with pytest.raises(TypeError):
        dumps(bad)


def test_a_cycle_is_an_error_not_a_crash():
    doc: list = []
    doc.append(doc)
    with pytest.raises((ValueError, RecursionError)):
        json.dumps(doc, indent=2)
    with pytest.raises((ValueError, RecursionError)):
        dumps(doc)
