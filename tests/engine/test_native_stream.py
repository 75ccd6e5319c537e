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
from tests.native.test_stepping_native import specs, traces

pytest.importorskip("tracelogic._native")

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
_STEPS = st.sampled_from([0, 0, 3, 10, 10, 30, 61 * SECOND])  # idle_ns is 10


def _state(sm) -> tuple:
    return ([v.to_json() for v in sm.take_violations()], dict(sm.verdict_counts),
            dict(sm.vacuous), sm.counters().to_dict(), sm.take_done_traces(), sm.backlog)


# every generated spec has a per-trace property the core runs, beside the generated ones
CORE = 'property core:\n  G (name == "a" & start -> F (name == "b" & end))\n'


def _pair(text: str, max_open: int, max_instances: int, lateness: int):
    spec = tracelogic.load(CORE + text)
    clock = [0]
    kw = dict(idle_ns=10, lateness_ns=lateness, max_open_traces=max_open,
              max_instances=max_instances, clock=lambda: clock[0])
    ref = StreamingMonitor(spec, engine="python", **kw)
    nat = streaming_monitor(spec, engine="native", **kw)
    return spec, clock, ref, nat


@settings(max_examples=1500 if LONG else 60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 2, 100]), st.sampled_from([1, 100]),
       st.sampled_from([0, 1, SECOND]), st.data())
def test_the_streaming_core_decides_like_the_reference(text, requests, max_open,
                                                      max_instances, lateness, data):
    spec, clock, ref, nat = _pair(text, max_open, max_instances, lateness)
    assert isinstance(nat, NativeStreamingMonitor)
    for cp in nat.compiled.properties:  # which engine runs what is as documented
        a = nat.monitor.engine_plan[cp.name]
        if cp.prop.scope != "trace":
            assert a.engine == "python"
            assert a.fallback == CROSS_REASON or "does not cover" in a.fallback
        elif cp.timed or cp.n_registers or cp.prop.kind != "formula":
            assert a.engine == "python" and a.fallback == KIND_REASON
        elif property_reason(cp) is None:  # every atom of the generator runs in the core
            assert a.engine == "native", a
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


SHOP = """
property answered:
  G (name == "a" & start -> F (name == "b"))
property no_error:
  G !(status == error)
property per_key per attr["k"]:
  G (name == "c" & end -> WX G !(name == "c" & end))
"""


def test_the_core_runs_the_per_trace_properties_and_python_the_rest():
    """The split is visible: per-trace untimed properties in the core, cross-trace ones in
    Python with the reason; ``engine="python"`` gives the reference itself."""
    spec = tracelogic.load(SHOP)
    nat = streaming_monitor(spec, engine="native")
    assert isinstance(nat, NativeStreamingMonitor)
    assert {n: a.engine for n, a in nat.monitor.engine_plan.items()} == {
        "answered": "native", "no_error": "native", "per_key": "python"}
    assert nat.monitor.engine_plan["per_key"].fallback == CROSS_REASON
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
