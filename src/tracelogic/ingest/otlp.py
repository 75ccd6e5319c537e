"""OTLP trace input: protobuf (upb) and OTLP/JSON into :class:`~.spans.Span` objects.

Entry points:

- :func:`decode_traces_pb` -- bytes of one serialized ``ExportTraceServiceRequest``;
- :func:`decode_traces_request` -- an already parsed request (the gRPC receiver's case);
- :func:`decode_traces_json` -- one parsed OTLP/JSON document;
- :func:`read_bytes` / :func:`read_path` -- whole inputs (a file, ``-`` for stdin):
  protobuf or JSON, one JSON object or JSON Lines, traces or metrics, gzip or not;
- :func:`sniff` -- is a JSON document traces or metrics?
- :func:`request_to_json` -- the OTLP/JSON mapping in the other direction, and
  :func:`spans_to_request` to build a request from spans (tests, forwarding).

**Touch only what the spec reads.** Every decoder takes ``wanted_attrs``: the
span and resource attribute keys a spec can read (``None`` = all). With a set,
only those keys are converted; no dict of every attribute is ever built.

**Bad input never crashes.** Per-span problems (missing or malformed ids,
unreadable timestamps, a string that breaks the text rule of :mod:`.text_rule`)
reject that span, counted in :class:`DecodeStats` with a message; per-document
problems (a malformed JSON line, corrupt protobuf framing, a limit of
:mod:`.otlp_common` exceeded) are
:class:`~tracelogic.errors.InputError` with the file and line, or byte offset.
The decode functions raise them; :func:`read_bytes`/:func:`read_path` record them
in ``stats.errors`` and carry on with the rest of the input.
"""
from __future__ import annotations

import base64
import functools
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from tracelogic.errors import InputError

from .otlp_common import (
    MAX_STRING_BYTES, UINT64_MAX, DecodeStats, any_pb, attrs_json, attrs_pb, jget, jlist, jobj,
    json_enum, json_id, json_int, pb_error, pb_id, pb_part,
    split_json, text_problem, text_suspect,
)
from ._otlp_salvage import Salvage, salvage_request
from .spans import _EMPTY, KIND_NAMES, STATUS_NAMES, Span, _make, _SpanSlots

# The generated protobuf classes (~25 ms to import) are imported by the functions that
# use them: OTLP/JSON input, and `monitor` on an empty file, never need them
# (DESIGN.md: lazy start-up).
if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

__all__ = [
    "DecodeStats", "OtlpInput", "decode_traces_pb", "decode_traces_request",
    "decode_traces_json", "read_bytes", "read_json", "read_json_document", "read_path",
    "read_raw",
    "path_format", "unpack",
    "sniff", "request_to_json",
    "spans_to_request",
]

_KIND_BY_NUM: Final = dict(enumerate(KIND_NAMES))
_STATUS_BY_NUM: Final = dict(enumerate(STATUS_NAMES))
# the enum value names OTLP/JSON may use, from the span model's names without importing
# protobuf; they equal trace_pb2's (tests/ingest/test_otlp_enums.py)
_KIND_ENUM: Final = {f"SPAN_KIND_{n.upper()}": i for i, n in enumerate(KIND_NAMES)}
_STATUS_ENUM: Final = {f"STATUS_CODE_{n.upper()}": i for i, n in enumerate(STATUS_NAMES)}
_NUM_BY_KIND: Final = {v: k for k, v in _KIND_BY_NUM.items()}
_NUM_BY_STATUS: Final = {v: k for k, v in _STATUS_BY_NUM.items()}
_Z16: Final = bytes(16)
_Z8: Final = bytes(8)
_SERVICE: Final = "service.name"
_SCALAR_KINDS: Final = frozenset({"string_value", "bool_value", "int_value", "double_value",
                                  "bytes_value"})


# -- protobuf ----------------------------------------------------------------------

