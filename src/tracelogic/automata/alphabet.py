"""Minterm alphabets over a fixed, ordered tuple of atoms.

A *letter* is an int bitmask: bit ``i`` is set when ``atoms[i]`` is true at
the event.  With ``n`` atoms there are ``2**n`` masks; the alphabet keeps only
the *feasible* ones.  Feasibility comes from an optional Z3 callback
``encode(atom_key) -> z3.BoolRef``: a mask whose conjunction of (negated)
atom encodings is unsatisfiable -- ``name == "a"`` together with
``name == "b"`` -- is removed.  The search is a depth-first enumeration on an
incremental solver, so exclusive atoms cost O(n^2) checks, not 2^n.

Automata built over a pruned alphabet define transitions only for feasible
letters; their flat runtime tables send every infeasible mask to a dedicated
``infeasible`` sink (see :mod:`tracelogic.automata.monitor`).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from tracelogic.errors import InputError, TracelogicError

__all__ = ["Alphabet", "AlphabetTooLarge", "MAX_ATOMS", "feasible_masks"]

#: Largest number of atoms of one automaton; tables are dense over 2**n masks.
MAX_ATOMS = 16


class AlphabetTooLarge(TracelogicError, ValueError):
    """A formula has more atoms than a dense letter table can hold."""


def feasible_masks(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any]) -> list[int]:
    """Masks over ``atoms`` whose Z3 encoding is satisfiable (DFS with push/pop)."""
    import z3

    n = len(atoms)
    solver = z3.Solver()
    enc = []
    for a in atoms:
        e = encode(a)
        if not isinstance(e, z3.BoolRef):
            raise InputError(f"encode({a!r}) must return a z3.BoolRef, got {e!r}", value=e,
                             hint="return e.g. z3.String('name') == z3.StringVal('a')")
        enc.append(e)
    out: list[int] = []
    # iterative DFS over (depth, mask): the item at depth d fixes bit d-1.
    stack: list[tuple[int, int]] = [(0, 0)]
    # The solver's assertion stack mirrors the current path: one frame per fixed bit.
    path: list[int] = []
    while stack:
        d, mask = stack.pop()
        # keep only the frames of this item's ancestors (depths 1 .. d-1)
        while len(path) > max(d - 1, 0):
            solver.pop()
            path.pop()
        if d > 0:
            bit = (mask >> (d - 1)) & 1
            solver.push()
            path.append(d)
            solver.add(enc[d - 1] if bit else z3.Not(enc[d - 1]))
            if solver.check() == z3.unsat:
                continue
        if d == n:
            out.append(mask)
            continue
        stack.append((d + 1, mask | (1 << d)))
        stack.append((d + 1, mask))
    out.sort()
    return out


class Alphabet:
    """Ordered atoms and the feasible letters (bitmasks) over them."""

    __slots__ = ("atoms", "n", "letters", "index", "feasible", "pruned")

    def __init__(self, atoms: Iterable[Hashable], encode: Callable[[Hashable], Any] | None = None,
                 *, letters: Iterable[int] | None = None) -> None:
        self.atoms = tuple(atoms)
        self.n = len(self.atoms)
        if len(set(self.atoms)) != self.n:
            raise InputError(f"atoms must be distinct, got atoms={self.atoms!r}", value=self.atoms)
        if self.n > MAX_ATOMS:
            raise AlphabetTooLarge(
                f"a formula over {self.n} atoms needs 2**{self.n} letters; the limit is {MAX_ATOMS}",
                value=self.n, hint="split the property, or combine atoms into one predicate")
        self.index = {a: i for i, a in enumerate(self.atoms)}
        if letters is not None:
            self.letters = tuple(sorted(set(letters)))
        elif encode is not None:
            self.letters = tuple(feasible_masks(self.atoms, encode))
        else:
            self.letters = tuple(range(1 << self.n))
        self.pruned = len(self.letters) != (1 << self.n)
        feas = bytearray(1 << self.n)
        for m in self.letters:
            feas[m] = 1
        self.feasible = bytes(feas)

    def __repr__(self) -> str:
        return f"Alphabet({self.atoms!r}, letters={len(self.letters)}/{1 << self.n})"

    def mask(self, letter: Iterable[Hashable]) -> int:
        """The mask of a letter given as the set of true atom keys (unknown keys ignored)."""
        idx = self.index
        m = 0
        for k in letter:
            i = idx.get(k)
            if i is not None:
                m |= 1 << i
        return m

    def letter(self, mask: int) -> frozenset:
        return frozenset(a for i, a in enumerate(self.atoms) if mask >> i & 1)
