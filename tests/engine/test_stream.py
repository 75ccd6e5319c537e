"""The streaming monitor: idle completion, watermark and lateness, presumable verdicts,
eviction, reload, and agreement with file mode when nothing is late.

Every test runs both engines in lock step (``stream_pair.Both``): the reference and the
native streaming monitor must answer every call identically."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span
from tracelogic.engine.stream import SECOND, routing_keys
from tracelogic.testing.stream_workload import MS, SPEC, traces
from tests.engine.stream_pair import Both

T0 = 1_700_000_000 * SECOND


def spec(text: str = SPEC):
    return tracelogic.load(text, filename="shop.spec")


def span(name, tid, sid, start, end, parent="", **kw):
    return Span(name=name, trace_id=tid * 32 if len(tid) == 1 else tid,
                span_id=sid * 16 if len(sid) == 1 else sid, parent_id=parent,
                start_ns=T0 + start, end_ns=T0 + end, **kw)


def keyset(violations):
    return {(v.prop.name, v.key, tuple(v.span_ids)) for v in violations}


class Clock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


def test_streaming_equals_file_mode_when_nothing_is_late():
    ts = list(traces(600, orders=400, seed=3))
    mon = Monitor(spec())
    for t in ts:
        mon.feed(t)
    expected = keyset(mon.close().violations)
    clock = Clock()
    sm = Both(spec(), idle_ns=10, lateness_ns=SECOND, clock=clock)
    got = []
    for t in ts:
        sm.ingest(t)
        clock.now += 100
        sm.poll()
        got += sm.take_violations()
    sm.finish()
    got += sm.take_violations()
    assert sm.late_events == 0
    assert {p for p, _, _ in expected} >= {"no_error", "no_double_charge", "answered"}
    assert keyset(got) == expected
    assert len(got) == len(expected)  # each exactly once


def test_a_trace_is_decided_only_when_root_ended_and_idle():
    clock = Clock()
    sm = Both(spec(), idle_ns=5 * SECOND, clock=clock)
    sm.ingest([span("step1", "a", "2", 1, 2, parent="1" * 16, status="error")])
    clock.now = 10 * SECOND
    sm.poll()
    assert sm.take_violations() == []  # no root yet: not complete (rootless wait is longer)
    sm.ingest([span("POST /checkout", "a", "1", 0, 3 * MS, kind="server")])
    clock.now += 4 * SECOND
    sm.poll()
    assert sm.take_violations() == []  # root seen, but not idle long enough
    clock.now += 2 * SECOND
    sm.poll()
    got = sm.take_violations()
    assert {v.prop.name for v in got} == {"no_error", "answered"}
    assert sm.take_violations() == []  # taken once


def test_late_event_is_counted_and_makes_the_open_instance_inconclusive():
    text = SPEC + 'property charged_once_ok per attr["order.id"]:\n  G (charge -> F name == "refund")\n'
    clock = Clock()
    sm = Both(spec(text), idle_ns=1, lateness_ns=10 * MS, clock=clock)

    def trace(tid, t, order, name="charge"):
        return [span("POST /checkout", tid, "1", t, t + 5 * MS, kind="server"),
                span(name, tid, "2", t + 1 * MS, t + 2 * MS, parent="1" * 16,
                     attrs={"order.id": order}),
                span("reply", tid, "3", t + 3 * MS, t + 4 * MS, parent="1" * 16)]
    sm.ingest(trace("a", 0, "o-1"))
    clock.now += 10
    sm.poll()
    sm.ingest(trace("b", 100 * MS, "o-2"))
    clock.now += 10
    sm.poll()  # watermark is now 105ms - 10ms: trace a's events are released
    assert sm.verdicts()["charged_once_ok"]["o-1"] == "presumably_violated"
    assert sm.verdicts()["no_double_charge"]["o-1"] == "presumably_satisfied"
    assert sm.verdicts()["no_panic"]["*"] == "presumably_satisfied"
    sm.ingest(trace("c", 1 * MS, "o-1", name="refund"))  # behind the watermark: late
    clock.now += 10
    sm.poll()
    assert sm.late_events > 0
    assert sm.verdicts()["charged_once_ok"]["o-1"] == "inconclusive"
    assert sm.counters().late_events == sm.late_events


def test_a_final_verdict_is_not_changed_by_late_events_and_is_emitted_once():
    clock = Clock()
    sm = Both(spec(), idle_ns=1, lateness_ns=0, clock=clock)
    t1 = [span("POST /checkout", "a", "1", 0, 10 * MS, kind="server"),
          span("panic", "a", "2", 1 * MS, 2 * MS, parent="1" * 16)]
    sm.ingest(t1)
    clock.now += 10
    sm.poll()
    got = sm.take_violations()
    assert [v.prop.name for v in got if v.prop.name == "no_panic"] == ["no_panic"]
    assert sm.verdicts()["no_panic"]["*"] == "violated"
    sm.ingest([span("POST /checkout", "b", "1", 0, 1 * MS, kind="server"),
               span("panic", "b", "3", 0, 1 * MS, parent="1" * 16)])
    clock.now += 10
    sm.poll()
    assert [v for v in sm.take_violations() if v.prop.name == "no_panic"] == []
    assert sm.verdicts()["no_panic"]["*"] == "violated"


def test_evicted_traces_and_instances_are_incomplete_and_counted():
    clock = Clock()
    sm = Both(spec(), idle_ns=SECOND, max_open_traces=2, max_instances=1,
                          lateness_ns=0, clock=clock)
    for i, tid in enumerate("abc"):
        sm.ingest([span("step1", tid, "2", i, i + 1, parent="1" * 16, status="error")])
    assert sm.traces_evicted == 1
    assert sm.verdict_counts[("no_error", "incomplete")] == 1
    assert sm.take_violations() == []  # an evicted trace is never a violation
    # cross-trace instances beyond max_instances are evicted as incomplete
    for i, (tid, order) in enumerate((("d", "o-1"), ("e", "o-2"))):
        sm.ingest([span("POST /checkout", tid, "1", i * MS, i * MS + 2, kind="server"),
                   span("charge", tid, "2", i * MS, i * MS + 1, parent="1" * 16,
                        attrs={"order.id": order})])
        clock.now += 2 * SECOND
        sm.poll()
    assert sm.evicted_instances >= 1
    assert sm.verdicts()["no_double_charge"]["o-1"] == "incomplete"
    assert sm.verdict_counts[("no_double_charge", "incomplete")] >= 1


def test_done_traces_wait_for_their_cross_trace_events():
    clock = Clock()
    sm = Both(spec(), idle_ns=1, lateness_ns=SECOND, clock=clock)
    sm.ingest([span("POST /checkout", "a", "1", 0, MS, kind="server")])
    clock.now += 10
    sm.poll()
    assert sm.take_done_traces() == []  # its events wait for the watermark
    sm.ingest([span("POST /checkout", "b", "1", 2 * SECOND, 2 * SECOND + MS, kind="server")])
    clock.now += 10
    sm.poll()
    assert sm.take_done_traces() == ["a" * 32]
    sm.finish()
    assert sm.take_done_traces() == ["b" * 32]


def test_open_instances_and_buffered_events_are_public_counts():
    """What the sidecar's gauges read (tracelogic_open_instances, _buffered_events):
    the cross-trace state, through properties rather than the monitor's internals."""
    clock = Clock()
    sm = Both(spec(), idle_ns=1, lateness_ns=SECOND, clock=clock)

    def charge(tid, t):
        return [span("POST /checkout", tid, "1", t, t + 3 * MS, kind="server"),
                span("charge", tid, "2", t + MS, t + 2 * MS, parent="1" * 16,
                     attrs={"order.id": "o-9"})]
    assert (sm.open_instances, sm.buffered_events) == (0, 0)
    sm.ingest(charge("a", 0))
    clock.now += 10
    sm.poll()
    # trace a is complete; its 2 spans' start and end events wait for the watermark
    assert (sm.open_instances, sm.buffered_events) == (0, 4)
    sm.ingest(charge("f", 10 * SECOND))  # pushes the watermark past trace a
    clock.now += 10
    sm.poll()
    assert sm.buffered_events == 4  # a's events released, f's waiting
    assert sm.open_instances >= 1 and "o-9" in sm.verdicts()["no_double_charge"]
    c = sm.counters()
    assert (c.open_instances, c.buffered_events) == (sm.open_instances, sm.buffered_events)
    sm.finish()
    assert sm.buffered_events == 0


