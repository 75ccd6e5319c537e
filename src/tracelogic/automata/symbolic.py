"""Symbolic DFAs: transitions labelled by BDD guards, never 2^n explicit letters.

The explicit constructions (:mod:`~tracelogic.automata.construction`) read every
feasible letter of every state, so their cost doubles with each atom. Here a state's
outgoing transitions are a *guard partition*: a list of ``(guard, target)`` whose
guards (:mod:`~tracelogic.automata.bdd`) are disjoint and cover every letter. The
minterms that matter are found lazily, as MONA and Lydia do: progression (Bacchus &
Kabanza 2000; De Giacomo & Vardi 2013) is computed once per subformula as a partition
of the letters into the classes on which that subformula progresses to the same
obligation (an atom splits on its own bit, a conjunction intersects its operands'
classes, and classes with equal results merge), so only the atoms a state really
reads are ever split on.

Minimisation is Moore/Hopcroft partition refinement on the symbolic DFA: the signature
of a state is its output and, per block of targets, the disjunction of its guards into
that block; hash-consed BDDs make equal guard functions the same int, so equal
signatures are found by hashing. States are numbered canonically (BFS from the
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

import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from tracelogic.automata.bdd import BDD, FALSE, TRUE, BddTooLarge
from tracelogic.automata.dfa import DFA
from tracelogic.automata.progression import FALSE_DNF, TRUE_DNF, accepting, dnf_and, dnf_or
from tracelogic.errors import InputError, TracelogicError, UnsupportedFormula
from tracelogic.logic.formula import Formula, Kind
from tracelogic.logic.walkers import atoms as atoms_of, nnf

__all__ = ["SymbolicDFA", "SymbolicTooLarge", "translate_symbolic", "symbolic_minimize"]

Partition = dict  # DNF -> guard (disjoint guards covering every letter)


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


def _part_product(bdd: BDD, a: Partition, b: Partition, combine) -> Partition:
    """The product of two guard partitions: each pair of cells whose guards meet gives
    ``combine(da, db)``, guarded by the meet; equal results share one cell."""
    out: Partition = {}
    for da, ga in a.items():
        for db, gb in b.items():
            g = bdd.conj(ga, gb)
            if g == FALSE:
                continue
            d = combine(da, db)
            out[d] = bdd.disj(out.get(d, FALSE), g)
    return out


def _part_and(bdd: BDD, a: Partition, b: Partition) -> Partition:
    return _part_product(bdd, a, b, dnf_and)


def _part_or(bdd: BDD, a: Partition, b: Partition) -> Partition:
    return _part_product(bdd, a, b, dnf_or)


class _Progressor:
    """Symbolic progression: each subformula's partition, memoized by node."""

    def __init__(self, bdd: BDD, index: dict[Hashable, int], deadline: float | None) -> None:
        self.bdd = bdd
        self.index = index
        self.memo: dict[Formula, Partition] = {}
        self.deadline = deadline

    def part(self, root: Formula) -> Partition:
        memo = self.memo
        r = memo.get(root)
        if r is not None:
            return r
        bdd = self.bdd
        stack = [root]
        while stack:
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            k = node.kind
            kids = () if k in (Kind.X, Kind.WX) else node.args
            pend = [c for c in kids if c not in memo]
            if pend:
                stack.extend(pend)
                continue
            stack.pop()
            if self.deadline is not None and time.perf_counter() > self.deadline:
                raise SymbolicTooLarge(
                    f"the symbolic translation ran out of time while progressing {node}",
                    value=node, hint="split the property, or raise the time budget")
            if k is Kind.TRUE:
                p = {TRUE_DNF: TRUE}
            elif k is Kind.FALSE:
                p = {FALSE_DNF: TRUE}
            elif k is Kind.ATOM:
                v = bdd.atom(self.index[node.key])
                p = {TRUE_DNF: v, FALSE_DNF: bdd.neg(v)}
            elif k is Kind.NOT:  # NNF: the operand is an atom
                p = {d: g for d, g in ((FALSE_DNF if d == TRUE_DNF else TRUE_DNF, g)
                                       for d, g in memo[node.args[0]].items())}
            elif k in (Kind.AND, Kind.OR):
                comb = _part_and if k is Kind.AND else _part_or
                p = {TRUE_DNF if k is Kind.AND else FALSE_DNF: TRUE}
                for c in sorted(node.args, key=lambda c: len(memo[c])):
                    p = comb(bdd, p, memo[c])
                    self.check_time(node)
            elif k in (Kind.X, Kind.WX):
                p = {frozenset([frozenset([node])]): TRUE}
            elif k is Kind.U:
                p1, p2 = memo[node.args[0]], memo[node.args[1]]
                p = _part_or(bdd, p2, _part_and(bdd, p1, {frozenset([frozenset([
                    node.manager.X(node)])]): TRUE}))
            elif k is Kind.R:
                p1, p2 = memo[node.args[0]], memo[node.args[1]]
                p = _part_and(bdd, p2, _part_or(bdd, p1, {frozenset([frozenset([
                    node.manager.WX(node)])]): TRUE}))
            else:
                raise UnsupportedFormula(
                    f"the symbolic translation reads future-only untimed formulas; {node} "
                    f"has {k.name}", value=node, hint="use translate()")
            memo[node] = p
        return memo[root]

    def check_time(self, what: Formula) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise SymbolicTooLarge(
                f"the symbolic translation ran out of time while progressing {what}",
                value=what, hint="split the property, or raise the time budget")

    def successors(self, dnf) -> Partition:
        bdd = self.bdd
        res: Partition = {FALSE_DNF: TRUE}
        for clause in dnf:
            for term in clause:
                self.check_time(term.args[0])
            acc: Partition = {TRUE_DNF: TRUE}
            for term in clause:
                acc = _part_and(bdd, acc, self.part(term.args[0]))
            res = _part_or(bdd, res, acc)
        return res


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


