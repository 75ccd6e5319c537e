"""The sidecar's streaming monitor on the core (``engine/native_stream.py``) against the
reference :class:`StreamingMonitor` (issue 17 step 5).

Generated specs × generated span streams: traces split across requests, spans out of
order, repeated (an exporter's retry), traces without a root or with missing parents,
spans arriving after their trace was decided (late), and a small ``max_open_traces`` /
``max_instances`` so traces and instances are evicted. Between requests the clock moves
on by steps that make traces idle (or not), and ``poll`` decides all or only a few of the
completed traces. The reference decodes each request with the Python decoder and ingests
the spans; the native monitor gets the request's bytes. After every step the two must
agree on the violations taken (records, in order), the verdict counts, the vacuous counts,
the counters, the traces done and the backlog; at the end on ``finish`` and ``verdicts``.
The specs mix per-trace properties (the core's) with cross-trace and timed ones (the
Python part's), so the merge of the two is checked too.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.native_stream import (CROSS_REASON, KIND_REASON,
                                             NativeStreamingMonitor,
                                             streaming_monitor)
from tracelogic.engine.plan import property_reason
from tracelogic.engine.stream import SECOND, StreamingMonitor
from tracelogic.ingest.otlp import DecodeStats, spans_to_request
from tracelogic.sidecar.server import decode_request
from tests.native.test_registers_native import specs as register_specs
from tests.native.test_stepping_native import specs, traces

pytest.importorskip("tracelogic._native")

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
_STEPS = st.sampled_from([0, 0, 3, 10, 10, 30, 61 * SECOND])  # idle_ns is 10


def _state(sm) -> tuple:
    return ([v.to_json() for v in sm.take_violations()], dict(sm.verdict_counts),
            dict(sm.vacuous), sm.counters().to_dict(), sm.take_done_traces(), sm.backlog)


def _lockstep(ref, nat, traces, clock: list[int]) -> None:
    """Feed both monitors each trace in turn, the clock 100 ns on after each, and check
    that they poll the same and hold the same state throughout and after finishing."""
    for t in traces:
        ref.ingest(t)
        nat.ingest_otlp(spans_to_request(t).SerializeToString(), DecodeStats())
        clock[0] += 100
        assert nat.poll() == ref.poll()
        assert _state(nat) == _state(ref)
    ref.finish()
    nat.finish()
    assert _state(nat) == _state(ref)


def _monitors(spec: Any, **kw: Any) -> tuple[list[int], Any, Any]:
    """A clock the caller moves (``clock[0]``), and the reference's and the core's
    streaming monitors of ``spec`` on it (options ``kw``, traces idle after 10 ns)."""
    clock = [0]
    kw.update(idle_ns=10, clock=lambda: clock[0])
    return (clock, StreamingMonitor(spec, engine="python", **kw),
            streaming_monitor(spec, engine="native", **kw))


def _core_runs(cp) -> bool:
    """Whether the streaming core steps this property (when its scope's engine is native)."""
    return (cp.prop.kind == "formula" and not cp.timed
            and not (cp.n_registers and cp.prop.scope != "trace")
            and property_reason(cp) is None)


def _assert_split(nat) -> None:
    """Which engine runs what is as documented: untimed, register-free formulas in the core;
    the cross-trace scopes all in the core or, if one of them cannot be, all in Python."""
    cross = [cp for cp in nat.compiled.properties if cp.prop.scope != "trace"]
    for cp in nat.compiled.properties:
        a = nat.monitor.engine_plan[cp.name]
        if cp.timed or cp.prop.kind != "formula" or (cp.n_registers
                                                     and cp.prop.scope != "trace"):
            assert a.engine == "python" and a.fallback == KIND_REASON, a
        elif property_reason(cp) is not None:
            assert a.engine == "python", a
        elif cp.prop.scope == "trace" or all(_core_runs(c) for c in cross):
            assert a.engine == "native", a
        else:
            assert a.engine == "python" and a.fallback == CROSS_REASON, a


# every generated spec has a per-trace property the core runs, beside the generated ones
CORE = 'property core:\n  G (name == "a" & start -> F (name == "b" & end))\n'


def _pair(text: str, max_open: int, max_instances: int, lateness: int):
    spec = tracelogic.load(CORE + text)
    clock, ref, nat = _monitors(spec, lateness_ns=lateness, max_open_traces=max_open,
                                max_instances=max_instances)
    return spec, clock, ref, nat


@settings(max_examples=1500 if LONG else 60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 2, 100]), st.sampled_from([0, 1, 100]),
       st.sampled_from([0, 1, SECOND]), st.data())
