"""Configuration invariants (SPEC-LANGUAGE.md §4).

Two kinds of check:

- **On the documents.** Each invariant ``on C`` is compiled once and evaluated
  on every document of config ``C`` that its ``select`` admits; invariants
  without ``on`` evaluate cross-document aggregates. Only a failing
  (document, invariant) pair goes to Z3, which names the **unsat core**: the
  bound fields whose values make it fail.
- **On the invariant set itself**, over every configuration the binding types
  allow: the invariants of a config must be jointly satisfiable, none may be
  vacuous, and one implied by the others is reported (a warning).
"""
from __future__ import annotations

import glob
import os
from fractions import Fraction
from typing import Any

import z3

from tracelogic.checkers.documents import Document, coerce, in_type, load_documents, lookup
from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.values.missing import MISSING
from tracelogic.checkers.theorems import show_value
from tracelogic.semantics.z3enc import Encoder, declare, value_of
from tracelogic.errors import InputError, UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.typed import ConfigT, InvariantT, Spec, TExpr


class _Input:
    """Collects input errors (exit 2) without stopping the other checks."""

    def __init__(self, report: CheckReport):
        self.report = report

    def error(self, name: str, message: str, location: Location | None) -> None:
        self.report.add(CheckResult("config", name, "input-error", message, location=location))


def config_files(cfg: ConfigT, override: str | None) -> tuple[list[str], str | None]:
    """The files of a config block: `--config` wins over `from`; globs are relative to the spec."""
    if override is not None:
        pattern = override
    else:
        pattern = cfg.source if os.path.isabs(cfg.source) else \
            os.path.join(cfg.base_dir, cfg.source)
    files = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else (
        [pattern] if os.path.exists(pattern) else [])
    files = [f for f in files if os.path.isfile(f)]
    if not files and not (cfg.optional and override is None):
        return [], f"config `{cfg.name}`: no file matches {pattern!r}" + (
            "" if cfg.optional else " (write `from optional \"…\"` if that is expected)")
    return files, None


def _select(cfg: ConfigT):
    if cfg.select is None:
        return lambda doc: True

    def path_value(node: TExpr):
        if node.op != "path":
            return None
        path = node.payload

        def get(env):
            value, _ = lookup(env["__doc__"], path)
            return None if value is MISSING else value
        return get

    fn = compile_expr(cfg.select, path_value)

    def admit(doc: Document) -> bool:
        try:
            return bool(fn({"__doc__": doc}))
        except (TypeError, EvalError):
            return False
    return admit


class _Bound:
    """The typed values of one document's bindings, and the line of each."""

    def __init__(self, cfg: ConfigT, doc: Document, inputs: _Input):
        self.values: dict[tuple, Any] = {}
        self.lines: dict[str, int | None] = {}
        self.ok = True
        for b in cfg.bindings:
            value, line = lookup(doc, tuple((s.kind if s.kind != "key" else "key", s.value)
                                            for s in b.path))
            self.lines[b.name] = line
            if value is MISSING:
                if b.has_default:
                    self.values[("config", cfg.name, b.name)] = b.default
                    continue
                path = _path_text(b.path)
                inputs.error(f"{cfg.name}.{b.name}", f"{doc.where}: `{path}` is missing and "
                             f"`{b.name}` has no default", Location(doc.file, line or 1))
                self.ok = False
                continue
            try:
                typed = coerce(value, b.type)
            except ValueError as e:
                inputs.error(f"{cfg.name}.{b.name}", f"{doc.where}: `{b.name}` is {value!r}; "
                             f"{e}", Location(doc.file, line or 1))
                self.ok = False
                continue
            self.values[("config", cfg.name, b.name)] = typed


def _path_text(path) -> str:
    out = str(path[0].value)
    for s in path[1:]:
        out += f".{s.value}" if s.kind == "field" else f"[{s.value!r}]" if s.kind == "key" \
            else f"[{s.value}]"
    return out


_CORE_CHECK_MS = 2000


