"""Symbolic DFAs: transitions labelled by BDD guards, never 2^n explicit letters.

The explicit constructions (:mod:`~tracelogic.automata.construction`) read every
feasible letter of every state, so their cost doubles with each atom. Here a state's
outgoing transitions are a *guard partition*: a list of ``(guard, target)`` whose
guards (:mod:`~tracelogic.automata.bdd`) are disjoint and cover every letter. States
are themselves BDDs, over one variable per atom and temporal subformula "at the next
event" (:class:`_Obligations`): progression (Bacchus & Kabanza 2000; De Giacomo &
Vardi 2013) is one BDD over the atom bits above those variables, a state's successors
one substitution into it, and the minterms that matter are found lazily, as MONA and
Lydia do: the cofactors below the atom bits are the successors, so only the atoms a
state really reads are ever split on. Equal obligations are one state up to
propositional equivalence and a care set of implications between subformulas.
Conjunctions and disjunctions of several until/release operands are built
compositionally (:func:`_compose`).

Minimisation is Hopcroft's partition refinement with guards for letters
(:func:`_coarsest`): hash-consed BDDs make equal guard functions the same int, so
equal signatures are found by hashing. States are numbered canonically (BFS from the
initial state, successors in the order of the smallest letter of their guards), so
:meth:`SymbolicDFA.to_dfa` over all ``2**n`` letters gives exactly the table of the
explicit construction (checked in ``tests/automata/test_symbolic.py``).

At run time a monitor asks :meth:`SymbolicDFA.step` for ``(state, letter)``: the answer
comes from a cache filled on first use by evaluating the state's guards, so only letters
that occur are ever materialised.

Resource limit: instead of refusing a formula for its number of atoms, a translation
stops when it exceeds a BDD node budget or a time budget, with a message naming the
subformula it was progressing (:class:`SymbolicTooLarge`).
"""
from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from tracelogic.automata.bdd import BDD, FALSE, TRUE, BddTooLarge
from tracelogic.automata.dfa import DFA
from tracelogic.automata.progression import now_args
from tracelogic.errors import InputError, TracelogicError, UnsupportedFormula
from tracelogic.logic.formula import Formula, Kind
from tracelogic.logic.walkers import atoms as atoms_of, fold, nnf

__all__ = ["SymbolicDFA", "SymbolicTooLarge", "translate_symbolic", "symbolic_minimize"]


class SymbolicTooLarge(TracelogicError, RuntimeError):
    """A symbolic translation exceeded its time or BDD-node budget."""


@dataclass(eq=False)
class SymbolicDFA:
    """A complete DFA over the letters of ``atoms`` (bit ``i`` = ``atoms[i]``), with guarded
    transitions: ``trans[s]`` is a list of ``(guard, target)``, guards disjoint and covering.
    State 0 is initial; ``output[s]`` is acceptance."""

    atoms: tuple[Hashable, ...]
    bdd: BDD
    trans: list[list[tuple[int, int]]]
    output: list[bool]
    _cache: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)

    @property
    def n_states(self) -> int:
        return len(self.trans)

    initial = 0

    def step(self, s: int, mask: int) -> int:
        """The successor of ``s`` on the letter ``mask``, from the cache or its guards."""
        key = (s, mask)
        t = self._cache.get(key)
        if t is None:
            ev = self.bdd.evaluate
            t = next(tgt for g, tgt in self.trans[s] if ev(g, mask))
            self._cache[key] = t
        return t

    def to_dfa(self, letters: Sequence[int] | None = None) -> DFA:
        """The explicit DFA over ``letters`` (default: all ``2**n`` masks)."""
        if letters is None:
            letters = range(1 << len(self.atoms))
        letters = tuple(letters)
        delta = [[self.step(s, m) for m in letters] for s in range(self.n_states)]
        return DFA(letters, delta, 0, list(self.output), len(self.atoms))


#: the state variable "the trace continues after this event": below every other variable
NEXT = -(1 << 40)


def _connective(bdd: BDD, k: Kind, operands: Iterable[int]) -> int | None:
    """The BDD of a boolean connective of kind ``k`` over its ``operands``' BDDs, taken
    in order (an iterator may compute them as they are needed); None for any other kind.
    Progression through a letter and the next-event form over the state variables
    combine their operands alike."""
    if k is Kind.TRUE:
        return TRUE
    if k is Kind.FALSE:
        return FALSE
    if k is Kind.NOT:
        return bdd.neg(next(iter(operands)))
    if k is Kind.AND:
        r = TRUE
        for c in operands:
            r = bdd.conj(r, c)
        return r
    if k is Kind.OR:
        r = FALSE
        for c in operands:
            r = bdd.disj(r, c)
        return r
    return None


