"""The value semantics against their definitions in SPEC-LANGUAGE.md §1, §2, stated
independently of Python's operators: floor division and modulo by the division identity
and the sign of the remainder, exact division, comparisons on missing or mixed values,
the unit tables, and the one MISSING object."""
from __future__ import annotations

import pickle
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracelogic.values import arith, dynamic, units
from tracelogic.values.missing import MISSING

NEAR = [0, 1, -1, 2, -2, 3, -7, 7, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 + 1, 2 ** 64]
INTS = st.sampled_from(NEAR) | st.integers(-2 ** 70, 2 ** 70)


@given(INTS, INTS)
def test_floor_division_and_modulo_by_their_definition(a, b):
    if b == 0:
        for op in ("/", "//", "%"):
            with pytest.raises(ZeroDivisionError):
                arith.EXACT[op](a, b)
        return
    q, r = arith.floordiv(a, b), arith.mod(a, b)
    assert a == b * q + r
    assert (0 <= r < b) if b > 0 else (b < r <= 0)  # the remainder takes the divisor's sign
    # q is the floor of the exact quotient
    exact = arith.exact_div(a, b)
    assert isinstance(exact, Fraction) and exact * b == a
    assert q <= exact < q + 1


def test_the_examples_of_the_language_reference():
    assert (arith.floordiv(-7, 2), arith.mod(-7, 2)) == (-4, 1)
    assert (arith.floordiv(7, -2), arith.mod(7, -2)) == (-4, -1)
    assert arith.exact_div(1, 3) == Fraction(1, 3)
    assert arith.BUILTINS["clamp"](5, 10, 0) == 10  # crossed bounds are not reordered
    assert [arith.round_half_away(Fraction(x, 2)) for x in (5, -5, 1, -1)] == [3, -3, 1, -1]


VALUES = st.sampled_from([MISSING, None, True, False, "a", "", 0, 1, -1, 1.5, -0.0,
                          2 ** 63 - 1, b"x", (1,)])


@given(VALUES, VALUES, st.sampled_from(arith.CMP_OPS))
def test_dynamic_comparison_is_false_on_missing_and_mixed_values(a, b, op):
    got = dynamic.compare(op)(a, b)
    kinds = {dynamic.kind(a), dynamic.kind(b)}
    if None in kinds or len(kinds) == 2 or (kinds == {"bool"} and op not in ("==", "!=")):
        assert got is False  # `!=` too
    else:
        assert got == arith.COMPARE[op](a, b)


@given(VALUES, VALUES, st.sampled_from(arith.ARITH_OPS))
def test_dynamic_arithmetic_is_missing_unless_two_numbers(a, b, op):
    got = dynamic.arith(op)(a, b)
    if dynamic.kind(a) != "num" or dynamic.kind(b) != "num" or (op in ("/", "//", "%")
                                                                and b == 0):
        assert got is MISSING
    else:
        assert got == arith.RUNTIME[op](a, b)
    if dynamic.kind(a) == "num":
        assert dynamic.neg(a) == -a
    else:
        assert dynamic.neg(a) is MISSING


def test_runtime_division_is_float_division_and_exact_division_is_exact():
    assert dynamic.arith("/")(1, 3) == 1 / 3 and isinstance(dynamic.arith("/")(1, 3), float)
    assert arith.EXACT["/"](1, 3) == Fraction(1, 3)
    assert dynamic.builtin("ceil")(float("inf")) is MISSING
    assert dynamic.builtin("abs")("x") is MISSING and dynamic.builtin("abs")(-2) == 2


def test_units():
    assert units.parse_duration("250ms") == 250 * 10 ** 6
    assert units.parse_duration("1.5m") == 90 * 10 ** 9  # `m` is minutes
    assert units.parse_bytes("512Mi") == 512 * 2 ** 20 and units.parse_bytes("1k") == 1000
    assert Fraction(500) * units.CPU_MILLI == Fraction(1, 2)
    with pytest.raises(ValueError, match="whole number of nanoseconds"):
        units.parse_duration("0.5ns")
    with pytest.raises(ValueError):
        units.parse_bytes("12")


def test_missing_is_one_falsy_object_equal_only_to_itself():
    assert not MISSING and MISSING == MISSING and MISSING != 0 and MISSING is not None
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    from tracelogic.ingest.spans import MISSING as spans_missing

    assert spans_missing is MISSING  # the span model hands out the same value
