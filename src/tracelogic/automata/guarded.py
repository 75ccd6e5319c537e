"""Guarded automata: the symbolic translator wired into alphabets, monitors and export.

A future-only untimed formula over many atoms or letters (:func:`wants_guarded`: more
than ``GUARDED_FROM_ATOMS`` atoms or ``GUARDED_FROM_LETTERS`` feasible letters, and
always over a symbolic alphabet, which lists no letter) is translated by
:func:`~tracelogic.automata.symbolic.translate_symbolic` (guard partitions,
compositional products, symbolic Hopcroft) instead of the explicit race, whose cost
is letters x states per step. Z3's pruning enters as a *constraint on guards*: every
guard is conjoined with the alphabet's care set
(:meth:`~tracelogic.automata.alphabet.Alphabet.care_in`) as it is made, so letters no
span can produce never split a state or a product, and the automaton is minimal over
the feasible letters, as the explicit construction's is.

At run time :class:`GuardedMonitor` is a :class:`~tracelogic.automata.monitor.TableMonitor`
whose ``table`` is a (state, letter) cache: ``table[state * n_letters + mask]`` is a
dict hit after the first time, and a miss evaluates the state's guards once (a walk
down one BDD path per guard). Only letters that occur are ever materialised, so the
engines' stepping code is the same table lookup for both kinds of monitor. A letter
outside the care set leads to the infeasible sink, as in the dense tables.

Resource limit: the translation runs under a BDD node budget and a time budget
(``SYMBOLIC_BUDGET_S``) and raises :class:`~tracelogic.automata.symbolic.SymbolicTooLarge`
naming the subformula it was progressing; constructions that still need explicit
letters (past stages, past over future) raise
:class:`~tracelogic.automata.alphabet.AlphabetTooLarge` naming their past subformula.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracelogic.automata.alphabet import EXPLICIT_LETTERS, Alphabet, AlphabetTooLarge
from tracelogic.automata.bdd import FALSE
from tracelogic.automata.monitor import TableMonitor
from tracelogic.automata.symbolic import SymbolicDFA, translate_symbolic
from tracelogic.logic.formula import Formula

__all__ = ["GuardedAutomaton", "GuardedMonitor", "translate_guarded", "explicit_only",
           "SYMBOLIC_BUDGET_S", "GUARDED_FROM_LETTERS", "wants_guarded"]

#: seconds one symbolic translation may take before it names its subformula and stops
SYMBOLIC_BUDGET_S = 60.0
#: a future formula with more feasible letters than this is translated symbolically
#: (fewer: the explicit race of progression and reversal, whose tables are identical)
GUARDED_FROM_LETTERS = 1 << 8
#: ... or over more atoms than this (the explicit products cost letters x states per
#: step: twenty exclusive span names, 21 letters, take seconds where guards take 0.1 s)
GUARDED_FROM_ATOMS = 8
#: up to this many letters the symbolic translation may create ``LISTABLE_NODE_LIMIT`` BDD
#: nodes before the explicit race takes over; beyond, the explicit race costs minutes
#: (seconds per 2**12 letters and state). A node count, not a time: the route, and so
#: the exported guard text, must not depend on how loaded the machine is.
FALLBACK_LETTERS = 1 << 10
LISTABLE_NODE_LIMIT = 200_000
#: BDD nodes one symbolic translation may create
SYMBOLIC_NODE_LIMIT = 2_000_000


@dataclass(eq=False)
class GuardedAutomaton:
    """The minimal DFA of an untimed future formula over a symbolic ``alphabet``: guards
    already restricted to the feasible letters (an infeasible letter has no edge)."""

    formula: Formula
    alphabet: Alphabet
    sdfa: SymbolicDFA
    _dfa: Any = None

    @property
    def n_states(self) -> int:
        return self.sdfa.n_states

    @property
    def dfa(self) -> Any:
        """The explicit table over the listed letters (the same DFA the explicit
        construction gives); a symbolic alphabet lists none."""
        if self._dfa is None:
            if self.alphabet.letters is None:
                raise explicit_only(self.formula, self.alphabet, "a table over every letter")
            self._dfa = self.sdfa.to_dfa(self.alphabet.letters)
        return self._dfa

    def __repr__(self) -> str:
        return f"<GuardedAutomaton {self.formula} states={self.n_states} {self.alphabet!r}>"


def explicit_only(what: Formula, alphabet: Alphabet, construction: str) -> AlphabetTooLarge:
    """The refusal of a construction that lists letters, over a symbolic alphabet."""
    return AlphabetTooLarge(
        f"{what} is built by {construction}, which lists every letter; its formula reads "
        f"{alphabet.n} atoms, {alphabet.count()} feasible letters (more than "
        f"{EXPLICIT_LETTERS})",
        value=what,
        hint="move the past subformula into a property of its own over fewer atoms, or "
             "split the property")


def wants_guarded(formula: Formula, alphabet: Alphabet) -> bool:
    """Is ``formula`` translated symbolically: a future-only formula over more feasible
    letters than ``GUARDED_FROM_LETTERS`` or more atoms than ``GUARDED_FROM_ATOMS``
    (always over a symbolic alphabet)?"""
    if alphabet.symbolic:
        return True
    return not formula.has_past and (len(alphabet.letters) > GUARDED_FROM_LETTERS
                                     or alphabet.n > GUARDED_FROM_ATOMS)


def translate_guarded(formula: Formula, alphabet: Alphabet, *,
                      budget_s: float | None = None,
                      node_limit: int | None = None) -> GuardedAutomaton:
    """The minimal guarded DFA of a future-only untimed ``formula`` over ``alphabet``'s
    bit order, Z3's constraints conjoined with every guard."""
    sd = translate_symbolic(formula, atoms=alphabet.atoms,
                            budget_s=SYMBOLIC_BUDGET_S if budget_s is None else budget_s,
                            node_limit=SYMBOLIC_NODE_LIMIT if node_limit is None else node_limit,
                            care=alphabet.care_in if alphabet.pruned else None)
    return GuardedAutomaton(formula, alphabet, sd)


