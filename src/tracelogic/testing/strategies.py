"""Hypothesis strategies for traces: valid runs of a workflow, broken runs, and span trees.

    from tracelogic.testing.strategies import traces_from, mutated_traces_from

    @given(traces_from(spec.workflows["order"]))
    def test_service_accepts_every_valid_order_flow(trace): ...

Each strategy draws a :class:`GeneratedTrace`: the projected word of step
events (SPEC-LANGUAGE.md §6), tracelogic :class:`~tracelogic.ingest.spans.Span`
objects with consistent ids and timings, the same spans as OpenTelemetry SDK
``ReadableSpan`` objects (``.sdk_spans``) and as an OTLP ``ExportTraceServiceRequest``
(``.otlp``). Parallel branches are interleaved
in every way Hypothesis cares to try; strategies compose as usual.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

from hypothesis import strategies as st

from tracelogic.models import semantics
from tracelogic.models.workflow import (END, START, Alt, Event, Opt, Par, Seq, Skip, Star, Step,
                                        Wf, from_ast, parse, steps_of)
from tracelogic.ingest.spans import Span

T0 = 1_800_000_000 * 10**9
TICK = 1_000_000  # 1 ms between consecutive events


@dataclass(frozen=True)
class GeneratedTrace:
    word: tuple[Event, ...]
    spans: tuple[Span, ...]
    trace_id: str
    mutation: str | None = None
    names: dict = field(default_factory=dict, repr=False)

    @property
    def sdk_spans(self) -> list:
        """The spans as OpenTelemetry SDK ``ReadableSpan`` objects (what exporters receive)."""
        return [to_sdk(s) for s in self.spans]

    @property
    def otlp(self) -> Any:
        """The spans as an OTLP ``ExportTraceServiceRequest`` (protobuf)."""
        from tracelogic.ingest.otlp import spans_to_request

        return spans_to_request(list(self.spans))


def to_sdk(span: Span) -> Any:
    """One tracelogic span as an SDK ``ReadableSpan``, ids, times, kind and status kept."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    def ctx(span_id: str) -> SpanContext:
        return SpanContext(int(span.trace_id, 16), int(span_id, 16), is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))

    status = {"unset": StatusCode.UNSET, "ok": StatusCode.OK, "error": StatusCode.ERROR}
    return ReadableSpan(
        name=span.name, context=ctx(span.span_id),
        parent=ctx(span.parent_id) if span.parent_id else None,
        resource=Resource.create({"service.name": span.service}),
        attributes=dict(span.attrs), kind=SpanKind[span.kind.upper()],
        status=Status(status[span.status]), start_time=span.start_ns, end_time=span.end_ns)


@dataclass(frozen=True)
class _Workflow:
    wf: Wf
    compensations: dict           # step -> compensation step
    span_of: dict                 # step -> (span name, kind)
    name: str


def _resolve(workflow: Any) -> _Workflow:
    """A workflow from a typed spec's WorkflowT, or from text such as "a ; (b || c)"."""
    if isinstance(workflow, str):
        wf = parse(workflow)
        steps = steps_of(wf)
        return _Workflow(wf, {}, {s: (s, "internal") for s in steps}, "workflow")
    wf = from_ast(workflow.expr)
    span_of = {name: _span_shape(name, pred) for name, pred in workflow.steps.items()}
    return _Workflow(wf, dict(workflow.compensations), span_of, workflow.name)


def _span_shape(step: str, pred: Any) -> tuple[str, str]:
    """The span name (and kind) a step's predicate asks for: `name == "…"` [and `kind == …`]."""
    name, kind = None, "internal"
    stack = [pred]
    while stack:
        node = stack.pop()
        if node.op in ("pred", "and"):
            stack.extend(node.args)
        elif node.op == "cmp" and node.payload == "==":
            left, right = node.args
            if left.op == "field" and not left.payload[0] and right.op in ("lit", "enum"):
                value = right.payload if right.op == "lit" else right.payload[1]
                if left.payload[1] == "name":
                    name = value
                elif left.payload[1] == "kind":
                    kind = value
    if name is None:
        from tracelogic.errors import InputError
        raise InputError(f"cannot generate spans for step `{step}`: its predicate is not of "
                         "the form `name == \"…\"` (optionally `and kind == …`)", value=step)
    return name, kind


