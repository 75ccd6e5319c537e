"""A declared controller run as a healing policy (docs/control.md §9).

A policy ``heal NAME run controller CTL on metric "M" every D do ACTION(…)`` is
not triggered by violations: every ``D`` (the controller's period by default)
the healing controller takes the value of the OTLP metric ``M`` that ``serve``
received in that period (the latest data point), steps the declared controller
with the exact simulator (:class:`tracelogic.models.control_sim.Simulator`, so
the semantics are written once) and hands the period to the same decision path
as a violation: arguments (which read the controller's values), idempotency,
cooldown, limit, blast radius, conflicts, approval, dry-run, audit.

Each period becomes a synthetic violation body, stored with the action in the
audit trail: ``{"property": "controller:CTL", "key": "POLICY/RUN/N",
"controller": {name, run, period, metric, state, lets, next, values}}``. The
trail then holds everything needed to replay the run and check the recorded
decisions against the declaration (:mod:`tracelogic.healing.conformance`).

A period without a data point of ``M`` does not step the controller (the
declaration has no value for it): the trail records a ``skip`` event
(``no_metric``), never nothing.

A loop's state after each period (:meth:`ControlLoop.snapshot`: the run, the period
number, the state variables, the windows' histories, exactly) is saved in the store
with the period's decision, and a restarted ``serve`` continues that run from it
(:meth:`ControlLoop.restore`) when the declaration is unchanged
(:func:`fingerprint`): a PID's integral or an HPA's stabilization window survives a
restart instead of silently resetting, and the conformance check replays the run
across the restart as one run.
"""
from __future__ import annotations

import hashlib
import threading
from fractions import Fraction
from typing import Any, Iterable

from tracelogic.models.control_sim import ControllerError, Simulator, number, show
from tracelogic.spec.typed import ControllerT, HealT, TExpr


def fingerprint(ctl: ControllerT) -> str:
    """What the run's meaning depends on (not the claims, not the source positions): a
    saved state is continued only under the same fingerprint."""
    def shape(x: Any) -> Any:
        if isinstance(x, TExpr):
            return (x.op, repr(x.payload), repr(x.type), tuple(shape(a) for a in x.args))
        if isinstance(x, (tuple, list)):
            return tuple(shape(a) for a in x)
        if isinstance(x, dict):
            return tuple(sorted((k, shape(v)) for k, v in x.items()))
        return repr(x)
    text = repr(shape((ctl.name, ctl.period_ns, ctl.metric, ctl.metric_type, ctl.consts,
                       ctl.vars, ctl.lets, ctl.updates)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _exact(v: Any) -> Any:
    """A saved value back to the simulator's: bools stay, numbers are exact."""
    return v if isinstance(v, bool) or v is None else number(Fraction(v) if isinstance(
        v, str) else v)


class ControlLoop:
    """The running state of one `run controller` policy: the simulator, the latest
    metric value of the current period and when the next period is due."""

    def __init__(self, heal: HealT, ctl: ControllerT, start_ns: int):
        self.heal = heal
        self.ctl = ctl
        self.metric = heal.run[1]
        self.period_ns = int(heal.run[2])
        self.run_id = str(start_ns)  # a new run, unless restore() continues a saved one
        self.sim = Simulator(ctl)
        self.declaration = fingerprint(ctl)
        self.start_ns = start_ns
        self.due_ns = start_ns + self.period_ns
        self._latest: tuple[int, Any] | None = None  # (time_ns, value) in this period
        self._lock = threading.Lock()
        self.missed = 0

    def snapshot(self) -> dict:
        """The loop's state after its last period, as JSON (exact values as ``show``
        writes them): what :meth:`restore` continues from after a restart."""
        sim = self.sim
        return {"run": self.run_id, "period": sim.n, "missed": self.missed,
                "state": {k: show(v) for k, v in sim.state.items()},
                "history": [[show(x) for x in h] for h in sim.history]}

    def restore(self, saved: dict) -> None:
        """Continue the run of ``saved`` (a :meth:`snapshot`); raises ValueError (or
        TypeError) for one that does not fit the declaration, leaving the loop as it was."""
        sim = self.sim
        state = {k: _exact(v) for k, v in saved["state"].items()}
        history = [[_exact(x) for x in h] for h in saved["history"]]
        n, missed, run = saved["period"], saved.get("missed", 0), str(saved["run"])
        if set(state) != set(sim.state) or len(history) != len(sim.history) or any(
                len(h) > max(0, k - 1) for h, k in zip(history, sim.lengths)):
            raise ValueError("the saved state does not fit the declaration")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0 or not isinstance(
                missed, int):
            raise ValueError(f"a saved period of {n!r}")
        sim.state, sim.history, sim.n = state, history, n
        self.missed, self.run_id = missed, run

    def observe(self, points: Iterable[Any]) -> None:
        """Data points from serve: keep the latest of this loop's metric."""
        with self._lock:
            for p in points:
                if getattr(p, "metric", None) != self.metric:
                    continue
                value = getattr(p, "value", None)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if value != value or value in (float("inf"), float("-inf")):
                    continue  # NaN/inf: not a number the declaration can read
                t = int(getattr(p, "time_ns", 0) or 0)
                if self._latest is None or t >= self._latest[0]:
                    self._latest = (t, value)

    def due(self, now: int) -> bool:
        return now >= self.due_ns

    def step(self, now: int) -> tuple[dict | None, str]:
        """Close the current period: the synthetic violation body of its decision, or
        (None, reason) when it cannot step (no data point, a division by zero)."""
        with self._lock:
            latest, self._latest = self._latest, None
        window = {"start_unix_nano": self.due_ns - self.period_ns,
                  "end_unix_nano": self.due_ns}
        # a controller that fell behind (a long pause) closes one period per tick
        self.due_ns += self.period_ns
        if now - self.due_ns > 10 * self.period_ns:
            self.due_ns = now + self.period_ns  # skip ahead rather than replay stale periods
        n = self.sim.n
        if latest is None:
            self.missed += 1
            return None, (f"no data point of metric `{self.metric}` in period {n} of "
                          f"controller `{self.ctl.name}`: the controller did not step")
        try:
            p = self.sim.step(metric=number(latest[1]))
        except ControllerError as e:
            return None, f"controller `{self.ctl.name}` failed in period {n}: {e}"
        values = {k: show(v) for k, v in p.lets.items()}
        values.update({k: show(v) for k, v in p.next.items()})
        values[self.ctl.metric] = show(p.metric)
        body = {
            "property": f"controller:{self.ctl.name}",
            "key": f"{self.heal.name}/{self.run_id}/{n}",
            "kind": "controller",
            "window": window,
            "controller": {
                "name": self.ctl.name, "policy": self.heal.name, "run": self.run_id,
                "period": n, "metric_name": self.metric, "metric": show(p.metric),
                "state": {k: show(v) for k, v in p.state.items()},
                "lets": {k: show(v) for k, v in p.lets.items()},
                "next": {k: show(v) for k, v in p.next.items()},
                "values": values,
            },
        }
        return body, ""
