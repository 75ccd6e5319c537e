"""Aggregate properties in the core against the Python engine.

The core samples (per span at its end event: each aggregate's value and whether its
`where` holds) and Python computes the aggregates, windows and violations from those
samples. Generated aggregate properties (every aggregate function, values that are
durations, attributes and arithmetic over them, `where` conditions, no window, tumbling
and sliding windows, `message` clauses with aggregates and span fields; per trace, `per
attr["k"]`, `per service`, `global`) beside temporal ones (some timed, so the Python
engine runs beside the core) × the generated traces of test_stepping_native (negative
numbers, zero divisors, integers near ±2^63, NaN, missing attributes, partial traces,
repeats, evictions), fed as OTLP protobuf: the reports of ``engine="python"`` and
``engine="native"`` must be equal (verdicts, vacuity, violations with their witness spans,
worst first, and messages, warnings), and every aggregate the core can run must have run
there.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.plan import build_plan, property_reason
from tracelogic.ingest.otlp import spans_to_request

from .test_stepping_native import LONG, _preds, both_engines, traces

_NUMERIC = ['duration', 'attr["x"]', 'attr["y"]', 'attr["x"] // attr["y"]',
            'attr["x"] % attr["y"]', 'attr["x"] / attr["y"]', 'attr["x"] * 2', '-attr["x"]',
            'attr["x"] + attr["y"]']
_AGGS = ["avg", "min", "max", "p50", "p90", "p99"]
_COUNTS = ["count", "fraction", "per_second"]


@st.composite
def aggregate(draw) -> str:
    where = draw(st.one_of(st.just(""), _preds.map(lambda p: f" where {p}")))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        name = draw(st.sampled_from(_AGGS))
        value = draw(st.sampled_from(_NUMERIC))
    elif kind == 1:
        name = draw(st.sampled_from(_COUNTS))
        value = draw(_preds)
    else:
        name = "count_distinct"
        value = draw(st.sampled_from(["name", "service", 'attr["x"]', 'attr["s"]', "duration",
                                      'attr["k"]', 'resource["k"]', 'parent.attr["k"]',
                                      '(attr["x"] | attr["s"])']))
    return f"{name}({value}{where})"


@st.composite
def body(draw) -> str:
    agg = draw(aggregate())
    op = draw(st.sampled_from(["<", "<=", ">", ">="]))
    if agg.startswith(("count(", "count_distinct(")):
        bound = str(draw(st.integers(0, 3)))
    elif agg.startswith("fraction("):
        bound = draw(st.sampled_from(["0.5", "0.25", "1"]))
    elif agg.startswith("per_second("):
        bound = draw(st.sampled_from(["100", "1000", "0"]))
    elif "duration" in agg and "attr" not in agg.split("(")[1].split(" where")[0]:
        bound = draw(st.sampled_from(["1ms", "2ms", "0ms"]))
    else:
        bound = draw(st.sampled_from(["0", "1", "-1", "2.5", "9223372036854775807"]))
    text = f"{agg} {op} {bound}"
    if draw(st.integers(0, 3)) == 0:
        text = f"({text}) & ({draw(aggregate())} >= {draw(aggregate())})".replace(
            "per_second(", "count(")  # keep both sides of one kind of number
    return text


_SCOPES = ["", ' per attr["k"]', " per service", " global"]
_WINDOWS = ["", "", " window 1ms", " window 2ms sliding", " window 3ms"]
_MESSAGES = ["", "", ' message "{max(duration)} at {name}"',
             ' message "n={count()} s={service} d={duration}"']
_TEMPORAL = ["G !({p})", "G (({p}) -> F[<= 2ms] ({q}))", "G (({p}) -> F ({q}))"]


@st.composite
def specs(draw) -> str:
    lines = []
    for i in range(draw(st.integers(1, 3))):
        scope = draw(st.sampled_from(_SCOPES))
        if draw(st.integers(0, 3)) == 0:
            form = draw(st.sampled_from(_TEMPORAL))
            lines.append(f"property p{i}{scope}:\n  "
                         + form.format(p=draw(_preds), q=draw(_preds)))
            continue
        window = draw(st.sampled_from(_WINDOWS))
        message = draw(st.sampled_from(_MESSAGES))
        lines.append(f"property p{i}{scope}{window}{message}:\n  {draw(body())}")
    return "\n".join(lines) + "\n"


def _load(text: str):
    try:
        return tracelogic.load(text)
    except tracelogic.errors.TracelogicError:
        return None  # a generated comparison of mismatched types: not a spec


@settings(max_examples=2000 if LONG else 80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(specs(), traces(), st.sampled_from([1, 2, 100]))
def test_aggregates_run_in_the_core_as_in_the_python_engine(text, requests, max_open):
    spec = _load(text)
    if spec is None:
        return
    compiled, mon, python, native = both_engines(spec, requests, max_open)
    # as text: an aggregate of NaN samples is a NaN value, which equals no other NaN object
    assert json.dumps(native) == json.dumps(python)
    for cp in compiled.properties:
        if cp.prop.kind == "aggregate":
            assert property_reason(cp) is None
            assert mon.engines[cp.name] == "native", mon.engine_plan[cp.name]


def test_bench_db_latency_samples_in_the_core():
    """bench_monitor's `db_latency` is planned as the core's samples, with no automaton to
    step; `count_distinct` of an attribute returns the attribute's value itself (`raw`:
    the text of a bytes or array value is Python's `str`)."""
    spec = tracelogic.load('property db_latency per service window 1m:\n'
                           '  p99(duration where attr["db.system"] exists) <= 200ms\n'
                           'property users:\n  count_distinct(attr["user"]) <= 3\n')
    compiled = CompiledSpec(spec)
    plan = build_plan(compiled, compiled.properties)
    assert [cp.name for cp in plan.properties] == ["db_latency", "users"]
    assert [a["raw"] for s in plan.document["program"]["samples"] for a in s["aggs"]] == \
        [False, True]
    prop = plan.document["properties"][0]
    sampled = plan.document["program"]["samples"][0]
    assert prop["samples"] == 0 and prop["atoms"] == [] and len(prop["states"]) == 1
    assert sampled["aggs"] == [{"raw": False,
        "value": {"op": "field", "hops": 0, "name": "duration"},
        "where": {"op": "exists", "arg": {"op": "attr", "hops": 0, "resource": False,
                                          "key": "db.system"}}}]


