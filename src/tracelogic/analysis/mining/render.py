"""From the miners' counts to proposed properties, ranked and capped, and to `.spec` text."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import Span

from .exclusion import collect_exclusions
from .invariants import AttrStats, collect_attrs, collect_metrics
from .model import (MineOptions, Mined, Operation, format_ns, identifier, spec_duration,
                    spec_number, spec_string)
from .patterns import collect
from .workflow import generalise, render_term, size, steps_of

MAX_TRACE_SPANS = 300  # a trace with more spans gets no workflow (the terms nest that deep)

__all__ = ["MinedSpec", "mine"]

# the order in which kinds survive --max-properties (lower first)
RANKS = {"absence": 0, "operations": 1, "workflow": 2, "latency": 3, "attributes": 4,
         "exclusion": 5, "metric": 6, "existence": 7, "response": 8, "precedence": 9,
         "bounded_response": 10}


@dataclass
class MinedSpec:
    """The proposed properties (ranked, capped) and what they were mined from."""

    properties: list[Mined]
    traces: int
    spans: int
    points: int
    options: MineOptions
    dropped: int = 0                       # candidates cut by --max-properties
    notes: list[str] = field(default_factory=list)
    preds: dict[str, str] = field(default_factory=dict)     # name -> predicate text
    steps: dict[str, str] = field(default_factory=dict)     # name -> predicate text
    metrics: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (otel, type)
    workflow: str | None = None

    def text(self) -> str:
        o = self.options
        out = [
            "# Mined by `tracelogic mine` (docs/mining.md): proposals, not facts. Review each "
            "one;",
            "# delete what is incidental to the runs you mined from, then `tracelogic check` "
            "and `monitor`.",
            f"# Input: {self.traces} trace(s), {self.spans} span(s), {self.points} metric "
            "point(s).",
            f"# Options: --max-properties {o.max_properties} --max-pattern-length "
            f"{o.max_pattern_length} --min-support {o.min_support} --min-confidence "
            f"{o.min_confidence:g} --margin {o.margin:g} --max-enum {o.max_enum}"
            + ("" if o.workflow else " --no-workflow"),
            "# support = instances (traces, or key values for `per attr`) whose trigger "
            "occurred;",
            "# confidence = the share of them where the property held.",
        ]
        if self.dropped:
            out.append(f"# {self.dropped} more candidate(s) were cut by --max-properties "
                       f"{o.max_properties}.")
        out += [f"# {n}" for n in self.notes]
        out.append("")
        for name, body in self.preds.items():
            out.append(f"pred {name} = {body}")
        if self.preds:
            out.append("")
        for name, (otel, typ) in self.metrics.items():
            out.append(f"metric {name} = {spec_string(otel)} : {typ}")
        if self.metrics:
            out.append("")
        if self.workflow is not None:
            for name, body in self.steps.items():
                out.append(f"step {name} = {body}")
            out.append("")
            out.append("workflow mined_flow:")
            out.append(f"  {self.workflow}")
            out.append("")
        for p in self.properties:
            out.append(f"# {p.kind}: support {p.support}, confidence {p.confidence:.2f} "
                       f"({p.holds}/{p.support})")
            out += [f"#   {e}" for e in p.evidence]
            out.append(p.body)
            out.append("")
        return "\n".join(out).rstrip("\n") + "\n"


def mine(spans: Sequence[Span], points: Sequence[Any] = (),
         options: MineOptions | None = None) -> MinedSpec:
    """Mine a spec from spans (and metric points) of healthy runs; see the package docs."""
    o = options or MineOptions()
    traces = _traces(spans)
    span_list = [s for t in traces for s in t.spans]
    all_ops = {(s.service, s.name) for s in span_list}
    ops = sorted(op for op in all_ops
                 if spec_string(op[0]) is not None and spec_string(op[1]) is not None)
    names = _Names(ops)
    cands: list[Mined] = []
    notes: list[str] = []
    n = len(traces)

    stats = collect(traces, pairs=o.max_pattern_length >= 2, workflow=o.workflow,
                    max_trace_spans=MAX_TRACE_SPANS)

    # absence of failures
    if n:
        cands.append(Mined("absence", "no_failed_span", "property no_failed_span "
                           "\"no span ends with status error\":\n  absence(failed)",
                           n, n - stats.failed_traces,
                           [f"{stats.failed_traces} of {n} trace(s) had a failed span"],
                           RANKS["absence"]))
    # the closed world of operations
    if ops:
        body = " | ".join(names.pred(op) for op in ops)
        cands.append(Mined("operations", "known_operations",
                           "property known_operations \"every span is an operation seen in "
                           f"healthy runs\":\n  G ({body})", n, n,
                           [f"{len(ops)} operation(s) seen"], RANKS["operations"],
                           tuple(ops)))
    opset = set(ops)
    for op in ops:
        support = stats.present[op]
        if o.max_pattern_length >= 1:
            cands.append(Mined("existence", names.prop("exists", op),
                               f"property {names.prop_name}:\n  existence({names.pred(op)})",
                               n, support, [f"{_op(op)} in {support} of {n} trace(s)"],
                               RANKS["existence"], (op,)))
        held = stats.bounded.get((op, op), 0)
        if held:
            worst = stats.max_delay[(op, op)]
            bound = _widen_ns(worst, o.margin)
            p = names.pred(op)
            cands.append(Mined(
                "latency", names.prop("latency", op),
                f"property {names.prop_name}:\n  response({p} & start, {p} & end, within "
                f"{spec_duration(bound)})", support, held,
                [f"{_op(op)}: {stats.spans[op]} span(s) in {support} trace(s); slowest start "
                 f"to next end {format_ns(worst)}; bound {format_ns(bound)} (margin "
                 f"{o.margin:.0%})"], RANKS["latency"], (op,)))
    if o.max_pattern_length >= 2:
        for (a, b), held in sorted(stats.response.items()):
            if a in opset and b in opset:
                cands.append(Mined(
                    "response", names.prop("response", a, b),
                    f"property {names.prop_name}:\n  response({names.pred(a)} & start, "
                    f"{names.pred(b)} & start)", stats.present[a], held,
                    [f"after each start of {_op(a)}, {_op(b)} starts"],
                    RANKS["response"], (a, b)))
        for (a, b), held in sorted(stats.precedence.items()):
            if a in opset and b in opset:
                cands.append(Mined(
                    "precedence", names.prop("precedence", a, b),
                    f"property {names.prop_name}:\n  precedence({names.pred(a)} & start, "
                    f"{names.pred(b)} & start)", stats.present[b], held,
                    [f"{_op(a)} starts before the first {_op(b)}"],
                    RANKS["precedence"], (a, b)))
        for (a, b), held in sorted(stats.bounded.items()):
            if a != b and a in opset and b in opset:
                worst = stats.max_delay[(a, b)]
                bound = _widen_ns(worst, o.margin)
                cands.append(Mined(
                    "bounded_response", names.prop("within", a, b),
                    f"property {names.prop_name}:\n  response({names.pred(a)} & start, "
                    f"{names.pred(b)} & end, within {spec_duration(bound)})",
                    stats.present[a], held,
                    [f"each start of {_op(a)} is followed by an end of {_op(b)}; longest "
                     f"{format_ns(worst)}, bound {format_ns(bound)} (margin {o.margin:.0%})"],
                    RANKS["bounded_response"], (a, b)))

    # attribute invariants, one property per operation
    attrs = collect_attrs(span_list, o.max_enum)
    for op in ops:
        conj, ev = [], []
        for key in sorted(attrs.get(op, {})):
            c = _constraint(key, attrs[op][key], stats.spans[op], o)
            if c is not None:
                conj.append(c[0])
                ev.append(c[1])
        if conj:
            body = " & ".join(conj)
            cands.append(Mined("attributes", names.prop("attrs", op),
                               f"property {names.prop_name}:\n  G ({names.pred(op)} -> {body})", stats.present[op], stats.present[op], ev,
                               RANKS["attributes"], (op,)))

    # cross-trace mutual exclusion
    for ex in sorted(collect_exclusions(span_list), key=lambda e: (e.op, e.key)):
        if ex.op not in opset or spec_string(ex.key) is None:
            continue
        p = names.pred(ex.op)
        cands.append(Mined(
            "exclusion", names.prop("exclusive", ex.op, ("", ex.key)),
            f"property {names.prop_name} per attr[{spec_string(ex.key)}]:\n"
            f"  G ({p} & start -> (Y (!({p} & start) S ({p} & end)) | !(Y (O ({p} & "
            "start)))))", ex.exercised, ex.held,
            [f"{_op(ex.op)} spans never overlap for one value of {ex.key}: "
             f"{ex.exercised} value(s) with two or more spans ({ex.values} in all), "
             f"{ex.pairs} consecutive pair(s)"
             + (f", smallest gap {format_ns(ex.min_gap_ns)}" if ex.pairs else "")],
            RANKS["exclusion"], (ex.op,)))

    # metric ranges
    metric_names: dict[str, tuple[str, str]] = {}
    for metric, ms in sorted(collect_metrics(points).items()):
        if spec_string(metric) is None:
            continue
        lo, hi = _widen_range(ms.lo, ms.hi, o.margin)
        lo_t, hi_t = spec_number(lo), spec_number(hi)
        if lo_t is None or hi_t is None:
            continue
        mname = identifier(metric, taken=names.taken, prefix="m")
        metric_names[mname] = (metric, "real")
        cands.append(Mined(
            "metric", names.prop("range", ("", metric)),
            f"metric invariant {names.prop_name} per service:\n  {lo_t} <= {mname} <= {hi_t}",
            ms.points, ms.points,
            [f"{metric}: {ms.points} point(s) from {', '.join(sorted(ms.services)) or '-'} in "
             f"[{ms.lo:g}, {ms.hi:g}]{' ' + ms.unit if ms.unit else ''}; widened on each side by "
             f"{o.margin:.0%} of max(|lo|, |hi|, hi - lo)"], RANKS["metric"]))

    # the workflow
    workflow_text = None
    steps: dict[str, str] = {}
    if o.workflow and traces and ops:
        terms = stats.terms
        if any(t is None for t in terms):
            notes.append(f"no workflow: a trace has more than {MAX_TRACE_SPANS} spans")
            terms = None
        elif len(opset) < len(all_ops):
            notes.append("no workflow: some operation's name cannot be written as a string")
            terms = None
        if terms is not None:
            flow = generalise(terms)
            used = sorted(steps_of(flow))
            if len(used) > o.max_workflow_steps:
                notes.append(f"no workflow: it would have {len(used)} steps, more than "
                             f"--max-workflow-steps {o.max_workflow_steps}")
            elif size(flow) > o.max_workflow_size:
                notes.append(f"no workflow: the {len(set(terms))} distinct trace shapes need "
                             f"{size(flow)} step occurrences, more than --max-workflow-size "
                             f"{o.max_workflow_size}; the traces vary too much for a small one")
            else:
                step_names = {op: identifier(*op, taken=names.taken, prefix="s") for op in used}
                steps = {step_names[op]: _op_pred(op) for op in used}
                workflow_text = render_term(flow, step_names.__getitem__)  # fmt's layout
                cands.append(Mined(
                    "workflow", "follows_mined_flow",
                    "property follows_mined_flow \"each trace's spans follow the mined "
                    "workflow\":\n  conforms mined_flow", n, n,
                    [f"{len(set(terms))} distinct trace shape(s), {len(used)} step(s), "
                     f"{size(flow)} step occurrence(s) in the expression"],
                    RANKS["workflow"]))

    kept = [c for c in cands if c.support >= o.min_support
            and c.confidence >= o.min_confidence and len(c.operations) <= max(
                o.max_pattern_length, len(c.operations) if c.kind == "operations" else 0)]
    kept.sort(key=lambda c: (c.rank, -c.support, -c.confidence, c.name))
    chosen = kept[:o.max_properties]
    dropped = len(kept) - len(chosen)
    if not any(c.kind == "workflow" for c in chosen):
        workflow_text, steps = None, {}
    for c in chosen:
        if c.confidence < 1.0:
            head, _, rest = c.body.partition(":\n")
            c.body = f"{head} severity warning:\n{rest}"
    text_all = "\n".join(c.body for c in chosen)
    preds = {name: body for name, body in names.preds.items()
             if _mentions(text_all, name)}
    if any("absence(failed)" in c.body for c in chosen):
        preds = {"failed": "status == error", **preds}
    metrics = {k: v for k, v in metric_names.items() if _mentions(text_all, k)}
    return MinedSpec(chosen, len(traces), len(span_list), len(points), o, dropped, notes,
                     preds, steps, metrics, workflow_text)


def _mentions(text: str, name: str) -> bool:
    import re

    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def _traces(spans: Iterable[Span]) -> list[Trace]:
    by: dict[str, list[Span]] = {}
    for s in spans:
        by.setdefault(s.trace_id, []).append(s)
    traces = [Trace(v) for v in by.values()]
    traces.sort(key=lambda t: t.trace_id)
    return traces


def _op(op: Operation) -> str:
    return f"{op[0]}:{op[1]}" if op[0] else op[1]


def _op_pred(op: Operation) -> str:
    return f"service == {spec_string(op[0])} & name == {spec_string(op[1])}"


class _Names:
    """Stable names for predicates and properties; ``prop_name`` is the last one made."""

    def __init__(self, ops: list[Operation]) -> None:
        self.taken: set[str] = {"failed", "mined_flow", "no_failed_span", "known_operations",
                                "follows_mined_flow"}
        self.preds: dict[str, str] = {}
        self._pred_of: dict[Operation, str] = {}
        for op in ops:  # sorted: the numbering of colliding names is stable
            name = identifier(*op, taken=self.taken, prefix="op")
            self._pred_of[op] = name
            self.preds[name] = _op_pred(op)
        self._props: dict[tuple, str] = {}
        self.prop_name = ""

    def pred(self, op: Operation) -> str:
        return self._pred_of[op]

    def prop(self, kind: str, *ops: Operation) -> str:
        key = (kind, ops)
        if key not in self._props:
            parts = [kind] + [w for op in ops for w in op]
            self._props[key] = identifier(*parts[1:], taken=self.taken, prefix=kind)
        self.prop_name = self._props[key]
        return self.prop_name


def _widen_ns(ns: int, margin: float) -> int:
    return int(math.ceil(ns * (1.0 + margin)))


def _widen_range(lo: float, hi: float, margin: float) -> tuple[float | int, float | int]:
    span = max(abs(hi), abs(lo), hi - lo) * margin
    a, b = lo - span, hi + span
    if isinstance(lo, int) and isinstance(hi, int):
        return math.floor(a), math.ceil(b)
    return a, b


def _constraint(key: str, a: AttrStats, spans: int, o: MineOptions
                ) -> tuple[str, str] | None:
    """One attribute's conjunct and its evidence line, or None when nothing is learned."""
    k = spec_string(key)
    if k is None or len(a.types) != 1 or "other" in a.types:
        return None
    (typ,) = a.types
    ref = f"attr[{k}]"
    values = a.values
    enum = len(values) <= o.max_enum and (len(values) == 1 or a.present >= 2 * len(values))
    cond: str | None = None
    if typ == "bool":
        if len(values) == 1:
            cond = f"{ref} == {'true' if next(iter(values)) else 'false'}"
    elif typ == "str" and enum:
        lits = [spec_string(v) for v in sorted(values)]
        if all(lits):
            cond = (f"{ref} == {lits[0]}" if len(lits) == 1
                    else f"{ref} in [{', '.join(lits)}]")  # type: ignore[arg-type]
    elif typ in ("int", "float"):
        if typ == "int" and enum:
            lits = [spec_number(v) for v in sorted(values)]
            cond = (f"{ref} == {lits[0]}" if len(lits) == 1
                    else f"{ref} in [{', '.join(lits)}]")  # type: ignore[arg-type]
        else:
            lo, hi = spec_number(a.lo), spec_number(a.hi)
            if lo is not None and hi is not None:
                cond = f"{lo} <= {ref} <= {hi}"
    if cond is None:
        return None
    shown = ", ".join(str(v) for v in sorted(values)[:o.max_enum])
    more = "" if len(values) <= o.max_enum else ", ..."
    ev = f"{key}: on {a.present} of {spans} span(s), {typ} values {{{shown}{more}}}"
    if a.present < spans:
        cond = f"(!({ref} exists) | {cond})"
    return cond, ev
