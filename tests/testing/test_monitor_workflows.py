"""The monitor's `conforms W` and `saga W` verdicts equal the reference semantics (§6),
on valid traces from `traces_from(W)` and on broken ones from `mutated_traces_from(W)`."""
from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from tracelogic.models import semantics
from tracelogic.models.workflow import from_ast
from tracelogic import load
from tracelogic.testing.strategies import mutated_traces_from, traces_from

SPEC = load("examples/language/workflow.spec")
ORDER = SPEC.workflows["order"]
WF = from_ast(ORDER.expr)
COMPS = dict(ORDER.compensations)
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def verdicts(trace) -> dict[str, str]:
    mon = SPEC.monitor()
    mon.feed(trace.spans)
    report = mon.close()
    assert not report.warnings, report.warnings  # both kinds are monitored, not skipped
    return {p.name: p.results[0][1] for p in report.properties}


def expected(word) -> dict[str, str]:
    ok = {"order_flow": semantics.conforms(WF, list(COMPS.values()), word),
          "order_saga": semantics.saga(WF, COMPS, word)}
    return {k: "satisfied" if v else "violated" for k, v in ok.items()}


@SETTINGS
@given(traces_from(ORDER))
def test_valid_traces_satisfy_both(trace):
    assert verdicts(trace) == expected(trace.word) == {"order_flow": "satisfied",
                                                       "order_saga": "satisfied"}


@SETTINGS
@given(st.one_of(mutated_traces_from(ORDER), traces_from(ORDER)))
def test_monitor_agrees_with_the_reference_semantics(trace):
    assert verdicts(trace) == expected(trace.word)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(mutated_traces_from(ORDER), traces_from(ORDER)))
def test_sdk_spans_and_otlp_give_the_same_verdicts(trace):
    def run(feed):
        mon = SPEC.monitor()
        feed(mon)
        return {p.name: p.results[0][1] for p in mon.close().properties}

    want = expected(trace.word)
    assert run(lambda m: m.feed(trace.sdk_spans)) == want
    assert run(lambda m: m.feed_otlp(trace.otlp.SerializeToString())) == want


def test_a_violation_names_its_witness():
    from hypothesis import find

    trace = find(mutated_traces_from(ORDER), lambda t: t.mutation == "swapped order",
                 settings=settings(max_examples=2000, deadline=None,
                                   suppress_health_check=list(HealthCheck)))
    mon = SPEC.monitor()
    mon.feed(trace.spans)
    report = mon.close()
    [v] = [v for v in report.violations if v.prop.name == "order_flow"]
    assert v.span_ids and set(v.span_ids) <= {s.span_id for s in trace.spans}


KEYED = load(open("examples/language/workflow.spec").read()
             .replace("property order_flow: conforms order",
                      'property order_flow per attr["order.id"]: conforms order')
             .replace("property order_saga: saga order",
                      'property order_saga per attr["order.id"]: saga order'),
             filename="keyed.spec")


def _moved(trace, offset_ns: int, order: str, trace_id: str | None = None,
           flip: int = 0) -> list:
    """The trace's spans, later by ``offset_ns``, tagged with ``order.id``, moved into trace
    ``trace_id``, and with span ids xor ``flip`` (so two generated traces can share one)."""
    from tracelogic.ingest.spans import Span

    def sid(h: str) -> str:
        return f"{int(h, 16) ^ flip:016x}" if h else h
    return [Span(name=s.name, trace_id=trace_id or s.trace_id, span_id=sid(s.span_id),
                 parent_id=sid(s.parent_id), start_ns=s.start_ns + offset_ns,
                 end_ns=s.end_ns + offset_ns, kind=s.kind, status=s.status, service=s.service,
                 attrs={**s.attrs, "order.id": order}, resource=s.resource)
            for s in trace.spans]


@SETTINGS
@given(st.one_of(mutated_traces_from(ORDER), traces_from(ORDER)),
       st.one_of(mutated_traces_from(ORDER), traces_from(ORDER)))
def test_an_instance_across_traces_equals_one_trace_holding_both(first, second):
    """`per attr["order.id"]`: one order's step events come from two traces, one after the
    other. The instance sees them in time order (§3), as a per-trace instance sees the
    same spans put into one trace -- the path the tests above check against the reference
    semantics."""
    assume(first.trace_id != second.trace_id)
    flip = 1 << 63
    assume(not {s.span_id for s in first.spans} & {f"{int(s.span_id, 16) ^ flip:016x}"
                                                   for s in second.spans})
    end = max(max(s.end_ns, s.start_ns) for s in first.spans)
    shift = end - min(s.start_ns for s in second.spans) + 1
    keyed = KEYED.monitor()
    keyed.feed(_moved(first, 0, "o-1") + _moved(second, shift, "o-1", flip=flip))
    one = SPEC.monitor()
    one.feed(_moved(first, 0, "o-1") + _moved(second, shift, "o-1", first.trace_id, flip))
    got = {p.name: dict(p.results) for p in keyed.close().properties}
    want = {p.name: dict(p.results) for p in one.close().properties}
    assert got == {name: {"o-1": r[first.trace_id]} for name, r in want.items()}