def test_the_streaming_core_decides_like_the_reference(text, requests, max_open,
                                                      max_instances, lateness, data):
    spec, clock, ref, nat = _pair(text, max_open, max_instances, lateness)
    assert isinstance(nat, NativeStreamingMonitor)
    _assert_split(nat)
    _drive(clock, ref, nat, requests, data)


def _drive(clock, ref, nat, requests, data) -> None:
    """Feed ``requests`` to both, with polls at clock steps drawn from ``data``; they must
    agree after every step, and at the end on ``finish`` and ``verdicts``."""
    for spans in requests:
        payload = spans_to_request(spans).SerializeToString()
        got, _ = decode_request("traces", "protobuf", payload, wanted_attrs=ref.wanted_attrs,
                                wanted_metrics=frozenset())
        ref.ingest(got)
        stats = DecodeStats()
        nat.ingest_otlp(payload, stats)
        assert stats.decoded == len(got)
        assert _state(nat) == _state(ref)
        for _ in range(data.draw(st.integers(0, 2))):
            clock[0] += data.draw(_STEPS)
            limit = data.draw(st.sampled_from([None, None, 1, 2]))
            assert nat.poll(limit=limit) == ref.poll(limit=limit)
            assert _state(nat) == _state(ref)
    if data.draw(st.booleans()):
        ref.release_all()
        nat.release_all()
        assert _state(nat) == _state(ref)
    ref.finish()
    nat.finish()
    assert _state(nat) == _state(ref)
    assert nat.verdicts() == ref.verdicts()


