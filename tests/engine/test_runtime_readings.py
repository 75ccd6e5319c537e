"""Run-time warnings say how an attribute of no declared type was read (issue 15, message
items 4 and 5), and values are shown in their type's unit (item 6): the same text from
both engines."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span
from tracelogic.spec import types as T
from tracelogic.spec.lexicon import show_runtime

MS = 1_000_000


def _spans(*attrs: dict) -> bytes:
    spans = [Span(name="a", trace_id="1" * 32, span_id=f"{i:016x}", parent_id="",
                  start_ns=1000 * MS, end_ns=1001 * MS, kind="server", status="unset",
                  service="s", attrs=a, resource={}) for i, a in enumerate(attrs, 1)]
    return spans_to_request(spans).SerializeToString()


def _run(text: str, data: bytes, engine: str):
    mon = Monitor(tracelogic.load(text), engine=engine)
    mon.feed_otlp(data, source="test")
    return mon, mon.close()


def _warnings(text: str, data: bytes) -> list[str]:
    """The run's warnings, equal from both engines."""
    _, python = _run(text, data, "python")
    _, native = _run(text, data, "native")
    assert native.warnings == python.warnings
    assert native.to_json() == python.to_json()
    return python.warnings


def test_an_int_compared_with_minutes_says_it_was_read_as_nanoseconds():
    got = _warnings('property p: G (attr["payload.size"] < 10m)',
                    _spans({"payload.size": 12000}, {"payload.size": 13000}))
    [w] = got
    assert '`attr["payload.size"]` (int 12000) was read as 12000 nanoseconds (12us)' in w
    assert '`attr["payload.size"] < 10m`' in w
    assert '`attr["payload.size"] * 1ms`' in w


def test_bytes_are_read_as_bytes_and_labels_show_the_unit():
    [w] = _warnings('property p: G (attr["body"] <= 96Mi)', _spans({"body": 12000}))
    assert "(int 12000) was read as 12000 bytes (12k)" in w
    assert '`attr["body"] <= 96Mi`' in w        # not 100663296
    assert '`attr["body"] * 1Ki`' in w


def test_a_string_compared_with_a_duration_names_the_duration():
    got = _warnings('property p: G (attr["timeout"] < 20m)', _spans({"timeout": "20m"}))
    [w] = got
    assert "(e.g. str compared with a duration)" in w
    assert "str compared with int" not in w
    assert 'a string such as "20m" is never read as a duration' in w
    assert "was read as" not in w                 # nothing was read as a number


def test_plain_comparisons_have_no_reading_warning():
    assert _warnings('property p: G (attr["n"] < 10)', _spans({"n": 12000})) == []
    assert _warnings('property p: G (attr["ms"] * 1ms < 10m)', _spans({"ms": 12000})) == []


def test_a_reading_site_runs_in_the_python_engine_with_its_reason():
    mon, _ = _run('property p: G (attr["x"] < 1s)\nproperty q: G (attr["x"] < 1)',
                  _spans({"x": 1}), "native")
    assert mon.engines["p"] == "python"
    assert "read" in str(mon.engine_plan["p"])
    assert mon.engines["q"] == "native"


def test_violation_messages_show_values_in_their_unit():
    text = ('property p message "took {duration}, body {attr[\\"b\\"] * 1Ki}":\n'
            '  G (duration < 1ns)')
    for engine in ("python", "native"):
        _, rep = _run(text, _spans({"b": 96 * 1024}), engine)
        assert [v.message for v in rep.violations] == ["took 1ms, body 96Mi"], engine


def test_metric_violations_show_cpu_in_millicores_and_bytes_in_binary_units():
    from .test_monitor_aggregates import SEC, _metrics_request

    text = ('metric cores = "k8s.cpu.request" : cpu\n'
            'metric mem = "process.memory.usage" : bytes\n'
            'metric invariant small per service: cores < 0.5 & mem < 64Mi\n')
    import json

    from google.protobuf import json_format

    mon = Monitor(tracelogic.load(text))
    req = _metrics_request([("db", "k8s.cpu.request", SEC, 0.6, "gauge"),
                            ("db", "process.memory.usage", SEC, 96 * 2**20, "gauge")])
    mon.feed_otlp(json.dumps(json_format.MessageToDict(req)).encode(), format="json")
    [v] = mon.close().violations
    assert "cores = 600m" in v.message and "mem = 96Mi" in v.message, v.message


@pytest.mark.parametrize("value, typ, want", [
    (12000, T.DURATION, "12us"), (600 * 10**9, T.DURATION, "10m"),
    (1369261, T.DURATION, "1.36926ms"), (1.5e6, T.DURATION, "1.5ms"),
    (96 * 2**20, T.BYTES, "96Mi"), (96 * 2**20 + 4, T.BYTES, "~96Mi"), (512, T.BYTES, "512"),
    (0.6, T.CPU, "600m"), (2.0, T.CPU, "2"), (0.60021, T.CPU, "0.60021"), (3, T.INT, "3"),
    ("x", T.BYTES, "x"), (True, T.CPU, "True"),
])
def test_show_runtime(value, typ, want):
    assert show_runtime(value, typ) == want


@pytest.mark.parametrize("scope, words", [
    ("", "was still open when the trace ended at `c` end"),
    (' per attr["k"]', "was still open when the instance ended at the end of input "
                       "(its last event: `c` end)"),
    (" global", "was still open at the end of input (the last event: `c` end)"),
])
def test_open_obligations_say_what_ended(scope, words):
    """Issue 15 item 10: a `per attr` or `global` instance does not end with a trace."""
    spans = [Span(name=n, trace_id="1" * 32, span_id=f"{i:016x}", parent_id="",
                  start_ns=(1000 + i) * MS, end_ns=(1000 + i) * MS + 10, kind="server",
                  status="unset", service="s", attrs={"k": "order-1"}, resource={})
             for i, n in enumerate("ac", 1)]
    data = spans_to_request(spans).SerializeToString()
    text = f'property p{scope}: G (name == "a" -> F name == "b")'
    for engine in ("python", "native"):
        _, rep = _run(text, data, engine)
        [v] = rep.violations
        assert v.message == f"obligation raised at `a` start {words}", (engine, v.message)


def test_a_lookup_in_a_duration_range_says_how_it_was_read():
    [w] = _warnings('property p: G (attr["t"] in 1s..2s)\nproperty q: G (attr["t"] in 1..2)',
                    _spans({"t": 1500}, {"t": "1s"}))
    assert w.startswith('`attr["t"]` (int 1500) was read as 1500 nanoseconds (1.5us) in '
                        '`attr["t"] in 1s..2s`, 2 time(s)'), w


def test_an_attribute_plus_a_duration_says_how_it_was_read():
    [w] = _warnings('property p: G (attr["t"] + 1s > duration)', _spans({"t": 7}))
    assert w.startswith('`attr["t"]` (int 7) was read as 7 nanoseconds (7ns) in '
                        '`(attr["t"] + 1s)`, 2 time(s)'), w
    # a product states the unit: nothing to say
    assert _warnings('property p: G (attr["t"] * 1ms > duration)', _spans({"t": 7})) == []
