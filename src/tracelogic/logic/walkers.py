"""Non-recursive, memoized DAG walkers over formulas (pysmt's ``walkers/dag.py``).

A :class:`DagWalker` visits each distinct node once, children before parents,
with an explicit stack, so a formula of depth 10,000 never touches Python's
recursion limit.  Subclasses implement ``walk_<kind>(node, args)`` where
``args`` are the already-computed results of the node's children; a kind
without a handler raises :class:`tracelogic.errors.UnhandledNode` naming the
node.

:class:`TreeEmitter` is the printing counterpart: ``walk_<kind>(node)``
returns a list of string pieces and child nodes, expanded in order with an
explicit stack (printing is tree-shaped, so it is not memoized).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from tracelogic.errors import UnhandledNode
from tracelogic.logic.formula import Formula, FormulaManager, Kind, UNTIMED, get_manager
from tracelogic.spec.walker import expand

__all__ = [
    "DagWalker", "TreeEmitter", "nnf", "atoms", "size", "depth", "subformulas",
    "substitute", "map_atoms", "empty_value", "is_pure_past", "topological", "fold",
]


def _handler_table(cls: type, prefix: str) -> dict[Kind, str]:
    table = {}
    for k in Kind:
        name = f"{prefix}{k.name.lower()}"
        if hasattr(cls, name):
            table[k] = name
    return table


class DagWalker:
    """Memoized post-order walk.  Results are kept in ``self.memo`` across calls."""

    def __init__(self) -> None:
        self.memo: dict[Formula, Any] = {}
        self._handlers = _handler_table(type(self), "walk_")

    def children(self, node: Formula) -> tuple[Formula, ...]:
        return node.args

    def walk(self, root: Formula) -> Any:
        return fold(root, self._dispatch, self.children, self.memo)

    def _dispatch(self, node: Formula, args: list[Any]) -> Any:
        return _handler(self, node, "add the handler, or lower the node before this pass",
                        lambda: f"node {node!r}")(node, args)


def _args(node: Formula) -> tuple[Formula, ...]:
    return node.args


def fold(root: Formula, combine: Callable[[Formula, list[Any]], Any],
         children: Callable[[Formula], Sequence[Formula]] = _args,
         memo: dict[Formula, Any] | None = None) -> Any:
    """``combine(node, results of children(node))`` at ``root``, computed children first
    for every node below it that ``memo`` does not hold yet, each once, with an explicit
    stack (no recursion limit).  ``memo`` keeps the results across calls.

    :meth:`DagWalker.walk` is this with a handler per kind; passes with a few cases in
    one function, or a memo that other code reads (progression through a letter, a
    construction over the AND/OR skeleton), call it directly.  ``children`` may leave
    operands out: progression does not descend below next-operators."""
    if memo is None:
        memo = {}
    elif root in memo:
        return memo[root]
    stack = [root]
    while stack:
        node = stack[-1]
        if node in memo:
            stack.pop()
            continue
        kids = children(node)
        pending = [c for c in kids if c not in memo]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        memo[node] = combine(node, [memo[c] for c in kids])
    return memo[root]


def _handler(walker: Any, node: Formula, hint: str, shown: Callable[[], str]) -> Any:
    """``walker``'s ``walk_<kind>`` method for ``node``; UnhandledNode, naming the node as
    ``shown()`` says (called only then: a repr is as long as the formula), when it has none."""
    name = walker._handlers.get(node.kind)
    if name is None:
        raise UnhandledNode(f"{type(walker).__name__} has no handler "
                            f"walk_{node.kind.name.lower()} for {shown()}", value=node, hint=hint)
    return getattr(walker, name)


class TreeEmitter:
    """Expands a formula into text without recursion.

    ``walk_<kind>(node)`` returns a list whose items are strings (emitted as
    is) or formulas (expanded in place).
    """

    def __init__(self) -> None:
        self._handlers = _handler_table(type(self), "walk_")

    def emit(self, root: Formula) -> str:
        return expand(root, self._pieces)

    def _pieces(self, item: Formula) -> list:
        return _handler(self, item, "this printer cannot express that operator",
                        lambda: f"node kind {item.kind.name}")(item)


# ---------------------------------------------------------------------------------------
# small standard passes


class _Atoms(DagWalker):
    """Atom keys in order of first occurrence (left to right, children in stored order)."""

    def walk_true(self, n, a):
        return ()

    walk_false = walk_true

    def walk_atom(self, n, a):
        return (n.key,)

    def _union(self, n, a):
        if len(a) == 1:
            return a[0]
        seen = {}
        for part in a:
            for k in part:
                seen.setdefault(k, None)
        return tuple(seen)

    walk_not = walk_and = walk_or = walk_x = walk_wx = walk_u = walk_r = _union
    walk_y = walk_z = walk_s = walk_t = walk_ua = walk_ra = _union


class _Size(DagWalker):
    def _one(self, n, a):
        return 1 + sum(a)

    walk_true = walk_false = walk_atom = walk_not = walk_and = walk_or = _one
    walk_x = walk_wx = walk_u = walk_r = walk_y = walk_z = walk_s = walk_t = _one
    walk_ua = walk_ra = _one


class _Depth(DagWalker):
    def _one(self, n, a):
        return 1 + max(a, default=0)

    walk_true = walk_false = walk_atom = walk_not = walk_and = walk_or = _one
    walk_x = walk_wx = walk_u = walk_r = walk_y = walk_z = walk_s = walk_t = _one
    walk_ua = walk_ra = _one


class NNF(DagWalker):
    """Negation normal form: each node maps to ``(positive, negative)`` forms.

    Negation is pushed to atoms with the dualities ``!X = WX!``, ``!U = R``,
    ``!Y = Z!``, ``!S = T`` (intervals are kept: the duals are defined with
    the same interval).
    """

    def __init__(self, mgr: FormulaManager | None = None) -> None:
        super().__init__()
        self.m = mgr or get_manager()

    def walk_true(self, n, a):
        return (n, self.m.FALSE())

    def walk_false(self, n, a):
        return (n, self.m.TRUE())

    def walk_atom(self, n, a):
        return (n, self.m.Not(n))

    def walk_not(self, n, a):
        p, q = a[0]
        return (q, p)

    def walk_and(self, n, a):
        m = self.m
        return (m.And(*[x[0] for x in a]), m.Or(*[x[1] for x in a]))

    def walk_or(self, n, a):
        m = self.m
        return (m.Or(*[x[0] for x in a]), m.And(*[x[1] for x in a]))

    def walk_x(self, n, a):
        return (self.m.X(a[0][0]), self.m.WX(a[0][1]))

    def walk_wx(self, n, a):
        return (self.m.WX(a[0][0]), self.m.X(a[0][1]))

    def walk_y(self, n, a):
        return (self.m.Y(a[0][0]), self.m.Z(a[0][1]))

    def walk_z(self, n, a):
        return (self.m.Z(a[0][0]), self.m.Y(a[0][1]))

    def walk_u(self, n, a):
        m, iv = self.m, n.interval
        return (m.U(a[0][0], a[1][0], iv), m.R(a[0][1], a[1][1], iv))

    def walk_r(self, n, a):
        m, iv = self.m, n.interval
        return (m.R(a[0][0], a[1][0], iv), m.U(a[0][1], a[1][1], iv))

    def walk_s(self, n, a):
        m, iv = self.m, n.interval
        return (m.S(a[0][0], a[1][0], iv), m.Trigger(a[0][1], a[1][1], iv))

    def walk_t(self, n, a):
        m, iv = self.m, n.interval
        return (m.Trigger(a[0][0], a[1][0], iv), m.S(a[0][1], a[1][1], iv))


class _EmptyValue(DagWalker):
    """End-of-trace value (the empty-trace convention), computed by a pass.

    Nodes cache the same value in ``node.empty_value``; this pass exists so
    that tests can check the cache against an independent computation.
    """

    def walk_true(self, n, a):
        return True

    def walk_false(self, n, a):
        return False

    walk_atom = walk_false

    def walk_not(self, n, a):
        return not a[0]

    def walk_and(self, n, a):
        return all(a)

    def walk_or(self, n, a):
        return any(a)

    def _strong(self, n, a):
        return False

    def _weak(self, n, a):
        return True

    walk_x = walk_u = walk_y = walk_s = walk_ua = _strong
    walk_wx = walk_r = walk_z = walk_t = walk_ra = _weak


class Substitute(DagWalker):
    """Replace nodes by nodes (``mapping``) and rebuild through the manager."""

    def __init__(self, mapping: dict[Formula, Formula], mgr: FormulaManager | None = None) -> None:
        super().__init__()
        self.m = mgr or get_manager()
        self.memo.update(mapping)

    def _rebuild(self, n, a):
        if all(x is y for x, y in zip(a, n.args)):
            return n
        return self.m.rebuild(n, tuple(a))

    def walk_true(self, n, a):
        return n

    walk_false = walk_atom = walk_true
    walk_not = walk_and = walk_or = walk_x = walk_wx = walk_u = walk_r = _rebuild
    walk_y = walk_z = walk_s = walk_t = walk_ua = walk_ra = _rebuild


_NNF_CACHE: dict[FormulaManager, NNF] = {}


def nnf(f: Formula) -> Formula:
    """Negation normal form of ``f`` (negations only on atoms)."""
    w = _NNF_CACHE.get(f.manager)
    if w is None:
        w = _NNF_CACHE[f.manager] = NNF(f.manager)
    return w.walk(f)[0]


def atoms(f: Formula) -> tuple[Hashable, ...]:
    """Atom keys of ``f`` in order of first occurrence."""
    return _Atoms().walk(f)


def size(f: Formula) -> int:
    """Number of nodes of ``f`` counted as a tree."""
    return _Size().walk(f)


def depth(f: Formula) -> int:
    return _Depth().walk(f)


def empty_value(f: Formula) -> bool:
    """Does the empty trace satisfy ``f``?  (see :mod:`tracelogic.logic.formula`)"""
    return _EmptyValue().walk(f)


def is_pure_past(f: Formula) -> bool:
    return f.is_pure_past


def topological(roots: Formula | list[Formula]) -> list[Formula]:
    """Every distinct node below ``roots``, children before parents."""
    if isinstance(roots, Formula):
        roots = [roots]
    order: list[Formula] = []
    done: set[Formula] = set()
    for root in roots:
        stack: list[tuple[Formula, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((node, True))
            for c in reversed(node.args):
                if c not in done:
                    stack.append((c, False))
    return order


def subformulas(f: Formula) -> list[Formula]:
    return topological(f)


def substitute(f: Formula, mapping: dict[Formula, Formula]) -> Formula:
    """``f`` with every occurrence of a key of ``mapping`` replaced by its value."""
    return Substitute(mapping, f.manager).walk(f)


def map_atoms(f: Formula, fn: Callable[[Hashable], Formula]) -> Formula:
    """Replace every atom ``Atom(k)`` by ``fn(k)``."""
    mapping = {n: fn(n.key) for n in topological(f) if n.kind is Kind.ATOM}
    return substitute(f, mapping)


__all__ += ["NNF", "Substitute", "UNTIMED"]
