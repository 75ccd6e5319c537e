"""State-machine models (SPEC-LANGUAGE.md §7): the executable IR and explicit-state search.

A :class:`Machine` is compiled once from a typed :class:`~tracelogic.spec.typed.ModelT`:

- a **state** is a tuple of values in variable order: ``int`` for ints,
  ranges, durations and bytes, ``Fraction`` for reals, ``bool``, and the member
  name (``str``) for enums;
- an action is enabled when its guard holds (no ``when``: always); its
  assignments are **simultaneous**: every right-hand side reads the state before
  the action, like NuSMV's ``next()`` and TLA+ primes;
- all guards and assignments are generated into one Python function
  ``successors(state)`` ("compile, don't interpret"), with a closure fallback
  for the rare expression kinds the generator does not handle.

**Runtime errors of the model.** An assignment outside its variable's type (a
range, a negative duration) or a division by zero in a guard or an assignment is
not a crash: :meth:`Machine.successors` raises :class:`ModelRuntimeError`
naming the action, the state, the variable and the value, and the checkers turn
it into a result with the run that reaches it.

:func:`explore` is breadth-first, so the first violation it meets is at the
smallest depth and the run it reconstructs is a shortest counterexample. It
stops at a configurable number of states and then says so (``complete`` is
False); callers report ``unknown (bound reached)``, never ``holds``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.semantics.spelling import PYTHON, spell
from tracelogic.errors import TracelogicError
from tracelogic.spec import types as T
from tracelogic.spec.typed import ModelT, TExpr
from tracelogic.spec.walker import chain, walk_with
from tracelogic.values.arith import clamp, exact_div, floordiv, mod

__all__ = ["Machine", "Var", "ModelRuntimeError", "UnsupportedModel", "Explored", "explore",
           "DEFAULT_STATE_BOUND", "show_value"]

DEFAULT_STATE_BOUND = 1_000_000


class ModelRuntimeError(TracelogicError, RuntimeError):
    """An action of the model went wrong in a reachable state (out of range, division by zero)."""

    def __init__(self, message: str, *, action: str, state: tuple, var: str | None = None,
                 value: Any = None, span=None):
        super().__init__(message, span=span, value=value,
                         hint="add a guard to the action, or widen the variable's type")
        self.action = action
        self.state = state
        self.var = var


class UnsupportedModel(TracelogicError, ValueError):
    """A model construct the model checker cannot handle (e.g. a string variable)."""


@dataclass(frozen=True)
class Var:
    name: str
    type: T.Type
    index: int
    lo: Any = None     # inclusive bounds, None when unbounded on that side
    hi: Any = None
    values: Sequence | None = None   # the finite domain (a tuple or a range), if any

    @property
    def is_finite(self) -> bool:
        return self.values is not None

    def in_range(self, v) -> bool:
        b = T.base(self.type)
        if isinstance(b, T.EnumType):
            return v in self.values
        if b == T.BOOL:
            return isinstance(v, bool)
        if self.lo is not None and v < self.lo:
            return False
        if self.hi is not None and v > self.hi:
            return False
        return True

    def describe(self) -> str:
        return str(self.type)


def _var_info(name: str, t: T.Type, index: int) -> Var:
    b = T.base(t)
    if isinstance(t, T.RangeType):
        if b == T.INT or b in (T.DURATION, T.BYTES):
            # a `range`, not a tuple: `0s..10s` has 10^10 + 1 values (nanoseconds), which
            # only the states a search reaches ever enumerate
            return Var(name, t, index, t.lo, t.hi, range(int(t.lo), int(t.hi) + 1))
        return Var(name, t, index, Fraction(t.lo), Fraction(t.hi), None)
    if isinstance(b, T.EnumType):
        return Var(name, t, index, values=tuple(b.members))
    if b == T.BOOL:
        return Var(name, t, index, values=(False, True))
    if b in (T.DURATION, T.BYTES):
        return Var(name, t, index, lo=0)
    if b == T.CPU:
        return Var(name, t, index, lo=Fraction(0))
    if t == T.RATIO:
        return Var(name, t, index, lo=Fraction(0), hi=Fraction(1))
    if b in (T.INT, T.REAL):
        return Var(name, t, index)
    raise UnsupportedModel(f"variable `{name}` has type {t}, which the model checker does not "
                           "support", value=t, hint="use bool, an enum, a range, int or real")


def show_value(v: Any, t: T.Type | None = None) -> str:
    """A model value for people; with its variable's type ``t``, a duration, size or cpu
    value in its unit (`5s`, `320Mi`, `600m`)."""
    if t is not None and T.base(t) in (T.DURATION, T.BYTES, T.CPU) \
            and not isinstance(v, bool) and isinstance(v, (int, Fraction)):
        from tracelogic.spec.lexicon import show_value as in_unit

        return in_unit(v, t)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"
    return str(v)


class _Fault(Exception):
    def __init__(self, action: int, var: str | None, value: Any, what: str):
        self.action, self.var, self.value, self.what = action, var, value, what


# ---------------------------------------------------------------- code generation

_CMP = {"==", "!=", "<", "<=", ">", ">="}


class _Gen:
    """TExpr -> Python source over the locals ``v0 … vn`` (iterative, memo per node)."""

    def __init__(self, var_index: dict[str, int]):
        self.var_index = var_index
        # the divisions are the language's (values.arith), bound by name
        self.ns: dict[str, Any] = {"Fraction": Fraction, "math": math, "_Fault": _Fault,
                                   "_div": exact_div, "_fdiv": floordiv, "_mod": mod}
        self.n = 0

    def const(self, value) -> str:
        name = f"_k{self.n}"
        self.n += 1
        self.ns[name] = value
        return name

    def expr(self, e: TExpr) -> str:
        # `and`/`or` chains are flattened: a & b & c parses as ((a & b) & c), and Python's
        # parser refuses more than 200 nested parentheses
        def combine(node: TExpr, a: list[str]) -> str:
            if node.op in ("and", "or"):
                return "(" + f" {node.op} ".join(a) + ")"
            return self._node(node, a)
        return walk_with(e, combine, children=lambda n: tuple(chain(n))
                         if n.op in ("and", "or") else n.args)

    def _node(self, e: TExpr, a: list[str]) -> str:
        op = e.op
        if op == "lit":
            v = e.payload
            if T.base(e.type) in (T.REAL, T.CPU) and not isinstance(v, bool):
                return self.const(Fraction(v))
            if isinstance(v, (bool, int)):
                return repr(v)
            return self.const(v)
        if op == "var":
            kind, name = e.payload
            if kind != "model" or name not in self.var_index:
                raise UnsupportedModel(f"`{name}` is not a variable of the model", value=e)
            return f"v{self.var_index[name]}"
        if op == "enum":
            return repr(e.payload[1])
        text = spell(_PYTHON, op, a, e.payload if op == "cmp" else op)
        if text is not None:
            return text
        if op in ("/", "//", "%"):
            return f"{_DIVISIONS[op]}({a[0]}, {a[1]})"
        if op == "list":
            return "(" + "".join(x + ", " for x in a) + ")"
        if op == "in":
            if e.args[1].op == "range":
                return f"(lambda _v, _r: _r[0] <= _v <= _r[1])({a[0]}, {a[1]})"
            return f"({a[0]} in {a[1]})"
        if op == "call":
            name = e.payload
            if name in ("min", "max", "abs"):
                return f"{name}({', '.join(a)})"
            if name == "ceil":
                return f"math.ceil({a[0]})"
            if name == "floor":
                return f"math.floor({a[0]})"
            if name == "clamp":  # lo below lo, else hi above hi: crossed bounds not reordered
                return f"{self.const(clamp)}({a[0]}, {a[1]}, {a[2]})"
        # fallback: the shared closure evaluator over an environment of the model's variables
        fn = compile_expr(e)
        fname = self.const(fn)
        env = "{" + ", ".join(f"('model', {n!r}): v{i}" for n, i in self.var_index.items()) + "}"
        return f"{fname}({env})"


_DIVISIONS = {"/": "_div", "//": "_fdiv", "%": "_mod"}
#: Python as the span predicates spell it, but `iff`/`xor` compare truth values (bool())
_PYTHON = {**PYTHON, "iff": "(bool({0}) == bool({1}))", "xor": "(bool({0}) != bool({1}))"}


# ---------------------------------------------------------------- the machine


class Machine:
    """The executable form of one model; see the module docstring."""

    def __init__(self, model: ModelT):
        self.model = model
        self.name = model.name
        self.vars = tuple(_var_info(n, t, i) for i, (n, t, _) in enumerate(model.vars))
        self.var_index = {v.name: v.index for v in self.vars}
        self.actions = model.actions
        self.action_names = tuple(a.name for a in model.actions)
        init = []
        for (name, t, e), var in zip(model.vars, self.vars):
            try:
                v = compile_expr(e)({})
            except EvalError as err:
                raise UnsupportedModel(f"the initial value of `{name}` cannot be computed: {err}",
                                       span=e.span) from err
            if T.base(t) in (T.REAL, T.CPU) and not isinstance(v, bool):
                v = Fraction(v)
            init.append(v)
        self.init = tuple(init)
        self._gen = _Gen(self.var_index)
        self._succ = self._compile()
        self._preds: dict[TExpr, Callable] = {}

    def __repr__(self) -> str:
        return f"<Machine {self.name}: {len(self.vars)} vars, {len(self.actions)} actions>"

    @property
    def var_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vars)

    def _compile(self) -> Callable:
        g = self._gen
        n = len(self.vars)
        lines = ["def _succ(s):"]
        if n:
            lines.append(f"    {''.join(f'v{i}, ' for i in range(n))}= s")
        lines.append("    out = []")
        for ai, action in enumerate(self.actions):
            lines.append("    try:")
            guard = g.expr(action.guard) if action.guard is not None else "True"
            lines.append(f"        _g = {guard}")
            lines.append("    except ZeroDivisionError:")
            lines.append(f"        raise _Fault({ai}, None, None, 'division by zero in the guard')")
            lines.append("    if _g:")
            new = {}
            for var, value in action.assigns:
                i = self.var_index[var]
                lines.append("        try:")
                lines.append(f"            n{i} = {g.expr(value)}")
                lines.append("        except ZeroDivisionError:")
                lines.append(f"            raise _Fault({ai}, {var!r}, None, 'division by zero')")
                vinfo = self.vars[i]
                check = self._range_check(vinfo, f"n{i}")
                if check:
                    lines.append(f"        if not ({check}):")
                    lines.append(f"            raise _Fault({ai}, {var!r}, n{i}, 'out of range')")
                new[i] = f"n{i}"
            tup = "(" + "".join(new.get(i, f"v{i}") + ", " for i in range(n)) + ")"
            lines.append(f"        out.append(({ai}, {tup}))")
        lines.append("    return out")
        src = "\n".join(lines)
        ns = dict(g.ns)
        exec(compile(src, f"<model {self.name}>", "exec"), ns)  # noqa: S102 - generated from the typed IR
        self.source = src
        return ns["_succ"]

    def _range_check(self, v: Var, x: str) -> str | None:
        b = T.base(v.type)
        if isinstance(b, T.EnumType) or b == T.BOOL:
            return None  # the type checker guarantees members and booleans
        parts = []
        if v.lo is not None:
            parts.append(f"{self._gen.const(v.lo)} <= {x}")
        if v.hi is not None:
            parts.append(f"{x} <= {self._gen.const(v.hi)}")
        return " and ".join(parts) or None

    # -- public API
    def successors(self, state: tuple) -> list[tuple[int, tuple]]:
        """``(action index, next state)`` for every enabled action, in declaration order."""
        try:
            return self._succ(state)
        except _Fault as f:
            raise self._error(f, state) from None

    def _error(self, f: _Fault, state: tuple) -> ModelRuntimeError:
        action = self.actions[f.action]
        where = self.format_state(state)
        if f.what == "out of range":
            var = self.vars[self.var_index[f.var]]
            msg = (f"action `{action.name}` sets `{f.var}` to {show_value(f.value)}, outside its "
                   f"type {var.describe()}, in state {where}")
        elif f.var is None:
            msg = f"action `{action.name}`: {f.what}, in state {where}"
        else:
            msg = f"action `{action.name}`: {f.what} computing `{f.var}`, in state {where}"
        return ModelRuntimeError(msg, action=action.name, state=state, var=f.var,
                                 value=f.value, span=action.span)

    def predicate(self, e: TExpr) -> Callable[[tuple], Any]:
        """A compiled state function for a (non-temporal) expression over the model variables."""
        # keyed by the expression itself (structural equality), never by id(): an id can be
        # reused by a new node once the old one is garbage
        try:
            key = e
            fn = self._preds.get(key)
        except TypeError:  # an unhashable payload: compile without caching
            key, fn = None, None
        if fn is None:
            src = self._gen.expr(e)
            n = len(self.vars)
            code = "def _p(s):\n"
            if n:
                code += f"    {''.join(f'v{i}, ' for i in range(n))}= s\n"
            code += f"    return {src}\n"
            ns = dict(self._gen.ns)
            exec(compile(code, f"<predicate of {self.name}>", "exec"), ns)  # noqa: S102
            fn = ns["_p"]
            if key is not None:
                self._preds[key] = fn
        return fn

    def format_state(self, state: tuple) -> str:
        return "{" + ", ".join(f"{v.name} = {show_value(x)}" for v, x in zip(self.vars, state)) + "}"

    def state_dict(self, state: tuple) -> dict[str, Any]:
        return {v.name: x for v, x in zip(self.vars, state)}

    @property
    def var_types(self) -> tuple:
        return tuple(v.type for v in self.vars)

    def is_finite(self) -> bool:
        return all(v.is_finite for v in self.vars)

    def domain_size(self) -> int | None:
        size = 1
        for v in self.vars:
            if v.values is None:
                return None
            size *= len(v.values)
        return size


# ---------------------------------------------------------------- explicit search


@dataclass
class Explored:
    """The result of :func:`explore` (states in BFS order; index 0 is the initial state)."""

    states: list[tuple]
    index: dict[tuple, int]
    parent: list[int]
    via: list[int]                 # action index that discovered each state; -1 for the initial
    edges: list[list[tuple[int, int]]] | None = None
    complete: bool = True          # False: the state bound was reached
    error: ModelRuntimeError | None = None
    error_at: int | None = None
    violation: int | None = None   # first state where ``bad`` held
    deadlock: int | None = None    # first state without an enabled action
    deadlocks: list[int] = field(default_factory=list)

    def path_to(self, i: int) -> list[tuple[int, int]]:
        """``[(action index or -1, state index), …]`` from the initial state to ``i``."""
        out = []
        while i != -1:
            out.append((self.via[i], i))
            i = self.parent[i]
        return out[::-1]


def explore(machine: Machine, *, bound: int = DEFAULT_STATE_BOUND,
            bad: Callable[[tuple], Any] | None = None, stop_at_deadlock: bool = False,
            keep_edges: bool = False, stop_on_error: bool = True) -> Explored:
    """Breadth-first search of the reachable states.

    Each state is examined when it is discovered, in this order: ``bad`` holds
    (``violation``); an enabled action fails (``error``); no action is enabled
    (``deadlock``). So whichever is found first is at the smallest depth, which
    is what the symbolic engines' ``P ∧ Safe`` finds too. The search stops there
    (for deadlocks only when ``stop_at_deadlock``; for errors only when
    ``stop_on_error``), or when ``bound`` states are known (``complete = False``).
    """
    res = Explored([], {}, [], [], [] if keep_edges else None)
    states, index, parent, via = res.states, res.index, res.parent, res.via
    succ = machine._succ
    pending: dict[int, list] = {}

    def discover(t: tuple, i: int, a: int) -> bool:
        """Add ``t``; True when the search must stop."""
        j = len(states)
        index[t] = j
        states.append(t)
        parent.append(i)
        via.append(a)
        if bad is not None and bad(t):
            res.violation = j
            return True
        try:
            nexts = succ(t)
        except _Fault as f:
            res.error = machine._error(f, t)
            res.error_at = j
            if stop_on_error:
                return True
            nexts = []
        pending[j] = nexts
        if not nexts and res.error_at != j:
            res.deadlocks.append(j)
            if res.deadlock is None:
                res.deadlock = j
                if stop_at_deadlock:
                    return True
        return False

    if discover(machine.init, -1, -1):
        return res
    i = 0
    while i < len(states):
        nexts = pending.pop(i)
        row = [] if keep_edges else None
        for a, t in nexts:
            j = index.get(t)
            if j is None:
                if len(states) >= bound:
                    res.complete = False
                    return res
                if discover(t, i, a):
                    return res
                j = index[t]
            if keep_edges:
                row.append((a, j))
        if keep_edges:
            res.edges.append(row)
        i += 1
    return res


def replay(machine: Machine, states: Sequence[tuple]) -> list[int | None]:
    """The action taking each state to the next (checks a counterexample; None: no such action)."""
    out: list[int | None] = []
    for s, t in zip(states, states[1:]):
        found = None
        try:
            for a, u in machine.successors(s):
                if u == t:
                    found = a
                    break
        except ModelRuntimeError:
            found = None
        out.append(found)
    return out
