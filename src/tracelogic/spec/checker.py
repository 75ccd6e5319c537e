"""Name resolution and type checking: AST -> typed Spec.

One :class:`Checker` per file. It reports as many independent errors as it
can (an expression already reported gets the ``<error>`` type, which silences
follow-on errors), and it knows which constructs belong where: span fields in
predicates and properties, temporal operators in properties and model checks,
config bindings in config invariants, and so on (the ``Ctx`` kinds below).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Sequence

from tracelogic.errors import SourceSpan
from tracelogic.spec import ast as A
from tracelogic.spec import types as T
from tracelogic.spec.diagnostics import Diagnostic, did_you_mean
from tracelogic.spec.limits import MAX_EXPRESSION_NODES, MAX_NUMBER_DIGITS, too_large
from tracelogic.spec.lexicon import (FORMULA_WORDS, PAST_OPS, PATTERN_ARITY, SEVERITIES,
                                     TEMPORAL_BINARY, UNTIMED_OPS, parse_bytes, parse_duration)
from tracelogic.spec.typed import (AGGREGATES, CONFIG_AGGREGATES, ActionT, Binding, CheckT,
                                   ConfigT, HealT, InvariantT, MetricT, ModelT, PropertyT, Spec,
                                   TExpr, TheoremT, WorkflowT)
from tracelogic.spec.walker import drive, fold_constant
from tracelogic.spec.typed import ConsistencyT, OperationT

SPAN_FIELDS: dict[str, T.Type] = {
    "name": T.STRING, "kind": T.KIND, "status": T.STATUS, "status_message": T.STRING,
    "duration": T.DURATION, "service": T.STRING, "trace_id": T.STRING, "span_id": T.STRING,
    "parent_id": T.STRING, "is_root": T.BOOL, "start": T.BOOL, "end": T.BOOL,
    # log records (issue 19, docs/language.md "Log records"): missing at span events
    "signal": T.SIGNAL, "severity": T.INT, "severity_text": T.STRING, "body": T.DYN,
}
# the fields only a log record has: a property reading one sees log events
LOG_FIELDS = frozenset({"signal", "severity", "severity_text", "body"})
# OTel SeverityNumber names, built-in `int` constants in span contexts
SEVERITY_CONSTANTS = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}
# Fields that describe the event rather than the span: a parent has none.
EVENT_FIELDS = frozenset({"start", "end"})
VIOLATION_FIELDS: dict[str, T.Type] = {"property": T.STRING, "key": T.STRING,
                                       "trace_id": T.STRING}
PATTERNS = PATTERN_ARITY
# `consistency NAME: CHECKER MODEL` (docs/consistency.md); the consistency package's own
# list of models must equal this one (tests/consistency/test_spec.py)
CONSISTENCY_CHECKERS = ("linearizable", "sequential", "sessions", "causal")
CONSISTENCY_MODELS = ("register", "cas_register", "kv", "counter", "set", "queue")
SCOPES = {"globally": 0, "before": 1, "after": 1, "between": 2, "after_until": 2}
THEOREM_BUILTINS = {"min", "max", "abs", "clamp", "ceil", "floor"}

CTX_WORDS = {
    "const": "a constant", "span": "a predicate", "property": "a property",
    "metric": "a metric invariant", "config": "a config invariant", "select": "a config `select`",
    "theorem": "a theorem", "model": "a model", "model_check": "a model check",
    "heal": "a healing policy", "bound": "a bound", "message": "a message placeholder",
    "controller": "a controller",
}
# the contexts that read a span: span fields, `attr[...]`, `parent.` are in scope there
SPAN_CONTEXTS = frozenset({"span", "property", "heal", "message"})


def _a(word: object) -> str:
    """``word`` with its indefinite article, for messages: "an int", "a duration"."""
    text = str(word)
    return ("an " if text[:1] in ("a", "e", "i", "o") else "a ") + text


@dataclass(frozen=True)
class Ctx:
    kind: str
    locals: dict = field(default_factory=dict)
    config: str | None = None          # the config an invariant is `on`
    in_aggregate: str | None = None    # the config an aggregate ranges over, once known
    temporal_depth: int = 0

    def with_locals(self, extra: dict) -> "Ctx":
        return replace(self, locals={**self.locals, **extra})


@dataclass
class PredDef:
    """A predicate or step as declared; parameterised ones are expanded at each call."""

    name: str
    params: tuple[str, ...] | None
    body: A.Expr
    checker: "Checker"
    typed: TExpr | None = None
    is_step: bool = False


class Checker:
    def __init__(self, module: A.Module, source: str, imports: dict[str, Spec],
                 base_dir: str = ".", broken: set[str] | frozenset = frozenset()):
        self.module = module
        self.broken = broken  # names of declarations that did not parse: already reported
        self.file = module.file
        self.source = source
        self.imports = imports
        self.base_dir = base_dir
        self.diags: list[Diagnostic] = []
        self._seen: set = set()
        self.decls: dict[str, Any] = {}
        self.consts: dict[str, TExpr] = {}
        self.enums: dict[str, T.EnumType] = {}
        self.preds: dict[str, PredDef] = {}
        self.metrics: dict[str, MetricT] = {}
        self.configs: dict[str, ConfigT] = {}
        self.workflows: dict[str, WorkflowT] = {}
        self.models: dict[str, ModelT] = {}
        self.controllers: dict = {}  # name -> ControllerT (spec/controller.py)
        self.properties: list[PropertyT] = []
        self._const_busy: set[str] = set()
        self._pred_busy: list[str] = []
        self._expansions: dict[tuple, TExpr] = {}
        self.fold_problem: str | None = None
        # Bare names that read like a string the user forgot to quote (`payments.charge`,
        # `attr[order.id]`): id of the chain's first Name -> the hint if it is unknown.
        self._quote_hints: dict[int, str] = {}
        self._unit_warned: set[tuple] = set()  # (attribute, unit): warned once each

    # ------------------------------------------------------------ reporting
    def error(self, span: SourceSpan | None, message: str, hint: str | None = None) -> TExpr:
        key = (span, message)
        if key not in self._seen:
            self._seen.add(key)
            self.diags.append(Diagnostic("error", message, span, hint))
        return TExpr("error", type=T.ERROR, span=span or A.NOWHERE)

    def warning(self, span: SourceSpan | None, message: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic("warning", message, span, hint))

    def member_constant(self, m: A.ModelConst, local: dict[str, TExpr], owner: str) -> TExpr:
        """A model's or controller's ``const``, over the names defined before it: folded to
        a literal, or an error when it is not constant."""
        v = self.expr(m.value, Ctx("const", dict(local)))
        folded = self.fold(v)
        if folded is None and v.type != T.ERROR:
            return self.error(m.value.span, f"{owner} constant `{m.name}` is not constant")
        if v.type != T.ERROR:
            return TExpr("lit", type=v.type, payload=folded, span=m.span)
        return v

    def known_once(self, name: str, known: Sequence[str], seen: set[str],
                   span: SourceSpan | None, unknown: str, listing: str, twice: str) -> bool:
        """A name that must be one of ``known`` and come once (a step given a compensation,
        a variable assigned): an unknown one is reported as ``unknown``, hinted with a
        did-you-mean or else ``listing``, and answers False (the caller skips it); a repeat
        is reported as ``twice`` and still answers True (it is checked all the same)."""
        if name not in known:
            self.error(span, unknown, did_you_mean(name, known) or listing)
            return False
        if name in seen:
            self.error(span, twice)
        seen.add(name)
        return True

    # ------------------------------------------------------------ driver
    def run(self) -> Spec:
        self._collect()
        for decl in self.module.decls:
            handler = getattr(self, f"_decl_{type(decl).__name__.lower()}", None)
            name = getattr(decl, "name", None)
            if name is not None and name in self.decls and self.decls[name] is not decl:
                continue  # a second declaration of a name: reported, and its name means the first
            if handler is not None:
                handler(decl)
        for pdef in list(self.preds.values()):
            if pdef.checker is self:
                drive(self._check_pred_def(pdef))
        invariants, theorems, checks, heals = [], [], [], []
        operations, consistency = [], []
        for decl in self.module.decls:
            if isinstance(decl, A.Invariant):
                invariants.append(self._invariant(decl))
            elif isinstance(decl, A.Theorem):
                theorems.append(self._theorem(decl))
            elif isinstance(decl, A.Check):
                c = self._check(decl)
                if c is not None:
                    checks.append(c)
            elif isinstance(decl, A.Heal):
                h = self._heal(decl)
                if h is not None:
                    heals.append(h)
            elif isinstance(decl, A.OperationMap):
                operations.append(self._operation(decl))
            elif isinstance(decl, A.Consistency):
                c = self._consistency(decl)
                if c is not None:
                    consistency.append(c)
        return Spec(
            file=self.file, source=self.source, consts=dict(self.consts), enums=dict(self.enums),
            preds=dict(self.preds), properties=tuple(self.properties), metrics=dict(self.metrics),
            configs=dict(self.configs), invariants=tuple(invariants), theorems=tuple(theorems),
            workflows=dict(self.workflows), models=dict(self.models), checks=tuple(checks),
            heals=tuple(heals), imports=dict(self.imports),
            warnings=tuple(d for d in self.diags if d.severity == "warning"),
            controllers=dict(self.controllers),
            operations=tuple(operations), consistency=tuple(consistency))

    def _collect(self) -> None:
        """First pass: every top-level name, so declarations may come in any order."""
        for alias in self.imports:
            self.decls[alias] = "import"
        for decl in self.module.decls:
            name = getattr(decl, "name", None)
            if isinstance(decl, (A.Import, A.Check)) or name is None:
                continue
            if name in self.decls:
                prev = self.decls[name]
                where = f" (first defined at line {prev.span.line})" if hasattr(prev, "span") \
                    else " (an import alias)"
                self.error(decl.span, f"`{name}` is defined twice{where}",
                           "give each declaration its own name")
                continue
            self.decls[name] = decl
            if isinstance(decl, (A.Pred, A.Step)) and name in SPAN_FIELDS:
                self.error(decl.span, f"`{name}` is a span field; a predicate of that name "
                           "would be hidden by it", f"rename it, e.g. `is_{name}`")
            if isinstance(decl, (A.Pred, A.Step)) and name in PATTERNS:
                self.warning(decl.span, f"{'step' if isinstance(decl, A.Step) else 'predicate'} "
                             f"`{name}` hides the pattern {_pattern_form(name)} in this file",
                             f"rename it, e.g. `is_{name}`, to keep the pattern")
            if isinstance(decl, A.Pred):
                self.preds[name] = PredDef(name, decl.params, decl.body, self)
            elif isinstance(decl, A.Step):
                self.preds[name] = PredDef(name, None, decl.body, self, is_step=True)
            elif isinstance(decl, A.Enum):
                self.enums[name] = T.EnumType(name, tuple(dict.fromkeys(decl.members)))

    # ------------------------------------------------------------ declarations
    def _decl_const(self, decl: A.Const) -> None:
        drive(self._const(decl.name))

    def _const(self, name: str) -> TExpr:
        if name in self.consts:
            return self.consts[name]
        decl = self.decls[name]
        if name in self._const_busy:
            return self.error(decl.span, f"constant `{name}` is defined in terms of itself")
        self._const_busy.add(name)
        value = (yield self._expr(decl.value, Ctx("const")))
        self._const_busy.discard(name)
        self.fold_problem = None
        folded = self.fold(value)
        if value.type != T.ERROR and folded is None:
            if self.fold_problem:
                value = self.error(decl.value.span, f"constant `{name}` cannot be computed: "
                                   f"{self.fold_problem}")
            else:
                value = self.error(decl.value.span, f"constant `{name}` is not a constant "
                                   "value", "use literals, other constants and arithmetic")
        elif value.type != T.ERROR:
            value = TExpr("lit", type=value.type, payload=folded, span=decl.span)
        self.consts[name] = value
        return value

    def _check_pred_def(self, pdef: PredDef) -> None:
        if pdef.typed is not None:
            return
        if pdef.params is None:
            pdef.typed = (yield self._pred_ref(pdef, (), pdef.body.span))
            return
        params = {p: TExpr("var", type=T.DYN, payload=("param", p)) for p in pdef.params}
        (yield self._expr(pdef.body, Ctx("span", params)))

    def _pred_ref(self, pdef: PredDef, args: tuple[TExpr, ...], span) -> TExpr:
        checker = pdef.checker
        if pdef.params is None and pdef.typed is not None:
            return pdef.typed
        if args:
            # One expansion per predicate and arguments: a predicate that uses another twice
            # would otherwise be expanded 2^depth times. The result is shared, not copied.
            done = checker._expansions.get((pdef.name, args))
            if done is not None:
                return done.replace(span=span)
        if pdef.name in checker._pred_busy:
            cycle = checker._pred_busy[checker._pred_busy.index(pdef.name):] + [pdef.name]
            return checker.error(pdef.body.span, f"predicate `{pdef.name}` is defined in terms "
                                 f"of itself: {' -> '.join(cycle)}",
                                 "a predicate describes one span; use `has_ancestor(...)` for "
                                 "structure or a property for order")
        params = dict(zip(pdef.params or (), args))
        checker._pred_busy.append(pdef.name)
        try:
            body = (yield checker._expr(pdef.body, Ctx("span", params)))
        finally:
            checker._pred_busy.pop()
        if body.type not in (T.BOOL, T.DYN, T.ERROR):
            return self.error(pdef.body.span, f"predicate `{pdef.name}` is {_a(body.type)}, "
                              "not true/false", "a predicate must be a condition on a span")
        if body.is_temporal:
            return self.error(pdef.body.span, f"predicate `{pdef.name}` uses a temporal operator",
                              "predicates describe one span; put temporal operators in a "
                              "`property`")
        shown = pdef.name
        if args:
            shown += "(" + ", ".join(_show(a) for a in args) + ")"
        node = TExpr("pred", (body,), T.BOOL, shown, span)
        if pdef.params is None:
            pdef.typed = node
        else:
            checker._expansions[(pdef.name, args)] = node
        return node

    def _decl_metricbinding(self, decl: A.MetricBinding) -> None:
        typ = self.type_ref(decl.type)
        self.metrics[decl.name] = MetricT(decl.name, decl.metric, typ, span=decl.span)

    def _decl_property(self, decl: A.Property) -> None:
        self.properties.append(self._property(decl))

    def _property(self, decl: A.Property) -> PropertyT:
        severity = self._severity(decl.severity, decl.clause_span("severity"))
        scope, scope_key = "trace", None
        if decl.scope is not None:
            scope, scope_key = self._scope(decl.scope)
        window = None
        if decl.window is not None:
            size = self.const_duration(decl.window.size, "window size")
            if size is not None and size <= 0:
                self.error(decl.window.span, "a window must be longer than zero")
            window = (size or 0, decl.window.sliding)
        kind, target, var, body = "formula", None, None, None
        b = decl.body
        if decl.metric:
            kind = "metric"
            ctx = Ctx("metric", {n: TExpr("var", type=m.type, payload=("metric", n), span=m.span)
                                 for n, m in self.metrics.items()})
            body = self.bool_expr(b, ctx, "a metric invariant")
        elif isinstance(b, A.Conforms) or isinstance(b, A.Saga):
            kind = "conforms" if isinstance(b, A.Conforms) else "saga"
            target = b.workflow
            if self._lookup_decl(b.workflow, A.Workflow, b.span, "workflow") is None:
                target = None
        elif isinstance(b, A.Follows):
            kind, target, var = "follows", b.model, b.var
            model = self._lookup_decl(b.model, A.Model, b.span, "model")
            var_types = {}
            if isinstance(model, A.Model):
                var_types = {m.name: self.type_ref(m.type) for m in model.members
                             if isinstance(m, A.ModelVar)}
            elif isinstance(model, ModelT):
                var_types = {n: t for n, t, _ in model.vars}
            if model is not None and b.var not in var_types:
                self.error(b.span, f"model `{b.model}` has no variable `{b.var}`",
                           did_you_mean(b.var, var_types)
                           or f"its variables: {', '.join(var_types)}")
            body = self.expr(b.expr, Ctx("span"))
            vt = var_types.get(b.var)
            if vt is not None and body.type not in (T.DYN, T.ERROR) and not (
                    T.comparable(body.type, vt) or (isinstance(T.base(vt), T.EnumType)
                                                    and body.type == T.STRING)):
                self.error(b.expr.span, f"`{b.var}` is {_a(vt)}, but this observes {_a(body.type)}")
        else:
            body = self.bool_expr(b, Ctx("property"), "a property")
            aggs = [n for n in body.walk() if n.op == "agg"]
            if aggs:
                kind = "aggregate"
                if body.is_temporal:
                    self.error(b.span, "aggregates cannot be combined with temporal operators",
                               "write the aggregate condition as its own property")
                stray = _outside_aggregates(body)
                if stray is not None:
                    self.error(stray.span, "outside an aggregate, this property can only use "
                               "aggregates and constants",
                               "move the condition into the aggregate's `where`")
        if window is not None and kind != "aggregate":
            self.error(decl.window.span, "`window` needs an aggregate in the property, "
                       "such as `count(...)` or `p99(duration)`")
        parts = self._message(decl) if decl.message else ()
        return PropertyT(decl.name, kind, body, decl.description, severity, decl.owner,
                         decl.runbook, decl.message, parts, scope, scope_key, window, target, var,
                         self.file, span=decl.span)

    def _message(self, decl: A.Property) -> tuple:
        """Split a `message` into text and typed `{expr}` placeholders (`{{` is a brace)."""
        from tracelogic.spec.parsed import parse_expr
        from tracelogic.spec.diagnostics import SpecErrors

        parts: list = []
        text = decl.message or ""
        pos = 0
        for m in re.finditer(r"\{\{|\}\}|\{([^{}]*)\}", text):
            parts.append(text[pos:m.start()])
            pos = m.end()
            if m.group(1) is None:
                parts.append(m.group(0)[0])
                continue
            try:
                expr = parse_expr(m.group(1), self.file)
            except SpecErrors as e:
                self.error(decl.clause_span("message"), f"message placeholder "
                           f"`{{{m.group(1)}}}` does not parse: {e.diagnostics[0].message}")
                continue
            before = len(self.diags)
            locals_ = {n: TExpr("var", type=m.type, payload=("metric", n))
                       for n, m in self.metrics.items()} if decl.metric else {}
            parts.append(self.expr(expr, Ctx("message", locals_)))
            for i in range(before, len(self.diags)):  # point into the spec, not the placeholder
                d = self.diags[i]
                self.diags[i] = Diagnostic(d.severity, f"in message placeholder "
                                           f"`{{{m.group(1)}}}`: {d.message}",
                                           decl.clause_span("message"), d.hint)
        parts.append(text[pos:])
        return tuple(p for p in parts if p != "")

    def _scope(self, target: A.Expr) -> tuple[str, TExpr | None]:
        if isinstance(target, A.Name) and target.id in ("trace", "global"):
            return target.id, None
        key = self.expr(target, Ctx("span"))
        if key.type == T.BOOL:
            self.error(target.span, "a scope groups events by a value, not by a condition",
                       "e.g. `per attr[\"order.id\"]` or `per service`")
        if key.op not in ("field", "attr", "error"):
            self.error(target.span, "a scope must be `trace`, `service`, `global`, a span field "
                       "or `attr[\"k\"]`")
        elif key.op in ("field", "attr") and key.payload[0]:
            # an event joins an instance by its own span's value: a parent may be absent
            # from the trace, or arrive in a later request
            self.error(target.span, "a scope key is read from the span itself, not its "
                       "parent", "e.g. `per attr[\"order.id\"]`, not `per parent.attr[...]`")
        return "key", key

    def _severity(self, level: str | None, span) -> str:
        if level is None:
            return "error"
        if level not in SEVERITIES:
            self.error(span, f"unknown severity `{level}`",
                       did_you_mean(level, SEVERITIES) or "use critical, error, warning or info")
            return "error"
        return level

    def _lookup_decl(self, name: str, kind: type, span, word: str):
        decl = self.decls.get(name)
        if "." in name:
            alias, _, member = name.partition(".")
            spec = self.imports.get(alias)
            if spec is not None:
                table = {A.Workflow: spec.workflows, A.Model: spec.models}.get(kind, {})
                if member in table:
                    return table[member]
        if isinstance(decl, kind):
            return decl
        if decl is None:
            candidates = [n for n, d in self.decls.items() if isinstance(d, kind)]
            self.error(span, f"unknown {word} `{name}`", did_you_mean(name, candidates))
        else:
            self.error(span, f"`{name}` is not {_a(word)}")
        return None

    # -- configs
    def _decl_config(self, decl: A.Config) -> None:
        bindings = []
        names = set()
        for b in decl.bindings:
            if b.name in names:
                self.error(b.span, f"`{b.name}` is bound twice in config `{decl.name}`")
            names.add(b.name)
            typ = self.type_ref(b.type)
            default, has_default = None, b.default is not None
            if has_default:
                default = self._default_value(b.default, typ)
            bindings.append(Binding(b.name, typ, b.path, default, has_default, span=b.span))
        select = self.bool_expr(decl.select, Ctx("select"), "a `select`") if decl.select else None
        self.configs[decl.name] = ConfigT(decl.name, decl.source, decl.optional, select,
                                          tuple(bindings), self.base_dir, span=decl.span)

    def _default_value(self, lit: A.Literal, typ: T.Type):
        b = T.base(typ)
        ok = {T.DURATION: ("duration",), T.BYTES: ("bytes",), T.CPU: ("int", "real"),
              T.INT: ("int",), T.REAL: ("int", "real"), T.STRING: ("string",),
              T.BOOL: ("bool",)}.get(b)
        if isinstance(b, T.EnumType):
            self.error(lit.span, "enum defaults are not supported; bind a string instead")
            return None
        if ok is not None and lit.kind not in ok:
            return self.error(lit.span, f"default `{lit.text}` is {_a(lit.kind)}, but the binding "
                              f"is {_a(typ)}", f"write {_a(typ)} such as {T.unit_example(typ)}").payload
        if isinstance(typ, T.RangeType) and not (typ.lo <= lit.value <= typ.hi):
            self.error(lit.span, f"default {lit.text} is outside {typ}")
        return lit.value

    def _invariant(self, decl: A.Invariant) -> InvariantT:
        severity = self._severity(decl.severity, decl.clause_span("severity"))
        ctx = Ctx("config")
        if decl.on is not None:
            config = self.configs.get(decl.on)
            if config is None:
                self._lookup_decl(decl.on, A.Config, decl.clause_span("on"), "config")
            else:
                ctx = Ctx("config", {b.name: TExpr("var", type=b.type,
                                                   payload=("config", decl.on, b.name))
                                     for b in config.bindings}, config=decl.on)
        body = self.bool_expr(decl.body, ctx, "an invariant")
        return InvariantT(decl.name, decl.on, severity, body, span=decl.span)

    # -- theorems
    def _theorem(self, decl: A.Theorem) -> TheoremT:
        variables = []
        local = {}
        for v in decl.vars:
            typ = self.type_ref(v.type)
            variables.append((v.name, typ))
            local[v.name] = TExpr("var", type=typ, payload=("theorem", v.name), span=v.span)
        ctx = Ctx("theorem", local)
        assuming = self.bool_expr(decl.assuming, ctx, "`assuming`") if decl.assuming else None
        body = self.bool_expr(decl.body, ctx, "a theorem")
        return TheoremT(decl.name, tuple(variables), assuming, body, span=decl.span)

    # -- workflows
    def _decl_workflow(self, decl: A.Workflow) -> None:
        names: list[str] = []
        stack = [decl.expr]
        while stack:
            node = stack.pop()
            if isinstance(node, A.WfStep):
                if node.name != "skip" and node.name not in names:
                    names.append(node.name)
            elif isinstance(node, A.WfOp):
                stack.extend(reversed(node.items))
            else:
                stack.append(node.item)
        steps = {n: self._step_pred(n, decl.span) for n in names}
        comps = []
        seen = set()
        for c in decl.compensations:
            if not self.known_once(c.step, names, seen, c.span,
                                   f"compensation for unknown step `{c.step}`",
                                   f"the steps of `{decl.name}` are {', '.join(names)}",
                                   f"step `{c.step}` has two compensations"):
                continue
            if c.compensation in names:
                self.error(c.span, f"`{c.compensation}` is a forward step of `{decl.name}` and "
                           "cannot also be its compensation")
            steps.setdefault(c.compensation, self._step_pred(c.compensation, c.span))
            comps.append((c.step, c.compensation))
        self.workflows[decl.name] = WorkflowT(decl.name, decl.expr, steps, tuple(comps),
                                              span=decl.span)

    def _step_pred(self, name: str, span) -> TExpr:
        """A step matches its `step` declaration, else spans whose name is the step's name."""
        pdef = self.preds.get(name)
        if pdef is not None and pdef.is_step:
            drive(self._check_pred_def(pdef))
            return pdef.typed
        body = TExpr("cmp", (TExpr("field", type=T.STRING, payload=((), "name")),
                             TExpr("lit", type=T.STRING, payload=name)), T.BOOL, "==")
        return TExpr("pred", (body,), T.BOOL, name, span)

    # -- models
    def _decl_model(self, decl: A.Model) -> None:
        consts: dict[str, TExpr] = {}
        variables: list = []
        local: dict[str, TExpr] = {}
        actions = []
        for m in decl.members:
            if isinstance(m, A.ModelConst):
                v = self.member_constant(m, local, "model")
                if m.name in local:
                    self.error(m.span, f"`{m.name}` is defined twice in model `{decl.name}`")
                consts[m.name] = v
                local[m.name] = v
        for m in decl.members:
            if isinstance(m, A.ModelVar):
                typ = self.type_ref(m.type)
                if m.name in local:
                    self.error(m.span, f"`{m.name}` is defined twice in model `{decl.name}`")
                init = self.expr(m.init, Ctx("model", dict(local)), enum_hint=typ)
                self._assignable(init, typ, m.init.span, f"the initial value of `{m.name}`")
                variables.append((m.name, typ, init))
                local[m.name] = TExpr("var", type=typ, payload=("model", m.name), span=m.span)
        action_names = set()
        for m in decl.members:
            if isinstance(m, A.Action):
                if m.name in action_names or m.name in local:
                    self.error(m.span, f"`{m.name}` is defined twice in model `{decl.name}`")
                action_names.add(m.name)
                ctx = Ctx("model", dict(local))
                guard = self.bool_expr(m.guard, ctx, "a guard") if m.guard else None
                assigns = []
                assigned = set()
                names = [v[0] for v in variables]  # exactly the names `local` maps to a var
                for a in m.assigns:
                    what = "a constant" if a.var in local else "not a variable"
                    if not self.known_once(a.var, names, assigned, a.span,
                                           f"`{a.var}` is {what} of model `{decl.name}`",
                                           f"its variables: {', '.join(names)}",
                                           f"action `{m.name}` assigns `{a.var}` twice"):
                        continue
                    target = local[a.var]
                    value = self.expr(a.value, ctx, enum_hint=target.type)
                    self._assignable(value, target.type, a.value.span, f"`{a.var}`")
                    assigns.append((a.var, value))
                actions.append(ActionT(m.name, guard, tuple(assigns), span=m.span))
        self.models[decl.name] = ModelT(decl.name, consts, tuple(variables), tuple(actions),
                                        span=decl.span)

    def _decl_controller(self, decl: A.Controller) -> None:
        from tracelogic.spec.controller import check_controller

        c = check_controller(self, decl)
        if c is not None:
            self.controllers[decl.name] = c

    def _assignable(self, value: TExpr, typ: T.Type, span, what: str) -> None:
        if value.type == T.ERROR:
            return
        if not T.comparable(value.type, typ) or (T.base(typ) == T.BOOL) != (value.type == T.BOOL):
            self.error(span, f"{what} must be {_a(typ)}, but this is {_a(value.type)}")
            return
        folded = self.fold(value)
        if isinstance(typ, T.RangeType) and folded is not None and not isinstance(folded, bool) \
                and not (typ.lo <= folded <= typ.hi):
            self.error(span, f"{what} is {folded}, outside its range {typ}")

    def _check(self, decl: A.Check) -> CheckT | None:
        d = self.decls.get(decl.target)
        target = None
        if isinstance(d, A.Workflow):
            target = "workflow"
        elif isinstance(d, A.Model):
            target = "model"
        else:
            candidates = [n for n, x in self.decls.items() if isinstance(x, (A.Workflow, A.Model))]
            self.error(decl.span, f"`check {decl.target}`: no workflow or model named "
                       f"`{decl.target}`", did_you_mean(decl.target, candidates))
            return None
        if target == "workflow" and decl.kind not in ("sound", "deadlock_free"):
            self.error(decl.span, f"a workflow can be checked `sound` or `deadlock_free`, "
                       f"not with {'an invariant' if decl.kind == 'invariant' else 'a formula'}",
                       "state trace properties with `property … : conforms "
                       f"{decl.target}`")
            return None
        if target == "model" and decl.kind == "sound":
            self.error(decl.span, "`sound` applies to workflows; check a model with "
                       "`deadlock_free`, `invariant …` or an LTL formula")
            return None
        body = None
        if decl.body is not None:
            model = self.models[decl.target]
            local = dict(model.consts)
            local.update({n: TExpr("var", type=t, payload=("model", n)) for n, t, _ in model.vars})
            kind = "model" if decl.kind == "invariant" else "model_check"
            body = self.bool_expr(decl.body, Ctx(kind, local), "a model check")
        return CheckT(decl.target, target, decl.kind, body, span=decl.span)

    # -- consistency (docs/consistency.md)
    def _operation(self, decl: A.OperationMap) -> OperationT:
        when = self.bool_expr(decl.when, Ctx("span"), "`operation ... when`")
        fields = {}
        for clause in ("key", "input", "output", "client"):
            e = getattr(decl, clause)
            fields[clause] = None if e is None else self.expr(e, Ctx("span"))
        ind = decl.indeterminate
        fields["indeterminate"] = None if ind is None else self.bool_expr(
            ind, Ctx("span"), "`indeterminate`")
        return OperationT(decl.op, when, span=decl.span, **fields)

    def _consistency(self, decl: A.Consistency) -> ConsistencyT | None:
        ok = True
        if decl.checker not in CONSISTENCY_CHECKERS:
            self.error(decl.span, f"consistency `{decl.name}` names no checker "
                       f"`{decl.checker}`", did_you_mean(decl.checker, CONSISTENCY_CHECKERS)
                       or f"the checkers are {', '.join(CONSISTENCY_CHECKERS)}")
            ok = False
        if decl.model not in CONSISTENCY_MODELS and decl.model not in self.models:
            names = list(CONSISTENCY_MODELS) + list(self.models)
            self.error(decl.span, f"consistency `{decl.name}` names no model `{decl.model}`",
                       did_you_mean(decl.model, names)
                       or f"the models are {', '.join(names)} (built in, or a `model` of "
                       "this file)")
            ok = False
        return ConsistencyT(decl.name, decl.checker, decl.model, span=decl.span) if ok \
            else None

    # -- healing
    def _heal(self, decl: A.Heal) -> HealT | None:
        ok = True
        run, ctl_locals = None, {}
        if decl.run is not None:  # `run controller NAME on metric "M" [every D]` (control.md §9)
            ctl_name, metric, every = decl.run
            ctl = self.controllers.get(ctl_name)
            if decl.on is not None:
                self.error(decl.clause_span("on"), f"policy `{decl.name}` runs a controller: "
                           "it acts every period, not `on violated` a property",
                           "drop one of the two clauses")
                ok = False
            if ctl is None:
                self.error(decl.clause_span("run"), f"policy `{decl.name}` runs unknown "
                           f"controller `{ctl_name}`", did_you_mean(ctl_name, list(
                               self.controllers)))
                ok = False
            else:
                every_ns = self.const_duration(every, "`every`") if every is not None \
                    else ctl.period_ns
                if every_ns is not None and every_ns <= 0:
                    self.error(decl.clause_span("run"), "`every D` needs D > 0")
                    ok = False
                if not metric:
                    self.error(decl.clause_span("run"), "the metric name is empty")
                    ok = False
                run = (ctl_name, metric, every_ns or ctl.period_ns)
                types = {n: t for n, t, _ in ctl.vars}
                types.update({n: e.type for n, e in ctl.lets})
                types[ctl.metric] = ctl.metric_type
                ctl_locals = {n: TExpr("var", type=t, payload=("ctl", n))
                              for n, t in types.items()}
        elif decl.on is None:
            self.error(decl.span, f"policy `{decl.name}` has no `on violated PROPERTY` clause")
            ok = False
        elif not self._is_property(decl.on):
            names = [p.name for p in self.properties]
            self.error(decl.clause_span("on"), f"policy `{decl.name}` reacts to unknown "
                       f"property `{decl.on}`", did_you_mean(decl.on, names))
        if decl.action is None:
            self.error(decl.span, f"policy `{decl.name}` has no `do ACTION(...)` clause")
            ok = False
        args = []
        arg_spans = []
        names = set()
        for a in decl.args:
            if a.where is not None or a.within:
                self.error(a.span, "action arguments are `name: value` or plain values")
                continue
            if a.name is not None:
                if a.name in names:
                    self.error(a.span, f"argument `{a.name}` is given twice")
                names.add(a.name)
            args.append((a.name, self.expr(a.value, Ctx("heal", dict(ctl_locals)))))
            arg_spans.append(a.value.span)
        cooldown = self.const_duration(decl.cooldown, "cooldown") if decl.cooldown else None
        limit = None
        if decl.limit is not None:
            n = self.const_value(decl.limit[0], T.INT, "a limit")
            per = self.const_duration(decl.limit[1], "a limit window")
            if n is not None and per is not None:
                if n < 1 or per <= 0:
                    self.error(decl.clause_span("limit"), "`limit N per D` needs N >= 1 and "
                               "D > 0")
                limit = (n, per)
        approve = None
        if decl.approve is not None:
            approve = self.bool_expr(decl.approve, Ctx("heal", {"risk": TExpr(
                "var", type=T.RATIO, payload=("heal", "risk"))}), "`approve when`")
        risk = None
        if decl.risk is not None:
            r = self.const_value(decl.risk, T.REAL, "a risk")
            if r is not None:
                if not 0 <= r <= 1:
                    self.error(decl.risk.span, f"risk {float(r)} is outside 0.0..1.0")
                risk = float(r)
        if not ok:
            return None
        return HealT(decl.name, decl.on if run is None else f"controller:{run[0]}", decl.action,
                     tuple(args), cooldown, limit, approve, risk, span=decl.span, run=run,
                     arg_spans=tuple(arg_spans))

    def _is_property(self, name: str) -> bool:
        if "." in name:
            alias, _, member = name.partition(".")
            spec = self.imports.get(alias)
            return spec is not None and any(p.name == member for p in spec.properties)
        return isinstance(self.decls.get(name), A.Property)

    # ------------------------------------------------------------ constants
    def fold(self, e: TExpr):
        """The value of a constant expression, or None when it is not constant (then
        ``fold_problem`` may say why: a zero divisor, a value too large)."""
        value, problem = fold_constant(e)
        if problem is not None:
            self.fold_problem = problem
        return value

    def const_value(self, e: A.Expr, want: T.Type, what: str):
        v = self.expr(e, Ctx("bound"))
        if v.type == T.ERROR:
            return None
        if not T.comparable(v.type, want) or T.base(v.type) in T.UNIT_TYPES:
            self.error(e.span, f"{what} must be {_a(want)}, but this is {_a(v.type)}")
            return None
        folded = self.fold(v)
        if folded is None:
            self.error(e.span, f"{what} must be a constant")
        return folded

    def const_duration(self, e: A.Expr, what: str) -> int | None:
        v = self.expr(e, Ctx("bound"))
        if v.type == T.ERROR:
            return None
        if T.base(v.type) != T.DURATION:
            return self.error(e.span, f"{what} must be a duration, but this is {_a(v.type)}",
                              "write a duration such as `1s`").payload
        folded = self.fold(v)
        if folded is None:
            self.error(e.span, f"{what} must be a constant duration")
        return folded

    # ------------------------------------------------------------ types
    def type_ref(self, t: A.TypeRef) -> T.Type:
        if isinstance(t, A.TypeRange):
            lo = self.expr(t.lo, Ctx("const"))
            hi = self.expr(t.hi, Ctx("const"))
            if T.ERROR in (lo.type, hi.type):
                return T.ERROR
            lv, hv = self.fold(lo), self.fold(hi)
            if lv is None or hv is None:
                self.error(t.span, "range bounds must be constants")
                return T.ERROR
            joined = T.join_numeric(lo.type, hi.type) if T.is_numeric(lo.type) and \
                T.is_numeric(hi.type) else None
            if joined is None:
                self.error(t.span, f"a range cannot go from {_a(lo.type)} to {_a(hi.type)}")
                return T.ERROR
            if lv > hv:
                self.error(t.span, f"empty range: {lv} is greater than {hv}")
            return T.RangeType(str(joined), base=joined, lo=lv, hi=hv)
        if t.name in T.NAMED_TYPES:
            return T.NAMED_TYPES[t.name]
        if t.name in self.enums:
            return self.enums[t.name]
        self.error(t.span, f"unknown type `{t.name}`",
                   did_you_mean(t.name, list(T.NAMED_TYPES) + list(self.enums))
                   or "types: bool int real string duration bytes cpu ratio, ranges such as "
                   "`1..10`, or an enum")
        return T.ERROR

    # ------------------------------------------------------------ expressions
    def bool_expr(self, e: A.Expr, ctx: Ctx, what: str) -> TExpr:
        return drive(self._bool_expr(e, ctx, what))

    def _bool_expr(self, e: A.Expr, ctx: Ctx, what: str):
        t = (yield self._expr(e, ctx))
        if t.type not in (T.BOOL, T.DYN, T.ERROR):
            return self.error(e.span, f"{what} must be true or false, but this is {_a(t.type)}",
                              "compare it with something, e.g. `x > 0`")
        return t

    def expr(self, e: A.Expr, ctx: Ctx, enum_hint: T.Type | None = None) -> TExpr:
        """The typed form of ``e``; iterative (:func:`~tracelogic.spec.walker.drive`)."""
        return drive(self._expr(e, ctx, enum_hint))

    def _expr(self, e: A.Expr, ctx: Ctx, enum_hint: T.Type | None = None):
        method = getattr(self, f"_e_{type(e).__name__.lower()}")
        t = yield method(e, ctx, enum_hint)
        if t.size > MAX_EXPRESSION_NODES:  # only expanding predicates grows this far
            return self.error(e.span, f"this expression expands to {t.size:,} nodes; one "
                              f"expression has at most {MAX_EXPRESSION_NODES:,}",
                              "predicates with parameters are expanded at every use; "
                              "use each one fewer times, or split the property")
        return t

    def _e_paren(self, e: A.Paren, ctx, hint):
        return (yield self._expr(e.expr, ctx, hint))

    def _e_literal(self, e: A.Literal, ctx, hint):
        typ = {"int": T.INT, "real": T.REAL, "duration": T.DURATION, "bytes": T.BYTES,
               "string": T.STRING, "bool": T.BOOL}[e.kind]
        return TExpr("lit", type=typ, payload=e.value, span=e.span)

    def _e_listexpr(self, e: A.ListExpr, ctx, hint):
        items_: list[TExpr] = []
        for i in e.items:
            items_.append((yield self._expr(i, ctx, hint)))
        items = tuple(items_)
        elem = items[0].type if items else T.DYN
        for i, item in zip(e.items, items):
            if not T.comparable(item.type, elem):
                self.error(i.span, f"list items must share one type: {item.type} after {elem}")
        return TExpr("list", items, T.ListType("list", elem=elem), span=e.span)

    def _e_rangeexpr(self, e: A.RangeExpr, ctx, hint):
        lo, hi = (yield self._expr(e.lo, ctx)), (yield self._expr(e.hi, ctx))
        joined = T.join_numeric(lo.type, hi.type) if T.is_numeric(lo.type) and \
            T.is_numeric(hi.type) else None
        if joined is None and T.ERROR not in (lo.type, hi.type):
            return self.error(e.span, f"a range needs two numbers of one unit, not {lo.type} "
                              f"and {hi.type}")
        return TExpr("range", (lo, hi), T.RangeType("range", base=joined or T.ERROR), span=e.span)

    # -- names
    def _e_name(self, e: A.Name, ctx: Ctx, hint, soft: bool = False):
        n = e.id
        if n in ctx.locals:
            return ctx.locals[n].replace(span=e.span)
        if ctx.kind == "select" and n not in self.consts and not isinstance(
                self.decls.get(n), A.Const):
            return TExpr("path", type=T.DYN, payload=(("field", n),), span=e.span)
        if ctx.kind in SPAN_CONTEXTS and n in SPAN_FIELDS:
            if ctx.kind == "heal" and n in EVENT_FIELDS:
                return self.error(e.span, f"`{n}` describes an event; a healing policy sees "
                                  "the witness span")
            return TExpr("field", type=SPAN_FIELDS[n], payload=((), n), span=e.span)
        if ctx.kind == "heal" and n in VIOLATION_FIELDS:
            return TExpr("var", type=VIOLATION_FIELDS[n], payload=("violation", n), span=e.span)
        if isinstance(hint, T.EnumType) and n in hint.members:
            return TExpr("enum", type=hint, payload=(hint.name, n), span=e.span)
        decl = self.decls.get(n)
        if isinstance(decl, A.Const):
            return (yield self._const(n)).replace(span=e.span)
        if n in self.preds:
            pdef = self.preds[n]
            if ctx.kind not in SPAN_CONTEXTS and ctx.kind != "span":
                return self.error(e.span, f"`{n}` is a span predicate; it cannot be used in "
                                  f"{CTX_WORDS[ctx.kind]}")
            if pdef.params is not None:
                return self.error(e.span, f"predicate `{n}` takes {len(pdef.params)} "
                                  f"argument(s): {n}({', '.join(pdef.params)})")
            (yield self._check_pred_def(pdef))
            return pdef.typed.replace(span=e.span) if pdef.typed else \
                TExpr("error", type=T.ERROR)
        if isinstance(decl, A.Enum):
            return self.error(e.span, f"`{n}` is an enum type, not a value",
                              f"use one of its members: {', '.join(decl.members)}")
        if isinstance(decl, (A.Property, A.Workflow, A.Model, A.Config, A.Theorem, A.Invariant,
                             A.Heal, A.MetricBinding, A.Consistency)):
            what = type(decl).__name__.lower()
            if isinstance(decl, A.MetricBinding):
                return self.error(e.span, f"metric `{n}` can only be used in a "
                                  "`metric invariant`")
            return self.error(e.span, f"`{n}` is {_a(what)}, not a value")
        if n in SPAN_FIELDS and ctx.kind not in SPAN_CONTEXTS:
            return self.error(e.span, f"`{n}` is a span field; it cannot be used in "
                              f"{CTX_WORDS[ctx.kind]}")
        if ctx.kind == "select":
            return TExpr("path", type=T.DYN, payload=(("field", n),), span=e.span)
        members = [(en, t) for en, t in self.enums.items() if n in t.members]
        for t in (T.KIND, T.STATUS, T.SIGNAL):
            if n in t.members and ctx.kind in SPAN_CONTEXTS:
                members.append((t.name, t))
        if not members and n in SEVERITY_CONSTANTS and ctx.kind in SPAN_CONTEXTS:
            return TExpr("lit", type=T.INT, payload=SEVERITY_CONSTANTS[n], span=e.span)
        if len(members) == 1:
            return TExpr("enum", type=members[0][1], payload=(members[0][1].name, n), span=e.span)
        if len(members) > 1 and not soft:
            return self.error(e.span, f"`{n}` is a member of several enums "
                              f"({', '.join(m[0] for m in members)})",
                              "compare it with a value of the enum you mean")
        if soft:
            return None
        if n in self.broken:
            return TExpr("error", type=T.ERROR, span=e.span)
        hint = self._suggest(n, ctx)
        quote = self._quote_hints.get(id(e))
        if quote is not None:
            hint = quote if hint is None else f"{hint} {quote[0].upper()}{quote[1:]}"
        return self.error(e.span, f"unknown name `{n}`", hint)

    def _suggest(self, n: str, ctx: Ctx) -> str | None:
        candidates = set(ctx.locals) | set(self.decls)
        if ctx.kind in SPAN_CONTEXTS:
            candidates |= set(SPAN_FIELDS) | set(T.KIND.members) | set(T.STATUS.members) \
                | set(T.SIGNAL.members) | set(SEVERITY_CONSTANTS)
        for t in self.enums.values():
            candidates |= set(t.members)
        hint = did_you_mean(n, candidates)
        if hint is None and n in ("attr", "resource"):
            return f'write `{n}["key"]`'
        if hint is None and ctx.kind == "heal":  # `state: open`: action values are strings
            return f'an action\'s value is a string: write `"{n}"`'
        return hint

    def _e_field(self, e: A.Field, ctx: Ctx, hint):
        # qualified import names: alias.member
        if isinstance(e.base, A.Name) and e.base.id in self.imports and \
                e.base.id not in ctx.locals:
            return (yield self._imported(e.base.id, e.name, (), e.span, ctx))
        # config-qualified binding inside an aggregate
        if isinstance(e.base, A.Name) and e.base.id in self.configs and ctx.kind == "config":
            return self._config_ref(e.base.id, e.name, e.span, ctx)
        if ctx.kind == "select":
            base = (yield self._expr(e.base, ctx))
            if base.op == "path":
                return TExpr("path", type=T.DYN, payload=base.payload + (("field", e.name),),
                             span=e.span)
        hops, node = _parent_hops(e.base)
        if node is not None and isinstance(node, A.Name) and node.id == "parent" \
                and "parent" not in ctx.locals:
            if ctx.kind not in SPAN_CONTEXTS:
                return self.error(e.span, f"`parent` is a span field; it cannot be used in "
                                  f"{CTX_WORDS[ctx.kind]}")
            hops = hops + ("parent",)
            if e.name in SPAN_FIELDS and e.name not in EVENT_FIELDS:
                return TExpr("field", type=SPAN_FIELDS[e.name], payload=(hops, e.name),
                             span=e.span)
            if e.name in ("attr", "resource"):
                return self.error(e.span, f'write `parent.{e.name}["key"]`')
            return self.error(e.span, f"a parent span has no field `{e.name}`",
                              did_you_mean(e.name, [f for f in SPAN_FIELDS
                                                    if f not in EVENT_FIELDS]))
        if isinstance(e.base, A.Name) and e.base.id == "scope" and ctx.kind in SPAN_CONTEXTS:
            if e.name != "name":
                return self.error(e.span, "the instrumentation scope has only `scope.name`")
            return TExpr("field", type=T.STRING, payload=((), "scope.name"), span=e.span)
        base = (yield self._expr_quoting(e.base, ctx, _QUOTE_IT, whole=e)) \
            if ctx.kind in SPAN_CONTEXTS else (yield self._expr(e.base, ctx))
        if base.type == T.ERROR:
            return base
        return self.error(e.span, f"`.{e.name}` cannot be applied to {_a(base.type)}")

    def _config_ref(self, config: str, name: str, span, ctx: Ctx) -> TExpr:
        if ctx.config == config and name in ctx.locals:
            return ctx.locals[name].replace(span=span)
        cfg = self.configs[config]
        b = next((b for b in cfg.bindings if b.name == name), None)
        if b is None:
            return self.error(span, f"config `{config}` binds no `{name}`",
                              did_you_mean(name, [b.name for b in cfg.bindings]))
        if ctx.in_aggregate is None:
            return self.error(span, f"`{config}.{name}` ranges over every document; use it "
                              "inside an aggregate such as `sum(...)`",
                              f"or write the invariant `on {config}`")
        if ctx.in_aggregate not in ("?", config):
            return self.error(span, f"one aggregate ranges over one config; this one already "
                              f"uses `{ctx.in_aggregate}`")
        return TExpr("var", type=b.type, payload=("config", config, name), span=span)

    def _imported(self, alias: str, member: str, args: tuple[A.Arg, ...] | None, span,
                  ctx: Ctx) -> TExpr:
        spec = self.imports[alias]
        if member in spec.consts:
            return spec.consts[member].replace(span=span)
        if member in spec.preds:
            pdef = spec.preds[member]
            if ctx.kind not in SPAN_CONTEXTS:
                return self.error(span, f"`{alias}.{member}` is a span predicate; it cannot be "
                                  f"used in {CTX_WORDS[ctx.kind]}")
            return (yield self._call_pred(pdef, args, span, ctx, f"{alias}.{member}"))
        names = list(spec.consts) + list(spec.preds) + [p.name for p in spec.properties]
        if any(p.name == member for p in spec.properties):
            return self.error(span, f"`{alias}.{member}` is a property, not a value")
        return self.error(span, f"`{alias}` has no `{member}`", did_you_mean(member, names))

    def _call_pred(self, pdef: PredDef, args, span, ctx: Ctx, shown: str) -> TExpr:
        want = len(pdef.params or ())
        got = len(args) if args is not None else None
        hides = shown in PATTERNS and got is not None and got != want
        hint = f"`{shown}` is also a pattern, {_pattern_form(shown)}, which your predicate " \
            f"`{shown}` hides: rename your predicate to call the pattern" if hides else None
        if pdef.params is None:
            if got:
                return self.error(span, f"predicate `{shown}` takes no arguments",
                                  hint and hint + f", or write `{shown}` alone for the predicate")
            (yield pdef.checker._check_pred_def(pdef))
            return pdef.typed or TExpr("error", type=T.ERROR)
        if got is None:
            return self.error(span, f"predicate `{shown}` takes {want} argument(s): "
                              f"{shown}({', '.join(pdef.params)})")
        if got != want:
            return self.error(span, f"predicate `{shown}` takes {want} argument(s), got {got}",
                              hint)
        values = []
        for a in args:
            if a.name is not None or a.where is not None or a.within:
                return self.error(a.span, "predicate arguments are plain values")
            values.append((yield self._expr(a.value, ctx)))
        if any(v.type == T.ERROR for v in values):
            return TExpr("error", type=T.ERROR)
        node = (yield self._pred_ref(pdef, tuple(values), span))
        return node.replace(payload=shown + "(" + ", ".join(_show(v) for v in values) + ")") \
            if node.op == "pred" else node

    def _e_index(self, e: A.Index, ctx: Ctx, hint):
        if ctx.kind == "select":
            base = (yield self._expr(e.base, ctx))
            key = (yield self._expr(e.index, Ctx("const")))
            if base.op == "path" and key.op == "lit":
                kind = "index" if isinstance(key.payload, int) else "key"
                return TExpr("path", type=T.DYN, payload=base.payload + ((kind, key.payload),),
                             span=e.span)
            return self.error(e.span, "a `select` path takes `[0]` or `[\"key\"]`")
        target = _attr_target(e.base, ctx)
        if target is not None:
            hops, source = target
            if ctx.kind not in SPAN_CONTEXTS:
                return self.error(e.span, f"`{source}[...]` reads a span; it cannot be used in "
                                  f"{CTX_WORDS[ctx.kind]}")
            key = (yield self._expr_quoting(
                e.index, Ctx("const", ctx.locals),
                "attribute keys are strings: write `" + source + '["{}"]`'))
            if key.type == T.ERROR:
                return key
            if key.op == "var" and key.payload[0] == "param":
                key_value = None  # a parameterised predicate; the call supplies the key
            else:
                key_value = self.fold(key)
                if not isinstance(key_value, str):
                    return self.error(e.index.span, f"`{source}[...]` takes a string key",
                                      f'e.g. {source}["http.route"]')
            return TExpr("attr", type=T.DYN, payload=(hops, source, key_value), span=e.span)
        base = (yield self._expr(e.base, ctx))
        if base.type == T.ERROR:
            return base
        return self.error(e.span, f"{_a(base.type)} cannot be indexed",
                          'only `attr["k"]` and `resource["k"]` take an index')

    # -- operators
    def _e_unary(self, e: A.Unary, ctx: Ctx, hint):
        if e.op == "-":
            v = (yield self._expr(e.operand, ctx))
            if v.type != T.ERROR and not T.is_numeric(v.type):
                return self.error(e.span, f"cannot negate {_a(v.type)}")
            return TExpr("neg", (v,), T.base(v.type), span=e.span)
        if e.op == "!":
            v = (yield self._bool_expr(e.operand, ctx, f"the operand of `{e.spelling}`"))
            return TExpr("not", (v,), T.BOOL, span=e.span)
        return (yield self._temporal(e.op, e.spelling, e.interval, (e.operand,), e.span, ctx))

    def _temporal(self, op: str, spelling: str, interval: A.Interval | None, operands, span,
                  ctx: Ctx) -> TExpr:
        if ctx.kind not in ("property", "model_check"):
            where = CTX_WORDS.get(ctx.kind, ctx.kind)
            hint = "predicates describe one span; put temporal operators in a `property`" \
                if ctx.kind == "span" else None
            return self.error(span, f"temporal operator `{spelling}` cannot be used in {where}",
                              hint)
        if ctx.kind == "model_check":
            if op in PAST_OPS:
                return self.error(span, f"past operator `{spelling}` is not supported in model "
                                  "checks", "state the property with future operators")
            if interval is not None:
                return self.error(span, "metric bounds have no meaning over model runs",
                                  "model steps are untimed; drop the bound")
        bound = None
        if interval is not None:
            if op in UNTIMED_OPS:
                return self.error(span, f"`{spelling}` takes no time bound")
            lo = self.const_duration(interval.lo, "a time bound") if interval.lo else 0
            hi = self.const_duration(interval.hi, "a time bound") if interval.hi else None
            if lo is None or (interval.hi is not None and hi is None):
                return TExpr("error", type=T.ERROR)
            if lo < 0 or (hi is not None and hi < 0):
                return self.error(interval.span, "time bounds cannot be negative")
            if hi is not None and lo > hi:
                return self.error(interval.span, "empty time bound: the lower end is greater "
                                  "than the upper end")
            bound = (lo, hi)
        inner = replace(ctx, temporal_depth=ctx.temporal_depth + 1)
        typed = []
        for o in operands:
            typed.append((yield self._bool_expr(o, inner, f"the operand of `{spelling}`")))
        args = tuple(typed)
        return TExpr(op, args, T.BOOL, bound, span)

    def _e_binary(self, e: A.Binary, ctx: Ctx, hint):
        op = e.op
        if op in TEMPORAL_BINARY:
            return (yield self._temporal(op, e.spelling, e.interval, (e.left, e.right), e.span,
                                         ctx))
        if op in ("&", "|", "xor", "->", "<->"):
            left = (yield self._bool_expr(e.left, ctx, f"the left side of `{e.spelling}`"))
            right = (yield self._bool_expr(e.right, ctx, f"the right side of `{e.spelling}`"))
            name = {"&": "and", "|": "or", "xor": "xor", "->": "implies", "<->": "iff"}[op]
            return TExpr(name, (left, right), T.BOOL, span=e.span)
        left, right = (yield self._expr(e.left, ctx)), (yield self._expr(e.right, ctx))
        if T.ERROR in (left.type, right.type):
            return TExpr("error", type=T.ERROR, span=e.span)
        for side, v in (("left", left), ("right", right)):
            if not T.is_numeric(v.type):
                return self.error(e.span, f"`{op}` needs numbers, but the {side} side is a "
                                  f"{v.type}")
        lt, rt = T.base(left.type), T.base(right.type)
        units = T.UNIT_TYPES
        if op in ("+", "-"):
            typ = T.join_numeric(lt, rt)
            if typ is None:
                return self.error(e.span, f"cannot {'add' if op == '+' else 'subtract'} {_a(rt)} "
                                  f"{'to' if op == '+' else 'from'} {_a(lt)}",
                                  f"both sides must be {lt} values, e.g. "
                                  f"{T.unit_example(lt)}")
            self._dyn_meets_unit(left, right, "combined with", (e.left.span, e.right.span))
        elif op == "*":
            if lt in units and rt in units:
                return self.error(e.span, f"cannot multiply {_a(lt)} by {_a(rt)}",
                                  "multiply a unit by a plain number")
            typ = lt if lt in units else rt if rt in units else T.join_numeric(lt, rt)
        elif op == "/":
            if rt in units and lt != rt:
                return self.error(e.span, f"cannot divide {_a(lt)} by {_a(rt)}")
            typ = T.REAL if lt == rt and (lt in units or lt == T.CPU) else \
                lt if lt in units or lt == T.CPU else T.REAL
        else:  # // and %
            if lt in units or rt in units:
                if lt != rt:
                    return self.error(e.span, f"`{op}` needs two values of one unit, or two "
                                      "integers")
                typ = T.INT if op == "//" else lt
            elif T.REAL in (lt, rt) or T.CPU in (lt, rt):
                return self.error(e.span, f"`{op}` is integer floor {'division' if op == '//' else 'modulo'}"
                                  f"; these are not both integers", "use `/` for real division")
            else:
                typ = T.INT
        if typ == T.DYN:
            typ = T.REAL
        return TExpr(op, (left, right), typ, span=e.span)

    def _pair(self, a: A.Expr, b: A.Expr, ctx: Ctx) -> tuple[TExpr, TExpr]:
        """Type both sides of a comparison, letting an enum side resolve a bare member name."""
        left = (yield self._e_name(a, ctx, None, soft=True)) if isinstance(a, A.Name) else None
        if left is None and isinstance(a, A.Name):
            right = (yield self._expr(b, ctx))
            return (yield self._against_text(a, ctx, right.type)), right
        if left is None:
            left = (yield self._expr(a, ctx))
        return left, (yield self._against_text(b, ctx, left.type))

    def _against_text(self, e: A.Expr, ctx: Ctx, other: T.Type) -> TExpr:
        """One side of a comparison: compared with a string, an unknown bare name is most
        likely the string unquoted (`service == checkout`)."""
        if T.base(other) == T.STRING and ctx.kind in SPAN_CONTEXTS:
            return (yield self._expr_quoting(e, ctx, _QUOTE_IT, other))
        return (yield self._expr(e, ctx, other))

    def _expr_quoting(self, e: A.Expr, ctx: Ctx, how: str, hint: Any = None,
                      whole: A.Expr | None = None) -> TExpr:
        """Type ``e``. When ``whole`` (``e`` itself by default) is bare names, `a.b.c`, and
        the first is unknown, its error's hint is ``how`` with their text: most likely a
        string the user did not quote. The outermost caller's hint wins."""
        chain = _name_chain(whole or e)
        if chain is None or id(chain[0]) in self._quote_hints:
            return (yield self._expr(e, ctx, hint))
        self._quote_hints[id(chain[0])] = how.format(chain[1])
        try:
            return (yield self._expr(e, ctx, hint))
        finally:
            del self._quote_hints[id(chain[0])]

    def _e_compare(self, e: A.Compare, ctx: Ctx, hint):
        parts = []
        typed: list[TExpr | None] = [None] * len(e.operands)
        for i, op in enumerate(e.ops):
            a, b = e.operands[i], e.operands[i + 1]
            if typed[i] is None:
                typed[i], typed[i + 1] = (yield self._pair(a, b, ctx))
            else:
                typed[i + 1] = (yield self._expr(b, ctx, typed[i].type))
            left, right = typed[i], typed[i + 1]
            parts.append(self._cmp(op, left, right, e.span, (a.span, b.span)))
        if len(parts) == 1:
            return parts[0]
        out = parts[0]
        for p in parts[1:]:
            out = TExpr("and", (out, p), T.BOOL, span=e.span)
        return out

    def _cmp(self, op: str, left: TExpr, right: TExpr, span, spans=None) -> TExpr:
        if T.ERROR in (left.type, right.type):
            return TExpr("error", type=T.ERROR, span=span)
        lt, rt = T.base(left.type), T.base(right.type)
        if not T.comparable(lt, rt):
            if lt in T.UNIT_TYPES or rt in T.UNIT_TYPES:
                unit = lt if lt in T.UNIT_TYPES else rt
                return self.error(span, f"cannot compare {_a(lt)} with {_a(rt)}",
                                  _unquote_hint(left, right, unit) or
                                  f"compare {_a(unit)} with {_a(unit)}, e.g. {T.unit_example(unit)}")
            return self.error(span, f"cannot compare {_a(lt)} with {_a(rt)}")
        if op not in ("==", "!=") and (lt in (T.BOOL,) or isinstance(lt, T.EnumType)):
            return self.error(span, f"`{op}` does not order {lt} values; use `==` or `!=`")
        self._dyn_meets_unit(left, right, "compared with", spans)
        return TExpr("cmp", (left, right), T.BOOL, op, span)

    def _dyn_meets_unit(self, a: TExpr, b: TExpr, how: str, spans=None) -> None:
        """Warn, once per attribute and unit, when an attribute (untyped: `dyn`) takes a
        unit's type from the other side: a number is then read in the unit's base (1 means
        1ns, or 1 byte), which is rarely what `attr["payload.size"] > 10m` meant.
        Multiplying the attribute by a unit (`attr["ms"] * 1ms`) says how to read it, and
        does not warn. ``spans`` are where ``a`` and ``b`` are written (an interned node
        keeps the span of its first use only)."""
        a_span, b_span = spans or (a.span, b.span)
        for attr, other, attr_span, other_span in ((a, b, a_span, b_span), (b, a, b_span, a_span)):
            unit = T.base(other.type)
            if attr.op != "attr" or attr.payload[2] is None or \
                    unit not in (T.DURATION, T.BYTES, T.CPU):
                continue
            hops, source, key = attr.payload
            shown = "".join(f"{h}." for h in hops) + f'{source}["{key}"]'
            if (shown, unit) in self._unit_warned:
                continue
            self._unit_warned.add((shown, unit))
            reading = {T.DURATION: "a number counts nanoseconds",
                       T.BYTES: "a number counts bytes",
                       T.CPU: "a number counts cores"}[unit]
            example = {T.DURATION: '"20m"', T.BYTES: '"10Mi"', T.CPU: '"500m"'}[unit]
            written = self._written(other_span)
            if unit == T.DURATION and written is not None and \
                    re.fullmatch(r"\d[\d_]*(\.\d[\d_]*)?m", written):
                number = written[:-1]
                hint = (f"`{written}` is {number} minutes; for a size write `{number}M` "
                        f"(10^6 bytes) or `{number}Mi` (2^20 bytes)")
            else:
                per = {T.DURATION: "1ms", T.BYTES: "1Ki", T.CPU: None}[unit]
                hint = None if per is None else \
                    f"if it counts {'milliseconds' if per == '1ms' else 'kibibytes'}, say so: " \
                    f"`{shown} * {per}`"
            what = {T.DURATION: "a duration", T.BYTES: "a size in bytes",
                    T.CPU: "a cpu value"}[unit]
            self.warning(attr_span, f"`{shown}` has no declared type; {how} {what}, it is read "
                         f"as one: {reading}, and a string such as {example} never matches",
                         hint)

    def _written(self, span: SourceSpan) -> str | None:
        """The source text at ``span`` when it is one line of this file."""
        if span.file != self.file or span.line != span.end_line or span.line < 1:
            return None
        lines = self.source.split("\n")
        if span.line > len(lines):
            return None
        return lines[span.line - 1][span.column - 1:span.end_column - 1] or None

    def _e_in(self, e: A.In, ctx: Ctx, hint):
        value = (yield self._expr(e.value, ctx))
        target = (yield self._expr(e.target, ctx, value.type))
        if T.ERROR in (value.type, target.type):
            return TExpr("error", type=T.ERROR, span=e.span)
        if isinstance(target.type, T.ListType):
            if not T.comparable(value.type, target.type.elem):
                return self.error(e.span, f"cannot look for {_a(value.type)} in a list of "
                                  f"{target.type.elem}")
        elif isinstance(target.type, T.RangeType):
            if not T.comparable(value.type, target.type.base):
                return self.error(e.span, f"cannot look for {_a(value.type)} in a range of "
                                  f"{target.type.base}")
        else:
            return self.error(e.target.span, "`in` takes a list `[a, b]` or a range `lo..hi`")
        elem = target.type.elem if isinstance(target.type, T.ListType) else target.type.base
        self._dyn_meets_unit(value, TExpr("lit", type=elem), "compared with",
                             (e.value.span, e.target.span))
        return TExpr("in", (value, target), T.BOOL, span=e.span)

    def _e_match(self, e: A.Match, ctx: Ctx, hint):
        left, right = (yield self._expr(e.left, ctx)), (yield self._expr(e.right, ctx))
        if T.ERROR in (left.type, right.type):
            return TExpr("error", type=T.ERROR, span=e.span)
        for side, v in (("left", left), ("right", right)):
            if T.base(v.type) not in (T.STRING, T.DYN):
                return self.error(e.span, f"`{e.op}` works on strings, but the {side} side is a "
                                  f"{v.type}")
        if e.op == "matches":
            pattern = self.fold(right)
            if not isinstance(pattern, str):
                return self.error(e.right.span, "`matches` takes a constant pattern",
                                  'e.g. matches r"^GET /items/\\d+$"')
            problem = regex_problem(pattern)
            if problem:
                return self.error(e.right.span, f"invalid regular expression: {problem}",
                                  "patterns use RE2 syntax (no backreferences or lookaround)")
        return TExpr(e.op, (left, right), T.BOOL, span=e.span)

    def _e_exists(self, e: A.Exists, ctx: Ctx, hint):
        v = (yield self._expr(e.operand, ctx))
        if v.type != T.ERROR and v.op != "attr":
            return self.error(e.span, "`exists` tests an attribute",
                              'e.g. attr["db.system"] exists')
        return TExpr("exists", (v,), T.BOOL, span=e.span)

    # -- calls
    def _e_call(self, e: A.Call, ctx: Ctx, hint):
        if isinstance(e.func, A.Field) and isinstance(e.func.base, A.Name) \
                and e.func.base.id in self.imports:
            if e.scope is not None:
                return self.error(e.scope.span, "a scope such as `between(...)` follows only a "
                                  "specification pattern")
            return (yield self._imported(e.func.base.id, e.func.name, e.args, e.span, ctx))
        if not isinstance(e.func, A.Name):
            return self.error(e.span, "only predicates and built-in functions can be called")
        n = e.func.id
        if e.scope is not None and n not in PATTERNS:
            return self.error(e.scope.span, "a scope such as `between(...)` follows only a "
                              "specification pattern such as `existence(P)`")
        if n in self.preds and n not in ctx.locals:
            return (yield self._call_pred(self.preds[n], e.args, e.span, ctx, n))
        if n in PATTERNS:
            return (yield self._pattern(e, ctx))
        if n in ("has_ancestor", "has_child", "linked", "has_event"):
            return (yield self._structural(e, ctx))
        if n in ("prev", "last"):
            return (yield self._register(e, ctx))
        if n == "distinct" and ctx.kind == "message":
            return (yield self._aggregate(e, ctx, "distinct"))
        if ctx.kind in ("property", "message") and n in AGGREGATES:
            return (yield self._aggregate(e, ctx, n))
        if ctx.kind == "config" and n in CONFIG_AGGREGATES and len(e.args) == 1:
            return (yield self._config_aggregate(e, ctx, n))
        if n in THEOREM_BUILTINS:
            return (yield self._builtin(e, ctx, n))
        if ctx.kind == "controller":
            from tracelogic.spec.controller import CONTROLLER_BUILTINS, check_builtin

            if n in CONTROLLER_BUILTINS:
                return (yield check_builtin(self, e, ctx, n))
        known = set(self.preds) | set(PATTERNS) | THEOREM_BUILTINS | set(AGGREGATES) | {
            "has_ancestor", "has_child", "linked", "has_event", "prev", "last"}
        if n in known:
            return self.error(e.span, f"`{n}(...)` cannot be used in {CTX_WORDS[ctx.kind]}")
        if n in self.broken:
            return TExpr("error", type=T.ERROR, span=e.span)
        return self.error(e.func.span, f"unknown function or predicate `{n}`",
                          did_you_mean(n, known | FORMULA_WORDS))

    def _plain_args(self, e: A.Call, n: int | tuple[int, int], what: str) -> list[A.Expr] | None:
        lo, hi = (n, n) if isinstance(n, int) else n
        if not lo <= len(e.args) <= hi:
            count = str(lo) if lo == hi else f"{lo} to {hi}"
            self.error(e.span, f"`{what}` takes {count} argument(s), got {len(e.args)}")
            return None
        for a in e.args:
            if a.name is not None or a.where is not None or a.within:
                self.error(a.span, f"`{what}` takes plain arguments")
                return None
        return [a.value for a in e.args]

    def _structural(self, e: A.Call, ctx: Ctx) -> TExpr:
        n = e.func.id
        if ctx.kind not in SPAN_CONTEXTS:
            return self.error(e.span, f"`{n}` reads a span; it cannot be used in "
                              f"{CTX_WORDS[ctx.kind]}")
        args = self._plain_args(e, 1, n)
        if args is None:
            return TExpr("error", type=T.ERROR)
        if n == "has_event":
            v = self.fold((yield self._expr(args[0], Ctx("const"))))
            if not isinstance(v, str):
                return self.error(args[0].span, "`has_event` takes the event's name",
                                  'e.g. has_event("exception")')
            return TExpr("has_event", (), T.BOOL, v, e.span)
        p = (yield self._bool_expr(args[0], Ctx("span", ctx.locals), f"the argument of `{n}`"))
        return TExpr(n, (p,), T.BOOL, span=e.span)

    def _register(self, e: A.Call, ctx: Ctx) -> TExpr:
        n = e.func.id
        if ctx.kind != "property":
            return self.error(e.span, f"register `{n}(...)` can only be used in a property")
        if n == "prev":
            args = self._plain_args(e, 1, "prev")
            if args is None:
                return TExpr("error", type=T.ERROR)
            v = (yield self._expr(args[0], Ctx("span", ctx.locals)))
            return TExpr("prev", (v,), v.type, span=e.span)
        if len(e.args) != 2 or e.args[0].where is None or e.args[1].where is not None:
            return self.error(e.span, "`last` is written `last(VALUE where PREDICATE, DEFAULT)`")
        v = (yield self._expr(e.args[0].value, Ctx("span", ctx.locals)))
        where = (yield self._bool_expr(e.args[0].where, Ctx("span", ctx.locals), "`where`"))
        default = (yield self._expr(e.args[1].value, Ctx("const")))
        if not T.comparable(v.type, default.type):
            self.error(e.args[1].span, f"the default of `last` is {_a(default.type)}, but the "
                       f"value is {_a(v.type)}")
        return TExpr("last", (v, where, default), v.type if v.type != T.DYN else default.type,
                     span=e.span)

    def _aggregate(self, e: A.Call, ctx: Ctx, n: str) -> TExpr:
        if ctx.kind == "property" and ctx.temporal_depth:
            return self.error(e.span, "aggregates cannot be used under temporal operators",
                              "write the aggregate condition as its own property")
        span_ctx = Ctx("span", ctx.locals)
        predicate_only = n in ("count", "fraction", "per_second")
        if len(e.args) > 1 or (e.args and (e.args[0].name or e.args[0].within)):
            return self.error(e.span, f"`{n}` takes one argument, optionally with `where`")
        if not e.args:
            if not predicate_only:
                return self.error(e.span, f"`{n}` needs a value, e.g. `{n}(duration)`")
            return TExpr("agg", (TExpr("lit", type=T.BOOL, payload=True), TExpr(
                "lit", type=T.BOOL, payload=True)), T.INT if n == "count" else T.REAL, n, e.span)
        arg = e.args[0]
        where = (yield self._bool_expr(arg.where, span_ctx, "`where`")) \
            if arg.where is not None else \
            TExpr("lit", type=T.BOOL, payload=True)
        if predicate_only:
            value = (yield self._bool_expr(arg.value, span_ctx, f"the argument of `{n}`"))
            typ = T.INT if n == "count" else T.REAL
        else:
            value = (yield self._expr(arg.value, span_ctx))
            if n == "count_distinct":
                typ = T.INT
            elif n == "distinct":
                typ = T.STRING
            else:
                if value.type != T.ERROR and not T.is_numeric(value.type):
                    return self.error(arg.value.span, f"`{n}` needs numbers, but this is a "
                                      f"{value.type}")
                typ = T.base(value.type) if value.type != T.DYN else T.REAL
                if n == "avg" and typ == T.INT:
                    typ = T.REAL
        return TExpr("agg", (value, where), typ, n, e.span)

    def _config_aggregate(self, e: A.Call, ctx: Ctx, n: str) -> TExpr:
        if ctx.config is not None:
            return self.error(e.span, f"`{n}(...)` ranges over every document; an invariant "
                              f"`on {ctx.config}` sees one document at a time",
                              "drop `on …` to state a cross-document invariant")
        arg = e.args[0]
        if arg.name or arg.within:
            return self.error(arg.span, f"`{n}` takes one value, optionally with `where`")
        used = {x.base.id for x in _walk_ast(arg.value) if isinstance(x, A.Field)
                and isinstance(x.base, A.Name) and x.base.id in self.configs}
        if arg.where is not None:
            used |= {x.base.id for x in _walk_ast(arg.where) if isinstance(x, A.Field)
                     and isinstance(x.base, A.Name) and x.base.id in self.configs}
        if len(used) != 1:
            return self.error(e.span, f"`{n}(...)` must range over exactly one config block",
                              "qualify bindings with the config's name, e.g. "
                              "`sum(deployment.replicas)`")
        config = used.pop()
        inner = replace(ctx, in_aggregate=config)
        value = (yield self._expr(arg.value, inner))
        where = (yield self._bool_expr(arg.where, inner, "`where`")) if arg.where is not None else \
            TExpr("lit", type=T.BOOL, payload=True)
        if n in ("all", "any"):
            if value.type not in (T.BOOL, T.DYN, T.ERROR):
                return self.error(arg.value.span, f"`{n}` needs a condition")
            typ = T.BOOL
        elif n == "count":
            typ = T.INT
        else:
            if value.type != T.ERROR and not T.is_numeric(value.type):
                return self.error(arg.value.span, f"`{n}` needs numbers")
            typ = T.base(value.type)
            if n == "avg" and typ == T.INT:
                typ = T.REAL
        return TExpr("agg", (value, where), typ, (n, config), e.span)

    def _builtin(self, e: A.Call, ctx: Ctx, n: str) -> TExpr:
        arity = {"abs": 1, "ceil": 1, "floor": 1, "clamp": 3, "min": (2, 99), "max": (2, 99)}[n]
        args = self._plain_args(e, arity, n)
        if args is None:
            return TExpr("error", type=T.ERROR)
        typed = []
        for a in args:
            typed.append((yield self._expr(a, ctx)))
        if any(t.type == T.ERROR for t in typed):
            return TExpr("error", type=T.ERROR)
        for a, t in zip(args, typed):
            if not T.is_numeric(t.type):
                return self.error(a.span, f"`{n}` needs numbers, but this is {_a(t.type)}")
        if n in ("ceil", "floor"):
            if T.base(typed[0].type) in T.UNIT_TYPES:
                return self.error(e.span, f"`{n}` rounds plain numbers")
            typ = T.INT
        else:
            typ = typed[0].type
            for a, t in zip(args[1:], typed[1:]):
                j = T.join_numeric(typ, t.type)
                if j is None:
                    return self.error(a.span, f"`{n}` cannot mix {_a(typ)} and {_a(t.type)}")
                typ = j
            typ = T.base(typ)
        return TExpr("call", tuple(typed), typ, n, e.span)

    def _pattern(self, e: A.Call, ctx: Ctx) -> TExpr:
        n = e.func.id
        if ctx.kind != "property":
            return self.error(e.span, f"pattern `{n}(...)` can only be used in a property")
        within = None
        args = list(e.args)
        if args and args[-1].within:
            if n != "response":
                return self.error(args[-1].span, "only `response` takes `within`")
            within = self.const_duration(args[-1].value, "`within`")
            args = args[:-1]
        if len(args) != PATTERNS[n]:
            return self.error(e.span, f"`{n}` takes {PATTERNS[n]} predicate(s), got {len(args)}")
        inner = replace(ctx, temporal_depth=ctx.temporal_depth + 1)
        typed = []
        for a in args:
            typed.append((yield self._bool_expr(a.value, inner, f"an argument of `{n}`")))
        scope = "globally"
        if e.scope is not None:
            scope = e.scope.kind
            if len(e.scope.args) != SCOPES[scope]:
                return self.error(e.scope.span, f"scope `{scope}` takes {SCOPES[scope]} "
                                  f"predicate(s), got {len(e.scope.args)}")
            for a in e.scope.args:
                typed.append((yield self._bool_expr(a.value, inner, f"an argument of `{scope}`")))
        return TExpr("pattern", tuple(typed), T.BOOL, (n, scope, within), e.span)


