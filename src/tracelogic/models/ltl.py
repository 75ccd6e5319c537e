"""LTL over the infinite runs of a model: our own LTL -> Büchi translation and a lasso search.

Method (documented in docs/models.md):

1. The formula (future operators ``X WX F G U W R M``, booleans) becomes a
   :class:`tracelogic.logic.Formula` (:func:`to_formula`), whose manager lowers the
   sugar: ``F a = true U a``, ``G a = false R a``, ``a W b = b R (a | b)``,
   ``a M b = b U (a & b)``; on infinite runs ``WX`` is ``X``. Its maximal
   non-temporal subformulas are **atoms**, evaluated on model states by the
   compiled machine. :class:`tracelogic.logic.walkers.NNF` gives the negation
   normal form of the formula and of its negation over ``X U R``.
2. The **negation** is translated to a generalised Büchi automaton with the
   on-the-fly tableau of Gerth, Peled, Vardi and Wolper (1995), as a worklist
   (no recursion). Each node carries the literals a state must satisfy to enter
   it; there is one acceptance set per ``U`` subformula.
3. The product with the model's reachable state graph is explored breadth
   first. A deadlocked state gets a self-loop, the stutter step spin also adds.
4. Emptiness: strongly connected components (iterative Tarjan). An SCC with a
   cycle that meets every acceptance set yields a **lasso**: the shortest prefix
   to such an SCC, then a cycle through one state of each acceptance set.
   Every lasso is re-checked against the formula by :func:`holds_on_lasso`, a
   direct fixpoint evaluation of the original formula on the lasso.

This is complete for finite state spaces: ``holds`` means no run violates the
formula. When the configured state bound is reached first, a lasso found in
the explored part is still a real counterexample; otherwise the result is
``unknown (bound reached)``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tracelogic.errors import UnsupportedFormula
from tracelogic.logic.formula import Formula, FormulaManager, Kind
from tracelogic.automata.subset import explore
from tracelogic.logic.walkers import NNF, topological
from tracelogic.models.counterexample import STUTTER, Run
from tracelogic.models.machine import DEFAULT_STATE_BOUND, Machine, ModelRuntimeError
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import TExprWalker, walk_with

__all__ = ["UnsupportedFormula", "to_formula", "nnf_pair", "Tableau", "gpvw", "LtlResult",
           "check_ltl", "holds_on_lasso"]


# ---------------------------------------------------------------- formulas
#
# A check's TExpr becomes a logic.Formula, so that negation normal form, negation and
# printing are the logic package's (walkers.NNF, printers) and not a fourth formula form.
# Each check gets its own FormulaManager: its atoms are the indexes of the check's
# maximal non-temporal subexpressions, which mean something only for that check.

# the manager's constructor of each TExpr operator; on infinite runs every position has
# a successor, so WX is X
_CONSTRUCTOR = {"not": "Not", "and": "And", "or": "Or", "implies": "Implies", "iff": "Iff",
                "xor": "Xor", "X": "X", "WX": "X", "F": "F", "G": "G", "U": "U", "R": "R",
                "W": "W", "M": "M"}


def to_formula(e: TExpr, mgr: FormulaManager, atoms: list[TExpr]) -> Formula:
    """``e`` as a formula of ``mgr`` over ``X WX U R`` and booleans (sugar is lowered by the
    manager). Maximal non-temporal subexpressions become ``Atom(i)``, ``atoms[i]`` being the
    expression (appended to ``atoms``); the constants ``true``/``false`` stay constants.

    Iterative, children first. Past operators, patterns and metric bounds have no meaning
    over infinite model runs and raise :class:`UnsupportedFormula` naming the node."""
    index = {a: i for i, a in enumerate(atoms)}

    def atom(node: TExpr) -> Formula:
        if node.op == "lit" and isinstance(node.payload, bool):
            return mgr.Bool(node.payload)
        i = index.get(node)
        if i is None:
            i = index[node] = len(atoms)
            atoms.append(node)
        return mgr.Atom(i)

    def needs(node: TExpr) -> tuple[TExpr, ...]:
        if not node.is_temporal:
            return ()
        op = node.op
        if op == "pred" or op in _CONSTRUCTOR:
            return node.args
        if op in ("Y", "O", "H", "S"):
            raise UnsupportedFormula(f"the past operator `{op}` has no meaning in a model check",
                                     span=node.span, value=node)
        if op == "pattern":
            raise UnsupportedFormula("specification patterns are not supported in model checks "
                                     "yet", span=node.span, value=node,
                                     hint="write the pattern's LTL formula")
        raise UnsupportedFormula(f"`{op}` cannot be used in an LTL model check", span=node.span,
                                 value=node)

    def combine(node: TExpr, r: list[Formula]) -> Formula:
        if not node.is_temporal:
            return atom(node)
        op = node.op
        if node.payload is not None and op in ("F", "G", "U", "W", "R", "M"):
            raise UnsupportedFormula("metric bounds have no meaning over model runs",
                                     span=node.span, value=node)
        if op == "pred":
            return r[0]
        return getattr(mgr, _CONSTRUCTOR[op])(*r)

    # right operand first: the atoms are numbered in that order (their bits order the
    # tableau's letters, and so which counterexample is found first)
    return walk_with(e, lambda node, r: combine(node, r[::-1]),
                     children=lambda node: needs(node)[::-1])


def nnf_pair(e: TExpr) -> tuple[Formula, Formula, list[TExpr]]:
    """``(φ, ¬φ, atoms)``: the formula of ``e`` and its negation, both in negation normal
    form over ``X U R`` (negations only on atoms; the dual of ``X`` is read as ``X``, since
    every position of an infinite run has a successor), and the atoms' expressions."""
    mgr = FormulaManager()
    atoms: list[TExpr] = []
    f = to_formula(e, mgr, atoms)
    pos, neg = NNF(mgr).walk(f)
    return pos, neg, atoms