# ------------------------------------------------------------------ words

def _interleave(draw, a: list, b: list) -> list:
    picks = draw(st.permutations([0] * len(a) + [1] * len(b)))
    ia, ib = iter(a), iter(b)
    return [next(ia) if p == 0 else next(ib) for p in picks]


def _word(draw, w: Wf, max_repeat: int) -> list[Event]:
    """A word of ``w`` (recursive over the workflow, whose depth the user wrote)."""
    if isinstance(w, Step):
        return [Event(w.name, START), Event(w.name, END)]
    if isinstance(w, Skip):
        return []
    if isinstance(w, Seq):
        return list(itertools.chain.from_iterable(_word(draw, i, max_repeat) for i in w.items))
    if isinstance(w, Alt):
        return _word(draw, draw(st.sampled_from(w.items)), max_repeat)
    if isinstance(w, Star):
        n = draw(st.integers(0, max_repeat))
        return list(itertools.chain.from_iterable(_word(draw, w.item, max_repeat)
                                                  for _ in range(n)))
    if isinstance(w, Opt):
        return _word(draw, w.item, max_repeat) if draw(st.booleans()) else []
    if isinstance(w, Par):
        out = _word(draw, w.items[0], max_repeat)
        for item in w.items[1:]:
            out = _interleave(draw, out, _word(draw, item, max_repeat))
        return out
    raise TypeError(f"unknown workflow node {w!r}")


def _spans(flow: _Workflow, word: Sequence[Event], trace_no: int) -> tuple[tuple[Span, ...], str]:
    """Spans whose projected events are exactly ``word`` (one event per millisecond)."""
    trace_id = f"{trace_no + 1:032x}"
    root_id = f"{1:016x}"
    starts: dict[str, list[int]] = {}
    spans = []
    counter = itertools.count(2)
    for i, ev in enumerate(word):
        t = T0 + (i + 1) * TICK
        if ev.phase == START:
            starts.setdefault(ev.step, []).append(t)
            continue
        begin = starts[ev.step].pop(0)  # FIFO: any pairing gives the same projected word
        name, kind = flow.span_of.get(ev.step, (ev.step, "internal"))
        spans.append(Span(name=name, kind=kind, status="error" if ev.failed else "unset",
                          trace_id=trace_id, span_id=f"{next(counter):016x}",
                          parent_id=root_id, start_ns=begin, end_ns=t,
                          service="workflow", attrs={"workflow.step": ev.step}))
    end = T0 + (len(word) + 2) * TICK
    spans.insert(0, Span(name=f"workflow {flow.name}", kind="server", status="unset",
                         trace_id=trace_id, span_id=root_id, parent_id="", start_ns=T0,
                         end_ns=end, service="workflow"))
    return tuple(spans), trace_id


@st.composite
def traces_from(draw, workflow: Any, *, max_repeat: int = 2) -> GeneratedTrace:
    """Valid runs of ``workflow``: every one satisfies `conforms W` and `saga W`."""
    flow = _resolve(workflow)
    word = tuple(_word(draw, flow.wf, max_repeat))
    spans, tid = _spans(flow, word, draw(st.integers(0, 2**32)))
    return GeneratedTrace(word, spans, tid)


MUTATIONS = ("missing step", "swapped order", "failed without compensation",
             "compensation out of order")


@st.composite
def mutated_traces_from(draw, workflow: Any, *, max_repeat: int = 2) -> GeneratedTrace:
    """Broken runs: a missing step, swapped order, a failed step without compensation, a
    compensation out of order. Only words that the reference semantics says violate
    `conforms W` or `saga W` are kept (a mutation that still conforms is filtered out)."""
    flow = _resolve(workflow)
    word = list(_word(draw, flow.wf, max_repeat))
    kind = draw(st.sampled_from(MUTATIONS))
    mutated = _mutate(draw, flow, word, kind)
    from hypothesis import assume

    assume(mutated is not None)
    forward_ok = semantics.conforms(flow.wf, list(flow.compensations.values()), mutated)
    saga_ok = semantics.saga(flow.wf, flow.compensations, mutated)
    assume(not (forward_ok and saga_ok))
    spans, tid = _spans(flow, mutated, draw(st.integers(0, 2**32)))
    return GeneratedTrace(tuple(mutated), spans, tid, kind)


