"""The independent oracle for the runtime monitor, and tests of the oracle itself.

The monitor compiles span predicates to Python source (semantics/codegen.py), lowers
property bodies to the logic IR with maximal non-temporal atoms (lower.py) and
steps DFAs (engine/compiled.py, engine/monitor.py). This module shares none of that:

- :func:`value` interprets the typed predicate IR (``TExpr``) directly on a span,
  following SPEC-LANGUAGE.md §2 as written (a missing attribute, or one of
  another type, makes every comparison on it false; ``exists`` tests presence);
- :func:`formula` maps a property body to the logic IR with one atom per *leaf*
  condition (comparisons, fields, ``exists``, ...), so the Boolean structure is
  evaluated by the reference evaluator, not by generated code;
- :func:`instances` builds each scope instance's event word from ``Trace.events``
  (per trace) or from every trace's events merged by time (cross-trace scopes),
  with ``prev``/``last`` registers computed by their direct definition;
- :func:`expected` runs :func:`tracelogic.logic.reference.holds` on each word.

Other test modules import these helpers (``from .test_monitor_oracle import ...``).
"""
from __future__ import annotations

import operator
import re
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest

import tracelogic
from tracelogic.logic import constructors as L
from tracelogic.logic import patterns as P
from tracelogic.logic.reference import holds
from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import MISSING, InvalidValue, Span

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


