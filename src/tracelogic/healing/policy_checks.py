"""Healing policies (SPEC-LANGUAGE.md §8), checked before anything runs.

A static checker (it registers with :func:`tracelogic.checkers.report.checker`) that lives
in ``healing`` because it reads the action registry, the argument compiler and the audit
trail: the checkers never import the healing package (tests/test_layers.py), and
:data:`tracelogic.api.CHECK_MODULES` lists this module after theirs.

For each ``heal`` policy:

- **the action and its arguments**: the action is in the plugin registry (a
  warning otherwise: it may be installed where the controller runs); named
  arguments exist, required ones are given, constants have the parameter's
  type; ``command``'s program is a constant, span values come after ``--``,
  and ``validate`` patterns are valid RE2; a webhook endpoint is a constant.
- **limits are satisfiable and consistent** (Z3): ``limit N per D`` can be
  reached under ``cooldown C``. On one target, N actions need
  ``(N-1)·C < D``; Z3 decides whether the policy's target can differ between
  two witnesses at all, and when it cannot, an unreachable limit is reported
  as ``inconsistent`` with the ``cooldown`` and ``limit`` lines.
- ``approve when`` can hold for some risk, and for the policy's own risk
  (``risk R``, else the action's default): else a warning, since the action
  then always runs without approval.
- no cooldown and no limit: a violation storm runs the action on every
  violation (a warning).
- **the action can be computed** (Z3): an argument that reads an attribute
  the triggering property's witness cannot have (its shape says what the
  witness satisfies: ``P`` for ``G !P``, ``A`` for ``G (A -> …)``, ``W`` for
  ``agg(x where W)``), or any span value when the property is a metric
  invariant (no witness span), is a warning: the action would always be
  skipped.

For each pair of policies whose actions change the same kind of resource
(replicas, breakers): Z3 searches two witness spans (one per policy; both
policies may fire in one tick) on which the targets are equal and the
directions opposite — for ``delta`` by its sign, for an absolute ``replicas``
relative to an unknown current count, for breaker states open vs closed. A
model is a conflict, reported with both policies' lines.

Span attributes are unconstrained strings or numbers; constructs Z3 cannot
see (``matches``, ``has_ancestor``, …) become free values. So a reported
conflict may need attribute values that never occur together, but a "holds"
is a proof.
"""
from __future__ import annotations

from typing import Any

import z3

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.semantics.z3enc import Encoder, sort_of, type_constraints
from tracelogic.errors import SourceSpan, TracelogicError, UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.lexicon import format_duration
from tracelogic.spec.typed import HealT, Spec, TExpr

# A policy whose action cannot take its arguments is a wrong spec, not a failed check: exit 2
# (DESIGN.md), like every other input error.
SPEC_ERROR = "input-error"

_STRING_FIELDS = {"name", "service", "status_message", "trace_id", "span_id", "parent_id",
                  "scope.name"}
_SORT_OF_PARAM = {"string": "string", "int": "int", "number": "real", "bool": "bool"}


