"""`mapping.wanted_attrs`: the attribute keys the consistency checks read, which is all
`monitor` decodes for them (cli._consistency). A key the checks read but the decode
dropped would silently turn every operation's key or value into nil, so the test runs
the narrowed decode against the full one over the same bytes."""
from __future__ import annotations

import json

import tracelogic
from tracelogic.consistency import check, model
from tracelogic.consistency.mapping import compile_mappings, wanted_attrs
from tracelogic.consistency.spans import ATTRIBUTES, operations
from tracelogic.ingest.otlp import read_bytes, request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

SPEC = """\
operation read  when name == "GET" and parent.attr["tx.kind"] == "r" key attr["k"] output attr["v"]
operation write when name == "PUT" key attr["k"] input attr["v"] client resource["pod"]
consistency store: linearizable register
"""


def test_the_convention_and_every_key_a_mapping_reads():
    spec = tracelogic.load(SPEC, filename="m.spec")
    got = wanted_attrs(spec.operations)
    assert ATTRIBUTES <= got
    assert {"k", "v", "tx.kind", "pod"} <= got
    assert "unrelated" not in got
    assert wanted_attrs(()) == ATTRIBUTES


def test_the_narrow_decode_gives_the_same_operations_as_the_full_one():
    spec = tracelogic.load(SPEC, filename="m.spec")
    t = "a" * 32
    spans = [Span(name="tx", trace_id=t, span_id="1" * 16, start_ns=0, end_ns=100,
                  attrs={"tx.kind": "r", "unrelated": "x" * 50}),
             Span(name="PUT", trace_id="b" * 32, span_id="2" * 16, start_ns=1, end_ns=2,
                  attrs={"k": "x", "v": 1, "unrelated": 3}, resource={"pod": "p1"}),
             Span(name="GET", trace_id=t, span_id="3" * 16, parent_id="1" * 16,
                  start_ns=5, end_ns=6, attrs={"k": "x", "v": 1})]
    raw = json.dumps(request_to_json(spans_to_request(spans))).encode()
    maps = compile_mappings(spec.operations)
    full = operations(read_bytes(raw, fmt="json").spans, maps)
    narrow_spans = read_bytes(raw, fmt="json", wanted_attrs=wanted_attrs(spec.operations)).spans
    narrow = operations(narrow_spans, maps)
    rows = [(o.f, o.key, o.input, o.output, o.client) for o in narrow]
    assert rows == [(o.f, o.key, o.input, o.output, o.client) for o in full]
    assert rows[0] == ("write", "x", 1, None, "p1") and rows[1][:4] == ("read", "x", None, 1)
    assert all("unrelated" not in s.attrs for s in narrow_spans)
    assert check(model("register"), narrow).verdict == "satisfied"
