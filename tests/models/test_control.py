"""Claims about controllers (docs/control.md §4–§7): the verdicts issue 19 requires, each
refutation replayed to a real violation in the simulator, and a Hypothesis cross-check that
random metric sequences within a claim's assumptions never break a proved claim."""
from __future__ import annotations

import os
from fractions import Fraction

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.models.control import check_claim, replay, violation, z3_round
from tracelogic.models.control_sim import simulate
from tracelogic.values.arith import round_half_away
from tests.models.control_specs import claim, controller

_CACHE: dict = {}


def outcome(ctl_name: str, claim_name: str):
    key = (ctl_name, claim_name)
    if key not in _CACHE:
        ctl = controller(ctl_name)
        # a generous budget: a loaded machine must not turn a proof into `unknown`
        _CACHE[key] = (ctl, claim(ctl, claim_name),
                       check_claim(ctl, claim(ctl, claim_name), timeout=60))
    return _CACHE[key]


# ------------------------------------------------------------------ the encodings

@settings(max_examples=60, deadline=None)
@given(st.fractions(min_value=-50, max_value=50, max_denominator=40))
def test_z3_round_and_ceil_agree_with_the_simulator(x):
    v = z3.RealVal(f"{x.numerator}/{x.denominator}")
    assert z3.simplify(z3_round(v)).as_long() == round_half_away(x)
    from math import ceil

    assert z3.simplify(-z3.ToInt(-v)).as_long() == ceil(x)


# ------------------------------------------------------------------ issue 19's verdicts

def test_the_pid_stays_within_its_bounds():
    _, _, o = outcome("pid", "in_bounds")
    assert o.status == "proved", o.message
    assert "replicas >= 2" in o.invariant
    # through the plant the CPU never drops below 60 once the load has doubled: the
    # count never rises above its initial 3 (a tighter bound than the clamp's 10)
    assert "replicas <= 3" in o.invariant
    _, _, o = outcome("pid", "in_bounds_any_cpu")
    assert o.status == "proved", o.message


def test_the_pid_does_not_converge_because_it_scales_down_when_cpu_is_high():
    ctl, cl, o = outcome("pid", "settles")
    assert o.status == "refuted"
    cex = o.counterexample
    # why: the first decision after the step moves down while the CPU is above 60
    first_bad = next(p for p in cex["periods"][1:]
                     if p["next"]["replicas"] != p["state"]["replicas"])
    assert Fraction(first_bad["metric"]) > 60
    assert first_bad["next"]["replicas"] < first_bad["state"]["replicas"]
    assert "scales down" in cex["why"] and "cpu = 100" in cex["why"]
    # the violation is at the first period the claim constrains, N + 1 = 21
    assert cex["violation_period"] == cl.periods + 1
    run = simulate(ctl, cex["metric"])
    assert violation(ctl, cl, run) is not None
    assert run[-1].state["replicas"] == 2


def test_the_pid_integral_winds_up_without_bound():
    ctl, cl, o = outcome("pid", "no_windup")
    assert o.status == "refuted" and o.method == "lasso"
    cex = o.counterexample
    n, L, delta = cex["loop_start"], cex["loop_length"], Fraction(cex["drift_per_loop"])
    assert delta < 0  # I runs to −∞: the error stays negative with the count at its floor
    run = simulate(ctl, cex["metric"] + cex["metric"][n:n + L] * 50)
    values = [p.state["I"] for p in run[n::L]]
    assert all(b - a == delta for a, b in zip(values, values[1:]))
    assert all(p.state["replicas"] == run[n].state["replicas"] for p in run[n:])
    assert min(values) < -30000


def test_the_hpa_does_not_flap_under_five_percent_noise():
    _, _, o = outcome("hpa", "calm")
    assert o.status == "proved", o.message
    _, _, o = outcome("hpa", "in_range")
    assert o.status == "proved", o.message


def test_without_its_window_the_hpa_flaps_and_the_sequence_replays():
    ctl, cl, o = outcome("hpa_no_window", "calm")
    assert o.status == "refuted"
    metric = o.counterexample["metric"]
    assert all(40 <= Fraction(m) <= 80 for m in metric)  # within the assumption
    run, err = replay(ctl, metric)
    assert err is None
    at, text = violation(ctl, cl, run)
    assert at == o.counterexample["violation_period"] and "scale-down" in text
    # and the window is what prevents it: the same sequence does not flap the real HPA
    hpa = controller("hpa")
    assert violation(hpa, claim(hpa, "calm"), simulate(hpa, metric)) is None


# ------------------------------------------------------------------ cross-check by simulation

PROVED = [("pid", "in_bounds_any_cpu"), ("hpa", "calm"), ("hpa", "in_range")]


@pytest.mark.parametrize("ctl_name, claim_name", PROVED)
def test_random_metric_sequences_never_break_a_proved_claim(ctl_name, claim_name):
    ctl, cl, o = outcome(ctl_name, claim_name)
    assert o.status == "proved"
    lo, hi = cl.assuming

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.fractions(min_value=lo, max_value=hi, max_denominator=20),
                    min_size=1, max_size=60)
           | st.lists(st.sampled_from([lo, hi]), min_size=1, max_size=60))
    def check(metrics):
        run, err = replay(ctl, metrics)
        assert err is None
        assert violation(ctl, cl, run) is None, metrics

    check()