class _Obligations:
    """States as BDDs over obligation variables, successors by one substitution.

    Every atom and every temporal subformula (``X``, ``WX``, ``U``, ``R``) ``g`` that
    a next-operator reaches gets a state variable ``w_g`` (numbered ``-1, -2, ...``, below
    every atom bit): "``g`` holds at the next event", read only when there is one.
    ``NEXT`` ("there is a next event") sits at the bottom of the order. Next-operators
    distribute over the connectives, so ``E(g)``, "``g`` at the next event", is ``g``'s
    boolean structure over those variables (``E(!p) = !w_p``), and the progression of a
    formula through the current letter is one BDD over the atom bits (on top) and the
    state variables (below)::

        P(p) = p    P(X g) = NEXT & E(g)    P(WX g) = !NEXT | E(g)
        P(f U g) = P(g) | (P(f) & NEXT & w_{f U g})
        P(f R g) = P(g) & (P(f) | !NEXT | w_{f R g})

    A state is ``(acc, F)``: ``acc`` whether the trace may end here (the obligation
    with ``NEXT = 0``: it then reads no ``w`` but through the care set, true when every
    ``w = 1``), ``F`` the obligation with
    ``NEXT = 1``, a BDD over state variables. Its successors are ``F`` with every ``w_g``
    replaced by ``P(g)`` (a memoised vector composition, shared by every state since
    BDD nodes are shared); the cofactors of that BDD below the atom bits are the
    successor obligations and the paths to them their guards. So states are equal when
    their obligations are propositionally equivalent -- not merely syntactically equal,
    as the DNF states of :mod:`~tracelogic.automata.progression` are (a conjunction of
    ``k`` two-clause obligations is a ``2**k``-clause DNF, but a small BDD). This is the
    symbolic representation of LTLf states of Zhu, Tabajara, Li, Pu & Vardi, "Symbolic
    LTLf synthesis" (IJCAI 2017) and of De Giacomo & Favorito's Lydia (ICAPS 2021),
    computed here by progression instead of through MONA.
    """

    def __init__(self, bdd: BDD, index: dict[Hashable, int], deadline: float | None) -> None:
        self.bdd = bdd
        self.index = index
        self.deadline = deadline
        self.var_of: dict[Formula, int] = {}
        self.body: dict[int, Formula] = {}
        self.prog: dict[Formula, int] = {}
        self.next_bdd = bdd.mk(NEXT, FALSE, TRUE)
        self.last_bdd = bdd.mk(NEXT, TRUE, FALSE)
        self._compose: dict[int, int] = {}
        self._cut: dict[int, dict[int, int]] = {}
        self._key: dict[int, tuple[bool, int]] = {}
        self._restrict: dict[int, int] = {}
        self.care = TRUE
        self._wexpr: dict[Formula, int] = {}
        self._implies: dict[tuple[Formula, Formula], bool] = {}

    def close(self, root: Formula) -> None:
        """Create every state variable reachable from ``root`` and the care set: the
        conjunction of ``w_a -> w_b`` over the bodies with ``a`` implying ``b``
        (:meth:`implies`). Every state conjoined with it is equivalent to itself (every
        word gives the variables values satisfying it), and two obligations equal on
        it become one state: ``w_{p1 U (p2 U p3)} | w_{p2 U p3}`` is then
        ``w_{p1 U (p2 U p3)}``, which no propositional canonical form sees (the U-right
        family has ``2**n`` propositionally distinct states and ``n + 1`` semantic ones).
        """
        self.part(root)
        seen = 0
        while seen < len(self.body):  # bodies met while progressing bodies
            self.check_time(root)
            self.part(self.body[-1 - seen])
            seen += 1
        bdd = self.bdd
        bodies = list(self.var_of.items())
        temporal = [(a, va) for a, va in bodies if a.kind is not Kind.ATOM]
        care = TRUE
        for a, va in bodies:  # distinct atoms imply nothing of each other
            for b, vb in (bodies if a.kind is not Kind.ATOM else temporal):
                if a is not b and self.implies(a, b):
                    a_implies_b = bdd.disj(bdd.mk(va, TRUE, FALSE), bdd.mk(vb, FALSE, TRUE))
                    care = bdd.conj(care, a_implies_b)
        if care != TRUE:
            # progress again, conjoining the care set at every operator: P(p1 U (p2 U
            # ...)) over the atoms above the state variables has 2**n cofactors, n + 1
            # on the care set
            self.care = care
            self.prog = {}
            self.part(root)

    def implies(self, a: Formula, b: Formula) -> bool:
        """A sound, incomplete syntactic test of ``a -> b`` at every position (the
        subsumption rules of LTL simplifiers, Somenzi & Bloem 2000): boolean structure,
        ``g -> f U g``, ``f U g -> h`` when ``f -> h`` and ``g -> h``, ``f R g -> g``,
        ``f & g -> f R g``, monotonicity of ``U``, ``R``, ``X`` and ``WX``, ``X f -> WX f``."""
        if a is b or b.kind is Kind.TRUE or a.kind is Kind.FALSE:
            return True
        key = (a, b)
        r = self._implies.get(key)
        if r is not None:
            return r
        imp = self.implies
        ka, kb = a.kind, b.kind
        if kb is Kind.AND:
            r = all(imp(a, c) for c in b.args)
        elif ka is Kind.OR:
            r = all(imp(c, b) for c in a.args)
        else:
            r = ((kb is Kind.OR and any(imp(a, c) for c in b.args))
                 or (ka is Kind.AND and any(imp(c, b) for c in a.args))
                 or (kb is Kind.U and (imp(a, b.args[1]) or (
                     ka is Kind.U and imp(a.args[0], b.args[0]) and imp(a.args[1], b.args[1]))))
                 or (kb is Kind.R and ((ka is Kind.R and imp(a.args[0], b.args[0])
                                        and imp(a.args[1], b.args[1]))
                                       or (imp(a, b.args[0]) and imp(a, b.args[1]))))
                 or (ka is Kind.U and imp(a.args[0], b) and imp(a.args[1], b))
                 or (ka is Kind.R and imp(a.args[1], b))
                 or (ka is Kind.X and kb in (Kind.X, Kind.WX) and imp(a.args[0], b.args[0]))
                 or (ka is Kind.WX and kb is Kind.WX and imp(a.args[0], b.args[0])))
        self._implies[key] = r
        return r

    def w(self, body: Formula) -> int:
        v = self.var_of.get(body)
        if v is None:
            v = self.var_of[body] = -1 - len(self.var_of)
            self.body[v] = body
        return self.bdd.mk(v, FALSE, TRUE)

    def wexpr(self, g: Formula) -> int:
        """"``g`` holds at the next event" over the state variables: next-operators
        distribute over the boolean connectives (``X (a & b) = X a & X b``, likewise
        ``|`` and ``WX``), so only atoms and temporal subformulas get variables and
        ``X !p`` is the negation of ``X p``'s variable, not one of its own."""
        r = self._wexpr.get(g)
        if r is None:
            r = _connective(self.bdd, g.kind, map(self.wexpr, g.args))
            if r is None:
                r = self.w(g)
            self._wexpr[g] = r
        return r

    def check_time(self, what: Formula) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise SymbolicTooLarge(
                f"the symbolic translation ran out of time while progressing {what}",
                value=what, hint="split the property, or raise the time budget")

    def part(self, root: Formula) -> int:
        """``P(root)``: the progression of ``root`` through the current letter."""
        r = self.prog.get(root)
        return r if r is not None else fold(root, self._part, now_args, self.prog)

    def _part(self, node: Formula, kids: list[int]) -> int:
        """``P(node)`` from the ``P`` of the operands it reads now (``kids``)."""
        bdd = self.bdd
        k = node.kind
        p = _connective(bdd, k, kids)  # NNF: a negated operand is an atom
        if k is Kind.ATOM:
            p = bdd.atom(self.index[node.key])
        elif k is Kind.X:
            p = bdd.conj(self.next_bdd, self.wexpr(node.args[0]))
        elif k is Kind.WX:
            p = bdd.disj(self.last_bdd, self.wexpr(node.args[0]))
        elif k is Kind.U:
            p1, p2 = kids
            p = bdd.disj(p2, bdd.conj(p1, bdd.conj(self.next_bdd, self.w(node))))
        elif k is Kind.R:
            p1, p2 = kids
            p = bdd.conj(p2, bdd.disj(p1, bdd.disj(self.last_bdd, self.w(node))))
        elif p is None:
            raise UnsupportedFormula(
                f"the symbolic translation reads future-only untimed formulas; {node} "
                f"has {k.name}", value=node, hint="use translate()")
        if self.care != TRUE and k in (Kind.AND, Kind.OR, Kind.U, Kind.R):
            p = bdd.conj(p, self.care)
        return p

    def compose(self, f: int) -> int:
        """``f`` with every state variable ``w_g`` replaced by ``P(g)``."""
        if f <= TRUE:
            return f
        r = self._compose.get(f)
        if r is None:
            bdd = self.bdd
            body = self.body[bdd.var[f]]
            p = self.prog.get(body)
            if p is None:
                self.check_time(body)
                p = self.part(body)
            r = bdd.ite(p, self.compose(bdd.hi[f]), self.compose(bdd.lo[f]))
            self._compose[f] = r
        return r

    def cut(self, t: int) -> dict[int, int]:
        """The cofactors of ``t`` below the atom bits, each with its guard (the
        disjunction of the atom paths that reach it): disjoint guards covering every
        letter."""
        bdd = self.bdd
        if bdd.var[t] < 0:
            return {t: TRUE}
        r = self._cut.get(t)
        if r is None:
            v = bdd.var[t]
            a, b = self.cut(bdd.lo[t]), self.cut(bdd.hi[t])
            r = {s: bdd.mk(v, g, b.get(s, FALSE)) for s, g in a.items()}
            for s, g in b.items():
                if s not in a:
                    r[s] = bdd.mk(v, FALSE, g)
            self._cut[t] = r
        return r

    def key(self, sub: int) -> tuple[bool, int]:
        """The state ``(acc, F)`` a cofactor over the state variables stands for."""
        r = self._key.get(sub)
        if r is None:
            bdd = self.bdd
            var, lo, hi = bdd.var, bdd.lo, bdd.hi
            n = sub
            while n > TRUE:
                n = lo[n] if var[n] == NEXT else hi[n]
            r = self._key[sub] = (n == TRUE, self.restrict(sub))
        return r

    def restrict(self, f: int) -> int:
        """``f`` with ``NEXT = 1``."""
        if f <= TRUE:
            return f
        r = self._restrict.get(f)
        if r is None:
            bdd = self.bdd
            v = bdd.var[f]
            r = bdd.hi[f] if v == NEXT else bdd.mk(v, self.restrict(bdd.lo[f]),
                                                     self.restrict(bdd.hi[f]))
            self._restrict[f] = r
        return r

    def successors(self, t: int) -> dict[tuple[bool, int], int]:
        """The guard partition of a state whose substituted obligation is ``t``. ``t`` is
        first conjoined with the care set, so that the cofactors are already canonical
        (the care set is true where ``key`` evaluates the end of the trace)."""
        bdd = self.bdd
        out: dict[tuple[bool, int], int] = {}
        for sub, g in self.cut(bdd.conj(t, self.care)).items():
            k = self.key(sub)
            out[k] = bdd.disj(out[k], g) if k in out else g
        return out


