"""Reference trace-set semantics of the workflow algebra (SPEC-LANGUAGE.md §6).

Slow and obviously correct, for tests only: each function is the definition
read off the language reference, by exhaustive search over the ways a word can
be split or interleaved, memoised on (subterm, word). Words are tuples of
:class:`~tracelogic.models.workflow.Event`. Keep words short (about ten events):
``||`` tries every partition of the positions.

- :func:`member`: ``word ∈ L(W)``, forward events, failure flags ignored.
- :func:`prefix`: ``word`` is a prefix of some word of ``L(W)``.
- :func:`conforms`: the ``conforms W`` acceptance condition.
- :func:`saga`: the ``saga W`` condition, stated declaratively as the existence
  of a non-crossing matching between completions and compensations (the
  runtime monitor in :mod:`tracelogic.models.runtime` uses a stack instead).

These are recursive on purpose (they mirror the definitions); workflow terms
in tests are shallow.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import product
from typing import Mapping, Sequence

from tracelogic.models.workflow import (END, START, Alt, Event, Opt, Par, Seq, Skip, Star, Step,
                                        Wf, steps_of)

__all__ = ["member", "prefix", "conforms", "saga", "first_failure"]


def _strip(word: Sequence[Event]) -> tuple[Event, ...]:
    return tuple(Event(e.step, e.phase) for e in word)


def member(w: Wf, word: Sequence[Event]) -> bool:
    """Is ``word`` (flags ignored) a word of ``w``?"""
    return _member(w, _strip(word))


def prefix(w: Wf, word: Sequence[Event]) -> bool:
    """Is ``word`` (flags ignored) a prefix of some word of ``w``?"""
    return _prefix(w, _strip(word))


def _binary(w):
    """n-ary operators as right-nested binary ones (same meaning, simpler splits)."""
    items = w.items
    if len(items) == 1:
        return items[0], None
    return items[0], type(w)(items[1:]) if len(items) > 2 else items[1]


def _splits(word):
    for i in range(len(word) + 1):
        yield word[:i], word[i:]


def _partitions(word):
    """Every way to split ``word`` into two complementary subsequences."""
    n = len(word)
    for mask in product((0, 1), repeat=n):
        yield (tuple(e for e, m in zip(word, mask) if m == 0),
               tuple(e for e, m in zip(word, mask) if m == 1))


@lru_cache(maxsize=None)
def _member(w, word: tuple) -> bool:
    if isinstance(w, Step):
        return word == (Event(w.name, START), Event(w.name, END))
    if isinstance(w, Skip):
        return word == ()
    if isinstance(w, Opt):
        return word == () or _member(w.item, word)
    if isinstance(w, Star):
        if word == ():
            return True
        return any(_member(w.item, word[:i]) and _member(w, word[i:])
                   for i in range(1, len(word) + 1))
    a, b = _binary(w)
    if b is None:
        return _member(a, word)
    if isinstance(w, Alt):
        return _member(a, word) or _member(b, word)
    if isinstance(w, Seq):
        return any(_member(a, u) and _member(b, v) for u, v in _splits(word))
    if isinstance(w, Par):
        return any(_member(a, u) and _member(b, v) for u, v in _partitions(word))
    raise TypeError(w)


@lru_cache(maxsize=None)
def _prefix(w, word: tuple) -> bool:
    if word == ():
        return True
    if isinstance(w, Step):
        return word in ((Event(w.name, START),), (Event(w.name, START), Event(w.name, END)))
    if isinstance(w, Skip):
        return False
    if isinstance(w, Opt):
        return _prefix(w.item, word)
    if isinstance(w, Star):
        # a prefix of a1 a2 … ak is a1 … aj u with u a prefix of a(j+1)
        return any(_member(w, u) and _prefix(w.item, v) for u, v in _splits(word))
    a, b = _binary(w)
    if b is None:
        return _prefix(a, word)
    if isinstance(w, Alt):
        return _prefix(a, word) or _prefix(b, word)
    if isinstance(w, Seq):
        return _prefix(a, word) or any(_member(a, u) and _prefix(b, v) for u, v in _splits(word))
    if isinstance(w, Par):
        return any(_prefix(a, u) and _prefix(b, v) for u, v in _partitions(word))
    raise TypeError(w)


def first_failure(w: Wf, word: Sequence[Event]) -> int | None:
    """Index of the end event of the first failed forward span, or None."""
    forward = set(steps_of(w))
    for i, e in enumerate(word):
        if e.step in forward and e.phase == END and e.failed:
            return i
    return None


def conforms(w: Wf, compensations: Sequence[str], word: Sequence[Event]) -> bool:
    """``conforms W`` (§6), with the in-flight rule documented in docs/workflows.md.

    Holds when the word (flags ignored) is a word of W; or, with the failure at the
    end of the first failed forward span: nothing before it is a compensation, after
    it come only compensations and ends of forward steps, and the forward events of
    the whole word form a prefix of a word of W.
    """
    forward = set(steps_of(w))
    comps = set(compensations) - forward
    if any(e.step not in forward | comps for e in word):
        return False
    if member(w, word):
        return True
    f = first_failure(w, word)
    if f is None:
        return False
    if any(e.step in comps for e in word[:f]):
        return False
    if any(e.step in forward and e.phase == START for e in word[f + 1:]):
        return False
    return prefix(w, [e for e in word if e.step in forward])


def saga(w: Wf, compensations: Mapping[str, str], word: Sequence[Event]) -> bool:
    """``saga W`` (§6), declaratively.

    With no failed forward span, there must be no compensation at all. Otherwise,
    with ``f`` the end of the first failed forward span:
    - no compensation event before ``f``; no forward ``start`` after ``f``; every
      forward ``end`` after ``f`` belongs to a span running at ``f``;
    - let the *completions* be the successful forward ``end`` events of steps that
      have a compensation (before or after ``f``), and the *undos* the successful
      compensation ``end`` events after ``f`` (failed attempts are retries and do
      not count). There is a perfect matching between completions and undos that
      pairs a step with its own compensation, a completion before its undo, and
      never crosses: no two pairs ``(i1, j1)``, ``(i2, j2)`` with
      ``i1 < i2 < j1 < j2``. So each completed occurrence is compensated exactly
      once, the latest completed first.
    """
    forward = set(steps_of(w))
    comp_of = dict(compensations)
    undoes = {c: s for s, c in comp_of.items()}
    f = first_failure(w, word)
    if f is None:
        return not any(e.step in undoes for e in word)
    if any(e.step in undoes for e in word[:f]):
        return False
    for e in word[f + 1:]:
        if e.step in forward and e.phase == START:
            return False
    for s in forward:
        started = sum(1 for e in word[:f] if e.step == s and e.phase == START)
        ended = sum(1 for e in word[:f + 1] if e.step == s and e.phase == END)
        later = sum(1 for e in word[f + 1:] if e.step == s and e.phase == END)
        if later > started - ended:
            return False
    completions = [(i, e.step) for i, e in enumerate(word)
                   if e.step in forward and e.phase == END and not e.failed and e.step in comp_of]
    undos = [(j, undoes[e.step]) for j, e in enumerate(word)
             if j > f and e.step in undoes and e.phase == END and not e.failed]
    if len(completions) != len(undos):
        return False
    return _noncrossing_matching(tuple(completions), tuple(undos))


def _noncrossing_matching(opens: tuple, closes: tuple) -> bool:
    """Brute force: try every bijection, keep one that is typed, ordered and non-crossing."""
    n = len(opens)

    def search(k: int, used: frozenset, pairs: tuple) -> bool:
        if k == n:
            return True
        i, s = opens[k]
        for m, (j, t) in enumerate(closes):
            if m in used or t != s or j < i:
                continue
            if any((i1 < i < j1 < j) or (i < i1 < j < j1) for i1, j1 in pairs):
                continue
            if search(k + 1, used | {m}, pairs + ((i, j),)):
                return True
        return False

    return search(0, frozenset(), ())