def test_reload_keeps_open_instances_of_unchanged_properties():
    clock = Clock()
    sm = Both(spec(), idle_ns=1, lateness_ns=0, clock=clock)

    def charge(tid, t):
        return [span("POST /checkout", tid, "1", t, t + 3 * MS, kind="server"),
                span("charge", tid, "2", t + MS, t + 2 * MS, parent="1" * 16,
                     attrs={"order.id": "o-9"})]
    sm.ingest(charge("a", 0))
    clock.now += 10
    sm.poll()
    sm.ingest(charge("f", 10 * SECOND))  # pushes the watermark past trace a
    clock.now += 10
    sm.poll()
    assert "o-9" in sm.verdicts()["no_double_charge"]
    changed = SPEC.replace('G !(name == "panic")', 'G !(name == "fatal")')
    summary = sm.reload(spec(changed))
    assert "no_double_charge" in summary["kept"] and summary["restarted"] == ["no_panic"]
    sm.ingest(charge("b", 20 * SECOND))
    clock.now += 10
    sm.poll()
    sm.finish()
    doubles = [v for v in sm.take_violations() if v.prop.name == "no_double_charge"]
    assert len(doubles) == 1 and doubles[0].key == "o-9"  # the instance survived the reload


def test_tumbling_window_aggregate_closes_under_the_watermark():
    text = ('pred failed = status == error\n'
            'property budget per service window 1s:\n  fraction(failed) <= 0.5\n')
    clock = Clock()
    sm = Both(spec(text), idle_ns=1, lateness_ns=0, clock=clock)
    for i, status in enumerate(("error", "error", "unset")):
        sm.ingest([span("op", "abc"[i], "1", i * MS, i * MS + 1, kind="server",
                        status=status, service="cart")])
    clock.now += 10
    sm.poll()
    assert sm.take_violations() == []  # the window [0, 1s) is still open
    sm.ingest([span("op", "d", "1", 2 * SECOND, 2 * SECOND + 1, service="cart")])
    clock.now += 10
    sm.poll()
    got = sm.take_violations()
    assert len(got) == 1 and got[0].key == "cart"
    # the same values, message and witness as file mode gives
    assert got[0].values == {"fraction(failed)": pytest.approx(2 / 3)}
    mon = Monitor(spec(text))
    for i, status in enumerate(("error", "error", "unset")):
        mon.feed([span("op", "abc"[i], "1", i * MS, i * MS + 1, kind="server",
                       status=status, service="cart")])
    (want,) = mon.close().violations
    assert (got[0].message, got[0].span_ids, got[0].window) == (want.message, want.span_ids,
                                                                want.window)


