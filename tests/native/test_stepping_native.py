"""Stepping in the core (issue 17 steps 3 and 4) against the Python engine.

Generated specs × generated traces, encoded as OTLP protobuf and fed through
``Monitor.feed_otlp`` in several requests: the reports of ``engine="python"`` and
``engine="native"`` must be equal (verdicts, violations with witnesses and messages,
counts, warnings, input errors). The values are the hard ones: negative numbers, zero
divisors, integers near ±2^63, NaN and infinities, booleans and strings where numbers are
compared; the traces are partial, repeat spans, and overflow a small ``max_open_traces`` so
traces are evicted and spans arrive late. The properties are per trace and cross-trace
(`per attr["k"]`, `per resource["k"]`, `per service`, `per name`, `global`); the scope key
takes values whose text is subtle: ints, bools, floats (integral, huge, tiny, NaN, -0.0),
strings that read like them, None, bytes, arrays and maps, on the span or its resource, or
missing. Each example also checks which engine ran each property: every property the core
can run must have run there.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.json_report import dumps
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.engine.plan import property_reason
from tracelogic.ingest.spans import Span

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
MS = 1_000_000
BIG = 2**63

_NUMBERS = st.one_of(
    st.integers(-3, 3), st.sampled_from([BIG - 1, -BIG, BIG - 2, -BIG + 1, 2**53, 2**53 + 1]),
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 1e300, float("inf"), float("-inf"), float("nan"),
                     9.223372036854776e18]))
_VALUES = st.one_of(st.none(), _NUMBERS, st.sampled_from(["s", "", True, False]))

ATOMS = [
    'name == "a"', 'name != "b"', "start", "end", "status == error", "kind == server",
    "is_root", 'attr["x"] > 0', 'attr["x"] == attr["y"]', 'attr["x"] < attr["y"]',
    'attr["x"] exists', 'attr["f"]', 'attr["x"] // attr["y"] >= 1',
    'attr["x"] % attr["y"] == 0', 'attr["x"] / attr["y"] > 0.5', 'attr["x"] * 2 > attr["y"]',
    'attr["x"] + attr["y"] != 0', '-attr["x"] <= -1', 'attr["x"] >= 9223372036854775807',
    'attr["x"] in [0, 1, 5]', 'attr["x"] in ["s", ""]', 'attr["x"] in -1..1', 'attr["x"] == 0.5',
    "duration > 1ms", 'parent.name == "a"', 'parent.attr["x"] > attr["x"]',
    'has_child(name == "b")', 'has_ancestor(status == error)', 'has_event("exception")',
    'name matches r"^[ab]+$"', 'attr["s"] contains "b"', 'name startswith "c"',
    'service == "s1"', 'attr["x"] == attr["x"]',
]
_atoms = st.sampled_from(ATOMS)
_preds = st.one_of(_atoms, st.builds(lambda a: f"!({a})", _atoms),
                   st.builds(lambda a, b: f"({a}) & ({b})", _atoms, _atoms),
                   st.builds(lambda a, b: f"({a}) | ({b})", _atoms, _atoms))
_KEYS = st.one_of(
    st.integers(-2, 2), st.sampled_from([BIG - 1, -BIG, True, False, None, "", "1", "true",
                                         "0", "a", 1.0, 0.5, -0.0, 1e300, 2.0**70, 1e16,
                                         1e-7, 123456789.125, float("nan"), float("inf"),
                                         float("-inf"), ("a", 1), (), b"x", b"",
                                         {"a": 1.5}]))
_SCOPES = ["", "", ' per attr["k"]', ' per attr["k"]', ' per resource["k"]', " per service",
           " per name", " global"]
_FORMS = ["G !({p})", "G (({p}) -> F ({q}))", "!({q}) W ({p})", "({p}) U ({q})",
          "F ({p})", "G (({p}) -> O ({q}))", "response({p}, {q})", "precedence({p}, {q})",
          "G (({p}) -> X ({q}))", "G (({p}) -> WX ({q}))", "({p}) S ({q})",
          "absence({p}) after({q})",
          "G (({p}) -> F[<= 2ms] ({q}))"]  # timed (tests/native/test_timed_native.py has more)


@st.composite
def specs(draw) -> str:
    lines = []
    for i in range(draw(st.integers(1, 4))):
        form = draw(st.sampled_from(_FORMS))
        scope = draw(st.sampled_from(_SCOPES))
        lines.append(f"property p{i}{scope}:\n  " + form.format(p=draw(_preds),
                                                               q=draw(_preds)))
    return "\n".join(lines) + "\n"


@st.composite
def traces(draw) -> list[list[Span]]:
    """Requests of spans of up to 4 traces; spans repeat across requests."""
    spans = []
    for t in range(draw(st.integers(1, 4))):
        ids = draw(st.permutations(range(1, 9)))[:draw(st.integers(1, 5))]
        for i, sid in enumerate(ids):
            parent = draw(st.sampled_from(["root", "p", "p", "missing"])) if i else \
                draw(st.sampled_from(["root", "root", "root", "missing"]))
            pid = {"root": "", "missing": "f" * 16}.get(parent)
            if pid is None:
                pid = f"{ids[draw(st.integers(0, i - 1))]:016x}"
            start = (1000 + draw(st.integers(0, 6))) * MS
            attrs = {k: v for k in ("x", "y", "f", "s")
                     if (v := draw(_VALUES if k != "s" else st.sampled_from([None, "abc", ""])))
                     is not None}
            if draw(st.booleans()):  # the scope key, None too (an empty AnyValue)
                attrs["k"] = draw(_KEYS)
            resource = {"k": draw(_KEYS)} if draw(st.booleans()) else {}
            spans.append(Span(
                name=draw(st.sampled_from("abc")), trace_id=f"{t + 1:032x}",
                span_id=f"{sid:016x}", parent_id=pid, start_ns=start,
                end_ns=start + draw(st.sampled_from([0, 1, 2, 4])) * MS,
                kind=draw(st.sampled_from(["server", "internal"])),
                status=draw(st.sampled_from(["unset", "error"])),
                service=draw(st.sampled_from(["s1", "s2", ""])), attrs=attrs,
                resource=resource,
                event_names=("exception",) if draw(st.booleans()) else ()))
    return as_requests(draw, spans)


def as_requests(draw, spans: list[Span], max_cuts: int = 3) -> list[list[Span]]:
    """``spans`` shuffled and cut into requests; part of one may be sent again."""
    order = draw(st.permutations(spans))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=max_cuts)))
    requests, last = [], 0
    for c in cuts + [len(order)]:
        requests.append(order[last:c])
        last = c
    if draw(st.booleans()) and spans:  # an exporter retrying part of a request
        requests.append(draw(st.lists(st.sampled_from(spans), min_size=1, max_size=3)))
    return [r for r in requests if r]


def report(spec, engine: str, requests: list[bytes], max_open: int, compiled) -> tuple:
    mon = Monitor(spec, engine=engine, compiled=compiled, max_open_traces=max_open)
    for data in requests:
        mon.feed_otlp(data, source="gen")
    rep = mon.close()
    # the texts first: the core writes its violations' text and JSON text before any is
    # built (to_json builds them), which the Python engine's texts check
    texts = rep.to_text(), dumps(rep.to_json(verbatim=True))
    return mon, texts, rep.to_json(), [str(e) for e in rep.input_errors]


def both_engines(spec, requests: list[list[Span]], max_open: int) -> tuple:
    """``(compiled, native monitor, python report, native report)`` of ``requests`` fed
    as protobuf to both engines; every property of the Python one ran there."""
    compiled = CompiledSpec(spec)
    data = [spans_to_request(r).SerializeToString() for r in requests]
    py_mon, *python = report(spec, "python", data, max_open, compiled)
    mon, *native = report(spec, "native", data, max_open, compiled)
    assert set(py_mon.engines.values()) == {"python"}
    return compiled, mon, python, native


def same_reports(text: str, requests: list[list[Span]], max_open: int) -> tuple:
    """Both engines' reports of ``requests`` are equal; the native run's Monitor and the
    compiled spec, to check where each property ran."""
    compiled, mon, python, native = both_engines(tracelogic.load(text), requests, max_open)
    assert native == python
    return mon, compiled


@settings(max_examples=2000 if LONG else 80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 2, 100]))
def test_the_core_steps_like_the_python_engine(text, requests, max_open):
    mon, compiled = same_reports(text, requests, max_open)
    for cp in compiled.properties:
        if property_reason(cp) is None:  # every atom above is one the core runs
            assert mon.engines[cp.name] == "native", mon.engine_plan[cp.name]


def test_spans_fed_as_objects_after_bytes_go_to_the_core_too():
    """Once the core holds spans from bytes, `Monitor.feed` gives it later spans encoded as
    OTLP: the report is the Python engine's for the same input."""
    spec = tracelogic.load('property p: G (name == "a" -> F name == "b")\n'
                           'property q per attr["k"]: G !(status == error)\n')
    first = [Span(name="a", trace_id="1" * 32, span_id="1" * 16, start_ns=10 * MS,
                  end_ns=12 * MS, service="s1", attrs={"k": 1})]
    later = [Span(name="b", trace_id="2" * 32, span_id="2" * 16, start_ns=11 * MS,
                  end_ns=13 * MS, service="s1", attrs={"k": 1.0}, status="error",
                  resource={"region": "eu"}),
             Span(name="a", trace_id="1" * 32, span_id="3" * 16, parent_id="1" * 16,
                  start_ns=10 * MS, end_ns=11 * MS, service="s2", attrs={"k": "x"})]
    data = spans_to_request(first).SerializeToString()
    reports = {}
    for engine in ("python", "native"):
        mon = Monitor(spec, engine=engine)
        mon.feed_otlp(data)
        mon.feed(later)
        reports[engine] = mon.close().to_json()
        if engine == "native":
            assert set(mon.engines.values()) == {"native"}
    assert reports["native"] == reports["python"]
    assert reports["python"]["summary"]["spans"] == 3