def translate_symbolic(formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                       budget_s: float | None = None, node_limit: int = 2_000_000,
                       care: Callable[[BDD], int] | None = None) -> SymbolicDFA:
    """The minimal symbolic DFA of a future-only, untimed LTLf formula at event 0.

    ``atoms`` fixes the bit order (default: atom creation order). No limit on the number
    of atoms; ``budget_s`` (seconds) and ``node_limit`` (BDD nodes) bound the work and
    raise :class:`SymbolicTooLarge` naming the subformula being progressed.
    ``care(bdd)`` gives the letters that can occur (Z3's constraints,
    :meth:`~tracelogic.automata.alphabet.Alphabet.care_in`): every guard is conjoined
    with it as it is made, so the other letters never split a state or a product.
    """
    if formula.has_past or formula.is_metric:
        raise UnsupportedFormula(f"{formula}: the symbolic translation reads future-only "
                                 "untimed formulas", value=formula, hint="use translate()")
    own = sorted(atoms_of(formula), key=lambda k: formula.manager.Atom(k).id)
    order = tuple(own) if atoms is None else tuple(atoms)
    missing = set(own) - set(order)
    if missing:
        raise InputError(f"atoms={order!r} misses the formula's atoms {sorted(missing, key=str)!r}",
                         value=sorted(missing, key=str))
    index = {a: i for i, a in enumerate(order)}
    bdd = BDD(node_limit)
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    g = nnf(formula)
    try:
        return _compose(g, order, index, bdd, deadline,
                        TRUE if care is None else care(bdd))
    except BddTooLarge as e:
        raise SymbolicTooLarge(f"{e} while translating {formula}", value=formula,
                               hint="split the property into smaller conjuncts") from e
    except RecursionError as e:  # BDD operations recurse once per variable level
        raise SymbolicTooLarge(f"the BDDs of {formula} are deeper than Python's recursion "
                               f"limit ({sys.getrecursionlimit()})", value=formula,
                               hint="split the property into smaller conjuncts") from e


