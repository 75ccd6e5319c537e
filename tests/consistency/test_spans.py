"""Operations from spans: the convention (docs/consistency.md §1) and the spec's
`operation` mappings (§2), whose examples on that page are run here."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import tracelogic
from tracelogic.consistency import check, model
from tracelogic.consistency.mapping import compile_mappings
from tracelogic.consistency.models import MODELS
from tracelogic.consistency.spans import operations
from tracelogic.errors import SpecError
from tracelogic.ingest.spans import Span
from tracelogic.spec.checker import CONSISTENCY_MODELS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "consistency.md").read_text()
BLOCKS = re.findall(r"```spec\n(.*?)```", DOC, re.S)


def span(i, name, start, end, status="unset", resource=None, **attrs):
    return Span(name=name, trace_id="%032x" % (i + 1), span_id="%016x" % (i + 1),
                start_ns=start, end_ns=end, status=status, attrs=attrs,
                resource=resource or {})


def test_the_convention_reads_db_and_consistency_attributes():
    spans = [
        span(0, "SET", 0, 10, **{"db.operation.name": "SET", "consistency.key": "k",
                                 "consistency.input": 1}),
        span(1, "GET", 11, 12, resource={"service.instance.id": "pod-2"},
             **{"db.operation.name": "GET", "consistency.key": "k", "consistency.output": 1}),
        span(2, "other", 0, 1),  # no operation: ignored
        span(3, "CAS", 13, 14, status="error", **{
            "consistency.operation": "cas", "consistency.key": "k",
            "consistency.input": (1, 2), "consistency.indeterminate": True}),
        span(4, "SET", 15, 16, status="error", **{"db.operation.name": "SET",
                                                  "consistency.key": "k",
                                                  "consistency.input": 9}),
        span(5, "GET", 20, 21, **{"db.operation.name": "get", "db.namespace": "db1",
                                  "consistency.key": "k"}),
    ]
    ops = operations(spans)
    assert [(o.f, o.key, o.input, o.output, o.status) for o in ops] == [
        ("SET", "k", 1, None, "ok"), ("GET", "k", None, 1, "ok"),
        ("cas", "k", (1, 2), None, "indeterminate"), ("SET", "k", 9, None, "fail"),
        ("get", ("db1", "k"), None, None, "ok")]
    assert ops[1].client == "pod-2" and ops[0].span == spans[0].key
    # the failed write never happened; the cas may have: k is 1 or 2, and db1's k is nil
    assert check(model("cas-register"), ops).verdict == "satisfied"


def test_the_doc_example_maps_spans_and_finds_the_stale_read():
    [block] = [b for b in BLOCKS if "operation read" in b]
    spec = tracelogic.load(block, filename="doc.spec")
    assert [c.model for c in spec.consistency] == ["cas_register"]
    maps = compile_mappings(spec.operations)
    spans = [span(0, "PUT", 0, 10, k="a", v=1),
             span(1, "POST", 11, 12, k="a", op="cas", swap=(1, 2), swapped=True),
             span(2, "GET", 13, 14, k="a", v=1),   # stale: the cas made it 2
             span(3, "GET", 13, 14, k="b"),        # nil: nobody wrote b
             span(4, "PUT.timeout", 15, 16, status="error", k="b", v=5),
             span(5, "GET", 17, 18, k="b", v=5)]
    ops = operations(spans, maps)
    assert [(o.f, o.status) for o in ops] == [
        ("write", "ok"), ("cas", "ok"), ("read", "ok"), ("read", "ok"),
        ("write", "indeterminate"), ("read", "ok")]
    r = check(model(spec.consistency[0].model), ops)
    assert [(k.key, k.verdict) for k in r.keys] == [("a", "violated"), ("b", "satisfied")]
    # the core: a cas that swapped 1 for 2, then a read of 1 (the write may be anywhere)
    assert [o.span for o in r.keys[0].witness.operations] == [spans[1].key, spans[2].key]


def test_the_language_page_example_loads_and_maps_a_timeout():
    text = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text()
    [block] = [b for b in re.findall(r"```spec\n(.*?)```", text, re.S) if "operation read" in b]
    spec = tracelogic.load(block, filename="lang.spec")
    assert [c.model for c in spec.consistency] == ["kv"]
    spans = [span(0, "PUT", 0, 10, status="error", k="a", v=1, timeout=True),
             span(1, "PUT", 0, 10, status="error", k="a", v=2),
             span(2, "GET", 20, 21, k="a", v=1)]
    ops = operations(spans, compile_mappings(spec.operations))
    assert [(o.f, o.input, o.status) for o in ops] == [
        ("write", 1, "indeterminate"), ("write", 2, "fail"), ("read", None, "ok")]
    assert check(model("kv"), ops).verdict == "satisfied"
    assert check(model("kv"), ops[1:]).verdict == "violated"


def test_a_mapping_may_read_structure():
    spec = tracelogic.load('operation write when parent.name == "tx" key attr["k"] '
                           'input attr["v"]\n', filename="m.spec")
    root = Span(name="tx", trace_id="a" * 32, span_id="1" * 16, start_ns=0, end_ns=9)
    child = Span(name="w", trace_id="a" * 32, span_id="2" * 16, parent_id="1" * 16,
                 start_ns=1, end_ns=2, attrs={"k": "x", "v": 3})
    ops = operations([root, child], compile_mappings(spec.operations))
    assert [(o.f, o.key, o.input) for o in ops] == [("write", "x", 3)]


@pytest.mark.parametrize("text, message", [
    ("consistency c: linearizable regster\n", "did you mean `register`"),
    ("consistency c: linearisable kv\n", "did you mean `linearizable`"),
    ('operation read when attr["k"] + 1\n', "operation ... when"),
    ("operation read key attr[\"k\"]\n", "expected `when`"),
])
def test_bad_declarations_are_refused_with_a_message(text, message):
    with pytest.raises(SpecError) as e:
        tracelogic.load(text, filename="bad.spec")
    assert message in str(e.value)


def test_the_spec_and_the_package_agree_on_the_models():
    assert {m.replace("_", "-") for m in CONSISTENCY_MODELS} == set(MODELS)
    for m in CONSISTENCY_MODELS:
        assert model(m).name == m.replace("_", "-")


def test_the_formatter_keeps_the_declarations():
    from tracelogic.spec.formatter import format_text as format_source

    [block] = [b for b in BLOCKS if "operation read" in b]
    once = format_source(block, "doc.spec")
    assert "operation cas when name == \"POST\"" in once and \
        "consistency cache_linearizable: linearizable cas_register" in once
    assert format_source(once, "doc.spec") == once
