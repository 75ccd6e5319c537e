"""Operations from spans, by convention (docs/consistency.md, "The span convention").

An operation span is a span that names its operation: ``consistency.operation``, else
OTel's ``db.operation.name`` (database semantic conventions). Then:

- invocation = the span's start, completion = its end;
- ``consistency.key`` names the object (absent: the store is one object); with
  ``db.namespace`` the key is ``(namespace, key)``, so two databases never share a key;
- ``consistency.input`` / ``consistency.output``: the argument and the result (absent:
  nil; arrays become tuples, so ``cas`` takes ``[expected, new]``);
- the client is ``consistency.client``, else ``service.instance.id``, else the service;
- status ``error`` means the operation certainly failed (it did not take effect), unless
  ``consistency.indeterminate`` is true: then it may or may not have taken effect, and
  its output is unknown (Jepsen's ``:info``).

A spec may map its own spans onto operations instead (``operation`` declarations,
docs/language.md); :class:`Mapping` is that mapping, compiled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Final, Iterable, Sequence

from tracelogic.ingest.spans import Span
from tracelogic.values.missing import MISSING

from .history import Operation

__all__ = ["ATTR_OPERATION", "ATTR_KEY", "ATTR_INPUT", "ATTR_OUTPUT", "ATTR_CLIENT",
           "ATTR_INDETERMINATE", "Mapping", "from_span", "operations"]

ATTR_OPERATION: Final = "consistency.operation"
ATTR_KEY: Final = "consistency.key"
ATTR_INPUT: Final = "consistency.input"
ATTR_OUTPUT: Final = "consistency.output"
ATTR_CLIENT: Final = "consistency.client"
ATTR_INDETERMINATE: Final = "consistency.indeterminate"
DB_OPERATION: Final = "db.operation.name"
DB_NAMESPACE: Final = "db.namespace"

#: every attribute the convention reads (a decoder asked for fewer keys must keep these)
ATTRIBUTES: Final = frozenset({ATTR_OPERATION, ATTR_KEY, ATTR_INPUT, ATTR_OUTPUT,
                               ATTR_CLIENT, ATTR_INDETERMINATE, DB_OPERATION, DB_NAMESPACE,
                               "service.instance.id"})


def _value(v: Any) -> Any:
    return None if v is MISSING else v


def status_of(span: Span, indeterminate: Any = MISSING) -> str:
    if span.status != "error":
        return "ok"
    flag = span.attr(ATTR_INDETERMINATE) if indeterminate is MISSING else indeterminate
    return "indeterminate" if flag is True else "fail"


def client_of(span: Span) -> str:
    c = span.attr(ATTR_CLIENT)
    if c is MISSING:
        c = span.resource_attr("service.instance.id")
    if c is MISSING:
        c = span.service
    return str(c)


def from_span(span: Span, id: int) -> Operation | None:
    """The operation a span describes by the convention, or None when it is not one."""
    f = span.attr(ATTR_OPERATION)
    if f is MISSING:
        f = span.attr(DB_OPERATION)
    if f is MISSING or not isinstance(f, str):
        return None
    key = _value(span.attr(ATTR_KEY))
    ns = span.attr(DB_NAMESPACE)
    if ns is not MISSING:
        key = (ns, key)
    status = status_of(span)
    return Operation(id, f, _value(span.attr(ATTR_INPUT)),
                     None if status == "indeterminate" else _value(span.attr(ATTR_OUTPUT)),
                     span.start_ns, span.end_ns, status, key, client_of(span),
                     span=span.key)


@dataclass(frozen=True)
class Mapping:
    """One ``operation`` declaration, compiled: ``when`` picks the spans, the others
    compute the fields from a span and its trace (``None``: the convention's attribute).
    """

    name: str
    when: Callable[[Span, Any], bool]
    key: Callable[[Span, Any], Any] | None = None
    input: Callable[[Span, Any], Any] | None = None
    output: Callable[[Span, Any], Any] | None = None
    client: Callable[[Span, Any], Any] | None = None
    indeterminate: Callable[[Span, Any], Any] | None = None

    def apply(self, span: Span, id: int, trace: Any = None) -> Operation | None:
        if not self.when(span, trace):
            return None

        def get(fn: Callable[[Span, Any], Any] | None, attr: str) -> Any:
            return _value(span.attr(attr) if fn is None else fn(span, trace))

        ind = MISSING if self.indeterminate is None else self.indeterminate(span, trace)
        status = status_of(span, ind)
        client = client_of(span) if self.client is None else str(
            _value(self.client(span, trace)))
        return Operation(id, self.name, get(self.input, ATTR_INPUT),
                         None if status == "indeterminate" else get(self.output, ATTR_OUTPUT),
                         span.start_ns, span.end_ns, status, get(self.key, ATTR_KEY),
                         client, span=span.key)


def operations(spans: Iterable[Span], mappings: Sequence[Mapping] = ()) -> list[Operation]:
    """The operations among ``spans``, in start order. With ``mappings`` the first that
    matches a span decides; without, the convention does."""
    out: list[Operation] = []
    spans = sorted(spans, key=lambda s: (s.start_ns, s.end_ns, s.span_id))
    traces: dict[str, Any] = {}
    if mappings:  # a mapping may read structure (parent.name, has_ancestor): give it traces
        from tracelogic.ingest.events import Trace

        members: dict[str, list[Span]] = {}
        for s in spans:
            members.setdefault(s.trace_id, []).append(s)
        traces = {t: Trace(ss) for t, ss in members.items()}
    for span in spans:
        op = None
        if mappings:
            for m in mappings:
                op = m.apply(span, len(out), traces.get(span.trace_id))
                if op is not None:
                    break
        else:
            op = from_span(span, len(out))
        if op is not None:
            out.append(op)
    return out