def _core(inv: InvariantT, cfg: ConfigT, values: dict) -> list[str]:
    """The bound fields whose values make the invariant fail (a minimal unsat core)."""
    env, tracked = {}, {}
    for b in cfg.bindings:
        key = ("config", cfg.name, b.name)
        var, _ = declare(f"{cfg.name}.{b.name}", b.type)
        env[key] = var
        if key in values:
            tracked[b.name] = var == value_of(b.type, values[key])
    try:
        term = Encoder(env).encode(inv.body).term
    except UnhandledNode:
        return []
    solver = z3.Solver()
    solver.set("timeout", _CORE_CHECK_MS)
    solver.add(term)
    flags = {n: z3.Bool(f"__field_{n}") for n in tracked}
    for name, flag in flags.items():
        solver.add(z3.Implies(flag, tracked[name]))
    if solver.check(*flags.values()) != z3.unsat:
        return []
    core = sorted(str(f)[len("__field_"):] for f in solver.unsat_core())
    # Deletion-based minimisation, one bounded check per field. Z3's own `core.minimize`
    # is not bounded by the timeout and can run forever once fields are left free in a
    # nonlinear invariant (`a * b > c`); an `unknown` here keeps the field, so the core
    # stays a correct (if not always minimal) explanation.
    for name in list(core):
        trial = [n for n in core if n != name]
        if solver.check(*(flags[n] for n in trial)) == z3.unsat:
            core = trial
    return core


def _used_fields(e: TExpr, config: str) -> list[str]:
    return sorted({n.payload[2] for n in e.walk() if n.op == "var" and n.payload[0] == "config"
                   and n.payload[1] == config})


@checker
def check_configs(spec: Spec, report: CheckReport, options: dict) -> None:
    overrides: dict[str, str] = dict(options.get("overrides") or {})
    inputs = _Input(report)
    for name in overrides:
        if name not in spec.configs:
            inputs.error(name, f"--config {name}=…: the spec has no config block `{name}`",
                         None)
    docs: dict[str, list[tuple[Document, _Bound]]] = {}
    for cfg in spec.configs.values():
        files, problem = config_files(cfg, overrides.get(cfg.name))
        if problem:
            inputs.error(cfg.name, problem, Location.of(cfg.span))
        admit = _select(cfg)
        admitted = []
        for path in files:
            try:
                file_docs = load_documents(path)
            except InputError as e:
                inputs.error(cfg.name, e.message, Location(path, 1))
                continue
            for doc in file_docs:
                if admit(doc):
                    admitted.append((doc, _Bound(cfg, doc, inputs)))
        docs[cfg.name] = admitted
        for doc, bound in admitted:
            for b in cfg.bindings:
                key = ("config", cfg.name, b.name)
                if key in bound.values and not in_type(bound.values[key], b.type):
                    report.add(CheckResult(
                        "config", f"{cfg.name}.{b.name}", "violated",
                        f"{doc.where}: `{b.name}` is {show_value(bound.values[key], b.type)}, "
                        f"outside {b.type}", location=Location.of(b.span),
                        related=[Location(doc.file, bound.lines.get(b.name) or 1)],
                        details={"file": doc.file, "document": doc.index,
                                 "values": {b.name: show_value(bound.values[key], b.type)}}))
    for inv in spec.invariants:
        if inv.on is not None:
            _check_per_document(inv, spec.configs[inv.on], docs.get(inv.on, []), report)
        else:
            _check_cross_document(inv, spec, docs, report)
    for cfg in spec.configs.values():
        _check_invariant_set(cfg, [i for i in spec.invariants if i.on == cfg.name], report)


def _check_per_document(inv: InvariantT, cfg: ConfigT, admitted, report: CheckReport) -> None:
    fn = compile_expr(inv.body)
    fields = _used_fields(inv.body, cfg.name)
    types = {b.name: b.type for b in cfg.bindings}
    failures = 0
    for doc, bound in admitted:
        if not bound.ok:
            continue
        try:
            holds = bool(fn(bound.values))
        except EvalError as e:
            report.add(CheckResult("invariant", inv.name, "error", f"{doc.where}: {e}",
                                   severity=inv.severity, location=Location.of(inv.span),
                                   details={"file": doc.file, "document": doc.index}))
            continue
        if holds:
            continue
        failures += 1
        core = _core(inv, cfg, bound.values) or fields
        values = {f: show_value(bound.values[("config", cfg.name, f)], types[f])
                  for f in fields if ("config", cfg.name, f) in bound.values}
        shown = ", ".join(f"{k} = {v}" for k, v in values.items())
        related = [Location(doc.file, bound.lines[f]) for f in core if bound.lines.get(f)]
        report.add(CheckResult(
            "invariant", inv.name, "violated", f"{doc.where}: {shown}; fails because of "
            f"{', '.join(core)}", severity=inv.severity, location=Location.of(inv.span),
            related=related, details={"file": doc.file, "document": doc.index,
                                      "values": values, "core": core}))
    if not admitted:
        report.add(CheckResult("invariant", inv.name, "warning",
                               f"nothing checked: no document of `{cfg.name}` was admitted",
                               severity="warning", location=Location.of(inv.span)))
    elif not failures:
        report.add(CheckResult("invariant", inv.name, "holds",
                               f"holds on {len(admitted)} document(s) of `{cfg.name}`",
                               severity=inv.severity, location=Location.of(inv.span),
                               details={"documents": len(admitted)}))


