"""Explicit deterministic automata over a finite alphabet, and their algorithms.

This is tracelogic's one DFA type: formula automata, past-time Moore machines,
workflow languages and Petri-net languages are all a :class:`DFA`, built by the
one exploration and subset construction of :mod:`tracelogic.automata.subset` and
reduced by the one :func:`minimize`. One type means one minimiser, one product
search and one set of tests for all of them.

A :class:`DFA` is complete over its ``letters``: ``delta[s][k]`` is the successor
of state ``s`` on ``letters[k]``. Letters are any hashable values: the feasible
minterm masks of an atom alphabet for formula automata (then ``n_bits`` is the
number of atoms), or the events of a workflow (``n_bits`` is None). ``output[s]``
labels states: a ``bool`` (accepting) for language automata, or an int bitmask for
the Moore machines that compute several past formulas at once. A DFA is not
changed after it is built (the dataclass is frozen; treat its lists as read-only).
Every algorithm here is an iterative loop (no recursion): Hopcroft minimisation,
reachability, and the product search for a distinguishing word.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["DFA", "minimize", "reachable_from", "co_reachable", "co_reachable_in",
           "find_difference", "run_dfa", "live_states"]


@dataclass(frozen=True, eq=False)
class DFA:
    letters: tuple[Hashable, ...]
    delta: Sequence[Sequence[int]]
    initial: int
    output: Sequence[Hashable]
    n_bits: int | None = None

    @property
    def n_states(self) -> int:
        return len(self.delta)

    @property
    def accepting(self) -> list[bool]:
        return [bool(o) for o in self.output]

    def letter_index(self) -> dict[Hashable, int]:
        return {m: k for k, m in enumerate(self.letters)}

    def __repr__(self) -> str:
        size = "" if self.n_bits is None else f"/{1 << self.n_bits}"
        return f"<DFA states={self.n_states} letters={len(self.letters)}{size} initial={self.initial}>"


def run_dfa(dfa: DFA, masks: Iterable[Hashable]) -> int:
    idx = dfa.letter_index()
    s = dfa.initial
    for m in masks:
        s = dfa.delta[s][idx[m]]
    return s


def live_states(dfa: DFA) -> list[bool]:
    """For each state: is some accepting state reachable from it?  (``False``: a
    rejecting sink, so a runtime monitor can give its verdict early.)"""
    return co_reachable(dfa, [s for s, o in enumerate(dfa.output) if o])


def reachable_from(dfa: DFA, start: int | None = None) -> list[int]:
    """States reachable from ``start`` (default: initial), in BFS order."""
    s0 = dfa.initial if start is None else start
    seen = {s0}
    order = [s0]
    q = deque(order)
    while q:
        s = q.popleft()
        for t in dfa.delta[s]:
            if t not in seen:
                seen.add(t)
                order.append(t)
                q.append(t)
    return order


def co_reachable(dfa: DFA, targets: Iterable[int]) -> list[bool]:
    """For each state: can it reach some state of ``targets``?  (backward BFS)"""
    return co_reachable_in([set(row) for row in dfa.delta], targets)


def co_reachable_in(succ: Sequence[Iterable[int]], targets: Iterable[int]) -> list[bool]:
    """For each node of the graph ``succ`` (its successors per node): can it reach some
    node of ``targets``?  (backward BFS)  The graph form serves automata whose edges are
    not one per letter, such as the guarded ones."""
    preds: list[list[int]] = [[] for _ in succ]
    for s, ts in enumerate(succ):
        for t in ts:
            preds[t].append(s)
    mark = [False] * len(succ)
    q = deque()
    for t in targets:
        if not mark[t]:
            mark[t] = True
            q.append(t)
    while q:
        t = q.popleft()
        for s in preds[t]:
            if not mark[s]:
                mark[s] = True
                q.append(s)
    return mark


def _hopcroft(n: int, k: int, delta: Sequence[Sequence[int]], labels: Sequence[Hashable]) -> list[int]:
    """Coarsest partition compatible with ``labels`` and ``delta`` (Hopcroft 1971)."""
    # inverse transitions per letter
    inv: list[list[list[int]]] = [[[] for _ in range(n)] for _ in range(k)]
    for s in range(n):
        row = delta[s]
        for c in range(k):
            inv[c][row[c]].append(s)
    groups: dict[Hashable, list[int]] = {}
    for s in range(n):
        groups.setdefault(labels[s], []).append(s)
    blocks: list[set[int]] = [set(g) for g in groups.values()]
    block_of = [0] * n
    for b, members in enumerate(blocks):
        for s in members:
            block_of[s] = b
    # all blocks but the largest are initial splitters (any one may be left out)
    largest = max(range(len(blocks)), key=lambda b: len(blocks[b])) if blocks else 0
    work = {b for b in range(len(blocks)) if b != largest}
    while work:
        splitter = list(blocks[work.pop()])
        for c in range(k):
            inv_c = inv[c]
            touched: dict[int, list[int]] = {}
            for t in splitter:
                for s in inv_c[t]:
                    touched.setdefault(block_of[s], []).append(s)
            for b, members in touched.items():
                blk = blocks[b]
                if len(members) == len(blk):
                    continue
                new = set(members)  # distinct: one successor per (state, letter)
                blk -= new
                nb = len(blocks)
                blocks.append(new)
                for s in new:
                    block_of[s] = nb
                if b in work:
                    work.add(nb)
                else:
                    work.add(nb if len(new) <= len(blk) else b)
    return block_of


def minimize(dfa: DFA) -> DFA:
    """The minimal complete DFA of the same language (or Moore behaviour).

    Unreachable states are dropped; states are renumbered in BFS order from
    the initial state (state 0), so equal languages give equal automata.
    """
    order = reachable_from(dfa)
    pos = {s: i for i, s in enumerate(order)}
    delta = [[pos[t] for t in dfa.delta[s]] for s in order]
    labels = [dfa.output[s] for s in order]
    k = len(dfa.letters)
    block_of = _hopcroft(len(order), k, delta, labels)
    # canonical numbering by BFS over blocks from the initial block
    rep: dict[int, int] = {}
    for s in range(len(order)):
        rep.setdefault(block_of[s], s)
    number: dict[int, int] = {block_of[0]: 0}
    queue = deque([block_of[0]])
    new_delta: list[list[int]] = []
    new_out: list[Hashable] = []
    while queue:
        b = queue.popleft()
        s = rep[b]
        row = []
        for t in delta[s]:
            tb = block_of[t]
            if tb not in number:
                number[tb] = len(number)
                queue.append(tb)
            row.append(number[tb])
        new_delta.append(row)
        new_out.append(labels[s])
    return DFA(dfa.letters, new_delta, 0, new_out, dfa.n_bits)


def find_difference(a: DFA, b: DFA, *, compare=None) -> list[Hashable] | None:
    """A shortest word (list of letters) on which ``a`` and ``b`` disagree, or None.

    The search is a BFS over the product automaton, so it is exact, not
    sampling.  A letter that only one automaton has leads the other to an
    implicit rejecting sink (state ``None``, output ``None``): two workflow
    languages over different step sets compare without widening either.
    ``compare(oa, ob)`` decides whether two state outputs agree (default:
    ``bool(oa) == bool(ob)``).
    """
    cmp = compare or (lambda x, y: bool(x) == bool(y))
    letters = tuple(dict.fromkeys(a.letters + b.letters))
    aidx, bidx = a.letter_index(), b.letter_index()
    ka = [aidx.get(m) for m in letters]
    kb = [bidx.get(m) for m in letters]
    Pair = tuple[int | None, int | None]
    start: Pair = (a.initial, b.initial)
    parent: dict[Pair, tuple[Pair, Hashable] | None] = {start: None}
    q = deque([start])
    while q:
        sa, sb = pair = q.popleft()
        oa = None if sa is None else a.output[sa]
        ob = None if sb is None else b.output[sb]
        if not cmp(oa, ob):
            word: list[Hashable] = []
            cur = pair
            while parent[cur] is not None:
                prev, m = parent[cur]  # type: ignore[misc]
                word.append(m)
                cur = prev
            word.reverse()
            return word
        for i, m in enumerate(letters):
            ia, ib = ka[i], kb[i]
            nxt = (None if sa is None or ia is None else a.delta[sa][ia],
                   None if sb is None or ib is None else b.delta[sb][ib])
            if nxt not in parent:
                parent[nxt] = (pair, m)
                q.append(nxt)
    return None
