"""Name resolution and types of a `controller` declaration (docs/control.md).

Kept out of checker.py (which only dispatches here) so the language's largest
module does not grow with every declaration. The result is a
:class:`~tracelogic.spec.typed.ControllerT`: every name the loop reads is a
``var`` node ``("ctl", name)``, consts are folded, and the built-ins only a
controller has (`round`, `ite`, `max_over`, `min_over`) are typed here.
"""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from tracelogic.spec import ast as A
from tracelogic.spec import types as T
from tracelogic.spec.diagnostics import did_you_mean
from tracelogic.spec.typed import ClaimT, ControllerT, TExpr

if TYPE_CHECKING:
    from tracelogic.spec.checker import Checker, Ctx

# A claim or window spans at most this many periods: each becomes state (and BMC depth).
MAX_PERIODS = 1000

# Built-ins of the controller context (docs/control.md §2), name -> arity.
CONTROLLER_BUILTINS = {"round": 1, "ite": 3, "max_over": 2, "min_over": 2}

_SINGLE = ("period", "metric", "plant", "noise", "step")


def _var(name: str, typ: T.Type, span) -> TExpr:
    return TExpr("var", type=typ, payload=("ctl", name), span=span)


def _number(v: Any) -> Fraction | int:
    return v if isinstance(v, int) and not isinstance(v, bool) else Fraction(v)