def _check_cross_document(inv: InvariantT, spec: Spec, docs, report: CheckReport) -> None:
    # Per aggregate node evaluated: its value and the (value, document) pairs it ranged over.
    # Keyed by identity: two aggregates written alike are still two places in the invariant.
    evaluated: dict[int, tuple[Any, list]] = {}

    def aggregate(node: TExpr):
        if node.op != "agg":
            return None
        name, config = node.payload
        value_fn, where_fn = compile_expr(node.args[0]), compile_expr(node.args[1])
        rows = [(doc, bound) for doc, bound in docs.get(config, []) if bound.ok]

        def run(env):
            vals = []
            for doc, bound in rows:
                if where_fn(bound.values):
                    vals.append((value_fn(bound.values), doc))
            value = _aggregate_value(name, node, [v for v, _ in vals])
            evaluated[id(node)] = (value, vals)
            return value
        return run

    try:
        holds = bool(compile_expr(inv.body, aggregate)({}))
    except EvalError as e:
        report.add(CheckResult("invariant", inv.name, "error", str(e), severity=inv.severity,
                               location=Location.of(inv.span)))
        return
    if holds:
        report.add(CheckResult("invariant", inv.name, "holds", "holds across documents",
                               severity=inv.severity, location=Location.of(inv.span)))
        return
    details: dict[str, Any] = {}
    related, shown = [], []
    for node in (n for n in inv.body.walk() if n.op == "agg"):
        if id(node) not in evaluated:  # not reached (`and`, `or` and `->` short-circuit)
            continue
        value, vals = evaluated[id(node)]
        name, config = node.payload
        text = _source_text(spec, node.span) or f"{name}({config}.…)"
        order, top = _contributors(name, node, inv.body, vals)
        key = f"{name}({config})"
        details[key if key not in details else text] = {
            "of": text, "value": show_value(value, node.type), "documents": len(vals),
            "order": order,
            "top": [{"file": d.file, "document": d.index, "value": show_value(v, node.args[0].type)}
                    for v, d in top]}
        shown.append(f"{text} = {show_value(value, node.type)}")
        related += [Location(d.file, 1) for _, d in top]
    message = "fails across documents" + (f": {', '.join(shown)}" if shown else "")
    report.add(CheckResult("invariant", inv.name, "violated", message,
                           severity=inv.severity, location=Location.of(inv.span),
                           related=related, details=details))


_TOP = 5  # contributors named per aggregate


def _aggregate_value(name: str, node: TExpr, xs: list) -> Any:
    if name == "sum":
        return sum(xs) if xs else 0
    if name == "count":
        return sum(1 for x in xs if x) if T.base(node.args[0].type) == T.BOOL else len(xs)
    if name == "all":
        return all(xs)
    if name == "any":
        return any(xs)
    if not xs:
        raise EvalError(f"`{name}` over no documents", node)
    if name == "avg":
        return Fraction(sum(xs)) / len(xs)
    return min(xs) if name == "min" else max(xs)


def _contributors(name: str, node: TExpr, body: TExpr, vals: list) -> tuple[str, list]:
    """The documents that pushed the aggregate to fail the invariant, and how they are ordered.

    `min` lists the smallest values first and `max` the largest. `sum` and `avg` follow the
    bound the invariant puts on them: the largest first under an upper bound
    (`sum(d.x) <= 10`), the smallest first under a lower one (`avg(d.x) >= 2`). A `count` of
    a condition lists the documents where it was true under an upper bound and false under a
    lower one; `all` and `any` list the documents where it was false."""
    bound = _bound(body, node)
    if name in ("all", "any"):
        return "where false", [p for p in vals if not p[0]][:_TOP]
    if name == "count":
        if T.base(node.args[0].type) != T.BOOL:
            return "document order", vals[:_TOP]
        want = bound != "lower"
        return ("where true" if want else "where false"), \
            [p for p in vals if bool(p[0]) == want][:_TOP]
    largest = name == "max" or (name in ("sum", "avg") and bound != "lower")
    ordered = sorted(vals, key=lambda p: p[0], reverse=largest)
    return ("largest first" if largest else "smallest first"), ordered[:_TOP]