def decode_traces_pb(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                     stats: DecodeStats | None = None,
                     source: str = "<protobuf>") -> list[Span]:
    """Decode one serialized ``ExportTraceServiceRequest``.

    Raises :class:`InputError` (with the byte offset when it can be found) if the
    bytes are not such a message; rejected spans are counted in ``stats``.
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    try:
        req = ExportTraceServiceRequest.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        if is_metrics_request(data):  # a whole input of the wrong signal: say so once
            raise pb_error(bytes(data), ExportTraceServiceRequest.DESCRIPTOR, source,
                           "ExportTraceServiceRequest", e) from e
        if stats is None:
            stats = DecodeStats()
        return _salvage_traces(bytes(data), wanted_attrs, stats, source, e)
    if len(data) > MAX_STRING_BYTES:  # a string may be over the limit: look span by span
        if stats is None:
            stats = DecodeStats()
        return _salvage_traces(bytes(data), wanted_attrs, stats, source, None)
    return decode_traces_request(req, wanted_attrs=wanted_attrs, stats=stats, source=source)


def _salvage_traces(data: bytes, wanted: frozenset[str] | None, stats: DecodeStats,
                    source: str, cause: Exception | None) -> list[Span]:
    """The slow path, after upb refused the whole request (or it is big enough to hold
    a string over the limit): decode what can be decoded and reject the rest span by span.

    upb refuses a whole message when one string in it is not UTF-8, but the text rule
    rejects only the span holding it (docs/otlp-input.md). So the request is re-framed
    down to its spans (resource, scope and span messages, :mod:`._otlp_salvage`), and
    each part is parsed on its own: a bad resource or scope rejects its spans, a bad span
    only itself. Broken framing above the spans (truncation, not protobuf at all) is
    still an InputError for the whole request, with the byte offset.
    """
    req, kmap = salvage_request(data, stats, source, cause, _salvage(), _salvage_span)
    return decode_traces_request(req, wanted_attrs=wanted, stats=stats, source=source,
                                 _kmap=kmap)


def _salvage_span(data: bytes, start: int, end: int, stats: DecodeStats, where: str) -> Any:
    """One span on the slow path: the parsed message, or None (rejected and counted)."""
    from opentelemetry.proto.trace.v1 import trace_pb2

    sp, why = pb_part(trace_pb2.Span, data, start, end)
    if sp is None:
        stats.received += 1
        stats.reject(f"{where}: {why}; span skipped")
    return sp


@functools.cache
def _salvage() -> Salvage:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    return Salvage(
        ExportTraceServiceRequest, unit="spans", points=False,
        count=lambda data, start, end: 1,
        hint="if this file is OTLP/JSON, name it *.json; protobuf metrics must be read "
             "as metrics (monitor --metrics)")


def is_metrics_request(data: bytes) -> bool:
    """Do bytes that are not a trace request parse as a metrics request with a metric?"""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)
    try:
        req = ExportMetricsServiceRequest.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return False
    return any(sm.metrics for rm in req.resource_metrics for sm in rm.scope_metrics)


def decode_traces_request(req: ExportTraceServiceRequest, *,
                          wanted_attrs: frozenset[str] | None = None,
                          stats: DecodeStats | None = None,
                          source: str = "<request>",
                          _kmap: dict[tuple[int, int], list[int]] | None = None) -> list[Span]:
    """Decode a parsed ``ExportTraceServiceRequest`` (upb message) into spans.

    upb checked every string's UTF-8 when it parsed the message. (``_kmap``: the slow
    path's original span indexes, for messages.)
    """
    if stats is None:
        stats = DecodeStats()
    wanted = wanted_attrs
    out: list[Span] = []
    append = out.append
    slots = _SpanSlots
    span_cls = Span
    kinds = _KIND_BY_NUM
    statuses = _STATUS_BY_NUM
    scalar = _SCALAR_KINDS
    proxy = MappingProxyType
    received = 0
    last_tid, last_hex = b"", ""
    for ri, rs in enumerate(req.resource_spans):
        rkvs = rs.resource.attributes
        resource = attrs_pb(rkvs, wanted)
        service = ""
        for kv in rkvs:
            if kv.key == _SERVICE:
                service = kv.value.string_value
                break
        for si, ss in enumerate(rs.scope_spans):
            scope_name = ss.scope.name
            spans = ss.spans
            received += len(spans)
            ks = _kmap.get((ri, si)) if _kmap else None
            for k, sp in (enumerate(spans) if ks is None else zip(ks, spans)):
                tid = sp.trace_id
                sid = sp.span_id
                pid = sp.parent_span_id
                if (len(tid) != 16 or len(sid) != 8 or tid == _Z16 or sid == _Z8
                        or (pid and (len(pid) != 8 or pid == _Z8))):
                    if _reject_ids_pb(stats, source, ri, si, k, sp):
                        continue
                    pid = b""  # an all-zero parent id: read as a root
                start_ns = sp.start_time_unix_nano
                end_ns = sp.end_time_unix_nano
                if end_ns < start_ns:
                    _warn_times(stats, _where(source, ri, si, k), sp.name, start_ns, end_ns)
                kind = kinds.get(sp.kind)
                st = sp.status
                status = statuses.get(st.code)
                if kind is None or status is None:
                    kind, status = _fix_enums_pb(stats, source, ri, si, k, sp, kind, status)
                # The attribute loop is inlined: it is most of the decoding time.
                if wanted is None:
                    attrs = attrs_pb(sp.attributes, None)
                elif wanted:
                    d = None
                    for kv in sp.attributes:
                        key = kv.key
                        if key in wanted:
                            v = kv.value
                            w = v.WhichOneof("value")
                            if d is None:
                                d = {}
                            d[key] = getattr(v, w) if w in scalar else any_pb(v)
                    attrs = proxy(d) if d else _EMPTY
                else:
                    attrs = _EMPTY
                if tid != last_tid:  # spans of one trace come together: share the str
                    last_tid, last_hex = tid, tid.hex()
                thex = last_hex
                evs = sp.events
                lks = sp.links
                # spans._make inlined (saves a call per span): fill the mutable
                # slotted base, then switch the object to the immutable Span class.
                o = slots(
                    sp.name, kind, status, st.message, start_ns, end_ns, service,
                    thex, sid.hex(),
                    pid.hex() if pid else "", attrs, resource, scope_name,
                    tuple([e.name for e in evs]) if evs else (),
                    _links_pb(lks, stats, source, ri, si, k) if lks else ())
                o.__class__ = span_cls
                append(o)
    stats.received += received
    stats.decoded += len(out)
    return out


def _where(source: str, ri: int, si: int, k: int, line: int | None = None) -> str:
    loc = f"{source}:{line}" if line is not None else source
    return f"{loc}: resourceSpans[{ri}].scopeSpans[{si}].spans[{k}]"


def _reject_ids_pb(stats: DecodeStats, source: str, ri: int, si: int, k: int,
                   sp: Any) -> bool:
    """Reject a span with a bad id (True), or accept an all-zero parent id as a root."""
    for what, b, n in (("trace id", sp.trace_id, 16), ("span id", sp.span_id, 8),
                       ("parent span id", sp.parent_span_id, 8)):
        h, why = pb_id(b, n, what)
        if h is None or (h == "" and what != "parent span id"):
            why = why or f"{what} is missing"
            break
    else:
        return False
    if what == "parent span id" and sp.parent_span_id == _Z8:
        stats.warn(f"{_where(source, ri, si, k)} {sp.name!r}: parent span id is all zeros; "
                   f"read as a root span")
        return False
    stats.reject(f"{_where(source, ri, si, k)} {sp.name!r}: {why}; span skipped")
    return True


def _warn_times(stats: DecodeStats, where: str, name: str, start: int, end: int) -> None:
    stats.warn(f"{where} {name!r}: ends ({end}) before it starts ({start}); its duration is "
               f"negative and its end event is placed at its start")


def _fix_enums_pb(stats: DecodeStats, source: str, ri: int, si: int, k: int, sp: Any,
                  kind: str | None, status: str | None) -> tuple[str, str]:
    if kind is None:
        stats.warn(f"{_where(source, ri, si, k)} {sp.name!r}: unknown span kind "
                   f"{sp.kind}; read as unspecified")
        kind = "unspecified"
    if status is None:
        stats.warn(f"{_where(source, ri, si, k)} {sp.name!r}: unknown status code "
                   f"{sp.status.code}; read as unset")
        status = "unset"
    return kind, status


def _links_pb(lks: Any, stats: DecodeStats, source: str, ri: int, si: int,
              k: int) -> tuple[tuple[str, str], ...]:
    out = []
    for j, ln in enumerate(lks):
        t, why = pb_id(ln.trace_id, 16, "link trace id")
        s, why2 = pb_id(ln.span_id, 8, "link span id")
        if t and s:
            out.append((t, s))
        else:
            stats.warn(f"{_where(source, ri, si, k)}.links[{j}]: "
                       f"{why or why2 or 'link id is missing'}; link dropped")
    return tuple(out)


# -- OTLP/JSON ----------------------------------------------------------------------

def sniff(json_obj: Any) -> Literal["traces", "metrics"] | None:
    """``"traces"`` or ``"metrics"`` by the top-level key of an OTLP/JSON document.

    None when it has neither ``resourceSpans`` nor ``resourceMetrics`` (nor their
    snake_case spellings), e.g. an empty ``{}`` request or something else entirely.
    """
    if isinstance(json_obj, dict):
        if "resourceSpans" in json_obj or "resource_spans" in json_obj:
            return "traces"
        if "resourceMetrics" in json_obj or "resource_metrics" in json_obj:
            return "metrics"
    return None


def decode_traces_json(doc: Any, *, wanted_attrs: frozenset[str] | None = None,
                       stats: DecodeStats | None = None, source: str = "<json>",
                       line: int | None = None, _suspect: bool | None = None) -> list[Span]:
    """Decode one parsed OTLP/JSON ``ExportTraceServiceRequest`` (a dict).

    Follows the OTLP/JSON rules: hex ids (any case), lowerCamelCase keys (snake_case
    also accepted), integer enums (enum names also accepted), 64-bit integers as
    strings or numbers. Raises :class:`InputError` if ``doc`` is not an object or its
    ``resourceSpans`` is not an array; a malformed span is rejected and counted.

    The text rule: a span holding a string that is not valid Unicode text (a lone
    surrogate from a ``"\\ud800"`` escape) or is over the string limit is rejected; a
    resource or scope holding one rejects all of its spans. (``_suspect``: whether the
    strings need checking, when the caller parsed the text and knows; see
    :func:`~.otlp_common.loads_json`.)
    """
    if stats is None:
        stats = DecodeStats()
    loc = f"{source}:{line}" if line is not None else source
    if not isinstance(doc, dict):
        raise InputError(f"{loc}: expected an OTLP/JSON object with \"resourceSpans\", "
                         f"got a JSON {type(doc).__name__}", value=doc)
    try:
        rss = jlist(doc, "resourceSpans", "resource_spans", "request")
    except ValueError as e:
        raise InputError(f"{loc}: {e}", value=doc.get("resourceSpans")) from e
    check = text_suspect(doc) if _suspect is None else _suspect
    out: list[Span] = []
    for ri, rs in enumerate(rss):
        if check:
            why = text_problem(rs, f"{loc}: resourceSpans[{ri}]", _RS_CHILDREN)
            if why:
                n = _count_json_spans(rs)
                stats.received += n
                stats.reject_many(n, f"{why}; its {n} spans skipped")
                continue
        try:
            if not isinstance(rs, dict):
                raise ValueError("must be a JSON object")
            res = jobj(rs, "resource", "resource", "resourceSpans[]")
            rkvs = jget(res, "attributes", "attributes")
            resource = attrs_json(rkvs, wanted_attrs)
            service = _service_json(rkvs)
            scopes = jget(rs, "scopeSpans", "scope_spans")
            legacy = scopes is None
            if legacy:
                scopes = jget(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
            if scopes is None:
                scopes = []
            if not isinstance(scopes, list):
                raise ValueError("scopeSpans must be a JSON array")
        except ValueError as e:
            n = _count_json_spans(rs)
            stats.received += n
            stats.rejected += n
            stats.error(InputError(f"{loc}: resourceSpans[{ri}]: {e}; its {n} spans skipped",
                                   value=rs))
            continue
        for si, ss in enumerate(scopes):
            if check:
                why = text_problem(ss, f"{loc}: resourceSpans[{ri}].scopeSpans[{si}]",
                                   _SS_CHILDREN)
                if why:
                    n = _count_json_spans({"scopeSpans": [ss]})
                    stats.received += n
                    stats.reject_many(n, f"{why}; its {n} spans skipped")
                    continue
            try:
                if not isinstance(ss, dict):
                    raise ValueError("must be a JSON object")
                sc = (jobj(ss, "instrumentationLibrary", "instrumentation_library", "scopeSpans[]")
                      if legacy else jobj(ss, "scope", "scope", "scopeSpans[]"))
                scope_name = sc.get("name", "")
                if not isinstance(scope_name, str):
                    raise ValueError("scope.name must be a string")
                spans = jlist(ss, "spans", "spans", "scopeSpans[]")
            except ValueError as e:
                n = _count_json_spans({"scopeSpans": [ss]})
                stats.received += n
                stats.rejected += n
                stats.error(InputError(f"{loc}: resourceSpans[{ri}].scopeSpans[{si}]: {e}; "
                                       f"its {n} spans skipped", value=ss))
                continue
            stats.received += len(spans)
            for k, sp in enumerate(spans):
                if check:
                    why = text_problem(sp, _where(source, ri, si, k, line))
                    if why:
                        stats.reject(f"{why}; span skipped")
                        continue
                span = _span_json(sp, resource, service, scope_name, wanted_attrs, stats,
                                  source, line, ri, si, k)
                if span is not None:
                    out.append(span)
    stats.decoded += len(out)
    return out


_RS_CHILDREN: Final = frozenset({"scopeSpans", "scope_spans", "instrumentationLibrarySpans",
                                 "instrumentation_library_spans"})
_SS_CHILDREN: Final = frozenset({"spans"})


def _count_json_spans(rs: Any) -> int:
    if not isinstance(rs, dict):
        return 0
    scopes = jget(rs, "scopeSpans", "scope_spans")
    if scopes is None:
        scopes = jget(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
    if not isinstance(scopes, list):
        return 0
    return sum(len(s["spans"]) for s in scopes
               if isinstance(s, dict) and isinstance(s.get("spans"), list))


def _service_json(rkvs: Any) -> str:
    if isinstance(rkvs, list):
        for kv in rkvs:
            if isinstance(kv, dict) and kv.get("key") == _SERVICE:
                v = kv.get("value")
                if isinstance(v, dict):
                    s = jget(v, "stringValue", "string_value")
                    if isinstance(s, str):
                        return s
                return ""
    return ""


def _span_json(sp: Any, resource: Mapping[str, Any], service: str, scope_name: str,
               wanted: frozenset[str] | None, stats: DecodeStats, source: str,
               line: int | None, ri: int, si: int, k: int) -> Span | None:
    if not isinstance(sp, dict):
        stats.reject(f"{_where(source, ri, si, k, line)}: a span must be a JSON object, "
                     f"not {type(sp).__name__}; span skipped")
        return None
    name = sp.get("name", "")
    sid: str | None = None
    pid: str | None = None
    try:
        tid, why = json_id(jget(sp, "traceId", "trace_id"), 16, "trace id")
        if tid == "":
            why = "trace id is missing"
        if tid:
            sid, why = json_id(jget(sp, "spanId", "span_id"), 8, "span id")
            if sid == "":
                why = "span id is missing"
            if sid:
                raw_pid = jget(sp, "parentSpanId", "parent_span_id")
                pid, why = json_id(raw_pid, 8, "parent span id")
                if pid is None and raw_pid == "0" * 16:
                    stats.warn(f"{_where(source, ri, si, k, line)} {name!r}: parent span id "
                               f"is all zeros; read as a root span")
                    pid = ""
        if not tid or not sid or pid is None:
            raise ValueError(why)
        if not isinstance(name, str):
            raise ValueError(f"name {name!r} is not a string")
        start = json_int(jget(sp, "startTimeUnixNano", "start_time_unix_nano") or 0,
                         0, UINT64_MAX)
        end = json_int(jget(sp, "endTimeUnixNano", "end_time_unix_nano") or 0, 0, UINT64_MAX)
        if start is None or end is None:
            raise ValueError(
                f"startTimeUnixNano/endTimeUnixNano "
                f"{jget(sp, 'startTimeUnixNano', 'start_time_unix_nano')!r}/"
                f"{jget(sp, 'endTimeUnixNano', 'end_time_unix_nano')!r} "
                f"are not integers of nanoseconds in 0..2**64-1 (write them as decimal "
                f"strings)")
        if end < start:
            _warn_times(stats, _where(source, ri, si, k, line), name, start, end)
        knum = json_enum(sp.get("kind"), _KIND_ENUM)
        kind = _KIND_BY_NUM.get(knum) if knum is not None else None
        if kind is None:
            stats.warn(f"{_where(source, ri, si, k, line)} {name!r}: unknown span kind "
                       f"{sp.get('kind')!r}; read as unspecified")
            kind = "unspecified"
        st = jobj(sp, "status", "status", "span")
        cnum = json_enum(st.get("code"), _STATUS_ENUM)
        status = _STATUS_BY_NUM.get(cnum) if cnum is not None else None
        if status is None:
            stats.warn(f"{_where(source, ri, si, k, line)} {name!r}: unknown status code "
                       f"{st.get('code')!r}; read as unset")
            status = "unset"
        message = st.get("message", "")
        if not isinstance(message, str):
            raise ValueError(f"status.message {message!r} is not a string")
        attrs = attrs_json(sp.get("attributes"), wanted)
        evs = sp.get("events")
        event_names: tuple[str, ...] = ()
        if evs:
            if not isinstance(evs, list):
                raise ValueError("events must be a JSON array")
            event_names = tuple([e["name"] for e in evs
                                 if isinstance(e, dict) and isinstance(e.get("name"), str)])
            if len(event_names) != len(evs):
                stats.warn(f"{_where(source, ri, si, k, line)} {name!r}: "
                           f"{len(evs) - len(event_names)} events without a string name "
                           f"dropped")
        lks = sp.get("links")
        links: tuple[tuple[str, str], ...] = ()
        if lks:
            if not isinstance(lks, list):
                raise ValueError("links must be a JSON array")
            links = _links_json(lks, stats, _where(source, ri, si, k, line))
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        stats.reject(f"{_where(source, ri, si, k, line)} {name!r}: {e}; span skipped")
        return None
    return _make(name, kind, status, message, start, end, service, tid, sid, pid, attrs,
                 resource, scope_name, event_names, links)


def _links_json(lks: list[Any], stats: DecodeStats, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for j, ln in enumerate(lks):
        if not isinstance(ln, dict):
            stats.warn(f"{where}.links[{j}]: a link must be a JSON object; link dropped")
            continue
        t, why = json_id(jget(ln, "traceId", "trace_id"), 16, "link trace id")
        s, why2 = json_id(jget(ln, "spanId", "span_id"), 8, "link span id")
        if t and s:
            out.append((t, s))
        else:
            stats.warn(f"{where}.links[{j}]: {why or why2 or 'link id is missing'}; "
                       f"link dropped")
    return tuple(out)


# -- whole inputs -------------------------------------------------------------------

@dataclass(slots=True)
class OtlpInput:
    """Everything read from one input: spans, metric data points and the stats."""

    source: str
    spans: list[Span] = field(default_factory=list)
    points: list[Any] = field(default_factory=list)  # list[metrics.DataPoint]
    logs: list[Any] = field(default_factory=list)  # list[logs.LogRecord]
    stats: DecodeStats = field(default_factory=DecodeStats)


Format = Literal["auto", "json", "protobuf"]
Signal = Literal["auto", "traces", "metrics"]
_JSON_EXT: Final = (".json", ".jsonl", ".ndjson")
_PB_EXT: Final = (".pb", ".binpb", ".protobuf")


def read_path(path: str | os.PathLike[str], *, fmt: Format = "auto",
              signal: Signal = "auto", wanted_attrs: frozenset[str] | None = None,
              wanted_metrics: frozenset[str] | None = None,
              stats: DecodeStats | None = None) -> OtlpInput:
    """Read one OTLP file, or stdin when ``path`` is ``"-"``.

    The format is taken from the extension (``.json``/``.jsonl``/``.ndjson``,
    ``.pb``/``.binpb``, optionally followed by ``.gz``) or else sniffed from the
    content. JSON documents are sniffed as traces or metrics by their top-level
    key; protobuf is read as traces unless ``signal="metrics"``. Content problems
    are recorded in ``stats.errors``; only an unreadable file raises :class:`InputError`.
    """
    source, data = read_raw(path)
    return read_bytes(data, source=source, fmt=path_format(path) if fmt == "auto" else fmt,
                      signal=signal, wanted_attrs=wanted_attrs,
                      wanted_metrics=wanted_metrics, stats=stats)


def read_raw(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """``(source, bytes)`` of one input as stored (``"-"``: stdin, named ``<stdin>``);
    raises :class:`InputError` when it cannot be read."""
    p = os.fspath(path)
    if p == "-":
        return "<stdin>", sys.stdin.buffer.read()
    try:
        with open(p, "rb") as f:
            return p, f.read()
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror or e}", value=p,
                         hint="check the path; use - to read standard input") from e


def path_format(path: str | os.PathLike[str]) -> Format:
    """The format an input's name gives (``.json``, ``.pb``, either with ``.gz``), else
    ``"auto"``: sniffed from the content."""
    low = os.fspath(path).lower().removesuffix(".gz")
    if low.endswith(_JSON_EXT):
        return "json"
    if low.endswith(_PB_EXT):
        return "protobuf"
    return "auto"


def unpack(data: bytes, source: str, fmt: Format, stats: DecodeStats) -> tuple[bytes | None, Format]:
    """An input's bytes decompressed (gzip, at most
    :data:`~.compression.MAX_FILE_DECOMPRESSED_BYTES`) and its format resolved (``"auto"``
    is sniffed); ``(None, fmt)`` when the gzip data is corrupt or inflates beyond the
    limit, recorded in ``stats``."""
    if data[:2] == b"\x1f\x8b":
        from tracelogic.ingest.compression import gunzip_file

        try:  # bounded: a gzip bomb stops at the limit
            data = gunzip_file(data, source)
        except InputError as e:
            stats.error(e)
            return None, fmt
    return data, _sniff_format(data) if fmt == "auto" else fmt


def read_bytes(data: bytes, *, source: str = "<bytes>", fmt: Format = "auto",
               signal: Signal = "auto", wanted_attrs: frozenset[str] | None = None,
               wanted_metrics: frozenset[str] | None = None,
               stats: DecodeStats | None = None) -> OtlpInput:
    """Decode a whole input held in memory; see :func:`read_path`. Never raises for bad content."""
    from . import metrics  # metrics imports the shared helpers; keep the import one-way

    result = OtlpInput(source=source, stats=stats if stats is not None else DecodeStats())
    st = result.stats
    unpacked, fmt = unpack(data, source, fmt, st)
    if unpacked is None:
        return result
    data = unpacked
    if fmt == "protobuf":
        try:
            if signal == "metrics":
                result.points = metrics.decode_metrics_pb(
                    data, wanted_attrs=wanted_attrs, wanted_metrics=wanted_metrics,
                    stats=st, source=source)
            else:
                result.spans = decode_traces_pb(data, wanted_attrs=wanted_attrs, stats=st,
                                                source=source)
        except InputError as e:
            st.error(e)
        return result
    return read_json(data, result, signal=signal, wanted_attrs=wanted_attrs,
                     wanted_metrics=wanted_metrics)


def read_json(data: bytes, result: OtlpInput, *, signal: Signal = "auto",
              wanted_attrs: frozenset[str] | None = None,
              wanted_metrics: frozenset[str] | None = None) -> OtlpInput:
    """Decode OTLP/JSON input (one document or JSON Lines; not compressed) into
    ``result``, which names the source and holds the stats; returns it."""
    for line, doc, suspect in split_json(data, result.source, result.stats):
        read_json_document(result, doc, line, suspect=suspect, signal=signal,
                           wanted_attrs=wanted_attrs, wanted_metrics=wanted_metrics)
    return result


def read_json_document(result: OtlpInput, doc: Any, line: int, *, suspect: bool | None = None,
                       signal: Signal = "auto", wanted_attrs: frozenset[str] | None = None,
                       wanted_metrics: frozenset[str] | None = None) -> None:
    """Decode one document of an OTLP/JSON input (line ``line`` of ``result.source``) into
    ``result``: traces or metrics by its top-level key (or ``signal``); an error in
    ``result.stats`` for anything else (``{}`` is an empty request)."""
    from . import metrics

    st, source = result.stats, result.source
    kind = sniff(doc) if signal == "auto" else signal
    try:
        if kind == "traces":
            result.spans.extend(decode_traces_json(
                doc, wanted_attrs=wanted_attrs, stats=st, source=source, line=line,
                _suspect=suspect))
        elif kind == "metrics":
            result.points.extend(metrics.decode_metrics_json(
                doc, wanted_attrs=wanted_attrs, wanted_metrics=wanted_metrics, stats=st,
                source=source, line=line, _suspect=suspect))
        elif isinstance(doc, dict) and ("resourceLogs" in doc or "resource_logs" in doc):
            from .logs import decode_logs_json  # a logs document (issue 19)

            result.logs.extend(decode_logs_json(doc, wanted_attrs=wanted_attrs, stats=st,
                                                source=source, line=line))
        elif not (isinstance(doc, dict) and not doc):  # {} is an empty request
            keys = ", ".join(map(repr, list(doc)[:5])) if isinstance(doc, dict) else ""
            raise InputError(
                f"{source}:{line}: not an OTLP/JSON request: no \"resourceSpans\" or "
                f"\"resourceMetrics\"" + (f" (keys: {keys})" if keys else ""),
                value=doc if not isinstance(doc, dict) else None,
                hint="OTLP/JSON files hold ExportTraceServiceRequest or "
                     "ExportMetricsServiceRequest objects")
    except InputError as e:
        st.error(e)


def _sniff_format(data: bytes) -> Literal["json", "protobuf"]:
    # A serialized request starts with a field tag: 0x0a (field 1, length-delimited)
    # for any non-empty one. '{' (0x7b) or '[' would be group/unknown wire types, so
    # they mean JSON. A leading newline is ambiguous (0x0a is also the usual tag).
    if not data:
        return "json"
    b = data[:1]
    if b in (b"{", b"[", b" ", b"\t", b"\r") or data.startswith(b"\xef\xbb\xbf"):
        return "json"
    if b == b"\n":
        rest = data.lstrip()
        if rest[:1] in (b"{", b"[") or not rest:
            from google.protobuf.message import DecodeError
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest)

            try:
                ExportTraceServiceRequest.FromString(data)
            except DecodeError:
                return "json"
    return "protobuf"


# -- the other direction: spans and requests to OTLP ---------------------------------

def request_to_json(req: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP/JSON mapping of a trace request: hex ids, integer enums, lowerCamelCase,
    64-bit integers as decimal strings, default values omitted (as protobuf's JSON
    printer omits them)."""
    out_rs = []
    for rs in req.resource_spans:
        d: dict[str, Any] = {}
        if rs.HasField("resource"):
            d["resource"] = _resource_json(rs.resource)
        scopes = []
        for ss in rs.scope_spans:
            sd: dict[str, Any] = {}
            if ss.HasField("scope"):
                sd["scope"] = _scope_json(ss.scope)
            if ss.spans:
                sd["spans"] = [_span_to_json(sp) for sp in ss.spans]
            if ss.schema_url:
                sd["schemaUrl"] = ss.schema_url
            scopes.append(sd)
        if scopes:
            d["scopeSpans"] = scopes
        if rs.schema_url:
            d["schemaUrl"] = rs.schema_url
        out_rs.append(d)
    return {"resourceSpans": out_rs} if out_rs else {}