# ---------------------------------------------------------------- GPVW tableau


@dataclass
class _Node:
    incoming: set
    new: set
    old: set
    nxt: set


@dataclass
class Tableau:
    """A generalised Büchi automaton: node ``i`` requires ``pos[i]``/``neg[i]`` atom masks."""

    pos: list[int]
    neg: list[int]
    succ: list[list[int]]
    initial: list[int]
    acceptance: list[frozenset]   # one set of nodes per U subformula (may be empty list)
    formula: Formula

    @property
    def n_nodes(self) -> int:
        return len(self.pos)


_LITERALS = (Kind.TRUE, Kind.FALSE, Kind.ATOM, Kind.NOT)


def gpvw(f: Formula) -> Tableau:
    """The GPVW tableau of ``f``, a formula in negation normal form over ``X U R``
    (``WX`` is read as ``X``) whose atoms are ints, the bits of the atom masks
    (nodes already merged on (old, next))."""
    INIT = -1
    mgr = f.manager
    nodes: dict[tuple[frozenset, frozenset], int] = {}
    incoming: list[set] = []
    olds: list[frozenset] = []
    stack = [_Node({INIT}, {f}, set(), set())]
    while stack:
        q = stack.pop()
        while True:
            if not q.new:
                key = (frozenset(q.old), frozenset(q.nxt))
                r = nodes.get(key)
                if r is not None:
                    incoming[r] |= q.incoming
                else:
                    r = nodes[key] = len(incoming)
                    incoming.append(set(q.incoming))
                    olds.append(key[0])
                    stack.append(_Node({r}, set(q.nxt), set(), set()))
                break
            eta = q.new.pop()
            k = eta.kind
            if k in _LITERALS:
                if k is Kind.FALSE:
                    break
                if k is not Kind.TRUE and (eta.args[0] if k is Kind.NOT else mgr.Not(eta)) in q.old:
                    break  # p and !p
                q.old.add(eta)
                continue
            if k is Kind.AND:
                q.old.add(eta)
                q.new |= set(eta.args) - q.old
                continue
            if k in (Kind.X, Kind.WX):
                q.old.add(eta)
                q.nxt.add(eta.args[0])
                continue
            # split: U, R, or
            old = q.old | {eta}
            if k is Kind.OR:  # one node per disjunct but the last, which q keeps
                for d in eta.args[:-1]:
                    stack.append(_Node(set(q.incoming), q.new | ({d} - old), set(old),
                                       set(q.nxt)))
                q.old = old
                q.new = q.new | ({eta.args[-1]} - old)
                continue
            a, b = eta.args
            if k is Kind.U:
                new1, next1, new2 = {a}, {eta}, {b}
            elif k is Kind.R:
                new1, next1, new2 = {b}, {eta}, {a, b}
            else:
                raise UnsupportedFormula(f"`{eta}` cannot be used in an LTL model check",
                                         value=eta)
            q2 = _Node(set(q.incoming), q.new | (new2 - old), set(old), set(q.nxt))
            stack.append(q2)
            q.old = old
            q.new = q.new | (new1 - old)
            q.nxt = q.nxt | next1
    n = len(incoming)
    succ: list[list[int]] = [[] for _ in range(n)]
    initial = []
    for r, inc in enumerate(incoming):
        for p in inc:
            if p == INIT:
                initial.append(r)
            else:
                succ[p].append(r)
    pos, neg = [], []
    for old in olds:
        pm = nm = 0
        for lit in old:
            if lit.kind is Kind.ATOM:
                pm |= 1 << lit.key
            elif lit.kind is Kind.NOT:
                nm |= 1 << lit.args[0].key
        pos.append(pm)
        neg.append(nm)
    untils = [g for g in topological(f) if g.kind is Kind.U]
    acceptance = [frozenset(r for r, old in enumerate(olds) if u not in old or u.args[1] in old)
                  for u in untils]
    return Tableau(pos, neg, [sorted(set(s)) for s in succ], sorted(set(initial)), acceptance, f)