def test_count_distinct_counts_attribute_values_by_their_python_text():
    """bytes, arrays and maps count by Python's `str` of them (the core returns them as
    stored); 1 and 1.0 are one value, "1" another; None and missing values none."""
    from tracelogic.engine.monitor import Monitor
    from tracelogic.ingest.spans import Span

    spec = tracelogic.load(
        'property kinds per service message "{distinct(attr[\\"k\\"])}":\n'
        '  count_distinct(attr["k"]) <= 2\n'
        'property parents:\n  count_distinct(parent.attr["k"] where !is_root) <= 1\n')
    values = [b"x", ("a", 1), {"m": 1}, 1, 1.0, "1", None, b"x", ()]
    spans = [Span(name="a", trace_id=f"{t + 1:032x}", span_id=f"{i + 1:016x}",
                  parent_id="" if i == 0 else f"{1:016x}", start_ns=(10 + t) * 10**6,
                  end_ns=(11 + t + i) * 10**6, service="s1",
                  attrs={} if v is None else {"k": v})
             for t, v in enumerate(values) for i in range(2)]
    data = spans_to_request(spans).SerializeToString()
    reports = {}
    for engine in ("python", "native"):
        mon = Monitor(spec, engine=engine)
        mon.feed_otlp(data)
        reports[engine] = mon.close().to_json()
        assert set(mon.engines.values()) == {engine}
    assert json.dumps(reports["native"]) == json.dumps(reports["python"])
    (kinds,) = [v for v in reports["python"]["violations"] if v["property"] == "kinds"]
    assert "b'x'" in kinds["message"] and "('a', 1)" in kinds["message"]
