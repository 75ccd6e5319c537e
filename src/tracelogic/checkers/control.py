"""`claim`s of `controller` declarations (docs/control.md): one result per claim.

Each claim becomes a :class:`CheckResult` of kind ``controller`` named
``CONTROLLER.CLAIM``, with status ``proved``, ``refuted`` or ``unknown``. A
refutation carries its counterexample, replayed in the exact simulator, in
``details["replay"]`` (the metric sequence to replay, one row per period,
the period of the violation and why) and its table in the message, as model
checks do; ``details["method"]`` names how the verdict was reached and
``details["invariant"]`` the inductive invariant a proof used.

Options: ``timeout`` (seconds per Z3 query, default 10; a claim takes at most 3× that)
and ``control_depth``
(BMC periods; by default 30 plus what the claim needs).
"""
from __future__ import annotations

import textwrap

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.models.control import check_claim
from tracelogic.spec.typed import Spec


@checker
def check_controllers(spec: Spec, report: CheckReport, options: dict) -> None:
    timeout = float(options.get("timeout") or 10.0)
    depth = options.get("control_depth")
    for ctl in spec.controllers.values():
        for claim in ctl.claims:
            outcome = check_claim(ctl, claim, timeout=timeout,
                                  depth=int(depth) if depth is not None else None)
            message = outcome.message
            if outcome.counterexample is not None:
                message += "\n" + textwrap.indent(outcome.counterexample["table"], "    ")
            report.add(CheckResult("controller", f"{ctl.name}.{claim.name}", outcome.status,
                                   message, location=Location.of(claim.span),
                                   details=outcome.details()))
