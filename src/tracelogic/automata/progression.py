"""Formula progression (derivatives) for the future part, with timestamp registers.

A state is a set of *obligations on the next event*, kept in disjunctive
normal form: a ``frozenset`` of clauses, each a ``frozenset`` of terms
``X g`` (the trace must continue and ``g`` hold there) or ``WX g`` (if the
trace continues, ``g`` holds there).  Reading a letter ``a`` unwraps every
term and *progresses* its body through ``a``::

    prog(p, a)      = true if p in a else false       (NNF: negation on atoms)
    prog(f U g, a)  = prog(g, a) | (prog(f, a) & X (f U g))
    prog(f R g, a)  = prog(g, a) & (prog(f, a) | WX (f R g))
    prog(X g, a)    = X g          prog(WX g, a) = WX g

The trace may end after any letter: a state accepts iff some clause has
only weak terms.  Before the first letter the state is the formula itself
(state 0); its acceptance is the empty-trace convention of
:mod:`tracelogic.logic.formula`.  Clauses are kept subsumption-free, so the
set of states is finite for untimed formulas (boolean combinations of a
finite closure) and exploring it gives a DFA.

**Metric operators** are progressed with *anchored* copies.  ``f U[lo,hi] g``
met at an event with timestamp ``t`` becomes an obligation ``UA`` whose
window is measured from a register holding ``t``; at a later event with
timestamp ``t'`` and ``d = t' - r``:

* ``d < lo``: ``prog(f) & X UA``  (``g`` does not count yet);
* ``lo <= d <= hi``: ``prog(g) | (prog(f) & X UA')`` where ``UA'`` has
  ``lo = 0`` (the lower bound is met for good), or is the untimed ``f U g``
  when ``hi`` is unbounded -- the register is then released;
* ``d > hi``: false (the window has passed).

``R[lo,hi]`` is dual.  Registers are renumbered after each step in
timestamp order (slot 0 is the oldest), a new anchor equal to the newest one
is merged with it, and obligations that differ only in their anchor are
merged by subsumption: with ``lo = 0``, an until anchored earlier implies the
same until anchored later (its window ends first), and a release anchored
later implies one anchored earlier.  Hence:

* ``[<= d]`` obligations need one register per (clause, subformula): in
  ``G (p -> F[<= d] q)`` only the oldest pending request is kept;
* ``[a, b]`` with ``a > 0`` keeps one register per pending anchor younger
  than ``a``: at most the number of distinct timestamps in a window of
  length ``a``, plus the ``lo = 0`` ones above.

The runtime view of a state is ``(sid, regs)``: the interned DNF's id and a
tuple of register timestamps.  A step first computes, for every anchored
obligation of the state, on which side of its window ``t' - r`` lies (the
*timed bits*), then looks ``(letter, timed bits)`` up in a per-state cache
of transitions ``(sid', register update)``; only a cache miss progresses
formulas.  For an untimed formula there are no timed bits and the cache *is*
the DFA.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from tracelogic.errors import TracelogicError, UnhandledNode
from tracelogic.logic.formula import Formula, FormulaManager, Kind, UNTIMED
from tracelogic.logic.walkers import fold

__all__ = ["Progression", "NOW", "TRUE_DNF", "FALSE_DNF", "DnfTooLarge"]

NOW = -1
BEFORE, INSIDE, AFTER = 0, 1, 2

DNF = frozenset  # frozenset[frozenset[Formula]]
TRUE_DNF: DNF = frozenset([frozenset()])
FALSE_DNF: DNF = frozenset()

def _order(slot: int) -> tuple[bool, int]:
    """Register slots in timestamp order: slot 0 is the oldest, ``NOW`` (this event's
    timestamp) the newest. Slots are register indexes, never times: no sentinel value
    stands for ``NOW`` (tests/automata/test_registers.py runs times near ±2^63)."""
    return (slot == NOW, slot)


_FAMILY: dict[Formula, tuple | None] = {}
_CLAUSE_INFO: dict[frozenset, tuple] = {}


def _family(term: Formula):
    """Anchored-obligation family of a term, or None: terms of one family
    differ only in their anchor, and are ordered by implication."""
    r = _FAMILY.get(term, _FAMILY)
    if r is _FAMILY:
        body = term.args[0]
        if body.kind in (Kind.UA, Kind.RA) and body.interval[0] == 0:
            r = (term.kind, body.kind, body.args, body.interval)
        else:
            r = None
        _FAMILY[term] = r
    return r


def _stronger_in_family(s: Formula, t: Formula) -> bool:
    """For two terms of one family: does ``s`` imply ``t``?"""
    sb, tb = s.args[0], t.args[0]
    if sb.kind is Kind.UA:  # the earlier anchor's window ends first: stronger
        return _order(sb.key) <= _order(tb.key)
    return _order(sb.key) >= _order(tb.key)  # RA: the later anchor covers more


def _term_implies(s: Formula, t: Formula) -> bool:
    if s is t:
        return True
    sb, tb = s.args[0], t.args[0]
    if sb is tb:
        return s.kind is Kind.X and t.kind is Kind.WX
    fs = _family(s)
    return fs is not None and fs == _family(t) and _stronger_in_family(s, t)


def _info(c: frozenset) -> tuple:
    """(bodies of the strong terms, {family: its term}) of a reduced clause."""
    r = _CLAUSE_INFO.get(c)
    if r is None:
        xb = frozenset(t.args[0] for t in c if t.kind is Kind.X)
        fam = {}
        for t in c:
            f = _family(t)
            if f is not None:
                fam[f] = t
        r = _CLAUSE_INFO[c] = (xb, fam)
    return r


def _reduce_clause(c: frozenset) -> frozenset:
    """Drop the terms of a conjunction implied by another of its terms."""
    if len(c) < 2:
        return c
    xb = None
    best: dict = {}
    drop = []
    for t in c:
        if t.kind is Kind.WX:
            if xb is None:
                xb = {u.args[0] for u in c if u.kind is Kind.X}
            if t.args[0] in xb:
                drop.append(t)
                continue
        f = _family(t)
        if f is not None:
            cur = best.get(f)
            if cur is None:
                best[f] = t
            elif _stronger_in_family(t, cur):
                drop.append(cur)
                best[f] = t
            else:
                drop.append(t)
    return c.difference(drop) if drop else c


def _clause_implies(c1: frozenset, c2: frozenset) -> bool:
    """Every term of (reduced) c2 is implied by some term of (reduced) c1."""
    if len(c2) > len(c1):  # each term of c1 implies at most one term of c2
        return False
    if c2 <= c1:
        return True
    xb, fam = _info(c1)
    for t in c2:
        if t in c1:
            continue
        if t.kind is Kind.WX and t.args[0] in xb:
            continue
        f = _family(t)
        if f is None:
            return False
        s = fam.get(f)
        if s is None or not _stronger_in_family(s, t):
            return False
    return True


def _clause_key(c: frozenset) -> tuple:
    return (len(c), sorted(t.id for t in c))


def simplify(clauses) -> DNF:
    """Reduce clauses and drop every clause that implies another one.

    In a disjunction the stronger clause is redundant.  Of clauses that imply
    each other only the first in a fixed order is kept.
    """
    cl = {_reduce_clause(c) for c in clauses}
    if frozenset() in cl:
        return TRUE_DNF
    if len(cl) < 2:
        return frozenset(cl)
    order = sorted(cl, key=_clause_key)
    kept = []
    for i, c in enumerate(order):
        redundant = False
        for j, k in enumerate(order):
            if len(k) > len(c):
                break  # c cannot imply a longer clause
            if i != j and _clause_implies(c, k):
                if j > i and _clause_implies(k, c):
                    continue  # equivalent: keep the earlier one (c)
                redundant = True
                break
        if not redundant:
            kept.append(c)
    return frozenset(kept)


def clear_caches() -> None:
    _FAMILY.clear()
    _CLAUSE_INFO.clear()


def dnf_and(a: DNF, b: DNF) -> DNF:
    if not a or not b:
        return FALSE_DNF
    if a == TRUE_DNF:
        return b
    if b == TRUE_DNF:
        return a
    return simplify(x | y for x in a for y in b)


def dnf_or(a: DNF, b: DNF) -> DNF:
    if not a:
        return b
    if not b:
        return a
    if a == TRUE_DNF or b == TRUE_DNF:
        return TRUE_DNF
    return simplify(a | b)


def dnf_all(parts: Iterable[DNF], conj: Callable[[DNF, DNF], DNF] = dnf_and) -> DNF:
    """The conjunction of ``parts`` by ``conj``, stopping at the first false result (an
    iterator of parts computes no more of them)."""
    r = TRUE_DNF
    for d in parts:
        r = conj(r, d)
        if not r:
            break
    return r


def dnf_any(parts: Iterable[DNF], disj: Callable[[DNF, DNF], DNF] = dnf_or) -> DNF:
    """The disjunction of ``parts`` by ``disj``, stopping at the first true result."""
    r = FALSE_DNF
    for d in parts:
        r = disj(r, d)
        if r == TRUE_DNF:
            break
    return r


def dnf_advance(dnf: DNF, value: Callable[[Formula], DNF],
                conj: Callable[[DNF, DNF], DNF] = dnf_and,
                disj: Callable[[DNF, DNF], DNF] = dnf_or) -> DNF:
    """A state's obligations after one event: ``dnf`` with each next-term replaced by
    ``value`` of it, as the terms are needed (clause by clause, no further than
    the first false term of a clause or the first true clause)."""
    return dnf_any((dnf_all(map(value, c), conj) for c in dnf), disj)


def prog_now(node: Formula, kids: Iterable[DNF], mask: int, index: dict[Hashable, int],
             conj: Callable[[DNF, DNF], DNF] = dnf_and,
             disj: Callable[[DNF, DNF], DNF] = dnf_or) -> DNF | None:
    """The progression through the letter ``mask`` of a node of the kinds every
    construction treats alike: constants, an atom or its negation (NNF), ``&`` and ``|``
    over their operands' progressions ``kids``, and a next-operator, which stays as the
    obligation.  None for the other kinds (until, release, past), each construction's
    own."""
    k = node.kind
    if k is Kind.TRUE:
        return TRUE_DNF
    if k is Kind.FALSE:
        return FALSE_DNF
    if k is Kind.ATOM:
        return TRUE_DNF if (mask >> index[node.key]) & 1 else FALSE_DNF
    if k is Kind.NOT:
        a = node.args[0]
        if a.kind is not Kind.ATOM:
            raise UnhandledNode(f"not in negation normal form: {node!r}", value=node)
        return FALSE_DNF if (mask >> index[a.key]) & 1 else TRUE_DNF
    if k is Kind.AND:
        return dnf_all(kids, conj)
    if k is Kind.OR:
        return dnf_any(kids, disj)
    if k in (Kind.X, Kind.WX):
        return frozenset([frozenset([node])])
    return None


def accepting(dnf: DNF) -> bool:
    """The trace may end now: some clause has only weak (``WX``) terms."""
    return any(all(t.kind is Kind.WX for t in c) for c in dnf)


def now_args(node: Formula) -> tuple[Formula, ...]:
    """The operands progression reads at the current event: none of a next-operator's
    (``X``, ``WX``), which wait for the next event."""
    return () if node.kind in (Kind.X, Kind.WX) else node.args


class DnfTooLarge(TracelogicError, RuntimeError):
    """Raised (internally) when a progression state exceeds its clause budget."""


@dataclass
class StateInfo:
    dnf: DNF | None  # None for the initial state
    relevant: int  # atom bits the next step reads
    anchors: tuple  # ((anchored body, slot, lo, hi), ...) whose side-of-window is read
    n_slots: int
    accepting: bool
    trans: dict = field(default_factory=dict)

    @property
    def is_true(self) -> bool:
        return self.dnf == TRUE_DNF

    @property
    def is_false(self) -> bool:
        return self.dnf is not None and not self.dnf


class Progression:
    """Lazily explored progression automaton (with registers) of a future formula.

    ``formula`` must be in NNF and have no past operators (past subformulas
    are replaced by atoms beforehand); ``index`` maps atom keys to bits.
    ``initial_accepting`` is the empty-trace value of the original formula.
    """

    def __init__(self, formula: Formula, index: dict[Hashable, int], mgr: FormulaManager,
                 initial_accepting: bool, work_limit: int | None = None) -> None:
        self.m = mgr
        #: clause operations allowed per transition before DnfTooLarge (None: no limit)
        self.work_limit = work_limit
        self._work = 0
        self.formula = formula
        self.index = index
        self._present: dict[Formula, int] = {}
        self._cache: dict[tuple, DNF] = {}
        self._ids: dict[DNF, int] = {}
        self.states: list[StateInfo] = [StateInfo(None, self.present(formula), (), 0,
                                                  initial_accepting)]

    # -- bookkeeping ------------------------------------------------------------------
    def present(self, root: Formula) -> int:
        """Atom bits read by ``prog(root, .)`` (atoms not under X/WX)."""
        r = self._present.get(root)
        return r if r is not None else fold(root, self._bits, now_args, self._present)

    def _bits(self, node: Formula, kids: list[int]) -> int:
        if node.kind is Kind.ATOM:
            return 1 << self.index[node.key]
        v = 0
        for b in kids:
            v |= b
        return v

    def intern(self, dnf: DNF) -> int:
        sid = self._ids.get(dnf)
        if sid is not None:
            return sid
        sid = len(self.states)
        self._ids[dnf] = sid
        relevant = 0
        anchors = []
        slots = set()
        seen = set()
        for c in dnf:
            for t in c:
                body = t.args[0]
                if body in seen:
                    continue
                seen.add(body)
                relevant |= self.present(body)
                if body.kind in (Kind.UA, Kind.RA):
                    lo, hi = body.interval
                    anchors.append((body, body.key, lo, hi))
                    slots.add(body.key)
        anchors.sort(key=lambda a: (a[1], a[0].id))
        self.states.append(StateInfo(dnf, relevant, tuple(anchors), len(slots), accepting(dnf)))
        return sid

    # -- progression --------------------------------------------------------------------
    def _and(self, a: DNF, b: DNF) -> DNF:
        lim = self.work_limit
        if lim is not None:
            c = len(a) * len(b)
            # simplification compares clause pairs term by term
            self._work += c * c * (1 + max(map(len, a), default=0) + max(map(len, b), default=0))
            if self._work > lim:
                raise DnfTooLarge(self._work)
        return dnf_and(a, b)

    def _or(self, a: DNF, b: DNF) -> DNF:
        lim = self.work_limit
        if lim is not None:
            c = len(a) + len(b)
            self._work += c * c * (1 + max(max(map(len, a), default=0), max(map(len, b), default=0)))
            if self._work > lim:
                raise DnfTooLarge(self._work)
        return dnf_or(a, b)

    def _combine(self, node: Formula, kids: list[DNF], mask: int) -> DNF:
        r = prog_now(node, kids, mask, self.index, self._and, self._or)
        if r is not None:
            return r
        k = node.kind
        m = self.m
        if k in (Kind.U, Kind.R):
            p1, p2 = kids
            lo, hi = node.interval
            if node.interval == UNTIMED:
                nxt = node
            else:
                # a fresh metric obligation, anchored at this event (register NOW)
                nxt = m._anchored(Kind.UA if k is Kind.U else Kind.RA, node.args[0], node.args[1],
                                  (lo, hi), NOW)
            if k is Kind.U:
                cont = self._and(p1, frozenset([frozenset([m.X(nxt)])]))
                return self._or(p2, cont) if lo == 0 else cont
            cont = self._or(p1, frozenset([frozenset([m.WX(nxt)])]))
            return self._and(p2, cont) if lo == 0 else cont
        raise UnhandledNode(f"progression has no rule for {k.name} in {node!r}", value=node,
                            hint="past operators must be replaced by atoms before progression")

    def prog(self, root: Formula, mask: int) -> DNF:
        """Progress an anchor-free formula through one letter (memoized, no recursion)."""
        cache = self._cache
        present = self.present
        key = (root, mask & present(root))
        r = cache.get(key)
        if r is not None:
            return r
        stack = [root]
        while stack:
            node = stack[-1]
            nk = (node, mask & present(node))
            if nk in cache:
                stack.pop()
                continue
            kids = now_args(node)
            pend = [c for c in kids if (c, mask & present(c)) not in cache]
            if pend:
                stack.extend(pend)
                continue
            stack.pop()
            cache[nk] = self._combine(node, [cache[(c, mask & present(c))] for c in kids], mask)
        return cache[key]

    def prog_anchored(self, body: Formula, mask: int, side: int) -> DNF:
        m = self.m
        a, b = body.args
        lo, hi = body.interval
        if body.kind is Kind.UA:
            if side == AFTER:
                return FALSE_DNF
            p1 = self.prog(a, mask)
            if side == BEFORE:
                return self._and(p1, frozenset([frozenset([m.X(body)])]))
            rest = m.U(a, b) if hi is None else (
                body if lo == 0 else m._anchored(Kind.UA, a, b, (0, hi), body.key))
            return self._or(self.prog(b, mask), self._and(p1, frozenset([frozenset([m.X(rest)])])))
        if side == AFTER:
            return TRUE_DNF
        p1 = self.prog(a, mask)
        if side == BEFORE:
            return self._or(p1, frozenset([frozenset([m.WX(body)])]))
        rest = m.R(a, b) if hi is None else (
            body if lo == 0 else m._anchored(Kind.RA, a, b, (0, hi), body.key))
        return self._and(self.prog(b, mask), self._or(p1, frozenset([frozenset([m.WX(rest)])])))

    def successor(self, sid: int, mask: int, sides: dict[Formula, int], eq_last: bool
                  ) -> tuple[int, tuple[int, ...]]:
        """Compute the transition: the next state id and the register update."""
        self._work = 0
        info = self.states[sid]
        if info.dnf is None:
            res = self.prog(self.formula, mask)
        else:
            def value(term: Formula) -> DNF:
                body = term.args[0]
                if body.kind in (Kind.UA, Kind.RA):
                    return self.prog_anchored(body, mask, sides[body])
                return self.prog(body, mask)

            res = dnf_advance(info.dnf, value, self._and, self._or)
        dnf, update = self._canonical(res, eq_last, info.n_slots)
        return self.intern(dnf), update

    def _canonical(self, dnf: DNF, eq_last: bool, n_old: int) -> tuple[DNF, tuple[int, ...]]:
        """Renumber registers in timestamp order; returns the DNF and, for each new
        register, the old register it copies (``NOW`` = this event's timestamp).

        A new anchor whose timestamp equals the newest register's is merged with
        it.  Renumbering can make obligations comparable, and simplification can
        then drop registers, so this repeats until the numbering is stable.
        """
        m = self.m
        origin: dict[int, int] | None = None  # current slot -> old register or NOW
        while True:
            used: set[int] = set()
            for c in dnf:
                for t in c:
                    b = t.args[0]
                    if b.kind in (Kind.UA, Kind.RA):
                        used.add(b.key)
            if not used:
                return dnf, ()
            if origin is None:
                remap = {NOW: n_old - 1} if (eq_last and NOW in used and n_old > 0) else {}
                targets = sorted({remap.get(s, s) for s in used}, key=_order)
                number = {s: i for i, s in enumerate(targets)}
                full = {s: number[remap.get(s, s)] for s in used}
                new_origin = {i: s for s, i in number.items()}
            else:
                targets = sorted(used)
                full = {s: i for i, s in enumerate(targets)}
                new_origin = {i: origin[s] for s, i in full.items()}
            if all(full[s] == s for s in used):
                return dnf, tuple(new_origin[i] for i in range(len(targets)))
            sub: dict[Formula, Formula] = {}

            def fix(t: Formula) -> Formula:
                r = sub.get(t)
                if r is None:
                    b = t.args[0]
                    if b.kind in (Kind.UA, Kind.RA) and full[b.key] != b.key:
                        nb = m._anchored(b.kind, b.args[0], b.args[1], b.interval, full[b.key])
                        r = m.X(nb) if t.kind is Kind.X else m.WX(nb)
                    else:
                        r = t
                    sub[t] = r
                return r

            dnf = simplify(frozenset(fix(t) for t in c) for c in dnf)
            origin = new_origin

    # -- runtime ----------------------------------------------------------------------------
    def step(self, sid: int, regs: tuple, mask: int, t: int) -> tuple[int, tuple]:
        info = self.states[sid]
        anchors = info.anchors
        if anchors:
            code = 0
            for _, slot, lo, hi in anchors:
                d = t - regs[slot]
                code = code * 3 + (BEFORE if d < lo else (AFTER if hi is not None and d > hi
                                                          else INSIDE))
            eq = regs[-1] == t
            key = (mask & info.relevant, code, eq)
        else:
            key = mask & info.relevant
            eq = bool(regs) and regs[-1] == t
        tr = info.trans.get(key)
        if tr is None:
            sides = [BEFORE if (d := t - regs[slot]) < lo else
                     (AFTER if hi is not None and d > hi else INSIDE)
                     for _, slot, lo, hi in anchors]
            tr = self.transition(sid, mask, sides, eq)
        nsid, update = tr
        if not update:
            return nsid, ()
        return nsid, tuple(t if u < 0 else regs[u] for u in update)

    def transition(self, sid: int, mask: int, sides: Sequence[int], eq: bool
                   ) -> tuple[int, tuple[int, ...]]:
        """The transition :meth:`step` takes from state ``sid`` on letter ``mask`` when the
        event lies on ``sides`` of the state's anchors (in ``anchors`` order) and its time
        equals the newest register's (``eq``): from the state's cache, else progressed and
        cached. The native core asks this on its own cache misses (``engine/native_run``)."""
        info = self.states[sid]
        anchors = info.anchors
        if anchors:
            code = 0
            for s in sides:
                code = code * 3 + s
            key = (mask & info.relevant, code, eq)
        else:
            key = mask & info.relevant
        tr = info.trans.get(key)
        if tr is None:
            tr = info.trans[key] = self.successor(
                sid, mask, {a[0]: s for a, s in zip(anchors, sides)}, eq)
        return tr