class _Dyn:
    """A dynamic attribute whose sort is decided by what it is compared or combined with."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class WitnessEncoder(Encoder):
    """Encodes policy expressions over one witness span (variables suffixed with ``copy``).

    Variables are shared through ``pool`` so that one witness's fields are one constant.
    """

    def __init__(self, copy: str, pool: dict, constraints: list):
        super().__init__({})
        self.copy = copy
        self.pool = pool
        self.constraints = constraints
        self.approximate = False

    def var(self, name: str, typ: T.Type | str):
        key = (self.copy, name, str(typ))
        if key not in self.pool:
            if isinstance(typ, str):
                sort = {"string": z3.StringSort(), "int": z3.IntSort(), "real": z3.RealSort(),
                        "bool": z3.BoolSort()}[typ]
                v = z3.Const(f"{name}@{self.copy}:{typ}", sort)
            else:
                v = z3.Const(f"{name}@{self.copy}", sort_of(typ))
                self.constraints.extend(type_constraints(v, typ))
            self.pool[key] = v
        return self.pool[key]

    def resolve(self, t: Any, sort_name: str = "string"):
        if isinstance(t, _Dyn):
            return self.var(t.name, sort_name)
        return t

    def encode_as(self, e: TExpr, sort_name: str):
        t = self.encode(e).term
        return self.resolve(t, sort_name)

    def _apply(self, e: TExpr, a: list) -> Any:
        op = e.op
        if op == "field":
            hops, name = e.payload
            prefix = ".".join(["parent"] * len(hops) + [name])
            if name in _STRING_FIELDS:
                return self.var(prefix, T.STRING)
            return self.var(prefix, e.type)
        if op == "attr":
            hops, source, key = e.payload
            return _Dyn(".".join(["parent"] * len(hops) + [f'{source}["{key}"]']))
        if op == "var" and e.payload[0] == "violation":
            return self.var(f"violation.{e.payload[1]}", T.STRING)
        if op == "var" and e.payload == ("heal", "risk"):
            return self.var("risk", T.RATIO)
        dyns = [x for x in a if isinstance(x, _Dyn)]
        if op == "exists" and dyns:
            return self.present(dyns[0])
        if dyns:
            other = next((x for x in a if not isinstance(x, _Dyn) and z3.is_expr(x)), None)
            sort = "string"
            if other is not None:
                sort = "int" if z3.is_int(other) else "real" if z3.is_real(other) else \
                    "bool" if z3.is_bool(other) else "string"
            elif op in ("+", "-", "*", "/", "//", "%", "neg") or (
                    op == "cmp" and e.payload not in ("==", "!=")):
                sort = "int"
            a = [self.resolve(x, sort) for x in a]
        if op == "in" and isinstance(a[0], _Dyn):
            a[0] = self.resolve(a[0])
        try:
            out = super()._apply(e, a)
            if op in ("cmp", "in") and dyns and z3.is_bool(out):
                # a comparison on a missing attribute is false (`!=` too): true ones imply it exists
                self.constraints.extend(z3.Implies(out, self.present(d)) for d in dyns)
            return out
        except (UnhandledNode, z3.Z3Exception, TypeError, AttributeError):
            self.approximate = True
            try:
                return self.fresh(sort_of(e.type))
            except UnhandledNode:
                return self.fresh(z3.StringSort())

    def present(self, d: _Dyn):
        """The attribute is present on this witness (`exists`)."""
        return self.var(f"{d.name} exists", "bool")

    def fresh(self, sort):
        self.approximate = True
        return z3.FreshConst(sort)


# ------------------------------------------------------------------ the checker

@checker
def check_policies(spec: Spec, report: CheckReport, options: dict) -> None:
    if not spec.heals:
        return
    spans = _clause_spans(spec)
    timeout_ms = int(float(options.get("timeout", 10.0)) * 1000)
    for h in spec.heals:
        try:
            _check_policy(h, spans.get(h.name, {}), report, timeout_ms, _property(spec, h.on))
        except Exception as e:  # never let one policy take the whole check down
            report.add(CheckResult("policy", h.name, "unknown",
                                   f"could not check this policy: {type(e).__name__}: {e}",
                                   location=Location.of(h.span)))
    try:
        _check_conflicts(spec.heals, spans, report, timeout_ms)
    except Exception as e:
        report.add(CheckResult("policy", "conflicts", "unknown",
                               f"could not check policy conflicts: {type(e).__name__}: {e}"))


def _clause_spans(spec: Spec) -> dict[str, dict[str, SourceSpan]]:
    """Clause positions (`do`, `cooldown`, `limit`, …) of each policy, from the syntax tree."""
    from tracelogic.spec import ast as A
    from tracelogic.spec.parser import parse_module_partial

    try:
        module, _, _ = parse_module_partial(spec.source, spec.file)
    except Exception:
        return {}
    return {d.name: dict(d.clause_spans) for d in module.decls if isinstance(d, A.Heal)}


def _loc(h: HealT, spans: dict, clause: str) -> Location:
    return Location.of(spans.get(clause, h.span))


def _action_class(name: str):
    from tracelogic.healing.actions import get_action

    try:
        return get_action(name), None
    except TracelogicError as e:
        return None, e


def _arg_location(h: HealT, e: TExpr, spans: dict) -> Location:
    """Where the argument ``e`` of ``h`` is written, else the policy's `do` clause."""
    for (_, arg), span in zip(h.args, h.arg_spans):
        if arg is e and span.line:
            return Location.of(span)
    return _loc(h, spans, "do")


