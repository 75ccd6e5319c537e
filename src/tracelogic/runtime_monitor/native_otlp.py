"""OTLP protobuf decoded by the native core (``tracelogic._native``), as spans or columns.

Step 2 of the native core (docs/native.md): Rust decodes an ``ExportTraceServiceRequest``
into columns with the GIL released. :func:`decode_traces_pb_columns` returns those columns;
:func:`decode_traces_pb_native` turns them into the same :class:`~.spans.Span` list, the
same :class:`DecodeStats` counts and messages, and the same :class:`InputError` as the
Python decoder (:func:`.otlp.decode_traces_pb`), which is its differential oracle
(tests/native/test_otlp_native.py).

One rule differs on purpose, the one the hardening issue asks of every decoder: a string
that is not valid UTF-8 (in a span, its events, links, resource or scope) rejects that
span, counted, instead of the whole request, as upb does today.

Not wired into the Monitor yet: the monitor still decodes in Python.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ._otlp_common import MAX_DEPTH, DecodeStats, pb_error
from .spans import _EMPTY, KIND_NAMES, STATUS_NAMES, InvalidValue, Span, _make

__all__ = ["decode_traces_pb_columns", "decode_traces_pb_native"]


def decode_traces_pb_columns(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                             source: str = "<protobuf>") -> dict[str, Any]:
    """The native decoder's columns (see ``native/src/otlp.rs``, ``Batch``).

    Raises :class:`InputError` (with the byte offset when it can be found) if the bytes
    are not an ``ExportTraceServiceRequest``.
    """
    from tracelogic import _native

    data = bytes(data)
    try:
        return _native.decode_traces_pb(data, None if wanted_attrs is None else set(wanted_attrs))
    except ValueError as e:
        raise pb_error(data, ExportTraceServiceRequest.DESCRIPTOR, source,
                       "ExportTraceServiceRequest", e) from e


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


def _mapping(pairs: list) -> Any:
    return MappingProxyType({k: _value(v) for k, v in pairs}) if pairs else _EMPTY


def decode_traces_pb_native(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                            stats: DecodeStats | None = None,
                            source: str = "<protobuf>") -> list[Span]:
    """Like :func:`.otlp.decode_traces_pb`, decoded by the native core."""
    if stats is None:
        stats = DecodeStats()
    c = decode_traces_pb_columns(data, wanted_attrs=wanted_attrs, source=source)
    for ri, si, k, link, name, text, rejected in c["problems"]:
        where = f"{source}: resourceSpans[{ri}].scopeSpans[{si}].spans[{k}]"
        if link is not None:
            stats.warn(f"{where}.links[{link}]{text}")
        elif rejected:
            stats.reject(f"{where} {name!r}{text}")
        else:
            stats.warn(f"{where} {name!r}{text}")
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
    kinds = dict(enumerate(KIND_NAMES))
    statuses = dict(enumerate(STATUS_NAMES))
    tids, sids, pids = c["trace_id"], c["span_id"], c["parent_id"]
    out = []
    for i in range(n):
        service, resource = resources[c["resource"][i]]
        pid = pids[8 * i:8 * i + 8]
        out.append(_make(
            c["name"][i], kinds.get(c["kind"][i], "unspecified"),
            statuses.get(c["status_code"][i], "unset"), c["status_message"][i],
            c["start_ns"][i], c["end_ns"][i], service, tids[16 * i:16 * i + 16].hex(),
            sids[8 * i:8 * i + 8].hex(), pid.hex() if any(pid) else "", _mapping(attrs[i]),
            resource, c["scopes"][c["scope"][i]], tuple(events[i]), tuple(links[i])))
    stats.received += c["received"]
    stats.decoded += n
    return out
