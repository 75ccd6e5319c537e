"""Claims about declared controllers, proved or refuted with Z3 (docs/control.md §4).

A controller is a deterministic transition system whose only nondeterminism is
its input: the metric, free in an assumed range, or the plant's value plus a
bounded noise ν ∈ [−ε, ε]. Every claim becomes a safety property ``bad(s, i)``
of that system, extended with the auxiliary state it needs (a period counter for
`converges`, the periods since the last scale-up for `no_flap`, a flag for the
first period when the load steps, and the history of each `max_over` window):

- **refutation** by bounded model checking (Biere, Cimatti, Clarke, Zhu, TACAS
  1999): the shortest run to a bad state, its metric sequence replayed in the
  exact simulator (:mod:`tracelogic.models.control_sim`) before it is reported;
- **proof** by k-induction (Sheeran, Singh, Stålmarck, FMCAD 2000) strengthened
  with interval and relational invariants found by Houdini (Flanagan, Leino, FME
  2001): candidates ``v ≥ c``, ``v ≤ c`` for the constants of the loop, and
  ``h ≤ v``/``h ≥ v`` between a window's history and the state, are pruned until
  the rest is inductive;
- ``bounded v`` without a range (no wind-up): refuted by a **drifting lasso**, a
  run that returns to the same state except for ``v``, which changed by Δ ≠ 0,
  with Z3 proving that for every t ≥ 0 the same inputs from ``v + tΔ`` lead to
  ``v + (t+1)Δ`` (so ``v`` grows without bound); proved when the Houdini invariant
  bounds ``v`` on both sides.

Reals are Z3 reals, ints Z3 ints; `round` (half away from zero), `ceil` and
`floor` are encoded exactly with ``to_int``; a division by zero reachable in a
period is itself a violation of every claim.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import z3

from tracelogic.models.control_sim import (ControllerError, Period, Simulator, number, show,
                                           window_length, windows)
from tracelogic.semantics.z3enc import (builtin_term, coerce, floordiv_term, mod_term,
                                        to_real)
from tracelogic.spec import types as T
from tracelogic.spec.typed import ClaimT, ControllerT, TExpr
from tracelogic.spec.walker import drive

BUDGET_FACTOR = 3       # a claim takes at most this many times the per-query timeout
DEFAULT_DEPTH = 30      # periods of BMC beyond what a claim itself needs
MAX_K = 4               # k-induction depth
LASSO_DEPTH = 12        # periods searched for a drifting lasso


class _OutOfTime(Exception):
    """The claim's time budget is spent (private: caught in :func:`check_claim`)."""


@dataclass
class ClaimOutcome:
    """The verdict on one claim: ``proved``, ``refuted`` (with a replayed counterexample),
    or ``unknown`` (with why)."""

    status: str
    message: str
    method: str
    counterexample: dict | None = None
    invariant: list[str] = field(default_factory=list)

    def details(self) -> dict:
        out: dict = {"method": self.method}
        if self.counterexample is not None:
            out["replay"] = self.counterexample
        if self.invariant:
            out["invariant"] = self.invariant
        return out


def _num(v: Any):
    f = Fraction(v)
    return z3.RealVal(f"{f.numerator}/{f.denominator}") if f.denominator != 1 \
        else z3.IntVal(f.numerator)


def _int_result(x):
    return x if z3.is_int(x) else None


def z3_round(x):
    """Half away from zero: ``x ≥ 0 ? ⌊x + ½⌋ : −⌊−x + ½⌋``."""
    if z3.is_int(x):
        return x
    half = z3.RealVal("1/2")
    return z3.If(x >= 0, z3.ToInt(x + half), -z3.ToInt(-x + half))


def _value(model: z3.ModelRef, term) -> Any:
    v = model.eval(term, model_completion=True)
    if z3.is_true(v) or z3.is_false(v):
        return z3.is_true(v)
    if z3.is_int_value(v):
        return v.as_long()
    if z3.is_rational_value(v):
        return number(Fraction(v.numerator_as_long(), v.denominator_as_long()))
    if z3.is_algebraic_value(v):
        raise ControllerError("an irrational value in a counterexample")
    return number(Fraction(str(v)))


# ---------------------------------------------------------------------------- the system

