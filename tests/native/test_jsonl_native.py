"""OTLP/JSON input split and decoded by the core (issue 17 step 4) against the Python side.

``Monitor.feed_otlp(data, format="json")`` takes a whole OTLP/JSON input as a file holds it:
one request, or JSON Lines. With ``engine="python"`` the Python side splits it
(``otlp_common.split_json``) and decodes each document; with ``engine="native"`` the core
splits the bytes (``native/src/jsonl.rs``) and decodes the trace requests, leaving to Python
only the metrics requests, what is no request, and the documents it does not decode
(docs/native.md). The two must give the same report (verdicts, witnesses, counts, warnings)
and the same decode statistics: every count, every message in order, every input error with
its line and column, in order.

The inputs are generated: JSON Lines of requests of generated traces (so properties have
something to decide), requests from the decoder's own differential test (wrong types, odd
ids, duplicate keys, huge numbers) and byte mutations of them, metrics requests, ``{}``,
values that are no request, blank lines of Unicode whitespace, malformed lines, lines that
are not UTF-8, a BOM, CRLF line ends, keys with lone surrogates and non-ASCII
``doubleValue`` strings (the documents the core leaves to Python), and single documents
spread over many lines. TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import request_to_json, spans_to_request

from .test_otlp_json_native import mutated, requests
from .test_stepping_native import specs, traces

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
ROOT = Path(__file__).resolve().parents[2]
METRICS = (ROOT / "tests" / "ingest" / "data" / "metrics.json").read_text()
ENGINES = ("python", "native")


def outcome(spec, engine: str, inputs: list[bytes], max_open: int, compiled) -> tuple:
    """The report, the decode statistics and the engines of one run over ``inputs``."""
    mon = Monitor(spec, engine=engine, compiled=compiled, max_open_traces=max_open)
    for i, data in enumerate(inputs):
        mon.feed_otlp(data, source=f"in{i}.jsonl", format="json")
    engines = dict(mon.engines)
    report = mon.close()
    stats = mon.stats.to_dict()
    return report.to_json(), [str(e) for e in report.input_errors], stats, engines


def assert_same(text: str, inputs: list[bytes], max_open: int = 100) -> tuple:
    compiled = CompiledSpec(tracelogic.load(text))
    python, native = (outcome(compiled.spec, e, inputs, max_open, compiled) for e in ENGINES)
    assert python[:3] == native[:3]
    assert set(python[3].values()) == {"python"}
    return native


def _json_line(spans) -> str:
    return json.dumps(request_to_json(spans_to_request(spans)))


_metrics_line = json.dumps(json.loads(METRICS))
_other = st.sampled_from([
    "{}", "[]", "[1, 2]", "1", '"text"', "null", '{"something": 1}', "9" * 30,
    "-" + "1" * 25, '{"resourceSpans": [], "resourceSpans": null}', "1e400",
    '{"resourceSpans": "no"}', "[" * 300 + "]" * 300, '{"a": NaN, "b": -Infinity}',
])
_blank = st.sampled_from(["", " ", "\t", "\r", "\u00a0", "\u2028", "\x0c", "\x1c", "\u3000"])
_broken = st.sampled_from([
    '{"resourceSpans": [', '{"resourceSpans": []', "{oops}", '{"a" 1}', "[1,]",
    '{"resourceSpans": [], }', '"unterminated', "\ufeff{}", "01", "{'a': 1}",
    '{"a": "\x01"}', '{"a": "\\x"}', '{"a": "\\u12"}',
])
# documents the core leaves to Python: a key with a lone surrogate (inside a span, a
# resource, and beside the request's spans), a doubleValue string that is not ASCII
_SPAN = ('{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", '
         '"name": "a", "startTimeUnixNano": "1000000000", "endTimeUnixNano": "2000000000"')
_python_docs = st.sampled_from([
    '{"resourceSpans": [{"scopeSpans": [{"spans": [' + _SPAN + ', "\\ud800": 1}]}]}]}',
    '{"resourceSpans": [{"resource": {"\\udc00x": 1}, "scopeSpans": [{"spans": ['
    + _SPAN + '}]}]}]}',
    '{"resourceSpans": [{"scopeSpans": [{"spans": [' + _SPAN + '}]}]}], "\\ud83d": 0}',
    '{"resourceSpans": [{"scopeSpans": [{"spans": [' + _SPAN + ', "attributes": ['
    '{"key": "x", "value": {"doubleValue": "\u0661\u0662"}}, '
    '{"key": "k", "value": {"doubleValue": "\u00e9"}}, '
    '{"key": "y", "value": {"intValue": "5x"}}]}]}]}]}',
])


@st.composite
def inputs(draw) -> list[bytes]:
    """One to three OTLP/JSON inputs, each JSON Lines or one document, mostly well-formed."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        lines: list[bytes] = []
        for request in draw(traces()):
            lines.append(_json_line(request).encode())
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.integers(0, 7))
            if kind == 0:
                lines.append(draw(requests()))
            elif kind == 1:
                lines.append(draw(mutated()))
            elif kind == 2:
                lines.append(_metrics_line.encode())
            elif kind == 3:
                lines.append(draw(_other).encode())
            elif kind == 4:
                lines.append(draw(_blank).encode())
            elif kind == 5:
                lines.append(draw(_broken).encode())
            elif kind == 6:
                lines.append(draw(_python_docs).encode())
            else:
                lines.append(b'{"resourceSpans": [\xff]}')  # not UTF-8
        lines = draw(st.permutations(lines))
        how = draw(st.integers(0, 5))
        if how == 0 and lines:  # one document spread over lines (or broken by them)
            data = lines[0].replace(b",", b",\n")
        else:
            data = (b"\r\n" if how == 1 else b"\n").join(lines)
        if draw(st.integers(0, 5)) == 0:
            data = b"\xef\xbb\xbf" + data
        if draw(st.booleans()):
            data += b"\n"
        out.append(data)
    return out


_settings = settings(max_examples=600 if LONG else 40, deadline=None,
                     suppress_health_check=list(HealthCheck))


@pytest.mark.timeout(1800 if LONG else 300)
@_settings
@given(specs(), inputs(), st.sampled_from([1, 2, 100]))
def test_generated_json_inputs(text, data, max_open):
    assert_same(text, data, max_open)


def test_the_core_splits_and_decodes_json_itself():
    """The core runs the properties of a JSON input (not a fallback to Python), and the
    documents it leaves to Python keep their place in the input: a span decoded in Python
    between two decoded in the core makes the same trace as in the reference."""
    spec = 'property p per attr["k"]:\n  G (attr["x"] exists -> name == "a")\n'
    first = ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + "1" * 32
             + '", "spanId": "' + "1" * 16 + '", "name": "a", "startTimeUnixNano": "1", '
             '"endTimeUnixNano": "9", "attributes": [{"key": "k", "value": {"intValue": 1}}]'
             '}]}]}]}')
    middle = first.replace("1" * 16, "2" * 16).replace('"name": "a"', '"name": "b"').replace(
        '"intValue": 1}', '"intValue": 1}}, {"key": "x", "value": {"doubleValue": "\u0661"}')
    data = "\n".join([first, middle, "{broken", _metrics_line]).encode()
    report, errors, stats, engines = assert_same(spec, [data])
    assert engines == {"p": "native"}
    assert stats["decoded"] == 2 and len(errors) == 1
    (prop,) = report["properties"]
    assert prop["results"] == [{"key": "1", "verdict": "violated"}]