def _sort(v: Any) -> str | None:
    """The dynamic type of a runtime value: bool, num, str, or None for anything else."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return None


def _num(v: Any) -> bool:
    return _sort(v) == "num"


@dataclass
class Ctx:
    """Where a predicate is evaluated: a span, its event, its trace, the whole input."""

    span: Span
    start: bool
    by_id: dict[str, Span]                  # the span's trace, by span id (first wins)
    everything: dict[tuple[str, str], tuple[Span, dict]] = field(default_factory=dict)
    regs: dict = field(default_factory=dict)  # register node -> value at this event

    def at(self, span: Span, by_id: dict | None = None) -> Ctx:
        return Ctx(span, self.start, self.by_id if by_id is None else by_id, self.everything,
                   self.regs)


def _parent(span: Span | None, by_id: dict[str, Span]) -> Span | None:
    if span is None or not span.parent_id:
        return None
    return by_id.get(span.parent_id)


def _literal(node) -> Any:
    v = node.payload
    return float(v) if isinstance(v, Fraction) else v


def value(e, c: Ctx) -> Any:
    """The value of typed expression ``e`` at context ``c`` (MISSING when absent)."""
    op, a = e.op, e.args
    if op == "pred":
        return value(a[0], c)
    if op == "lit":
        return _literal(e)
    if op == "enum":
        return e.payload[1]
    if op == "field":
        hops, name = e.payload
        if name == "start":
            return c.start
        if name == "end":
            return not c.start
        s: Span | None = c.span
        for _ in hops:
            s = _parent(s, c.by_id)
        if s is None:
            return MISSING
        if name == "duration":
            return s.end_ns - s.start_ns
        if name == "is_root":
            return s.parent_id == ""
        return {"scope.name": s.scope_name}.get(name, getattr(s, name, MISSING))
    if op == "attr":
        hops, source, key = e.payload
        s = c.span
        for _ in hops:
            s = _parent(s, c.by_id)
        if s is None:
            return MISSING
        if source == "resource":
            return dict(s.resource).get(key, MISSING)
        attrs = dict(s.attrs)
        return attrs[key] if key in attrs else dict(s.resource).get(key, MISSING)
    if op == "has_event":
        return e.payload in c.span.event_names
    if op == "has_ancestor":
        seen = {c.span.span_id}
        p = _parent(c.span, c.by_id)
        while p is not None and p.span_id not in seen:
            if truth(a[0], c.at(p)):
                return True
            seen.add(p.span_id)
            p = _parent(p, c.by_id)
        return False
    if op == "has_child":
        return any(truth(a[0], c.at(s)) for s in c.by_id.values()
                   if s.parent_id == c.span.span_id)
    if op == "linked":
        for key in c.span.links:
            hit = c.everything.get(key)
            if hit is not None and truth(a[0], c.at(hit[0], hit[1])):
                return True
        return False
    if op == "exists":
        return value(a[0], c) is not MISSING
    if op == "not":
        return not truth(a[0], c)
    if op == "and":
        return truth(a[0], c) and truth(a[1], c)
    if op == "or":
        return truth(a[0], c) or truth(a[1], c)
    if op == "implies":
        return (not truth(a[0], c)) or truth(a[1], c)
    if op == "iff":
        return truth(a[0], c) == truth(a[1], c)
    if op == "xor":
        return truth(a[0], c) != truth(a[1], c)
    if op == "cmp":
        x, y = value(a[0], c), value(a[1], c)
        sx = _sort(x)
        if sx is None or sx != _sort(y):
            return False  # missing, malformed, or of another type: false (even `!=`)
        if sx == "bool" and e.payload not in ("==", "!="):
            return False
        return _CMP[e.payload](x, y)
    if op in ("+", "-", "*", "/", "//", "%") and len(a) == 2:
        x, y = value(a[0], c), value(a[1], c)
        if not (_num(x) and _num(y)):
            return MISSING
        if op in ("/", "//", "%") and y == 0:
            return MISSING
        return {"+": operator.add, "-": operator.sub, "*": operator.mul,
                "/": operator.truediv, "//": operator.floordiv, "%": operator.mod}[op](x, y)
    if op == "neg":
        x = value(a[0], c)
        return -x if _num(x) else MISSING
    if op == "in":
        x = value(a[0], c)
        target = a[1]
        if target.op == "range":
            lo, hi = (_const(t) for t in target.args)
            return _num(x) and lo <= x <= hi
        items = [_const(t) for t in target.args]
        return _sort(x) is not None and any(_sort(i) == _sort(x) and i == x for i in items)
    if op == "matches":
        x = value(a[0], c)
        return isinstance(x, str) and re.search(a[1].payload, x) is not None
    if op == "contains":
        x, y = value(a[0], c), value(a[1], c)
        return isinstance(x, str) and isinstance(y, str) and y in x
    if op == "startswith":
        x, y = value(a[0], c), value(a[1], c)
        return isinstance(x, str) and isinstance(y, str) and x.startswith(y)
    if op in ("prev", "last"):
        return c.regs[e]
    raise NotImplementedError(f"oracle: no interpretation for `{op}`")


def _const(node) -> Any:
    if node.op == "neg":
        return -_const(node.args[0])
    if node.op == "enum":
        return node.payload[1]
    return _literal(node)


def truth(e, c: Ctx) -> bool:
    """``e`` used as a condition: only the boolean true is true (MISSING, "yes", 1 are not)."""
    return value(e, c) is True


# ----------------------------------------------------------------- formulas

_UNARY_T = {"F": L.F, "G": L.G, "O": L.O, "H": L.H}
_BINARY_T = {"U": L.U, "W": L.W, "R": L.R, "M": L.M, "S": L.S}


def formula(e) -> tuple[Any, list]:
    """The logic-IR formula of a property body, and its leaf conditions (atom keys)."""
    leaves: dict = {}

    def go(e):
        op, a = e.op, e.args
        if op == "pred":
            return go(a[0])
        if op == "lit" and isinstance(e.payload, bool):
            return L.TRUE() if e.payload else L.FALSE()
        if op in ("X", "WX", "Y"):
            return {"X": L.X, "WX": L.WX, "Y": L.Y}[op](go(a[0]))
        if op in _UNARY_T:
            return _UNARY_T[op](go(a[0]), e.payload)
        if op in _BINARY_T:
            return _BINARY_T[op](go(a[0]), go(a[1]), e.payload)
        if op == "not":
            return L.Not(go(a[0]))
        if op == "and":
            return L.And(go(a[0]), go(a[1]))
        if op == "or":
            return L.Or(go(a[0]), go(a[1]))
        if op == "implies":
            return L.Implies(go(a[0]), go(a[1]))
        if op == "iff":
            return L.Iff(go(a[0]), go(a[1]))
        if op == "xor":
            return L.Xor(go(a[0]), go(a[1]))
        if op == "pattern":
            name, scope, within = e.payload
            # pattern arguments first, then the scope's arguments (SPEC-LANGUAGE.md §3)
            n = 2 if name in ("precedence", "response") else 1
            args = [go(x) for x in a]
            sc = getattr(P, scope)(*args[n:])
            if name == "response":
                return P.response(args[0], args[1], sc, within=within)
            return getattr(P, name)(*args[:n], sc)
        leaves[e] = None
        return L.Atom(("leaf", e))

    return go(e), list(leaves)


def trigger_of(body):
    """The documented vacuity trigger: `G (A -> ...)`, `response(A, ...)`,
    `precedence(..., A)` with A non-temporal; None otherwise."""
    while body.op == "pred":
        body = body.args[0]
    if body.op == "G" and body.payload is None and body.args[0].op == "implies":
        lhs = body.args[0].args[0]
        if not lhs.is_temporal:
            return lhs
    if body.op == "pattern":
        if body.payload[0] == "response" and not body.args[0].is_temporal:
            return body.args[0]
        if body.payload[0] == "precedence" and not body.args[1].is_temporal:
            return body.args[1]
    return None


def registers_of(body) -> list:
    return [n for n in body.walk() if n.op in ("prev", "last")]


# ----------------------------------------------------------------- instances

@dataclass
class Instance:
    key: str
    events: list = field(default_factory=list)   # (Event, by_id) in instance order
    partial: bool = False


def group_traces(spans: list[Span]) -> dict[str, tuple[Trace, dict[str, Span]]]:
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    out = {}
    for tid, group in by_trace.items():
        by_id: dict[str, Span] = {}
        for s in group:
            by_id.setdefault(s.span_id, s)
        out[tid] = (Trace(group), by_id)
    return out


def _partial(by_id: dict[str, Span]) -> bool:
    roots = [s for s in by_id.values() if not s.parent_id]
    orphans = [s for s in by_id.values() if s.parent_id and s.parent_id not in by_id]
    return bool(orphans) or not roots


def key_text(v: Any) -> str | None:
    if v is MISSING or v is None or isinstance(v, InvalidValue):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def instances(prop, traces) -> dict[str, Instance]:
    """Scope instances of ``prop``: per trace, or by key over all traces' events
    merged by (time, trace id, position in the trace)."""
    out: dict[str, Instance] = {}
    if prop.scope == "trace":
        for tid, (trace, by_id) in traces.items():
            out[tid] = Instance(tid, [(ev, by_id) for ev in trace.events], _partial(by_id))
        return out
    rows = []
    for tid, (trace, by_id) in traces.items():
        for i, ev in enumerate(trace.events):
            rows.append((ev.time_ns, tid, i, ev, by_id))
    rows.sort(key=lambda r: r[:3])
    for _, tid, _, ev, by_id in rows:
        if prop.scope == "global":
            key = "*"
        else:
            k = prop.scope_key
            if k.op == "field" and k.payload[1] == "service":
                key = ev.span.service or None   # no service.name: no instance
            else:
                key = key_text(value(k, Ctx(ev.span, ev.is_start, by_id)))
        if key is None:
            continue
        inst = out.setdefault(key, Instance(key))
        inst.events.append((ev, by_id))
        inst.partial |= _partial(by_id)
    return out


def register_values(regs: list, events: list, everything: dict) -> list[dict]:
    """The value of every register at every event, by the direct definition:
    ``prev(e)`` is e at the instance's previous event (e itself at the first);
    ``last(e where P, d)`` is e at the latest earlier event where P held, else d."""
    out = []
    ctxs = [Ctx(ev.span, ev.is_start, by_id, everything) for ev, by_id in events]
    for i, c in enumerate(ctxs):
        vals = {}
        for r in regs:
            if r.op == "prev":
                vals[r] = value(r.args[0], ctxs[i - 1] if i else c)
            else:
                e, where, default = r.args
                hit = next((j for j in range(i - 1, -1, -1) if truth(where, ctxs[j])), None)
                vals[r] = value(e, ctxs[hit]) if hit is not None else _const(default)
        out.append(vals)
    return out


def word(leaves: list, events: list, everything: dict, regs: list) -> list:
    """The reference evaluator's word: (frozenset of true leaf keys, t_ns) per event."""
    reg_vals = register_values(regs, events, everything) if regs else [{}] * len(events)
    w = []
    for (ev, by_id), rv in zip(events, reg_vals):
        c = Ctx(ev.span, ev.is_start, by_id, everything, rv)
        w.append((frozenset(("leaf", x) for x in leaves if truth(x, c)), ev.time_ns))
    return w