def test_metric_invariant_streams_one_violation_per_bad_episode():
    from tracelogic.ingest.metrics import DataPoint
    text = ('metric cpu = "system.cpu.utilization" : ratio\n'
            'metric invariant cpu_ok per service:\n  cpu < 0.9\n')
    sm = Both(spec(text))

    def p(v, t):
        return DataPoint("system.cpu.utilization", "gauge", v, T0 + t, service="cart")
    sm.feed_points([p(0.5, 1), p(0.95, 2), p(0.97, 3)])
    sm.feed_points([p(0.2, 4), p(0.99, 5)])
    got = sm.take_violations()
    assert [v.points[0]["time_unix_nano"] - T0 for v in got] == [2, 5]


def test_metric_instances_agree_with_file_mode():
    """A point without service.name belongs to no `per service` instance; two spec
    metrics bound to one OTLP metric both take its value."""
    from tracelogic.ingest.metrics import DataPoint
    text = ('metric cpu  = "system.cpu.utilization" : ratio\n'
            'metric cpu2 = "system.cpu.utilization" : ratio\n'
            'metric invariant cpu_ok per service:\n  cpu < 0.9 & cpu2 < 0.9\n')
    points = [DataPoint("system.cpu.utilization", "gauge", v, T0 + t, service=svc)
              for v, t, svc in ((0.95, 1, ""), (0.5, 2, "cart"), (0.97, 3, "cart"))]
    sm = Both(spec(text))
    sm.feed_points(points)
    streamed = [(v.key, v.values) for v in sm.take_violations()]
    mon = Monitor(spec(text))
    mon.feed_points(points)
    report = mon.close()
    assert streamed == [(v.key, v.values) for v in report.violations] == [
        ("cart", {"cpu": 0.97, "cpu2": 0.97})]
    assert [dict(p.results) for p in report.properties] == [{"cart": "violated"}]


def test_routing_keys_name_every_scope_once():
    assert routing_keys(spec()) == ["trace_id", 'attr["order.id"]', "global"]
    text = ('pred failed = status == error\n'
            'property budget per service window 1s:\n  fraction(failed) <= 0.5\n'
            'property p: G !failed\n')
    assert routing_keys(spec(text)) == ["service", "trace_id"]


def test_regression_a_trace_handed_out_twice_orders_its_buffered_events():
    """Found by the gRPC fuzz (test_fuzz_grpc.py): late spans of one trace, handed out
    twice before the watermark passed them, queued two heap entries with the same
    (time, trace id, index) -- and heapq then compared two Events: TypeError, the trace
    failed. Ties are broken by arrival order now."""
    clock = Clock()
    sm = Both(spec(), idle_ns=1, lateness_ns=SECOND, clock=clock)
    root = span("POST /checkout", "a", "1", 0, 5 * MS, kind="server",
                attrs={"order.id": "o-1"})
    sm.ingest([root])
    clock.now += 10
    sm.poll()  # handed out; its events wait for the watermark (1 s)
    for sid in ("2", "3"):  # two late spans, same times: the same heap position
        sm.ingest([span("charge", "a", sid, 1 * MS, 2 * MS, parent="1" * 16,
                        attrs={"order.id": "o-1"})])
        clock.now += 10
        sm.poll()
    sm.finish()
    assert sm.failures == 0, sm.take_failures()
    # both late charges reached the cross-trace instance: a double charge
    assert "no_double_charge" in {v.prop.name for v in sm.take_violations()}


