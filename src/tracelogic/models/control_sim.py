"""Exact simulation of a declared controller (docs/control.md §3).

The simulator is the second, independent reading of a controller: the Z3
encoding in :mod:`tracelogic.models.control` proves or refutes claims, and every
refutation is replayed here (exact rationals, no solver) before it is reported;
the tests also check random metric sequences against the proved claims here.

Semantics, per period n = 0, 1, 2, …:

1. the load is the step's `from` value at n = 0 and its `to` value from n = 1;
2. the metric is given (a replayed or assumed sequence), or is the plant's value
   in the current state plus the period's noise ν ∈ [−ε, ε];
3. the `let`s are evaluated in order, then every `next` assignment reads this
   period's values (simultaneous assignment);
4. `max_over(x, W)` is the maximum of x over this period and the previous
   ⌈W / period⌉ − 1 periods (fewer at the start), `min_over` likewise;
5. `round` rounds half away from zero (2.5 → 3, −2.5 → −3), `ceil`/`floor` are
   exact, `/` is exact division, `//` and `%` floor; a division by zero is a
   runtime error of the controller (:class:`ControllerError`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Sequence

from tracelogic.errors import TracelogicError
from tracelogic.spec.typed import ControllerT, TExpr
from tracelogic.spec.walker import drive
from tracelogic.values.arith import COMPARE, EXACT, clamp, round_half_away


class ControllerError(TracelogicError, ValueError):
    """A runtime error of the controller (a division by zero) in a simulated period, or a
    run it cannot make (no plant and no metric)."""


Number = Fraction | int


def number(v: Any) -> Number:
    """An exact number from an int, a Fraction, a decimal string or a float."""
    if isinstance(v, bool):
        raise TypeError("a metric value is a number, not a bool")
    if isinstance(v, int):
        return v
    f = Fraction(v) if not isinstance(v, float) else Fraction(str(v))
    return int(f) if f.denominator == 1 else f


def windows(ctl: ControllerT) -> list[TExpr]:
    """Every `max_over`/`min_over` node of the loop, in a fixed order (lets, then
    updates, depth first): each keeps its own history."""
    out: list[TExpr] = []
    roots = [v for _, v in ctl.lets] + [v for _, v in ctl.updates]
    for root in roots:
        stack = [root]
        while stack:
            e = stack.pop()
            if e.op == "call" and e.payload in ("max_over", "min_over") and e not in out:
                out.append(e)  # equal windows (same value, same length) share one history
            stack.extend(reversed(e.args))
    return out


def window_length(ctl: ControllerT, node: TExpr) -> int:
    """How many periods a window covers, the current one included: ⌈W / period⌉."""
    return max(1, -(-node.args[1].payload // ctl.period_ns))


@dataclass
class Period:
    """One simulated period: its inputs, the state it starts in, the `let` values and
    the state it leads to."""

    n: int
    load: Number | None
    metric: Number
    noise: Number | None
    state: dict
    lets: dict
    next: dict
    history: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"period": self.n, "load": show(self.load), "metric": show(self.metric),
                "noise": show(self.noise), "state": {k: show(v) for k, v in self.state.items()},
                "lets": {k: show(v) for k, v in self.lets.items()},
                "next": {k: show(v) for k, v in self.next.items()}}


def show(v: Any) -> Any:
    """A number for JSON and text: an int, or an exact fraction as a string ("301/3")."""
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else str(v)
    return v


class Simulator:
    """Steps a controller period by period, exactly."""

    def __init__(self, ctl: ControllerT, state: dict | None = None):
        self.ctl = ctl
        self.windows = windows(ctl)
        self.lengths = [window_length(ctl, w) for w in self.windows]
        self.state = {n: number(init) for n, _, init in ctl.vars}
        if state:
            self.state.update({k: number(v) for k, v in state.items()})
        self.history: list[list] = [[] for _ in self.windows]  # most recent first
        self.n = 0

    def load(self, n: int) -> Number | None:
        if self.ctl.load is None:
            return None
        return number(self.ctl.load[1] if n == 0 else self.ctl.load[2])

    def plant(self) -> Number:
        env = dict(self.state)
        if self.ctl.load is not None:
            env[self.ctl.load[0]] = self.load(self.n)
        return self._eval(self.ctl.plant, env, {})

    def step(self, metric: Any = None, noise: Any = None) -> Period:
        """One period: with ``metric`` given, it is the observation; otherwise the plant's
        value plus ``noise`` (0 by default)."""
        ctl = self.ctl
        load = self.load(self.n)
        if metric is None:
            if ctl.plant is None:
                raise ControllerError(f"controller `{ctl.name}` has no plant: give the metric")
            nu = number(noise or 0)
            metric = number(self.plant() + nu)
        else:
            metric, nu = number(metric), None
        env: dict = dict(self.state)
        env[ctl.metric] = metric
        if ctl.load is not None:
            env[ctl.load[0]] = load
        current: dict[int, Number] = {}  # window index -> this period's value
        lets = {}
        for name, e in ctl.lets:
            env[name] = lets[name] = self._eval(e, env, current)
        nxt = dict(self.state)
        for name, e in ctl.updates:
            nxt[name] = number(self._eval(e, env, current))
        period = Period(self.n, load, metric, nu, dict(self.state), lets, nxt,
                        [list(h) for h in self.history])
        for i, w in enumerate(self.windows):
            if i in current:
                self.history[i] = ([current[i]] + self.history[i])[:self.lengths[i] - 1]
        self.state = nxt
        self.n += 1
        return period

    def evaluate(self, e: TExpr, env: dict) -> Any:
        """The value of ``e`` (no window in it) over ``env``: for claims and targets."""
        return self._eval(e, env, {})

    def _eval(self, e: TExpr, env: dict, current: dict) -> Any:
        """The value of ``e``; iterative (:func:`~tracelogic.spec.walker.drive`): a
        controller's expressions nest as deep as the spec allows."""
        return drive(self._eval_step(e, env, current))

    def _eval_step(self, e: TExpr, env: dict, current: dict):
        """One node of :meth:`_eval`: yields its operands' steps (`&`, `|`, `->` and
        `ite` only those they need)."""
        op = e.op
        if op == "lit":
            return e.payload if isinstance(e.payload, (bool, int)) else Fraction(e.payload)
        if op == "var":
            return env[e.payload[1]]
        if op == "pred":
            return (yield self._eval_step(e.args[0], env, current))
        if op == "neg":
            return -(yield self._eval_step(e.args[0], env, current))
        if op == "and":
            for a in e.args:
                if not (yield self._eval_step(a, env, current)):
                    return False
            return True
        if op == "or":
            for a in e.args:
                if (yield self._eval_step(a, env, current)):
                    return True
            return False
        if op == "implies":
            return (not (yield self._eval_step(e.args[0], env, current))) or \
                (yield self._eval_step(e.args[1], env, current))
        if op == "call" and e.payload == "ite":
            c = yield self._eval_step(e.args[0], env, current)
            return (yield self._eval_step(e.args[1] if c else e.args[2], env, current))
        if op == "call" and e.payload in ("max_over", "min_over"):
            x = yield self._eval_step(e.args[0], env, current)
            i = self.windows.index(e)
            current[i] = x
            vals = [x] + self.history[i]
            return max(vals) if e.payload == "max_over" else min(vals)
        a = []
        for x in e.args:
            a.append((yield self._eval_step(x, env, current)))
        if op in EXACT:  # the language's arithmetic (values.arith)
            try:
                r = EXACT[op](a[0], a[1])
            except ZeroDivisionError:
                raise ControllerError(f"division by zero in period {self.n}",
                                      hint=f"at line {e.span.line}" if e.span.line else None
                                      ) from None
            return number(r) if op == "/" else r
        if op == "cmp":
            return COMPARE[e.payload](a[0], a[1])
        if op == "not":
            return not a[0]
        if op == "iff":
            return a[0] == a[1]
        if op == "xor":
            return a[0] != a[1]
        if op == "in":
            lo, hi = a[1]
            return lo <= a[0] <= hi
        if op in ("range", "list"):
            return tuple(a)
        if op == "call":
            n = e.payload
            if n == "abs":
                return abs(a[0])
            if n == "ceil":
                return math.ceil(Fraction(a[0]))
            if n == "floor":
                return math.floor(Fraction(a[0]))
            if n == "round":
                return round_half_away(a[0])
            if n == "min":
                return min(a)
            if n == "max":
                return max(a)
            if n == "clamp":
                return clamp(a[0], a[1], a[2])
        raise ControllerError(f"`{op}` cannot be simulated in a controller")


def simulate(ctl: ControllerT, metrics: Sequence[Any] | None = None, *,
             noise: Iterable[Any] | None = None, periods: int | None = None,
             state: dict | None = None) -> list[Period]:
    """Run ``ctl`` from its initial state (or ``state``): on the given metric sequence, or
    closed through its plant with the given noise sequence (0 when omitted) for
    ``periods`` periods. The replay of a counterexample is
    ``simulate(ctl, cex["metric"])``."""
    sim = Simulator(ctl, state)
    out = []
    if metrics is not None:
        for m in metrics:
            out.append(sim.step(metric=m))
        return out
    nus = list(noise) if noise is not None else []
    count = periods if periods is not None else len(nus)
    for i in range(count):
        out.append(sim.step(noise=nus[i] if i < len(nus) else 0))
    return out
