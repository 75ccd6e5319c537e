"""What `tracelogic check` says about a spec's ``consistency`` declarations.

A consistency check is decided over traces (`monitor`, `serve`), but a declaration can be
wrong before any trace exists, and `check` should say so instead of passing over it in
silence: an ``operation`` declaration that maps spans onto an operation the model does
not have would make every run inconclusive; a session or causal check over a model with
no reads and writes judges nothing; a §7 model the machine cannot run cannot be a
sequential specification. Each declaration gets one result: ``ok`` (info) with what it
will check and where its operations come from, ``warning`` or ``error`` with the reason.
"""
from __future__ import annotations

from typing import Any

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.errors import TracelogicError
from tracelogic.spec.typed import ConsistencyT, OperationT

from .models import Model, ModelError
from .report import model_of
from .sessions import _READS, _WRITES

__all__ = ["check_consistency"]

_WHERE = "a runtime check: `tracelogic monitor` and `serve` give its verdict per key"


def _at(o: OperationT) -> str:
    return f" (line {o.span.line})" if o.span.line else ""


def _result(decl: ConsistencyT, status: str, message: str, severity: str,
            details: dict[str, Any]) -> CheckResult:
    loc = Location.of(decl.span) if decl.span.line else None
    return CheckResult("consistency", decl.name, status, message, severity=severity,
                       location=loc, details=details)


def _one(spec: Any, decl: ConsistencyT) -> CheckResult:
    ops: tuple[OperationT, ...] = spec.operations
    details: dict[str, Any] = {"checker": decl.checker, "model": decl.model,
                               "operations": sorted({o.op for o in ops}),
                               "source": "operation declarations" if ops else "convention"}
    try:
        m: Model = model_of(spec, decl)
    except TracelogicError as e:
        return _result(decl, "error", f"the model `{decl.model}` cannot be a sequential "
                       f"specification: {e}", "error", details)
    details["model_operations"] = list(m.operations)
    source = (f"operations from {len(ops)} `operation` declaration(s)" if ops else
              "operations from the span convention (docs/consistency.md §1)")
    if decl.checker in ("linearizable", "sequential"):
        missing = []
        for o in ops:
            try:
                m.canonical(o.op)
            except ModelError:
                missing.append(f"`{o.op}`{_at(o)}")
        if missing:
            return _result(decl, "error", f"the {m.name} model has no operation "
                           + ", ".join(missing) + f", which `operation` maps spans onto; "
                           f"its operations are {', '.join(m.operations)}: every run would "
                           "be inconclusive", "error", details)
        return _result(decl, "ok", f"{decl.checker} over the {m.name} model ("
                       f"{', '.join(m.operations)}), per key; {source}; {_WHERE}", "info",
                       details)
    # sessions and causal read a register history: reads and writes only
    if not {"read", "write"} <= set(m.operations):
        return _result(decl, "warning", f"`{decl.checker}` reads only reads and writes, and "
                       f"the {m.name} model has no read and write (its operations are "
                       f"{', '.join(m.operations)}): the check would judge nothing",
                       "warning", details)
    names = {o.op.lower() for o in ops}
    if ops and not (names & _READS and names & _WRITES):
        return _result(decl, "warning", f"`{decl.checker}` needs reads and writes, and the "
                       f"`operation` declarations map "
                       + ("no read" if not names & _READS else "no write")
                       + ": the check would judge nothing", "warning", details)
    ignored = sorted(n for n in names if n not in _READS | _WRITES)
    extra = f"; it ignores {', '.join(ignored)}" if ignored else ""
    return _result(decl, "ok", f"{decl.checker} over the reads and writes of each key "
                   f"({m.name}){extra}; {source}; {_WHERE}", "info", details)


@checker
def check_consistency(spec: Any, report: CheckReport, options: dict) -> None:
    decls: tuple[ConsistencyT, ...] = getattr(spec, "consistency", ())
    for decl in decls:
        report.add(_one(spec, decl))
    ops: tuple[OperationT, ...] = getattr(spec, "operations", ())
    if ops and not decls:
        first = ops[0]
        report.add(CheckResult(
            "consistency", "operations", "warning",
            f"{len(ops)} `operation` declaration(s) but no `consistency` declaration reads "
            "them: declare one, e.g. `consistency store: linearizable register`",
            severity="warning",
            location=Location.of(first.span) if first.span.line else None,
            details={"operations": sorted({o.op for o in ops})}))
