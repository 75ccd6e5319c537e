"""Policy arguments and `approve when` conditions, compiled once and evaluated on a witness span.

Expressions are compiled with the runtime monitor's :class:`CodeGen` (generated
from the typed IR only: no spec text and no span value is ever evaluated as
code). The violation's fields are the variables ``v_property``, ``v_key``,
``v_trace_id``; `approve when` also reads ``v_risk``.

A value is **tainted** when its expression reads the span or the violation:
actions use this to keep such values out of dangerous positions (argv[0], an
option position, a webhook endpoint name).

Without the witness span itself (the standalone ``tracelogic heal`` over a
store), a partial span is rebuilt from the violation's ``events``: its name,
service and ids are known; attributes and other fields are absent, so
arguments reading them have no value and the action is skipped, with the
reason in the audit trail.
"""
from __future__ import annotations

from typing import Any

from tracelogic.ingest.events import Trace
from tracelogic.semantics.codegen import CodeGen
from tracelogic.values.missing import MISSING
from tracelogic.spec.typed import HealT, TExpr

_DATA_OPS = frozenset({"field", "attr", "var", "has_event", "has_ancestor", "has_child",
                       "linked"})


class _Gen(CodeGen):
    def _source(self, e: TExpr, ex) -> str:
        if e.op == "var" and e.payload == ("heal", "risk"):
            return "v_risk"
        if e.op == "var" and isinstance(e.payload, tuple) and e.payload[0] == "ctl":
            return f"v_ctl[{e.payload[1]!r}]"  # a controller's value (docs/control.md §9)
        if e.op == "list":
            return "[" + ", ".join(ex(a) for a in e.args) + "]"
        return super()._source(e, ex)


def tainted(e: TExpr) -> bool:
    """True when the expression reads the witness span or the violation."""
    return any(n.op in _DATA_OPS for n in e.walk())


class CompiledPolicy:
    """One heal policy's argument expressions and approval condition as Python functions."""

    _PARAMS = "s, st, tr, v_property, v_key, v_trace_id, v_risk, v_ctl"

    def __init__(self, heal: HealT):
        self.heal = heal
        gen = _Gen()
        sources = []
        self.arg_names: list[str | None] = []
        self.taint: list[Any] = []
        for i, (name, e) in enumerate(heal.args):
            self.arg_names.append(name)
            if e.op == "list":
                self.taint.append([tainted(a) for a in e.args])
            else:
                self.taint.append(tainted(e))
            sources.append(f"def _a{i}({self._PARAMS}):\n    return {gen.expr(e)}\n")
        if heal.approve is not None:
            sources.append(f"def _approve({self._PARAMS}):\n    return {gen.cond(heal.approve)}\n")
        ns = dict(gen.namespace)
        exec("\n".join(gen.subfunctions + sources), ns)  # noqa: S102 - generated from typed IR
        self._args = [ns[f"_a{i}"] for i in range(len(heal.args))]
        self._approve = ns.get("_approve")

    @staticmethod
    def _env(span: Any, trace: Any, violation: dict) -> tuple:
        if trace is None and span is not None:
            try:
                trace = Trace([span])
            except Exception:  # a partial span without the fields a Trace indexes
                trace = None
        trace_id = violation.get("trace_id") or (violation.get("trace_ids") or [""])[0]
        if span is not None and isinstance(getattr(span, "trace_id", None), str):
            trace_id = span.trace_id
        return span, True, trace, violation.get("property", ""), str(violation.get("key", "")), \
            trace_id

    def arguments(self, span: Any, trace: Any, violation: dict
                  ) -> tuple[list[tuple[str | None, Any]], list[Any]]:
        """``([(name, value)], taint)``; a value that cannot be computed is MISSING."""
        env = self._env(span, trace, violation)
        out = []
        for name, fn in zip(self.arg_names, self._args):
            try:
                value = fn(*env, None, _ctl_values(violation))
            except Exception:  # a partial span, a type the expression did not expect
                value = MISSING
            out.append((name, _plain(value)))
        return out, list(self.taint)

    def needs_approval(self, risk: float, span: Any, trace: Any, violation: dict) -> bool | None:
        """The `approve when` condition; None when the policy has none."""
        if self._approve is None:
            return None
        try:
            return bool(self._approve(*self._env(span, trace, violation), risk,
                                      _ctl_values(violation)))
        except Exception:
            return True  # cannot tell: ask a human rather than act


def _ctl_values(violation: dict) -> dict:
    """The values a `run controller` policy's arguments read: the period's metric and `let`s
    and the state after it (the decision), exact (docs/control.md §9); empty otherwise."""
    from fractions import Fraction

    ctl = violation.get("controller")
    if not isinstance(ctl, dict):
        return {}
    out = {}
    for k, v in (ctl.get("values") or {}).items():
        out[k] = Fraction(v) if isinstance(v, str) else v
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if hasattr(v, "numerator") and not isinstance(v, (int, bool)):
        return float(v)
    return v


