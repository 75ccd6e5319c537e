"""The simulator is the executable reading of docs/control.md §3: exact arithmetic, the
rounding mode, simultaneous updates, the load step and windows."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.models.control_sim import ControllerError, simulate
from tracelogic.values.arith import round_half_away
from tests.models.control_specs import controller


def load(text: str, name: str = "c"):
    return tracelogic.load(text, filename="t.spec").controllers[name]


def test_rounding_is_half_away_from_zero():
    assert [round_half_away(Fraction(x, 2)) for x in (5, -5, 3, -3, 1, -1)] == [3, -3, 2, -2,
                                                                               1, -1]
    assert round_half_away(Fraction("-10.013")) == -10
    assert round_half_away(Fraction("2.4999")) == 2


@given(st.fractions(min_value=-1000, max_value=1000))
def test_rounding_against_decimal_round_half_up(x):
    # an independent oracle: decimal's ROUND_HALF_UP rounds half away from zero
    from decimal import ROUND_HALF_UP, Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(x.numerator) / Decimal(x.denominator)
        expected = int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if x.denominator < 10**20:  # exact in 60 digits
        assert round_half_away(x) == expected


def test_the_pid_scales_down_when_the_load_steps_up():
    run = simulate(controller("pid"), periods=4)
    assert [p.load for p in run] == [3, 6, 6, 6]
    assert [p.metric for p in run] == [60, 100, 100, 100]   # cpu saturates at 100
    assert [p.state["replicas"] for p in run] == [3, 3, 2, 2]
    assert [p.state["I"] for p in run] == [0, 0, -600, -1200]
    # u = 1.0·(−40) + 0.1·(−600) + 0.05·(−40/15), and round(u / 10) = −10
    assert run[1].lets["u"] == Fraction(-1502, 15)


def test_assignments_are_simultaneous_and_unassigned_variables_keep_their_value():
    c = load("""controller c { period 1s  metric m: int
      var a: int = 1  var b: int = 2  var z: int = 7
      next a := b; b := a
      claim t: always z == 7 assuming m in 0..1 }""")
    run = simulate(c, [0, 0, 0])
    assert [(p.state["a"], p.state["b"], p.state["z"]) for p in run] == [(1, 2, 7), (2, 1, 7),
                                                                          (1, 2, 7)]


def test_max_over_covers_the_window_including_the_current_period():
    c = load("""controller c { period 15s  metric m: int
      var r: int = 0
      next r := max_over(m, 45s)
      claim t: always r >= 0 assuming m in 0..9 }""")
    run = simulate(c, [5, 1, 1, 1, 2])
    # 45s / 15s = 3 periods: the 5 of period 0 is still seen in period 2, gone in period 3
    assert [p.next["r"] for p in run] == [5, 5, 5, 1, 2]


def test_ite_evaluates_only_the_chosen_branch_and_a_division_by_zero_is_an_error():
    c = load("""controller c { period 1s  metric m: int
      var r: real = 0
      next r := ite(m == 0, 0, 1 / m) + 0 * r
      claim t: always r >= 0 assuming m in 0..3 }""")
    assert [p.next["r"] for p in simulate(c, [0, 2])] == [0, Fraction(1, 2)]
    d = load("""controller c { period 1s  metric m: int
      var r: real = 0
      next r := 1 / m
      claim t: always r >= 0 assuming m in 0..3 }""")
    with pytest.raises(ControllerError, match="division by zero in period 1"):
        simulate(d, [1, 0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.fractions(min_value=0, max_value=100, max_denominator=50), max_size=30))
def test_the_replayed_metric_of_a_plant_run_reproduces_it(noise):
    # closing the loop through the plant (with noise), then feeding its metric back,
    # gives the same run: the controller sees nothing but the metric
    ctl = controller("pid")
    plant_run = simulate(ctl, noise=[x - 50 for x in noise])
    again = simulate(ctl, [p.metric for p in plant_run])
    assert [p.state for p in again] == [p.state for p in plant_run]
