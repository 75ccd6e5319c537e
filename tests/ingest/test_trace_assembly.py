"""Trace assembly: file and streaming modes, duplicates, eviction, counters. No sleeps."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tracelogic.errors import InputError
from tracelogic.ingest.assembly import SECOND, Assembler, assemble_all
from tracelogic.ingest.otlp import read_path
from tracelogic.ingest.spans import Span

from .otlp_testdata import DATA, checkout_trace, record, two_traces


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


def sp(trace: int, sid: int, parent: int | None = None, start: int = 0, end: int = 1,
       name: str = "") -> Span:
    return Span(name=name or f"{trace}/{sid}", trace_id=f"{trace:032x}", span_id=f"{sid:016x}",
                parent_id=f"{parent:016x}" if parent else "", start_ns=start, end_ns=end)


# -- file mode ----------------------------------------------------------------------

def test_file_mode_groups_out_of_order_interleaved_spans():
    res = read_path(DATA / "out_of_order.json")
    results = assemble_all(res.spans)
    assert [r.outcome for r in results] == ["complete", "complete"]
    assert all(r.reason == "end of input" for r in results)
    a, b = results  # sorted by trace start time
    assert a.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert [s.name for s in a.trace] == ["GET /a", "SELECT items"]
    assert a.trace.root.name == "GET /a" and not a.trace.is_partial
    assert a.trace.parent(a.trace.get("00f067aa0ba902b7")).service == "web"
    assert [f"{e.span.name}.{e.kind}" for e in b.trace.events] == [
        "GET /b.start", "cache get.start", "cache get.end", "GET /b.end"]


def test_sdk_traces_through_protobuf_requests_in_reverse_order():
    sdk = record(checkout_trace) + record(two_traces)
    asm = Assembler(clock=FakeClock())
    for s in reversed(sdk):  # one request per span, children before parents
        asm.feed_pb(encode_spans([s]).SerializeToString())
    results = asm.close()
    assert sorted(len(r.trace) for r in results) == [2, 2, 5]
    assert all(r.complete and r.trace.root is not None for r in results)
    c = asm.counters()
    assert (c.received, c.decoded, c.rejected, c.completed, c.open_traces) == (9, 9, 0, 3, 0)


def test_feed_sdk_spans():
    asm = Assembler(clock=FakeClock())
    asm.feed_sdk(record(two_traces))
    assert [len(r.trace) for r in asm.close()] == [2, 2]
    assert asm.counters().decoded == 4


def test_duplicate_spans_across_requests_are_dropped_and_counted():
    asm = Assembler(clock=FakeClock())
    for line in (DATA / "duplicates.jsonl").read_text().splitlines():
        asm.feed_json(json.loads(line), source="duplicates.jsonl")
    (r,) = asm.close()
    assert sorted(s.name for s in r.trace) == ["child", "other child", "root"]
    c = asm.counters()
    assert c.duplicates == 1 and c.received == 4 and c.decoded == 4
    assert r.trace.duplicates == 0  # dropped before the trace was built


def test_rejected_spans_show_in_counters():
    asm = Assembler(clock=FakeClock())
    asm.feed_json(json.loads((DATA / "bad_ids.json").read_text()))
    c = asm.counters()
    assert (c.received, c.decoded, c.rejected) == (9, 2, 7)
    assert c.open_traces == 1 and c.open_spans == 2


def test_feed_pb_raises_for_corrupt_input_and_adds_nothing():
    asm = Assembler(clock=FakeClock())
    with pytest.raises(InputError, match="byte offset"):
        asm.feed_pb(b"\x0a\x05\x0a\x03")
    assert asm.counters().open_traces == 0


# -- streaming mode -----------------------------------------------------------------

def test_streaming_completes_after_root_and_idle_time():
    clock = FakeClock()
    asm = Assembler(idle_ns=10 * SECOND, clock=clock)
    asm.add([sp(1, 2, parent=1)])          # a child first
    clock.advance(5)
    assert asm.poll() == []                # no root yet
    asm.add([sp(1, 1)])                    # the root arrives at t=5s
    clock.advance(9.9)
    assert asm.poll() == []                # idle 9.9 s < 10 s
    asm.add([sp(1, 3, parent=1)])          # another span resets the idle time
    clock.advance(9.9)
    assert asm.poll() == []
    clock.advance(0.1)
    (r,) = asm.poll()
    assert r.complete and len(r.trace) == 3 and "root seen, idle for 10 s" == r.reason
    assert asm.counters().open_traces == 0 and asm.counters().completed == 1


def test_streaming_rootless_trace_is_handed_out_as_partial_after_longer_idle():
    clock = FakeClock()
    asm = Assembler(idle_ns=2 * SECOND, rootless_idle_ns=30 * SECOND, clock=clock)
    asm.add([sp(1, 2, parent=1)])
    asm.add([sp(2, 1)])
    clock.advance(3)
    (done,) = asm.poll()
    assert done.trace_id == f"{2:032x}"   # the rooted trace; the rootless one waits
    clock.advance(26.9)
    assert asm.poll() == []
    clock.advance(0.1)
    (r,) = asm.poll()
    assert r.complete and r.trace.is_partial and r.reason.startswith("no root arrived")


def test_streaming_interleaved_traces_complete_independently():
    clock = FakeClock()
    asm = Assembler(idle_ns=SECOND, clock=clock)
    asm.add([sp(1, 1), sp(2, 1)])
    clock.advance(0.5)
    asm.add([sp(2, 2, parent=1)])
    clock.advance(0.5)
    assert [r.trace_id[-1] for r in asm.poll()] == ["1"]
    clock.advance(0.5)
    assert [r.trace_id[-1] for r in asm.poll()] == ["2"]


def test_late_spans_and_late_duplicates():
    clock = FakeClock()
    asm = Assembler(idle_ns=SECOND, clock=clock)
    asm.add([sp(1, 1), sp(1, 2, parent=1)])
    clock.advance(1)
    (first,) = asm.poll()
    asm.add([sp(1, 2, parent=1)])          # a retry of an already handed-out span
    asm.add([sp(1, 3, parent=1)])          # a new span of a finished trace: late
    asm.add([sp(1, 1)])                    # a retry while the late trace is open
    clock.advance(1)
    (late,) = asm.poll()
    assert first.complete and late.outcome == "late" and [s.span_id[-1] for s in late.trace] == ["3"]
    c = asm.counters()
    assert (c.duplicates, c.late, c.completed) == (2, 1, 1)


# -- bounded memory -----------------------------------------------------------------

def test_eviction_is_explicit_counted_and_oldest_first():
    clock = FakeClock()
    asm = Assembler(max_open_traces=2, clock=clock)
    assert asm.add([sp(1, 1)]) == []
    clock.advance(1)
    assert asm.add([sp(2, 1)]) == []
    clock.advance(1)
    asm.add([sp(1, 2, parent=1)])         # trace 1 is active again: trace 2 is now oldest
    clock.advance(1)
    (ev,) = asm.add([sp(3, 1)])
    assert ev.outcome == "incomplete" and not ev.complete and ev.trace_id.endswith("2")
    assert "max_open_traces=2" in ev.reason
    c = asm.counters()
    assert (c.evicted, c.open_traces, c.open_spans) == (1, 2, 3)
    rest = asm.close()
    assert sorted(r.trace_id[-1] for r in rest) == ["1", "3"]


def test_span_cap_evicts_too():
    asm = Assembler(max_open_spans=3, clock=FakeClock())
    asm.add([sp(1, 1), sp(1, 2, parent=1)])
    (ev,) = asm.add([sp(2, 1), sp(2, 2, parent=1)])
    assert ev.outcome == "incomplete" and ev.trace_id.endswith("1") and len(ev.trace) == 2
    assert asm.counters().open_spans == 2


def test_open_spans_counts_the_spans_of_open_traces():
    # public, for the sidecar's tracelogic_open_spans gauge
    asm = Assembler(clock=FakeClock())
    assert asm.open_spans == 0
    asm.add([sp(1, 1), sp(1, 2, parent=1), sp(2, 1)])
    assert asm.open_spans == 3 == asm.counters().open_spans
    asm.add([sp(1, 2, parent=1)])  # a repeat is dropped, not buffered
    assert asm.open_spans == 3
    asm.close()
    assert asm.open_spans == 0


def test_assemble_all_with_a_cap_reports_incomplete():
    spans = [sp(t, 1) for t in range(1, 6)]
    results = assemble_all(spans, max_open_traces=3)
    assert sorted(r.outcome for r in results) == ["complete"] * 3 + ["incomplete"] * 2
    assert sum(len(r.trace) for r in results) == 5


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="max_open_traces=0"):
        Assembler(max_open_traces=0)
    with pytest.raises(ValueError, match="idle_ns=-1"):
        Assembler(idle_ns=-1)
    with pytest.raises(ValueError, match="rootless_idle_ns=1 must be >= idle_ns=2"):
        Assembler(idle_ns=2, rootless_idle_ns=1)


# -- properties ---------------------------------------------------------------------

@st.composite
def deliveries(draw):
    """Spans of a few traces, split into requests in any order, with retried requests."""
    spans = []
    for t in range(1, draw(st.integers(1, 4)) + 1):
        n = draw(st.integers(1, 5))
        for i in range(1, n + 1):
            spans.append(sp(t, i, parent=draw(st.integers(1, i - 1)) if i > 1 else None,
                            start=i, end=i + 3))
    order = draw(st.permutations(spans))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=4)))
    requests, prev = [], 0
    for c in cuts + [len(order)]:
        requests.append(order[prev:c])
        prev = c
    retried = draw(st.lists(st.sampled_from(range(len(requests))), max_size=3))
    for i in retried:
        requests.insert(draw(st.integers(i + 1, len(requests))), requests[i])
    return spans, requests


@settings(max_examples=200, deadline=None)
@given(deliveries(), st.integers(1, 5))
def test_assembly_is_order_independent_and_loses_nothing(case, cap):
    spans, requests = case
    asm = Assembler(max_open_traces=cap, remember_completed=100, clock=FakeClock())
    results = []
    for req in requests:
        results += asm.add(req)
    results += asm.close()
    c = asm.counters()
    # conservation: every distinct span is in exactly one result; repeats are counted
    got = [s.key for r in results for s in r.trace]
    assert sorted(got) == sorted({s.key for s in spans})
    assert c.duplicates == sum(len(r) for r in requests) - len(spans)
    assert c.evicted == sum(r.outcome == "incomplete" for r in results)
    assert c.late == sum(len(r.trace) for r in results
                         if r.outcome == "late" or r.reason.startswith("late spans evicted"))
    assert c.open_traces == 0 and c.open_spans == 0
    if cap >= 4:  # nothing evicted: each trace comes out whole, as plain grouping gives
        assert c.evicted == 0 and c.late == 0
        expected: dict[str, set[str]] = {}
        for s in spans:
            expected.setdefault(s.trace_id, set()).add(s.span_id)
        assert {r.trace_id: {s.span_id for s in r.trace} for r in results} == expected


@settings(max_examples=100, deadline=None)
@given(deliveries(), st.integers(1, 3))
def test_with_little_memory_spans_may_repeat_but_are_never_lost(case, cap):
    # remember_completed defaults to max_open_traces: a retry of a trace forgotten
    # since is assembled again (documented), but no span ever disappears.
    spans, requests = case
    asm = Assembler(max_open_traces=cap, clock=FakeClock())
    results = [r for req in requests for r in asm.add(req)] + asm.close()
    got = {s.key for r in results for s in r.trace}
    assert got == {s.key for s in spans}
    delivered = sum(len(r) for r in requests)
    assert sum(len(r.trace) for r in results) + asm.counters().duplicates == delivered
