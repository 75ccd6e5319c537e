"""The syntax tree of a .spec file: what the user wrote, with where they wrote it.

Nodes are frozen dataclasses. Every node carries a :class:`SourceSpan`, which
takes no part in equality, so two parses of the same text formatted differently
compare equal (the formatter's round-trip property relies on this). The AST
keeps what the formatter needs to print the user's spelling back (``spelling``
of operators, the source ``text`` of literals, explicit parentheses); the typed
Spec produced by the resolver is where meaning lives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from tracelogic.errors import SourceSpan

NOWHERE = SourceSpan("<generated>", 0, 0, 0, 0)


def _span() -> SourceSpan:
    return field(default=NOWHERE, compare=False, repr=False, kw_only=True)


class _Clauses:
    """A declaration whose clauses may come in any order, each with where it was written:
    ``clause_spans`` holds ``(clause, span)`` pairs."""

    __slots__ = ()
    clause_spans: tuple
    span: SourceSpan

    def clause_span(self, clause: str) -> SourceSpan:
        """Where ``clause`` was written; the declaration's span when it was not."""
        return dict(self.clause_spans).get(clause, self.span)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal; ``kind`` is int, real, duration, bytes, string, bool."""

    kind: str
    value: object
    text: str  # source spelling, printed back by fmt (`1_000`, `250ms`, r"\d")
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple["Expr", ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Paren:
    """Explicit parentheses, kept so that fmt never drops the user's grouping."""

    expr: "Expr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Interval:
    """A metric bound: ``[<= b]`` (lo None), ``[>= a]`` (hi None), ``[a, b]``, or ``within b``."""

    lo: "Expr | None"
    hi: "Expr | None"
    form: str  # "<=", ">=", ",", "within"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    """Arithmetic negation, logical not, or a unary temporal operator.

    ``op`` is canonical (``-``, ``!``, ``X``, ``WX``, ``F``, ``G``, ``Y``, ``O``, ``H``);
    ``spelling`` is what the user wrote (``not``, ``eventually``, …).
    """

    op: str
    operand: "Expr"
    spelling: str
    interval: Interval | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic, boolean or binary temporal operator (canonical ``op``)."""

    op: str
    left: "Expr"
    right: "Expr"
    spelling: str
    interval: Interval | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison chain ``a < b <= c``; ``ops[i]`` sits between operands i and i+1."""

    operands: tuple["Expr", ...]
    ops: tuple[str, ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class RangeExpr:
    lo: "Expr"
    hi: "Expr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class In:
    value: "Expr"
    target: "Expr"  # a RangeExpr, ListExpr, or an expression naming one
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Match:
    """String tests: ``matches`` (RE2), ``contains``, ``startswith``."""

    op: str
    left: "Expr"
    right: "Expr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Exists:
    operand: "Expr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Field:
    base: "Expr"
    name: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Index:
    base: "Expr"
    index: "Expr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Arg:
    """A call argument: positional, ``name: value``, ``value where P`` or ``within d``."""

    value: "Expr"
    name: str | None = None
    where: "Expr | None" = None
    within: bool = False
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class PatternScope:
    """The scope after a Dwyer pattern call: ``globally``, ``before(R)``, ``between(Q, R)``, …"""

    kind: str
    args: tuple[Arg, ...] = ()
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Call:
    func: "Expr"
    args: tuple[Arg, ...]
    scope: PatternScope | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Conforms:
    workflow: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Saga:
    workflow: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Follows:
    model: str
    var: str
    expr: "Expr"
    span: SourceSpan = _span()


Expr = Union[Name, Literal, ListExpr, Paren, Unary, Binary, Compare, RangeExpr, In, Match,
             Exists, Field, Index, Call]
Body = Union[Expr, Conforms, Saga, Follows]

# ---------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TypeName:
    name: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class TypeRange:
    lo: Expr
    hi: Expr
    span: SourceSpan = _span()


TypeRef = Union[TypeName, TypeRange]

# ---------------------------------------------------------------- workflows


@dataclass(frozen=True, slots=True)
class WfStep:
    name: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class WfOp:
    """``op`` is ``;``, ``||`` or ``+`` (n-ary, in source order)."""

    op: str
    items: tuple["WfExpr", ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class WfPost:
    """Postfix ``*`` or ``?``."""

    op: str
    item: "WfExpr"
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class WfParen:
    item: "WfExpr"
    span: SourceSpan = _span()


WfExpr = Union[WfStep, WfOp, WfPost, WfParen]

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Import:
    """``import "file.spec" [as a]`` (``module`` None) or ``import std.x [as a]``."""

    path: str | None
    module: tuple[str, ...] | None
    alias: str | None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Const:
    name: str
    value: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Enum:
    name: str
    members: tuple[str, ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Pred:
    name: str
    params: tuple[str, ...] | None  # None: not parameterised; () would be `p()`
    body: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    body: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Window:
    size: Expr
    sliding: bool
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Property(_Clauses):
    """A runtime property; clauses are fields, so their source order does not matter."""

    name: str
    body: Body
    description: str | None = None
    severity: str | None = None
    owner: str | None = None
    runbook: str | None = None
    message: str | None = None
    scope: Expr | None = None   # the expression after `per`; Name("global") for `global`
    window: Window | None = None
    metric: bool = False         # `metric invariant`
    clause_spans: tuple = field(default=(), compare=False, repr=False)  # ((clause, span), …)
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class MetricBinding:
    name: str
    metric: str
    type: TypeRef
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class PathSeg:
    """One step of a config path: ``.field`` (kind "field"), ``[0]`` ("index"), ``["k"]`` ("key")."""

    kind: str
    value: str | int
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    type: TypeRef
    path: tuple[PathSeg, ...]
    default: Literal | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    source: str
    optional: bool
    select: Expr | None
    bindings: tuple[Binding, ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Invariant(_Clauses):
    name: str
    on: str | None
    severity: str | None
    body: Expr
    clause_spans: tuple = field(default=(), compare=False, repr=False)
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class TypedVar:
    name: str
    type: TypeRef
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Theorem:
    name: str
    vars: tuple[TypedVar, ...]
    assuming: Expr | None
    body: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Compensation:
    step: str
    compensation: str
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    expr: WfExpr
    compensations: tuple[Compensation, ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Check:
    """``check target: kind`` with kind sound, deadlock_free, invariant or ltl."""

    target: str
    kind: str
    body: Expr | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class ModelConst:
    name: str
    value: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class ModelVar:
    name: str
    type: TypeRef
    init: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Assign:
    var: str
    value: Expr
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    guard: Expr | None
    assigns: tuple[Assign, ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    members: tuple[Union[ModelConst, ModelVar, Action], ...]
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Heal(_Clauses):
    name: str
    on: str | None
    action: str | None
    args: tuple[Arg, ...]
    cooldown: Expr | None = None
    limit: tuple[Expr, Expr] | None = None
    approve: Expr | None = None
    risk: Expr | None = None
    clause_spans: tuple = field(default=(), compare=False, repr=False)
    span: SourceSpan = _span()
    run: tuple | None = None  # (controller, metric name, every: Expr | None)


@dataclass(frozen=True, slots=True)
class Claim:
    """``claim NAME: …`` in a controller (docs/control.md): kind ``always`` (args: the
    condition), ``no_flap`` (variable, window), ``converges`` (variable, target, k, N
    periods) or ``bounded`` (variable, range or None); ``assuming`` fixes the metric's
    range instead of the plant."""

    name: str
    kind: str
    args: tuple
    assuming: tuple[str, RangeExpr] | None = None
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Controller:
    """``controller NAME { … }``: a discrete-time control loop (docs/control.md). Members:
    ModelConst, ModelVar, and tuples ("period", expr), ("metric", name, type, span),
    ("let", name, expr, span), ("next", assigns, span), ("plant", name, expr, span),
    ("noise", expr, span), ("step", name, lo, hi, span), and Claim."""

    name: str
    members: tuple
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class OperationMap(_Clauses):
    """``operation NAME when ... key ... input ... output ... client ... indeterminate ...``:
    spans onto a consistency model's operations. ``op`` is the operation's name (several
    declarations may map onto one operation); clauses left out read the convention."""

    op: str
    when: Expr
    key: Expr | None = None
    input: Expr | None = None
    output: Expr | None = None
    client: Expr | None = None
    indeterminate: Expr | None = None
    clause_spans: tuple = field(default=(), compare=False, repr=False)
    span: SourceSpan = _span()


@dataclass(frozen=True, slots=True)
class Consistency:
    """``consistency NAME: CHECKER MODEL``."""

    name: str
    checker: str
    model: str
    span: SourceSpan = _span()


Decl = Union[Import, Const, Enum, Pred, Step, Property, MetricBinding, Config, Invariant,
             Theorem, Workflow, Check, Model, Heal, Controller, OperationMap, Consistency]


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    line: int
    column: int
    own_line: bool  # nothing but whitespace before it on its line


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed file: its declarations in source order, and its comments."""

    file: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: SourceSpan = _span()
