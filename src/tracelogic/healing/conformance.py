"""Controller conformance: the decisions in the audit trail against the declaration.

A `run controller` policy (docs/control.md §9) records, for every period, the
metric it read, the controller's state before and after, and the action's
arguments. This module replays each recorded run in the exact simulator
(:mod:`tracelogic.models.control_sim`, the same reading as `tracelogic simulate
--observed`) on the recorded metric sequence and reports every recorded value
that differs from the declaration's: the state a period started in, the state it
led to, an argument that names a controller value (`replicas: replicas`), in
the action row and in its `plan` audit event. A period missing from a run, or a
recorded metric that is not a number, is reported too, so an edited or
truncated trail is never silently accepted.

A divergence is a violation of the property ``POLICY.conformance``, of kind
``controller-conformance``; :func:`violation_json` gives its JSON (the
monitor's shape: ``property``, ``key``, ``kind``, ``message``, ``window``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tracelogic.healing.audit import AuditLog
from tracelogic.models.control_sim import ControllerError, Simulator, number, show
from tracelogic.spec.typed import ControllerT, HealT, Spec

KIND = "controller-conformance"


@dataclass
class Divergence:
    """One recorded value that the declaration does not give."""

    policy: str
    controller: str
    run: str
    period: int
    what: str  # "state", "next", "argument", "plan", "missing", "metric", "malformed"
    variable: str
    declared: Any
    recorded: Any
    action_id: str = ""
    time_ns: int = 0
    message: str = field(default="")

    def __post_init__(self) -> None:
        if not self.message:
            if self.what == "missing":
                self.message = (f"policy {self.policy}: run {self.run} of controller "
                                f"{self.controller} has no recorded period {self.period}: the "
                                f"trail cannot be replayed past it")
            elif self.what == "malformed":
                self.message = (f"policy {self.policy}: a recorded period of controller "
                                f"{self.controller} has no period number ({self.recorded!r})")
            elif self.what == "metric":
                self.message = (f"policy {self.policy}: period {self.period} recorded the "
                                f"metric {self.recorded!r}, not a number")
            else:
                where = {"state": "the state at the start of the period",
                         "next": "the decided state",
                         "argument": "the action's argument",
                         "plan": "the plan event's argument"}[self.what]
                self.message = (f"policy {self.policy}: controller {self.controller} diverges "
                                f"at period {self.period}: {where} {self.variable} = "
                                f"{self.recorded}, the declaration gives {self.declared}")


@dataclass
class ConformanceResult:
    """What was checked: periods replayed per policy, and the divergences."""

    periods: int = 0
    runs: int = 0
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.divergences


def _same(declared: Any, recorded: Any) -> bool:
    """Exact equality; a float argument (an exact value passed to an action as a float)
    equals the declared value when it is that value's nearest float."""
    if recorded is None or isinstance(recorded, bool):
        return False
    try:
        if isinstance(recorded, float):
            return float(Fraction(declared)) == recorded
        return number(recorded) == number(declared)
    except (ValueError, TypeError, ZeroDivisionError):
        return False


def _dict(x: Any) -> dict:
    """A recorded mapping, or {} when the trail holds something else (an edited trail must
    be reported, not crash the check)."""
    return x if isinstance(x, dict) else {}


def ctl_args(heal: HealT) -> dict[str, str]:
    """The policy's arguments that are exactly a controller value: argument -> value name."""
    return {name: e.payload[1] for name, e in heal.args
            if name is not None and e.op == "var" and isinstance(e.payload, tuple)
            and e.payload[0] == "ctl"}


