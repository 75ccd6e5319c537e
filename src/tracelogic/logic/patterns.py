"""Dwyer specification patterns and scopes, lowered to LTLf operators.

Patterns (SPEC-LANGUAGE §3): ``absence(P)``, ``existence(P)``,
``universality(P)``, ``precedence(S, P)`` (S precedes P),
``response(P, S)`` and ``response(P, S, within=d)``.

Scopes cut the finite trace into *segments* (half-open position ranges) and
the pattern must hold in each one; a scope with no segment holds vacuously:

* ``globally``: the whole trace;
* ``before(R)``: from the start up to the first R (exclusive), if R occurs;
* ``after(Q)``: from the first Q to the end of the trace;
* ``between(Q, R)``: from each Q that is not an R up to the next R
  (exclusive); only segments closed by an R count;
* ``after_until(Q, R)``: like ``between``, but a segment with no later R
  runs to the end of the trace.

Inside a segment ``[s, e)``: absence = no P; existence = some P;
universality = P everywhere; precedence = the first P (if any) has an S at
or before it; response = every P at *i* has an S at some *j* in ``[i, e)``
(and ``t_j - t_i <= d`` with ``within``).

These are the LTL formulas of Dwyer et al.'s catalogue adapted to finite
traces: the choice between strong (``U``, ``F``) and weak (``W``, ``G``)
operators is what makes an unclosed segment behave as stated, and "after Q"
is anchored at the *first* Q (``!Q W (Q & ...)``) rather than at some Q as in
the catalogue's ``F (Q & ...)`` variants.  ``tests/logic/test_patterns.py``
checks every pattern x scope against the segment definitions above on random
traces.
"""
from __future__ import annotations

from dataclasses import dataclass

from tracelogic.errors import SpecTypeError
from tracelogic.logic.formula import Formula, FormulaManager

__all__ = ["Scope", "globally", "before", "after", "between", "after_until", "absence",
           "existence", "universality", "precedence", "response", "PATTERNS", "SCOPES"]


@dataclass(frozen=True)
class Scope:
    kind: str  # globally | before | after | between | after_until
    q: Formula | None = None
    r: Formula | None = None

    def __repr__(self) -> str:
        if self.kind == "globally":
            return "globally()"
        if self.kind == "before":
            return f"before({self.r!r})"
        if self.kind == "after":
            return f"after({self.q!r})"
        return f"{self.kind}({self.q!r}, {self.r!r})"


def globally() -> Scope:
    return Scope("globally")


def before(r: Formula) -> Scope:
    return Scope("before", None, r)


def after(q: Formula) -> Scope:
    return Scope("after", q, None)


def between(q: Formula, r: Formula) -> Scope:
    return Scope("between", q, r)


def after_until(q: Formula, r: Formula) -> Scope:
    return Scope("after_until", q, r)


SCOPES = ("globally", "before", "after", "between", "after_until")
PATTERNS = ("absence", "existence", "universality", "precedence", "response", "response_within")


def _scope(scope: Scope | None) -> Scope:
    if scope is None:
        return globally()
    if not isinstance(scope, Scope):
        raise SpecTypeError(f"a pattern scope must be a Scope, got scope={scope!r}", value=scope,
                            hint="use globally(), before(R), after(Q), between(Q, R) "
                                 "or after_until(Q, R)")
    return scope


def _lower(kind: str, p: Formula, s: Formula | None, scope: Scope, within: int | None,
           m: FormulaManager) -> Formula:
    """Lower one pattern in one scope (see the module docstring)."""
    Not, And, Or, Imp = m.Not, m.And, m.Or, m.Implies
    F, G, U, W = m.F, m.G, m.U, m.W
    iv = None if within is None else (0, within)

    def resp_until_end(end: Formula | None) -> Formula:
        """P -> an S before ``end`` (or before the trace ends when end is None)."""
        if end is None:
            return Imp(p, F(s, iv))
        return Imp(p, U(Not(end), And(s, Not(end)), iv))

    k = scope.kind
    if k == "globally":
        return {"absence": lambda: G(Not(p)),
                "existence": lambda: F(p),
                "universality": lambda: G(p),
                "precedence": lambda: W(Not(p), s),
                "response": lambda: G(resp_until_end(None))}[kind]()
    if k == "before":
        r = scope.r
        return {"absence": lambda: Imp(F(r), U(Not(p), r)),
                "existence": lambda: W(Not(r), And(p, Not(r))),
                "universality": lambda: Imp(F(r), U(p, r)),
                "precedence": lambda: Imp(F(r), U(Not(p), Or(s, r))),
                "response": lambda: Imp(F(r), U(resp_until_end(r), r))}[kind]()
    if k == "after":
        q = scope.q
        body = {"absence": lambda: G(Not(p)),
                "existence": lambda: F(p),
                "universality": lambda: G(p),
                "precedence": lambda: W(Not(p), s),
                "response": lambda: G(resp_until_end(None))}[kind]()
        return W(Not(q), And(q, body))
    q, r = scope.q, scope.r
    if k in ("between", "after_until"):
        # `between` needs R to come (strong until, F R in the trigger); `after Q until R`
        # does not (weak until); the existence body is the same strong one in both
        between = k == "between"
        until = U if between else W
        trigger = And(q, Not(r), F(r)) if between else And(q, Not(r))
        body = {"absence": lambda: until(Not(p), r),
                "existence": lambda: U(Not(r), And(p, Not(r))),
                "universality": lambda: until(p, r),
                "precedence": lambda: until(Not(p), Or(s, r)),
                "response": lambda: until(resp_until_end(r), r)}[kind]()
        return G(Imp(trigger, body))
    raise SpecTypeError(f"unknown pattern scope {k!r}", value=k,
                        hint="use globally, before, after, between or after_until")


def absence(p: Formula, scope: Scope | None = None, *, mgr: FormulaManager | None = None
            ) -> Formula:
    return _lower("absence", p, None, _scope(scope), None, mgr or p.manager)


def existence(p: Formula, scope: Scope | None = None, *, mgr: FormulaManager | None = None
              ) -> Formula:
    return _lower("existence", p, None, _scope(scope), None, mgr or p.manager)


def universality(p: Formula, scope: Scope | None = None, *, mgr: FormulaManager | None = None
                 ) -> Formula:
    return _lower("universality", p, None, _scope(scope), None, mgr or p.manager)


def precedence(s: Formula, p: Formula, scope: Scope | None = None, *,
               mgr: FormulaManager | None = None) -> Formula:
    """``S`` precedes ``P``: every P in the scope has an S at or before the first P."""
    return _lower("precedence", p, s, _scope(scope), None, mgr or p.manager)


def response(p: Formula, s: Formula, scope: Scope | None = None, *, within: int | None = None,
             mgr: FormulaManager | None = None) -> Formula:
    """Every ``P`` in the scope is followed (at or after it) by an ``S`` in the scope,
    within ``within`` nanoseconds when given."""
    if within is not None and (isinstance(within, bool) or not isinstance(within, int)
                               or within < 0):
        raise SpecTypeError(f"response(..., within=...) takes a duration in nanoseconds, "
                            f"got within={within!r}", value=within, hint="e.g. `within 500ms`")
    return _lower("response", p, s, _scope(scope), within, mgr or p.manager)
