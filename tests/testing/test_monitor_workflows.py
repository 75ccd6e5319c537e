"""The monitor's `conforms W` and `saga W` verdicts equal the reference semantics (§6),
on valid traces from `traces_from(W)` and on broken ones from `mutated_traces_from(W)`."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tracelogic.models import semantics
from tracelogic.models.workflow import from_ast
from tracelogic.spec.loader import load
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