def _check_policy(h: HealT, spans: dict, report: CheckReport, timeout_ms: int,
                  prop=None) -> None:
    from tracelogic.healing.actions import ActionRefused, ConfigDefault

    ok = True
    cls, error = _action_class(h.action)
    if cls is None:
        report.add(CheckResult("policy", h.name, "warning", f"{error}", severity="warning",
                               location=_loc(h, spans, "do"),
                               details={"check": "action"}))
        ok = False
    else:
        try:
            named = cls.bind_names(list(h.args))
        except ActionRefused as e:
            named = None
            report.add(CheckResult("policy", h.name, SPEC_ERROR, str(e),
                                   location=_loc(h, spans, "do"), details={"check": "arguments"}))
            ok = False
        if named is not None:
            given = dict(named)
            for p in cls.params:
                if p.name not in given and p.required and p.default is None:
                    report.add(CheckResult("policy", h.name, SPEC_ERROR,
                                           f"`{h.action}` needs argument `{p.name}`",
                                           location=_loc(h, spans, "do"),
                                           details={"check": "arguments"}))
                    ok = False
            for name, e in named:
                p = cls.param(name)
                if p is None or e.op != "lit":
                    continue
                if not _literal_fits(p.type, e):
                    report.add(CheckResult(
                        "policy", h.name, SPEC_ERROR,
                        f"argument `{name}` of `{h.action}` must be {p.type}, got {e.type}",
                        location=_arg_location(h, e, spans),
                        details={"check": "arguments"}))
                    ok = False
            ok &= _check_specific(h, cls, given, spans, report)
            _ = ConfigDefault
    ok &= _check_limits(h, cls, spans, report, timeout_ms)
    ok &= _check_approval(h, cls, spans, report, timeout_ms)
    ok &= _check_witness(h, prop, spans, report, timeout_ms)
    if ok:
        report.add(CheckResult("policy", h.name, "holds",
                               "action, arguments and limits are consistent",
                               location=Location.of(h.span), details={"check": "policy"}))


def _literal_fits(ptype: str, e: TExpr) -> bool:
    b = T.base(e.type)
    return {"string": b == T.STRING,
            "int": b == T.INT,
            "number": b in (T.INT, T.REAL),
            "bool": b == T.BOOL,
            "list": False}.get(ptype, True)


def _check_specific(h: HealT, cls, given: dict, spans: dict, report: CheckReport) -> bool:
    """What only `command` and `webhook` need: span values kept out of dangerous places."""
    from tracelogic.healing.evaluate import tainted

    ok = True

    def bad(msg: str, e: TExpr | None, status: str = SPEC_ERROR, hint: str = "") -> None:
        nonlocal ok
        loc = Location.of(e.span) if e is not None and e.span.line else _loc(h, spans, "do")
        report.add(CheckResult("policy", h.name, status, msg + (f" ({hint})" if hint else ""),
                               severity="warning" if status == "warning" else "error",
                               location=loc, details={"check": "arguments"}))
        if status != "warning":
            ok = False

    if cls.name == "command":
        argv = given.get("argv")
        if argv is not None and argv.op != "list":
            bad("`argv` must be a list such as [\"/usr/bin/prog\", \"--\", attr[\"k\"]]", argv)
        elif argv is not None:
            items = argv.args
            if not items:
                bad("`argv` is empty", argv)
            elif tainted(items[0]):
                bad("argv[0], the program, must be a constant, not a value from the span",
                    items[0])
            dashdash = False
            for i, item in enumerate(items):
                if item.op == "lit" and item.payload == "--":
                    dashdash = True
                elif i > 0 and tainted(item) and not dashdash:
                    bad(f"argv[{i}] is a value from the span before any \"--\"; a value starting "
                        "with `-` would be an option, so the controller will refuse it", item,
                        status="warning", hint='put "--" before span values')
        v = given.get("validate")
        if v is not None:
            patterns = [v] if v.op == "lit" else list(v.args) if v.op == "list" else None
            if patterns is None or any(p.op != "lit" or not isinstance(p.payload, str)
                                       for p in patterns):
                bad("`validate` must be a constant regex string, or a list of them", v)
            else:
                import re2

                opts = re2.Options()
                opts.log_errors = False
                for p in patterns:
                    try:
                        re2.compile(p.payload, opts)
                    except re2.error as e:
                        bad(f"`validate` pattern {p.payload!r} is not valid RE2: {_re2_message(e)}", p)
                if v.op == "list" and argv is not None and argv.op == "list" and \
                        len(v.args) != len(argv.args):
                    bad(f"`validate` has {len(v.args)} pattern(s) for {len(argv.args)} argv "
                        'element(s); give one per element ("" for none)', v)
    if cls.name == "webhook":
        e = given.get("endpoint")
        if e is not None and tainted(e):
            bad("the webhook `endpoint` must be a constant naming a [webhooks.NAME] table of "
                "the controller configuration", e)
    return ok


