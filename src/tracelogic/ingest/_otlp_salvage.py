"""The slow path both protobuf decoders share: re-frame an export request that upb
refused, down to its leaves (spans, metrics), so that a bad string rejects only what
holds it.

upb refuses a whole message when one string in it is not UTF-8, but the text rule
(docs/otlp-input.md) rejects only the span or data point holding it. Traces, metrics and
logs wrap their leaves in the same envelope -- a request of resource messages (field 1), each
holding a resource (1), scope messages (2) and a schema_url (3); each scope message
holding a scope (1), leaves (2) and a schema_url (3) -- so one walk serves both
(``otlp._salvage_traces``, ``metrics._salvage_metrics``, ``logs._salvage_logs``). What differs is a
:class:`Salvage` and the ``leaf`` function; field names in messages come from the
request's descriptor (``resourceSpans[0].scopeSpans[1].spans[2]``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracelogic.errors import InputError

from .otlp_common import MAX_STRING_BYTES, DecodeStats, WireError, pb_fields, pb_part, utf8_problem

__all__ = ["Salvage", "salvage_request"]

# (data, start, end, stats, where) -> the parsed leaf, or None when it rejected (and
# counted) it or it is not wanted; ``where`` names it, "<source>: resourceSpans[0]...".
Leaf = Callable[[bytes, int, int, DecodeStats, str], Any]


@dataclass(frozen=True, slots=True)
class Salvage:
    """What differs between the trace, metric and logs requests on the slow path."""

    request: Any  # the request class, e.g. ExportTraceServiceRequest
    unit: str  # what a rejection counts, in messages: "spans" | "data points" | "log records"
    points: bool  # count in DecodeStats.points_* (metrics) instead of the span counts
    count: Callable[[bytes, int, int], int]  # units in one serialized leaf
    hint: str  # the InputError's hint when the framing above the leaves is broken
    logs: bool = False  # count in DecodeStats.logs_* (log records)


def salvage_request(data: bytes, stats: DecodeStats, source: str, cause: Exception | None,
                    how: Salvage, leaf: Leaf) -> tuple[Any, dict[tuple[int, int], list[int]]]:
    """Rebuild the request from the parts of ``data`` that parse under the text rule.

    A resource or scope message that parses is kept whole. Otherwise a bad resource
    (or its schema_url) rejects all its leaves' units, a bad scope those of its own
    leaves, and each leaf is left to ``leaf``. Returns the rebuilt request and, per
    ``(resource, scope)`` index, the original indexes of the leaves kept (for messages).
    Broken framing above the leaves (truncation, not protobuf at all) is an
    :class:`InputError` for the whole request, with the byte offset.
    """
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    req = how.request()
    resources_fd = req.DESCRIPTOR.fields_by_number[1]
    scopes_fd = resources_fd.message_type.fields_by_number[2]
    leaves_fd = scopes_fd.message_type.fields_by_number[2]
    kept: dict[tuple[int, int], list[int]] = {}
    try:
        for ri, (a, b) in enumerate(_children(pb_fields(data), 1)):
            res_new = getattr(req, resources_fd.name).add()
            if _merge_whole(res_new, data, a, b):
                continue
            fields = pb_fields(data, a, b)
            scopes = _children(fields, 2)
            leaves = [_children(pb_fields(data, c, d), 2) for c, d in scopes]
            where = f"{source}: {resources_fd.json_name}[{ri}]"
            bad = _head_problem(data, fields, Resource, res_new.resource)
            if bad:
                n = sum(how.count(data, e, f) for parts in leaves for e, f in parts)
                _reject(stats, how, n, f"{where}: the resource {bad}; its {n} {how.unit} "
                                       f"skipped")
                for _ in scopes:
                    getattr(res_new, scopes_fd.name).add()
                continue
            for si, ((c, d), parts) in enumerate(zip(scopes, leaves)):
                scope_new = getattr(res_new, scopes_fd.name).add()
                if _merge_whole(scope_new, data, c, d):
                    continue
                at = f"{where}.{scopes_fd.json_name}[{si}]"
                bad = _head_problem(data, pb_fields(data, c, d), InstrumentationScope,
                                    scope_new.scope)
                if bad:
                    n = sum(how.count(data, e, f) for e, f in parts)
                    _reject(stats, how, n, f"{at}: the scope {bad}; its {n} {how.unit} skipped")
                    kept[(ri, si)] = []
                    continue
                out = getattr(scope_new, leaves_fd.name)
                ks = []
                for k, (e, f) in enumerate(parts):
                    m = leaf(data, e, f, stats, f"{at}.{leaves_fd.json_name}[{k}]")
                    if m is not None:
                        out.append(m)
                        ks.append(k)
                kept[(ri, si)] = ks
    except WireError as e:
        raise InputError(
            f"{source}: not a valid protobuf {req.DESCRIPTOR.name}: {e.reason} at byte "
            f"offset {e.offset} (of {len(data)} bytes)", value=e.offset, hint=how.hint) from cause
    return req, kept


def _children(fields: list[tuple[int, int, int, int]], num: int) -> list[tuple[int, int]]:
    """Where the length-delimited fields numbered ``num`` lie."""
    return [(a, b) for n, wt, a, b in fields if n == num and wt == 2]


def _merge_whole(new: Any, data: bytes, start: int, end: int) -> bool:
    """Parse ``data[start:end]`` into ``new`` in one go, when it is small enough that no
    string in it can be over the limit; False (``new`` left empty) when upb refuses it."""
    from google.protobuf.message import DecodeError  # imported late: see otlp.py

    if end - start <= MAX_STRING_BYTES:
        try:
            new.MergeFromString(data[start:end])
            return True
        except (DecodeError, RuntimeError, ValueError):
            new.Clear()
    return False


def _head_problem(data: bytes, fields: list[tuple[int, int, int, int]], cls: Any,
                  into: Any) -> str | None:
    """The resource (or scope), field 1, merged into ``into``; the first text-rule problem
    in it or in the schema_url (field 3), in field order, or None."""
    for num, wt, a, b in fields:
        if wt != 2:
            continue
        if num == 1:
            part, bad = pb_part(cls, data, a, b)
            if part is not None:
                into.MergeFrom(part)
        elif num == 3:
            bad = utf8_problem(data, a, b, "schema_url")
        else:
            continue
        if bad:
            return bad
    return None


def _reject(stats: DecodeStats, how: Salvage, n: int, message: str) -> None:
    """``n`` units received and rejected with one message."""
    if how.logs:
        stats.logs_received += n
        stats.reject_logs(n, message)
    elif how.points:
        stats.points_received += n
        stats.reject_points(n, message)
    else:
        stats.received += n
        stats.reject_many(n, message)
