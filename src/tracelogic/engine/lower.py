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
from tracelogic.spec.typed import TEMPORAL_OPS, TExpr

_UNARY = {"X": L.X, "WX": L.WX, "F": L.F, "G": L.G, "Y": L.Y, "O": L.O, "H": L.H}
_BINARY = {"U": L.U, "W": L.W, "R": L.R, "M": L.M, "S": L.S}
#: connectives kept in the formula: their operands are lowered, never lumped into an atom
BOOLEAN_OPS = frozenset({"not", "and", "or", "implies", "iff", "xor"})


@dataclass(frozen=True)
class Lowered:
    formula: Formula
    atoms: tuple[TExpr, ...]   # in bit order
    triggers: tuple[TExpr, ...]  # conditions whose absence makes a success vacuous


def _temporal(e: TExpr) -> bool:
    return any(n.op in TEMPORAL_OPS for n in e.walk())


def lower(body: TExpr, *, lump: bool | None = None) -> Lowered:
    """The formula of a property body, its atoms in bit order and its triggers.

    Atoms are literals (``lump=False``). While automata tables are dense over the
    ``2**n`` letters (``MAX_ATOMS``), a body with more literal atoms than that is
    lowered as before issue 20 instead (``lump=True``): each maximal non-temporal
    subformula one atom, which keeps such properties monitorable. ``None`` (the
    default) picks literals unless they exceed the limit.
    """
    if lump is None:
        from tracelogic.automata.alphabet import MAX_ATOMS

        literal = _lower(body, False)
        if len(literal.atoms) <= MAX_ATOMS:
            return literal
        lumped = _lower(body, True)
        return lumped if len(lumped.atoms) < len(literal.atoms) else literal
    return _lower(body, lump)


def _lower(body: TExpr, lump: bool) -> Lowered:
    atoms: dict[TExpr, None] = {}

    def atom(e: TExpr) -> Formula:
        negated = False
        while e.op == "not":  # `!p` and `p` share one atom
            e, negated = e.args[0], not negated
        if e.op == "lit" and isinstance(e.payload, bool):
            value = e.payload != negated
            return L.TRUE() if value else L.FALSE()
        atoms.setdefault(e, None)
        return L.Not(L.Atom(e)) if negated else L.Atom(e)

    # Iterative post-order: formulas can be long conjunctions.
    done: dict[int, Formula] = {}
    stack: list[tuple[TExpr, bool]] = [(body, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if (lump or node.op not in BOOLEAN_OPS) and not _temporal(node):
            done[id(node)] = atom(node)
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in node.args)
            continue
        a = [done[id(c)] for c in node.args]
        done[id(node)] = _combine(node, a)
    return Lowered(done[id(body)], tuple(atoms), _triggers(body))


def _combine(node: TExpr, a: list[Formula]) -> Formula:
    op = node.op
    if op in _UNARY:
        return _UNARY[op](a[0]) if op in ("X", "WX", "Y") else _UNARY[op](a[0], node.payload)
    if op in _BINARY:
        return _BINARY[op](a[0], a[1], node.payload)
    if op == "not":
        return L.Not(a[0])
    if op == "and":
        return L.And(a[0], a[1])
    if op == "or":
        return L.Or(a[0], a[1])
    if op == "implies":
        return L.Implies(a[0], a[1])
    if op == "iff":
        return L.Iff(a[0], a[1])
    if op == "xor":
        return L.Xor(a[0], a[1])
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

    def _encode(self, e: TExpr) -> Any:
        import z3

        op = e.op
        if op == "pred":
            return self._encode(e.args[0])
        if op == "not":
            return z3.Not(self._encode(e.args[0]))
        if op in ("and", "or"):
            x, y = (self._encode(c) for c in e.args)
            return z3.And(x, y) if op == "and" else z3.Or(x, y)
        if op == "implies":
            return z3.Implies(*(self._encode(c) for c in e.args))
        if op == "iff":
            x, y = (self._encode(c) for c in e.args)
            return x == y
        if op == "xor":
            return z3.Xor(*(self._encode(c) for c in e.args))
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


def show(e: TExpr) -> str:
    """A readable rendering of a typed expression, for guards and messages."""
    op = e.op
    a = e.args
    if op == "pred":
        return e.payload
    if op == "lit":
        v = e.payload
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        if T.base(e.type) in (T.DURATION, T.BYTES) and isinstance(v, int):
            from tracelogic.spec.lexicon import show_value

            return show_value(v, e.type)  # `10m`, `96Mi`, as written in a spec
        return str(float(v)) if hasattr(v, "denominator") and v.denominator != 1 else str(v)
    if op == "enum":
        return e.payload[1]
    if op == "field":
        return ".".join(list(e.payload[0]) + [e.payload[1]])
    if op == "attr":
        return ".".join(list(e.payload[0]) + [f'{e.payload[1]}["{e.payload[2]}"]'])
    if op == "cmp":
        return f"{show(a[0])} {e.payload} {show(a[1])}"
    if op in ("and", "or", "implies", "iff", "xor"):
        word = {"and": "&", "or": "|", "implies": "->", "iff": "<->", "xor": "xor"}[op]
        return f"({show(a[0])} {word} {show(a[1])})"
    if op == "not":
        return f"!{show(a[0])}"
    if op in ("+", "-", "*", "/", "//", "%"):
        return f"({show(a[0])} {op} {show(a[1])})"
    if op == "exists":
        return f"{show(a[0])} exists"
    if op in ("matches", "contains", "startswith", "in"):
        return f"{show(a[0])} {op} {show(a[1])}"
    if op == "list":
        return "[" + ", ".join(show(x) for x in a) + "]"
    if op == "range":
        return f"{show(a[0])}..{show(a[1])}"
    if op in ("has_ancestor", "has_child", "linked"):
        return f"{op}({show(a[0])})"
    if op == "has_event":
        return f'has_event("{e.payload}")'
    if op == "prev":
        return f"prev({show(a[0])})"
    if op == "last":
        return f"last({show(a[0])} where {show(a[1])}, {show(a[2])})"
    if op == "neg":
        return f"-{show(a[0])}"
    if op == "agg":
        name = e.payload if isinstance(e.payload, str) else e.payload[0]
        return f"{name}({show(a[0])} where {show(a[1])})"
    if op == "call" and isinstance(e.payload, str):
        return f"{e.payload}({', '.join(show(x) for x in a)})"
    return op
