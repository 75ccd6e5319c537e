"""The one worklist exploration and the one subset construction behind every DFA.

Every automaton tracelogic builds is found the same way: start from one state,
compute the successors of each state on every letter, number each new state in
the order it is discovered (breadth first), and stop when no new state turns
up. Formula automata (progression, reversal, the product with past bits),
past-time Moore machines, workflow languages, the ``conforms`` table and the
Petri-net language differ only in what a state is and how its row of successors
is computed. Writing the loop once (:func:`explore`) keeps the numbering rule,
the work bound and the tests in one place.

The subset construction (:func:`subsets`) is that exploration over sets of
states of a nondeterministic automaton. Sets are int bitmasks and the
automaton's transitions are given per letter as a table of successor masks, so a
step is a few ``|`` operations; an NFA with ε-moves (the τ moves of a Petri
net) folds its ε-closure into that table before calling it. It serves the
reversal (Brzozowski) construction of formula automata, workflow expressions
and Petri nets alike; :func:`determinise` adds the outputs and
:func:`~tracelogic.automata.dfa.minimize`.

Both are generators that yield once per expanded state, so a caller can race two
constructions or bound the work (``construction._race``); :func:`run` drives one
to completion. Nothing here recurses, and nothing changes its inputs.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Hashable, Iterable, Sequence
from typing import TypeVar

from tracelogic.automata.dfa import DFA, minimize

__all__ = ["explore", "subsets", "determinise", "run", "bits", "mask_of"]

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

Steps = Generator[None, None, R]


def explore(start: K, row: Callable[[K], Iterable[K]]) -> Steps[tuple[list[K], list[list[int]]]]:
    """Breadth-first numbering of the states reachable from ``start``.

    ``row(state)`` gives the successor of ``state`` on each letter, in letter order
    (or, for a search that is not over letters, its successors in any fixed order).
    Returns ``(states, delta)``: ``states[i]`` is the state numbered ``i`` (``start``
    is 0) and ``delta[i][k]`` the number of its ``k``-th successor. States are
    compared by ``==``/hash, so two ways of reaching an equal state meet in one.

    Each yield hands out ``(states, delta)`` so far (the very lists that grow): a
    caller that stops early, or whose ``row`` raises, keeps what was explored, and
    the state ``len(delta)`` is the one being expanded.
    """
    ids: dict[K, int] = {start: 0}
    states: list[K] = [start]
    delta: list[list[int]] = []
    i = 0
    while i < len(states):
        out = []
        for t in row(states[i]):
            j = ids.get(t)
            if j is None:
                j = ids[t] = len(states)
                states.append(t)
            out.append(j)
        delta.append(out)
        i += 1
        yield states, delta
    return states, delta


def subsets(initial: int, post: Sequence[Sequence[int]]
            ) -> Steps[tuple[list[int], list[list[int]]]]:
    """The subset construction: ``explore`` over sets of NFA states, as bitmasks.

    ``initial`` is the mask of the initial states; ``post[k][q]`` is the mask of the
    successors of NFA state ``q`` on letter ``k`` (ε-closure already applied, when the
    NFA has ε-moves). The empty set is a state like any other (the rejecting sink), so
    the result is complete. Returns ``(sets, delta)`` as :func:`explore` does.
    """
    def row(x: int) -> list[int]:
        members = bits(x)
        out = []
        for post_k in post:
            acc = 0
            for q in members:
                acc |= post_k[q]
            out.append(acc)
        return out

    return (yield from explore(initial, row))


def determinise(initial: int, post: Sequence[Sequence[int]], letters: Sequence[Hashable],
                output: Callable[[int], Hashable], n_bits: int | None = None) -> DFA:
    """The minimal complete DFA of an NFA given as for :func:`subsets`.

    ``output(set_mask)`` labels each subset (``bool(set_mask & final_mask)`` for a
    language automaton)."""
    sets, delta = run(subsets(initial, post))
    return minimize(DFA(tuple(letters), delta, 0, [output(x) for x in sets], n_bits))


def run(steps: Steps[R]) -> R:
    """Drive one construction to its end and return its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def bits(x: int) -> list[int]:
    """The positions of the set bits of ``x``, lowest first."""
    out = []
    while x:
        low = x & -x
        out.append(low.bit_length() - 1)
        x ^= low
    return out


def mask_of(states: Iterable[int]) -> int:
    """The bitmask of a set of state numbers."""
    m = 0
    for q in states:
        m |= 1 << q
    return m
