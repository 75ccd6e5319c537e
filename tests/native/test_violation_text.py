"""The reports' violations written by the core (``native/src/violation_text.rs``)
against the Python writers.

The differential tests already compare the native engine's text and JSON text reports
(written by the core) with the Python engine's. Here the oracle is the same report's text
once its violations are built (then ``to_text`` and ``to_json`` write each one in Python,
and ``json.dumps`` the document), in colour and not, and the cases the core leaves to
Python: a time difference a float cannot hold, a link per trace (``trace_url``).
"""
from __future__ import annotations

import io
import json
import os
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.byte_streams import utf8_buffer
from tracelogic.engine import report as report_module
from tracelogic.engine.json_report import dumps
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.report import DeferredViolation
from tracelogic.engine.trace_links import TraceUrl
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

from .test_stepping_native import specs, traces

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
MS = 1_000_000


def _native_report(text: str, requests: list[bytes], max_open: int = 100):
    mon = Monitor(tracelogic.load(text), engine="native", max_open_traces=max_open)
    for data in requests:
        mon.feed_otlp(data)
    return mon.close()


@contextmanager
def _chunk(n: int):
    """``write_text`` asking the core for ``n`` violations' text at a time."""
    saved = report_module._CHUNK
    report_module._CHUNK = n
    try:
        yield
    finally:
        report_module._CHUNK = saved


def _write_text(report, color: bool, encoding: str | None) -> str:
    """``report.write_text`` between two lines, to a StringIO (``encoding`` None) or to a
    text stream of ``encoding`` over bytes, read back."""
    raw = io.BytesIO()
    out = io.StringIO() if encoding is None else io.TextIOWrapper(raw, encoding=encoding)
    out.write("before\n")
    report.write_text(out, color=color)
    out.write("after\n")
    if encoding is None:
        return out.getvalue()
    out.flush()
    return raw.getvalue().decode(encoding)


def _unbuilt(report) -> int:
    return sum(1 for v in report.violations
               if type(v) is DeferredViolation and getattr(v, "_build", None) is not None)


@settings(max_examples=600 if LONG else 40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 100]), st.booleans())
def test_the_core_writes_the_text_the_python_writer_writes(text, requests, max_open, color):
    data = [spans_to_request(r).SerializeToString() for r in requests]
    report = _native_report(text, data, max_open)
    deferred = _unbuilt(report)
    fast = report.to_text(color=color)
    fast_json = dumps(report.to_json(verbatim=True))
    assert _unbuilt(report) == deferred  # written by the core: none was built
    for n in (1, 2, 4096):  # piece by piece: the same text, the core's as bytes
        with _chunk(n):
            for encoding in (None, "utf-8"):
                assert _write_text(report, color, encoding) == f"before\n{fast}after\n"
    assert _unbuilt(report) == deferred
    report.build_violations()
    assert _unbuilt(report) == 0
    assert report.to_text(color=color) == fast
    assert json.dumps(report.to_json(), indent=2) == fast_json


def _spans(gap_ns: int) -> list[Span]:
    """A trace whose second span ends ``gap_ns`` after the first starts."""
    return [Span(name="a", trace_id="1" * 32, span_id="1" * 16, start_ns=MS, end_ns=2 * MS,
                 service="s1"),
            Span(name="b", trace_id="1" * 32, span_id="2" * 16, parent_id="1" * 16,
                 start_ns=MS + gap_ns - 1, end_ns=MS + gap_ns, status="error")]


SPEC = ('property no_error "nothing fails":\n  G !(status == error)\n'
        'property answered runbook "https://runbooks/x":\n'
        '  G (name == "a" & start -> F[<= 1ms] name == "b")\n'
        'property by_service per service:\n  G (name == "a" -> X name == "a")\n')


def test_a_difference_past_2_53_ns_is_written_by_python_and_reads_the_same():
    """A float cannot hold the offset exactly past 2^53 ns: the core leaves those
    violations to Python, which writes them between the core's."""
    for gap in (5 * MS, 2**53 + 12345):
        report = _native_report(SPEC, [spans_to_request(_spans(gap)).SerializeToString()])
        assert {v.prop.name for v in report.violations} == {"no_error", "answered",
                                                            "by_service"}
        fast = report.to_text()
        fast_json = dumps(report.to_json(verbatim=True))
        report.build_violations()
        assert report.to_text() == fast
        assert json.dumps(report.to_json(), indent=2) == fast_json
        if gap > 2**53:
            assert f"{(gap - 1) / 1e6:>10.3f} ms" in fast  # the Python writer's offset


def test_links_per_trace_are_written_by_python():
    report = _native_report(SPEC, [spans_to_request(_spans(5 * MS)).SerializeToString()])
    links = TraceUrl("https://ui/trace/{trace_id}")
    text = report.to_text(trace_url=links)
    assert f"  trace: https://ui/trace/{'1' * 32}" in text
    assert _unbuilt(report) == 0
    plain = _native_report(SPEC, [spans_to_request(_spans(5 * MS)).SerializeToString()])
    assert text.replace(f"\n  trace: https://ui/trace/{'1' * 32}", "") == plain.to_text()


def test_owner_runbook_and_description_with_quotes_and_non_ascii_read_as_json_dumps():
    spec = ('property p "fails \\"twice\\" — ✗ é" severity critical owner "pay\\\\ments" '
            'runbook "https://r/ü?q=\\"x\\"":\n  G !(status == error)\n'
            'property q per attr["k"]:\n  G (name == "b" -> F name == "zz")\n')
    spans = [Span(name="a\u00e9\"\\", trace_id="1" * 32, span_id="1" * 16, start_ns=MS,
                  end_ns=2 * MS, service="s\u2717", status="error", attrs={"k": "é\"1"}),
             Span(name="b", trace_id="2" * 32, span_id="2" * 16, start_ns=MS, end_ns=3 * MS,
                  attrs={"k": "é\"1"})]
    report = _native_report(spec, [spans_to_request(spans).SerializeToString()])
    assert len(report.violations) == 2 and _unbuilt(report) == 2
    fast, fast_json = report.to_text(), dumps(report.to_json(verbatim=True))
    doc = json.loads(fast_json)
    assert doc["violations"][0]["owner"] == "pay\\ments"
    assert doc["violations"][1]["trace_ids"] == ["1" * 32, "2" * 32]
    report.build_violations()
    assert report.to_text() == fast
    assert json.dumps(report.to_json(), indent=2) == fast_json


def test_write_text_to_a_stream_not_utf8_writes_text_it_encodes():
    """A stream that does not encode UTF-8 is given text (its own encoding applies), not
    the core's UTF-8 bytes; its errors rule too."""
    report = _native_report(SPEC.replace("nothing fails", "nothing fails ✗"),
                            [spans_to_request(_spans(5 * MS)).SerializeToString()])
    text = report.to_text()
    assert "✗" in text
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="latin-1", errors="replace")
    assert utf8_buffer(out) is None
    report.write_text(out)
    out.flush()
    assert raw.getvalue() == text.encode("latin-1", "replace")
    assert utf8_buffer(io.TextIOWrapper(io.BytesIO(), encoding="UTF8")) is not None
    assert utf8_buffer(io.StringIO()) is None