@dataclass
class Expected:
    verdict: str
    partial: bool
    vacuous: bool
    word: list
    events: list


def everything_of(traces) -> dict:
    return {(s.trace_id, sid): (s, by_id) for _, by_id in traces.values()
            for sid, s in by_id.items()}


def expected(prop, spans: list[Span]) -> dict[str, Expected]:
    """Per instance key: the reference verdict of temporal property ``prop``."""
    traces = group_traces(spans)
    everything = everything_of(traces)
    f, leaves = formula(prop.body)
    regs = registers_of(prop.body)
    trig = trigger_of(prop.body)
    out = {}
    for key, inst in instances(prop, traces).items():
        w = word(leaves, inst.events, everything, regs)
        ok = holds(f, w, 0)
        vac = False
        if ok and trig is not None and not registers_of(trig):
            vac = not any(truth(trig, Ctx(ev.span, ev.is_start, by_id, everything))
                          for ev, by_id in inst.events)
        out[key] = Expected("satisfied" if ok else "violated", inst.partial, vac, w,
                            [ev for ev, _ in inst.events])
    return out


def prefix_verdict(prop, exp: Expected, k: int) -> bool:
    """Reference truth of the instance's word cut after event ``k``."""
    f, _ = formula(prop.body)
    return holds(f, exp.word[:k + 1], 0)