@pytest.mark.parametrize("scope", ["", ' per attr["k"]'])
def test_streamed_violations_name_a_bounded_obligations_trigger_as_file_mode_does(scope):
    """Issue 15 item 5 in `serve`: a cross-trace instance is stepped one event at a time,
    so it keeps its latest state changes to name the deploy that opened the window; a
    per-trace one is stepped whole. Both name the trigger file mode names."""
    text = ('property p' + scope + ':\n'
            '  G (name == "deploy" & end -> G[<= 30ms] !(name == "http_5xx"))\n')
    spans = [span("root", "a", "1", 0, 100 * MS, attrs={"k": 1}),
             span("deploy", "a", "2", 10 * MS, 20 * MS, parent="1" * 16, attrs={"k": 1}),
             span("work", "a", "3", 21 * MS, 22 * MS, parent="1" * 16, attrs={"k": 1}),
             span("http_5xx", "a", "4", 40 * MS, 41 * MS, parent="1" * 16, attrs={"k": 1})]
    mon = Monitor(spec(text))
    mon.feed(spans)
    (expected,) = mon.close().violations
    assert expected.trigger.span.name == "deploy"
    clock = Clock()
    sm = Both(spec(text), idle_ns=10, lateness_ns=SECOND, clock=clock)
    sm.ingest(spans)
    clock.now += 100
    sm.poll()
    sm.finish()
    (got,) = sm.take_violations()
    assert got.to_json() == expected.to_json()


LOG_SPEC = """
property deploys_are_approved global:
  G (name == "deploy" & start -> O (signal == log & body contains "deploy approved"))
property no_error_log global:
  G !(signal == log & severity >= ERROR)
"""


def test_journal_keys_of_records_outside_traces_are_done_once_released():
    """The sidecar journals a log request under a key of its own (docs/logs.md, "Logs in
    serve"): the key is done when every record of it that went to the cross-trace scopes
    only (no trace context, or late) is released, at once when none did."""
    from tracelogic.ingest.logs import LogRecord

    clock = Clock()
    sm = Both(spec(LOG_SPEC), idle_ns=1, lateness_ns=SECOND, clock=clock)
    sm.ingest_logs([LogRecord(time_ns=T0, body="deploy approved", service="ops")],
                   "logs:free")
    assert sm.take_done_log_keys() == []  # it waits for the watermark
    sm.ingest_logs([LogRecord(time_ns=T0, body="x", trace_id="c" * 32)], "logs:ctx")
    assert sm.take_done_log_keys() == ["logs:ctx"]  # waits with its trace, not the key
    sm.ingest([span("deploy", "d", "1", 2 * SECOND, 2 * SECOND + MS)])
    clock.now += 10
    sm.poll()
    assert sm.take_done_log_keys() == ["logs:free"]  # released under the watermark
    assert sm.decided_trace("d" * 32) and not sm.decided_trace("e" * 32)
    late = LogRecord(time_ns=T0 + 3 * SECOND, severity=17, body="late", trace_id="d" * 32)
    sm.ingest_logs([late], "logs:late")
    assert sm.ref.late_log_records == 1 and sm.take_done_log_keys() == []
    sm.release_all()
    assert sm.take_done_log_keys() == ["logs:late"]
    assert {v.prop.name for v in sm.take_violations()} == {"no_error_log"}
    # a replay sends records of decided traces to the cross-trace scopes, none late
    sm.ingest_logs([LogRecord(time_ns=T0 + 9 * SECOND, body="y", trace_id="d" * 32)],
                   "logs:replayed", True)
    assert sm.ref.late_log_records == 1 and sm.take_done_log_keys() == []
    sm.finish()
    assert sm.take_done_log_keys() == ["logs:replayed"]


def test_a_journal_key_is_done_at_once_when_no_property_reads_logs():
    from tracelogic.ingest.logs import LogRecord

    sm = Both(spec(), idle_ns=1, lateness_ns=SECOND, clock=Clock())
    sm.ingest_logs([LogRecord(time_ns=T0, body="x")], "logs:k")
    assert sm.take_done_log_keys() == ["logs:k"]
    assert not sm.ref.sees_logs and not sm.nat.sees_logs