class _LazyTable(dict):
    """``table[state * n_letters + mask]``: a (state, letter) cache over the guards."""

    __slots__ = ("sdfa", "n_letters", "sink")

    def __init__(self, sdfa: SymbolicDFA, n_letters: int, sink: int) -> None:
        super().__init__()
        self.sdfa = sdfa
        self.n_letters = n_letters
        self.sink = sink

    def __missing__(self, key: int) -> int:
        s, mask = divmod(key, self.n_letters)
        t = self.sink
        if s < self.sdfa.n_states:
            ev = self.sdfa.bdd.evaluate
            for g, tgt in self.sdfa.trans[s]:
                if ev(g, mask):
                    t = tgt
                    break
        self[key] = t
        return t


class GuardedMonitor(TableMonitor):
    """A :class:`TableMonitor` over a guarded automaton: the same per-state answers
    (``accepting``, ``verdicts``, ``decided``) and a lazily filled ``table``."""

    guarded = True

    def __init__(self, automaton: Any) -> None:  # noqa: super().__init__ lists letters
        sd: SymbolicDFA = automaton.sdfa
        alph = automaton.alphabet
        self.automaton = automaton
        self.formula = automaton.formula
        self.alphabet = alph
        self.atoms = alph.atoms
        self.n_states = sd.n_states
        self.n_letters = 1 << alph.n
        self.initial = sd.initial
        sink = self._answer([{t for _, t in row} for row in sd.trans],
                            [bool(o) for o in sd.output], alph.pruned)
        #: ``table[state * n_letters + mask]``, filled on first use from the guards
        self.table = _LazyTable(sd, self.n_letters, sink)

    def edges(self) -> list[tuple[int, int, int]]:
        """``(source, target, guard)`` per pair of states (guards in ``automaton.sdfa.bdd``)."""
        bdd = self.automaton.sdfa.bdd
        out = []
        for s, row in enumerate(self.automaton.sdfa.trans):
            by: dict[int, int] = {}
            for g, t in row:
                by[t] = bdd.disj(by.get(t, FALSE), g)
            out.extend((s, t, g) for t, g in sorted(by.items()))
        return out

    def guard_cubes(self, g: int) -> list[tuple[int, int]]:
        """Disjoint ``(value, care)`` cubes of a guard (paths of its BDD)."""
        out = []
        for path in self.automaton.sdfa.bdd.cubes(g):
            value = care = 0
            for v, bit in path:
                care |= 1 << v
                if bit:
                    value |= 1 << v
            out.append((value, care))
        return _merge_cubes(out)


def _merge_cubes(cubes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Fewer, larger disjoint cubes: two cubes with the same cared-for bits that differ in
    exactly one of them become one without it (the first phase of Quine–McCluskey, on
    the BDD's paths, so the cover stays exact and disjoint)."""
    cur = set(cubes)
    while True:
        merged: set[tuple[int, int]] = set()
        used: set[tuple[int, int]] = set()
        for value, care in sorted(cur, key=lambda vc: (vc[1], vc[0])):
            if (value, care) in used:
                continue
            bit = care
            while bit:
                low = bit & -bit
                bit ^= low
                other = (value ^ low, care)
                if other in cur and other not in used:
                    used.add((value, care))
                    used.add(other)
                    merged.add((value & ~low, care & ~low))
                    break
        if not merged:
            return sorted(cur, key=lambda vc: (vc[1], vc[0]))
        cur = (cur - used) | merged