def _compose(root: Formula, order, index, bdd: BDD, deadline, care: int = TRUE
             ) -> SymbolicDFA:
    """Compositional construction (Lydia's, and the explicit one's): a top-level AND/OR
    of temporal operands is translated operand by operand, and the products minimised
    one at a time, smallest first (explicit stack over the AND/OR skeleton)."""
    done: dict[Formula, SymbolicDFA] = {}
    stack = [root]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        temporal = [c for c in node.args if not c.is_propositional]
        if node.kind in (Kind.AND, Kind.OR) and len(temporal) >= 2:
            pend = [c for c in node.args if c not in done]
            if pend:
                stack.extend(pend)
                continue
            stack.pop()
            parts = sorted((done[c] for c in node.args), key=lambda d: d.n_states)
            both = all if node.kind is Kind.AND else any
            acc = parts[0]
            for d in parts[1:]:
                if deadline is not None and time.perf_counter() > deadline:
                    raise SymbolicTooLarge(
                        f"the symbolic translation ran out of time composing {node}",
                        value=node, hint="split the property, or raise the time budget")
                acc = symbolic_minimize(_product(acc, d, both))
            done[node] = acc
        else:
            stack.pop()
            done[node] = _monolithic(node, order, index, bdd, deadline, care)
    return done[root]


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


def _monolithic(g: Formula, order, index, bdd: BDD, deadline, care: int = TRUE
                ) -> SymbolicDFA:
    pr = _Progressor(bdd, index, deadline)
    INIT = object()
    ids: dict = {INIT: 0}
    keys: list = [INIT]
    trans: list[list[tuple[int, int]]] = []
    output: list[bool] = []
    try:
        i = 0
        while i < len(keys):
            key = keys[i]
            part = pr.part(g) if key is INIT else pr.successors(key)
            row = []
            for d, guard in part.items():
                if care != TRUE:  # letters outside the care set lead nowhere
                    guard = bdd.conj(guard, care)
                    if guard == FALSE:
                        continue
                j = ids.get(d)
                if j is None:
                    j = ids[d] = len(keys)
                    keys.append(d)
                row.append((guard, j))
            trans.append(row)
            output.append(g.empty_value if key is INIT else accepting(key))
            i += 1
    except BddTooLarge as e:
        raise SymbolicTooLarge(f"{e} while progressing {g}", value=g,
                               hint="split the property into smaller conjuncts") from e
    return symbolic_minimize(SymbolicDFA(order, bdd, trans, output))


def symbolic_minimize(d: SymbolicDFA) -> SymbolicDFA:
    """The minimal equivalent symbolic DFA, canonically numbered (see the module doc)."""
    bdd = d.bdd
    n = d.n_states
    block = [int(o) for o in d.output]
    n_blocks = len(set(block))
    while True:
        sigs: dict[tuple, int] = {}
        new = [0] * n
        for s in range(n):
            by: dict[int, int] = {}
            for gd, t in d.trans[s]:
                b = block[t]
                by[b] = bdd.disj(by.get(b, FALSE), gd)
            key = (block[s], tuple(sorted(by.items())))
            new[s] = sigs.setdefault(key, len(sigs))
        block = new
        if len(sigs) == n_blocks:
            break
        n_blocks = len(sigs)
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
        row = sorted(by.items(), key=lambda kv: bdd.some_letter(kv[1]))
        out = []
        for tb, gd in row:
            if tb not in number:
                number[tb] = len(number)
                queue.append(tb)
            out.append((gd, number[tb]))
        trans.append(out)
        output.append(bool(d.output[s]))
    return SymbolicDFA(d.atoms, bdd, trans, output)
