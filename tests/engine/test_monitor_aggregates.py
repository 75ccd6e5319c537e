"""Aggregates and windows, and metric invariants over OTLP metrics.

The Hypothesis test compares every aggregate property (11 aggregates x with or
without `where` x no window / tumbling / sliding x scopes) with a direct
definition written here:

- one sample per span, at its end event (a span that ends before it starts: at its start);
- tumbling windows are ``[k*size, (k+1)*size)``, aligned to multiples of the size since
  the Unix epoch; sliding windows are ``(t - size, t]`` for every sample time t;
- a window whose aggregate has no value (no sample, or no sample matching `where`)
  is not evaluated: it neither violates nor satisfies;
- percentiles are nearest-rank: the smallest sample with at least q of the samples
  at or below it (``sorted(x)[ceil(q*n) - 1]``);
- `fraction(P where Q)` is the share of Q-samples that satisfy P; `per_second` is the
  count divided by the window size (over a whole instance: by the time from its first
  to its last sample).
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

import tracelogic
from tracelogic.cli import run
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span

from .test_monitor_differential import LONG

MS = 1_000_000
SEC = 1000 * MS
DATA = Path(__file__).parent / "data" / "monitor"


def span(i, name, start_ns, end_ns, trace=1, **kw) -> Span:
    return Span(name=name, trace_id=f"{trace:032x}", span_id=f"{i:016x}", start_ns=start_ns,
                end_ns=end_ns, **kw)


def report_of(text: str, spans) -> dict:
    mon = Monitor(tracelogic.load(text))
    mon.feed(spans)
    return mon.close().to_json()


# ----------------------------------------------------------------- direct definition

def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def agg_value(name, samples, size_ns):
    """samples: (value, where) per span in the window."""
    chosen = [v for v, w in samples if w]
    if name == "count":
        return sum(1 for v in chosen if v is True)
    if name == "fraction":
        return sum(1 for v in chosen if v is True) / len(chosen) if chosen else None
    if name == "per_second":
        return sum(1 for v in chosen if v is True) / (size_ns / SEC) if size_ns else None
    if name == "count_distinct":
        return len({v for v in chosen if v is not None})
    nums = [v for v in chosen if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return None
    if name == "avg":
        return sum(nums) / len(nums)
    if name in ("min", "max"):
        return {"min": min, "max": max}[name](nums)
    return nearest_rank(nums, int(name[1:]) / 100)


VALUE = {"count": ("status == error", lambda s: s.status == "error"),
         "fraction": ("status == error", lambda s: s.status == "error"),
         "per_second": ("status == error", lambda s: s.status == "error"),
         "count_distinct": ('attr["node"]', lambda s: s.attrs.get("node")),
         "avg": ("duration", lambda s: s.end_ns - s.start_ns),
         "min": ("duration", lambda s: s.end_ns - s.start_ns),
         "max": ('attr["n"]', lambda s: s.attrs.get("n")),
         "p50": ("duration", lambda s: s.end_ns - s.start_ns),
         "p90": ('attr["n"]', lambda s: s.attrs.get("n")),
         "p95": ("duration", lambda s: s.end_ns - s.start_ns),
         "p99": ("duration", lambda s: s.end_ns - s.start_ns)}
THRESHOLD = {"count": ["1", "3"], "fraction": ["0.3", "0.6"], "per_second": ["100", "400"],
             "count_distinct": ["1", "2"], "max": ["2", "4"], "p90": ["1", "3"]}


def expected(name, where, op, thresh, window, scope, spans):
    value_fn = VALUE[name][1]
    where_fn = (lambda s: True) if where is None else (lambda s: s.name == "a")
    insts: dict[str, list] = {}
    for s in spans:
        key = {"trace": s.trace_id, "global": "*", "service": s.service or None}[scope]
        if key is not None:
            t = s.end_ns if s.end_ns >= s.start_ns else s.start_ns
            insts.setdefault(key, []).append((t, value_fn(s), where_fn(s)))
    out = {}
    for key, rows in insts.items():
        rows.sort(key=lambda r: r[0])
        if window is None:
            span_ns = rows[-1][0] - rows[0][0] if len(rows) > 1 else 0
            windows = [(None, rows, span_ns or None)]
        elif not window[1]:
            size = window[0]
            by = {}
            for r in rows:
                by.setdefault(r[0] // size, []).append(r)
            windows = [((k * size, (k + 1) * size), part, size) for k, part in sorted(by.items())]
        else:
            size = window[0]
            windows = [((t - size, t), [r for r in rows if t - size < r[0] <= t], size)
                       for t in sorted({r[0] for r in rows})]
        bad = []
        for bounds, part, size_ns in windows:
            v = agg_value(name, [(r[1], r[2]) for r in part], size_ns)
            if v is None:
                continue
            ok = {"<=": v <= thresh, ">=": v >= thresh}[op]
            if not ok:
                bad.append(bounds)
        out[key] = ("violated" if bad else "satisfied", bad)
    return out


def thresholds(name):
    if name in THRESHOLD:
        return st.sampled_from(THRESHOLD[name])
    return st.sampled_from(["2ms", "5ms"])


@st.composite
def aggregate_cases(draw):
    name = draw(st.sampled_from(sorted(VALUE)))
    where = draw(st.sampled_from([None, 'name == "a"']))
    op = draw(st.sampled_from(["<=", ">="]))
    thresh_text = draw(thresholds(name))
    window = draw(st.sampled_from([None, (10 * MS, False), (25 * MS, False), (10 * MS, True),
                                   (25 * MS, True)]))
    scope = draw(st.sampled_from(["trace", "global", "service"]))
    n = draw(st.integers(1, 14))
    spans = []
    for i in range(n):
        start = draw(st.integers(0, 60)) * MS
        dur = draw(st.sampled_from([0, 1, 2, 3, 5, 8, -1])) * MS
        attrs = {}
        node = draw(st.sampled_from([None, "n1", "n2", "n3", 7]))
        if node is not None:
            attrs["node"] = node
        num = draw(st.sampled_from([None, 0, 1, 2, 3, 5, 2.5, "x", True]))
        if num is not None:
            attrs["n"] = num
        spans.append(span(i + 1, draw(st.sampled_from("ab")), start, start + dur,
                          trace=draw(st.integers(1, 3)),
                          status=draw(st.sampled_from(["ok", "error", "unset"])),
                          service=draw(st.sampled_from(["s1", "s2", ""])), attrs=attrs))
    return name, where, op, thresh_text, window, scope, spans


def _threshold_value(text):
    if text.endswith("ms"):
        return int(text[:-2]) * MS
    return float(text) if "." in text else int(text)


@settings(max_examples=3000 if LONG else 500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(aggregate_cases())
def test_aggregates_match_the_direct_definition(case):
    name, where, op, thresh_text, window, scope, spans = case
    inner = VALUE[name][0] + (f" where {where}" if where else "")
    scope_text = {"trace": "", "global": " global", "service": " per service"}[scope]
    window_text = "" if window is None else (
        f" window {window[0] // MS}ms" + (" sliding" if window[1] else ""))
    text = f"property q{scope_text}{window_text}:\n  {name}({inner}) {op} {thresh_text}\n"
    report = report_of(text, spans)
    want = expected(name, where, op, _threshold_value(thresh_text), window, scope, spans)
    got = {r["key"]: r["verdict"] for r in report["properties"][0]["results"]}
    assert got == {k: v[0] for k, v in want.items()}
    vac = sum(1 for k, v in want.items() if v[0] == "satisfied")  # upper bound, checked below
    assert report["properties"][0]["vacuous"] <= vac
    for v in report["violations"]:
        bounds = want[v["key"]][1]
        if window is not None:
            assert (v["window"]["start_unix_nano"], v["window"]["end_unix_nano"]) in bounds
        assert 1 <= len(v["span_ids"]) <= 10
    assert sorted(v["key"] for v in report["violations"]) == sorted(
        k for k, (_, bad) in want.items() for _ in bad)


# ----------------------------------------------------------------- windows by hand

def test_tumbling_windows_are_aligned_to_the_epoch():
    # failures at 50 s, 59 s and 61 s: windows [0, 60 s) and [60 s, 120 s), not from 50 s
    spans = [span(i + 1, "op", t * SEC, t * SEC, status="error") for i, t in
             enumerate((50, 59, 61))]
    report = report_of("property q window 1m: count(status == error) <= 1", spans)
    (v,) = report["violations"]
    assert v["window"] == {"start_unix_nano": 0, "end_unix_nano": 60 * SEC}
    assert v["values"] == {"count(status == error)": 2}
    assert sorted(v["span_ids"]) == [f"{i:016x}" for i in (1, 2)]
    assert "in window [1970-01-01T00:00:00.000Z, 1970-01-01T00:01:00.000Z)" in v["message"]


def test_sliding_windows_catch_what_tumbling_windows_split():
    spans = [span(i + 1, "op", t * SEC, t * SEC, status="error") for i, t in
             enumerate((8, 9, 11))]
    tumbling = report_of("property q window 10s: count(status == error) <= 2", spans)
    sliding = report_of("property q window 10s sliding: count(status == error) <= 2", spans)
    assert tumbling["violations"] == []
    (v,) = sliding["violations"]
    assert v["window"] == {"start_unix_nano": 1 * SEC, "end_unix_nano": 11 * SEC}


def test_sliding_window_holds_every_sample_at_its_end_time():
    # three samples at one instant: the window ending there holds all three
    spans = [span(i + 1, "op", 5 * SEC, 5 * SEC, status="error") for i in range(3)]
    report = report_of("property q window 10s sliding: count(status == error) >= 3", spans)
    assert report["violations"] == []


def test_empty_windows_never_decide_and_count_as_vacuous():
    spans = [span(1, "a", 0, 5 * MS), span(2, "a", 70 * SEC, 70 * SEC + 9 * MS)]
    report = report_of('property q window 1m: max(duration where name == "db") <= 1ms',
                       spans)
    (p,) = report["properties"]
    assert p["results"] == [{"key": f"{1:032x}", "verdict": "satisfied"}]
    assert p["vacuous"] == 1
    report = report_of("property q window 1m: max(duration) <= 6ms", spans)
    (v,) = report["violations"]       # only the second window decides
    assert v["window"]["start_unix_nano"] == 60 * SEC


@pytest.mark.parametrize("name, want", [("p50", 5), ("p90", 9), ("p95", 10), ("p99", 10),
                                        ("min", 1), ("max", 10), ("avg", 5.5)])
def test_percentiles_are_nearest_rank(name, want):
    spans = [span(i, "op", 0, i * MS) for i in range(1, 11)]
    report = report_of(f"property q: {name}(duration) < 0ms", spans)
    (v,) = report["violations"]
    assert v["values"] == {f"{name}(duration)": want * MS}


def test_per_second_and_count_distinct():
    spans = [span(i + 1, "op", i * SEC // 2, i * SEC // 2, status="error",
                  attrs={"node": f"n{i % 3}"}) for i in range(120)]
    report = report_of("property q window 1m: per_second(status == error) <= 1", spans)
    (v,) = report["violations"]
    assert v["values"] == {"per_second(status == error)": 2.0}
    report = report_of('property q: count_distinct(attr["node"]) <= 2', spans)
    (v,) = report["violations"]
    assert v["values"] == {'count_distinct(attr["node"])': 3}


def test_fraction_is_the_share_among_where_samples():
    spans = [span(1, "a", 0, 1), span(2, "b", 2, 3, status="error"),
             span(3, "b", 4, 5)]
    # among b spans: 1 of 2 failed
    report = report_of('property q: fraction(status == error where name == "b") <= 0.4',
                       spans)
    (v,) = report["violations"]
    assert v["values"] == {'fraction(status == error where name == "b")': 0.5}


# ----------------------------------------------------------------- metric invariants

METRIC_SPEC = '''
metric cpu_usage    = "system.cpu.utilization" : ratio
metric memory_usage = "process.memory.usage"   : bytes

metric invariant resources per service:
  cpu_usage < 0.9 & memory_usage < 2Gi
'''


def _metrics_request(points):
    """points: (service, metric, time_ns, value, kind)."""
    req = ExportMetricsServiceRequest()
    for svc in sorted({p[0] for p in points}):
        rm = req.resource_metrics.add()
        rm.resource.attributes.append(common_pb2.KeyValue(
            key="service.name", value=common_pb2.AnyValue(string_value=svc)))
        sm = rm.scope_metrics.add()
        for metric in sorted({p[1] for p in points if p[0] == svc}):
            m = sm.metrics.add()
            m.name = metric
            for _, _, t, v, kind in (p for p in points if p[0] == svc and p[1] == metric):
                if kind == "gauge":
                    dp = m.gauge.data_points.add()
                else:
                    m.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
                    dp = m.sum.data_points.add()
                dp.time_unix_nano = t
                if isinstance(v, float):
                    dp.as_double = v
                else:
                    dp.as_int = v
    return req


POINTS = [("db", "system.cpu.utilization", 1 * SEC, 0.5, "gauge"),
          ("db", "process.memory.usage", 1 * SEC, 1 << 30, "sum"),
          ("db", "system.cpu.utilization", 2 * SEC, 0.95, "gauge"),   # violates
          ("db", "system.cpu.utilization", 3 * SEC, 0.5, "gauge"),
          ("web", "system.cpu.utilization", 1 * SEC, 0.2, "gauge"),
          ("web", "process.memory.usage", 2 * SEC, 1 << 20, "sum")]


@pytest.fixture()
def metric_files(tmp_path):
    from google.protobuf import json_format

    spec = tmp_path / "m.spec"
    spec.write_text(METRIC_SPEC)
    req = _metrics_request(POINTS)
    (tmp_path / "m.binpb").write_bytes(req.SerializeToString())
    doc = json_format.MessageToDict(req)  # metrics carry no ids: protobuf's mapping is OTLP's
    (tmp_path / "m.json").write_text(json.dumps(doc))
    (tmp_path / "traces.json").write_text(json.dumps({"resourceSpans": []}))
    return tmp_path


def _monitor(*args):
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", *map(str, args), "--format", "json"], out, err)
    return code, json.loads(out.getvalue()), err.getvalue()


def test_metric_invariant_from_json_sniffed_and_from_protobuf_with_metrics_flag(metric_files):
    d = metric_files
    code1, sniffed, err1 = _monitor(d / "m.spec", d / "m.json")
    code2, flagged, err2 = _monitor(d / "m.spec", d / "traces.json", "--metrics", d / "m.binpb")
    assert err1 == err2 == ""
    assert code1 == code2 == 1
    assert sniffed["properties"] == flagged["properties"]
    assert sniffed["violations"] == flagged["violations"]
    (p,) = sniffed["properties"]
    assert {r["key"]: r["verdict"] for r in p["results"]} == {"db": "violated",
                                                              "web": "satisfied"}
    (v,) = sniffed["violations"]
    assert v["values"] == {"cpu_usage": 0.95, "memory_usage": 1 << 30}
    assert v["points"][0]["time_unix_nano"] == 2 * SEC
    assert v["span_ids"] == []              # a metric violation's evidence is its points
    # the message shows values in their type's unit: bytes as 1Gi, not 1073741824
    assert v["message"] == "resources: memory_usage = 1Gi, cpu_usage = 0.95 at " \
        "1970-01-01T00:00:02.000Z"
    # protobuf metrics given as a trace input are not sniffed: an input error with the
    # byte offset, which says to use --metrics
    code, report, err = _monitor(d / "m.spec", d / "m.binpb")
    assert code == 2 and report["properties"][0]["instances"] == 0
    (error,) = report["errors"]
    assert "byte offset" in error and "--metrics" in error


def test_metric_invariant_needs_every_metric_before_it_evaluates(tmp_path):
    spec = tmp_path / "m.spec"
    spec.write_text(METRIC_SPEC)
    req = _metrics_request([("db", "system.cpu.utilization", SEC, 0.99, "gauge")])
    (tmp_path / "m.binpb").write_bytes(req.SerializeToString())
    code, report, _ = _monitor(spec, "--metrics", tmp_path / "m.binpb", DATA / "skew.json")
    # no memory value yet: the invariant is never evaluated for db
    assert report["violations"] == []
    assert code == 0


def test_real_literals_are_floats_at_runtime():
    # 3 of 5 failed: 3/5 == 0.6 as floats (an exact 3/5 against the float would differ)
    spans = [span(i, "op", i, i + 1, status="error" if i <= 3 else "ok") for i in range(1, 6)]
    assert report_of("property q: fraction(status == error) >= 0.6", spans)["violations"] == []
    assert report_of("property q: fraction(status == error) <= 0.6", spans)["violations"] == []


def test_message_values_are_in_the_unit_of_their_type():
    spans = [span(i, "db", i * 10 * MS, (i * 10 + 150) * MS, attrs={"bytes": 3 * 2**20 + i})
             for i in range(1, 4)]
    doc = report_of('property q "queries are fast": avg(duration) <= 100ms\n'
                    'property r message "took {duration}, moved {max(attr[\\"bytes\\"])}":\n'
                    '  max(duration) <= 100ms', spans)
    got = {v["property"]: v["message"] for v in doc["violations"]}
    assert got["q"] == "queries are fast: avg(duration) = 150ms"
    assert got["r"] == "took 150ms, moved 3145731"   # an attribute has no declared unit