# ----------------------------------------------------------------- the oracle's own tests

TID = "0" * 31 + "1"


def _span(i: int, name: str, start: int, end: int, parent: int | None = None, **kw) -> Span:
    return Span(name=name, trace_id=kw.pop("trace_id", TID), span_id=f"{i:016x}",
                parent_id=f"{parent:016x}" if parent else "", start_ns=start, end_ns=end, **kw)


def _prop(text: str):
    return tracelogic.load(text).properties[0]


def _ctx(span: Span, spans: list[Span], start: bool = True) -> Ctx:
    return Ctx(span, start, {s.span_id: s for s in spans})


@pytest.mark.parametrize("pred, attrs, want", [
    ('attr["x"] > 2', {"x": 3}, True),
    ('attr["x"] > 2', {"x": "3"}, False),             # another type: false
    ('attr["x"] != 2', {"x": "2"}, False),            # ... even for !=
    ('attr["x"] != 2', {}, False),                    # missing: false
    ('attr["x"] exists', {"x": InvalidValue("12x", "bad int")}, True),
    ('attr["x"] == 12', {"x": InvalidValue("12x", "bad int")}, False),
    ('attr["x"] == true', {"x": 1}, False),            # 1 is not true
    ('attr["x"] + 1 >= 3', {"x": 2}, True),
    ('attr["x"] + 1 >= 3', {"x": True}, False),
    ('attr["x"] in 1..3', {"x": 3.0}, True),
    ('attr["x"] in [1, 3]', {"x": "1"}, False),
    ('attr["x"] // 0 == 0', {"x": 1}, False),
    ('name matches r"^[ab]$"', {}, True),
    ('!attr["flag"]', {"flag": "yes"}, True),          # bare attr: true only if boolean true
    ('!attr["flag"]', {"flag": True}, False),
])
def test_oracle_predicates(pred, attrs, want):
    prop = _prop(f"property q: G ({pred})")
    body = prop.body.args[0]
    s = _span(1, "a", 0, 10, attrs=attrs)
    assert truth(body, _ctx(s, [s])) is want


def test_oracle_structure_and_words():
    root = _span(1, "a", 0, 10)
    child = _span(2, "b", 2, 5, parent=1, status="error")
    grandchild = _span(3, "c", 3, 4, parent=2)
    spans = [root, child, grandchild]
    prop = _prop('property q: G (has_ancestor(parent.name == "a") -> name == "c")')
    exp = expected(prop, spans)[TID]
    assert exp.verdict == "satisfied"
    assert [(e.span.name, e.kind) for e in exp.events] == [
        ("a", "start"), ("b", "start"), ("c", "start"), ("c", "end"), ("b", "end"),
        ("a", "end")]
    prop = _prop('property q: F (name == "b" & status == error & X (name == "c"))')
    assert expected(prop, spans)[TID].verdict == "satisfied"
    prop = _prop('property q: G (name == "c" -> O[<= 1ms] name == "b")')  # 1 ns apart
    assert expected(prop, spans)[TID].verdict == "satisfied"


def test_oracle_registers_direct_definition():
    spans = [_span(1, "w", 0, 1, attrs={"v": 3}), _span(2, "r", 2, 3, attrs={"v": 2}),
             _span(3, "w", 4, 5, attrs={"v": 1}), _span(4, "r", 6, 7, attrs={"v": 1})]
    prop = _prop('property q: G (name == "r" & end -> attr["v"] >= '
                 'last(attr["v"] where name == "w" & end, 0))')
    exp = expected(prop, spans)[TID]
    assert exp.verdict == "violated"          # the read at 2 saw the write of 3
    regs = registers_of(prop.body)
    traces = group_traces(spans)
    inst = instances(prop, traces)[TID]
    vals = [v[regs[0]] for v in register_values(regs, inst.events, {})]
    assert vals == [0, 0, 3, 3, 3, 3, 1, 1]    # strictly earlier events only
    prop = _prop('property q: G (attr["v"] <= prev(attr["v"]))')
    assert expected(prop, spans)[TID].verdict == "satisfied"


def test_oracle_cross_trace_instances():
    t2 = "0" * 31 + "2"
    spans = [_span(1, "charge", 0, 1, attrs={"order": "o1"}),
             _span(1, "charge", 5, 6, attrs={"order": "o1"}, trace_id=t2),
             _span(2, "charge", 7, 8, attrs={"order": 7}, trace_id=t2, parent=1)]
    prop = _prop('property q per attr["order"]: G (name == "charge" & end -> '
                 'WX G !(name == "charge" & end))')
    exp = expected(prop, spans)
    assert {k: e.verdict for k, e in exp.items()} == {"o1": "violated", "7": "satisfied"}
