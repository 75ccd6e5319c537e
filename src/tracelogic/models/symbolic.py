"""Symbolic model checking of state invariants with Z3: BMC, k-induction and PDR (Spacer).

The model's variables at step ``k`` are Z3 constants (``x`` for step 0, ``x@k``
after), encoded with the shared :mod:`tracelogic.semantics.z3enc` plumbing, so
``//`` and ``%`` are floor division and modulo as everywhere else.

- ``Init(s)``: every variable equals its initial value.
- ``T(s, s')``: some action's guard holds in ``s`` and ``s'`` is its result
  (assignments are simultaneous; unassigned variables keep their values), and
  ``s'`` is within the variables' types.
- ``Safe(s)``: no action is about to fail in ``s``: no enabled action assigns a
  value outside its variable's type, and no division on an evaluated path has
  a zero divisor. Every check proves ``P(s) ∧ Safe(s)``, so a proof also rules
  out runtime errors of the model, and a counterexample may end in one.

Engines:

- :func:`k_induction`: for ``k = 1, 2, …``: the base case is BMC at depth
  ``k - 1`` (incremental, so the first counterexample found is a shortest one);
  the step case assumes ``P ∧ Safe`` on ``k`` consecutive **distinct** states
  (simple paths make it complete for finite state spaces) and proves it after
  one more transition.
- :func:`pdr`: the constrained Horn clauses ``Init(s) → Inv(s)``,
  ``Inv(s) ∧ T(s, s') → Inv(s')``, ``Inv(s) ∧ ¬(P ∧ Safe)(s) → false`` solved by
  Z3's Spacer engine (``SolverFor("HORN")``). ``sat`` means safe, and the model
  of ``Inv`` is an inductive invariant, which we report; ``unsat`` means a bad
  state is reachable, and :func:`bmc` then finds a shortest run to one.

Z3 answering ``unknown`` or timing out is ``unknown``, never a proof.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from tracelogic.semantics.z3enc import Encoder, from_model, sort_of, type_constraints, value_of
from tracelogic.errors import UnhandledNode
from tracelogic.models.machine import Machine, UnsupportedModel
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr

__all__ = ["Symbolic", "SymResult", "k_induction", "pdr", "bmc"]


@dataclass
class SymResult:
    status: str                      # "proved" | "refuted" | "unknown"
    engine: str
    k: int | None = None             # k of k-induction / depth of the counterexample
    states: list[tuple] | None = None
    invariant: str | None = None     # PDR's inductive invariant, as Z3 prints it
    reason: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class Symbolic:
    """The Z3 encoding of one :class:`Machine`; see the module docstring."""

    def __init__(self, machine: Machine):
        self.m = machine
        self._vars: dict[int, list] = {}
        for v in machine.vars:
            try:
                sort_of(v.type)
            except UnhandledNode as e:
                raise UnsupportedModel(f"variable `{v.name}` of type {v.type} has no Z3 encoding",
                                       value=v.type) from e

    def vars(self, k: int) -> list:
        vs = self._vars.get(k)
        if vs is None:
            suffix = "" if k == 0 else f"@{k}"
            vs = [z3.Const(v.name + suffix, sort_of(v.type)) for v in self.m.vars]
            self._vars[k] = vs
        return vs

    def env(self, k: int) -> dict:
        return {("model", v.name): x for v, x in zip(self.m.vars, self.vars(k))}

    def types(self, k: int) -> list:
        out = []
        for v, x in zip(self.m.vars, self.vars(k)):
            out += type_constraints(x, v.type)
        return out

    def init(self, k: int = 0):
        return z3.And([x == value_of(v.type, val)
                       for v, x, val in zip(self.m.vars, self.vars(k), self.m.init)] or
                      [z3.BoolVal(True)])

    def encode(self, e: TExpr, k: int):
        """(term, list of zero-divisor conditions) of a state expression at step ``k``."""
        enc = Encoder(self.env(k)).encode(e)
        return enc.term, [z3.And(cond, div == 0) for cond, div, _ in enc.divisions]

    def trans(self, k: int):
        cur, nxt = self.vars(k), self.vars(k + 1)
        options = []
        for action in self.m.actions:
            guard = self.encode(action.guard, k)[0] if action.guard is not None else z3.BoolVal(True)
            assigned = {}
            for var, value in action.assigns:
                assigned[self.m.var_index[var]] = self.encode(value, k)[0]
            eqs = []
            for i, v in enumerate(self.m.vars):
                rhs = assigned.get(i, cur[i])
                eqs.append(nxt[i] == _fit(rhs, nxt[i]))
            options.append(z3.And([guard] + eqs))
        return z3.And([z3.Or(options) if options else z3.BoolVal(False)] + self.types(k + 1))

    def safe(self, k: int):
        errors = []
        for action in self.m.actions:
            if action.guard is not None:
                guard, divs = self.encode(action.guard, k)
                errors += divs
            else:
                guard = z3.BoolVal(True)
            for var, value in action.assigns:
                term, divs = self.encode(value, k)
                errors += [z3.And(guard, d) for d in divs]
                vinfo = self.m.vars[self.m.var_index[var]]
                b = T.base(vinfo.type)
                if isinstance(b, T.EnumType) or b == T.BOOL:
                    continue
                cons = type_constraints(_fit(term, self.vars(k)[vinfo.index]), vinfo.type)
                if cons:
                    errors.append(z3.And(guard, z3.Not(z3.And(cons))))
        return z3.Not(z3.Or(errors)) if errors else z3.BoolVal(True)

    def good(self, prop: TExpr, k: int):
        """``P ∧ Safe`` at step ``k``; a zero divisor in ``P`` itself also counts as bad."""
        term, divs = self.encode(prop, k)
        parts = [term, self.safe(k)] + [z3.Not(d) for d in divs]
        return z3.And(parts)

    def state_of(self, model: z3.ModelRef, k: int) -> tuple:
        out = []
        for v, x in zip(self.m.vars, self.vars(k)):
            val = from_model(model, x, v.type)
            if T.base(v.type) in (T.REAL, T.CPU) and not isinstance(val, (bool, Fraction)):
                val = Fraction(val)
            out.append(val)
        return tuple(out)

    def distinct(self, i: int, j: int):
        return z3.Or([a != b for a, b in zip(self.vars(i), self.vars(j))] or [z3.BoolVal(False)])


def _fit(term, target):
    """Int-valued terms assigned to real variables are widened."""
    if z3.is_int(term) and z3.is_real(target):
        return z3.ToReal(term)
    return term


def _remaining(deadline: float) -> int:
    return max(1, int((deadline - time.monotonic()) * 1000))


def _unknown_reason(solver) -> str:
    reason = solver.reason_unknown()
    if "timeout" in reason or "canceled" in reason:
        return "timeout"
    first = reason.strip().splitlines()[0] if reason.strip() else "unknown"
    return first if len(first) <= 160 else first[:157] + "..."


def bmc(sym: Symbolic, prop: TExpr, *, start: int = 0, max_depth: int = 1000,
        timeout_s: float = 10.0) -> SymResult:
    """Shortest run from the initial state to a state violating ``P ∧ Safe`` (depth ≥ ``start``)."""
    deadline = time.monotonic() + timeout_s
    s = z3.Solver()
    s.add(sym.init(0), *sym.types(0))
    for k in range(max_depth + 1):
        if k >= start:
            s.push()
            s.add(z3.Not(sym.good(prop, k)))
            s.set("timeout", _remaining(deadline))
            r = s.check()
            if r == z3.sat:
                states = [sym.state_of(s.model(), i) for i in range(k + 1)]
                return SymResult("refuted", "bmc", k, states)
            if r == z3.unknown:
                return SymResult("unknown", "bmc", k, reason=_unknown_reason(s))
            s.pop()
        if time.monotonic() > deadline:
            return SymResult("unknown", "bmc", k, reason="timeout")
        s.add(sym.trans(k))
    return SymResult("unknown", "bmc", max_depth, reason=f"no counterexample up to depth {max_depth}")


def k_induction(sym: Symbolic, prop: TExpr, *, max_k: int = 25,
                timeout_s: float = 10.0) -> SymResult:
    """Prove ``P ∧ Safe`` by k-induction with simple paths, or refute it with a shortest run."""
    deadline = time.monotonic() + timeout_s
    base = z3.Solver()
    base.add(sym.init(0), *sym.types(0))
    step = z3.Solver()
    step.add(*sym.types(0))
    for k in range(1, max_k + 1):
        # base case: no bad state at depth k - 1 (depths < k - 1 were checked before)
        base.push()
        base.add(z3.Not(sym.good(prop, k - 1)))
        base.set("timeout", _remaining(deadline))
        r = base.check()
        if r == z3.sat:
            states = [sym.state_of(base.model(), i) for i in range(k)]
            return SymResult("refuted", "k-induction", k - 1, states)
        if r == z3.unknown:
            return SymResult("unknown", "k-induction", k, reason=_unknown_reason(base))
        base.pop()
        base.add(sym.good(prop, k - 1), sym.trans(k - 1))
        # step case: P ∧ Safe on k distinct consecutive states implies it on the next one
        step.add(sym.good(prop, k - 1), sym.trans(k - 1))
        for i in range(k):
            step.add(sym.distinct(i, k))
        step.push()
        step.add(z3.Not(sym.good(prop, k)))
        step.set("timeout", _remaining(deadline))
        r = step.check()
        step.pop()
        if r == z3.unsat:
            return SymResult("proved", "k-induction", k)
        if r == z3.unknown:
            return SymResult("unknown", "k-induction", k, reason=_unknown_reason(step))
        if time.monotonic() > deadline:
            return SymResult("unknown", "k-induction", k, reason="timeout")
    return SymResult("unknown", "k-induction", max_k,
                     reason=f"not {max_k}-inductive and no counterexample up to depth {max_k - 1}")


def pdr(sym: Symbolic, prop: TExpr, *, timeout_s: float = 10.0) -> SymResult:
    """Prove ``P ∧ Safe`` with Spacer; on ``unsafe`` a shortest run comes from :func:`bmc`."""
    m = sym.m
    if not m.vars:
        return SymResult("unknown", "pdr", reason="a model without variables has nothing to solve")
    deadline = time.monotonic() + timeout_s
    xs, ys = sym.vars(0), sym.vars(1)
    inv = z3.Function(f"Inv_{m.name}", *[x.sort() for x in xs], z3.BoolSort())
    s = z3.SolverFor("HORN")
    s.set("timeout", _remaining(deadline))
    s.add(z3.ForAll(xs, z3.Implies(z3.And([sym.init(0)] + sym.types(0)), inv(*xs))))
    s.add(z3.ForAll(xs + ys, z3.Implies(z3.And(inv(*xs), sym.trans(0)), inv(*ys))))
    s.add(z3.ForAll(xs, z3.Implies(z3.And(inv(*xs), z3.Not(sym.good(prop, 0))),
                                   z3.BoolVal(False))))
    r = s.check()
    if r == z3.sat:
        text = None
        try:
            text = str(z3.simplify(s.model().eval(inv(*xs))))
        except z3.Z3Exception:
            text = None
        return SymResult("proved", "pdr", invariant=text)
    if r == z3.unsat:
        found = bmc(sym, prop, timeout_s=max(1.0, deadline - time.monotonic() + timeout_s))
        if found.status == "refuted":
            found.engine = "pdr"
            return found
        return SymResult("refuted", "pdr", reason="Spacer found a reachable bad state; "
                         "BMC could not rebuild the run in time")
    return SymResult("unknown", "pdr", reason=_unknown_reason(s))