def _compose(root: Formula, order, index, bdd: BDD, deadline, care: int = TRUE
             ) -> SymbolicDFA:
    """Compositional construction (Lydia's, and the explicit one's): a top-level AND/OR
    of temporal operands is translated operand by operand, and the products minimised
    one at a time, smallest first (explicit stack over the AND/OR skeleton)."""

    def operands(node: Formula) -> list[Formula]:
        ops = []
        if node.kind in (Kind.AND, Kind.OR):
            # operands without U or R (propositional, or bounded by nested next-operators)
            # are translated as one: their states are few next-event obligations, and
            # a product per operand costs more than one progression
            ops = [c for c in node.args if not _bounded(c)]
            if len(ops) < len(node.args):
                mgr = node.manager
                join = mgr.And if node.kind is Kind.AND else mgr.Or
                ops.append(join([c for c in node.args if _bounded(c)]))
        return ops if len(ops) >= 2 and not _bounded(ops[1]) else []

    def build(node: Formula, parts: list[SymbolicDFA]) -> SymbolicDFA:
        if not parts:
            return _monolithic(node, order, index, bdd, deadline, node is root, care)
        parts.sort(key=lambda d: d.n_states)
        both = all if node.kind is Kind.AND else any
        acc = parts[0]
        for d in parts[1:]:
            if deadline is not None and time.perf_counter() > deadline:
                raise SymbolicTooLarge(
                    f"the symbolic translation ran out of time composing {node}",
                    value=node, hint="split the property, or raise the time budget")
            acc = symbolic_minimize(_product(acc, d, both), canonical=False)
        return acc if node is not root else symbolic_minimize(acc)

    return fold(root, build, operands)


