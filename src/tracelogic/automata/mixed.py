"""LTLf with past in any nesting: a DFA by progression with *past residuals*.

The other constructions of :mod:`~tracelogic.automata.construction` need every past
operator to range over a pure-past formula (its value is then a state bit).  A past
operator over a future one, ``H (F b)`` or ``F (a & Y (G b))``, has no such bit: whether
``F b`` held at an earlier event depends on events not read yet.  It is still a regular
property of finite traces, and this module builds its DFA by *derivatives*
(Brzozowski 1964, "Derivatives of regular expressions"), i.e. formula progression
(Bacchus & Kabanza 2000, for LTLf De Giacomo & Vardi 2013), extended to past operators
by the one-step equations of the past (Lichtenstein, Pnueli & Zuck 1985, "The glory of
the past"):

    (Y g)(i)   = g(i-1)                        (Y g)(-1) = false   (Z g: true)
    (a S b)(i) = b(i) | (a(i) & (a S b)(i-1))  (a S b)(-1) = false
    (a T b)(i) = b(i) & (a(i) | (a T b)(i-1))  (a T b)(-1) = true

**The state** after reading ``w[0..j-1]`` is a tuple of *residuals*, each a positive
Boolean combination (a DNF) of terms ``X h`` (the trace continues and ``h`` holds at the
next event) and ``WX h`` (if it continues, ``h`` holds there), i.e. a condition on the
unread suffix:

* ``D``: the residual of the formula itself, the set of suffixes ``v`` with
  ``w v |= f`` (the left quotient of the language by ``w``);
* ``V[p]`` for every past node ``p`` (``Y g``, ``Z g``: the residual of ``g``; ``S``,
  ``T``: of ``p`` itself): the condition on the suffix under which it held at event
  ``j-1``.  This is the past's "previous value", carried as a future obligation.

**One step** on letter ``a`` at event ``j`` computes ``val(h)``, the residual of ``h`` at
``j`` (a condition on the suffix after ``j``), children first::

    val(p)      = true if p in a else false            (NNF: negation on atoms)
    val(X h)    = X h                 val(WX h) = WX h
    val(f U g)  = val(g) | (val(f) & X (f U g))
    val(f R g)  = val(g) & (val(f) | WX (f R g))
    val(Y g)    = adv(V[Y g])         val(Z g)  = adv(V[Z g])
    val(f S g)  = val(g) | (val(f) & adv(V[f S g]))
    val(f T g)  = val(g) & (val(f) | adv(V[f T g]))

where ``adv(r)`` replaces every term ``X h`` and ``WX h`` of the residual ``r`` by
``val(h)`` (event ``j`` exists, so both next operators are satisfied by ``h`` holding at
``j``).  The new state is ``D' = adv(D)`` (``val(f)`` at event 0), ``V'[Y g] = val(g)``,
``V'[S] = val(S)``.  ``adv(V[p])`` only evaluates bodies that are subformulas of ``p``,
so the evaluation is well founded.  A state accepts (the trace may end) when some clause
of ``D`` has only ``WX`` terms; the initial state accepts iff the empty trace satisfies
the formula (:mod:`tracelogic.logic.formula`).

**Finiteness.**  Every term body is a subformula of ``f``, so there are finitely many
terms and finitely many subsumption-free DNFs over them (the DNFs are kept in the
canonical, subsumption-free form of :mod:`~tracelogic.automata.progression`).  A past
node is *relevant* only while it occurs in a body of ``D``; the others are dropped from
the state (set to ``None``), which keeps the explored automaton small.  Exploring the
reachable states over the feasible letters and minimising (Hopcroft) gives the minimal
DFA, which is unique: pure-future and future-over-past formulas get the same table from
here as from their own constructions (tests/automata/test_mixed.py checks it).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from tracelogic.errors import UnhandledNode
from tracelogic.logic.formula import Formula, Kind, UNTIMED
from tracelogic.logic.walkers import topological
from tracelogic.automata.dfa import DFA, minimize
from tracelogic.automata.progression import (FALSE_DNF, TRUE_DNF, accepting, dnf_advance,
                                             dnf_and, dnf_or, prog_now)
from tracelogic.automata.subset import explore, run

__all__ = ["MixedProgression", "mixed_dfa"]

_PAST = (Kind.Y, Kind.Z, Kind.S, Kind.T)
_LEAVES = (Kind.TRUE, Kind.FALSE, Kind.ATOM, Kind.NOT, Kind.X, Kind.WX)


class MixedProgression:
    """The derivative automaton of an untimed LTLf+past formula in NNF (see the module
    docstring).  States are ``(D, V)``: ``D`` the formula's residual (None before the
    first letter), ``V`` a tuple with one residual (or None) per past node."""

    def __init__(self, formula: Formula, index: dict[Hashable, int]) -> None:
        for node in topological(formula):
            if node.kind in (Kind.U, Kind.R, Kind.S, Kind.T) and node.interval != UNTIMED:
                raise UnhandledNode(f"the mixed construction has no time bounds: {node}",
                                    value=node, hint="metric formulas use compile_monitor")
            if node.kind in (Kind.UA, Kind.RA):
                raise UnhandledNode(f"anchored node {node!r} in a user formula", value=node)
        self.formula = formula
        self.index = index
        nodes = topological(formula)
        self.past = [n for n in nodes if n.kind in _PAST]
        self.pos = {n: i for i, n in enumerate(self.past)}
        self.initial_v = tuple(FALSE_DNF if n.kind in (Kind.Y, Kind.S) else TRUE_DNF
                               for n in self.past)
        self._below: dict[Formula, frozenset[int]] = {}
        self._present: dict[Formula, int] = {}
        self._nopast: dict[tuple[Formula, int], frozenset] = {}
        self._atoms: dict[Formula, int] = {}
        self.start = (None, self.initial_v)

    # -- static facts about subformulas ---------------------------------------------
    def below(self, f: Formula) -> frozenset[int]:
        """Positions of the past nodes in ``f`` (at any depth)."""
        def combine(node: Formula, memo: dict) -> frozenset[int]:
            acc = frozenset().union(*(memo[c] for c in node.args))
            return acc | {self.pos[node]} if node.kind in _PAST else acc
        return _memo_fold(self._below, f, combine)

    def present(self, f: Formula) -> int:
        """Atom bits read now when ``f`` is evaluated (not under ``X``/``WX``/``Y``/``Z``);
        the bodies of the past nodes' residuals, and the operands of ``Y``/``Z`` (their
        next residual), add their own (:meth:`relevant_bits`)."""
        def combine(node: Formula, memo: dict) -> int:
            k = node.kind
            if k is Kind.ATOM:
                return 1 << self.index[node.key]
            if k in (Kind.X, Kind.WX, Kind.Y, Kind.Z):
                return 0  # Y/Z read their residual's bodies: relevant_bits adds those
            return _bits_of(node, memo)
        return _memo_fold(self._present, f, combine)

    def _all_atoms(self, f: Formula) -> int:
        """Bits of every atom in ``f``: within one state, ``val(f)`` depends on these
        only (the residuals' bodies are subformulas of ``f``'s past nodes)."""
        def combine(node: Formula, memo: dict) -> int:
            return (1 << self.index[node.key] if node.kind is Kind.ATOM
                    else _bits_of(node, memo))
        return _memo_fold(self._atoms, f, combine)

    def relevant_bits(self, state) -> int:
        d, vs = state
        if d is None:
            return self._all_atoms(self.formula)
        bits = 0
        for dnf in (d, *[v for v in vs if v is not None]):
            for c in dnf:
                for t in c:
                    bits |= self.present(t.args[0])
        for i, v in enumerate(vs):  # the relevant Y/Z nodes' next residual: val(operand)
            if v is not None and self.past[i].kind in (Kind.Y, Kind.Z):
                bits |= self.present(self.past[i].args[0])
        return bits

    # -- one step ---------------------------------------------------------------------
    def successor(self, state, mask: int, memo: dict | None = None):
        """The state after reading ``mask`` in ``state``. ``memo`` (one dict per state,
        shared by its letters) keeps ``val`` of subformulas by the bits of their atoms."""
        d, vs = state
        val: dict[Formula, frozenset] = {}
        if memo is None:
            memo = {}
        atoms_of = self._all_atoms
        nopast = self._nopast
        below = self.below
        pos = self.pos

        def deps(node: Formula) -> Sequence[Formula]:
            k = node.kind
            if k in _LEAVES:
                return ()
            if k in (Kind.AND, Kind.OR, Kind.U, Kind.R):
                return node.args
            r = vs[pos[node]]
            bodies = [t.args[0] for c in r for t in c]
            return node.args + tuple(bodies) if k in (Kind.S, Kind.T) else bodies

        def adv(r: frozenset) -> frozenset:
            return dnf_advance(r, lambda t: val[t.args[0]])

        def compute(node: Formula) -> frozenset:
            r = prog_now(node, map(val.__getitem__, node.args), mask, self.index)
            if r is not None:
                return r
            k = node.kind
            if k is Kind.U:
                a, b = node.args
                return dnf_or(val[b], dnf_and(val[a], frozenset([frozenset([
                    node.manager.X(node)])])))
            if k is Kind.R:
                a, b = node.args
                return dnf_and(val[b], dnf_or(val[a], frozenset([frozenset([
                    node.manager.WX(node)])])))
            prev = adv(vs[pos[node]])
            if k in (Kind.Y, Kind.Z):
                return prev
            a, b = node.args
            if k is Kind.S:
                return dnf_or(val[b], dnf_and(val[a], prev))
            if k is Kind.T:
                return dnf_and(val[b], dnf_or(val[a], prev))
            raise UnhandledNode(f"the mixed construction has no rule for {k.name} in "
                                f"{node!r}", value=node)

        def ev(root: Formula) -> frozenset:
            stack = [root]
            while stack:
                node = stack[-1]
                if node in val:
                    stack.pop()
                    continue
                pure = not below(node)
                if pure:
                    key = (node, mask & self.present(node))
                    hit = nopast.get(key)
                else:
                    key = (node, mask & atoms_of(node))
                    hit = memo.get(key)
                if hit is not None:
                    val[node] = hit
                    stack.pop()
                    continue
                pend = [c for c in deps(node) if c not in val]
                if pend:
                    stack.extend(pend)
                    continue
                stack.pop()
                r = val[node] = compute(node)
                if pure:
                    nopast[key] = r
                else:
                    memo[key] = r
            return val[root]

        if d is None:
            d2 = ev(self.formula)
        else:
            for c in d:
                for t in c:
                    ev(t.args[0])
            d2 = adv(d)
        rel: set[int] = set()
        for c in d2:
            for t in c:
                rel |= below(t.args[0])
        if not rel:
            return (d2, (None,) * len(self.past))
        v2: list = [None] * len(self.past)
        for i in rel:
            p = self.past[i]
            v2[i] = ev(p.args[0]) if p.kind in (Kind.Y, Kind.Z) else ev(p)
        return (d2, tuple(v2))

    @staticmethod
    def accepting(state) -> bool:
        return accepting(state[0])


def mixed_steps(formula: Formula, index: dict[Hashable, int], letters: Sequence[int],
                width: int, eps: bool):
    """The construction as a generator (one yield per explored state); returns the
    minimal DFA of ``formula`` (NNF, untimed) over ``letters``."""
    mp = MixedProgression(formula, index)
    trans: dict = {}

    def row(state):
        rel = mp.relevant_bits(state)
        cache = trans.setdefault(state, {})
        memo: dict = {}
        out = []
        for m in letters:
            k = m & rel
            nxt = cache.get(k)
            if nxt is None:
                nxt = cache[k] = mp.successor(state, m, memo)
            out.append(nxt)
        return out

    keys, delta = yield from explore(mp.start, row)
    output = [mp.accepting(s) if s[0] is not None else eps for s in keys]
    return minimize(DFA(tuple(letters), delta, 0, output, width))


def mixed_dfa(formula: Formula, index: dict[Hashable, int], letters: Sequence[int],
              width: int, eps: bool) -> DFA:
    """Minimal DFA of an untimed LTLf+past formula in NNF, past over future included."""
    return run(mixed_steps(formula, index, letters, width, eps))


def _memo_fold(memo: dict, f: Formula, combine: Callable[[Formula, dict], Any]) -> Any:
    """``memo[f]``, computing ``combine(node, memo)`` for every node of ``f`` not in ``memo``
    yet, children first (iteratively: formulas may be deep)."""
    if f in memo:
        return memo[f]
    for node in topological(f):
        if node not in memo:
            memo[node] = combine(node, memo)
    return memo[f]


def _bits_of(node: Formula, memo: dict) -> int:
    v = 0
    for c in node.args:
        v |= memo[c]
    return v
