"""Evidence: the witness rules of DESIGN.md, vacuity counts, messages, warnings, and the
Python API around them (`feed`, `feed_otlp`, `verdicts`, `close`, `missing_attrs`)."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

from .test_monitor_oracle import expected

MS = 1_000_000
T1, T2, T3 = ("%032x" % i for i in (1, 2, 3))


def span(i, name, start_ms, end_ms, parent=None, trace=T1, **kw) -> Span:
    return Span(name=name, trace_id=trace, span_id=f"{i:016x}",
                parent_id=f"{parent:016x}" if parent else "", start_ns=start_ms * MS,
                end_ns=end_ms * MS, **kw)


def run(text: str, spans, **kw):
    mon = Monitor(tracelogic.load(text), **kw)
    mon.feed(spans)
    return mon, mon.close()


def by_name(report) -> dict:
    return {v.prop.name: v for v in report.violations}


CHECKOUT = [span(1, "checkout", 0, 100), span(2, "authorize", 10, 20, 1),
            span(3, "charge", 30, 40, 1), span(4, "reply", 50, 60, 1)]


def test_violation_witness_is_the_deciding_event():
    _, report = run('property p: !(name == "charge") W name == "authorize"\n'
                    'property q: G !(name == "charge" & end)', CHECKOUT)
    got = by_name(report)
    assert "p" not in got
    assert got["q"].span_ids == ["0000000000000003"]
    assert [(e.span.name, e.kind) for e in got["q"].witness] == [("charge", "end")]
    assert got["q"].message == "violated at `charge` end"


def test_open_liveness_obligation_witness_is_raiser_and_last_event():
    _, report = run('property never_met: F name == "refund"\n'
                    'property no_reply: G (name == "charge" & end -> F name == "receipt")',
                    CHECKOUT)
    got = by_name(report)
    # F a never met: raised by the trace's first event, open at its last
    assert [(e.span.name, e.kind) for e in got["never_met"].witness] == [
        ("checkout", "start"), ("checkout", "end")]
    assert got["never_met"].span_ids == ["0000000000000001"]   # one span, both events
    assert [(e.span.name, e.kind) for e in got["no_reply"].witness] == [
        ("charge", "end"), ("checkout", "end")]
    assert got["no_reply"].span_ids == ["0000000000000003", "0000000000000001"]
    assert "raised at `charge` end" in got["no_reply"].message
    assert "ended at `checkout` end" in got["no_reply"].message


def test_missed_deadline_witness_includes_the_raiser():
    _, report = run('property fast: G (name == "authorize" & start -> '
                    'F[<= 5ms] name == "charge")', CHECKOUT)
    v = by_name(report)["fast"]
    # authorize starts at 10 ms; the deadline passes with authorize's end at 20 ms
    assert [(e.span.name, e.kind) for e in v.witness] == [("authorize", "start"),
                                                         ("authorize", "end")]
    _, report = run('property fast: G (name == "checkout" & start -> '
                    'F[<= 25ms] name == "charge")', CHECKOUT)
    v = by_name(report)["fast"]
    assert [(e.span.name, e.kind) for e in v.witness] == [("checkout", "start"),
                                                         ("charge", "start")]
    assert v.span_ids == ["0000000000000001", "0000000000000003"]


def test_obligation_settled_then_violation_elsewhere_does_not_blame_the_old_raiser():
    _, report = run('property p: G (name == "authorize" -> F name == "charge") & '
                    'G !(name == "reply")', CHECKOUT)
    assert by_name(report)["p"].span_ids == ["0000000000000004"]


def test_vacuous_counts():
    spans = CHECKOUT + [span(5, "refund", 0, 10, trace=T2)]
    _, report = run('property g: G (name == "charge" -> F name == "reply")\n'
                    'property r: response(name == "charge", name == "reply")\n'
                    'property pr: precedence(name == "authorize", name == "charge")\n'
                    'property plain: G !(name == "x")', spans)
    res = {p.name: p for p in report.properties}
    for name in ("g", "r", "pr"):
        assert (res[name].instances, res[name].vacuous) == (2, 1), name
        assert dict(res[name].results) == {T1: "satisfied", T2: "satisfied"}
    assert res["plain"].vacuous == 0                # no trigger: never vacuous
    for prop in tracelogic.load('property g: G (name == "charge" -> F name == "reply")'
                                ).properties:
        assert [e.vacuous for e in expected(prop, spans).values()] == [False, True]


def test_message_placeholders_raft_example():
    """SPEC-LANGUAGE.md §3: one_leader_per_term, message with placeholders."""
    text = '''
pred became_leader = name == "raft.become_leader"
property one_leader_per_term per attr["raft.term"]
  message "term {attr[\\"raft.term\\"]} has leaders {distinct(attr[\\"raft.node\\"] where became_leader)}":
  count_distinct(attr["raft.node"] where became_leader) <= 1
'''
    spans = [span(1, "raft.become_leader", 0, 1, attrs={"raft.term": 6, "raft.node": "n1"}),
             span(2, "raft.become_leader", 5, 6, attrs={"raft.term": 7, "raft.node": "n3"},
                  trace=T2),
             span(3, "raft.become_leader", 7, 8, attrs={"raft.term": 7, "raft.node": "n2"},
                  trace=T3),
             span(4, "raft.append", 9, 10, 3, trace=T3, attrs={"raft.term": 7,
                                                              "raft.node": "n9"})]
    _, report = run(text, spans)
    (v,) = report.violations
    assert v.key == "7" and v.message == "term 7 has leaders n2, n3"
    assert set(v.span_ids) == {"0000000000000002", "0000000000000003"}
    assert dict(report.properties[0].results) == {"6": "satisfied", "7": "violated"}


def test_message_placeholder_on_temporal_witness_span():
    text = ('property charged_twice per attr["order.id"] message '
            '"order {attr[\\"order.id\\"]} charged twice by {service}":\n'
            '  G (name == "charge" & end -> WX G !(name == "charge" & end))')
    spans = [span(1, "charge", 0, 1, attrs={"order.id": "o-9"}, service="pay"),
             span(2, "charge", 5, 6, attrs={"order.id": "o-9"}, service="pay2", trace=T2)]
    _, report = run(text, spans)
    (v,) = report.violations
    assert v.message == "order o-9 charged twice by pay2"
    assert v.trace_ids == [T1, T2]


def test_aggregate_witness_worst_first_at_most_ten():
    spans = [span(i, "db", 10 * i, 10 * i + i % 7 + 1, trace=T1) for i in range(1, 16)]
    _, report = run("property slow: p90(duration) <= 2ms", spans)
    (v,) = report.violations
    durations = {s.span_id: s.end_ns - s.start_ns for s in spans}
    assert len(v.span_ids) == 10
    got = [durations[i] for i in v.span_ids]
    assert got == sorted(durations.values(), reverse=True)[:10]
    # a lower bound: the worst are the smallest
    _, report = run("property busy: avg(duration) >= 5ms", spans)
    (v,) = report.violations
    got = [durations[i] for i in v.span_ids]
    assert got == sorted(durations.values())[:10]
    # fraction bounded from below: the worst are the spans that did not count
    marked = [span(i, "op", i, i + 1, status="error" if i < 4 else "ok") for i in range(1, 7)]
    _, report = run("property ok_rate: fraction(status == ok) >= 0.9", marked)
    (v,) = report.violations
    assert v.span_ids == [f"{i:016x}" for i in (1, 2, 3)]
    _, report = run("property err_rate: fraction(status == error) <= 0.1", marked)
    (v,) = report.violations
    assert v.span_ids == [f"{i:016x}" for i in (1, 2, 3)]


def test_never_seen_attribute_warning_with_did_you_mean():
    spans = [span(1, "GET", 0, 1, attrs={"http.status": 200})]
    mon, report = run('property p: G !(attr["htp.status"] == 500)\n'
                      'property q: G !(attr["zzz"] == 1)', spans)
    assert mon.missing_attrs() == ["htp.status", "zzz"]
    assert report.warnings == [
        'attribute "htp.status" never appeared in the input; did you mean "http.status"?',
        'attribute "zzz" never appeared in the input']


def test_model_and_workflow_properties_are_monitored_without_warnings():
    text = ('step a = name == "a"\nstep b = name == "b"\nworkflow w: a ; b\n'
            'model m { var s : 0..1 = 0  action go when s == 0 do s := 1 }\n'
            'property flow: conforms w\nproperty ok: G !(name == "x")\n'
            'property fol: follows m on s by attr["s"]')
    spans = [span(1, "a", 0, 1, attrs={"s": 0}), span(2, "b", 2, 3, trace=T2, attrs={"s": 1})]
    mon, report = run(text, spans)
    res = {p.name: dict(p.results) for p in report.properties}
    # each trace holds only one of the two steps of `a ; b`
    assert res["flow"] == {T1: "violated", T2: "violated"}
    # per trace, T2's run would have to start at s = 1, which is not m's initial value
    assert res["fol"] == {T1: "satisfied", T2: "violated"}
    assert report.warnings == []
    assert mon.verdicts()["fol"] == res["fol"]
    assert report.exit_code() == 1


def test_feed_otlp_feed_and_verdicts_agree():
    text = 'property p: G (name == "charge" -> F name == "reply")'
    spans = CHECKOUT + [span(5, "charge", 0, 1, trace=T2)]
    a = Monitor(tracelogic.load(text))
    a.feed_otlp(spans_to_request(spans).SerializeToString())
    b = Monitor(tracelogic.load(text))
    b.feed(spans)
    ra, rb = a.close(), b.close()
    assert ra.to_json() == rb.to_json()
    assert a.verdicts() == {"p": {T1: "satisfied", T2: "violated"}}
    assert a.close() is ra                       # close is idempotent


def test_feed_otlp_corrupt_bytes_is_an_input_error_not_a_traceback():
    mon = Monitor(tracelogic.load('property p: G !(name == "x")'))
    mon.feed_otlp(b"\x0a\xff\xff\xff", source="req-1")
    mon.feed([span(1, "a", 0, 1)])
    report = mon.close()
    assert report.exit_code() == 2
    (err,) = report.input_errors
    assert "req-1" in err
    assert dict(report.properties[0].results) == {T1: "satisfied"}


def test_eviction_gives_counted_incomplete_results():
    text = ('property p: G !(name == "x")\n'
            'property k per attr["order"]: G !(name == "x")')
    spans = [span(1, "a", 0, 1, trace=T1, attrs={"order": "o1"}),
             span(1, "a", 2, 3, trace=T2, attrs={"order": "o2"}),
             span(1, "a", 4, 5, trace=T3, attrs={"order": "o2"})]
    mon = Monitor(tracelogic.load(text), max_open_traces=2)
    for s in spans:
        mon.feed([s])
    report = mon.close()
    res = {p.name: dict(p.results) for p in report.properties}
    assert res["p"] == {T2: "satisfied", T3: "satisfied", T1: "incomplete"}
    assert res["k"] == {"o2": "satisfied", "o1": "incomplete"}
    assert report.incomplete == 1
    assert report.exit_code() == 1 and report.exit_code(allow_unknown=True) == 0


@pytest.mark.parametrize("severity, code, strict", [("critical", 1, 1), ("error", 1, 1),
                                                     ("warning", 0, 1), ("info", 0, 1)])
def test_severity_and_exit_codes(severity, code, strict):
    _, report = run(f'property p severity {severity}: G !(name == "a")', [span(1, "a", 0, 1)])
    assert report.violations[0].to_json()["severity"] == severity
    assert report.exit_code() == code
    assert report.exit_code(strict=True) == strict


def test_a_workflow_without_steps_sees_no_event():
    _, report = run("workflow w: skip\nproperty p: conforms w\nproperty q: saga w",
                    [span(1, "a", 0, 1)])
    assert [dict(p.results) for p in report.properties] == [{T1: "satisfied"}] * 2


# ------------------------------------------------------- triggers of bounded obligations

DEPLOY = [span(1, "root", 0, 100), span(2, "deploy", 10, 20, 1, attrs={"v": 1}),
          span(3, "work", 22, 23, 1), span(4, "http_5xx", 40, 45, 1, attrs={"v": 1})]


def test_a_bounded_obligations_witness_names_its_trigger():
    """Issue 15 item 5: `G (deploy -> G[<= 30s] !http_5xx)` names the deploy that opened
    the window, first (time order), as well as the 5xx; the JSON has it as `trigger`."""
    _, report = run('property p: G (name == "deploy" & end -> G[<= 30s] '
                    '!(name == "http_5xx"))', DEPLOY)
    (v,) = report.violations
    assert [(e.span.name, e.kind) for e in v.witness] == [("deploy", "end"),
                                                         ("http_5xx", "start")]
    assert (v.trigger.span.name, v.trigger.kind) == ("deploy", "end")
    assert v.span_ids == ["0000000000000002", "0000000000000004"]
    assert v.message == "violated at `http_5xx` start, 20ms after its trigger `deploy` end"
    assert v.to_json()["trigger"]["span_id"] == "0000000000000002"
    assert "bounded obligation opened by `deploy` end" in report.to_text()


def test_the_unbounded_property_keeps_its_old_witness():
    _, report = run('property p: G (name == "deploy" & end -> G !(name == "http_5xx"))',
                    DEPLOY)
    (v,) = report.violations
    assert v.trigger is None and "trigger" not in v.to_json()
    assert [(e.span.name, e.kind) for e in v.witness] == [("http_5xx", "start")]


def test_a_trigger_is_named_for_memoized_traces_and_with_registers():
    """A second trace with the same letters replays the first one's evidence, trigger
    included; a property with `prev()` registers (Python engine only) names it too."""
    again = [span(i + 10, s.name, s.start_ns // MS, s.end_ns // MS, 10 if i else None,
                  trace=T2, attrs=s.attrs) for i, s in enumerate(DEPLOY)]
    _, report = run('property p: G (name == "deploy" & end -> G[<= 30s] '
                    '!(name == "http_5xx"))', DEPLOY + again)
    assert [v.trigger.span.span_id for v in report.violations] == [
        "0000000000000002", f"{11:016x}"]
    _, report = run('property p: G (name == "deploy" & end -> G[<= 30s] '
                    '!(name == "http_5xx" & attr["v"] == prev(attr["v"])))', DEPLOY)
    (v,) = report.violations
    assert v.trigger.span.name == "deploy"


def test_a_missed_deadline_names_its_request_as_trigger_and_raiser():
    _, report = run('property fast: G (name == "checkout" & start -> '
                    'F[<= 25ms] name == "charge")', CHECKOUT)
    (v,) = report.violations
    assert (v.trigger.span.name, v.trigger.kind) == ("checkout", "start")
    assert [(e.span.name, e.kind) for e in v.witness] == [("checkout", "start"),
                                                         ("charge", "start")]
