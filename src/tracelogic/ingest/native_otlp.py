"""OTLP protobuf decoded by the native core (``tracelogic._native``), as spans or columns.

Step 2 of the native core (docs/native.md): Rust decodes an ``ExportTraceServiceRequest``
into columns with the GIL released. :func:`decode_traces_pb_columns` returns those columns;
:func:`decode_traces_pb_native` turns them into the same :class:`~.spans.Span` list, the
same :class:`DecodeStats` counts and messages, and the same :class:`InputError` as the
Python decoder (:func:`.otlp.decode_traces_pb`), which is its reference and differential
oracle (tests/native/test_otlp_native.py): the same text rule, limits, rejections, repairs
and words.

One step stays in Python, on the error path only: a request upb refuses is first asked
whether it is a *metrics* request (the Python decoder then refuses it whole, saying so);
that needs the metrics schema, which the core does not carry.

The Monitor uses :func:`record_problems` and :func:`spans_from_columns` when the core runs
some of its properties (step 3): the core keeps its own copy of the spans, and the Python
engine gets :class:`Span` objects only when it runs a property too.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from tracelogic.errors import InputError

from .otlp_common import MAX_DEPTH, DecodeStats, loads_json, split_errors
from .otlp import (OtlpInput, decode_traces_json, decode_traces_pb, is_metrics_request,
                   read_json_document)
from .spans import _EMPTY, KIND_NAMES, STATUS_NAMES, InvalidValue, Span, _make

__all__ = ["decode_traces_pb_columns", "decode_traces_pb_native",
           "decode_traces_json_columns", "decode_traces_json_native", "decode_traces_json_py",
           "record_problems", "spans_from_columns", "span_from_fields", "span_fields",
           "column_value", "read_json_text", "json_split_errors"]

_HINT = ("if this file is OTLP/JSON, name it *.json; protobuf metrics must be read as "
         "metrics (monitor --metrics)")


def decode_traces_pb_columns(data: bytes, *,
                             wanted_attrs: frozenset[str] | None = None) -> dict[str, Any]:
    """The native decoder's columns (see ``native/src/otlp.rs``, ``Batch``).

    Never raises for bad bytes: ``problems`` holds the rejections and repairs,
    ``error`` the broken framing that refuses the whole request, and ``upb_refused``
    whether upb would refuse it (see :func:`decode_traces_pb_native`).
    """
    from tracelogic import _native

    return _native.decode_traces_pb(bytes(data),
                                    None if wanted_attrs is None else set(wanted_attrs))


def _value(v: Any) -> Any:
    """A column value as the Python decoder's: tuples stay, key-value lists become
    read-only mappings, the too-deep marker (Ellipsis) an InvalidValue."""
    if v is Ellipsis:
        return InvalidValue("...", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(v, tuple):
        return tuple([_value(x) for x in v])
    if isinstance(v, list):
        return MappingProxyType({k: _value(x) for k, x in v})
    return v


def column_value(v: Any) -> Any:
    """An attribute value as the core gives it (columns, ``NativeRun.span``), as the
    Python decoder holds it."""
    return _value(v)


def _mapping(pairs: list | dict) -> Any:
    """Attributes as the core gives them: a dict of final values (``NativeRun.span``), or
    ``(key, value)`` pairs whose values may need converting."""
    if type(pairs) is dict:
        return MappingProxyType(pairs) if pairs else _EMPTY
    return MappingProxyType({k: _value(v) for k, v in pairs}) if pairs else _EMPTY


def decode_traces_pb_native(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                            stats: DecodeStats | None = None,
                            source: str = "<protobuf>") -> list[Span]:
    """Like :func:`.otlp.decode_traces_pb`, decoded by the native core."""
    if stats is None:
        stats = DecodeStats()
    data = bytes(data)
    c = decode_traces_pb_columns(data, wanted_attrs=wanted_attrs)
    if c["upb_refused"] and is_metrics_request(data):
        # the Python decoder refuses a whole input of the wrong signal, with upb's words
        return decode_traces_pb(data, wanted_attrs=wanted_attrs, stats=stats, source=source)
    record_problems(c, data, stats, source)
    return spans_from_columns(c)


def decode_traces_json_columns(data: bytes, *,
                               wanted_attrs: frozenset[str] | None = None) -> dict[str, Any]:
    """The native OTLP/JSON decoder's columns for one document (the bytes of one request):
    those of :func:`decode_traces_pb_columns`, or ``fallback`` set to the reason the core
    leaves the whole document to the Python decoder (docs/native.md, step 4)."""
    from tracelogic import _native

    return _native.decode_traces_json(bytes(data),
                                      None if wanted_attrs is None else set(wanted_attrs))


def decode_traces_json_py(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                          stats: DecodeStats | None = None, source: str = "<json>",
                          line: int | None = None) -> list[Span]:
    """The Python decoder on the bytes of one document, as ``split_json`` calls it:
    :func:`.otlp_common.loads_json` (a malformed document raises its ``JsonLimitError``),
    then :func:`.otlp.decode_traces_json`. The reference of the native decoder."""
    doc, suspect = loads_json(bytes(data))
    return decode_traces_json(doc, wanted_attrs=wanted_attrs, stats=stats, source=source,
                              line=line, _suspect=suspect)


def decode_traces_json_native(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                              stats: DecodeStats | None = None, source: str = "<json>",
                              line: int | None = None) -> list[Span]:
    """Like :func:`decode_traces_json_py`, decoded by the native core; a document the core
    leaves to Python (``fallback``) is decoded by :func:`decode_traces_json_py`."""
    if stats is None:
        stats = DecodeStats()
    c = decode_traces_json_columns(data, wanted_attrs=wanted_attrs)
    if c["fallback"] is not None:
        return decode_traces_json_py(data, wanted_attrs=wanted_attrs, stats=stats,
                                     source=source, line=line)
    record_problems(c, data, stats, f"{source}:{line}" if line is not None else source)
    return spans_from_columns(c)


def _render(parts: list) -> str:
    """A message from the JSON decoder's parts: text, and 1-tuples of input values that
    the Python decoder quotes with ``repr``."""
    return "".join(p if isinstance(p, str) else repr(p[0]) for p in parts)


def record_problems(c: dict[str, Any], data: bytes, stats: DecodeStats, source: str) -> None:
    """Count the decoded request in ``stats`` with the Python decoder's messages, and raise
    its :class:`InputError` when the framing refuses the whole request (protobuf) or the
    document is refused whole (OTLP/JSON: ``refused``). OTLP/JSON problems carry their
    text as parts and, as a seventh item, ``(is_error, value)``: an error is recorded in
    ``stats.errors`` as an :class:`InputError` with that value, its spans counted as
    rejected."""
    refused = c.get("refused")
    if refused is not None:
        parts, value = refused
        raise InputError(f"{source}{_render(parts)}", value=value)
    for problem in c["problems"]:
        (level, ri, si, k, link), name, text, warning, rejected, received = problem[:6]
        if not isinstance(text, str):
            text = _render(text)
        where = f"{source}: resourceSpans[{ri}]"
        if level >= 1:
            where += f".scopeSpans[{si}]"
        if level >= 2:
            where += f".spans[{k}]"
        if link is not None:
            where += f".links[{link}]"
        message = f"{where} {name!r}{text}" if name is not None else f"{where}{text}"
        stats.received += received
        if len(problem) > 6 and problem[6][0]:
            stats.rejected += rejected
            stats.error(InputError(message, value=problem[6][1]))
        elif warning:
            stats.warn(message)
        else:
            stats.reject_many(rejected, message)
    if c["error"] is not None:
        offset, reason = c["error"]
        raise InputError(
            f"{source}: not a valid protobuf ExportTraceServiceRequest: {reason} at byte "
            f"offset {offset} (of {len(data)} bytes)", value=offset, hint=_HINT)
    stats.received += c["received"]
    stats.decoded += c["decoded"]


def spans_from_columns(c: dict[str, Any]) -> list[Span]:
    """The columns' spans as :class:`Span` objects (what the Python engine steps on)."""
    n = len(c["name"])
    attrs: list[list] = [[] for _ in range(n)]
    for i, key, value in zip(c["attr_span"], c["attr_key"], c["attr_value"]):
        attrs[i].append((key, value))
    events: list[list[str]] = [[] for _ in range(n)]
    for i, name in zip(c["event_span"], c["event_name"]):
        events[i].append(name)
    links: list[list] = [[] for _ in range(n)]
    lt, ls = c["link_trace_id"], c["link_span_id"]
    for j, i in enumerate(c["link_span"]):
        links[i].append((lt[16 * j:16 * j + 16].hex(), ls[8 * j:8 * j + 8].hex()))
    resources = [(service, _mapping(pairs)) for service, pairs in c["resources"]]
    tids, sids, pids = c["trace_id"], c["span_id"], c["parent_id"]
    out = []
    for i in range(n):
        service, resource = resources[c["resource"][i]]
        pid = pids[8 * i:8 * i + 8]
        out.append(_make(
            c["name"][i], _KINDS.get(c["kind"][i], "unspecified"),
            _STATUSES.get(c["status_code"][i], "unset"), c["status_message"][i],
            c["start_ns"][i], c["end_ns"][i], service, tids[16 * i:16 * i + 16].hex(),
            sids[8 * i:8 * i + 8].hex(), pid.hex() if any(pid) else "", _mapping(attrs[i]),
            resource, c["scopes"][c["scope"][i]], tuple(events[i]), tuple(links[i])))
    return out


