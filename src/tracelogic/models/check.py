"""Model checks (SPEC-LANGUAGE.md §7): pick engines, run them, explain the outcome.

Engines (``engine=`` option, default ``auto``):

| engine | invariant, deadlock_free | LTL |
|---|---|---|
| ``explicit`` | breadth-first search (shortest counterexample) | GPVW tableau × reachable states |
| ``kind`` | Z3 k-induction (BMC base case: shortest counterexample) | explicit |
| ``pdr`` | Z3 Spacer (CHC); counterexample rebuilt by BMC | explicit |
| ``auto`` | k-induction, explicit search (100k states), PDR, explicit (bound) | explicit |
| ``nusmv`` | NuSMV through pynusmv, when importable | NuSMV |

``deadlock_free`` is the invariant "some action is enabled". Every invariant
check also proves the absence of runtime errors of the model (see
:mod:`tracelogic.models.symbolic`). The explicit search stops at ``bound``
states: the result is then ``unknown`` with reason ``bound reached``, never
``holds``. A proof by k-induction or PDR does not depend on the bound.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tracelogic.models.counterexample import Run, run_from_path
from tracelogic.models.engines import ENGINES, get_engine
from tracelogic.models.machine import (DEFAULT_STATE_BOUND, Machine, ModelRuntimeError,
                                       UnsupportedModel, explore, replay)
from tracelogic.spec.typed import TExpr

__all__ = ["Outcome", "check_invariant", "check_deadlock_free", "check_ltl_formula", "ENGINES"]



@dataclass
class Outcome:
    status: str                   # holds | fails | error | unknown
    message: str
    engine: str
    run: Run | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: ModelRuntimeError | None = None


def _any_guard(machine: Machine) -> TExpr:
    """The state condition "some action is enabled", as a typed expression."""
    from tracelogic.spec import types as T

    guards = [a.guard if a.guard is not None else TExpr("lit", type=T.BOOL, payload=True)
              for a in machine.actions]
    if not guards:
        return TExpr("lit", type=T.BOOL, payload=False)
    out = guards[0]
    for g in guards[1:]:
        out = TExpr("or", (out, g), T.BOOL)
    return out


AUTO_EXPLICIT_BOUND = 100_000  # `auto` tries an exhaustive search this large before PDR


def check_invariant(machine: Machine, cond: TExpr, *, engine: str = "auto",
                    bound: int = DEFAULT_STATE_BOUND, timeout: float = 10.0, max_k: int = 25,
                    what: str = "invariant") -> Outcome:
    """Does ``cond`` hold in every reachable state (and no action fail on the way)?

    ``auto`` runs, until one decides: k-induction (a third of ``timeout``; it also
    finds shallow counterexamples, shortest first), an explicit search of up to
    100,000 states (exact when the reachable states fit), PDR (the rest of the
    time, at least a third), and finally the explicit search up to ``bound``.
    """
    plan = list(get_engine(engine).invariant_steps)
    if plan == ["nusmv"]:
        from tracelogic.models import nusmv

        return nusmv.check(machine, cond, kind="invariant")
    if plan == ["explicit"]:
        return _explicit_invariant(machine, cond, bound, what, [])
    deadline = time.monotonic() + timeout
    tried: list[str] = []
    sym = None
    for step in plan:
        if step.startswith("explicit"):
            small = step == "explicit-small"
            if small and bound <= AUTO_EXPLICIT_BOUND:
                continue  # the final explicit step covers it
            o = _explicit_invariant(machine, cond, min(bound, AUTO_EXPLICIT_BOUND) if small
                                    else bound, what, tried)
            if o.status != "unknown":
                return o
            if small:
                tried.append(f"explicit: more than {AUTO_EXPLICIT_BOUND} states")
                continue
            return o
        if sym is None:
            from tracelogic.models.symbolic import Symbolic

            try:
                sym = Symbolic(machine)
            except UnsupportedModel as e:
                tried.append(f"Z3: {e.message}")
                if engine != "auto":
                    return Outcome("unknown", str(e), engine, details={"reason": "unsupported"})
                plan = [p for p in plan if p.startswith("explicit")]
                continue
        left = max(0.5, deadline - time.monotonic())
        share = left / 3 if (engine == "auto" and step == "kind") else \
            max(left, timeout / 3) if engine == "auto" else left
        o = _symbolic(machine, sym, cond, step, share, max_k, what, tried)
        if o is not None:
            return o
    return Outcome("unknown", "; ".join(tried), engine,
                   details={"reason": tried[-1] if tried else "unknown", "tried": tried})


def _symbolic(machine, sym, cond, step, share, max_k, what, tried) -> Outcome | None:
    from tracelogic.errors import UnhandledNode
    from tracelogic.models.symbolic import k_induction, pdr

    try:
        r = k_induction(sym, cond, max_k=max_k, timeout_s=share) if step == "kind" \
            else pdr(sym, cond, timeout_s=share)
    except UnhandledNode as e:  # a Z3 encoding gap must not hide the other engines
        tried.append(f"{step}: {e.message}")
        return None
    if r.status == "proved":
        how = (f"proved by k-induction (k = {r.k})" if r.engine == "k-induction"
               else "proved by PDR (Z3 Spacer)")
        details: dict[str, Any] = {"engine": r.engine}
        if r.k is not None:
            details["k"] = r.k
        if r.invariant:
            details["inductive_invariant"] = r.invariant
            how += f"; inductive invariant: {r.invariant}"
        return Outcome("holds", how, r.engine, details=details)
    if r.status == "refuted" and r.states:
        return _explain_states(machine, cond, r.states, r.engine, what)
    tried.append(f"{r.engine}: {r.reason}")
    return None


def _explicit_invariant(machine: Machine, cond: TExpr, bound: int, what: str,
                        tried: list[str]) -> Outcome:
    pred = machine.predicate(cond)
    res = explore(machine, bound=bound, bad=lambda s: not pred(s))
    details: dict[str, Any] = {"engine": "explicit", "states": len(res.states)}
    if tried:
        details["tried"] = list(tried)
    if res.violation is not None:
        run = run_from_path(machine, res, res.path_to(res.violation))
        return _fails(run, what, "explicit", details)
    if res.error is not None:
        run = run_from_path(machine, res, res.path_to(res.error_at))
        run.error = res.error.message
        return _error(run, res.error, "explicit", details)
    if not res.complete:
        details["reason"] = "bound reached"
        return Outcome("unknown", f"bound reached: explored {len(res.states)} states without "
                       f"finding a violation (state bound {bound})"
                       + (f"; {'; '.join(tried)}" if tried else ""), "explicit", details=details)
    if what == "deadlock":
        msg = f"no deadlock in {len(res.states)} reachable states (explicit search)"
    else:
        msg = f"holds in all {len(res.states)} reachable states (explicit search)"
    return Outcome("holds", msg, "explicit", details=details)


def _fails(run: Run, what: str, engine: str, details: dict) -> Outcome:
    details = dict(details, engine=engine, counterexample=run.to_json(), table=run.to_table())
    n = len(run) - 1
    if what == "deadlock":
        run.note = "deadlock: no action is enabled"
        details["counterexample"] = run.to_json()
        details["table"] = run.to_table()
        msg = f"a deadlock is reachable in {n} step{'s' if n != 1 else ''}"
    else:
        msg = f"violated after {n} step{'s' if n != 1 else ''}"
    return Outcome("fails", msg, engine, run, details)


def _error(run: Run, err: ModelRuntimeError, engine: str, details: dict) -> Outcome:
    details = dict(details, engine=engine, counterexample=run.to_json(), table=run.to_table(),
                   action=err.action, state=run.to_json()["steps"][-1]["state"])
    return Outcome("error", f"runtime error of the model: {err.message}", engine, run, details,
                   error=err)


def _explain_states(machine: Machine, cond: TExpr, states: list, engine: str,
                    what: str) -> Outcome:
    """Turn a symbolic counterexample (states only) into a checked run with actions."""
    acts = replay(machine, states)
    if any(a is None for a in acts):
        raise AssertionError(f"internal error: {engine} counterexample is not a run of the model: "
                             f"{states}")
    run = Run(machine.var_names, list(states),
              [None] + [machine.action_names[a] for a in acts], var_types=machine.var_types)
    last = states[-1]
    if not machine.predicate(cond)(last):
        return _fails(run, what, engine, {})
    try:
        machine.successors(last)
    except ModelRuntimeError as err:
        run.error = err.message
        return _error(run, err, engine, {})
    raise AssertionError(f"internal error: {engine} counterexample ends in a good state: {last}")


def check_deadlock_free(machine: Machine, *, engine: str = "auto",
                        bound: int = DEFAULT_STATE_BOUND, timeout: float = 10.0) -> Outcome:
    """No reachable state without an enabled action."""
    if get_engine(engine).invariant_steps == ("explicit",):
        res = explore(machine, bound=bound, stop_at_deadlock=True)
        details = {"engine": "explicit", "states": len(res.states)}
        if res.error is not None:
            run = run_from_path(machine, res, res.path_to(res.error_at))
            run.error = res.error.message
            return _error(run, res.error, "explicit", details)
        if res.deadlock is not None:
            run = run_from_path(machine, res, res.path_to(res.deadlock))
            return _fails(run, "deadlock", "explicit", details)
        if not res.complete:
            details["reason"] = "bound reached"
            return Outcome("unknown", f"bound reached: explored {len(res.states)} states without "
                           f"finding a deadlock (state bound {bound})", "explicit", details=details)
        return Outcome("holds", f"no deadlock in {len(res.states)} reachable states "
                       "(explicit search)", "explicit", details=details)
    return check_invariant(machine, _any_guard(machine), engine=engine, bound=bound,
                           timeout=timeout, what="deadlock")


def check_ltl_formula(machine: Machine, formula: TExpr, *, engine: str = "auto",
                      bound: int = DEFAULT_STATE_BOUND) -> Outcome:
    """Every infinite run (deadlocks stutter) satisfies ``formula``, decided by the LTL
    engine of ``engine`` (:mod:`tracelogic.models.engines`)."""
    if get_engine(engine).ltl == "nusmv":
        from tracelogic.models import nusmv

        return nusmv.check(machine, formula, kind="ltl")
    from tracelogic.models.ltl import check_ltl

    r = check_ltl(machine, formula, bound=bound)
    details: dict[str, Any] = {"engine": "explicit-ltl", **r.stats}
    if r.status == "holds":
        return Outcome("holds", f"holds on every infinite run ({r.stats['states']} states, "
                       f"{r.stats['product']} product states)", "explicit-ltl", details=details)
    if r.status == "fails":
        details.update(counterexample=r.run.to_json(), table=r.run.to_table())
        kind = "a lasso" if r.run.is_lasso else "a run"
        return Outcome("fails", f"violated by {kind} of {len(r.run)} states, looping back to "
                       f"step {r.run.loop_start}", "explicit-ltl", r.run, details)
    if r.status == "error":
        return _error(r.run, r.error, "explicit-ltl", details)
    details["reason"] = "bound reached"
    return Outcome("unknown", r.reason or "unknown", "explicit-ltl", details=details)
