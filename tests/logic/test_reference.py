"""Hand-checked cases of the reference semantics (SPEC-LANGUAGE §3)."""
from __future__ import annotations

import pytest

from tracelogic.errors import InputError
from tracelogic.logic import F, G, H, Atom, O, R, S, Trigger, U, W, WX, X, Y, Z, Not
from tracelogic.logic.reference import empty_value, holds, verdict

p, q = Atom("p"), Atom("q")
E = frozenset()
PQ = frozenset({"p", "q"})
Pp = frozenset({"p"})
Qq = frozenset({"q"})


def w(*letters, times=None):
    times = times or list(range(len(letters)))
    return list(zip(letters, times))


def test_strong_and_weak_next_at_the_last_event():
    word = w(Pp, Pp)
    assert holds(X(p), word, 0) and not holds(X(p), word, 1)
    assert holds(WX(p), word, 1) and holds(WX(Not(p)), word, 1)
    assert not holds(X(Not(p)), word, 1)


def test_yesterday_strong_and_weak_at_the_first_event():
    word = w(Pp, E)
    assert not holds(Y(p), word, 0) and holds(Z(p), word, 0) and holds(Z(Not(p)), word, 0)
    assert holds(Y(p), word, 1) and not holds(Y(p), word, 0)


def test_empty_trace_convention():
    assert verdict(G(p), []) is True and verdict(F(p), []) is False
    assert verdict(p, []) is False and verdict(Not(p), []) is True
    assert verdict(X(p), []) is False and verdict(WX(p), []) is True
    assert verdict(H(p), []) is True and verdict(O(p), []) is False
    assert empty_value(U(p, q)) is False and empty_value(R(p, q)) is True
    assert empty_value(W(p, q)) is True


def test_until_and_weak_until():
    word = w(Pp, Pp, E)
    assert not holds(U(p, q), word, 0)
    assert not holds(W(p, q), word, 0)  # p fails at 2 with no q
    assert holds(W(p, q), w(Pp, Pp), 0)
    assert holds(U(p, q), w(Pp, Qq), 0)
    assert holds(U(p, q), w(Qq), 0)  # q now


def test_metric_bounds_are_relative_to_the_current_event():
    word = w(Pp, E, Qq, times=[10, 11, 15])
    assert holds(F(q, (0, 5)), word, 0)
    assert not holds(F(q, (0, 4)), word, 0)
    assert holds(F(q, (0, 4)), word, 1)
    assert holds(F(q, (5, 5)), word, 0)
    assert not holds(F(q, (6, None)), word, 0)
    assert holds(O(p, (5, 5)), word, 2) and not holds(O(p, (0, 4)), word, 2)
    assert holds(G(Not(q), (0, 4)), word, 0)


def test_equal_timestamps_count_as_distance_zero():
    word = w(Pp, Qq, times=[7, 7])
    assert holds(F(q, (0, 0)), word, 0)
    assert not holds(F(q, (1, None)), word, 0)
    assert holds(O(p, (0, 0)), word, 1)


def test_since_and_trigger():
    word = w(Qq, Pp, Pp)
    assert holds(S(p, q), word, 2)
    assert not holds(S(p, q), w(Qq, E, Pp), 2)
    assert holds(S(p, q, (2, 2)), word, 2) and not holds(S(p, q, (0, 1)), word, 2)
    assert holds(Trigger(p, q), w(E, PQ, Qq), 2)  # q since the last p (inclusive)
    assert not holds(Trigger(p, q), w(E, Pp, Qq), 2)  # q fails at 1, no p after it
    assert holds(Trigger(Not(p), q), w(Qq, Qq), 1)
    assert not holds(Trigger(p, q), w(E, Qq), 1)  # q fails at 0 and no p in (0, 1]


def test_bad_words_are_rejected():
    with pytest.raises(InputError, match="non-decreasing"):
        holds(p, [(Pp, 5), (Pp, 4)])
    with pytest.raises(InputError, match="outside"):
        holds(p, [(Pp, 5)], 3)