# ---------------------------------------------------------------- product and emptiness


@dataclass
class LtlResult:
    status: str                    # "holds" | "fails" | "unknown" | "error"
    run: Run | None = None
    reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    error: Any = None              # ModelRuntimeError


def _tarjan(n: int, succ: Sequence[Sequence[int]]) -> list[int]:
    """SCC id of every node (iterative Tarjan)."""
    index = [-1] * n
    low = [0] * n
    on = [False] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on[root] = True
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                w = succ[v][i]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on[w] = True
                    work.append((w, 0))
                elif on[w]:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        on[w] = False
                        comp[w] = ncomp
                        if w == v:
                            break
                    ncomp += 1
    return comp


def check_ltl(machine: Machine, formula: TExpr, *, bound: int = DEFAULT_STATE_BOUND,
              verify: bool = True) -> LtlResult:
    """Does every infinite run of ``machine`` (deadlocks stutter) satisfy ``formula``?"""
    _, violation, atoms = nnf_pair(formula)
    tab = gpvw(violation)
    preds = [machine.predicate(a) for a in atoms]
    succ_fn = machine.successors

    # model states, discovered on demand
    mstates: list[tuple] = []
    mindex: dict[tuple, int] = {}
    masks: list[int] = []
    msucc: list[list[tuple[int, int]] | None] = []

    def model_state(s: tuple) -> int:
        i = mindex.get(s)
        if i is None:
            i = mindex[s] = len(mstates)
            mstates.append(s)
            m = 0
            for k, p in enumerate(preds):
                if p(s):
                    m |= 1 << k
            masks.append(m)
            msucc.append(None)
        return i

    def model_succ(i: int) -> list[tuple[int, int]]:
        row = msucc[i]
        if row is None:
            nexts = succ_fn(mstates[i])  # a ModelRuntimeError propagates to the caller
            row = [(a, model_state(t)) for a, t in nexts] if nexts else [(-2, i)]
            msucc[i] = row
        return row

    def fits(mi: int, q: int) -> bool:
        m = masks[mi]
        return (m & tab.pos[q]) == tab.pos[q] and not (m & tab.neg[q])

    # product nodes (model state, tableau node), breadth first from a virtual root whose
    # successors are the initial nodes; via[i] holds the action of each successor of i
    m0 = model_state(machine.init)
    via: list[list[int]] = []

    def row(node) -> list[tuple[int, int]]:
        if node is _ROOT:
            out = [(m0, q) for q in tab.initial if fits(m0, q)]
            via.append([-1] * len(out))
            return out
        mi, q = node
        nexts = model_succ(mi)  # a ModelRuntimeError propagates
        if len(mstates) > bound:
            raise _BoundReached
        out, acts = [], []
        for a, mj in nexts:
            for q2 in tab.succ[q]:
                if fits(mj, q2):
                    out.append((mj, q2))
                    acts.append(a)
        via.append(acts)
        return out

    complete = True
    error = None
    explored: tuple[list, list[list[int]]] = ([_ROOT], [])
    try:
        for explored in explore(_ROOT, row):
            pass
    except ModelRuntimeError as err:  # raised for the state of the node that failed
        p = len(explored[1])
        error = (err, p - 1)
    except _BoundReached:
        complete = False
    nodes, delta = explored
    pnodes: list[tuple[int, int]] = nodes[1:]
    parent, pvia, psucc = _bfs_tree(len(pnodes), delta, via)
    stats = {"states": len(mstates), "product": len(pnodes), "tableau": tab.n_nodes}
    if error is not None:
        err, p = error
        run = _run_to(machine, pnodes, parent, pvia, mstates, p)
        run.error = err.message
        return LtlResult("error", run, reason=err.message, stats=stats, error=err)

    lasso = _find_lasso(tab, pnodes, psucc, parent, pvia)
    if lasso is not None:
        run = _lasso_run(machine, mstates, lasso)
        if verify:
            if holds_on_lasso(formula, machine, run.states, run.loop_start):
                raise AssertionError("internal error: the lasso found does not violate the formula"
                                     f" ({run.to_json()})")
        return LtlResult("fails", run, stats=stats)
    if not complete:
        return LtlResult("unknown", reason=f"bound reached: more than {bound} model states",
                         stats=stats)
    return LtlResult("holds", stats=stats)


