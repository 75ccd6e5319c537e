"""`tracelogic check` says which routing keys a spec needs for sharded sidecars."""
from __future__ import annotations

from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.spec.loader import load


def keys(text: str):
    report = CheckReport()
    run_checks(load(text, filename="r.spec"), report)
    [r] = [r for r in report.results if r.kind == "routing"]
    return r.details["keys"], r.message


def test_per_trace_only():
    assert keys("pred a = true\nproperty p: G a") == (["trace_id"], "route by trace_id")


def test_mixed_scopes_need_one_group_per_key():
    got, message = keys('pred a = true\nproperty p: G a\n'
                        'property q per attr["order.id"]: G a\nproperty r global: G a\n')
    assert got == ["trace_id", 'attr["order.id"]', "global"]
    assert "one sidecar group per key" in message


def test_global_alone_needs_one_instance():
    got, message = keys("pred a = true\nproperty r global: G a")
    assert got == ["global"] and "single instance" in message


def test_no_runtime_properties_no_routing_result():
    report = CheckReport()
    run_checks(load("const x = 1", filename="c.spec"), report)
    assert not [r for r in report.results if r.kind == "routing"]
