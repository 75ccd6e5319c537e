"""`check MODEL: …` (SPEC-LANGUAGE.md §7): invariants, deadlock freedom and LTL over runs.

Each check becomes one :class:`CheckResult` of kind ``model`` named
``MODEL.KIND`` (``breaker.invariant``, ``breaker.ltl``, ``breaker.deadlock_free``;
a second check of the same kind gets ``.2``, …). Statuses:

- ``holds``; ``fails`` with a counterexample run (``details["counterexample"]`` in
  JSON, ``details["table"]`` and the message in text), a lasso for LTL;
- ``error``: a runtime error of the model (an assignment out of range, a
  division by zero) reached by the run shown, with the action and the state;
- ``unknown``: the state bound was reached (``details["reason"] == "bound
  reached"``) or Z3 gave up.

Options (from ``run_checks(..., **options)``): ``timeout`` (seconds per check,
default 10), ``state_bound`` (default 1,000,000 states), ``engine`` (``auto``,
``explicit``, ``kind``, ``pdr``, ``nusmv``; see :mod:`tracelogic.models.check`).
"""
from __future__ import annotations

import textwrap

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.models.check import (Outcome, check_deadlock_free, check_invariant,
                                     check_ltl_formula)
from tracelogic.errors import UnsupportedFormula
from tracelogic.models.machine import DEFAULT_STATE_BOUND, Machine, UnsupportedModel
from tracelogic.spec.typed import CheckT, Spec


def run_model_check(machine: Machine, check: CheckT, options: dict) -> Outcome:
    engine = options.get("engine") or "auto"
    bound = int(options.get("state_bound") or DEFAULT_STATE_BOUND)
    timeout = float(options.get("timeout") or 10.0)
    try:
        if check.kind == "invariant":
            return check_invariant(machine, check.body, engine=engine, bound=bound,
                                   timeout=timeout)
        if check.kind == "deadlock_free":
            return check_deadlock_free(machine, engine=engine, bound=bound, timeout=timeout)
        if check.kind == "ltl":
            return check_ltl_formula(machine, check.body, engine=engine, bound=bound)
    except (UnsupportedFormula, UnsupportedModel) as e:
        return Outcome("unknown", e.message + (f" ({e.hint})" if e.hint else ""), engine,
                       details={"reason": "unsupported"})
    return Outcome("unknown", f"unknown model check kind `{check.kind}`", engine)


def _message(o: Outcome) -> str:
    if o.status in ("fails", "error") and o.run is not None:
        return o.message + "\n" + textwrap.indent(o.run.to_table(), "    ")
    return o.message


def _follows_monitors(spec: Spec, report: CheckReport, options: dict) -> None:
    """A `follows` property whose monitor cannot be built is reported before any trace is seen."""
    from tracelogic.errors import TracelogicError
    from tracelogic.models.runtime import for_property

    bound = int(options.get("state_bound") or DEFAULT_STATE_BOUND)
    for prop in spec.properties:
        if prop.kind != "follows":
            continue
        try:
            for_property(spec, prop, bound=bound)
        except KeyError:
            continue  # the front end reports unknown models
        except TracelogicError as e:
            report.add(CheckResult("model", f"{prop.name}.follows", "unknown",
                                   f"the `follows` monitor cannot be built: {e.message}"
                                   + (f" ({e.hint})" if e.hint else ""),
                                   location=Location.of(prop.span),
                                   details={"reason": "unsupported"}))


@checker
def check_models(spec: Spec, report: CheckReport, options: dict) -> None:
    _follows_monitors(spec, report, options)
    machines: dict[str, Machine | UnsupportedModel] = {}
    names: dict[str, int] = {}
    for check in spec.checks:
        if check.target_kind != "model":
            continue
        base = f"{check.target}.{check.kind}"
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base}.{names[base]}"
        model = spec.models.get(check.target)
        if model is None:
            continue  # the front end already reported it
        if check.target not in machines:
            try:
                machines[check.target] = Machine(model)
            except UnsupportedModel as e:
                machines[check.target] = e
        machine = machines[check.target]
        if isinstance(machine, UnsupportedModel):
            report.add(CheckResult("model", name, "unknown", machine.message,
                                   location=Location.of(check.span),
                                   details={"reason": "unsupported"}))
            continue
        outcome = run_model_check(machine, check, options)
        related = []
        if outcome.error is not None and outcome.error.span is not None:
            related.append(Location.of(outcome.error.span))
        report.add(CheckResult("model", name, outcome.status, _message(outcome),
                               location=Location.of(check.span), related=related,
                               details=dict(outcome.details, engine=outcome.engine)))