def _occurrences(word: list[Event]) -> list[tuple[int, int]]:
    """(start index, end index) of each step occurrence, FIFO-paired."""
    open_: dict[str, list[int]] = {}
    out = []
    for i, e in enumerate(word):
        if e.phase == START:
            open_.setdefault(e.step, []).append(i)
        else:
            out.append((open_[e.step].pop(0), i))
    return sorted(out)


def _mutate(draw, flow: _Workflow, word: list[Event], kind: str) -> list[Event] | None:
    occ = _occurrences(word)
    if kind == "missing step":
        if not occ:
            return None
        s, e = draw(st.sampled_from(occ))
        return [ev for i, ev in enumerate(word) if i not in (s, e)]
    if kind == "swapped order":
        if len(occ) < 2:
            return None
        i = draw(st.integers(0, len(occ) - 2))
        (s1, e1), (s2, e2) = occ[i], occ[i + 1]
        if e1 > s2:  # overlapping (parallel) occurrences: swapping them means nothing
            return None
        a, b = word[s1:e1 + 1], word[s2:e2 + 1]
        return word[:s1] + b + word[e1 + 1:s2] + a + word[e2 + 1:]
    if kind == "failed without compensation":
        compensated = [o for o in occ if word[o[0]].step in flow.compensations]
        later = [o for o in occ if compensated and o[0] > compensated[0][1]]
        if not later:
            return None
        s, e = draw(st.sampled_from(later))
        failed = word[:e] + [Event(word[e].step, END, True)]
        return failed  # nothing after the failure: the completed steps are never undone
    # compensation out of order: fail after two compensable steps, undo them first-to-last
    compensated = [o for o in occ if word[o[0]].step in flow.compensations]
    if len(compensated) < 2:
        return None
    (_, e1), (_, e2) = compensated[0], compensated[1]
    rest = [o for o in occ if o[0] > e2]
    if not rest:
        return None
    s, e = rest[0]
    prefix = word[:e] + [Event(word[e].step, END, True)]
    undo = []
    for idx in (e1, e2):  # the wrong order: first completed is undone first
        comp = flow.compensations[word[idx].step]
        undo += [Event(comp, START), Event(comp, END)]
    return prefix + undo


@st.composite
def spans(draw, *, max_spans: int = 12, names: Sequence[str] = ("a", "b", "c", "charge"),
          services: Sequence[str] = ("shop", "payments")) -> tuple[Span, ...]:
    """An arbitrary span tree of one trace: random structure, kinds, statuses and timings,
    equal timestamps and zero durations included."""
    n = draw(st.integers(1, max_spans))
    trace_id = f"{draw(st.integers(1, 2**64)):032x}"
    out: list[Span] = []
    for i in range(n):
        parent = None if i == 0 else draw(st.sampled_from(out))
        lo = T0 if parent is None else parent.start_ns
        start = draw(st.integers(lo, lo + 5 * TICK))
        end = draw(st.integers(start, start + 5 * TICK))
        out.append(Span(name=draw(st.sampled_from(names)),
                        kind=draw(st.sampled_from(("internal", "server", "client"))),
                        status=draw(st.sampled_from(("unset", "ok", "error"))),
                        trace_id=trace_id, span_id=f"{i + 1:016x}",
                        parent_id="" if parent is None else parent.span_id,
                        start_ns=start, end_ns=end, service=draw(st.sampled_from(services))))
    return tuple(out)


__all__ = ["GeneratedTrace", "MUTATIONS", "mutated_traces_from", "spans", "to_sdk",
           "traces_from"]
