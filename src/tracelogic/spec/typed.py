"""The typed Spec: the only thing every backend sees.

Expressions are :class:`TExpr` nodes in the pysmt style: one node class with an
``op``, children ``args``, a ``type`` and an ``payload``. Names are resolved,
parameterised predicates are expanded (wrapped in a ``pred`` node that keeps
the name for readable output), chained comparisons are split, parentheses and
word spellings are gone. Nodes are interned (:class:`TExprManager`): structurally
equal expressions are one object, equality is identity, and passes over them are
iterative walkers (:mod:`tracelogic.spec.walker`). A node keeps the source span where it
was first built; spans take no part in identity.

Ops (payload in brackets):
- values: ``lit`` [value], ``list``, ``range``, ``enum`` [(enum, member)],
  ``var`` [(kind, name)] for model/theorem/config/metric variables;
- span data: ``field`` [(hops, field)], ``attr`` [(hops, "attr"|"resource", key)],
  ``has_event`` [name], ``has_ancestor``/``has_child``/``linked`` (a predicate),
  ``path`` [segments] for raw config document paths in ``select``;
- arithmetic ``+ - * / // % neg``; builtins ``call`` [min|max|abs|clamp|ceil|floor];
- logic ``and or not xor implies iff``; ``cmp`` [op]; ``in``; ``matches contains
  startswith``; ``exists``;
- temporal ``X WX F G Y O H U W R M S`` [interval (lo_ns, hi_ns|None) or None];
- ``pred`` [display name] wrapping the expanded body; ``pattern`` [(name, scope)];
- registers ``prev``, ``last`` (value, where, default); aggregates ``agg`` [name]
  with args (value or None, where or None, config name or None).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tracelogic.errors import SourceSpan
from tracelogic.interning import Interned, Interner
from tracelogic.spec import ast as A
from tracelogic.spec.types import BOOL, Type

_NOWHERE = A.NOWHERE
_KEEP: Any = object()  # TExpr.replace: the part is not changed


# Flag bits cached on every node at construction (from the children's), so that no pass
# walks an expression to learn them.
TEMPORAL = 1    # a temporal operator or pattern somewhere below (or here)
REGISTERS = 2   # `prev` / `last`
AGGREGATE = 4   # an aggregate
STRUCTURE = 8   # reads other spans: has_ancestor / has_child / linked / parent.*
ERROR = 16      # an `error` node (the checker reported it)


class TExpr(Interned):
    """One interned typed-expression node (pysmt style, as :class:`~tracelogic.logic.formula.Formula`).

    ``TExpr(op, args, type, payload, span=...)`` returns the one node with that structure:
    two structurally equal expressions are the same object, so equality is identity and
    the hash is a small id, whatever the size. Nodes are immutable; the size, the flags
    and the type are computed once, from the children, when a node is first built.

    ``span`` takes no part in identity: a node keeps the span where it was first built
    (diagnostics about a particular occurrence use the syntax tree's span instead).
    """

    __slots__ = ("id", "op", "args", "type", "payload", "span", "size", "depth", "flags",
                 "_reads", "__weakref__")
    _NOUN = "typed expressions"

    id: int
    op: str
    args: tuple["TExpr", ...]
    type: Type
    payload: Any
    span: SourceSpan
    size: int
    depth: int
    flags: int

    def __new__(cls, op: str, args: tuple["TExpr", ...] = (), type: Type = BOOL,
                payload: Any = None, span: SourceSpan = _NOWHERE) -> "TExpr":
        return _MANAGER.make(op, tuple(args), type, payload, span)

    def __reduce__(self):
        return (_rebuild, (self.op, self.args, self.type, self.payload, self.span))

    def __str__(self) -> str:
        from tracelogic.spec.walker import show

        return show(self)

    def __repr__(self) -> str:
        from tracelogic.spec.walker import show

        return f"<TExpr {self.op}: {show(self)}>"

    def replace(self, *, op: Any = _KEEP, args: Any = _KEEP, type: Any = _KEEP,
                payload: Any = _KEEP, span: Any = _KEEP) -> "TExpr":
        """The node with some parts changed (``dataclasses.replace`` for an interned node);
        a different ``span`` alone gives back this very node."""
        return TExpr(self.op if op is _KEEP else op, self.args if args is _KEEP else args,
                     self.type if type is _KEEP else type,
                     self.payload if payload is _KEEP else payload,
                     self.span if span is _KEEP else span)

    def walk(self):
        """Every node of the tree, parents before children, iteratively."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))

    def nodes(self):
        """Every distinct node once, parents before children, iteratively (a DAG walk)."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            yield node
            stack.extend(reversed(node.args))

    @property
    def is_temporal(self) -> bool:
        return bool(self.flags & TEMPORAL)

    @property
    def temporal(self) -> bool:
        return bool(self.flags & TEMPORAL)

    @property
    def has_registers(self) -> bool:
        return bool(self.flags & REGISTERS)

    @property
    def reads(self) -> frozenset:
        """The span data this expression reads: ``("field", hops, name)`` and ``("attr", hops,
        source, key)`` items. Computed on the first request, by one iterative DAG walk."""
        r = self._reads
        if r is None:
            items = set()
            for node in self.nodes():
                if node.op == "field" or node.op == "attr":
                    items.add((node.op, *node.payload))
            r = frozenset(items)
            object.__setattr__(self, "_reads", r)
        return r


_PLAIN = (str, int, float, bool, type(None), Fraction)


def structure_text(roots: "tuple[TExpr, ...] | list[TExpr]") -> str | None:
    """A text that names the structure of ``roots`` (in order), the same in every process:
    equal texts mean structurally equal expressions (spans take no part). Each distinct
    node is one line ``op|type|payload|children`` (children by line number), so a shared
    subexpression is written once. None when a payload holds something this text cannot
    name exactly (a key for the disk cache, which then does not cache)."""
    index: dict[int, int] = {}
    lines: list[str] = []
    for root in roots:
        if not isinstance(root, TExpr):
            return None
        stack: list[tuple[TExpr, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node.id in index:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args) if a.id not in index)
                continue
            payload = _plain_text(node.payload)
            if payload is None:
                return None
            kids = ",".join(str(index[a.id]) for a in node.args)
            index[node.id] = len(lines)
            lines.append(f"{node.op}|{node.type!r}|{payload}|{kids}")
    lines.append("roots " + ",".join(str(index[r.id]) for r in roots))
    return "\n".join(lines)


def _plain_text(value: Any) -> str | None:
    """A value made of str, int, float, bool, None, Fraction and tuples of them, as text
    that tells their types apart (``1``, ``True`` and ``1.0``); None for anything else."""
    if type(value) in _PLAIN:
        return f"{type(value).__name__}:{value!r}"
    if type(value) is tuple:
        parts = [_plain_text(v) for v in value]
        if any(p is None for p in parts):
            return None
        return f"({';'.join(parts)})"  # type: ignore[arg-type]
    return None


def _payload_key(payload: Any) -> Any:
    """The payload as part of a node's identity: its type too (``1`` and ``True`` and
    ``1.0`` are equal in Python but different literals); an unhashable payload by repr."""
    try:
        hash(payload)
    except TypeError:
        return ("unhashable", type(payload), repr(payload))
    if isinstance(payload, tuple):
        return (tuple, tuple(type(p) for p in payload), payload)
    return (type(payload), payload)


_OP_FLAGS = {"prev": REGISTERS, "last": REGISTERS, "agg": AGGREGATE, "has_ancestor": STRUCTURE,
             "has_child": STRUCTURE, "linked": STRUCTURE, "error": ERROR}


class TExprManager(Interner[TExpr]):
    """Builds and interns every :class:`TExpr` (``FormulaManager`` for the typed IR).

    The table holds nodes weakly: an expression nobody refers to any more is freed, with
    its entry, so loading many specs in one process does not grow the table for ever."""

    def __init__(self) -> None:
        super().__init__(weak=True)

    def make(self, op: str, args: tuple, type: Type, payload: Any, span: SourceSpan) -> TExpr:
        for a in args:
            if not isinstance(a, TExpr):
                raise TypeError(f"a TExpr's args are TExpr nodes, got {a!r}")
        return self._intern((op, args, type, _payload_key(payload)), op, args, type, payload,
                            span)

    def _build(self, id: int, op: str, args: tuple, type: Type, payload: Any,
               span: SourceSpan) -> TExpr:
        size, depth = 1, 0
        flags = (TEMPORAL if op in TEMPORAL_OPS else 0) | _OP_FLAGS.get(op, 0)
        if (op == "field" or op == "attr") and payload and payload[0]:
            flags |= STRUCTURE
        for a in args:
            size += a.size
            flags |= a.flags
            if a.depth > depth:
                depth = a.depth
        return TExpr._new(id, op, args, type, payload, span, size, depth + 1, flags, None)


_MANAGER = TExprManager()


def get_texpr_manager() -> TExprManager:
    """The process-wide manager every :class:`TExpr` is built by."""
    return _MANAGER


def _rebuild(op: str, args: tuple, type: Type, payload: Any, span: SourceSpan) -> TExpr:
    return TExpr(op, args, type, payload, span)


TEMPORAL_OPS = frozenset({"X", "WX", "F", "G", "Y", "O", "H", "U", "W", "R", "M", "S",
                          "pattern"})
AGGREGATES = ("count", "count_distinct", "fraction", "per_second", "avg", "min", "max",
              "p50", "p90", "p95", "p99")
CONFIG_AGGREGATES = ("sum", "count", "min", "max", "all", "any", "avg")


@dataclass(frozen=True, slots=True)
class PropertyT:
    name: str
    kind: str  # "formula" | "conforms" | "saga" | "follows" | "aggregate" | "metric"
    body: TExpr | None
    description: str | None = None
    severity: str = "error"
    owner: str | None = None
    runbook: str | None = None
    message: str | None = None
    message_parts: tuple = ()  # literal str and TExpr placeholders, in order
    scope: str = "trace"       # "trace" | "global" | "key"
    scope_key: TExpr | None = None
    window: tuple[int, bool] | None = None  # (size_ns, sliding)
    target: str | None = None  # the workflow or model for conforms/saga/follows
    follows_var: str | None = None
    module: str = ""
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)

    def __repr__(self) -> str:
        """The constructor call with every field that is not its default, expressions in
        spec syntax: ``PropertyT('answered', 'formula', body='G (…)', severity='warning')``."""
        from dataclasses import MISSING, fields

        parts = [repr(self.name), repr(self.kind)]
        for f in fields(self):
            if f.name in ("name", "kind", "span"):
                continue
            v = getattr(self, f.name)
            default = f.default if f.default is not MISSING else None
            if f.name == "body" or v != default:
                if isinstance(v, TExpr):
                    v = str(v)
                elif f.name == "message_parts":
                    v = tuple(str(x) if isinstance(x, TExpr) else x for x in v)
                parts.append(f"{f.name}={v!r}")
        return f"PropertyT({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    type: Type
    path: tuple[A.PathSeg, ...]
    default: Any = None
    has_default: bool = False
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ConfigT:
    name: str
    source: str
    optional: bool
    select: TExpr | None
    bindings: tuple[Binding, ...]
    base_dir: str = "."
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class InvariantT:
    name: str
    on: str | None
    severity: str
    body: TExpr
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TheoremT:
    name: str
    vars: tuple[tuple[str, Type], ...]
    assuming: TExpr | None
    body: TExpr
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class WorkflowT:
    name: str
    expr: A.WfExpr
    steps: dict  # step name -> TExpr predicate (a `pred` node)
    compensations: tuple[tuple[str, str], ...]
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ActionT:
    name: str
    guard: TExpr | None
    assigns: tuple[tuple[str, TExpr], ...]
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ModelT:
    name: str
    consts: dict
    vars: tuple[tuple[str, Type, TExpr], ...]
    actions: tuple[ActionT, ...]
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CheckT:
    target: str
    target_kind: str  # "workflow" | "model"
    kind: str         # "sound" | "deadlock_free" | "invariant" | "ltl"
    body: TExpr | None
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class HealT:
    name: str
    on: str
    action: str
    args: tuple[tuple[str | None, TExpr], ...]
    cooldown_ns: int | None
    limit: tuple[int, int] | None  # (count, per_ns)
    approve: TExpr | None
    risk: float | None
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)
    # where each of ``args`` is written (an interned expression keeps only the span of its
    # first use anywhere)
    arg_spans: tuple[SourceSpan, ...] = field(default=(), compare=False, repr=False)
    # `run controller NAME on metric "M" every D` (docs/control.md §9): (controller, metric,
    # period_ns); its `on` is then "controller:NAME", and its arguments read the controller
    run: tuple | None = None


@dataclass(frozen=True, slots=True)
class OperationT:
    """``operation OP when ...``, typed: span expressions for each clause given."""

    op: str
    when: TExpr
    key: TExpr | None = None
    input: TExpr | None = None
    output: TExpr | None = None
    client: TExpr | None = None
    indeterminate: TExpr | None = None
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ConsistencyT:
    """``consistency NAME: CHECKER MODEL``."""

    name: str
    checker: str
    model: str
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MetricT:
    name: str
    metric: str
    type: Type
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ClaimT:
    """A controller claim (docs/control.md). ``kind``: ``always`` (``cond``), ``no_flap``
    (``var``, ``window_ns``), ``converges`` (``var``, ``target``, ``within``, ``periods``),
    ``bounded`` (``var``, ``range`` or None). ``assuming``: the metric's (lo, hi) when the
    claim assumes a free metric in that range instead of the plant."""

    name: str
    kind: str
    var: str | None = None
    cond: TExpr | None = None
    window_ns: int | None = None
    target: TExpr | None = None
    within: Any = None
    periods: int | None = None
    range: tuple | None = None
    assuming: tuple | None = None
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ControllerT:
    """A discrete-time control loop (docs/control.md). Every name it reads is a ``var``
    node with payload ``("ctl", name)``: the metric, the state variables, the `let`s
    (evaluated in order each period), and the stepped load input.

    ``vars``: (name, type, initial value); ``updates``: simultaneous (name, value);
    ``plant``: the metric as a function of the state and the load, or None;
    ``noise``: ε, the plant's bounded noise; ``load``: (name, before, after) or None."""

    name: str
    period_ns: int
    metric: str
    metric_type: Type
    consts: dict
    vars: tuple
    lets: tuple
    updates: tuple
    plant: TExpr | None
    noise: Any
    load: tuple | None
    claims: tuple
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Spec:
    """A resolved, type-checked spec file with its imports."""

    file: str
    source: str
    consts: dict
    enums: dict
    preds: dict
    properties: tuple[PropertyT, ...]
    metrics: dict
    configs: dict
    invariants: tuple[InvariantT, ...]
    theorems: tuple[TheoremT, ...]
    workflows: dict
    models: dict
    checks: tuple[CheckT, ...]
    heals: tuple[HealT, ...]
    imports: dict  # alias -> Spec
    warnings: tuple = ()
    controllers: dict = field(default_factory=dict)  # name -> ControllerT (docs/control.md)
    operations: tuple[OperationT, ...] = ()    # spans onto operations (docs/consistency.md)
    consistency: tuple[ConsistencyT, ...] = ()

    def property(self, name: str) -> PropertyT:
        """The runtime property ``name``; an :class:`~tracelogic.errors.UnknownName` (a
        ``KeyError``) that names the closest property when there is none."""
        for p in self.properties:
            if p.name == name:
                return p
        from tracelogic.errors import UnknownName
        from tracelogic.spec.diagnostics import did_you_mean

        names = [p.name for p in self.properties]
        hint = did_you_mean(name, names) or (
            f"its properties are {', '.join(f'`{n}`' for n in names)}" if names
            else "it has no runtime properties")
        raise UnknownName(f"{self.file}: no property `{name}`", value=name, hint=hint)

    def __repr__(self) -> str:
        """The call that loads this spec again: its path, or for a spec given as text
        (``<spec>``) that text."""
        what = self.source if self.file == "<spec>" else self.file
        return f"tracelogic.load({what!r})"
