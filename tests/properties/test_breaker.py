"""std.breaker: transitions of circuit breakers, from the calls they guard."""
from __future__ import annotations

import io

from tracelogic.cli import run
from tracelogic.spec.loader import std_path

from .stdlib_helpers import Gen, found, run_std

PROPS = ["never_open_to_closed", "open_short_circuits", "trips_after_failure",
         "probes_decide"]


def calls(g: Gen, states, *, name="payments", t0=0.0):
    """One call per entry: (state, outcome) with outcome ok | error | rejected."""
    out = []
    t = t0
    for state, outcome in states:
        out.append(g.span("POST /charge", t, t + 1, trace=int(t) + 1, breaker__name=name,
                          breaker__state=state,
                          status="error" if outcome in ("error", "rejected") else "unset",
                          **({"breaker__rejected": True} if outcome == "rejected" else {})))
        t += 2
    return out


HEALTHY = [("closed", "ok"), ("closed", "error"), ("open", "rejected"), ("open", "rejected"),
           ("half_open", "error"), ("open", "rejected"), ("half_open", "ok"), ("closed", "ok")]


def test_a_full_cycle_passes():
    g = Gen()
    calls(g, HEALTHY)
    calls(g, [("closed", "ok")] * 3, name="shipping")
    report = run_std("breaker", g.spans)
    assert found(report) == []
    assert [p.name for p in report.properties] == PROPS
    by = {p.name: p for p in report.properties}
    assert by["never_open_to_closed"].count("satisfied") == 2
    assert by["open_short_circuits"].vacuous == 1  # shipping never opened


def test_bad_transitions_are_named_in_breaker_words():
    g = Gen()
    cs = calls(g, [("closed", "ok"), ("open", "rejected"), ("open", "ok"), ("closed", "ok"),
                   ("half_open", "error"), ("closed", "ok")])
    assert found(run_std("breaker", g.spans)) == [
        ("never_open_to_closed", "payments",
         "breaker payments went from open straight to closed at POST /charge",
         [cs[3].span_id]),
        ("open_short_circuits", "payments",
         "breaker payments was open but let POST /charge through", [cs[2].span_id]),
        ("probes_decide", "payments",
         "breaker payments closed at POST /charge without a successful probe",
         [cs[5].span_id]),
        ("trips_after_failure", "payments",
         "breaker payments opened at POST /charge without a failed call before it",
         [cs[1].span_id]),
    ]


def test_the_breaker_model_is_checked_statically():
    out, err = io.StringIO(), io.StringIO()
    assert run(["check", std_path("breaker")], out, err) == 0, err.getvalue()
    assert "model breaker.ltl: holds" in out.getvalue()
    assert "model breaker.deadlock_free: holds" in out.getvalue()
    assert " 0 failed, 0 unknown" in out.getvalue()
