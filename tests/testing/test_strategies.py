"""Hypothesis strategies: valid and mutated workflow traces, judged by the reference semantics."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tracelogic.models import semantics
from tracelogic.models.workflow import END, START, Event, from_ast
from tracelogic.ingest.events import Trace
from tracelogic.ingest.otlp import decode_traces_pb
from tracelogic.spec.loader import load
from tracelogic.testing.strategies import mutated_traces_from, spans, traces_from

SPEC = load("examples/language/workflow.spec")
ORDER = SPEC.workflows["order"]
WF = from_ast(ORDER.expr)
COMPS = dict(ORDER.compensations)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def projected(trace) -> list[Event]:
    """The word the spans give back: step spans' events in trace event order (§6)."""
    names = {}
    for step, pred in ORDER.steps.items():
        names.setdefault(step, step)
    step_of = {s.span_id: s.attrs.get("workflow.step") for s in trace.spans}
    out = []
    for ev in Trace(trace.spans).events:
        step = step_of.get(ev.span.span_id)
        if step:
            out.append(Event(step, START if ev.is_start else END,
                             ev.is_end and ev.span.status == "error"))
    return out


@SETTINGS
@given(traces_from(ORDER))
def test_valid_traces_conform_and_satisfy_the_saga(trace):
    assert semantics.conforms(WF, list(COMPS.values()), trace.word)
    assert semantics.saga(WF, COMPS, trace.word)
    assert projected(trace) == list(trace.word)       # the spans say exactly the word
    assert {s.trace_id for s in trace.spans} == {trace.trace_id}
    assert len({s.span_id for s in trace.spans}) == len(trace.spans)
    root = trace.spans[0]
    assert all(s.parent_id == root.span_id for s in trace.spans[1:])
    assert all(root.start_ns <= s.start_ns <= s.end_ns <= root.end_ns for s in trace.spans)


@SETTINGS
@given(mutated_traces_from(ORDER))
def test_mutated_traces_violate_conforms_or_saga(trace):
    assert trace.mutation is not None
    ok = semantics.conforms(WF, list(COMPS.values()), trace.word) and \
        semantics.saga(WF, COMPS, trace.word)
    assert not ok
    assert projected(trace) == list(trace.word)


def test_all_four_mutations_are_reachable():
    from hypothesis import find

    for kind in ("missing step", "swapped order", "failed without compensation",
                 "compensation out of order"):
        found = find(mutated_traces_from(ORDER), lambda t, k=kind: t.mutation == k,
                     settings=settings(max_examples=2000, deadline=None,
                                       suppress_health_check=list(HealthCheck)))
        assert found.mutation == kind


@settings(max_examples=50, deadline=None)
@given(traces_from("a ; (b || c) ; d*"))
def test_text_workflows_and_otlp_round_trip(trace):
    request = trace.otlp
    decoded = decode_traces_pb(request.SerializeToString())
    assert sorted((s.span_id, s.name, s.start_ns, s.end_ns) for s in decoded) == \
        sorted((s.span_id, s.name, s.start_ns, s.end_ns) for s in trace.spans)


@settings(max_examples=100, deadline=None)
@given(spans())
def test_arbitrary_span_trees_are_well_formed(tree):
    trace = Trace(tree)
    assert trace.root is tree[0] and not trace.orphans
    assert len(trace.events) == 2 * len(tree)