def _resource_json(r: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if r.attributes:
        d["attributes"] = [_kv_json(kv) for kv in r.attributes]
    if r.dropped_attributes_count:
        d["droppedAttributesCount"] = r.dropped_attributes_count
    return d


def _scope_json(s: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if s.name:
        d["name"] = s.name
    if s.version:
        d["version"] = s.version
    if s.attributes:
        d["attributes"] = [_kv_json(kv) for kv in s.attributes]
    if s.dropped_attributes_count:
        d["droppedAttributesCount"] = s.dropped_attributes_count
    return d


def _kv_json(kv: Any) -> dict[str, Any]:
    return {"key": kv.key, "value": _any_to_json(kv.value)}


def _any_to_json(v: Any) -> dict[str, Any]:
    which = v.WhichOneof("value")
    if which is None:
        return {}
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "double_value":
        x = v.double_value
        if x != x:
            return {"doubleValue": "NaN"}
        if x in (float("inf"), float("-inf")):
            return {"doubleValue": "Infinity" if x > 0 else "-Infinity"}
        return {"doubleValue": x}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode("ascii")}
    if which == "array_value":
        vals = [_any_to_json(x) for x in v.array_value.values]
        return {"arrayValue": {"values": vals} if vals else {}}
    kvs = [_kv_json(kv) for kv in v.kvlist_value.values]
    return {"kvlistValue": {"values": kvs} if kvs else {}}


def _span_to_json(sp: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if sp.trace_id:
        d["traceId"] = sp.trace_id.hex()
    if sp.span_id:
        d["spanId"] = sp.span_id.hex()
    if sp.trace_state:
        d["traceState"] = sp.trace_state
    if sp.parent_span_id:
        d["parentSpanId"] = sp.parent_span_id.hex()
    if sp.flags:
        d["flags"] = sp.flags
    if sp.name:
        d["name"] = sp.name
    if sp.kind:
        d["kind"] = sp.kind
    if sp.start_time_unix_nano:
        d["startTimeUnixNano"] = str(sp.start_time_unix_nano)
    if sp.end_time_unix_nano:
        d["endTimeUnixNano"] = str(sp.end_time_unix_nano)
    if sp.attributes:
        d["attributes"] = [_kv_json(kv) for kv in sp.attributes]
    if sp.dropped_attributes_count:
        d["droppedAttributesCount"] = sp.dropped_attributes_count
    if sp.events:
        evs = []
        for e in sp.events:
            ed: dict[str, Any] = {}
            if e.time_unix_nano:
                ed["timeUnixNano"] = str(e.time_unix_nano)
            if e.name:
                ed["name"] = e.name
            if e.attributes:
                ed["attributes"] = [_kv_json(kv) for kv in e.attributes]
            if e.dropped_attributes_count:
                ed["droppedAttributesCount"] = e.dropped_attributes_count
            evs.append(ed)
        d["events"] = evs
    if sp.dropped_events_count:
        d["droppedEventsCount"] = sp.dropped_events_count
    if sp.links:
        lks = []
        for ln in sp.links:
            ld: dict[str, Any] = {}
            if ln.trace_id:
                ld["traceId"] = ln.trace_id.hex()
            if ln.span_id:
                ld["spanId"] = ln.span_id.hex()
            if ln.trace_state:
                ld["traceState"] = ln.trace_state
            if ln.attributes:
                ld["attributes"] = [_kv_json(kv) for kv in ln.attributes]
            if ln.dropped_attributes_count:
                ld["droppedAttributesCount"] = ln.dropped_attributes_count
            if ln.flags:
                ld["flags"] = ln.flags
            lks.append(ld)
        d["links"] = lks
    if sp.dropped_links_count:
        d["droppedLinksCount"] = sp.dropped_links_count
    if sp.HasField("status"):
        sd: dict[str, Any] = {}
        if sp.status.message:
            sd["message"] = sp.status.message
        if sp.status.code:
            sd["code"] = sp.status.code
        d["status"] = sd
    return d


def spans_to_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    """Build an ``ExportTraceServiceRequest`` from spans, grouped by resource and scope.

    The inverse of decoding with ``wanted_attrs=None`` (event times and attributes,
    which :class:`Span` does not keep, are written as zero/empty). ``service`` is
    written as resource attribute ``service.name`` when the resource lacks it.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    groups: dict[tuple[Any, ...], list[Span]] = {}
    resources: dict[Any, dict[str, Any]] = {}
    for s in spans:
        res = dict(s.resource)
        if s.service and _SERVICE not in res:
            res[_SERVICE] = s.service
        rkey = tuple(sorted((k, repr(v)) for k, v in res.items()))
        resources.setdefault(rkey, res)
        groups.setdefault((rkey, s.scope_name), []).append(s)
    req = ExportTraceServiceRequest()
    by_res: dict[Any, Any] = {}
    for (rkey, scope_name), group in groups.items():
        rs = by_res.get(rkey)
        if rs is None:
            rs = req.resource_spans.add()
            rs.resource.CopyFrom(resource_pb2.Resource(
                attributes=[_kv_pb(k, v) for k, v in resources[rkey].items()]))
            by_res[rkey] = rs
        ss = rs.scope_spans.add()
        ss.scope.CopyFrom(common_pb2.InstrumentationScope(name=scope_name))
        for s in group:
            ss.spans.append(trace_pb2.Span(
                trace_id=bytes.fromhex(s.trace_id), span_id=bytes.fromhex(s.span_id),
                parent_span_id=bytes.fromhex(s.parent_id) if s.parent_id else b"",
                name=s.name, kind=_NUM_BY_KIND[s.kind],  # type: ignore[arg-type]
                start_time_unix_nano=s.start_ns, end_time_unix_nano=s.end_ns,
                attributes=[_kv_pb(k, v) for k, v in s.attrs.items()],
                events=[trace_pb2.Span.Event(name=n) for n in s.event_names],
                links=[trace_pb2.Span.Link(trace_id=bytes.fromhex(t), span_id=bytes.fromhex(i))
                       for t, i in s.links],
                status=trace_pb2.Status(code=_NUM_BY_STATUS[s.status],  # type: ignore[arg-type]
                                        message=s.status_message)))
    return req


def _kv_pb(k: str, v: Any) -> Any:
    from opentelemetry.proto.common.v1 import common_pb2
    return common_pb2.KeyValue(key=k, value=_any_pb_value(v))


def _any_pb_value(v: Any) -> Any:
    from opentelemetry.proto.common.v1 import common_pb2
    if isinstance(v, bool):
        return common_pb2.AnyValue(bool_value=v)
    if isinstance(v, int):
        return common_pb2.AnyValue(int_value=v)
    if isinstance(v, float):
        return common_pb2.AnyValue(double_value=v)
    if isinstance(v, str):
        return common_pb2.AnyValue(string_value=v)
    if isinstance(v, bytes):
        return common_pb2.AnyValue(bytes_value=v)
    if isinstance(v, (tuple, list)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(
            values=[_any_pb_value(x) for x in v]))
    if isinstance(v, Mapping):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(
            values=[_kv_pb(k, x) for k, x in v.items()]))
    return common_pb2.AnyValue()
