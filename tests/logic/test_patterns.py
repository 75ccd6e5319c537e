"""Dwyer patterns x scopes against their textbook definitions.

The definitions are written here independently of the formulas: a scope is
a list of segments (half-open position ranges) of the finite trace, and the
pattern is a direct predicate on each segment.  Every pattern x scope is
checked on random timed words, both with the reference evaluator and with
the compiled monitor.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples, words
from tracelogic.automata import compile_monitor
from tracelogic.logic import Atom
from tracelogic.logic.patterns import (
    PATTERNS, SCOPES, absence, after, after_until, before, between, existence, globally,
    precedence, response, universality,
)
from tracelogic.logic.reference import verdict

NAMES = ("p", "s", "q", "r")
P, S, Q, R = (Atom(n) for n in NAMES)
D = 3  # response-within bound


def segments(w, scope):
    """Half-open position ranges of the scope (textbook, finite traces)."""
    n = len(w)
    has = lambda k, i: k in w[i][0]  # noqa: E731
    if scope == "globally":
        return [(0, n)]
    if scope == "before":
        rs = [i for i in range(n) if has("r", i)]
        return [(0, rs[0])] if rs else []
    if scope == "after":
        qs = [i for i in range(n) if has("q", i)]
        return [(qs[0], n)] if qs else []
    segs = []
    for i in range(n):
        if has("q", i) and not has("r", i):
            nxt = [j for j in range(i + 1, n) if has("r", j)]
            if nxt:
                segs.append((i, nxt[0]))
            elif scope == "after_until":
                segs.append((i, n))
    return segs


def holds_in(w, pattern, seg):
    s, e = seg
    has = lambda k, i: k in w[i][0]  # noqa: E731
    if pattern == "absence":
        return not any(has("p", i) for i in range(s, e))
    if pattern == "existence":
        return any(has("p", i) for i in range(s, e))
    if pattern == "universality":
        return all(has("p", i) for i in range(s, e))
    if pattern == "precedence":  # s precedes p: an S at or before the first P
        ps = [i for i in range(s, e) if has("p", i)]
        return not ps or any(has("s", j) for j in range(s, ps[0] + 1))
    if pattern == "response":
        return all(any(has("s", j) for j in range(i, e)) for i in range(s, e) if has("p", i))
    if pattern == "response_within":
        return all(any(has("s", j) and w[j][1] - w[i][1] <= D for j in range(i, e))
                   for i in range(s, e) if has("p", i))
    raise AssertionError(pattern)


def textbook(w, pattern, scope):
    return all(holds_in(w, pattern, seg) for seg in segments(w, scope))


def build(pattern, scope):
    sc = {"globally": globally(), "before": before(R), "after": after(Q),
          "between": between(Q, R), "after_until": after_until(Q, R)}[scope]
    if pattern == "absence":
        return absence(P, sc)
    if pattern == "existence":
        return existence(P, sc)
    if pattern == "universality":
        return universality(P, sc)
    if pattern == "precedence":
        return precedence(S, P, sc)
    if pattern == "response":
        return response(P, S, sc)
    return response(P, S, sc, within=D)


CASES = [(p, s) for p in PATTERNS for s in SCOPES]


@pytest.mark.parametrize("pattern, scope", CASES)
@examples(60, 600)
@given(ws=st.lists(words(NAMES, max_size=9, max_gap=2), min_size=8, max_size=12))
def test_pattern_matches_textbook_definition(pattern, scope, ws):
    f = build(pattern, scope)
    mon = compile_monitor(f)
    for w in ws:
        want = textbook(w, pattern, scope)
        assert verdict(f, w) == want, (pattern, scope, w)
        assert mon.accepts(w) == want, (pattern, scope, w)


def test_every_scope_has_a_violating_and_a_satisfying_trace():
    """The definitions are not vacuous: both outcomes occur for each case."""
    import itertools
    letters = [frozenset(c) for k in range(3) for c in itertools.combinations(NAMES, k)]
    for pattern, scope in CASES:
        f = build(pattern, scope)
        seen = set()
        for n in range(1, 4):
            for combo in itertools.product(letters, repeat=n):
                w = [(lt, 2 * i) for i, lt in enumerate(combo)]
                seen.add(verdict(f, w))
                if len(seen) == 2:
                    break
            if len(seen) == 2:
                break
        assert seen == {True, False}, (pattern, scope)


def test_bad_within_is_rejected():
    from tracelogic.errors import SpecTypeError
    with pytest.raises(SpecTypeError, match="within"):
        response(P, S, within=-1)
    with pytest.raises(SpecTypeError, match="scope"):
        absence(P, "globally")