def _solver(timeout_ms: int) -> z3.Solver:
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    return s


def _target_terms(h: HealT, cls, enc: WitnessEncoder) -> list | None:
    """The Z3 terms of the action's target parameters, or None (the violation's key)."""
    from tracelogic.healing.actions import ConfigDefault

    if cls is None or not cls.target:
        return None
    try:
        named = dict(cls.bind_names(list(h.args)))
    except TracelogicError:
        return None
    out = []
    for name in cls.target:
        e = named.get(name)
        p = cls.param(name)
        if e is not None:
            out.append(enc.encode_as(e, _SORT_OF_PARAM.get(p.type if p else "string",
                                                          "string")))
        elif p is not None and isinstance(p.default, ConfigDefault):
            out.append(z3.String(f"config.{p.default.attr}"))  # one value for every policy
        elif p is not None and p.default is not None:
            out.append(z3.StringVal(str(p.default)))
        else:
            return None  # unset target parameter: the violation's key
    return out


def _check_limits(h: HealT, cls, spans: dict, report: CheckReport, timeout_ms: int) -> bool:
    if h.limit is None and not h.cooldown_ns:
        report.add(CheckResult(
            "policy", h.name, "warning",
            "no `cooldown` and no `limit`: a storm of violations runs the action on every one",
            severity="warning", location=Location.of(h.span),
            details={"check": "limits", "hint": "add e.g. `cooldown 5m` and `limit 3 per 1h`"}))
        return True
    if h.limit is None or not h.cooldown_ns:
        return True
    n, per = h.limit
    c = h.cooldown_ns
    # Does the policy always act on one and the same target?
    pool: dict = {}
    cons: list = []
    single = False
    t1 = _target_terms(h, cls, WitnessEncoder("1", pool, cons))
    t2 = _target_terms(h, cls, WitnessEncoder("2", pool, cons))
    if t1 is not None and t2 is not None:
        s = _solver(timeout_ms)
        s.add(*cons)
        s.add(z3.Or(*[a != b for a, b in zip(t1, t2)]))
        r = s.check()
        single = r == z3.unsat
    elif cls is not None and not cls.target:
        single = False  # the target is the violation's key, which varies
    # N actions on one target, in one window, each a cooldown after the last: is there a gap?
    gap = z3.Int("gap")
    s = _solver(timeout_ms)
    s.add(gap >= c, (n - 1) * gap < per)
    fits = s.check() == z3.sat
    most = -(-per // c)  # ceil(per / c): actions that fit in one window on one target
    if single and not fits:
        report.add(CheckResult(
            "policy", h.name, "inconsistent",
            f"`limit {n} per {format_duration(per)}` can never be reached: the policy always acts "
            f"on one target, and with `cooldown {format_duration(c)}` at most {most} action(s) "
            f"fit in {format_duration(per)}; lower the limit to {most} or shorten the cooldown "
            f"below {format_duration(-(-per // max(n - 1, 1)))} (`cooldown` on line "
            f"{_loc(h, spans, 'cooldown').line}, `limit` on line {_loc(h, spans, 'limit').line})",
            location=_loc(h, spans, "limit"), related=[_loc(h, spans, "cooldown")],
            details={"check": "limits", "core": ["cooldown", "limit"], "max_per_window": most}))
        return False
    return True


def _check_approval(h: HealT, cls, spans: dict, report: CheckReport, timeout_ms: int) -> bool:
    """`approve when` must be able to hold, and for the risk this policy actually runs with.

    The risk is fixed per policy (`risk R`, else the action's default), so a condition
    that only some other risk satisfies never asks anyone: the action always runs
    without approval. Z3 decides both with the witness span's values left free.
    """
    if h.approve is None:
        return True
    pool: dict = {}
    cons: list = []
    enc = WitnessEncoder("1", pool, cons)
    cond = enc.encode_as(h.approve, "bool")
    s = _solver(timeout_ms)
    s.add(*cons, cond)
    if s.check() == z3.unsat:
        report.add(CheckResult(
            "policy", h.name, "warning",
            "`approve when` can never hold for any risk in 0.0..1.0, so no execution will ever "
            "wait for approval; fix the condition or remove it", severity="warning",
            location=_loc(h, spans, "approve"), details={"check": "approval"}))
        return False
    risk = h.risk if h.risk is not None else getattr(cls, "risk", None)
    if risk is None:
        return True
    s.add(enc.var("risk", T.RATIO) == z3.RealVal(str(risk)))
    if s.check() == z3.unsat:
        source = f"`risk {risk}` on line {_loc(h, spans, 'risk').line}" if h.risk is not None \
            else f"the default risk of `{h.action}`"
        report.add(CheckResult(
            "policy", h.name, "warning",
            f"`approve when` never holds for this policy's risk {risk} ({source}), so "
            f"`{h.action}` always runs without approval; lower the threshold (e.g. "
            f"`approve when risk >= {risk}`) or remove the condition",
            severity="warning", location=_loc(h, spans, "approve"),
            related=[_loc(h, spans, "risk")] if h.risk is not None else [],
            details={"check": "approval", "risk": risk}))
        return False
    return True


# ------------------------------------------------------------------ what the witness can have

_SPAN_OPS = frozenset({"field", "attr", "has_event", "has_ancestor", "has_child", "linked"})


def _property(spec: Spec, name: str):
    """The property a policy reacts to (`alias.name` for an imported one), or None."""
    owner, _, local = name.rpartition(".")
    where = spec.imports.get(owner) if owner else spec
    if where is None:
        return None
    try:
        return where.property(local)
    except KeyError:
        return None


def witness_condition(prop) -> TExpr | None:
    """What the witness span of a violation of ``prop`` satisfies, when its shape says so.

    The witness is the event that raised the obligation the violation settled, else the
    deciding event; for an aggregate, a span of the window (docs/monitor.md). So for
    `G !P` it satisfies P, for `G (A -> …)` it satisfies A, and for an aggregate
    `agg(x where W)` it satisfies W. Other shapes: None (nothing is known).
    """
    body = prop.body
    if body is None:
        return None
    if prop.kind == "formula" and body.op == "G" and body.args:
        inner = body.args[0]
        if inner.op == "not":
            return inner.args[0]
        if inner.op == "implies":
            return inner.args[0]
        return None
    if prop.kind == "aggregate":
        wheres = [n.args[1] for n in body.walk() if n.op == "agg" and len(n.args) > 1]
        return wheres[0] if len(wheres) == 1 else None
    return None


def _reads_span(e: TExpr) -> list[TExpr]:
    return [n for n in e.walk() if n.op in _SPAN_OPS]


def _show_read(n: TExpr) -> str:
    if n.op == "attr":
        hops, source, key = n.payload
        return ".".join(["parent"] * len(hops) + [f'{source}["{key}"]'])
    if n.op == "field":
        hops, name = n.payload
        return ".".join(["parent"] * len(hops) + [name])
    return n.op


def _check_witness(h: HealT, prop, spans: dict, report: CheckReport, timeout_ms: int) -> bool:
    """Can the action be computed? Its arguments are evaluated on the witness span.

    False (after a warning) when an argument can never have a value.
    """
    if prop is None:
        return True
    ok = True
    args = [(name or f"#{i + 1}", e) for i, (name, e) in enumerate(h.args)]

    def warn(msg: str, e: TExpr, extra: dict) -> None:
        nonlocal ok
        ok = False
        report.add(CheckResult("policy", h.name, "warning", msg, severity="warning",
                               location=_arg_location(h, e, spans),
                               details={"check": "witness", **extra}))

    if prop.kind == "metric":
        for name, e in args:
            reads = _reads_span(e)
            if reads:
                warn(f"argument `{name}` reads `{_show_read(reads[0])}`, but `{prop.name}` is a "
                     "metric invariant: its violations have no witness span, so the argument "
                     "never has a value and the action is always skipped; use `key` (the "
                     "scope's value, e.g. the service), `property` or constants", e,
                     {"argument": name, "reads": _show_read(reads[0])})
        return ok
    cond = witness_condition(prop)
    if cond is None:
        return ok
    for name, e in args:
        for n in e.walk():
            if n.op != "attr" or n.payload[0]:
                continue  # only the witness's own attributes; a parent's are another span
            pool: dict = {}
            cons: list = []
            enc = WitnessEncoder("w", pool, cons)
            try:
                c = enc.encode_as(cond, "bool")
            except Exception:  # a condition Z3 cannot see: nothing to conclude
                return ok
            present = enc.present(enc.encode(n).term)
            s = _solver(timeout_ms)
            s.add(*cons, c, present)
            if s.check() == z3.unsat:
                what = _show_read(n)
                warn(f"argument `{name}` reads `{what}`, which the witness of `{prop.name}` "
                     f"cannot have (its witness satisfies the property's condition on line "
                     f"{cond.span.line or prop.span.line}, which rules `{what}` out), so the "
                     "action is always skipped; read an attribute the witness has, or `key`",
                     e, {"argument": name, "reads": what, "property": prop.name})
    return ok


# ------------------------------------------------------------------ conflicts

def _direction(h: HealT, cls, enc: WitnessEncoder, current) -> Any | None:
    """The direction (-1, 0, +1) of a policy's effect as a Z3 term, or None."""
    eff = cls.effect if cls is not None else None
    if eff is None:
        return None
    try:
        named = dict(cls.bind_names(list(h.args)))
    except TracelogicError:
        return None

    def sign(x):
        return z3.If(x > 0, 1, z3.If(x < 0, -1, 0))

    if eff.delta is not None and eff.delta in named:
        return sign(enc.encode_as(named[eff.delta], "int"))
    if eff.absolute is not None and eff.absolute in named:
        return sign(enc.encode_as(named[eff.absolute], "int") - current)
    if eff.state is not None:
        e = named.get(eff.state)
        p = cls.param(eff.state)
        if e is None and p is not None and p.default is not None:
            term = z3.StringVal(str(p.default))
        elif e is not None:
            term = enc.encode_as(e, "string")
        else:
            return None
        out = z3.IntVal(0)
        for value, d in eff.directions:
            out = z3.If(term == z3.StringVal(value), d, out)
        return out
    return None


def _check_conflicts(heals: tuple[HealT, ...], spans: dict, report: CheckReport,
                     timeout_ms: int) -> None:
    classes = {h.name: _action_class(h.action)[0] for h in heals}
    checked = 0
    for i, p in enumerate(heals):
        for q in heals[i + 1:]:
            cp, cq = classes[p.name], classes[q.name]
            if cp is None or cq is None or cp.effect is None or cq.effect is None or \
                    cp.effect.resource != cq.effect.resource:
                continue
            checked += 1
            pool: dict = {}
            cons: list = []
            ep, eq = WitnessEncoder("1", pool, cons), WitnessEncoder("2", pool, cons)
            tp, tq = _target_terms(p, cp, ep), _target_terms(q, cq, eq)
            if tp is None or tq is None or len(tp) != len(tq):
                continue
            current = z3.Int("current_level")
            dp, dq = _direction(p, cp, ep, current), _direction(q, cq, eq, current)
            if dp is None or dq is None:
                continue
            s = _solver(timeout_ms)
            s.add(*cons, current >= 0)
            s.add(*[a == b for a, b in zip(tp, tq)])
            s.add(*[z3.Length(a) > 0 for a in tp if z3.is_string(a)])
            s.add(dp * dq < 0)
            r = s.check()
            if r == z3.sat:
                m = s.model()
                target = "/".join(_show(m.eval(t, model_completion=True)) for t in tp)
                wp = _effect_words(p, cp, ep, m, current)
                wq = _effect_words(q, cq, eq, m, current)
                lp, lq = _loc(p, spans.get(p.name, {}), "do"), _loc(q, spans.get(q.name, {}), "do")
                together = f"both react to `{p.on}`" if p.on == q.on else \
                    f"`{p.on}` and `{q.on}` can be violated in the same tick"
                report.add(CheckResult(
                    "policy", f"{p.name}~{q.name}", "fails",
                    f"policies `{p.name}` (line {lp.line}) and `{q.name}` (line {lq.line}) can act "
                    f"on the same target in opposite directions in one tick: on {target!r}, "
                    f"{wp} vs {wq} ({together})"
                    + ("; attribute values are unconstrained, so check they can co-occur"
                       if ep.approximate or eq.approximate else ""),
                    location=lp, related=[lq],
                    details={"check": "conflict", "policies": [p.name, q.name],
                             "target": target, "values": _model_values(m, pool)}))
            elif r == z3.unknown:
                report.add(CheckResult(
                    "policy", f"{p.name}~{q.name}", "unknown",
                    f"Z3 could not decide whether `{p.name}` and `{q.name}` conflict: "
                    f"{s.reason_unknown()}", location=_loc(p, spans.get(p.name, {}), "do")))
    if checked:
        report.add(CheckResult("policy", "conflicts", "holds" if not any(
            r.details.get("check") == "conflict" for r in report.results) else "fails",
            f"{checked} pair(s) of policies on the same kind of resource checked for opposite "
            "actions in one tick", details={"check": "conflicts", "pairs": checked}))


def _effect_words(h: HealT, cls, enc: WitnessEncoder, m: z3.ModelRef, current) -> str:
    """What the policy does to the target in the model, in the resource's own terms:
    "`scale_up` +2 replicas", "`shrink` to 1 replica (from a current 3)", "`trip` sets the
    breaker open"."""
    eff = cls.effect
    named = dict(cls.bind_names(list(h.args)))

    def value(e: TExpr) -> int:
        return m.eval(enc.encode_as(e, "int"), model_completion=True).as_long()

    def count(n: int) -> str:
        return f"{n} {eff.resource if abs(n) != 1 else eff.resource.rstrip('s')}"

    if eff.delta is not None and eff.delta in named:
        n = value(named[eff.delta])
        return f"`{h.name}` {'+' if n > 0 else '−' if n < 0 else ''}{count(abs(n))}"
    if eff.absolute is not None and eff.absolute in named:
        now = m.eval(current, model_completion=True).as_long()
        return f"`{h.name}` to {count(value(named[eff.absolute]))} (from a current {now})"
    if eff.state is not None:
        e = named.get(eff.state)
        p = cls.param(eff.state)
        state = _show(m.eval(enc.encode_as(e, "string"), model_completion=True)) \
            if e is not None else str(p.default if p is not None else "?")
        return f"`{h.name}` sets the {eff.resource} {state}"
    return f"`{h.name}`"


def _show(v) -> str:
    if z3.is_string_value(v):
        return v.as_string()
    return str(v)


def _model_values(m: z3.ModelRef, pool: dict) -> dict:
    out = {}
    for (copy, name, _), var in pool.items():
        v = m.eval(var, model_completion=False)
        if v is not None and not v.eq(var):
            out[f"{name} (witness {copy})"] = _show(v)
    return out


def _re2_message(e: Exception) -> str:
    arg = e.args[0] if e.args else e
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


@checker
def check_audit_trail(spec: Spec, report: CheckReport, options: dict) -> None:
    """With `check --store PATH`: std.healing (and each policy's own limit) must hold over the
    controller's audit trail in that store, monitored with the runtime operators (§8)."""
    store = options.get("store")
    if not store or not spec.heals:
        return
    import os

    from tracelogic.healing.audit import AuditLog
    from tracelogic.healing.trail import verify_audit

    if not os.path.isfile(store):
        report.add(CheckResult("policy", "audit", "input-error", f"--store {store}: no such file",
                               location=Location(spec.file, 1)))
        return
    reports = verify_audit(AuditLog(store), spec)
    for r in reports:
        for p in r.properties:
            bad = [v for v in r.violations if v.prop.name == p.name]
            status = "violated" if bad else "holds"
            message = (bad[0].message if bad else
                       f"holds over the audit trail ({p.instances} instance(s))")
            report.add(CheckResult("audit", p.name, status, message,
                                   location=Location(spec.file, 1),
                                   details={"instances": p.instances,
                                            "violations": [v.to_json() for v in bad]}))
