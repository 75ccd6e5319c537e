"""`check WORKFLOW: sound | deadlock_free` (§6): the normative example and broken workflows."""
from __future__ import annotations

from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.checkers.workflows import uncompensated
from tracelogic.spec.loader import load


def results(text: str) -> dict:
    spec = load(text, filename="w.spec")
    report = CheckReport(files=["w.spec"])
    run_checks(spec, report)
    return {r.name: r for r in report.results if r.kind == "workflow"}


def test_normative_order_is_sound():
    spec = load("examples/language/workflow.spec")
    report = CheckReport()
    run_checks(spec, report)
    (r,) = [r for r in report.results if r.kind == "workflow"]
    assert r.name == "order.sound" and r.status == "sound"
    assert r.details["dead_steps"] == [] and r.details["never_started"] == []
    assert r.details["overlaps"] == []
    assert report.exit_code() == 0


DEAD = 'step charge = name == "charge" and status == ok and status == error\n'


def test_dead_step_makes_the_workflow_unsound():
    got = results(DEAD + "workflow w: a ; (charge + b) ; c\ncheck w: sound\n"
                  "check w: deadlock_free\n")
    r = got["w.sound"]
    assert r.status == "unsound"
    assert r.details["dead_steps"] == ["charge"]
    assert "dead step `charge`" in r.message
    # a dead branch of a choice leaves completion reachable and no deadlock
    assert r.details["unreachable_completion"] == [] and r.details["deadlocks"] == []
    assert got["w.deadlock_free"].status == "holds"


def test_dead_step_in_sequence_makes_completion_unreachable_and_deadlocks():
    got = results(DEAD + "workflow w: a ; charge ; b\ncheck w: sound\ncheck w: deadlock_free\n")
    r = got["w.sound"]
    assert r.status == "unsound"
    assert r.details["never_started"] == ["charge", "b"]
    assert {"after": ["a.start", "a.end"], "waiting_for": ["charge"]} in \
        r.details["unreachable_completion"]
    assert "completion is unreachable after a.start a.end (it waits for `charge`)" in r.message
    d = got["w.deadlock_free"]
    assert d.status == "fails"
    assert d.details["deadlocks"][0] == {"after": ["a.start", "a.end"], "waiting_for": ["charge"]}


def test_dead_step_in_a_parallel_branch():
    got = results(DEAD + "workflow w: a ; (charge || b) ; c\ncheck w: sound\n")
    r = got["w.sound"]
    assert r.status == "unsound" and r.details["never_started"] == ["charge", "c"]
    stuck = r.details["unreachable_completion"]
    assert any(s["waiting_for"] == ["charge"] for s in stuck)


def test_dead_compensation_is_reported():
    text = ('step refund = name == "refund" and duration < 0s\n'
            "workflow w: a ; b\n  compensate a with refund\ncheck w: sound\n")
    r = results(text)["w.sound"]
    assert r.status == "unsound" and r.details["dead_compensations"] == ["refund"]


def test_predicates_that_only_look_dead_are_not_reported():
    # `matches` is not encoded: it becomes a free Boolean, so no false "dead step"
    text = ('step a = name matches r"^x" and name == "y"\n'
            'step b = attr["n"] == 5 and attr["n"] < 5.5\n'
            "workflow w: a ; b\ncheck w: sound\n")
    assert results(text)["w.sound"].status == "sound"


def test_overlapping_steps_are_noted():
    text = ('step a = name startswith "POST"\nstep b = name == "POST /x"\n'
            "workflow w: a ; b\ncheck w: sound\n")
    r = results(text)["w.sound"]
    assert r.status == "sound" and r.details["overlaps"] == [["a", "b"]]
    assert "can match the same span" in r.message


def test_compensation_coverage():
    spec = load("examples/language/workflow.spec")
    assert uncompensated(spec.workflows["order"]) == ["validate", "ship", "cancel", "notify"]
    spec = load("workflow w: a ; b\n  compensate b with ub\n", filename="w.spec")
    # `a` can complete before `b` fails; `b` is last but compensated
    assert uncompensated(spec.workflows["w"]) == ["a"]
