"""Typed property formulas -> the logic IR, with span predicates as atoms.

Atoms are literals: the boolean connectives (`!`, `&`, `|`, `->`, `<->`,
`xor`) stay in the formula, and an atom is one positive predicate (a
comparison, a call, a named predicate...), so `!p` is the negation of the
atom `p`, never an atom of its own, and `a & !b` reads two atoms. Lumping a
boolean subformula into a fresh atom hides from the translator that `(!inc)`
and `inc` exclude each other, which costs letters, time and minimality (issue
20). Each atom is evaluated once per event by the generated predicate code,
and its typed expression is the atom's key, so the same condition in two
properties is one atom. Dwyer
patterns lower through :mod:`tracelogic.logic.patterns`. Each atom also gets a
Z3 encoding over the span's built-in fields, so that letters no span can
produce (``name == "a" & name == "b"``) are pruned from the alphabet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracelogic.logic import constructors as L
from tracelogic.logic import patterns as P
from tracelogic.logic.formula import Formula
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr, structure_text
from tracelogic.spec.walker import TExprWalker, chain, show  # noqa: F401 - show: re-exported

_UNARY = {"X": L.X, "WX": L.WX, "F": L.F, "G": L.G, "Y": L.Y, "O": L.O, "H": L.H}
_BINARY = {"U": L.U, "W": L.W, "R": L.R, "M": L.M, "S": L.S}
#: connectives kept in the formula: their operands are lowered, never lumped into an atom
_CONNECTIVES = {"not": L.Not, "and": L.And, "or": L.Or, "implies": L.Implies, "iff": L.Iff,
                "xor": L.Xor}
BOOLEAN_OPS = frozenset(_CONNECTIVES)


@dataclass(frozen=True)
class Lowered:
    formula: Formula
    atoms: tuple[TExpr, ...]   # in bit order
    triggers: tuple[TExpr, ...]  # conditions whose absence makes a success vacuous


def _temporal(e: TExpr) -> bool:
    return e.is_temporal  # cached on the interned node


#: a body with more literal atoms than this is lowered with each maximal non-temporal
#: subformula as one atom, when that gives fewer (see :func:`lower`)
LITERAL_ATOMS = 256


def lower(body: TExpr) -> Lowered:
    """The formula of a property body, its atoms in bit order and its triggers.

    Atoms are literals: over more than ``EXPLICIT_ATOMS`` the automata are symbolic
    (:mod:`tracelogic.automata.guarded`). Past ``LITERAL_ATOMS`` literals (a
    30,000-term ``|`` of span names) a body is lowered as before issue 20 when that
    gives fewer atoms: each maximal non-temporal subformula one atom, evaluated whole by
    the generated predicate code. The verdicts are the same; a guard over tens of
    thousands of BDD levels (the BDD package recurses once per level) and a Z3 group of
    that many atoms are not.
    """
    formula, atoms = _lower(body, lump=False)
    if len(atoms) > LITERAL_ATOMS:
        lumped, fewer = _lower(body, lump=True)
        if len(fewer) < len(atoms):
            formula, atoms = lumped, fewer
    return Lowered(formula, atoms, _triggers(body))


def _lower(body: TExpr, lump: bool) -> tuple[Formula, tuple[TExpr, ...]]:
    """The formula and its atoms in bit order, literal or (``lump``) lumped."""
    walker = _Lower(lump)
    formula = walker.walk(body)
    return formula, tuple(walker.atoms)


class _Lower(TExprWalker):
    """Temporal structure -> logic formulas (memoised: a subexpression shared by
    properties is lowered once). An atom is one positive predicate, or with ``lump``
    each maximal non-temporal subexpression."""

    def __init__(self, lump: bool = False) -> None:
        super().__init__()
        self.lump = lump
        self.atoms: dict[TExpr, None] = {}

    def pre(self, e: TExpr) -> Any:
        if e.is_temporal or (not self.lump and e.op in BOOLEAN_OPS):
            return self.PASS
        negated = False
        while e.op == "not":  # `!p` and `p` share one atom
            e, negated = e.args[0], not negated
        if e.op == "lit" and isinstance(e.payload, bool):
            value = e.payload != negated
            return L.TRUE() if value else L.FALSE()
        self.atoms.setdefault(e, None)
        return L.Not(L.Atom(e)) if negated else L.Atom(e)

    def children(self, node: TExpr) -> tuple[TExpr, ...]:
        # with literal atoms a chain `a | b | c | …` is one n-ary node: built pairwise,
        # each step would re-flatten the whole chain so far (quadratic in its length)
        if node.op in ("and", "or"):
            return tuple(chain(node))
        return node.args

    def dispatch(self, node: TExpr, args: list) -> Formula:
        if node.op == "and":
            return L.And(*args)
        if node.op == "or":
            return L.Or(*args)
        return _combine(node, args)


def _combine(node: TExpr, a: list[Formula]) -> Formula:
    op = node.op
    if op in _UNARY:
        return _UNARY[op](a[0]) if op in ("X", "WX", "Y") else _UNARY[op](a[0], node.payload)
    if op in _BINARY:
        return _BINARY[op](a[0], a[1], node.payload)
    if op in _CONNECTIVES:
        return _CONNECTIVES[op](*a)
    if op == "pred":
        return a[0]
    if op == "pattern":
        name, scope, within = node.payload
        n = {"absence": 1, "existence": 1, "universality": 1, "precedence": 2,
             "response": 2}[name]
        args, scope_args = a[:n], a[n:]
        sc = getattr(P, scope)(*scope_args)
        if name == "response":
            return P.response(args[0], args[1], sc, within=within)
        return getattr(P, name)(*args, sc)
    raise TypeError(f"cannot lower `{op}` into a temporal formula")


def _triggers(body: TExpr) -> tuple[TExpr, ...]:
    """Non-temporal triggers of the usual shapes: G (A -> …), response(A, …), precedence(…, A).

    An instance that satisfies the property while no trigger ever held is
    counted as `vacuous`.
    """
    node = body
    while node.op == "pred":
        node = node.args[0]
    if node.op == "G" and node.payload is None:
        inner = node.args[0]
        if inner.op == "implies" and not _temporal(inner.args[0]):
            return (inner.args[0],)
    if node.op == "pattern":
        name = node.payload[0]
        if name == "response" and not _temporal(node.args[0]):
            return (node.args[0],)
        if name == "precedence" and not _temporal(node.args[1]):
            return (node.args[1],)
    return ()


# ------------------------------------------------------------- Z3 encoding

class AtomEncoder:
    """``encode(atom) -> z3.BoolRef`` over one span's fields, for alphabet pruning.

    Built-in fields become shared Z3 constants; conditions on attributes,
    structure or registers become fresh Booleans (one per distinct condition),
    which is sound: it only ever keeps letters, never drops a possible one.
    """

    def __init__(self) -> None:
        # Z3 is imported on the first encoding, not here: every monitor builds an encoder,
        # and a spec whose formulas need no pruning (or has none) never pays for Z3.
        self._vars: dict[Any, Any] = {}

    def _var(self, key: Any, sort) -> Any:
        import z3

        v = self._vars.get(key)
        if v is None:
            v = z3.Const(f"{key}", sort)
            self._vars[key] = v
        return v

    def __call__(self, atom: TExpr) -> Any:
        return self._encode(atom)

    def cache_key(self, atoms: Any) -> str | None:
        """What this encoder makes of ``atoms`` (in order), as text for the alphabet's disk
        cache (automata/alphabet.py): its class and the atoms' structure. An encoding is a
        function of both (Z3 constants are named after fields and conditions, never after
        the order atoms came in). None for a subclass defined elsewhere, whose code the
        cache's fingerprint does not cover, or for atoms the text cannot name."""
        cls = type(self)
        if cls.__module__ not in ("tracelogic.semantics.lower", "tracelogic.engine.compiled"):
            return None
        text = structure_text(atoms)
        return None if text is None else f"{cls.__module__}.{cls.__qualname__}\n{text}"

    def _encode(self, e: TExpr) -> Any:
        return _Encode(self).walk(e)

    def _leaf(self, e: TExpr) -> Any:
        """A condition the encoding does not look inside: built-in fields compared with
        constants, or a fresh Boolean."""
        import z3

        op = e.op
        if op == "lit" and isinstance(e.payload, bool):
            return z3.BoolVal(e.payload)
        if op == "field" and not e.payload[0] and e.payload[1] in ("start", "end", "is_root"):
            start = self._var("span.start", z3.BoolSort())
            if e.payload[1] == "is_root":
                return self._var("span.is_root", z3.BoolSort())
            return start if e.payload[1] == "start" else z3.Not(start)
        if op == "cmp":
            term = self._cmp(e)
            if term is not None:
                return term
        return self._var(("cond", e), z3.BoolSort())

    def _term(self, e: TExpr) -> Any:
        import z3

        if e.op == "lit" and not isinstance(e.payload, bool):
            if isinstance(e.payload, str):
                return z3.StringVal(e.payload)
            if isinstance(e.payload, int):
                return z3.IntVal(e.payload)
            return None
        if e.op == "enum":
            return z3.StringVal(e.payload[1])
        if e.op == "field" and not e.payload[0]:
            name = e.payload[1]
            if name == "duration":
                v = self._var("span.duration", z3.IntSort())
                return v
            if name in ("name", "kind", "status", "status_message", "service", "trace_id",
                        "span_id", "parent_id", "scope.name"):
                return self._var(f"span.{name}", z3.StringSort())
        return None

    def _cmp(self, e: TExpr) -> Any:
        import z3

        a, b = (self._term(c) for c in e.args)
        if a is None or b is None or a.sort() != b.sort():
            return None
        op = e.payload
        if a.sort() == z3.StringSort() and op not in ("==", "!="):
            return None
        return {"==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
                "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b}[op]()

    def domain(self) -> list:
        """Constraints every span satisfies (non-negative durations)."""
        d = self._vars.get("span.duration")
        return [d >= 0] if d is not None else []


class _Encode(TExprWalker):
    """The Boolean structure of one atom as Z3 terms, iteratively; a chain of one operator
    (`a | b | …`) is one n-ary Z3 term, not a deep one."""

    _BOOL = BOOLEAN_OPS | {"pred"}

    def __init__(self, encoder: AtomEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def pre(self, e: TExpr) -> Any:
        return self.PASS if e.op in self._BOOL else self.encoder._leaf(e)

    def children(self, e: TExpr) -> tuple[TExpr, ...]:
        return tuple(chain(e)) if e.op in ("and", "or") else e.args

    def dispatch(self, e: TExpr, a: list) -> Any:
        import z3

        op = e.op
        if op == "pred":
            return a[0]
        if op == "iff":  # z3 has no Iff: Booleans compare equal
            return a[0] == a[1]
        return {"not": z3.Not, "and": z3.And, "or": z3.Or, "implies": z3.Implies,
                "xor": z3.Xor}[op](*a)