_BOUNDED: dict[Formula, bool] = {}


def _bounded(f: Formula) -> bool:
    """Has ``f`` no until or release (only next-operators over the connectives)?"""
    r = _BOUNDED.get(f)
    if r is None:
        r = f.kind not in (Kind.U, Kind.R) and all(_bounded(c) for c in f.args)
        if len(_BOUNDED) > 100_000:
            _BOUNDED.clear()
        _BOUNDED[f] = r
    return r


def _product(a: SymbolicDFA, b: SymbolicDFA, combine) -> SymbolicDFA:
    bdd = a.bdd
    ids = {(0, 0): 0}
    keys = [(0, 0)]
    trans: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(keys):
        x, y = keys[i]
        row = []
        for ga, ta in a.trans[x]:
            for gb, tb in b.trans[y]:
                gd = bdd.conj(ga, gb)
                if gd == FALSE:
                    continue
                j = ids.get((ta, tb))
                if j is None:
                    j = ids[(ta, tb)] = len(keys)
                    keys.append((ta, tb))
                row.append((gd, j))
        trans.append(row)
        i += 1
    output = [combine((a.output[x], b.output[y])) for x, y in keys]
    return SymbolicDFA(a.atoms, bdd, trans, output)


def _monolithic(g: Formula, order, index, bdd: BDD, deadline, canonical: bool,
                care: int = TRUE) -> SymbolicDFA:
    ob = _Obligations(bdd, index, deadline)
    ob.close(g)
    INIT = object()
    ids: dict = {INIT: 0}
    keys: list = [INIT]
    trans: list[list[tuple[int, int]]] = []
    output: list[bool] = []
    try:
        i = 0
        while i < len(keys):
            key = keys[i]
            if key is INIT:
                t = ob.part(g)
            else:
                ob.check_time(g)
                # compose a smaller function equal to the state on the care set
                t = ob.compose(bdd.simplify(key[1], ob.care))
            row = []
            for d, guard in ob.successors(t).items():
                if care != TRUE:  # letters outside Z3's feasible set lead nowhere
                    guard = bdd.conj(guard, care)
                    if guard == FALSE:
                        continue
                j = ids.get(d)
                if j is None:
                    j = ids[d] = len(keys)
                    keys.append(d)
                row.append((guard, j))
            trans.append(row)
            output.append(g.empty_value if key is INIT else key[0])
            i += 1
    except BddTooLarge as e:
        raise SymbolicTooLarge(f"{e} while progressing {g}", value=g,
                               hint="split the property into smaller conjuncts") from e
    return symbolic_minimize(SymbolicDFA(order, bdd, trans, output), canonical)


