"""A spec's ``consistency`` declarations over a set of spans: what ``tracelogic monitor``
reports beside its properties (docs/consistency.md, docs/cli.md).

The operations come from the spec's ``operation`` declarations when it has any, else from
the span convention. Each declaration gets one :class:`~.linearizability.Result` with a
verdict per key and a witness per violated key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from tracelogic.errors import TracelogicError
from tracelogic.ingest.spans import Span
from tracelogic.spec.typed import ConsistencyT

from .causal import causal
from .history import Operation, _show
from .linearizability import Budget, Result, check
from .mapping import compile_mappings
from .models import Model, ModelError, model
from .sequential import check_sequential
from .sessions import SessionResult, sessions
from .spans import operations
from .usermodel import from_spec_model

__all__ = ["ConsistencyResult", "check_spec", "exit_code", "model_of", "unknown_operations"]


@dataclass(frozen=True)
class ConsistencyResult:
    """One declaration's result. ``history`` is every operation it read (for the reports
    that draw a key's history: JUnit, SARIF and HTML, consistency/formats.py); ``error``
    says why the check could not run at all (an operation its model does not know): the
    verdict is then ``inconclusive``, never a guess."""

    decl: ConsistencyT
    operations: int
    result: Result | SessionResult
    history: tuple[Operation, ...] = field(default=(), compare=False, repr=False)
    error: str = ""

    @property
    def verdict(self) -> str:
        if not self.operations or self.error:
            return "inconclusive"
        r = self.result
        return r.verdict() if isinstance(r, SessionResult) else r.verdict

    @property
    def reason(self) -> str:
        """Why the whole check is inconclusive ("" when it is not, or only some keys are)."""
        return self.error or ("" if self.operations else "no span was an operation")

    def to_json(self) -> dict[str, Any]:
        d = {"name": self.decl.name, "checker": self.decl.checker, "model": self.decl.model,
             "operations": self.operations, **self.result.to_json()}
        d["verdict"] = self.verdict
        if self.reason:
            d["reason"] = self.reason
        return d

    def to_text(self) -> str:
        r = self.result
        head = f"consistency {self.decl.name} ({self.decl.checker} {self.decl.model}): " \
               f"{self.verdict.upper()}, {self.operations} operations"
        if self.error:
            return head + f" ({self.error})\n"
        if isinstance(r, SessionResult):
            lines = [head]
            lines += [f"  {v.guarantee}: key {_show(v.key)}: {v.message}" for v in r.violations]
            lines += [f"  key {_show(k)}: inconclusive ({why})" for k, why in r.inconclusive]
            return "\n".join(lines) + "\n"
        head += f", {len(r.keys)} keys"
        if not self.operations:
            return head + " (no span was an operation: map them with `operation`)\n"
        body = r.text().split("\n", 1)
        return head + ("\n" + body[1] if len(body) > 1 else "") + "\n"


def check_spec(spec: Any, spans: Iterable[Span], *,
               budget: Budget = Budget()) -> list[ConsistencyResult]:
    """Every ``consistency`` declaration of ``spec`` over ``spans``."""
    decls: tuple[ConsistencyT, ...] = spec.consistency
    if not decls:
        return []
    spans = list(spans)
    ops = operations(spans, compile_mappings(spec.operations))
    out = []
    for d in decls:
        try:
            m = model_of(spec, d)
        except TracelogicError as e:  # a §7 model the machine cannot run
            out.append(ConsistencyResult(d, len(ops), Result(d.model), tuple(ops),
                                         f"the model `{d.model}` cannot run: {e}"))
            continue
        error = unknown_operations(m, ops) if d.checker in ("linearizable", "sequential") \
            else ""
        try:
            if error:
                r: Result | SessionResult = Result(m.name)
            elif d.checker == "sequential":
                r = check_sequential(m, ops, budget=budget)
            elif d.checker == "sessions":
                r = sessions(ops)
            elif d.checker == "causal":
                r = causal(ops, spans)
            else:
                r = check(m, ops, budget=budget)
        except ModelError as e:  # an input the model cannot take (cas without [a, b])
            r, error = Result(m.name), str(e)  # (its message names the hint)
        out.append(ConsistencyResult(d, len(ops), r, tuple(ops), error))
    return out


def model_of(spec: Any, decl: ConsistencyT) -> Model:
    """The sequential specification ``decl`` names: a §7 model of ``spec``, else a built-in
    one (a TracelogicError when the model cannot run)."""
    user = spec.models.get(decl.model)
    return from_spec_model(user) if user is not None else model(decl.model)


def unknown_operations(m: Model, ops: Iterable[Operation]) -> str:
    """Why ``m`` cannot check ``ops`` (operations it has no step for), or "". Such spans
    would otherwise stop the search; the check is inconclusive with this reason."""
    counts: dict[str, int] = {}
    for o in ops:
        if o.status == "fail":
            continue
        try:
            m.canonical(o.f)
        except ModelError:
            counts[o.f] = counts.get(o.f, 0) + 1
    if not counts:
        return ""
    names = ", ".join(f"`{f}` ({n} span{'s' if n > 1 else ''})" for f, n in counts.items())
    return f"the {m.name} model has no operation {names}; its operations are " \
        f"{', '.join(m.operations)}"


def exit_code(results: list[ConsistencyResult], *, allow_unknown: bool) -> int:
    """1 when a check is violated, or inconclusive without ``allow_unknown``; else 0."""
    verdicts = {r.verdict for r in results}
    return 1 if "violated" in verdicts or ("inconclusive" in verdicts and not allow_unknown) \
        else 0