def check_policy(heal: HealT, ctl: ControllerT, rows: list[dict],
                 plans: dict[str, dict] | None = None) -> ConformanceResult:
    """Replay ``rows`` (heal_actions rows of the policy, any order) run by run."""
    res = ConformanceResult()
    runs: dict[str, list[tuple[int, dict, dict]]] = {}
    malformed: list[Divergence] = []
    for row in rows:
        v = _dict(row.get("violation"))
        c = v.get("controller")
        if not isinstance(c, dict) or c.get("policy", heal.name) != heal.name:
            continue
        n = c.get("period")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            malformed.append(Divergence(
                policy=heal.name, controller=ctl.name, run=str(c.get("run")), period=-1,
                what="malformed", variable="period", declared=None, recorded=n,
                action_id=str(row.get("id", ""))))
            continue
        runs.setdefault(str(c.get("run")), []).append((n, c, row))
    res.divergences.extend(malformed)
    argmap = ctl_args(heal)
    for run, periods in sorted(runs.items()):
        res.runs += 1
        periods.sort(key=lambda x: x[0])
        sim = Simulator(ctl)
        for expected, (n, c, row) in enumerate(periods):
            t = row.get("updated_ns")
            base = dict(policy=heal.name, controller=ctl.name, run=run,
                        action_id=str(row.get("id", "")),
                        time_ns=t if isinstance(t, int) and not isinstance(t, bool) else 0)
            if n != expected:
                res.divergences.append(Divergence(**base, period=expected, what="missing",
                                                  variable="", declared=None, recorded=None))
                break
            try:
                p = sim.step(metric=number(c.get("metric")))
            except (TypeError, ValueError, ZeroDivisionError, ControllerError):
                res.divergences.append(Divergence(**base, period=n, what="metric", variable="",
                                                  declared=None, recorded=c.get("metric")))
                break
            res.periods += 1
            values = dict(p.lets)
            values.update(p.next)
            values[ctl.metric] = p.metric
            found = []
            for what, recorded, declared in (("state", _dict(c.get("state")), p.state),
                                             ("next", _dict(c.get("next")), p.next)):
                for var, val in declared.items():
                    if var not in recorded or not _same(val, recorded[var]):
                        found.append(Divergence(**base, period=n, what=what, variable=var,
                                                declared=show(val),
                                                recorded=recorded.get(var)))
            args = _dict(row.get("args"))
            plan_args = _dict(_dict((plans or {}).get(row.get("id", ""))).get("args"))
            for what, given in (("argument", args), ("plan", plan_args)):
                for arg, var in argmap.items():
                    if arg in given and var in values and not _same(values[var], given[arg]):
                        found.append(Divergence(**base, period=n, what=what, variable=arg,
                                                declared=show(values[var]),
                                                recorded=given[arg]))
            # after a divergence the replay goes on from the declared state: each later
            # period is judged by what the declaration gives on the recorded metrics
            res.divergences.extend(found)
    return res


def check_trail(spec: Spec, log: AuditLog) -> ConformanceResult:
    """Every `run controller` policy of ``spec`` over the trail in ``log``."""
    out = ConformanceResult()
    actions = log.actions()
    plans: dict[str, dict] = {}
    for ev in log.events():
        if ev.event == "plan":
            plans[ev.action_id] = ev.detail if isinstance(ev.detail, dict) else {}
    for heal in spec.heals:
        if heal.run is None or heal.run[0] not in spec.controllers:
            continue
        rows = [a for a in actions if a["policy"] == heal.name]
        r = check_policy(heal, spec.controllers[heal.run[0]], rows, plans)
        out.periods += r.periods
        out.runs += r.runs
        out.divergences.extend(r.divergences)
    return out


def violation_json(d: Divergence) -> dict:
    """The divergence as a violation of ``POLICY.conformance`` (the monitor's JSON shape)."""
    return {"property": f"{d.policy}.conformance", "kind": KIND,
            "key": f"{d.run}/{d.period}/{d.what}/{d.variable}", "severity": "error",
            "message": d.message,
            "window": {"start_unix_nano": d.time_ns, "end_unix_nano": d.time_ns},
            "details": {"controller": d.controller, "policy": d.policy, "run": d.run,
                        "period": d.period, "what": d.what, "variable": d.variable,
                        "declared": d.declared, "recorded": d.recorded,
                        "action_id": d.action_id},
            "trace_ids": [], "span_ids": []}