_ROOT = object()  # the virtual root of the product search


class _BoundReached(Exception):
    """The product search met more model states than the bound allows."""


def _bfs_tree(n: int, delta: list[list[int]], via: list[list[int]]
              ) -> tuple[list[int], list[int], list[list[tuple[int, int]]]]:
    """Parents, the actions from them and ``(action, node)`` successor lists of the product
    nodes ``0..n-1``, from the exploration's rows (row 0 is the virtual root, so node
    ``i`` is row ``i + 1``). A node's parent is the node whose row first names it: the
    exploration numbers a node when it first sees it, so that is its breadth-first parent."""
    parent, pvia = [-1] * n, [-1] * n
    psucc: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    found = [False] * (n + 1)
    for i, (row, acts) in enumerate(zip(delta, via)):
        for j, a in zip(row, acts):
            if not found[j]:
                found[j] = True
                parent[j - 1], pvia[j - 1] = i - 1, a
            if i:
                psucc[i - 1].append((a, j - 1))
    return parent, pvia, psucc


def _run_to(machine, pnodes, parent, pvia, mstates, p) -> Run:
    path = []
    while p != -1:
        path.append((pvia[p], pnodes[p][0]))
        p = parent[p]
    path.reverse()
    return Run(machine.var_names, [mstates[mi] for _, mi in path],
               [None if a == -1 else _action_name(machine, a) for a, _ in path],
               var_types=machine.var_types)


def _action_name(machine: Machine, a: int) -> str:
    return STUTTER if a == -2 else machine.action_names[a]


def _find_lasso(tab: Tableau, pnodes, psucc, parent, pvia):
    n = len(pnodes)
    adj = [[j for _, j in row] for row in psucc]
    comp = _tarjan(n, adj)
    members: dict[int, list[int]] = {}
    for v in range(n):
        members.setdefault(comp[v], []).append(v)
    acc_sets = tab.acceptance
    good = set()
    for c, vs in members.items():
        nontrivial = len(vs) > 1 or any(j == vs[0] for j in adj[vs[0]])
        if not nontrivial:
            continue
        qs = {pnodes[v][1] for v in vs}
        if all(qs & f for f in acc_sets):
            good.add(c)
    if not good:
        return None
    # entry: the product node of a good SCC with the smallest BFS depth (node ids are BFS order)
    entry = min(v for v in range(n) if comp[v] in good)
    c = comp[entry]
    inside = set(members[c])

    def bfs(src: int, is_target: Callable[[int], bool], allow_empty: bool
            ) -> list[tuple[int, int]]:
        """Shortest path inside the SCC from ``src`` to a target: ``[(action, node), …]``."""
        if allow_empty and is_target(src):
            return []
        prev: dict[int, tuple[int, int]] = {}
        queue: deque[int] = deque()
        for a, j in psucc[src]:
            if j in inside and j not in prev:
                prev[j] = (src, a)
                queue.append(j)
        while queue:
            v = queue.popleft()
            if is_target(v):
                path = []
                cur = v
                while True:
                    u, a = prev[cur]
                    path.append((a, cur))
                    if u == src:
                        return path[::-1]
                    cur = u
            for a, j in psucc[v]:
                if j in inside and j not in prev:
                    prev[j] = (v, a)
                    queue.append(j)
        raise AssertionError("internal error: no path inside a strongly connected component")

    cycle: list[tuple[int, int]] = []
    cur = entry
    for f in acc_sets:
        fset = {v for v in inside if pnodes[v][1] in f}
        leg = bfs(cur, lambda v: v in fset, allow_empty=True)
        cycle += leg
        if leg:
            cur = leg[-1][1]
    back = bfs(cur, lambda v: v == entry, allow_empty=False)
    cycle += back
    # prefix: BFS tree path to the entry
    prefix = []
    v = entry
    while v != -1:
        prefix.append((pvia[v], v))
        v = parent[v]
    prefix.reverse()
    # the run: prefix states (entry last), then the cycle's states except the final return
    nodes = [v for _, v in prefix] + [v for _, v in cycle[:-1]]
    actions = [a for a, _ in prefix] + [a for a, _ in cycle[:-1]]
    loop_start = len(prefix) - 1
    return ([pnodes[v][0] for v in nodes], loop_start, actions, cycle[-1][0])


