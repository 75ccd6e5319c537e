"""`Monitor.valuations(property)`: a past-time property's truth at every event, vs the reference."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic.errors import SpecError
from tracelogic.logic.reference import holds
from tracelogic.ingest.spans import Span

SPEC = tracelogic.load('pred a = name == "a"\npred b = name == "b"\n'
                       'property p_since: a S[<= 5ms] b\nproperty p_once: O[2ms, 6ms] a\n'
                       'property hist: H (a -> O b)\nproperty fut: F a', filename="v.spec")
MS = 10**6


@st.composite
def traces(draw):
    n = draw(st.integers(1, 8))
    out = []
    for i in range(n):
        start = draw(st.integers(0, 12))
        out.append(Span(name=draw(st.sampled_from("abc")), kind="internal", status="unset",
                        trace_id="1" * 32, span_id=f"{i + 1:016x}", parent_id="",
                        start_ns=start * MS, end_ns=(start + draw(st.integers(0, 3))) * MS,
                        service="x"))
    return out


@settings(max_examples=200, deadline=None)
@given(traces(), st.sampled_from(["p_since", "p_once", "hist"]))
def test_valuations_equal_the_reference_at_every_event(spans, name):
    mon = SPEC.monitor(record_events=True)
    mon.feed(spans)
    mon.close()
    [(_, rows)] = mon.valuations(name).items()
    cp = next(c for c in mon.compiled.properties if c.name == name)
    atoms = list(cp.monitor.atoms)
    letter = mon.compiled.letter
    word = []
    for ev, _ in rows:  # the atoms that hold at each event, then the reference evaluator
        mask = cp.mask(letter(ev.span, ev.is_start, None), 0)
        word.append((frozenset(a for i, a in enumerate(atoms) if mask >> i & 1), ev.time_ns))
    formula = cp.lowered.formula
    assert [v for _, v in rows] == [holds(formula, word, i) for i in range(len(word))]


def test_valuations_need_recording_and_a_past_formula():
    mon = SPEC.monitor()
    mon.feed([Span(name="a", kind="internal", status="unset", trace_id="1" * 32,
                   span_id="1" * 16, parent_id="", start_ns=0, end_ns=1, service="x")])
    mon.close()
    with pytest.raises(SpecError, match="record_events"):
        mon.valuations("p_since")
    rec = SPEC.monitor(record_events=True)
    rec.close()
    with pytest.raises(SpecError, match="future operators"):
        rec.valuations("fut")
