"""Theorems: proved, refuted with a counterexample, or unknown — never a false `proved`."""
from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from tracelogic.checkers.theorems import prove
from tracelogic.spec.loader import load


def theorem(text: str):
    return load(text, filename="t.spec").theorems[0]


def test_normative_examples():
    spec = load("examples/language/theorems.spec")
    results = {t.name: prove(t) for t in spec.theorems}
    assert results["replicas_stay_in_bounds"][0] == "proved"
    status, _, details = results["quorums_intersect"]
    assert status == "refuted"
    n, q = int(details["counterexample"]["n"]), int(details["counterexample"]["q"])
    # the comment says: refuted by any even n, e.g. n = 2, q = 1
    assert n % 2 == 0 and q == n // 2 + n % 2 and not 2 * q > n


@pytest.mark.parametrize("a", range(-7, 8))
@pytest.mark.parametrize("b", [-3, -2, -1, 1, 2, 3])
def test_floor_division_and_modulo_match_python(a, b):
    t = theorem(f"theorem t: forall a: {a}..{a}, b: {b}..{b} : "
                f"a // b == {a // b} and a % b == {a % b}")
    assert prove(t)[0] == "proved"
    wrong = theorem(f"theorem t: forall a: {a}..{a}, b: {b}..{b} : a // b == {a // b + 1}")
    assert prove(wrong)[0] == "refuted"


def test_a_divisor_that_can_be_zero_refutes_with_that_counterexample():
    status, message, details = prove(theorem(
        "theorem t: forall a: 0..10, b: -3..3 : a // b <= a"))
    assert status == "refuted" and "division by zero" in message
    assert details["counterexample"]["b"] == "0"


def test_guarded_division_is_fine():
    assert prove(theorem("theorem t: forall a: 0..10, b: -3..3 : "
                         "b != 0 -> (a * b) // b == a"))[0] == "proved"
    assert prove(theorem("theorem t: forall a: 0..10, b: -3..3 : "
                         "b == 0 or a % b < 3"))[0] == "proved"


def test_units_and_builtins():
    assert prove(theorem(
        "theorem t: forall timeout: 100ms..2s, retries: 0..5 "
        "assuming timeout * (retries + 1) <= 10s : retries * timeout <= 10s"))[0] == "proved"
    status, _, details = prove(theorem(
        "theorem t: forall timeout: 100ms..3s, retries: 0..5 : timeout * (retries + 1) <= 10s"))
    assert status == "refuted"
    cx = details["counterexample"]
    assert cx["timeout"].endswith(("s", "ms", "us", "ns", "m"))
    assert prove(theorem("theorem t: forall x: -5..5 : abs(x) >= 0 and max(x, 0) >= min(x, 0)"
                         ))[0] == "proved"
    assert prove(theorem("theorem t: forall x: 0.0..1.0 : ceil(x) >= floor(x)"))[0] == "proved"


def test_vacuous_assumptions_are_not_a_silent_proof():
    status, message, _ = prove(theorem("theorem t: forall a: 0..3 assuming a > 5 : false"))
    assert status == "warning" and "vacuous" in message


def test_timeout_gives_unknown_never_proved():
    # A hard nonlinear integer problem with a tiny timeout.
    t = theorem("theorem t: forall x: 1..1000000, y: 1..1000000, z: 1..1000000 : "
                "x * x * x + y * y * y != z * z * z")
    status, message, _ = prove(t, timeout_s=0.01)
    assert status in ("unknown", "proved")
    if status == "unknown":
        assert "timeout" in message or "could not" in message


@settings(max_examples=150, deadline=None)
@given(st.integers(-20, 20), st.integers(-20, 20), st.sampled_from(["+", "-", "*", "//", "%"]),
       st.sampled_from(["<", "<=", "==", "!=", ">", ">="]), st.integers(-50, 50))
def test_z3_agrees_with_python_on_point_ranges(a, b, op, cmp, c):
    import operator
    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv,
          "%": operator.mod}[op]
    rel = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
           ">": operator.gt, ">=": operator.ge}[cmp]
    t = theorem(f"theorem t: forall a: {a}..{a}, b: {b}..{b} : a {op} b {cmp} {c}")
    status = prove(t)[0]
    if op in ("//", "%") and b == 0:
        assert status == "refuted"
    else:
        assert status == ("proved" if rel(fn(a, b), c) else "refuted")


def test_a_refuted_theorem_without_variables_says_so():
    status, message, details = prove(theorem("theorem t: 1 > 2"))
    assert (status, message, details) == ("refuted", "counterexample: (no variables)",
                                          {"counterexample": {}})
    status, message, _ = prove(theorem("theorem t: 1 // 0 == 1"))
    assert (status, message) == ("refuted", "division by zero at line 1")


@pytest.mark.parametrize("typ, bad, shown", [
    ("cpu", "0.6", "600m"), ("cpu", "2", "2"), ("cpu", "1/3", "1/3"),
    ("bytes", "96Mi", "96Mi"), ("bytes", "1G", "1G"), ("bytes", "1.5k", "1500"),
    ("duration", "90s", "90s"), ("duration", "1500ms", "1500ms")])
def test_counterexamples_are_in_their_unit(typ, bad, shown):
    """A value prints as it is written in a spec or a manifest, never as `3/5`."""
    status, message, details = prove(theorem(f"theorem t: forall x: {typ} : x != {bad}"))
    assert status == "refuted" and details["counterexample"] == {"x": shown}
    assert message == f"counterexample: x = {shown}"
