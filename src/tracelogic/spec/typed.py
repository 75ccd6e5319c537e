"""The typed Spec: the only thing every backend sees.

Expressions are :class:`TExpr` nodes in the pysmt style: one node class with an
``op``, children ``args``, a ``type`` and an ``payload``. Names are resolved,
parameterised predicates are expanded (wrapped in a ``pred`` node that keeps
the name for readable output), chained comparisons are split, parentheses and
word spellings are gone. Source spans ride along but take no part in equality.

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
from typing import Any

from tracelogic.errors import SourceSpan
from tracelogic.spec import ast as A
from tracelogic.spec.types import BOOL, Type

_NOWHERE = A.NOWHERE


@dataclass(frozen=True, slots=True)
class TExpr:
    op: str
    args: tuple["TExpr", ...] = ()
    type: Type = BOOL
    payload: Any = None
    span: SourceSpan = field(default=_NOWHERE, compare=False, repr=False)
    # Flags computed once at construction from the children's (as pysmt caches its node
    # flags): asking a deep expression whether it is temporal, or how big it is, must not
    # walk it again at every level above.
    # The hash too: the generated one would rehash the whole tree on every lookup.
    size: int = field(default=1, init=False, compare=False, repr=False)
    temporal: bool = field(default=False, init=False, compare=False, repr=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        size, temporal = 1, self.op in TEMPORAL_OPS
        for a in self.args:
            size += a.size
            temporal = temporal or a.temporal
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "temporal", temporal)
        try:
            h = hash((self.op, self.args, self.type, self.payload))
        except TypeError:  # an unhashable payload: equal nodes still hash alike without it
            h = hash((self.op, self.args, self.type))
        object.__setattr__(self, "_hash", h)

    def __hash__(self) -> int:
        return self._hash

    def walk(self):
        """Every node of the tree, parents before children, iteratively."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))

    @property
    def is_temporal(self) -> bool:
        return self.temporal


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
        return f"<property {self.name} {self.scope} {self.kind}>"


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
    # `run controller NAME on metric "M" every D` (docs/control.md §9): (controller, metric,
    # period_ns); its `on` is then "controller:NAME", and its arguments read the controller
    run: tuple | None = None


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
        return f"tracelogic.load({self.file!r})"
