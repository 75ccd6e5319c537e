"""Step predicates in Z3: which steps can never match a span, which steps can match the same span.

A span predicate is encoded over one symbolic span, by rewriting it into an
expression the shared :class:`~tracelogic.semantics.z3enc.Encoder` handles:

- built-in fields are constants of their type (``name``, ``service``, … strings;
  ``kind`` and ``status`` enums; ``duration ≥ 0``; ``is_root``; ``start`` xor ``end``);
- ``attr["k"] OP literal`` becomes ``present(k, T) ∧ value(k, T) OP literal``, with one
  presence flag and one value per key and type, so a comparison on a missing
  attribute, or one of another type, is false, as at runtime; ``attr["k"] exists``
  is a flag implied by every presence flag of ``k``;
- everything else (``matches``, ``has_ancestor``, ``linked``, parent fields, an
  attribute compared with another attribute, …) becomes a fresh Boolean, one per
  distinct subexpression.

The encoding **over-approximates**: every span that satisfies the predicate
gives a model of the encoding. So ``unsat`` proves the predicate can never hold
(a dead step), while ``sat`` (or ``unknown``) proves nothing, and an overlap
found this way is reported as "can", never as "does".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from tracelogic.semantics.z3enc import Encoder, sort_of, type_constraints
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import TExprWalker, walk_with

__all__ = ["SpanEncoding", "satisfiable", "can_both_hold"]

_FIELD_TYPES = {"name": T.STRING, "service": T.STRING, "status_message": T.STRING,
                "trace_id": T.STRING, "span_id": T.STRING, "parent_id": T.STRING,
                "duration": T.DURATION, "is_root": T.BOOL, "start": T.BOOL, "end": T.BOOL,
                "kind": T.KIND, "status": T.STATUS}


@dataclass
class _Key:
    """A hashable key for an arbitrary subexpression that becomes a fresh Boolean."""

    text: str

    def __hash__(self) -> int:
        return hash(self.text)


class SpanEncoding:
    """One symbolic span shared by several predicates (so overlaps can be asked)."""

    def __init__(self) -> None:
        self.env: dict = {}
        self.constraints: list = []
        self._present: dict[str, list] = {}
        self._fresh = 0

    # -- variables
    def _var(self, key: tuple, t: T.Type):
        v = self.env.get(key)
        if v is None:
            name = "/".join(str(k) for k in key[1:])
            v = z3.Const(name, sort_of(t))
            self.env[key] = v
            self.constraints += type_constraints(v, t)
            if key in (("span", "start"), ("span", "end")):
                other = ("span", "end") if key == ("span", "start") else ("span", "start")
                w = self._var(other, T.BOOL)
                if key == ("span", "start"):
                    self.constraints.append(v != w)  # an event is a start or an end, not both
        return v

    def _field(self, node: TExpr) -> TExpr:
        hops, fld = node.payload
        t = _FIELD_TYPES.get(fld)
        if hops or t is None:
            return None
        self._var(("span", fld), t)
        return TExpr("var", type=t, payload=("span", fld))

    def _attr(self, node: TExpr, t: T.Type) -> tuple[TExpr, TExpr] | None:
        hops, where, key = node.payload
        if hops:
            return None
        tb = T.base(t)
        if isinstance(tb, T.EnumType) or tb == T.DYN:
            return None
        # One value per family: every number is a real (Python compares ints and floats
        # numerically), so mixing `== 5` and `< 5.5` stays satisfiable as at runtime.
        if tb in (T.INT, T.REAL, T.CPU, T.DURATION, T.BYTES):
            sort_type = T.REAL
        elif tb in (T.STRING, T.BOOL):
            sort_type = tb
        else:
            return None
        tag = f"{where}[{key}]:{sort_type}"
        fresh = ("present", tag) not in self.env
        present = self._var(("present", tag), T.BOOL)
        self._var(("value", tag), sort_type)
        has = self._var(("has", f"{where}[{key}]"), T.BOOL)
        if fresh:
            self.constraints.append(z3.Implies(present, has))
            # an attribute has one type: at most one family is present
            others = self._present.setdefault(f"{where}[{key}]", [])
            self.constraints += [z3.Not(z3.And(present, o)) for o in others]
            others.append(present)
        return (TExpr("var", type=T.BOOL, payload=("present", tag)),
                TExpr("var", type=sort_type, payload=("value", tag)))

    def _opaque(self, node: TExpr) -> TExpr:
        key = ("opaque", repr(node))
        if key not in self.env:
            self._fresh += 1
            self.env[key] = z3.Bool(f"opaque{self._fresh}")
        return TExpr("var", type=T.BOOL, payload=key)

    # -- rewriting
    def rewrite(self, e: TExpr) -> TExpr:
        """An encodable expression equivalent to, or weaker than, ``e`` (iterative)."""
        shell = ("pred", "and", "or", "not", "implies", "iff", "xor")
        return walk_with(
            e, lambda node, a: TExpr(node.op, tuple(a), node.type, node.payload),
            pre=lambda node: TExprWalker.PASS if node.op in shell else self._leaf(node))

    def _leaf(self, node: TExpr) -> TExpr:
        """A Boolean leaf: a comparison, an `in`, `exists`, a field, or something opaque."""
        if node.op == "lit" and isinstance(node.payload, bool):
            return node
        if node.op == "field" and node.type == T.BOOL:
            return self._field(node) or self._opaque(node)
        if node.op == "exists" and node.args and node.args[0].op == "attr":
            hops, where, key = node.args[0].payload
            if not hops:
                self._var(("has", f"{where}[{key}]"), T.BOOL)
                return TExpr("var", type=T.BOOL, payload=("has", f"{where}[{key}]"))
        if node.op in ("cmp", "in", "contains", "startswith"):
            r = self._comparison(node)
            if r is not None:
                return r
        return self._opaque(node)

    def _comparison(self, node: TExpr) -> TExpr | None:
        guards = []
        args = []
        other_types = [a.type for a in node.args if a.op != "attr"]
        for a in node.args:
            if a.op == "attr":
                t = _literal_type(node, a, other_types)
                if t is None:
                    return None
                r = self._attr(a, t)
                if r is None:
                    return None
                guards.append(r[0])
                args.append(r[1])
                continue
            rewritten = self._value(a)
            if rewritten is None:
                return None
            args.append(rewritten)
        body = TExpr(node.op, tuple(args), node.type, node.payload)
        for g in guards:
            body = TExpr("and", (g, body), T.BOOL)
        return body

    def _value(self, e: TExpr) -> TExpr | None:
        """A value expression with fields replaced by variables, or None (not encodable)."""
        ok = True

        def leaf(node: TExpr) -> Any:  # a field, a constant, or what cannot be encoded
            nonlocal ok
            if not node.args:
                r = self._field(node) if node.op == "field" else \
                    node if node.op in ("lit", "enum") else None
                if r is None:
                    ok = False
                    r = node
                return r
            if node.op not in ("+", "-", "*", "/", "//", "%", "neg", "call", "list", "range"):
                ok = False
                return node
            return TExprWalker.PASS

        # right operand first: the fields become variables in that order, as they always have
        out = walk_with(e, lambda node, r: TExpr(node.op, tuple(r[::-1]), node.type,
                                                 node.payload),
                        pre=leaf, children=lambda node: node.args[::-1])
        return out if ok else None


def _literal_type(cmp: TExpr, attr: TExpr, others: list[T.Type]) -> T.Type | None:
    """The type a comparison fixes for a dynamic attribute: the other operand's type."""
    if cmp.op == "in":
        target = cmp.args[1]
        if target.op == "list" and target.args:
            return target.args[0].type
        if target.op == "range" and target.args:
            return target.args[0].type
        return None
    for t in others:
        if T.base(t) != T.DYN:
            return t
    return None


def satisfiable(pred: TExpr, timeout_ms: int = 2000) -> str:
    """``"sat"``, ``"unsat"`` or ``"unknown"`` for one span predicate."""
    enc = SpanEncoding()
    term = Encoder(enc.env).encode(enc.rewrite(pred)).term
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*enc.constraints, term)
    return str(s.check())


def can_both_hold(p: TExpr, q: TExpr, timeout_ms: int = 2000) -> str:
    """Can one span satisfy both predicates? ``"sat"`` means it may (over-approximation)."""
    enc = SpanEncoding()
    a = Encoder(enc.env).encode(enc.rewrite(p)).term
    b = Encoder(enc.env).encode(enc.rewrite(q)).term
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*enc.constraints, a, b)
    return str(s.check())
