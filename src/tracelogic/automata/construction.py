"""LTLf + past (+ metric) to automata and monitors: the native backend.

Pipeline for a formula ``f`` evaluated at event 0 of a finite trace:

1. ``f`` is put in negation normal form.
2. Every maximal pure-past subformula containing a past operator is replaced
   by a fresh atom ``PastBit(p)`` ("past as state bits").
3. Untimed: the product of the past bits' update function
   (:class:`~tracelogic.automata.past.PastEvaluator`) and the progression
   automaton of the future part (:mod:`~tracelogic.automata.progression`) is
   explored over the feasible letters of the original atoms, then minimised
   (Hopcroft).  The result is a plain DFA (:class:`TableMonitor`).
   A past operator over a future one (``H (F b)``, ``O X p``) has no state bit:
   such formulas take the derivative construction with past residuals of
   :mod:`~tracelogic.automata.mixed`, also minimised.
4. Metric: the past part becomes a :class:`~tracelogic.automata.past.PastStage`
   (Moore machines plus register units) and the future part a lazily
   explored progression with timestamp registers (:class:`TimedMonitor`).
   A metric formula with a past operator over a future one has no
   construction yet: :class:`~tracelogic.automata.monitor.ReferenceMonitor`
   evaluates it over the finished trace with the reference evaluator.

Translations are cached by formula (identity), atom order and encoder.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from tracelogic.errors import InputError
from tracelogic.logic.formula import PAST_OVER_FUTURE, Formula, Kind
from tracelogic.errors import UnsupportedFormula
from tracelogic.logic.walkers import DagWalker, atoms as atoms_of, fold, nnf, substitute
from tracelogic.automata.alphabet import Alphabet
from tracelogic.automata.dfa import DFA, minimize
from tracelogic.automata.mixed import mixed_dfa
from tracelogic.automata.monitor import (ReferenceMonitor, TableMonitor, TimedMonitor,
                                         ValuationMonitor)
from tracelogic.automata.past import PastBit, PastEvaluator, PastStage, moore_rows
from tracelogic.automata.progression import DnfTooLarge, Progression
from tracelogic.automata.subset import explore, mask_of, run, subsets

__all__ = ["Automaton", "translate", "compile_monitor", "compile_valuation", "valuations",
           "split_past", "clear_cache"]


@dataclass(eq=False)
class Automaton:
    """A minimal DFA for an untimed formula, over ``alphabet`` (an explicit one: over a
    symbolic alphabet :func:`translate` gives a
    :class:`~tracelogic.automata.guarded.GuardedAutomaton`)."""

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
    # default order: atom creation order (node id), stable for a given spec
    own = sorted(atoms_of(f), key=lambda k: f.manager.Atom(k).id)
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
    g = nnf(formula)
    fut, pasts = split_past(g)
    return g, fut, pasts


class Mirror(DagWalker):
    """Time reversal: ``X->Y WX->Z U->S R->T``.  A non-empty word satisfies a
    future formula at its first event iff the reversed word satisfies the
    mirror image at its last event."""

    def __init__(self, mgr) -> None:
        super().__init__()
        self.m = mgr

    def walk_true(self, n, a):
        return n

    walk_false = walk_atom = walk_true

    def walk_not(self, n, a):
        return self.m.Not(a[0])

    def walk_and(self, n, a):
        return self.m.And(*a)

    def walk_or(self, n, a):
        return self.m.Or(*a)

    def walk_x(self, n, a):
        return self.m.Y(a[0])

    def walk_wx(self, n, a):
        return self.m.Z(a[0])

    def walk_u(self, n, a):
        return self.m.S(a[0], a[1])

    def walk_r(self, n, a):
        return self.m.Trigger(a[0], a[1])


_GAVE_UP = object()


def _gen_progression(prog: Progression, letters: Sequence[int], width: int, eps: bool):
    """Forward construction: explore the progression automaton, then minimise.

    Gives up (returns ``_GAVE_UP``) when a state's DNF exceeds the clause
    budget: one such step could otherwise take unbounded time, and the
    reversal construction is running alongside."""
    try:
        return (yield from _progression_steps(prog, letters, width, eps))
    except DnfTooLarge:
        return _GAVE_UP


def _progression_steps(prog: Progression, letters: Sequence[int], width: int, eps: bool):
    states = prog.states

    def row(key):
        info = states[key]
        out = []
        for mask in letters:
            k = mask & info.relevant
            tr = info.trans.get(k)
            if tr is None:
                tr = info.trans[k] = prog.successor(key, mask, {}, False)
            out.append(tr[0])
        return out

    keys, delta = yield from explore(0, row)
    output = [states[s].accepting for s in keys]
    output[0] = eps
    return minimize(DFA(tuple(letters), delta, 0, output, width))


def _gen_reversal(fut: Formula, index: dict, letters: Sequence[int], width: int, eps: bool):
    """Backward construction (Brzozowski): the mirror image of ``fut`` is a past
    formula, whose last-instant automaton ``D_R`` is deterministic by
    construction (past as state bits) and recognises the reversed language.
    Determinising the reverse of ``D_R`` yields the *minimal* DFA directly."""
    rev = Mirror(fut.manager).walk(fut)
    delta, outputs = yield from moore_rows(PastEvaluator([rev], index), letters, int(eps))
    dr = minimize(DFA(tuple(letters), delta, 0, outputs, width))
    # the reverse of D_R as an NFA: post[c][t] = the states that reach t on letter c
    inv = [[0] * dr.n_states for _ in letters]
    for s_, row in enumerate(dr.delta):
        for c, t in enumerate(row):
            inv[c][t] |= 1 << s_
    start = mask_of(s_ for s_ in range(dr.n_states) if dr.output[s_])
    sets, delta2 = yield from subsets(start, inv)
    out2 = [bool((x >> dr.initial) & 1) for x in sets]
    return minimize(DFA(tuple(letters), delta2, 0, out2, width))


def _race(*entries):
    """Run constructions with fair time sharing; the first to finish wins.

    ``entries`` are ``(generator, head_start_penalty_seconds)``; each step of a
    generator expands one state.  The generator that has used the least time
    (plus its penalty) runs next, so the total cost is at most about twice the
    faster construction plus the penalty.
    """
    gens = [g for g, _ in entries]
    used = [float(pen) for _, pen in entries]
    clock = time.perf_counter
    while gens:
        i = min(range(len(gens)), key=used.__getitem__)
        t0 = clock()
        try:
            next(gens[i])
        except StopIteration as stop:
            if stop.value is _GAVE_UP:
                del gens[i], used[i]
                continue
            for j, other in enumerate(gens):
                if j != i:
                    other.close()
            return stop.value
        used[i] += clock() - t0
    raise AssertionError("every construction gave up")  # pragma: no cover


_PROGRESSION_HEAD_START = 0.02  # seconds
_WORK_LIMIT = 2_000_000  # ~term comparisons per transition before progression gives up


def future_dfa(fut: Formula, index: dict[Hashable, int], letters: Sequence[int], width: int,
               eps: bool) -> DFA:
    """Minimal DFA of a future-only, untimed formula over the given letters.

    A boolean combination of temporal formulas is built compositionally: each
    operand separately, then products minimised one at a time (so ``G F a &
    G F b & ...`` never meets the ``2^k`` subsets both monolithic
    constructions explore).  Other formulas race progression against reversal.
    """
    # The bit each atom reads is part of the answer: the same formula over another atom
    # order is another DFA (a cache key without the index returned the wrong one).
    key = ("future", fut, tuple(index.items()), tuple(letters), width, eps)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if fut.kind in (Kind.AND, Kind.OR) and sum(1 for c in fut.args if c.has_future) >= 2:
        dfa = _compose(fut, index, letters, width)
    else:
        dfa = _monolithic(fut, index, letters, width, eps)
    _CACHE[key] = dfa
    return dfa


def _monolithic(fut: Formula, index, letters, width, eps) -> DFA:
    prog = Progression(fut, index, fut.manager, eps, work_limit=_WORK_LIMIT)
    # reversal first: its steps are cheap and predictable; progression joins
    # after a short head start (its single steps can be expensive on large DNFs)
    return _race((_gen_reversal(fut, index, letters, width, eps), 0.0),
                 (_gen_progression(prog, letters, width, eps), _PROGRESSION_HEAD_START))


def _compose(root: Formula, index, letters, width) -> DFA:
    """Post-order over the AND/OR skeleton (explicit stack); leaves are monolithic."""

    def operands(node: Formula) -> tuple[Formula, ...]:
        return node.args if node.kind in (Kind.AND, Kind.OR) and node.has_future else ()

    def build(node: Formula, parts: list[DFA]) -> DFA:
        if parts:
            parts.sort(key=lambda d: d.n_states)
            acc = parts[0]
            both = all if node.kind is Kind.AND else any
            for d in parts[1:]:
                acc = minimize(_product(acc, d, both))
            return acc
        hit = _CACHE.get(("future", node, tuple(index.items()), tuple(letters), width,
                          node.empty_value))
        return hit if hit is not None else _monolithic(node, index, letters, width,
                                                       node.empty_value)

    return fold(root, build, operands)


def _product(a: DFA, b: DFA, combine) -> DFA:
    """Synchronous product over the same letters; outputs combined by all/any."""
    keys, delta = run(explore((a.initial, b.initial),
                              lambda key: zip(a.delta[key[0]], b.delta[key[1]])))
    out = [combine((bool(a.output[x]), bool(b.output[y]))) for x, y in keys]
    return DFA(a.letters, delta, 0, out, a.n_bits)


def _product_with_past(fd: DFA, pasts: list[Formula], alph: Alphabet, eps: bool) -> DFA:
    ev = PastEvaluator(pasts, alph.index)
    pfn = ev.fn
    n = alph.n
    fidx = fd.letter_index()

    def row(key):
        frow = fd.delta[key[0]]
        out = []
        for mask in alph.letters:
            pb2, outs = pfn(key[1], mask)
            out.append((frow[fidx[mask | (outs << n)]], pb2))
        return out

    keys, delta = run(explore((fd.initial, ev.initial), row))
    output = [bool(fd.output[fs]) for fs, _ in keys]
    output[0] = eps
    return minimize(DFA(alph.letters, delta, 0, output, n))


def _ext_letters(alph: Alphabet, k: int) -> list[int]:
    n = alph.n
    return [m | (e << n) for e in range(1 << k) for m in alph.letters]


def translate(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
              encode: Callable[[Hashable], Any] | None = None) -> Automaton:
    """Minimal DFA of an untimed LTLf(+past) formula evaluated at event 0.

    ``atoms`` fixes the bit order (default: atom creation order);
    ``encode(atom) -> z3.BoolRef`` prunes infeasible letters.

    The future part is built two ways in lockstep -- forward by progression
    and backward by reversal (Brzozowski) -- and the first to finish wins:
    progression is fast on ``X``-chains, where the reversed language blows
    up, and reversal on deeply nested ``G``/``F``, where progression's
    syntactic states do.  Past parts are then composed as state bits.
    A formula with a past operator over a future one is built by derivatives
    with past residuals (:mod:`~tracelogic.automata.mixed`).
    """
    return _cached("dfa", formula, atoms, encode, _translate)


def _translate(formula: Formula, atoms: Sequence[Hashable] | None,
               encode: Callable[[Hashable], Any] | None) -> Automaton:
    if formula.is_metric:
        raise UnsupportedFormula(
            f"{formula} has metric bounds; it compiles to a register monitor, not a finite "
            "automaton", value=formula, hint="use compile_monitor(formula)")
    alph = _alphabet(formula, atoms, encode)
    if alph.symbolic and formula.has_past:
        from tracelogic.automata.guarded import explicit_only

        raise explicit_only(_past_part(formula), alph, "the past construction")
    if not formula.has_past:
        from tracelogic.automata.guarded import wants_guarded

        if wants_guarded(formula, alph):
            aut = _guarded(formula, alph)
            if aut is not None:
                return aut
    if formula.flags & PAST_OVER_FUTURE:
        g = nnf(formula)
        if g.kind in (Kind.AND, Kind.OR) and sum(1 for c in g.args if not c.is_propositional) >= 2:
            # compositionally, as future_dfa does: each operand on its own route, then
            # products minimised one at a time (the operands' residuals never meet)
            parts = sorted((translate(c, atoms=alph.atoms, encode=encode).dfa for c in g.args),
                           key=lambda d: d.n_states)
            both = all if g.kind is Kind.AND else any
            dfa = parts[0]
            for d in parts[1:]:
                dfa = minimize(_product(dfa, d, both))
        else:
            dfa = mixed_dfa(g, dict(alph.index), alph.letters, alph.n, formula.empty_value)
        return Automaton(formula, alph, dfa)
    g, fut, pasts = _prepare(formula)
    n = alph.n
    eps = formula.empty_value
    index = _with_past_bits(alph, pasts)
    if not pasts:
        dfa = future_dfa(fut, index, alph.letters, n, eps)
    else:
        fd = future_dfa(fut, index, _ext_letters(alph, len(pasts)), n + len(pasts), eps)
        dfa = _product_with_past(fd, pasts, alph, eps)
    return Automaton(formula, alph, dfa)


def _cached(kind: str, formula: Formula, atoms: Sequence[Hashable] | None,
            encode: Callable[[Hashable], Any] | None, build: Callable[..., Any]) -> Any:
    """``build(formula, atoms, encode)``, once per formula, bit order and encoder (the
    public constructions are asked again for every property that shares a formula)."""
    key = (kind, formula, tuple(atoms) if atoms is not None else None, encode)
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = build(formula, atoms, encode)
    return hit


def _with_past_bits(alph: Alphabet, pasts: Sequence[Formula]) -> dict[Hashable, int]:
    """The alphabet's atom bits, then one bit per past subformula (the past stage's state
    read as extra letters)."""
    index: dict[Hashable, int] = dict(alph.index)
    for j, p in enumerate(pasts):
        index[PastBit(p)] = alph.n + j
    return index


def _guarded(formula: Formula, alph: Alphabet) -> Any:
    """The guarded automaton of a future formula over many letters (automata.guarded).
    Over at most ``FALLBACK_LETTERS`` letters the symbolic translation may create
    ``LISTABLE_NODE_LIMIT`` BDD nodes; past them (None) the explicit race answers instead."""
    from tracelogic.automata.guarded import (FALLBACK_LETTERS, LISTABLE_NODE_LIMIT,
                                             translate_guarded)
    from tracelogic.automata.symbolic import SymbolicTooLarge

    if alph.symbolic or len(alph.letters) > FALLBACK_LETTERS:
        return translate_guarded(formula, alph)
    try:
        return translate_guarded(formula, alph, node_limit=LISTABLE_NODE_LIMIT)
    except SymbolicTooLarge:
        return None


def _past_part(formula: Formula) -> Formula:
    """The past subformula a construction over explicit letters would build first (the
    first maximal pure-past one; the whole formula when its past reads a future)."""
    _, pasts = split_past(nnf(formula))
    return pasts[0] if pasts else formula


def compile_monitor(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                    encode: Callable[[Hashable], Any] | None = None
                    ) -> TableMonitor | TimedMonitor:
    """The runtime monitor of ``formula`` (evaluated at event 0 of the trace).

    Untimed formulas give a :class:`TableMonitor` (a plain minimal DFA);
    formulas with metric bounds a :class:`TimedMonitor`, or, with a past operator over
    a future one, a :class:`ReferenceMonitor` (whole-trace evaluation).
    """
    return _cached("monitor", formula, atoms, encode, _monitor)


def _monitor(formula: Formula, atoms: Sequence[Hashable] | None,
             encode: Callable[[Hashable], Any] | None) -> Any:
    if not formula.is_metric:
        aut = translate(formula, atoms=atoms, encode=encode)
        if hasattr(aut, "sdfa"):
            from tracelogic.automata.guarded import GuardedMonitor

            mon: Any = GuardedMonitor(aut)
        else:
            mon = TableMonitor(aut)
    elif formula.flags & PAST_OVER_FUTURE:
        mon = ReferenceMonitor(formula, _alphabet(formula, atoms, encode))
    else:
        alph = _alphabet(formula, atoms, encode)
        g, fut, pasts = _prepare(formula)
        n = alph.n
        index = _with_past_bits(alph, pasts)
        if pasts and alph.symbolic:
            from tracelogic.automata.guarded import explicit_only

            raise explicit_only(pasts[0], alph, "the past stage of a timed monitor")
        stage = (PastStage(pasts, alph.index, n, alph.letters, formula.manager)
                 if pasts else None)
        prog = Progression(fut, index, formula.manager, formula.empty_value)
        mon = TimedMonitor(formula, alph, stage, prog)
    return mon


def compile_valuation(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                      encode: Callable[[Hashable], Any] | None = None) -> ValuationMonitor:
    """Per-event monitor of a pure-past formula (its truth at every event)."""
    return _cached("valuation", formula, atoms, encode, _valuation)


def _valuation(formula: Formula, atoms: Sequence[Hashable] | None,
               encode: Callable[[Hashable], Any] | None) -> ValuationMonitor:
    if formula.has_future:
        raise UnsupportedFormula(
            f"per-event valuations need a pure-past formula; {formula} has future operators",
            value=formula, hint="valuations are defined for Y O H S and booleans only")
    alph = _alphabet(formula, atoms, encode)
    if alph.symbolic:
        from tracelogic.automata.guarded import explicit_only

        raise explicit_only(formula, alph, "the past stage of a valuation")
    stage = PastStage([formula], alph.index, alph.n, alph.letters, formula.manager)
    return ValuationMonitor(formula, alph, stage)


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
