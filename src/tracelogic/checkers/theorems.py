"""Theorems (SPEC-LANGUAGE.md §5): proved for every input, or refuted with a counterexample.

A theorem ``forall x: R… assuming A : P`` is proved when ``ranges ∧ A ∧ ¬P`` is
unsatisfiable. It is refuted by a model of that formula, or by a reachable
division whose divisor can be zero (``ranges ∧ A ∧ path ∧ divisor = 0``). Z3
answering ``unknown`` (a timeout, nonlinear arithmetic it gives up on) is
reported as ``unknown`` with Z3's reason, never as ``proved``.
"""
from __future__ import annotations


import z3

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.semantics.z3enc import Encoder, declare, from_model
from tracelogic.errors import UnhandledNode
from tracelogic.spec.lexicon import show_value  # noqa: F401  (its users import it here)
from tracelogic.spec.typed import Spec, TheoremT


def prove(thm: TheoremT, timeout_s: float = 10.0) -> tuple[str, str, dict]:
    """(status, message, details) for one theorem."""
    env, constraints = {}, []
    for name, typ in thm.vars:
        var, cons = declare(name, typ)
        env[("theorem", name)] = var
        constraints += cons
    enc = Encoder(env)
    try:
        body = enc.encode(thm.body)
        assuming = enc.encode(thm.assuming) if thm.assuming is not None else None
    except UnhandledNode as e:
        return "unknown", f"cannot encode for Z3: {e.message}", {}
    solver = z3.Solver()
    solver.set("timeout", int(timeout_s * 1000))
    solver.add(*constraints)
    premise = [assuming.term] if assuming is not None else []

    def counterexample(model) -> dict:
        return {name: show_value(from_model(model, env[("theorem", name)], typ), typ)
                for name, typ in thm.vars}

    # Assumptions that contradict the ranges make the theorem vacuous: say so.
    solver.push()
    solver.add(*premise)
    premise_sat = solver.check()
    solver.pop()
    if premise_sat == z3.unsat:
        return "warning", "holds vacuously: no input satisfies the ranges and `assuming`", \
            {"vacuous": True}
    # A division by zero on a reachable path refutes the theorem.
    for part in ([assuming] if assuming else []) + [body]:
        for cond, divisor, node in part.divisions:
            solver.push()
            solver.add(*(premise if part is body else []), cond, divisor == 0)
            r = solver.check()
            if r == z3.sat:
                cx = counterexample(solver.model())
                solver.pop()
                where = f"division by zero at line {node.span.line}"
                return "refuted", where + (f" when {_cx(cx)}" if cx else ""), \
                    {"counterexample": cx, "reason": "division by zero"}
            solver.pop()
    solver.add(*premise, z3.Not(body.term))
    r = solver.check()
    if r == z3.unsat:
        return "proved", "holds for every input", {}
    if r == z3.sat:
        cx = counterexample(solver.model())
        return "refuted", "counterexample: " + _cx(cx), {"counterexample": cx}
    reason = solver.reason_unknown()
    if "timeout" in reason or "canceled" in reason:
        reason = f"timeout after {timeout_s:g}s"
    return "unknown", f"Z3 could not decide: {reason}", {"reason": reason}


def _cx(cx: dict) -> str:
    """`x = 1, y = 2s`; a theorem without variables is refuted by no particular input."""
    return ", ".join(f"{k} = {v}" for k, v in cx.items()) or "(no variables)"


@checker
def check_theorems(spec: Spec, report: CheckReport, options: dict) -> None:
    timeout = float(options.get("timeout", 10.0))
    for thm in spec.theorems:
        status, message, details = prove(thm, timeout)
        report.add(CheckResult("theorem", thm.name, status, message,
                               severity="warning" if status == "warning" else "error",
                               location=Location.of(thm.span), details=details))