def _outside_aggregates(e: TExpr) -> TExpr | None:
    """A node reading span data that is not inside an aggregate, if any."""
    stack = [e]
    while stack:
        node = stack.pop()
        if node.op == "agg":
            continue
        if node.op in ("field", "attr", "pred", "has_event", "has_ancestor", "has_child",
                       "linked", "prev", "last", "exists"):
            return node
        stack.extend(node.args)
    return None


def _attr_target(base: A.Expr, ctx: Ctx) -> tuple[tuple[str, ...], str] | None:
    """(parent hops, "attr"|"resource") for `attr`, `parent.attr`, `parent.parent.resource`…"""
    if isinstance(base, A.Name) and base.id in ("attr", "resource") and base.id not in ctx.locals:
        return (), base.id
    if isinstance(base, A.Field) and base.name in ("attr", "resource"):
        hops, node = _parent_hops(base.base)
        if isinstance(node, A.Name) and node.id == "parent" and "parent" not in ctx.locals:
            return hops + ("parent",), base.name
    return None


_QUOTE_IT = 'to compare with the text, quote it: `"{}"`'


def _unquote_hint(left: TExpr, right: TExpr, unit: T.Type) -> str | None:
    """`duration > "20m"`: the string is a literal of the unit, quoted by mistake."""
    for e in (left, right):
        if e.op == "lit" and isinstance(e.payload, str):
            text = e.payload.strip()
            try:
                (parse_duration if unit == T.DURATION else parse_bytes)(text)
            except ValueError:
                return None
            return f"write the {'duration' if unit == T.DURATION else 'size'} without quotes: " \
                f"`{text}`"
    return None


