"""Reference semantics: the slow, obviously correct evaluator used as a test oracle.

It reads SPEC-LANGUAGE.md §3 literally over a finite timed word, a list of
``(letter, timestamp_ns)`` where ``letter`` is a ``frozenset`` of the atom
keys true at that event.  Timestamps must be non-decreasing.

* ``holds(f, word, i)`` is the truth of ``f`` at event ``i`` (0 <= i < len).
* ``verdict(f, word)`` is the trace's verdict: ``holds(f, word, 0)``, and for
  the empty word the end-of-trace convention: atoms are false, ``X U Y S`` are
  false, ``WX R Z T`` are true, booleans compose (so ``G p`` holds and
  ``F p`` fails on the empty trace).

This module deliberately shares nothing with the automata package except the
node kinds; it is recursive and memoizes on ``(node, i)`` only to stay
polynomial.  Keep it that way: it is the oracle.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

from tracelogic.errors import InputError
from tracelogic.logic.formula import Formula, Kind

__all__ = ["holds", "verdict", "empty_value", "Word"]

Word = Sequence[tuple[frozenset, int]]


def _in(iv: tuple[int, int | None] | None, d: int) -> bool:
    lo, hi = iv if iv is not None else (0, None)
    return d >= lo and (hi is None or d <= hi)


def _check_word(word: Word) -> None:
    prev = None
    for i, ev in enumerate(word):
        if not (isinstance(ev, tuple) and len(ev) == 2):
            raise InputError(f"event {i} must be a (letter, timestamp_ns) pair, got {ev!r}", value=ev)
        _, t = ev
        if prev is not None and t < prev:
            raise InputError(f"timestamps must be non-decreasing: event {i} has t={t} after t={prev}",
                             value=t, hint="sort events by timestamp first")
        prev = t


def empty_value(f: Formula) -> bool:
    """Does the empty word satisfy ``f``?"""
    k = f.kind
    if k is Kind.TRUE:
        return True
    if k in (Kind.FALSE, Kind.ATOM):
        return False
    if k is Kind.NOT:
        return not empty_value(f.args[0])
    if k is Kind.AND:
        return all(empty_value(a) for a in f.args)
    if k is Kind.OR:
        return any(empty_value(a) for a in f.args)
    if k in (Kind.X, Kind.U, Kind.Y, Kind.S):
        return False
    if k in (Kind.WX, Kind.R, Kind.Z, Kind.T):
        return True
    raise InputError(f"the reference evaluator does not know node kind {k.name}", value=f)


def holds(f: Formula, word: Word, i: int = 0) -> bool:
    """Truth of ``f`` at event ``i`` of the finite timed ``word``."""
    _check_word(word)
    n = len(word)
    if not 0 <= i < n:
        raise InputError(f"event index i={i} is outside the word of length {n}", value=i,
                         hint="use verdict(f, word) for the empty word")
    letters = [ev[0] for ev in word]
    times = [ev[1] for ev in word]
    cache: dict[tuple[int, int], bool] = {}

    def ev(g: Formula, i: int) -> bool:
        key = (g.id, i)
        r = cache.get(key)
        if r is None:
            r = cache[key] = _ev(g, i)
        return r

    def until(a, b, iv, i: int) -> bool:
        # exists j >= i: t_j - t_i in I, b at j, and a at every k in [i, j)
        return any(_in(iv, times[j] - times[i]) and b(j) and all(a(k) for k in range(i, j))
                   for j in range(i, n))

    def since(a, b, iv, i: int) -> bool:
        # exists j <= i: t_i - t_j in I, b at j, and a at every k in (j, i]
        return any(_in(iv, times[i] - times[j]) and b(j) and all(a(k) for k in range(j + 1, i + 1))
                   for j in range(0, i + 1))

    def _ev(g: Formula, i: int) -> bool:
        k = g.kind
        if k is Kind.TRUE:
            return True
        if k is Kind.FALSE:
            return False
        if k is Kind.ATOM:
            return g.key in letters[i]
        if k is Kind.NOT:
            return not ev(g.args[0], i)
        if k is Kind.AND:
            return all(ev(a, i) for a in g.args)
        if k is Kind.OR:
            return any(ev(a, i) for a in g.args)
        if k is Kind.X:
            return i + 1 < n and ev(g.args[0], i + 1)
        if k is Kind.WX:
            return i + 1 >= n or ev(g.args[0], i + 1)
        if k is Kind.Y:
            return i > 0 and ev(g.args[0], i - 1)
        if k is Kind.Z:
            return i == 0 or ev(g.args[0], i - 1)
        a, b = (g.args + (None, None))[:2]
        if k is Kind.U:
            return until(lambda j: ev(a, j), lambda j: ev(b, j), g.interval, i)
        if k is Kind.R:  # a R b == !(!a U !b)
            return not until(lambda j: not ev(a, j), lambda j: not ev(b, j), g.interval, i)
        if k is Kind.S:
            return since(lambda j: ev(a, j), lambda j: ev(b, j), g.interval, i)
        if k is Kind.T:  # a T b == !(!a S !b)
            return not since(lambda j: not ev(a, j), lambda j: not ev(b, j), g.interval, i)
        raise InputError(f"the reference evaluator does not know node kind {k.name}", value=g)

    return ev(f, i)


def verdict(f: Formula, word: Word) -> bool:
    """The LTLf verdict of a whole trace: truth at event 0, or the empty-word convention."""
    if len(word) == 0:
        return empty_value(f)
    return holds(f, word, 0)


def letters_of(word: Word) -> list[frozenset[Hashable]]:
    return [ev[0] for ev in word]
