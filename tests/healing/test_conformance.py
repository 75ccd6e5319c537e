"""The controller-conformance checker (docs/control.md §9), with Hypothesis.

Rows are built the way the healing controller builds them (ControlLoop steps the
simulator, CompiledPolicy computes the arguments); the checker must accept every
such run, and must flag every mutation of a recorded decision or state, and a
period missing from a run.
"""
from __future__ import annotations

import copy
import os
from fractions import Fraction

from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic.healing.conformance import KIND, check_policy, violation_json
from tracelogic.healing.control_loop import ControlLoop
from tracelogic.healing.evaluate import CompiledPolicy
from tracelogic.ingest.metrics import DataPoint

from .test_control_loop import CONTROLLERS

SPEC = tracelogic.load(CONTROLLERS + """
heal pid_scale
  run controller pid on metric "cpu" every 15s
  do kubernetes.scale(namespace: "shop", deployment: "checkout", replicas: replicas)

heal hpa_scale
  run controller hpa on metric "cpu"
  do kubernetes.scale(namespace: "shop", deployment: "search", replicas: replicas)
""")
HEALS = {h.name: h for h in SPEC.heals}

metric_values = st.one_of(
    st.integers(0, 100),
    st.fractions(Fraction(0), Fraction(100), max_denominator=8),
    st.floats(0, 100, allow_nan=False).map(lambda f: round(f, 2)))


def rows_of(policy: str, metric: list) -> list[dict]:
    """What the healing controller records for ``metric``, one row per period."""
    heal = HEALS[policy]
    loop = ControlLoop(heal, SPEC.controllers[heal.run[0]], start_ns=0)
    compiled = CompiledPolicy(heal)
    rows = []
    for i, m in enumerate(metric):
        # a data point carries an int or a float, as OTLP does
        loop.observe([DataPoint("cpu", "gauge", float(m) if isinstance(m, Fraction) else m, i)])
        body, why = loop.step(loop.due_ns)
        assert body is not None, why
        raw, _ = compiled.arguments(None, None, body)
        rows.append({"id": f"a{i}", "violation": body, "args": dict(raw), "updated_ns": i})
    return rows


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(HEALS)), st.lists(metric_values, min_size=1, max_size=25))
def test_the_simulators_decisions_always_conform(policy, metric):
    heal = HEALS[policy]
    res = check_policy(heal, SPEC.controllers[heal.run[0]], rows_of(policy, metric))
    assert res.ok, [d.message for d in res.divergences]
    assert res.periods == len(metric) and res.runs == 1


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(HEALS)), st.lists(metric_values, min_size=1, max_size=25),
       st.data())
def test_a_mutated_decision_never_conforms(policy, metric, data):
    heal = HEALS[policy]
    rows = rows_of(policy, metric)
    i = data.draw(st.integers(0, len(rows) - 1), label="period")
    delta = data.draw(st.integers(-5, 5).filter(bool), label="delta")
    where = data.draw(st.sampled_from(["argument", "next", "state"]), label="where")
    bad = copy.deepcopy(rows)
    c = bad[i]["violation"]["controller"]
    if where == "argument":
        bad[i]["args"]["replicas"] += delta
    elif where == "next":
        c["next"]["replicas"] += delta
    else:
        c["state"]["replicas"] += delta
    res = check_policy(heal, SPEC.controllers[heal.run[0]], bad)
    assert not res.ok
    hit = [d for d in res.divergences if d.period == i and d.what == where]
    assert hit and hit[0].variable == "replicas"
    v = violation_json(hit[0])
    assert v["kind"] == KIND and v["property"] == f"{policy}.conformance"
    assert v["details"]["recorded"] != v["details"]["declared"]


@settings(max_examples=40, deadline=None)
@given(st.lists(metric_values, min_size=2, max_size=20), st.data())
def test_a_missing_period_is_reported(metric, data):
    heal = HEALS["pid_scale"]
    rows = rows_of("pid_scale", metric)
    i = data.draw(st.integers(0, len(rows) - 2))
    del rows[i]
    res = check_policy(heal, SPEC.controllers["pid"], rows)
    assert [(d.what, d.period) for d in res.divergences][-1:] == [("missing", i)]


def test_a_plan_event_that_disagrees_is_flagged():
    heal = HEALS["hpa_scale"]
    rows = rows_of("hpa_scale", [60, 90, 90])
    plans = {r["id"]: {"args": dict(r["args"])} for r in rows}
    assert check_policy(heal, SPEC.controllers["hpa"], rows, plans).ok
    plans["a1"]["args"]["replicas"] = 1
    res = check_policy(heal, SPEC.controllers["hpa"], rows, plans)
    assert [(d.what, d.period, d.recorded) for d in res.divergences] == [("plan", 1, 1)]