def _pattern_form(name: str) -> str:
    """`response(P, Q)`: a pattern as it is called."""
    return f"`{name}({', '.join('PQ'[:PATTERNS[name]])})`"


def _name_chain(e: A.Expr) -> tuple[A.Name, str] | None:
    """`a.b.c` written with bare names: its first Name and the whole text; else None."""
    parts = []
    while isinstance(e, A.Field):
        parts.append(e.name)
        e = e.base
    if not isinstance(e, A.Name):
        return None
    return e, ".".join([e.id] + parts[::-1])


def _parent_hops(e: A.Expr):
    """Strip `parent.` prefixes: `parent.parent` -> (("parent",), Name(parent))."""
    hops: tuple[str, ...] = ()
    while isinstance(e, A.Field) and e.name == "parent" and isinstance(e.base, (A.Name, A.Field)):
        hops += ("parent",)
        e = e.base
    return hops, e


def _walk_ast(e):
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        for name in getattr(node, "__dataclass_fields__", {}):
            if name == "span":
                continue
            v = getattr(node, name)
            if isinstance(v, tuple):
                stack.extend(x for x in v if hasattr(x, "__dataclass_fields__"))
            elif hasattr(v, "__dataclass_fields__"):
                stack.append(v)


def regex_problem(pattern: str) -> str | None:
    """Why RE2 rejects a pattern, or None when it compiles."""
    try:
        import re2
    except ImportError:  # pragma: no cover - google-re2 is a dependency
        return None
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own copy of the error on stderr
    try:
        re2.compile(pattern, options)
    except Exception as e:  # re2.error
        text = e.args[0] if e.args else str(e)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return str(text) or "RE2 cannot compile it"
    return None


def _show(e: TExpr) -> str:
    if e.op == "lit":
        v = e.payload
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if e.type == T.DURATION:
            from tracelogic.spec.lexicon import format_duration

            return format_duration(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, Fraction):
            return str(float(v)) if v.denominator != 1 else str(v.numerator)
        return str(v)
    if e.op == "enum":
        return e.payload[1]
    if e.op == "pred":
        return e.payload
    return "…"