def span_from_fields(f: tuple) -> Span:
    """A :class:`Span` from the fields the core's span store gives for one row
    (``NativeRun.span``): names for kind and status, hex ids, ``(key, value)`` pairs."""
    (name, kind, status, message, start, end, service, trace_id, span_id, parent_id, attrs,
     resource, scope, events, links) = f
    return _make(name, kind, status, message, start, end, service, trace_id, span_id,
                 parent_id, _mapping(attrs), _mapping(resource), scope, tuple(events),
                 tuple(links))


def read_json_text(result: OtlpInput, text: bytes, line: int, **kw: Any) -> None:
    """Decode one document the core left to Python (its bytes ``text``, line ``line`` of
    ``result.source``) as ``split_json`` and ``read_bytes`` would: parsed with
    :func:`.otlp_common.loads_json`, then :func:`.otlp.read_json_document` (``kw``)."""
    doc, suspect = loads_json(text)
    read_json_document(result, doc, line, suspect=suspect, **kw)


def json_split_errors(data: bytes, source: str, bad: list[int],
                      whole: bool) -> list[InputError]:
    """The errors ``split_json`` records for an input the core split; see
    :func:`.otlp_common.split_errors`."""
    return split_errors(data, source, bad, whole)


def span_fields(s: Span) -> tuple:
    """The fields of a :class:`Span` in :func:`span_from_fields`'s order, attribute values
    as the span holds them: for ``NativeRun.feed_json``, which keeps the spans of a document
    the Python decoder decoded in the core's store."""
    return (s.name, s.kind, s.status, s.status_message, s.start_ns, s.end_ns, s.service,
            s.trace_id, s.span_id, s.parent_id, list(s.attrs.items()),
            list(s.resource.items()), s.scope_name, list(s.event_names), list(s.links))


_KINDS = dict(enumerate(KIND_NAMES))
_STATUSES = dict(enumerate(STATUS_NAMES))