def test_a_noisy_plant_never_breaks_the_proved_bound():
    text = controller_text("pid").replace("step load from 3 to 6",
                                          "step load from 3 to 6\n  noise 15")
    ctl = tracelogic.load(text, filename="n.spec").controllers["pid"]
    cl = claim(ctl, "in_bounds")
    assert check_claim(ctl, cl, timeout=60).status == "proved"

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.fractions(min_value=-15, max_value=15, max_denominator=10),
                    min_size=1, max_size=40))
    def check(noise):
        run, err = replay(ctl, [], noise=noise)
        assert err is None and violation(ctl, cl, run) is None

    check()


def controller_text(name: str) -> str:
    from tests.models.control_specs import BLOCKS

    return next(b for b in BLOCKS if b.lstrip().startswith(f"controller {name} "))


# ------------------------------------------------------------------ generated controllers

LONG = bool(os.environ.get("TRACELOGIC_LONG"))


@settings(max_examples=40 if LONG else 5, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow])
@given(kp=st.sampled_from(["1.0", "-1.0", "0.5", "-0.2"]), ki=st.sampled_from(["0", "0.1"]),
       lo=st.integers(1, 3), hi=st.integers(3, 8), noise=st.sampled_from(["0", "5"]),
       bound=st.integers(1, 9))
def test_generated_pid_claims_replay_or_survive_simulation(kp, ki, lo, hi, noise, bound):
    # a differential check over many loops: every refutation replays to a violation (the
    # engine asserts it before reporting), every proof survives simulated noisy runs
    text = f"""controller g {{
      period 15s
      metric cpu: real
      var I: real = 0
      var r: int = {lo}
      let e = cpu - 60
      next I := I + e; r := clamp(r + round(({kp} * e + {ki} * I) / 10), {lo}, {hi})
      plant cpu = min(100, 60 * 4 / r)
      noise {noise}
      step load from 4 to 4
      claim a: always r in {lo}..{hi}
      claim b: always r <= {bound}
      claim c: converges r to load within 1 in 6 periods
    }}"""
    ctl = tracelogic.load(text, filename="g.spec").controllers["g"]
    for cl in ctl.claims:
        o = check_claim(ctl, cl, timeout=30)
        if cl.name == "a":  # the clamp's own bounds: always provable
            assert o.status == "proved", o.message
        if cl.name == "b" and bound < lo:
            assert o.status == "refuted"  # the initial state already breaks it
        if o.status == "refuted":
            run = simulate(ctl, o.counterexample["metric"])
            assert violation(ctl, cl, run) is not None
        elif o.status == "proved":
            import random

            rnd = random.Random(f"{text}{cl.name}")
            eps = Fraction(noise)
            for _ in range(5):
                nus = [Fraction(rnd.randint(-10, 10), 10) * eps for _ in range(30)]
                run, err = replay(ctl, [], noise=nus)
                assert err is None and violation(ctl, cl, run) is None


# ------------------------------------------------------------------ more claim shapes

def _one(text: str):
    ctl = tracelogic.load(text, filename="x.spec").controllers["c"]
    return ctl, ctl.claims[0], check_claim(ctl, ctl.claims[0], timeout=60)


def test_a_bounded_range_is_refuted_at_the_first_period_beyond_it():
    text = controller_text("pid").replace("claim no_windup: bounded I",
                                          "claim no_windup: bounded I in -1000..1000")
    ctl = tracelogic.load(text, filename="x.spec").controllers["pid"]
    o = check_claim(ctl, claim(ctl, "no_windup"), timeout=60)
    assert o.status == "refuted" and o.method == "bmc"
    assert o.counterexample["violation_period"] == 3  # I = 0, 0, −600, −1200
    assert o.counterexample["periods"][-1]["state"]["I"] == -1200


def test_an_integral_with_anti_windup_is_proved_bounded():
    ctl, cl, o = _one("""controller c { period 15s  metric cpu: real
      var I: real = 0
      next I := clamp(I + (60 - cpu) * 15, -500, 500)
      claim b: bounded I assuming cpu in 0..100 }""")
    assert o.status == "proved", o.message
    assert "I >= -500" in o.invariant and "I <= 500" in o.invariant


def test_a_reachable_division_by_zero_refutes_every_claim():
    ctl, cl, o = _one("""controller c { period 1s  metric m: int
      var r: real = 1
      next r := 1 / m
      claim a: always r >= 0 assuming m in 0..3 }""")
    assert o.status == "refuted" and "division by zero" in o.message
    assert o.counterexample["metric"] == ["0"]


def test_deep_expressions_are_checked_without_hitting_the_recursion_limit():
    n = 3000
    ctl, cl, o = _one(f"""controller c {{ period 1s  metric m: real
      var r: real = 0
      let x = {'+'.join(['m'] * n)}
      next r := clamp(x, 0, 1)
      claim a: always r <= 1 assuming m in 0..1 }}""")
    assert o.status == "proved"


def test_bounded_also_needs_a_run_without_division_by_zero():
    # r stays within [−1, 1] until k reaches 3: then 1 / (3 − k) divides by zero
    ctl, cl, o = _one("""controller c { period 1s  metric m: int
      var r: real = 1
      var k: int = 0
      next r := 1 / (3 - k); k := clamp(k + 1, 0, 5)
      claim a: bounded r assuming m in 0..3 }""")
    assert o.status == "refuted" and "division by zero in period 3" in o.message
    run, err = replay(ctl, o.counterexample["metric"])
    assert err is not None and len(run) == 3