def check_controller(ck: "Checker", decl: A.Controller) -> ControllerT | None:
    """Resolve and type ``decl``; errors go to ``ck``'s diagnostics (None when fatal)."""
    from tracelogic.spec.checker import Ctx

    local: dict[str, TExpr] = {}
    consts: dict[str, TExpr] = {}
    seen: dict[str, Any] = {}

    def define(name: str, span) -> bool:
        if name in local:
            ck.error(span, f"`{name}` is defined twice in controller `{decl.name}`")
            return False
        return True

    singles: dict[str, tuple] = {}
    for m in decl.members:
        if isinstance(m, tuple) and m[0] in _SINGLE:
            if m[0] in singles:
                ck.error(m[-1], f"controller `{decl.name}` has two `{m[0]}` clauses")
            singles.setdefault(m[0], m)
    for m in decl.members:
        if isinstance(m, A.ModelConst):
            v = ck.member_constant(m, local, "controller")
            if define(m.name, m.span):
                consts[m.name] = local[m.name] = v

    period_ns = 0
    if "period" not in singles:
        ck.error(decl.span, f"controller `{decl.name}` needs a `period` (e.g. `period 15s`)")
    else:
        period_ns = ck.const_duration(singles["period"][1], "the period") or 0
        if isinstance(period_ns, int) and period_ns <= 0:
            ck.error(singles["period"][2], "the period must be positive")
            period_ns = 0
    if "metric" not in singles:
        ck.error(decl.span, f"controller `{decl.name}` needs a `metric NAME: real` it reads")
        return None
    _, metric, mtype_ref, mspan = singles["metric"]
    mtype = ck.type_ref(mtype_ref)
    if mtype not in (T.INT, T.REAL, T.ERROR):
        ck.error(mspan, f"the metric `{metric}` must be an int or a real, not {mtype}",
                 "state its range as a claim's `assuming`, or bound it with `noise`")
        mtype = T.REAL
    if define(metric, mspan):
        local[metric] = _var(metric, mtype, mspan)

    variables = []
    for m in decl.members:
        if isinstance(m, A.ModelVar):
            typ = ck.type_ref(m.type)
            if typ not in (T.INT, T.REAL, T.ERROR):
                ck.error(m.span, f"controller variable `{m.name}` must be an int or a real, "
                         f"not {typ}", "a bound such as `2..10` is a claim to prove: "
                         f"`claim in_range: always {m.name} in …`")
                typ = T.INT if isinstance(typ, T.RangeType) else T.REAL
            init = ck.expr(m.init, Ctx("const", dict(consts)))
            folded = ck.fold(init) if init.type != T.ERROR else None
            if init.type != T.ERROR and (folded is None or isinstance(folded, (bool, str))):
                ck.error(m.init.span, f"the initial value of `{m.name}` must be a constant number")
                folded = 0
            ck._assignable(init, typ, m.init.span, f"the initial value of `{m.name}`")
            if typ == T.INT and isinstance(folded, Fraction) and folded.denominator != 1:
                ck.error(m.init.span, f"the initial value of `{m.name}` must be an int")
            if define(m.name, m.span):
                variables.append((m.name, typ, _number(folded if folded is not None else 0)))
                local[m.name] = _var(m.name, typ, m.span)

    load = None
    if "step" in singles:
        _, lname, lo, hi, lspan = singles["step"]
        before = ck.const_value(lo, T.REAL, "the load before the step")
        after = ck.const_value(hi, T.REAL, "the load after the step")
        if define(lname, lspan):
            local[lname] = _var(lname, T.REAL, lspan)
            load = (lname, _number(before if before is not None else 0),
                    _number(after if after is not None else 0))

    plant = None
    if "plant" in singles:
        _, pname, pexpr, pspan = singles["plant"]
        if pname != metric:
            ck.error(pspan, f"the plant gives the metric `{metric}`, not `{pname}`")
        pctx = {n: v for n, v in local.items() if n != metric}
        plant = ck.expr(pexpr, Ctx("controller", pctx))
        if plant.type != T.ERROR and not T.is_numeric(plant.type):
            ck.error(pexpr.span, f"the plant must be a number, but this is {plant.type}")
    noise: Any = 0
    if "noise" in singles:
        v = ck.const_value(singles["noise"][1], T.REAL, "the noise bound")
        if v is not None and v < 0:
            ck.error(singles["noise"][2], "the noise bound ε must be ≥ 0")
        noise = _number(v) if v is not None and v >= 0 else 0

    lets = []
    for m in decl.members:
        if isinstance(m, tuple) and m[0] == "let":
            _, name, value, span = m
            v = ck.expr(value, Ctx("controller", dict(local)))
            if v.type != T.ERROR and not T.is_numeric(v.type) and v.type != T.BOOL:
                ck.error(value.span, f"`let {name}` must be a number or a condition")
            if define(name, span):
                lets.append((name, v))
                local[name] = _var(name, v.type, span)

    updates = []
    assigned: set[str] = set()
    state_names = [v[0] for v in variables]
    for m in decl.members:
        if isinstance(m, tuple) and m[0] == "next":
            for a in m[1]:
                if not ck.known_once(a.var, state_names, assigned, a.span,
                                     f"`{a.var}` is not a variable of controller `{decl.name}`",
                                     f"its variables: {', '.join(state_names) or 'none'}",
                                     f"`next` assigns `{a.var}` twice"):
                    continue
                value = ck.expr(a.value, Ctx("controller", dict(local)))
                typ = dict((v[0], v[1]) for v in variables)[a.var]
                ck._assignable(value, typ, a.value.span, f"`{a.var}`")
                if typ == T.INT and value.type != T.ERROR and T.base(value.type) != T.INT:
                    ck.error(a.value.span, f"`{a.var}` must be an int, but this is a "
                             f"{T.base(value.type)}", "round it: `round(…)`, `ceil(…)` or "
                             "`floor(…)`")
                updates.append((a.var, value))

    claims = []
    for m in decl.members:
        if isinstance(m, A.Claim):
            c = _claim(ck, decl, m, local, state_names, load, plant, metric)
            if c is not None:
                claims.append(c)
    if period_ns:
        for _, e in list(lets) + updates:
            for w in _window_nodes(e):
                if -(-w.args[1].payload // period_ns) > MAX_PERIODS:
                    ck.error(w.span, f"this window spans more than {MAX_PERIODS} periods")
        for c in claims:
            if c.kind == "no_flap" and c.window_ns // period_ns > MAX_PERIODS:
                ck.error(c.span, f"the flapping window spans more than {MAX_PERIODS} periods")
    for c in claims:
        if c.kind == "converges" and (load is None or plant is None) and c.assuming is None:
            ck.error(c.span, f"claim `{c.name}` needs a `plant` and a `step` of its load",
                     "convergence is about the loop closed through the plant after a step")
    return ControllerT(decl.name, period_ns, metric, mtype, consts, tuple(variables),
                       tuple(lets), tuple(updates), plant, noise, load, tuple(claims),
                       span=decl.span)


def _claim(ck: "Checker", decl: A.Controller, m: A.Claim, local: dict, state_names: list,
           load, plant, metric: str) -> ClaimT | None:
    from tracelogic.spec.checker import Ctx

    def state_var(name: str) -> bool:
        if name not in state_names:
            ck.error(m.span, f"claim `{m.name}`: `{name}` is not a variable of controller "
                     f"`{decl.name}`", did_you_mean(name, state_names))
            return False
        return True

    def const_range(rng: A.RangeExpr, what: str):
        lo = ck.const_value(rng.lo, T.REAL, f"the lower end of {what}")
        hi = ck.const_value(rng.hi, T.REAL, f"the upper end of {what}")
        if lo is None or hi is None:
            return None
        if lo > hi:
            ck.error(rng.span, f"empty range: {lo} is greater than {hi}")
            return None
        return (_number(lo), _number(hi))

    assuming = None
    if m.assuming is not None:
        name, rng = m.assuming
        if name != metric:
            ck.error(m.span, f"claim `{m.name}` can assume only the metric `{metric}`'s range, "
                     f"not `{name}`")
            return None
        assuming = const_range(rng, "the assumed metric range")
        if assuming is None:
            return None
    elif plant is None:
        ck.error(m.span, f"claim `{m.name}`: controller `{decl.name}` has no `plant`, so the "
                 f"claim must assume the metric's range",
                 f"add `assuming {metric} in LO..HI`")
        return None
    kind, args = m.kind, m.args
    state_ctx = {n: v for n, v in local.items()
                 if n in state_names or v.op == "lit"}
    if kind == "always":
        cond = ck.bool_expr(args[0], Ctx("controller", state_ctx), "a claim")
        return ClaimT(m.name, kind, cond=cond, assuming=assuming, span=m.span)
    if kind == "no_flap":
        if not state_var(args[0]):
            return None
        window = ck.const_duration(args[1], "the flapping window")
        if window is None or window <= 0:
            return None
        return ClaimT(m.name, kind, var=args[0], window_ns=window, assuming=assuming,
                      span=m.span)
    if kind == "converges":
        var, target, k, periods = args
        if not state_var(var):
            return None
        if periods > MAX_PERIODS:
            ck.error(m.span, f"claim `{m.name}`: at most {MAX_PERIODS} periods")
            return None
        tctx = dict(state_ctx)
        if load is not None:
            tctx[load[0]] = local[load[0]]
        t = ck.expr(target, Ctx("controller", tctx))
        if t.type != T.ERROR and not T.is_numeric(t.type):
            ck.error(target.span, "the target must be a number")
            return None
        within = ck.const_value(k, T.REAL, "the tolerance `within`")
        if within is None or within < 0:
            return None
        return ClaimT(m.name, kind, var=var, target=t, within=_number(within),
                      periods=periods, assuming=assuming, span=m.span)
    if kind == "bounded":
        var, rng = args
        if not state_var(var):
            return None
        r = const_range(rng, "the bound") if rng is not None else None
        if rng is not None and r is None:
            return None
        return ClaimT(m.name, kind, var=var, range=r, assuming=assuming, span=m.span)
    return None


def check_builtin(ck: "Checker", e: A.Call, ctx: "Ctx", n: str):
    """Type `round(x)`, `ite(c, a, b)`, `max_over(x, W)` and `min_over(x, W)`.

    A step of the checker's iterative pass (:func:`~tracelogic.spec.walker.drive`): it yields
    the subexpressions to type and returns the TExpr."""
    args = ck._plain_args(e, CONTROLLER_BUILTINS[n], n)
    if args is None:
        return TExpr("error", type=T.ERROR)
    if n in ("max_over", "min_over"):
        x = yield ck._expr(args[0], ctx)
        window = ck.const_duration(args[1], f"the window of `{n}`")
        if x.type == T.ERROR or window is None:
            return TExpr("error", type=T.ERROR)
        if not T.is_numeric(x.type):
            return ck.error(args[0].span, f"`{n}` needs a number")
        if window <= 0:
            return ck.error(args[1].span, f"the window of `{n}` must be positive")
        if _mentions_window(x):
            return ck.error(e.span, f"`{n}` cannot contain another `max_over`/`min_over`",
                            "name the inner one with a `let`… of its own value")
        w = TExpr("lit", type=T.DURATION, payload=window, span=args[1].span)
        return TExpr("call", (x, w), T.base(x.type), n, e.span)
    typed = []
    for a in args:
        typed.append((yield ck._expr(a, ctx)))
    if any(t.type == T.ERROR for t in typed):
        return TExpr("error", type=T.ERROR)
    if n == "round":
        if not T.is_numeric(typed[0].type) or T.base(typed[0].type) in T.UNIT_TYPES:
            return ck.error(args[0].span, "`round` rounds plain numbers")
        return TExpr("call", tuple(typed), T.INT, n, e.span)
    cond, a, b = typed
    if cond.type != T.BOOL:
        return ck.error(args[0].span, f"`ite`'s first argument must be a condition, not "
                        f"{cond.type}")
    if not (T.is_numeric(a.type) and T.is_numeric(b.type)):
        return ck.error(e.span, "`ite` chooses between two numbers")
    typ = T.join_numeric(a.type, b.type)
    if typ is None:
        return ck.error(e.span, f"`ite` cannot mix {a.type} and {b.type}")
    return TExpr("call", tuple(typed), T.base(typ), n, e.span)


def _window_nodes(e: TExpr) -> list[TExpr]:
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if x.op == "call" and x.payload in ("max_over", "min_over") and len(x.args) == 2:
            out.append(x)
        stack.extend(x.args)
    return out


def _mentions_window(e: TExpr) -> bool:
    stack = [e]
    while stack:
        x = stack.pop()
        if x.op == "call" and x.payload in ("max_over", "min_over"):
            return True
        stack.extend(x.args)
    return False
