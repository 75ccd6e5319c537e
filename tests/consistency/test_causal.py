"""Causal consistency over happens-before from traces: each bad pattern on a small
history whose causality comes from program order, parent/child spans or links, and the
same history without that edge (which is then consistent)."""
from __future__ import annotations

from tracelogic.consistency.causal import causal
from tracelogic.consistency.history import Operation
from tracelogic.ingest.spans import Span

T1, T2 = "1" * 32, "2" * 32


def op(i, f, v, client, span, call=None, status="ok"):
    call = i * 10 if call is None else call
    inp, out = (v, None) if f == "write" else (None, v)
    return Operation(i, f, inp, out, call, call + 1, status, "k", client, span=span)


def sp(trace, sid, parent="", links=()):
    return Span(name="s", trace_id=trace, span_id=sid, parent_id=parent, start_ns=0,
                end_ns=1, links=links)


def test_a_read_of_nil_below_a_write_in_the_same_trace():
    # the request span wrote k=1, then called a service (child span) that read nil
    spans = [sp(T1, "a" * 16), sp(T1, "b" * 16, parent="a" * 16)]
    ops = [op(0, "write", 1, "front", (T1, "a" * 16)),
           op(1, "read", None, "back", (T1, "b" * 16), call=0)]
    r = causal(ops, spans)
    assert [v.guarantee for v in r.violations] == ["initial-read"]
    assert causal(ops, [sp(T1, "a" * 16), sp(T1, "b" * 16)]).verdict() == "satisfied"


def test_a_link_carries_causality_across_traces():
    # a consumer (trace 2) linked to the producer's span read a value the producer had
    # overwritten before sending
    spans = [sp(T1, "a" * 16), sp(T2, "c" * 16, links=[(T1, "a" * 16)])]
    ops = [op(0, "write", 1, "p", None), op(1, "write", 2, "p", (T1, "a" * 16)),
           op(2, "read", 1, "c", (T2, "c" * 16), call=0)]
    r = causal(ops, spans)
    assert [v.guarantee for v in r.violations] == ["overwritten"]
    assert r.violations[0].operations[1].input == 2
    assert causal(ops, [sp(T1, "a" * 16), sp(T2, "c" * 16)]).verdict() == "satisfied"


def test_program_order_and_thin_air_and_cycles():
    ops = [op(0, "write", 1, "a", None), op(1, "read", None, "a", None)]
    assert [v.guarantee for v in causal(ops).violations] == ["initial-read"]
    assert [v.guarantee for v in causal([op(0, "read", 5, "a", None)]).violations] == [
        "thin-air"]
    # b reads a's second write, then writes 3; a's first op read 3: a cycle
    cyc = [op(0, "read", 3, "a", None), op(1, "write", 1, "a", None),
           op(2, "read", 1, "b", None), op(3, "write", 3, "b", None)]
    r = causal(cyc)
    assert [v.guarantee for v in r.violations] == ["cyclic"]
    assert len(r.violations[0].operations) == 4


def test_values_written_twice_are_inconclusive():
    r = causal([op(0, "write", 1, "a", None), op(1, "write", 1, "b", None),
                op(2, "read", 1, "c", None)])
    assert r.verdict() == "inconclusive"
