"""A spec's ``consistency`` declarations over a set of spans: what ``tracelogic monitor``
reports beside its properties (docs/consistency.md, docs/cli.md).

The operations come from the spec's ``operation`` declarations when it has any, else from
the span convention. Each declaration gets one :class:`~.linearizability.Result` with a
verdict per key and a witness per violated key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tracelogic.ingest.spans import Span
from tracelogic.spec.typed import ConsistencyT

from .causal import causal
from .history import _show
from .linearizability import Budget, Result, check
from .mapping import compile_mappings
from .models import model
from .sequential import check_sequential
from .sessions import SessionResult, sessions
from .spans import operations
from .usermodel import from_spec_model

__all__ = ["ConsistencyResult", "check_spec", "exit_code"]


@dataclass(frozen=True)
class ConsistencyResult:
    decl: ConsistencyT
    operations: int
    result: Result | SessionResult

    @property
    def verdict(self) -> str:
        if not self.operations:
            return "inconclusive"
        r = self.result
        return r.verdict() if isinstance(r, SessionResult) else r.verdict

    def to_json(self) -> dict[str, Any]:
        d = {"name": self.decl.name, "checker": self.decl.checker, "model": self.decl.model,
             "operations": self.operations, **self.result.to_json()}
        d["verdict"] = self.verdict
        if not self.operations:
            d["reason"] = "no span was an operation"
        return d

    def to_text(self) -> str:
        r = self.result
        head = f"consistency {self.decl.name} ({self.decl.checker} {self.decl.model}): " \
               f"{self.verdict.upper()}, {self.operations} operations"
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
        user = spec.models.get(d.model)
        m = from_spec_model(user) if user is not None else model(d.model)
        if d.checker == "sequential":
            r: Result | SessionResult = check_sequential(m, ops, budget=budget)
        elif d.checker == "sessions":
            r = sessions(ops)
        elif d.checker == "causal":
            r = causal(ops, spans)
        else:
            r = check(m, ops, budget=budget)
        out.append(ConsistencyResult(d, len(ops), r))
    return out


def exit_code(results: list[ConsistencyResult], *, allow_unknown: bool) -> int:
    """1 when a check is violated, or inconclusive without ``allow_unknown``; else 0."""
    verdicts = {r.verdict for r in results}
    return 1 if "violated" in verdicts or ("inconclusive" in verdicts and not allow_unknown) \
        else 0