def symbolic_minimize(d: SymbolicDFA, canonical: bool = True) -> SymbolicDFA:
    """The minimal equivalent symbolic DFA, canonically numbered (see the module doc).
    Without ``canonical`` the states are numbered in BFS order of the given rows (the
    operands of the compositional construction need no canonical numbering)."""
    bdd = d.bdd
    n = d.n_states
    block = _coarsest(d)
    # canonical numbering: BFS from the initial block, successors by smallest letter
    rep: dict[int, int] = {}
    for s in range(n):
        rep.setdefault(block[s], s)
    number = {block[0]: 0}
    queue = deque([block[0]])
    trans: list[list[tuple[int, int]]] = []
    output: list[bool] = []
    while queue:
        b = queue.popleft()
        s = rep[b]
        by: dict[int, int] = {}
        for gd, t in d.trans[s]:
            tb = block[t]
            by[tb] = bdd.disj(by.get(tb, FALSE), gd)
        row = sorted(by.items(), key=lambda kv: bdd.some_letter(kv[1])) if canonical else by.items()
        out = []
        for tb, gd in row:
            if tb not in number:
                number[tb] = len(number)
                queue.append(tb)
            out.append((gd, number[tb]))
        trans.append(out)
        output.append(bool(d.output[s]))
    return SymbolicDFA(d.atoms, bdd, trans, output)


def _coarsest(d: SymbolicDFA) -> list[int]:
    """The block of each state in the coarsest partition compatible with the outputs and
    the guarded transitions: Hopcroft's algorithm (1971) with a splitter's "letter"
    replaced by the guard into it. A splitter ``B`` splits a block by the guard of each
    member into ``B`` (the disjunction of its transitions' guards there, hash-consed, so
    grouping is hashing). Guards into disjoint blocks are disjoint and cover the guard
    into their union, so of the parts of a split block all but one suffice as future
    splitters (the part kept under the old number is the largest), which gives the
    ``O(m log n)`` bound in guard operations."""
    bdd = d.bdd
    n = d.n_states
    preds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for src, row in enumerate(d.trans):
        for g, t in row:
            preds[t].append((src, g))
    acc_states = [s for s in range(n) if d.output[s]]
    rej_states = [s for s in range(n) if not d.output[s]]
    members: list[list[int]] = [b for b in (acc_states, rej_states) if b]
    block = [0] * n
    for i, b in enumerate(members):
        for s in b:
            block[s] = i
    work = set(range(len(members))) if len(members) < 2 else {
        0 if len(members[0]) <= len(members[1]) else 1}
    disj = bdd.disj
    while work:
        b = work.pop()
        into: dict[int, int] = {}
        for t in members[b]:
            for s, g in preds[t]:
                h = into.get(s)
                into[s] = g if h is None else disj(h, g)
        touched: dict[int, list[int]] = {}
        for s in into:
            touched.setdefault(block[s], []).append(s)
        for x, ss in touched.items():
            size = len(members[x])
            groups: dict[int, list[int]] = {}
            for s in ss:
                groups.setdefault(into[s], []).append(s)
            if len(ss) < size:  # the members with no transition into b
                inside = set(ss)
                groups[FALSE] = [s for s in members[x] if s not in inside]
            if len(groups) < 2:
                continue
            parts = sorted(groups.values(), key=len, reverse=True)
            members[x] = parts[0]
            for part in parts[1:]:
                nb = len(members)
                members.append(part)
                for s in part:
                    block[s] = nb
                work.add(nb)
    return block