def test_a_metric_that_is_not_a_number_is_reported():
    heal = HEALS["pid_scale"]
    rows = rows_of("pid_scale", [60, 70])
    rows[1]["violation"]["controller"]["metric"] = "high"
    res = check_policy(heal, SPEC.controllers["pid"], rows)
    assert [(d.what, d.period) for d in res.divergences] == [("metric", 1)]


# ---------------------------------------------------------------- the trail, through the CLI

def test_audit_verify_replays_the_trail_and_flags_a_tampered_decision(tmp_path):
    """The real Controller writes the trail (fake clock, real SQLite); `tracelogic audit
    --verify SPEC` replays it: exit 0, then exit 1 with the divergence once edited."""
    import io
    import json
    import sqlite3

    from tracelogic import cli
    from tracelogic.healing import Controller
    from tracelogic.models.control_sim import simulate

    text = CONTROLLERS + """
heal hpa_scale
  run controller hpa on metric "cpu" every 15s
  do kubernetes.scale(namespace: "shop", deployment: "search", replicas: replicas)
"""
    spec_file = tmp_path / "auto.spec"
    spec_file.write_text(text)
    spec = tracelogic.load(text)
    store = str(tmp_path / "s.db")
    now = [10**12]
    metric = [60, 90, 90, 30, 60]
    with Controller(spec, store, None, clock=lambda: now[0]) as ctl:
        for m in metric:
            ctl.observe_points([DataPoint("cpu", "gauge", m, now[0])])
            now[0] += 15 * 10**9
            assert [d.outcome for d in ctl.tick_controllers()] == ["dry_run"]
        now[0] += 15 * 10**9  # a period without data: recorded, not silent
        assert [d.outcome for d in ctl.tick_controllers()] == ["skipped"]
        rows = sorted(ctl.log.actions(), key=lambda a: a["created_ns"])
        assert [r["args"]["replicas"] for r in rows] == \
            [p.next["replicas"] for p in simulate(spec.controllers["hpa"], metric)]
        assert [e.outcome for e in ctl.log.events() if e.event == "skip"] == ["no_metric"]

    def audit(*extra):
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(["audit", "--store", store, "--verify", str(spec_file), *extra], out, err)
        return code, out.getvalue()

    code, text_out = audit()
    assert code == 0, text_out
    assert "controller conformance: 1 run(s), 5 period(s) replayed, 0 divergence(s)" in text_out
    with sqlite3.connect(store) as con:
        args = dict(rows[3]["args"], replicas=rows[3]["args"]["replicas"] + 2)
        con.execute("UPDATE heal_actions SET args = ? WHERE id = ?",
                    (json.dumps(args), rows[3]["id"]))
    code, text_out = audit()
    assert code == 1
    assert "VIOLATION hpa_scale.conformance [controller-conformance]: policy hpa_scale: " \
        "controller hpa diverges at period 3" in text_out
    code, json_out = audit("--format", "json")
    doc = json.loads(json_out)
    assert code == 1 and doc["conformance"]["periods"] == 5
    [v] = doc["conformance"]["violations"]
    assert v["details"]["recorded"] == args["replicas"] and v["details"]["what"] == "argument"


# ---------------------------------------------------------------- an edited trail never crashes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3), max_leaves=8)


@settings(max_examples=int(os.environ.get("TRACELOGIC_LONG") and 3000 or 150), deadline=None)
@given(st.lists(metric_values, min_size=1, max_size=6), st.data())
def test_an_edited_trail_is_reported_never_crashes(metric, data):
    """Seeded fuzzing of the checker's input: any field of any recorded row replaced by
    arbitrary JSON gives a result (a divergence for what changed), never an exception."""
    heal = HEALS["pid_scale"]
    rows = rows_of("pid_scale", metric)
    i = data.draw(st.integers(0, len(rows) - 1))
    path = data.draw(st.sampled_from([("args",), ("violation",), ("violation", "controller"),
                                      ("violation", "controller", "period"),
                                      ("violation", "controller", "metric"),
                                      ("violation", "controller", "state"),
                                      ("violation", "controller", "next"),
                                      ("violation", "controller", "run")]))
    new = data.draw(json_values)
    target = rows[i]
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = new
    res = check_policy(heal, SPEC.controllers["pid"], rows, {"a0": new})
    if path[-1] in ("state", "next") and not isinstance(new, dict):
        assert not res.ok  # the declared state has values the trail no longer holds
    if path[-1] == "period" and (not isinstance(new, int) or isinstance(new, bool) or new < 0):
        assert any(d.what == "malformed" for d in res.divergences)