def _lasso_run(machine: Machine, mstates, lasso) -> Run:
    mis, loop_start, actions, back = lasso
    mis, actions = list(mis), list(actions)
    # The product may need several turns of the model's cycle (different tableau
    # nodes); the infinite sequence of model states is what matters, so write it
    # with the shortest period and the shortest prefix. Same word, same verdict.
    cyc, cyc_act = mis[loop_start:], actions[loop_start + 1:] + [back]
    for p in range(1, len(cyc) + 1):
        if len(cyc) % p == 0 and cyc == cyc[:p] * (len(cyc) // p) and \
                cyc_act == cyc_act[:p] * (len(cyc) // p):
            cyc, cyc_act = cyc[:p], cyc_act[:p]
            break
    mis = mis[:loop_start] + cyc
    actions = actions[:loop_start + 1] + cyc_act[:-1]
    back = cyc_act[-1]
    while loop_start > 0 and mis[loop_start - 1] == mis[-1] and actions[loop_start] == back:
        back = actions[-1]
        mis.pop()
        actions.pop()
        loop_start -= 1
    return Run(machine.var_names, [mstates[mi] for mi in mis],
               [None if a == -1 else _action_name(machine, a) for a in actions],
               loop_start=loop_start, loop_action=_action_name(machine, back),
               var_types=machine.var_types)


# ---------------------------------------------------------------- reference semantics


def holds_on_lasso(formula: TExpr, machine: Machine, states: Sequence[tuple],
                   loop_start: int) -> bool:
    """Does the infinite word ``states[:loop_start] (states[loop_start:])^ω`` satisfy ``formula``?

    The test oracle: fixpoints over the lasso's positions, straight from the
    operator definitions of SPEC-LANGUAGE.md §3 read over infinite words
    (``X``/``WX`` both move to the next position).
    """
    n = len(states)
    nxt = [i + 1 for i in range(n - 1)] + [loop_start]
    def leaf(node: TExpr) -> Any:  # a non-temporal subformula: its value in each state
        if node.is_temporal:
            return TExprWalker.PASS
        p = machine.predicate(node)
        return [bool(p(s)) for s in states]

    def combine(node: TExpr, a: list[list[bool]]) -> list[bool]:
        op = node.op
        if op == "pred":
            return a[0]
        if op == "not":
            return [not x for x in a[0]]
        if op == "and":
            return [all(v[i] for v in a) for i in range(n)]
        if op == "or":
            return [any(v[i] for v in a) for i in range(n)]
        if op == "implies":
            return [(not x) or y for x, y in zip(a[0], a[1])]
        if op == "iff":
            return [x == y for x, y in zip(a[0], a[1])]
        if op == "xor":
            return [x != y for x, y in zip(a[0], a[1])]
        if op in ("X", "WX"):
            return [a[0][nxt[i]] for i in range(n)]
        if op == "F":
            return _fixpoint(n, False, lambda i, cur: a[0][i] or cur[nxt[i]])
        if op == "G":
            return _fixpoint(n, True, lambda i, cur: a[0][i] and cur[nxt[i]])
        if op == "U":
            return _fixpoint(n, False, lambda i, cur: a[1][i] or (a[0][i] and cur[nxt[i]]))
        if op == "W":
            return _fixpoint(n, True, lambda i, cur: a[1][i] or (a[0][i] and cur[nxt[i]]))
        if op == "R":  # b holds up to and including the first a; or forever
            return _fixpoint(n, True, lambda i, cur: a[1][i] and (a[0][i] or cur[nxt[i]]))
        if op == "M":
            return _fixpoint(n, False, lambda i, cur: a[1][i] and (a[0][i] or cur[nxt[i]]))
        raise UnsupportedFormula(f"`{op}` cannot be evaluated on a model run", value=node)

    return walk_with(formula, combine, pre=leaf)[0]


def _fixpoint(n: int, start: bool, f) -> list[bool]:
    """The least (``start`` False) or greatest (``start`` True) fixpoint of ``f`` over the
    ``n`` positions of a lasso: iterated from all-``start`` until it is stable."""
    cur = [start] * n
    while True:
        new = [bool(f(i, cur)) for i in range(n)]
        if new == cur:
            return cur
        cur = new