def _bound(body: TExpr, node: TExpr) -> str | None:
    """"upper" when the invariant holds only if ``node`` is small enough (`node <= c`, also
    under `+`, or `!(node > c)`), "lower" for the opposite; None when it is neither (`==`,
    under `*`, or under `xor`/`iff`)."""
    parents: dict[int, tuple[TExpr, int]] = {}
    for n in body.walk():
        for i, a in enumerate(n.args):
            parents.setdefault(id(a), (n, i))
    small: bool | None = None  # does the comparison above want ``node`` small?
    flip, child = False, node
    while id(child) in parents:
        parent, i = parents[id(child)]
        if small is None:  # arithmetic below the comparison
            if parent.op == "cmp":
                if parent.payload not in ("<", "<=", ">", ">="):
                    return None
                small = ((parent.payload in ("<", "<=")) == (i == 0)) != flip
                flip = False
            elif parent.op == "neg" or (parent.op == "-" and i == 1):
                flip = not flip
            elif parent.op not in ("+", "-"):
                return None
        elif parent.op == "not" or (parent.op == "implies" and i == 0):
            flip = not flip
        elif parent.op not in ("and", "or", "implies", "pred"):
            return None
        child = parent
    if small is None:
        return None
    return "upper" if small != flip else "lower"


def _source_text(spec: Spec, span) -> str | None:
    """What the user wrote at ``span``, from the spec or one of its imports, on one line."""
    todo, seen = [spec], set()
    while todo:
        s = todo.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        if s.file == span.file:
            lines = s.source.split("\n")
            if not 1 <= span.line <= span.end_line <= len(lines):
                return None
            if span.line == span.end_line:
                text = lines[span.line - 1][span.column - 1:span.end_column - 1]
            else:
                text = "\n".join([lines[span.line - 1][span.column - 1:]]
                                 + lines[span.line:span.end_line - 1]
                                 + [lines[span.end_line - 1][:span.end_column - 1]])
            return " ".join(text.split()) or None
        todo.extend(s.imports.values())
    return None


def _check_invariant_set(cfg: ConfigT, invariants: list[InvariantT], report: CheckReport) -> None:
    """Joint satisfiability, vacuity and redundancy, over every value the types allow."""
    if not invariants:
        return
    env, constraints = {}, []
    for b in cfg.bindings:
        var, cons = declare(f"{cfg.name}.{b.name}", b.type)
        env[("config", cfg.name, b.name)] = var
        constraints += cons
    terms = {}
    for inv in invariants:
        try:
            terms[inv.name] = Encoder(env).encode(inv.body).term
        except UnhandledNode:
            continue
    if not terms:
        return
    solver = z3.Solver()
    solver.set("timeout", 5000)
    solver.add(*constraints)
    flags = {z3.Bool(f"__inv_{n}"): n for n in terms}
    for flag, name in flags.items():
        solver.add(z3.Implies(flag, terms[name]))
    by_name = {i.name: i for i in invariants}
    if solver.check(*flags) == z3.unsat:
        core = sorted(flags[f] for f in solver.unsat_core())
        what = f"invariant {core[0]}" if len(core) == 1 else \
            f"the invariants {', '.join(core)} together"
        report.add(CheckResult(
            "config", cfg.name, "inconsistent",
            f"no configuration satisfies {what} (given the types of its fields)",
            location=Location.of(by_name[core[0]].span) if core else Location.of(cfg.span),
            related=[Location.of(by_name[n].span) for n in core[1:]], details={"core": core}))
        return
    for inv in invariants:
        term = terms.get(inv.name)
        if term is None:
            continue
        if inv.body.op == "implies":
            cond = Encoder(env).encode(inv.body.args[0]).term
            s = z3.Solver()
            s.add(*constraints, cond)
            if s.check() == z3.unsat:
                report.add(CheckResult("invariant", inv.name, "warning",
                                       "vacuous: its condition can never hold",
                                       severity="warning", location=Location.of(inv.span)))
                continue
        if _valid(constraints, term):
            report.add(CheckResult("invariant", inv.name, "warning",
                                   "vacuous: it holds for every value its fields can take",
                                   severity="warning", location=Location.of(inv.span)))
            continue
        others = {f: n for f, n in flags.items() if n != inv.name}
        s = z3.Solver()
        s.set("timeout", 5000)
        s.add(*constraints, z3.Not(term))
        for flag, name in others.items():
            s.add(z3.Implies(flag, terms[name]))
        if others and s.check(*others) == z3.unsat:
            core = sorted(others[f] for f in s.unsat_core())
            report.add(CheckResult("invariant", inv.name, "warning",
                                   f"redundant: implied by {', '.join(core)}",
                                   severity="warning", location=Location.of(inv.span),
                                   related=[Location.of(by_name[n].span) for n in core],
                                   details={"implied_by": core}))


def _valid(constraints: list, term) -> bool:
    s = z3.Solver()
    s.set("timeout", 5000)
    s.add(*constraints, z3.Not(term))
    return s.check() == z3.unsat