@settings(max_examples=600 if LONG else 30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(register_specs(), traces(), st.sampled_from([1, 100]), st.sampled_from([0, 1, 100]),
       st.sampled_from([0, 1, SECOND]), st.data())
def test_per_trace_registers_stream_like_the_reference(text, requests, max_open,
                                                       max_instances, lateness, data):
    """``prev``/``last`` registers per trace run in the streaming core (cross-trace ones,
    and with them every cross-trace scope, in Python)."""
    spec, clock, ref, nat = _pair(text, max_open, max_instances, lateness)
    for cp in nat.compiled.properties:
        a = nat.monitor.engine_plan[cp.name]
        if cp.prop.scope == "trace" and cp.n_registers and not cp.timed:
            assert a.fallback != KIND_REASON, a  # the core's, unless an atom is refused
            if property_reason(cp) is None and a.engine == "python":
                assert "register" in a.fallback or "condition" in a.fallback, a
    _drive(clock, ref, nat, requests, data)


SHOP = """
property answered:
  G (name == "a" & start -> F (name == "b"))
property no_error:
  G !(status == error)
property per_key per attr["k"]:
  G (name == "c" & end -> WX G !(name == "c" & end))
"""


def test_the_core_runs_untimed_formulas_per_trace_and_across_traces():
    """The split is visible: untimed formulas in the core, per trace and per key; a timed
    cross-trace property takes every cross-trace scope to Python, with the reason;
    ``engine="python"`` gives the reference itself."""
    spec = tracelogic.load(SHOP)
    nat = streaming_monitor(spec, engine="native")
    assert isinstance(nat, NativeStreamingMonitor)
    assert {n: a.engine for n, a in nat.monitor.engine_plan.items()} == {
        "answered": "native", "no_error": "native", "per_key": "native"}
    assert nat.py is None  # nothing left for Python: no Span object is made
    timed = tracelogic.load(SHOP + 'property soon per service:\n  G (start -> F[<= 1s] end)\n')
    nat = streaming_monitor(timed, engine="native")
    assert {n: (a.engine, a.fallback) for n, a in nat.monitor.engine_plan.items()} == {
        "answered": ("native", None), "no_error": ("native", None),
        "per_key": ("python", CROSS_REASON), "soon": ("python", KIND_REASON)}
    ref = streaming_monitor(spec, engine="python")
    assert type(ref) is StreamingMonitor
    assert set(ref.monitor.engines.values()) == {"python"}


def test_a_reload_keeps_open_traces_and_decides_them_with_the_new_plan():
    from tracelogic.ingest.spans import Span

    clock = [0]
    kw = dict(idle_ns=10, lateness_ns=0, clock=lambda: clock[0])
    old = tracelogic.load(SHOP)
    new = tracelogic.load(SHOP.replace("G !(status == error)", "G !(name == \"b\")"))
    ref = StreamingMonitor(old, engine="python", **kw)
    nat = streaming_monitor(old, engine="native", **kw)
    spans = [Span(name="a", trace_id="1" * 32, span_id="1" * 16, start_ns=1, end_ns=5,
                  attrs={"k": 1}),
             Span(name="b", trace_id="1" * 32, span_id="2" * 16, parent_id="1" * 16,
                  start_ns=2, end_ns=3)]
    payload = spans_to_request(spans).SerializeToString()
    ref.ingest(spans)
    nat.ingest_otlp(payload, DecodeStats())
    assert nat.reload(new) == ref.reload(new)
    clock[0] += 20
    assert nat.poll() == ref.poll() == 1
    got = _state(nat)
    assert got == _state(ref)
    # the trace open at the reload is decided by the new definition of no_error
    assert [v["property"] for v in got[0]] == ["no_error"]


def test_the_serve_benchmark_spec_runs_in_the_core_with_no_fallback():
    """bench_serve's 20 properties (19 per trace, one per attr["order.id"]): every one in
    the core, so the engine thread builds no Span object."""
    from tracelogic.testing.stream_workload import bench_spec

    nat = streaming_monitor(tracelogic.load(bench_spec(20)), engine="native")
    assert isinstance(nat, NativeStreamingMonitor)
    engines = {n: (a.engine, a.fallback) for n, a in nat.monitor.engine_plan.items()}
    assert len(engines) == 20
    assert set(engines.values()) == {("native", None)}
    assert nat.py is None and not nat._py_spans
    assert [cp.name for cp in nat.plan.properties if cp.prop.scope != "trace"] == [
        "p19_double"]


@pytest.mark.parametrize("kw", [dict(lateness_ns=-1), dict(max_instances=-1),
                                dict(lateness_ns=1.5), dict(max_instances="3"),
                                dict(lateness_ns=None)])
def test_the_limits_are_checked_in_the_references_words(kw):
    spec = tracelogic.load(SHOP)
    with pytest.raises(ValueError) as ref:
        StreamingMonitor(spec, engine="python", **kw)
    with pytest.raises(ValueError) as nat:
        streaming_monitor(spec, engine="native", **kw)
    assert str(nat.value) == str(ref.value)
    assert "must be a non-negative int" in str(ref.value)


CROSS = """
property charged_once per attr["k"]:
  G (name == "c" & end -> WX G !(name == "c" & end))
property answered per attr["k"]:
  G (name == "a" & start -> F (name == "b"))
property quiet per service:
  G !(status == error)
property a_first global:
  !(name == "b") W (name == "a")
"""


@st.composite
def _stream(draw) -> list[list]:
    """One request per trace (root and up to two children, times drawn so that trace end
    times go back and forth: late events), scope keys from a small set (instances are
    shared, evicted, decided), and now and then a span of an earlier trace sent again
    later (late spans, or a duplicate)."""
    from tracelogic.ingest.spans import Span

    requests: list[list] = []
    sent: list = []
    for t in range(draw(st.integers(1, 14))):
        t0 = draw(st.integers(0, 40)) * 1_000_000
        tid = f"{t + 1:032x}"
        spans = []
        for i in range(draw(st.integers(1, 3))):
            start = t0 + draw(st.integers(0, 3)) * 1_000_000
            key = draw(st.sampled_from([None, 1, 2, 3, "1", b"k"]))
            spans.append(Span(
                name=draw(st.sampled_from("abc")), trace_id=tid, span_id=f"{i + 1:016x}",
                parent_id="" if i == 0 else f"{1:016x}", start_ns=start,
                end_ns=start + draw(st.sampled_from([0, 1, 2])) * 1_000_000,
                status=draw(st.sampled_from(["unset", "unset", "error"])),
                service=draw(st.sampled_from(["s1", "s2"])),
                attrs={} if key is None else {"k": key}))
        requests.append(spans)
        sent += spans
        if draw(st.integers(0, 4)) == 0:  # a later span of an earlier trace, or a retry
            old = draw(st.sampled_from(sent))
            late = Span(name=draw(st.sampled_from("abc")), trace_id=old.trace_id,
                        span_id=draw(st.sampled_from([old.span_id, f"{9:016x}"])),
                        parent_id=f"{1:016x}", start_ns=old.start_ns, end_ns=old.end_ns,
                        service=old.service, attrs=dict(old.attrs))
            requests.append([late])
    return requests


@settings(max_examples=1000 if LONG else 40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_stream(), st.sampled_from([1, 3, 100]), st.sampled_from([0, 1, 2, 100]),
       st.sampled_from([0, 1_000_000, 5_000_000, SECOND]), st.data())
def test_cross_trace_scopes_stream_like_the_reference(requests, max_open, max_instances,
                                                      lateness, data):
    """The core's watermark, late events, ``max_instances`` eviction and instance evidence
    against the reference, on streams with late events and evictions."""
    spec, clock, ref, nat = _pair(CROSS, max_open, max_instances, lateness)
    assert nat.py is None  # every property here runs in the core
    for spans in requests:
        ref.ingest(spans)
        nat.ingest_otlp(spans_to_request(spans).SerializeToString(), DecodeStats())
        assert _state(nat) == _state(ref)
        clock[0] += data.draw(st.sampled_from([0, 5, 11, 61 * SECOND]))
        limit = data.draw(st.sampled_from([None, None, 1]))
        assert nat.poll(limit=limit) == ref.poll(limit=limit)
        assert _state(nat) == _state(ref)
        assert nat.verdicts() == ref.verdicts()
    if data.draw(st.booleans()):
        ref.release_all()
        nat.release_all()
        assert _state(nat) == _state(ref)
    ref.finish()
    nat.finish()
    assert _state(nat) == _state(ref)
    assert nat.verdicts() == ref.verdicts()


@pytest.mark.parametrize("lateness,max_instances", [(SECOND, 100_000), (0, 3), (0, 0)])
def test_a_shuffled_checkout_stream_has_late_events_and_evictions_and_agrees(
        lateness, max_instances):
    """The workload's traces out of time order: the watermark passes events of traces
    still to come (late events, inconclusive instances), and few instances may be open
    (evictions, incomplete); the core gives the reference's violations, counts and
    verdicts after every poll."""
    import random

    from tracelogic.testing.stream_workload import SPEC, traces as checkout

    text = SPEC + 'property refunded per attr["order.id"]:\n  G (charge -> F name == "refund")\n'
    clock, ref, nat = _monitors(tracelogic.load(text), lateness_ns=lateness,
                                max_instances=max_instances)
    assert nat.py is None
    ts = list(checkout(150, orders=30, seed=3))
    random.Random(1).shuffle(ts)
    _lockstep(ref, nat, ts, clock)
    assert nat.verdicts() == ref.verdicts()
    assert ref.late_events > 0 or lateness  # the shuffle makes events late
    assert (ref.evicted_instances > 0) == (max_instances < 30)
    if not lateness and max_instances:  # late events left open instances inconclusive
        assert "inconclusive" in {v for d in ref.verdicts().values() for v in d.values()}


def test_registers_run_in_the_core_per_trace_and_in_python_across_traces():
    spec = tracelogic.load('property r:\n  G (prev(attr["x"]) in [0, 1, 5])\n'
                           'property q per attr["k"]:\n  G (prev(attr["x"]) in [0, 1, 5])\n'
                           'property k per attr["k"]:\n  G !(name == "a")\n')
    nat = streaming_monitor(spec, engine="native")
    assert {n: (a.engine, a.fallback) for n, a in nat.monitor.engine_plan.items()} == {
        "r": ("native", None), "q": ("python", KIND_REASON), "k": ("python", CROSS_REASON)}


@pytest.mark.parametrize("shape_cache", [0, 1, 4096])
def test_traces_of_one_shape_take_their_outcomes_from_the_cores_shape_cache(shape_cache):
    """The core steps the register-free per-trace properties once per trace shape (the
    letters, event by event), as the reference's trace-shape cache does: the checkout
    workload (few shapes, many traces, some violated, a partial one) gives the reference's
    violations and counts with no cache, a cache of one shape, and the default."""
    from tracelogic.testing.stream_workload import SPEC, traces as checkout

    text = SPEC + 'property reg:\n  G (prev(name) != "charge" | name != "charge")\n'
    clock, ref, nat = _monitors(tracelogic.load(text), lateness_ns=SECOND,
                                shape_cache=shape_cache)
    ts = list(checkout(120, orders=30, seed=5))
    ts[7] = ts[7][1:]  # its first span (not the root) missing: a partial trace
    _lockstep(ref, nat, ts, clock)
    hits, misses = nat._core.shape_counts()
    assert hits + misses == (0 if shape_cache == 0 else 120)
    assert (hits > 0) == bool(shape_cache) and nat.shape_hits == hits