class System:
    """The controller as a transition system for one claim (its environment and aux state).

    A state is a dict name -> Z3 term: the controller's variables, ``first`` (period 0,
    when the load has its `from` value), for each window j its history ``hv{j}_{i}``
    (valid) and ``h{j}_{i}`` (value), i = 0 the most recent, and the claim's counters.
    """

    def __init__(self, ctl: ControllerT, claim: ClaimT):
        self.ctl = ctl
        self.claim = claim
        self.windows = windows(ctl)
        self.lengths = [window_length(ctl, w) for w in self.windows]
        self.sorts: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}  # name -> "var" | "first" | "hist_valid" | …
        for name, typ, _ in ctl.vars:
            self.sorts[name] = z3.IntSort() if typ == T.INT else z3.RealSort()
            self.kinds[name] = "var"
        if ctl.load is not None:
            self.sorts["first"] = z3.BoolSort()
            self.kinds["first"] = "first"
        for j, w in enumerate(self.windows):
            sort = z3.IntSort() if T.base(w.type) == T.INT else z3.RealSort()
            for i in range(self.lengths[j] - 1):
                self.sorts[f"hv{j}_{i}"] = z3.BoolSort()
                self.kinds[f"hv{j}_{i}"] = "hist_valid"
                self.sorts[f"h{j}_{i}"] = sort
                self.kinds[f"h{j}_{i}"] = "hist"
        self.flap_periods = 0
        if claim.kind == "converges":
            self.sorts["t"] = z3.IntSort()
            self.kinds["t"] = "counter"
        if claim.kind == "no_flap":
            self.flap_periods = max(1, claim.window_ns // ctl.period_ns)
            self.sorts["since_up"] = z3.IntSort()
            self.kinds["since_up"] = "counter"
        self.free_metric = claim.assuming is not None or ctl.plant is None
        self.deadline: float | None = None  # time.monotonic() when the claim's budget ends

    def ms(self, per_query_ms: int) -> int:
        """The Z3 timeout of the next query: the per-query limit, or what is left of the
        claim's budget; :class:`_OutOfTime` once it is spent."""
        if self.deadline is None:
            return per_query_ms
        left = int((self.deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise _OutOfTime()
        return max(1, min(per_query_ms, left))

    # -- states
    def fresh(self, tag: str) -> dict:
        return {n: z3.Const(f"{n}@{tag}", s) for n, s in self.sorts.items()}

    def init_values(self) -> dict:
        out: dict[str, Any] = {n: number(v) for n, _, v in self.ctl.vars}
        if "first" in self.sorts:
            out["first"] = True
        for n, k in self.kinds.items():
            if k == "hist_valid":
                out[n] = False
            elif k == "hist":
                out[n] = 0
        if "t" in self.sorts:
            out["t"] = 0
        if "since_up" in self.sorts:
            out["since_up"] = self.flap_periods + 1
        return out

    def init(self, s: dict) -> list:
        out = []
        for n, v in self.init_values().items():
            out.append(s[n] == (z3.BoolVal(v) if isinstance(v, bool) else _num(v)))
        return out

    def env_constraint(self, s: dict) -> list:
        """What every state satisfies by construction (counters in range)."""
        out = []
        if "t" in s:
            out += [s["t"] >= 0, s["t"] <= self.claim.periods + 1]
        if "since_up" in s:
            out += [s["since_up"] >= 1, s["since_up"] <= self.flap_periods + 1]
        return out

    # -- inputs
    def fresh_input(self, tag: str) -> tuple[Any, list]:
        c = self.claim
        x = z3.Const(f"in@{tag}", z3.RealSort())
        if self.free_metric:
            lo, hi = c.assuming if c.assuming is not None else (None, None)
            cons = [] if lo is None else [x >= _num(lo), x <= _num(hi)]
            if self.ctl.metric_type == T.INT:
                x = z3.Const(f"in@{tag}", z3.IntSort())
                cons = [] if lo is None else [x >= _num(lo), x <= _num(hi)]
            return x, cons
        eps = Fraction(self.ctl.noise)
        if eps == 0:
            return z3.RealVal(0), []  # no noise: the plant alone decides, BMC folds it
        return x, [x >= _num(-eps), x <= _num(eps)]

    # -- one period
    def step(self, s: dict, inp) -> tuple[dict, dict]:
        """(next state terms, info): info holds ``metric``, ``lets``, ``safe`` (no division
        by zero this period), ``load``."""
        ctl = self.ctl
        env: dict[str, Any] = {n: s[n] for n, _, _ in ctl.vars}
        load = None
        divisions: list = []
        if ctl.load is not None:
            load = z3.If(s["first"], to_real(_num(ctl.load[1])), to_real(_num(ctl.load[2])))
            env[ctl.load[0]] = load
        if self.free_metric:
            metric = inp
        else:
            metric = to_real(self._enc(ctl.plant, env, {}, divisions, z3.BoolVal(True), s)) + inp
        env[ctl.metric] = metric
        current: dict[int, Any] = {}
        lets = {}
        for name, e in ctl.lets:
            env[name] = lets[name] = self._enc(e, env, current, divisions, z3.BoolVal(True), s)
        nxt: dict[str, Any] = dict(s)
        for name, e in ctl.updates:
            v = self._enc(e, env, current, divisions, z3.BoolVal(True), s)
            nxt[name] = to_real(v) if z3.is_real(s[name]) else v
        if "first" in s:
            nxt["first"] = z3.BoolVal(False)
        for j in range(len(self.windows)):
            n = self.lengths[j] - 1
            if n == 0:
                continue
            x = current.get(j)
            valid = z3.BoolVal(True) if x is not None else s[f"hv{j}_0"]
            nxt[f"hv{j}_0"] = valid
            nxt[f"h{j}_0"] = x if x is not None else s[f"h{j}_0"]
            for i in range(1, n):
                nxt[f"hv{j}_{i}"] = s[f"hv{j}_{i - 1}"] if x is not None else s[f"hv{j}_{i}"]
                nxt[f"h{j}_{i}"] = s[f"h{j}_{i - 1}"] if x is not None else s[f"h{j}_{i}"]
        c = self.claim
        if "t" in s:
            nxt["t"] = z3.If(s["t"] >= c.periods + 1, s["t"], s["t"] + 1)
        if "since_up" in s:
            r, r2 = s[c.var], nxt[c.var]
            nxt["since_up"] = z3.If(r2 > r, z3.IntVal(1),
                                    z3.If(s["since_up"] > self.flap_periods, s["since_up"],
                                          s["since_up"] + 1))
        safe = z3.And(*[z3.Implies(cond, d != 0) for cond, d in divisions]) if divisions \
            else z3.BoolVal(True)
        return nxt, {"metric": metric, "lets": lets, "safe": safe, "load": load}

    def bad(self, s: dict, nxt: dict, info: dict) -> Any:
        """The claim fails in this period (or a division by zero happens in it)."""
        c = self.claim
        unsafe = z3.Not(info["safe"])
        if c.kind == "always":
            env = {n: s[n] for n, _, _ in self.ctl.vars}
            return z3.Or(unsafe, z3.Not(self._enc(c.cond, env, {}, [], z3.BoolVal(True), s)))
        if c.kind == "bounded":
            if c.range is None:
                return unsafe
            v = s[c.var]
            lo, hi = coerce(v, _num(c.range[0]))[1], coerce(v, _num(c.range[1]))[1]
            vv = coerce(v, lo)[0]
            return z3.Or(unsafe, vv < lo, vv > hi)
        if c.kind == "no_flap":
            r, r2 = s[c.var], nxt[c.var]
            return z3.Or(unsafe, z3.And(r2 < r, s["since_up"] <= self.flap_periods))
        if c.kind == "converges":
            env = {n: s[n] for n, _, _ in self.ctl.vars}
            if self.ctl.load is not None:
                env[self.ctl.load[0]] = to_real(_num(self.ctl.load[2]))
            target = to_real(self._enc(c.target, env, {}, [], z3.BoolVal(True), s))
            gap = to_real(s[c.var]) - target
            k = to_real(_num(c.within))
            return z3.Or(unsafe, z3.And(s["t"] >= c.periods + 1, z3.Or(gap > k, gap < -k)))
        raise ValueError(c.kind)

    # -- expressions
    def _enc(self, e: TExpr, env: dict, current: dict, divs: list, path, s: dict):
        """The Z3 term of ``e``; iterative (:func:`~tracelogic.spec.walker.drive`): a
        controller's expressions nest as deep as the spec allows."""
        return drive(self._enc_step(e, env, current, divs, path, s))

    def _enc_step(self, e: TExpr, env: dict, current: dict, divs: list, path, s: dict):
        """One node of :meth:`_enc`: yields its operands' steps, each with the path
        condition under which it is evaluated (divisions record it)."""
        op = e.op

        def rec(x, p=path):
            return self._enc_step(x, env, current, divs, p, s)

        if op == "lit":
            if isinstance(e.payload, bool):
                return z3.BoolVal(e.payload)
            v = _num(e.payload)
            return to_real(v) if T.base(e.type) == T.REAL else v
        if op == "var":
            return env[e.payload[1]]
        if op == "pred":
            return (yield rec(e.args[0]))
        if op == "neg":
            return -(yield rec(e.args[0]))
        if op in ("and", "or", "implies"):
            a = (yield rec(e.args[0]))
            b = (yield rec(e.args[1], z3.And(path, a if op in ("and", "implies")
                                             else z3.Not(a))))
            return z3.And(a, b) if op == "and" else z3.Or(a, b) if op == "or" \
                else z3.Implies(a, b)
        if op == "call" and e.payload == "ite":
            c = (yield rec(e.args[0]))
            a = (yield rec(e.args[1], z3.And(path, c)))
            b = (yield rec(e.args[2], z3.And(path, z3.Not(c))))
            a, b = coerce(a, b)
            return z3.If(c, a, b)
        if op == "call" and e.payload in ("max_over", "min_over"):
            j = self.windows.index(e)
            x = (yield rec(e.args[0]))
            current[j] = x
            out = x
            for i in range(self.lengths[j] - 1):
                h = s[f"h{j}_{i}"]
                a, b = coerce(out, h)
                better = b > a if e.payload == "max_over" else b < a
                out = z3.If(z3.And(s[f"hv{j}_{i}"], better), b, a)
            return out
        a = []
        for x in e.args:
            a.append((yield rec(x)))
        if op in ("+", "-", "*"):
            x, y = coerce(a[0], a[1])
            return x + y if op == "+" else x - y if op == "-" else x * y
        if op == "/":
            divs.append((path, a[1]))
            return to_real(a[0]) / to_real(a[1])
        if op in ("//", "%"):
            divs.append((path, a[1]))
            return (floordiv_term if op == "//" else mod_term)(a[0], a[1])
        if op == "cmp":
            x, y = coerce(a[0], a[1])
            return {"==": lambda: x == y, "!=": lambda: x != y, "<": lambda: x < y,
                    "<=": lambda: x <= y, ">": lambda: x > y,
                    ">=": lambda: x >= y}[e.payload]()
        if op == "not":
            return z3.Not(a[0])
        if op == "iff":
            return a[0] == a[1]
        if op == "xor":
            return z3.Xor(a[0], a[1])
        if op == "in":
            lo, hi = a[1]
            x, lo = coerce(a[0], lo)
            x, hi = coerce(x, hi)
            return z3.And(x >= lo, x <= hi)
        if op in ("range", "list"):
            return tuple(a)
        if op == "call":
            n = e.payload
            if n == "round":
                return z3_round(a[0])
            if n in ("abs", "ceil", "floor", "min", "max", "clamp"):
                return builtin_term(n, a)
        raise ControllerError(f"`{op}` cannot be encoded for a controller")


# ---------------------------------------------------------------------------- checking

def _unroll(sys: System, depth: int, solver: z3.Solver, s0: dict | None = None,
            tag: str = "b") -> tuple[list, list, list]:
    states = [s0 if s0 is not None else sys.fresh(f"{tag}0")]
    inputs, infos = [], []
    for k in range(depth):
        inp, cons = sys.fresh_input(f"{tag}{k}")
        solver.add(*cons)
        nxt_terms, info = sys.step(states[k], inp)
        nxt = sys.fresh(f"{tag}{k + 1}")
        solver.add(*[nxt[n] == nxt_terms[n] for n in sys.sorts])
        inputs.append(inp)
        infos.append((nxt_terms, info))
        states.append(nxt)
    return states, inputs, infos


def _next_state(sys: System, solver: z3.Solver, terms: dict, tag: str) -> dict:
    """The next state: a value where the step folds to one (a deterministic stretch of the
    run: no free input reached it), a fresh constant equal to the term elsewhere."""
    fresh = sys.fresh(tag)
    out = {}
    for n in sys.sorts:
        t = z3.simplify(terms[n])
        if z3.is_int_value(t) or z3.is_rational_value(t) or z3.is_true(t) or z3.is_false(t):
            out[n] = t
        else:
            solver.add(fresh[n] == t)
            out[n] = fresh[n]
    solver.add(*sys.env_constraint(out))
    return out


def bmc(sys: System, depth: int, timeout_ms: int) -> tuple[str, dict | None]:
    """("refuted", {"k": k, "inputs": [...]}) for the shortest bad run within ``depth``
    periods; ("clean", None) when none; ("unknown", {"reason"}) when Z3 gives up."""
    solver = z3.Solver()
    solver.set("timeout", sys.ms(timeout_ms))
    states = [sys.fresh("b0")]
    solver.add(*sys.init(states[0]))
    inputs = []
    for k in range(depth):
        inp, cons = sys.fresh_input(f"b{k}")
        solver.add(*cons)
        nxt_terms, info = sys.step(states[k], inp)
        inputs.append(inp)
        solver.push()
        solver.add(sys.bad(states[k], nxt_terms, info))
        solver.set("timeout", sys.ms(timeout_ms))
        r = solver.check()
        if r == z3.sat:
            m = solver.model()
            return "refuted", {"k": k, "inputs": [_value(m, i) for i in inputs]}
        solver.pop()
        if r == z3.unknown:
            return "unknown", {"reason": f"Z3 gave up at period {k}: {solver.reason_unknown()}"}
        states.append(_next_state(sys, solver, nxt_terms, f"b{k + 1}"))
    return "clean", None


def _constants(ctl: ControllerT, claim: ClaimT) -> list[Fraction]:
    pool: set[Fraction] = {Fraction(0)}
    for _, _, v in ctl.vars:
        pool.add(Fraction(v))
    roots = [v for _, v in ctl.lets] + [v for _, v in ctl.updates]
    if claim.cond is not None:
        roots.append(claim.cond)
    for root in roots:
        stack = [root]
        while stack:
            e = stack.pop()
            if e.op == "lit" and isinstance(e.payload, (int, Fraction)) \
                    and not isinstance(e.payload, bool) and T.base(e.type) != T.DURATION:
                pool.add(Fraction(e.payload))
            stack.extend(e.args)
    for r in (claim.range, claim.assuming):
        if r:
            pool.update(Fraction(x) for x in r)
    pool |= {-c for c in pool}  # `-500` is a negation of the literal 500
    return sorted(pool, key=lambda c: (abs(c), c))[:60]


def houdini(sys: System, timeout_ms: int) -> list[tuple[str, Callable]]:
    """The largest inductive conjunction of the candidate invariants that holds initially:
    (text, builder) pairs; builder(state) gives the Z3 condition."""
    cands: list[tuple[str, Callable]] = []
    consts = _constants(sys.ctl, sys.claim)
    numeric = [n for n, k in sys.kinds.items() if k in ("var",)]
    for n in numeric:
        for c in consts:
            cands.append((f"{n} >= {c}", lambda s, n=n, c=c: coerce(s[n], _num(c))[0]
                          >= coerce(s[n], _num(c))[1]))
            cands.append((f"{n} <= {c}", lambda s, n=n, c=c: coerce(s[n], _num(c))[0]
                          <= coerce(s[n], _num(c))[1]))
    for j in range(len(sys.windows)):
        for i in range(sys.lengths[j] - 1):
            hv, h = f"hv{j}_{i}", f"h{j}_{i}"
            if i + 1 < sys.lengths[j] - 1:
                cands.append((f"{hv.replace('hv', 'valid ')} >= later slot",
                              lambda s, a=hv, b=f"hv{j}_{i + 1}": z3.Implies(s[b], s[a])))
            for n in numeric:
                for rel in ("<=", ">="):
                    cands.append((f"history {j}[{i}] {rel} {n}",
                                  lambda s, hv=hv, h=h, n=n, rel=rel: z3.Implies(
                                      s[hv], (coerce(s[h], s[n])[0] <= coerce(s[h], s[n])[1])
                                      if rel == "<=" else
                                      (coerce(s[h], s[n])[0] >= coerce(s[h], s[n])[1]))))
    if "first" in sys.sorts:
        init = sys.init_values()
        for n in numeric:
            cands.append((f"first period -> {n} = {init[n]}",
                          lambda s, n=n, v=init[n]: z3.Implies(s["first"], s[n] == _num(v))))
        for n, k in sys.kinds.items():
            if k == "hist_valid":
                cands.append((f"first period -> history empty",
                              lambda s, n=n: z3.Implies(s["first"], z3.Not(s[n]))))
        if "t" in sys.sorts:
            cands.append(("first period <-> t = 0", lambda s: s["first"] == (s["t"] == 0)))
    # initial filter
    s0 = sys.fresh("h0")
    init = z3.And(*sys.init(s0))
    kept = []
    for text, build in cands:
        solver = z3.Solver()
        solver.set("timeout", sys.ms(timeout_ms))
        solver.add(init, z3.Not(build(s0)))
        if solver.check() == z3.unsat:
            kept.append((text, build))
    # induction filter
    s, = [sys.fresh("hs")]
    inp, cons = sys.fresh_input("hs")
    nxt_terms, info = sys.step(s, inp)
    for _ in range(len(kept) + 1):
        if not kept:
            break
        solver = z3.Solver()
        solver.set("timeout", sys.ms(timeout_ms))
        solver.add(*cons, *sys.env_constraint(s), *[b(s) for _, b in kept])
        solver.add(z3.Not(z3.And(*[b(nxt_terms) for _, b in kept])))
        r = solver.check()
        if r == z3.unsat:
            return _tightest(kept)
        if r == z3.unknown:
            return []
        m = solver.model()
        kept = [(t, b) for t, b in kept if z3.is_true(m.eval(b(nxt_terms), model_completion=True))]
    return kept


def _tightest(kept: list) -> list:
    """Drop the interval bounds a tighter kept bound implies (same conjunction, shorter)."""
    best: dict[tuple[str, str], Fraction] = {}
    for text, _ in kept:
        parts = text.split(" ")
        if len(parts) == 3 and parts[1] in (">=", "<="):
            c = Fraction(parts[2])
            key = (parts[0], parts[1])
            if key not in best or (c > best[key] if parts[1] == ">=" else c < best[key]):
                best[key] = c
    out = []
    for text, b in kept:
        parts = text.split(" ")
        if len(parts) == 3 and parts[1] in (">=", "<=") and \
                Fraction(parts[2]) != best[(parts[0], parts[1])]:
            continue
        out.append((text, b))
    return out


def k_induction(sys: System, inv: list, timeout_ms: int, max_k: int = MAX_K) -> int | None:
    """The k at which the step case holds (with the invariant), or None."""
    for k in range(1, max_k + 1):
        solver = z3.Solver()
        solver.set("timeout", sys.ms(timeout_ms))
        states = [sys.fresh("k0")]
        for j in range(k + 1):
            s = states[j]
            solver.add(*sys.env_constraint(s), *[b(s) for _, b in inv])
            inp, cons = sys.fresh_input(f"k{j}")
            solver.add(*cons)
            nxt_terms, info = sys.step(s, inp)
            bad = sys.bad(s, nxt_terms, info)
            solver.add(bad if j == k else z3.Not(bad))
            if j < k:
                nxt = sys.fresh(f"k{j + 1}")
                solver.add(*[nxt[n] == nxt_terms[n] for n in sys.sorts])
                states.append(nxt)
        if solver.check() == z3.unsat:
            return k
    return None


# ---------------------------------------------------------------------------- lasso

def drifting_lasso(sys: System, timeout_ms: int, depth: int = LASSO_DEPTH):
    """A run prefix + loop after which every state variable but the claim's is back, and
    the claim's has moved by Δ ≠ 0, proved to repeat for ever: (n, L, inputs, delta) or
    None."""
    var = sys.claim.var
    solver = z3.Solver()
    solver.set("timeout", sys.ms(timeout_ms))
    states, inputs, infos = _unroll(sys, depth, solver)
    solver.add(*sys.init(states[0]))
    solver.add(*[info["safe"] for _, info in infos])  # a run with no division by zero
    others = [n for n in sys.sorts if n != var]
    for L in (1, 2, 3, 4):
        for n in range(0, depth - L + 1):
            solver.push()
            a, b = states[n], states[n + L]
            solver.add(*[a[x] == b[x] for x in others], a[var] != b[var])
            solver.set("timeout", sys.ms(timeout_ms))
            r = solver.check()
            if r == z3.sat:
                m = solver.model()
                ins = [_value(m, i) for i in inputs[:n + L]]
                start = {x: _value(m, states[n][x]) for x in sys.sorts}
                delta = _value(m, b[var]) - _value(m, a[var])
                solver.pop()
                if _repeats_forever(sys, start, ins[n:], delta, timeout_ms):
                    return n, L, ins, delta
                continue
            solver.pop()
    return None


def _repeats_forever(sys: System, start: dict, loop_inputs: list, delta, timeout_ms: int) -> bool:
    """∀ t ≥ 0: the loop from ``start`` with var + tΔ returns to it with var + (t+1)Δ."""
    var = sys.claim.var
    t = z3.Real("t")
    s = {}
    for x, v in start.items():
        s[x] = z3.BoolVal(v) if isinstance(v, bool) else _num(v)
        if z3.is_int(s[x]) and sys.sorts[x] == z3.RealSort():
            s[x] = z3.ToReal(s[x])
    is_int = sys.sorts[var] == z3.IntSort()
    if is_int:
        ti = z3.Int("ti")
        s[var] = _num(start[var]) + ti * _num(delta)
        tt = ti
    else:
        s[var] = to_real(_num(start[var])) + t * to_real(_num(delta))
        tt = t
    cur = s
    safe = []
    for v in loop_inputs:
        nxt, info = sys.step(cur, _num(v) if not isinstance(v, bool) else v)
        safe.append(info["safe"])
        cur = nxt
    solver = z3.Solver()
    solver.set("timeout", sys.ms(timeout_ms))
    back = [cur[x] == s[x] for x in sys.sorts if x != var]
    moved = coerce(cur[var], s[var])[0] == coerce(s[var] + (_num(delta) if is_int else
                                                      to_real(_num(delta))), s[var])[0]
    solver.add(tt >= 0, z3.Not(z3.And(*back, moved, *safe)))
    return solver.check() == z3.unsat


# ---------------------------------------------------------------------------- replay

def violation(ctl: ControllerT, claim: ClaimT, run: list[Period],
              error: str | None = None) -> tuple[int, str] | None:
    """The first period of a simulated ``run`` at which ``claim`` fails, and how; the
    simulator's reading of the claim, independent of the Z3 encoding."""
    if error is not None:
        return len(run), error
    sim = Simulator(ctl)
    since_up = None
    if claim.kind == "no_flap":
        window = max(1, claim.window_ns // ctl.period_ns)
        since_up = window + 1
        last_up = None
    for p in run:
        st = p.state
        if claim.kind == "always":
            if not sim.evaluate(claim.cond, dict(st)):
                return p.n, f"the claim is false at period {p.n}: " + _state_text(st)
        elif claim.kind == "bounded" and claim.range is not None:
            lo, hi = claim.range
            if not lo <= st[claim.var] <= hi:
                return p.n, (f"{claim.var} = {show(st[claim.var])} at period {p.n}, outside "
                             f"{show(lo)}..{show(hi)}")
        elif claim.kind == "no_flap":
            r, r2 = st[claim.var], p.next[claim.var]
            if r2 < r and since_up <= window:
                return p.n, (f"scale-up at period {last_up} then scale-down at period {p.n} "
                             f"({claim.var} {show(r)} → {show(r2)}), {since_up} period(s) "
                             f"apart, within the {window}-period window")
            if r2 > r:
                since_up, last_up = 1, p.n
            elif since_up <= window:
                since_up += 1
        elif claim.kind == "converges" and p.n >= claim.periods + 1:
            env = dict(st)
            if ctl.load is not None:
                env[ctl.load[0]] = number(ctl.load[2])
            target = sim.evaluate(claim.target, env)
            if abs(st[claim.var] - target) > claim.within:
                return p.n, (f"{claim.var} = {show(st[claim.var])} at period {p.n}, "
                             f"{claim.periods} periods after the step, is more than "
                             f"{show(claim.within)} from the target {show(target)}")
    return None


def divergence(run: list[Period], var: str, observed: list) -> tuple | None:
    """The first period at whose start a real loop's ``var`` (``observed``, one value per
    period, one more for the state after the last) differs from the declared run's:
    (period, declared, observed), or None. Values beyond the run are not compared."""
    declared = [p.state[var] for p in run] + ([run[-1].next[var]] if run else [])
    for n, (d, o) in enumerate(zip(declared, observed)):
        if d != o:
            return n, show(d), show(o)
    return None


def _state_text(st: dict) -> str:
    return ", ".join(f"{k} = {show(v)}" for k, v in st.items())


def replay(ctl: ControllerT, metrics: list, noise: list | None = None) -> tuple[list[Period],
                                                                               str | None]:
    """Simulate a metric sequence (or, with ``noise``, the plant): the run and the runtime
    error that ended it, if any."""
    sim = Simulator(ctl)
    run: list[Period] = []
    try:
        if noise is not None:
            for nu in noise:
                run.append(sim.step(noise=nu))
        else:
            for m in metrics:
                run.append(sim.step(metric=m))
    except ControllerError as e:
        return run, e.message
    return run, None


def why(ctl: ControllerT, claim: ClaimT, run: list[Period]) -> str:
    """A sentence on the cause, read off the run: the first decision that moves away from
    the target for `converges`; for the rest the violation itself says it."""
    if claim.kind == "converges" and ctl.load is not None:
        sim = Simulator(ctl)
        for p in run[1:]:
            env = dict(p.state)
            env[ctl.load[0]] = number(ctl.load[2])
            target = sim.evaluate(claim.target, env)
            a, b = p.state[claim.var], p.next[claim.var]
            if abs(b - target) > abs(a - target):
                lets = ", ".join(f"{k} = {_short(v)}" for k, v in p.lets.items())
                direction = "down" if b < a else "up"
                return (f"at period {p.n} the metric {ctl.metric} = {_short(p.metric)} and the "
                        f"loop scales {direction}, {claim.var} {show(a)} → {show(b)}, away "
                        f"from the target {show(target)} ({lets})")
        return "it does not settle within the periods claimed"
    return ""


def _short(v: Any) -> str:
    if isinstance(v, Fraction) and v.denominator != 1:
        return f"{float(v):.4g}"
    return str(show(v))


def table(ctl: ControllerT, run: list[Period], loop_start: int | None = None) -> str:
    """The run as text: one row per period, `*` marking the state values that changed."""
    heads = ["period"] + (["load"] if ctl.load else []) + [ctl.metric] + \
        [n for n, _, _ in ctl.vars] + [n for n, _ in ctl.lets]
    rows = []
    prev = None
    for p in run:
        row = [str(p.n)] + ([_short(p.load)] if ctl.load else []) + [_short(p.metric)]
        for n, _, _ in ctl.vars:
            mark = "*" if prev is not None and prev[n] != p.state[n] else ""
            row.append(_short(p.state[n]) + mark)
        row += [_short(v) for v in p.lets.values()]
        rows.append(row)
        prev = p.state
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip()]
    for i, r in enumerate(rows):
        if loop_start is not None and i == loop_start:
            lines.append("-- loop starts here: it repeats for ever --")
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


def counterexample(ctl: ControllerT, run: list[Period], at: int, violated: str,
                   reason: str, loop_start: int | None = None) -> dict:
    return {"metric": [str(show(p.metric)) for p in run],
            "periods": [p.to_json() for p in run], "violation_period": at,
            "violation": violated, "why": reason, "loop_start": loop_start,
            "table": table(ctl, run, loop_start)}


# ---------------------------------------------------------------------------- driver

def check_claim(ctl: ControllerT, claim: ClaimT, *, timeout: float = 10.0,
                depth: int | None = None) -> ClaimOutcome:
    """Prove or refute one claim (module docstring); every refutation is replayed."""
    ms = max(1, int(timeout * 1000))
    sys = System(ctl, claim)
    sys.deadline = time.monotonic() + BUDGET_FACTOR * timeout
    need = (claim.periods + 2 if claim.kind == "converges" else 0) + sys.flap_periods + 1
    d = depth if depth is not None else DEFAULT_DEPTH
    d = max(d, need + 5) if depth is None else d
    try:
        return _check_claim(ctl, claim, sys, d, ms)
    except z3.Z3Exception as e:
        return ClaimOutcome("unknown", f"Z3 failed: {e}", "bmc")
    except ControllerError as e:
        return ClaimOutcome("unknown", e.message, "bmc")
    except _OutOfTime:
        return ClaimOutcome("unknown", f"no verdict within the claim's budget of "
                            f"{BUDGET_FACTOR * timeout:g} s ({BUDGET_FACTOR} × --timeout)",
                            "budget")


def _refuted(ctl: ControllerT, claim: ClaimT, sys: System, inputs: list,
             how: str) -> ClaimOutcome:
    if sys.free_metric:
        run, err = replay(ctl, inputs)
    else:
        run, err = replay(ctl, [], noise=inputs)
    v = violation(ctl, claim, run, err)
    if v is None:
        raise AssertionError(f"claim {claim.name}: the Z3 counterexample does not replay in "
                             "the simulator (an encoding bug)")
    at, text = v
    reason = why(ctl, claim, run)
    cex = counterexample(ctl, run[:at + 1], at, text, reason)
    if err is not None and sys.free_metric and len(run) < len(inputs):
        # the period that failed has no row; its metric is still part of the replay
        cex["metric"].append(str(show(inputs[len(run)])))
    msg = f"refuted ({how}): {text}" + (f"; why: {reason}" if reason else "")
    return ClaimOutcome("refuted", msg, how, cex)


def _check_claim(ctl: ControllerT, claim: ClaimT, sys: System, depth: int,
                 ms: int) -> ClaimOutcome:
    if claim.kind == "bounded" and claim.range is None:
        inv = houdini(sys, ms)
        texts = [t for t, _ in inv]
        lo = any(t.startswith(f"{claim.var} >= ") for t in texts)
        hi = any(t.startswith(f"{claim.var} <= ") for t in texts)
        # `bad` is a division by zero here: bounded needs the run to be safe as well
        k = k_induction(sys, inv, ms) if lo and hi else None
        status, info = bmc(sys, k if k is not None else depth, ms)
        if status == "refuted":
            return _refuted(ctl, claim, sys, info["inputs"], "bmc")
        if k is not None:
            bounds = [t for t in texts if t.startswith(f"{claim.var} ")]
            return ClaimOutcome("proved", f"proved: {' and '.join(bounds)} is inductive "
                                "(interval invariant)", "houdini", invariant=texts)
        lasso = drifting_lasso(sys, ms)
        if lasso is None:
            return ClaimOutcome("unknown", f"no interval invariant bounds `{claim.var}` and "
                                f"no drifting loop within {LASSO_DEPTH} periods", "houdini+lasso")
        n, L, ins, delta = lasso
        reps = 3
        inputs = ins + ins[n:] * reps
        if sys.free_metric:
            run, err = replay(ctl, inputs)
        else:
            run, err = replay(ctl, [], noise=inputs)
        values = [p.state[claim.var] for p in run[n::L]]
        steps = [b - a for a, b in zip(values, values[1:])]
        if err is not None or not steps or any(s != delta for s in steps):
            raise AssertionError(f"claim {claim.name}: the drifting loop does not replay")
        others = {k: show(v) for k, v in run[n].state.items() if k != claim.var}
        text = (f"{claim.var} changes by {show(delta)} every {L} period(s) from period {n} on, "
                f"for ever, while the rest of the state repeats ({_state_text(others)})")
        reason = (f"the loop keeps the same decision while {claim.var} drifts: "
                  f"{', '.join(_short(v) for v in values)}, … (proved by Z3 for every "
                  "repetition: wind-up without bound)")
        cex = counterexample(ctl, run, n, text, reason, loop_start=n)
        cex["loop_length"] = L
        cex["drift_per_loop"] = show(delta)
        return ClaimOutcome("refuted", f"refuted (drifting lasso): {text}; why: {reason}",
                            "lasso", cex)
    # k-induction first: when its step case holds at k, the base case is BMC to depth k
    inv = houdini(sys, ms)
    k = k_induction(sys, inv, ms)
    texts = [t for t, _ in inv]
    status, info = bmc(sys, k if k is not None else depth, ms)
    if status == "refuted":
        return _refuted(ctl, claim, sys, info["inputs"], "bmc")
    if status == "unknown":
        return ClaimOutcome("unknown", info["reason"], "bmc")
    if k is not None:
        how = f"proved by {k}-induction" + (f" with {len(inv)} invariant(s) found by Houdini"
                                              if inv else "")
        return ClaimOutcome("proved", how, f"k-induction (k = {k})", invariant=texts)
    return ClaimOutcome("unknown", f"no violation within {depth} periods (BMC), but no "
                        f"k-induction proof up to k = {MAX_K}", "bmc+k-induction",
                        invariant=texts)
