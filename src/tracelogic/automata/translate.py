"""LTLf + past (+ metric) to automata and monitors: the native backend.

Pipeline for a formula ``f`` evaluated at event 0 of a finite trace:

1. ``f`` is put in negation normal form.
2. Every maximal pure-past subformula containing a past operator is replaced
   by a fresh atom ``PastBit(p)`` ("past as state bits").  A past operator
   over a future operator (``O X p``) is rejected: it has no bit semantics.
3. Untimed: the product of the past bits' update function
   (:class:`~tracelogic.automata.past.PastEvaluator`) and the progression
   automaton of the future part (:mod:`~tracelogic.automata.progression`) is
   explored over the feasible letters of the original atoms, then minimised
   (Hopcroft).  The result is a plain DFA (:class:`TableMonitor`).
4. Metric: the past part becomes a :class:`~tracelogic.automata.past.PastStage`
   (Moore machines plus register units) and the future part a lazily
   explored progression with timestamp registers (:class:`TimedMonitor`).

Translations are cached by formula (identity), atom order and encoder.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from tracelogic.errors import InputError
from tracelogic.logic.formula import PAST_OVER_FUTURE, Formula, Kind
from tracelogic.logic.printers import UnsupportedFormula
from tracelogic.logic.walkers import atoms as atoms_of, nnf, substitute
from tracelogic.automata.alphabet import Alphabet
from tracelogic.automata.dfa import DFA, minimize
from tracelogic.automata.monitor import TableMonitor, TimedMonitor, ValuationMonitor
from tracelogic.automata.past import PastBit, PastEvaluator, PastStage
from tracelogic.automata.progression import Progression

__all__ = ["Automaton", "translate", "compile_monitor", "compile_valuation", "valuations",
           "split_past", "clear_cache"]


@dataclass(eq=False)
class Automaton:
    """A minimal DFA for an untimed formula, over ``alphabet``."""

    formula: Formula
    alphabet: Alphabet
    dfa: DFA

    @property
    def n_states(self) -> int:
        return self.dfa.n_states

    def __repr__(self) -> str:
        return f"<Automaton {self.formula} states={self.n_states} {self.alphabet!r}>"


_CACHE: dict[tuple, Any] = {}
_ALPHABETS: dict[tuple, Alphabet] = {}


def clear_cache() -> None:
    _CACHE.clear()
    _ALPHABETS.clear()


def _alphabet(f: Formula, atoms: Sequence[Hashable] | None,
              encode: Callable[[Hashable], Any] | None) -> Alphabet:
    own = atoms_of(f)
    if atoms is None:
        order = tuple(own)
    else:
        order = tuple(atoms)
        missing = [a for a in own if a not in set(order)]
        if missing:
            raise InputError(f"atoms={order!r} misses the formula's atoms {missing!r}",
                             value=missing, hint="list every atom of the formula")
    key = (order, encode)
    alph = _ALPHABETS.get(key)
    if alph is None:
        alph = _ALPHABETS[key] = Alphabet(order, encode)
    return alph


def check_supported(f: Formula) -> None:
    if f.flags & PAST_OVER_FUTURE:
        raise UnsupportedFormula(
            f"a past operator is applied to a formula with future operators in {f}",
            value=f, hint="past operators (Y O H S) may only contain atoms and other past "
                          "operators; move the future operator outside, e.g. `F (p & O q)`")


def split_past(f: Formula) -> tuple[Formula, list[Formula]]:
    """Replace maximal pure-past subformulas that contain a past operator by PastBit atoms.

    Returns the future formula and the list of replaced past formulas, in
    order of first occurrence.
    """
    m = f.manager
    mapping: dict[Formula, Formula] = {}
    order: list[Formula] = []
    stack = [f]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.has_past and node.is_pure_past:
            if node not in mapping:
                mapping[node] = m.Atom(PastBit(node))
                order.append(node)
            continue
        stack.extend(reversed(node.args))
    if not mapping:
        return f, []
    return substitute(f, mapping), order


def _prepare(formula: Formula):
    if not isinstance(formula, Formula):
        raise InputError(f"expected a formula, got {formula!r}", value=formula)
    check_supported(formula)
    g = nnf(formula)
    fut, pasts = split_past(g)
    return g, fut, pasts


def translate(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
              encode: Callable[[Hashable], Any] | None = None) -> Automaton:
    """Minimal DFA of an untimed LTLf(+past) formula evaluated at event 0.

    ``atoms`` fixes the bit order (default: order of first occurrence);
    ``encode(atom) -> z3.BoolRef`` prunes infeasible letters.
    """
    key = ("dfa", formula, tuple(atoms) if atoms is not None else None, encode)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if formula.is_metric:
        raise UnsupportedFormula(
            f"{formula} has metric bounds; it compiles to a register monitor, not a finite "
            "automaton", value=formula, hint="use compile_monitor(formula)")
    alph = _alphabet(formula, atoms, encode)
    g, fut, pasts = _prepare(formula)
    n = alph.n
    index: dict[Hashable, int] = dict(alph.index)
    for j, p in enumerate(pasts):
        index[PastBit(p)] = n + j
    prog = Progression(fut, index, formula.manager, formula.empty_value)
    if pasts:
        ev = PastEvaluator(pasts, alph.index)
        pfn, p0 = ev.fn, ev.initial
    else:
        pfn, p0 = None, 0
    letters = alph.letters
    ids: dict[tuple[int, int], int] = {(0, p0): 0}
    keys: list[tuple[int, int]] = [(0, p0)]
    delta: list[list[int]] = []
    states = prog.states
    i = 0
    while i < len(keys):
        sid, pbits = keys[i]
        row = []
        for mask in letters:
            if pfn is not None:
                pb2, outs = pfn(pbits, mask)
                ext = mask | (outs << n)
            else:
                pb2, ext = 0, mask
            info = states[sid]
            k = ext & info.relevant
            tr = info.trans.get(k)
            if tr is None:
                tr = info.trans[k] = prog.successor(sid, ext, {}, False)
            key2 = (tr[0], pb2)
            t = ids.get(key2)
            if t is None:
                t = ids[key2] = len(keys)
                keys.append(key2)
            row.append(t)
        delta.append(row)
        i += 1
    output = [states[sid].accepting for sid, _ in keys]
    output[0] = formula.empty_value
    dfa = minimize(DFA(letters, delta, 0, output, n))
    aut = Automaton(formula, alph, dfa)
    _CACHE[key] = aut
    return aut


def compile_monitor(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                    encode: Callable[[Hashable], Any] | None = None
                    ) -> TableMonitor | TimedMonitor:
    """The runtime monitor of ``formula`` (evaluated at event 0 of the trace).

    Untimed formulas give a :class:`TableMonitor` (a plain minimal DFA);
    formulas with metric bounds a :class:`TimedMonitor`.
    """
    key = ("monitor", formula, tuple(atoms) if atoms is not None else None, encode)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if not formula.is_metric:
        mon: Any = TableMonitor(translate(formula, atoms=atoms, encode=encode))
    else:
        alph = _alphabet(formula, atoms, encode)
        g, fut, pasts = _prepare(formula)
        n = alph.n
        index: dict[Hashable, int] = dict(alph.index)
        for j, p in enumerate(pasts):
            index[PastBit(p)] = n + j
        stage = (PastStage(pasts, alph.index, n, alph.letters, formula.manager)
                 if pasts else None)
        prog = Progression(fut, index, formula.manager, formula.empty_value)
        mon = TimedMonitor(formula, alph, stage, prog)
    _CACHE[key] = mon
    return mon


def compile_valuation(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                      encode: Callable[[Hashable], Any] | None = None) -> ValuationMonitor:
    """Per-event monitor of a pure-past formula (its truth at every event)."""
    key = ("valuation", formula, tuple(atoms) if atoms is not None else None, encode)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if formula.has_future:
        raise UnsupportedFormula(
            f"per-event valuations need a pure-past formula; {formula} has future operators",
            value=formula, hint="valuations are defined for Y O H S and booleans only")
    alph = _alphabet(formula, atoms, encode)
    stage = PastStage([formula], alph.index, alph.n, alph.letters, formula.manager)
    mon = ValuationMonitor(formula, alph, stage)
    _CACHE[key] = mon
    return mon


def valuations(formula: Formula, word: Sequence[tuple[Any, int]], *,
               atoms: Sequence[Hashable] | None = None,
               encode: Callable[[Hashable], Any] | None = None) -> list[bool]:
    """Truth of the pure-past ``formula`` at every event of ``word``.

    ``word`` is a list of ``(letter, t_ns)`` with ``letter`` the set of true
    atom keys.  Computed by the compiled monitor, never by the reference.
    """
    mon = compile_valuation(formula, atoms=atoms, encode=encode)
    alph = mon.alphabet
    masks = [alph.mask(letter) for letter, _ in word]
    times = [t for _, t in word]
    for i in range(1, len(times)):
        if times[i] < times[i - 1]:
            raise InputError(f"timestamps must be non-decreasing: event {i} has t={times[i]} "
                             f"after t={times[i - 1]}", value=times[i])
    if alph.pruned:
        for i, mk in enumerate(masks):
            if not alph.feasible[mk]:
                raise InputError(f"event {i} has a letter the Z3 encoding calls impossible",
                                 value=word[i][0])
    return mon.values(masks, times)


_ = Kind  # re-exported for type checkers of callers
