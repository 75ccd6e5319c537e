"""OTLP log input: protobuf and OTLP/JSON into :class:`LogRecord` objects (issue 19).

A log record is an event of its own signal (docs/language.md, "Log records"). This
module owns the record model and its decoders; where a record sits among a trace's
span events is :mod:`.events`' business.

The decoders follow the trace decoder's rules (:mod:`.otlp`, docs/otlp-input.md):

- hex ids in OTLP/JSON, raw bytes in protobuf; a malformed trace or span id rejects the
  record (an absent one is fine: the record has no trace context);
- 64-bit integers as decimal strings or numbers, enums as integers (or their names);
- the text rule and the limits of :mod:`.otlp_common`: a record holding a string that is
  not valid text or over ``MAX_STRING_BYTES`` is rejected, a resource or scope holding
  one rejects all of its records; nesting deeper than ``MAX_DEPTH`` is an
  :class:`~.spans.InvalidValue`;
- per-record problems are counted in :class:`~.otlp_common.DecodeStats`
  (``logs_received``, ``logs_decoded``, ``logs_rejected``) with a message; a document
  that is not a logs request at all is an :class:`~tracelogic.errors.InputError`.

Only the attributes the spec reads are kept (``wanted_attrs``), as for spans.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from tracelogic.errors import InputError
from tracelogic.values.missing import MISSING

from ._otlp_salvage import Salvage, salvage_request
from .otlp_common import (MAX_STRING_BYTES, UINT64_MAX, DecodeStats, any_json, any_pb,
                          attrs_json, attrs_pb, jget, jlist, jobj, json_enum, json_id,
                          json_int, pb_id, pb_part, string_problem, text_problem,
                          text_suspect)
from .spans import _EMPTY, freeze_value, nested_text_problem

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

__all__ = ["LogRecord", "SEVERITY_CONSTANTS", "decode_logs_pb", "decode_logs_request",
           "decode_logs_json", "is_logs_document", "looks_like_logs_json", "logs_to_request", "from_sdk_logs"]

#: the built-in severity names of the language and their SeverityNumber (OTel's ranges
#: start at 1, 5, 9, 13, 17, 21)
SEVERITY_CONSTANTS: Final = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17,
                             "FATAL": 21}
_SEVERITY_ENUM: Final = {f"SEVERITY_NUMBER_{name}{'' if i == 0 else i + 1}": n + i
                         for name, n in SEVERITY_CONSTANTS.items() for i in range(4)}
_SEVERITY_ENUM["SEVERITY_NUMBER_UNSPECIFIED"] = 0
_SERVICE: Final = "service.name"
# arrival order: records at one position of a trace keep it (docs/language.md)
_SEQ = itertools.count()


class LogRecord:
    """One OTLP log record, as the engine sees it: a span-like object whose span fields
    are :data:`~.spans.MISSING` (docs/language.md, "Log records").

    ``time_ns`` is the record's time (its observed time when the time is 0);
    ``trace_id``/``span_id`` are its trace context ("" without one); ``seq`` orders
    records that arrived earlier first, for records at one position of a trace.
    """

    __slots__ = ("time_ns", "severity", "severity_text", "body", "service", "trace_id",
                 "span_id", "attrs", "resource", "scope_name", "seq")

    signal = "log"
    # span fields a log record does not have (missing: comparisons on them are false)
    name = kind = status = status_message = duration = is_root = parent_id = MISSING
    links: tuple = ()
    event_names: tuple = ()

    def __init__(self, *, time_ns: int, severity: int = 0, severity_text: str = "",
                 body: Any = None, service: str = "", trace_id: str = "", span_id: str = "",
                 attrs: Mapping[str, Any] | None = None,
                 resource: Mapping[str, Any] | None = None, scope_name: str = "",
                 seq: int | None = None) -> None:
        if not isinstance(time_ns, int) or isinstance(time_ns, bool) or time_ns < 0:
            raise ValueError(f"time_ns={time_ns!r} must be an int of nanoseconds since the "
                             "Unix epoch")
        if not isinstance(severity, int) or not 0 <= severity <= 24:
            raise ValueError(f"severity={severity!r} must be an OTel SeverityNumber, 0..24 "
                             "(0: unspecified)")
        for what, v, n in (("trace_id", trace_id, 32), ("span_id", span_id, 16)):
            if v and not (isinstance(v, str) and len(v) == n
                          and set(v) <= set("0123456789abcdef")):
                raise ValueError(f"{what}={v!r} is not {n} lower-case hex digits (or \"\")")
        self.time_ns = time_ns
        self.severity = severity if severity else MISSING
        self.severity_text = severity_text if severity_text else MISSING
        self.body = MISSING if body is None else freeze_value(body)
        self.service = service
        self.trace_id = trace_id
        self.span_id = span_id
        self.attrs = _freeze(attrs)
        self.resource = _freeze(resource)
        self.scope_name = scope_name
        self.seq = next(_SEQ) if seq is None else seq

    # the span model's interface, as the generated predicates call it
    start_ns = property(lambda self: self.time_ns)
    end_ns = property(lambda self: self.time_ns)

    def attr(self, key: str) -> Any:
        """Log attribute ``key``, else resource attribute ``key``, else MISSING."""
        v = self.attrs.get(key, MISSING)
        return self.resource.get(key, MISSING) if v is MISSING else v

    def resource_attr(self, key: str) -> Any:
        return self.resource.get(key, MISSING)

    def has_event(self, name: str) -> bool:
        return False

    @property
    def label(self) -> str:
        """How messages name the record: its severity and body, shortened."""
        body = self.body if isinstance(self.body, str) else repr(self.body)
        if len(body) > 60:
            body = body[:57] + "..."
        sev = self.severity_text if isinstance(self.severity_text, str) else (
            f"severity {self.severity}" if self.severity is not MISSING else "log")
        return f"{sev} log {body!r}" if self.body is not MISSING else f"{sev} log"

    def __repr__(self) -> str:
        parts = [f"time_ns={self.time_ns}"]
        if self.severity is not MISSING:
            parts.append(f"severity={self.severity}")
        if self.severity_text is not MISSING:
            parts.append(f"severity_text={self.severity_text!r}")
        if self.body is not MISSING:
            parts.append(f"body={self.body!r}")
        for k in ("service", "trace_id", "span_id", "scope_name"):
            if getattr(self, k):
                parts.append(f"{k}={getattr(self, k)!r}")
        if self.attrs:
            parts.append(f"attrs={dict(self.attrs)!r}")
        if self.resource:
            parts.append(f"resource={dict(self.resource)!r}")
        return f"LogRecord({', '.join(parts)})"


def _freeze(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not m:
        return _EMPTY
    if isinstance(m, MappingProxyType):
        return m
    return MappingProxyType({str(k): freeze_value(v) for k, v in m.items()})


def _make(time_ns: int, severity: int, severity_text: str, body: Any, service: str,
          trace_id: str, span_id: str, attrs: Mapping[str, Any], resource: Mapping[str, Any],
          scope_name: str) -> LogRecord:
    """A record from already checked parts (the decoders' path)."""
    o = object.__new__(LogRecord)
    o.time_ns = time_ns
    o.severity = severity if 0 < severity <= 24 else MISSING
    o.severity_text = severity_text or MISSING
    o.body = MISSING if body is None else body
    o.service = service
    o.trace_id = trace_id
    o.span_id = span_id
    o.attrs = attrs
    o.resource = resource
    o.scope_name = scope_name
    o.seq = next(_SEQ)
    return o


def _strings_problem(rec: LogRecord) -> str | None:
    """The text rule on a decoded record's strings (its body and attributes may be maps)."""
    return nested_text_problem([("body", rec.body), ("severity text", rec.severity_text),
                                ("attribute", rec.attrs)])


def _where(source: str, ri: int, si: int, k: int, line: int | None = None) -> str:
    loc = f"{source}:{line}" if line is not None else source
    return f"{loc}: resourceLogs[{ri}].scopeLogs[{si}].logRecords[{k}]"


def _severity(n: int, stats: DecodeStats, where: str) -> int:
    if 0 <= n <= 24:
        return n
    stats.warn(f"{where}: severity number {n} is outside 1..24; read as unspecified")
    return 0


# -- protobuf ------------------------------------------------------------------------

def decode_logs_pb(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                   stats: DecodeStats | None = None,
                   source: str = "<protobuf>") -> list[LogRecord]:
    """Decode one serialized ``ExportLogsServiceRequest``.

    As for traces (``otlp.decode_traces_pb``): a string that breaks the text rule (not
    UTF-8, over the length limit) rejects only the record holding it (or the resource's
    or scope's records), counted and named; only broken framing above the records (a
    truncated request, not protobuf at all) is an :class:`InputError` for the whole
    request, naming the byte offset.
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    try:
        req = ExportLogsServiceRequest.FromString(bytes(data))
    except (DecodeError, RuntimeError, ValueError) as e:
        if stats is None:
            stats = DecodeStats()
        return _salvage_logs(bytes(data), wanted_attrs, stats, source, e)
    if len(data) > MAX_STRING_BYTES:  # a string may be over the limit: look record by record
        if stats is None:
            stats = DecodeStats()
        return _salvage_logs(bytes(data), wanted_attrs, stats, source, None)
    return decode_logs_request(req, wanted_attrs=wanted_attrs, stats=stats, source=source)


def _salvage_logs(data: bytes, wanted: frozenset[str] | None, stats: DecodeStats,
                  source: str, cause: Exception | None) -> list[LogRecord]:
    """The traces' slow path (``otlp._salvage_traces``, :mod:`._otlp_salvage`) for logs:
    re-frame the request down to its records and parse each on its own."""
    req, kmap = salvage_request(data, stats, source, cause, _salvage(), _salvage_record)
    return decode_logs_request(req, wanted_attrs=wanted, stats=stats, source=source,
                               _kmap=kmap)


def _salvage_record(data: bytes, start: int, end: int, stats: DecodeStats,
                    where: str) -> Any:
    """One record on the slow path: the parsed message, or None (rejected and counted)."""
    from opentelemetry.proto.logs.v1 import logs_pb2

    lr, why = pb_part(logs_pb2.LogRecord, data, start, end)
    if lr is None:
        stats.logs_received += 1
        stats.reject_log(f"{where}: {why}; log record skipped")
    return lr


@functools.cache
def _salvage() -> Salvage:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    return Salvage(ExportLogsServiceRequest, unit="log records", points=False, logs=True,
                   count=lambda data, start, end: 1,
                   hint="if this file is OTLP/JSON, name it *.json; protobuf logs are read "
                        "with --logs")


def decode_logs_request(req: ExportLogsServiceRequest, *,
                        wanted_attrs: frozenset[str] | None = None,
                        stats: DecodeStats | None = None,
                        source: str = "<request>",
                        _kmap: dict[tuple[int, int], list[int]] | None = None
                        ) -> list[LogRecord]:
    """Decode a parsed ``ExportLogsServiceRequest`` (the gRPC receiver's case).
    (``_kmap``: the slow path's original record indexes, for messages.)"""
    if stats is None:
        stats = DecodeStats()
    out: list[LogRecord] = []
    for ri, rl in enumerate(req.resource_logs):
        rkvs = rl.resource.attributes
        resource = attrs_pb(rkvs, wanted_attrs)
        service = ""
        for kv in rkvs:
            if kv.key == _SERVICE:
                service = kv.value.string_value
                break
        rwhy = _resource_problem(resource, service)
        for si, sl in enumerate(rl.scope_logs):
            scope_name = sl.scope.name
            records = sl.log_records
            stats.logs_received += len(records)
            why = rwhy or (string_problem(scope_name) and
                           f"scope name {string_problem(scope_name)}")
            if why:
                stats.reject_logs(len(records), f"{source}: resourceLogs[{ri}].scopeLogs[{si}]"
                                  f": {why}; its {len(records)} log records skipped")
                continue
            ks = _kmap.get((ri, si)) if _kmap else None
            for k, lr in (enumerate(records) if ks is None else zip(ks, records)):
                where = _where(source, ri, si, k)
                tid, why = pb_id(lr.trace_id, 16, "trace id")
                sid, why2 = pb_id(lr.span_id, 8, "span id")
                if tid is None or sid is None:
                    stats.reject_log(f"{where}: {why or why2}; log record skipped")
                    continue
                if sid and not tid:
                    stats.warn(f"{where}: a span id without a trace id; read without "
                               "trace context")
                    sid = ""
                t = lr.time_unix_nano or lr.observed_time_unix_nano
                body = any_pb(lr.body) if lr.HasField("body") else None
                rec = _make(t, _severity(lr.severity_number, stats, where), lr.severity_text,
                            body, service, tid, sid, attrs_pb(lr.attributes, wanted_attrs),
                            resource, scope_name)
                why = _strings_problem(rec)
                if why:
                    stats.reject_log(f"{where}: {why}; log record skipped")
                    continue
                out.append(rec)
    stats.logs_decoded += len(out)
    return out


def _resource_problem(resource: Mapping[str, Any], service: str) -> str | None:
    why = string_problem(service) if service else None
    if why:
        return f"resource service.name {why}"
    for k, v in resource.items():
        for x in (k, v):
            if isinstance(x, str):
                why = string_problem(x)
                if why:
                    return f"resource attribute {why}"
    return None


# -- OTLP/JSON ---------------------------------------------------------------------------

_LOGS_PREFIX: Final = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"resource(?:Logs|_logs)"')


def looks_like_logs_json(data: bytes) -> bool:
    """Whether OTLP/JSON input holds logs: its first document starts with the key
    ``resourceLogs``, as OTLP/JSON exporters and the Collector's file exporter write it.
    (A file holds one signal; a logs document elsewhere is still read, by
    :func:`~.otlp.read_json_document`.)"""
    return _LOGS_PREFIX.match(data[:4096]) is not None


def is_logs_document(doc: Any) -> bool:
    """Whether a parsed OTLP/JSON document is a logs request (``resourceLogs``)."""
    return isinstance(doc, dict) and ("resourceLogs" in doc or "resource_logs" in doc)


def decode_logs_json(doc: Any, *, wanted_attrs: frozenset[str] | None = None,
                     stats: DecodeStats | None = None, source: str = "<json>",
                     line: int | None = None) -> list[LogRecord]:
    """Decode one parsed OTLP/JSON ``ExportLogsServiceRequest`` (a dict).

    Raises :class:`InputError` if ``doc`` is not an object or its ``resourceLogs`` is not
    an array; a malformed resource, scope or record is rejected and counted.
    """
    if stats is None:
        stats = DecodeStats()
    loc = f"{source}:{line}" if line is not None else source
    if not isinstance(doc, dict):
        raise InputError(f"{loc}: expected an OTLP/JSON object with \"resourceLogs\", "
                         f"got a JSON {type(doc).__name__}", value=doc)
    try:
        rls = jlist(doc, "resourceLogs", "resource_logs", "request")
    except ValueError as e:
        raise InputError(f"{loc}: {e}", value=doc.get("resourceLogs")) from e
    check = text_suspect(doc)
    out: list[LogRecord] = []
    for ri, rl in enumerate(rls):
        try:
            if not isinstance(rl, dict):
                raise ValueError("must be a JSON object")
            if check:
                why = text_problem(rl.get("resource"), f"{loc}: resourceLogs[{ri}].resource")
                if why:
                    raise ValueError(why)
            res = jobj(rl, "resource", "resource", "resourceLogs[]")
            rkvs = jget(res, "attributes", "attributes")
            resource = attrs_json(rkvs, wanted_attrs)
            service = _service_json(rkvs)
            scopes = jlist(rl, "scopeLogs", "scope_logs", "resourceLogs[]")
        except ValueError as e:
            n = _count(rl)
            stats.logs_received += n
            stats.reject_logs(n, f"{loc}: resourceLogs[{ri}]: {e}; its {n} log records "
                                 "skipped")
            continue
        for si, sl in enumerate(scopes):
            try:
                if not isinstance(sl, dict):
                    raise ValueError("must be a JSON object")
                if check:
                    why = text_problem(sl.get("scope"), f"{loc}: resourceLogs[{ri}]."
                                                        f"scopeLogs[{si}].scope")
                    if why:
                        raise ValueError(why)
                scope_name = jobj(sl, "scope", "scope", "scopeLogs[]").get("name", "")
                if not isinstance(scope_name, str):
                    raise ValueError("scope.name must be a string")
                records = jlist(sl, "logRecords", "log_records", "scopeLogs[]")
            except ValueError as e:
                n = _count({"scopeLogs": [sl]})
                stats.logs_received += n
                stats.reject_logs(n, f"{loc}: resourceLogs[{ri}].scopeLogs[{si}]: {e}; its "
                                     f"{n} log records skipped")
                continue
            stats.logs_received += len(records)
            for k, lr in enumerate(records):
                rec = _record_json(lr, resource, service, scope_name, wanted_attrs, stats,
                                   _where(source, ri, si, k, line), check)
                if rec is not None:
                    out.append(rec)
    stats.logs_decoded += len(out)
    return out


def _record_json(lr: Any, resource: Mapping[str, Any], service: str, scope_name: str,
                 wanted: frozenset[str] | None, stats: DecodeStats, where: str,
                 check: bool) -> LogRecord | None:
    try:
        if not isinstance(lr, dict):
            raise ValueError(f"a log record must be a JSON object, not {type(lr).__name__}")
        if check:
            why = text_problem(lr, where)
            if why:
                stats.reject_log(f"{why}; log record skipped")
                return None
        tid, why = json_id(jget(lr, "traceId", "trace_id"), 16, "trace id")
        sid, why2 = json_id(jget(lr, "spanId", "span_id"), 8, "span id")
        if tid is None or sid is None:
            raise ValueError(why or why2)
        if sid and not tid:
            stats.warn(f"{where}: a span id without a trace id; read without trace context")
            sid = ""
        raw_t = jget(lr, "timeUnixNano", "time_unix_nano") or 0
        raw_o = jget(lr, "observedTimeUnixNano", "observed_time_unix_nano") or 0
        t, o = json_int(raw_t, 0, UINT64_MAX), json_int(raw_o, 0, UINT64_MAX)
        if t is None or o is None:
            raise ValueError(f"timeUnixNano/observedTimeUnixNano {raw_t!r}/{raw_o!r} are not "
                             "integers of nanoseconds in 0..2**64-1 (write them as decimal "
                             "strings)")
        num = json_enum(jget(lr, "severityNumber", "severity_number"), _SEVERITY_ENUM)
        if num is None:
            raise ValueError(f"severityNumber {jget(lr, 'severityNumber', 'severity_number')!r}"
                             " is not an integer or a SEVERITY_NUMBER_ name")
        text = jget(lr, "severityText", "severity_text") or ""
        if not isinstance(text, str):
            raise ValueError(f"severityText {text!r} is not a string")
        body_raw = lr.get("body")
        body = None if body_raw is None else any_json(body_raw)
        attrs = attrs_json(lr.get("attributes"), wanted)
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        stats.reject_log(f"{where}: {e}; log record skipped")
        return None
    return _make(t or o, _severity(num, stats, where), text, body, service, tid, sid, attrs,
                 resource, scope_name)


def _service_json(rkvs: Any) -> str:
    if isinstance(rkvs, list):
        for kv in rkvs:
            if isinstance(kv, dict) and kv.get("key") == _SERVICE:
                v = kv.get("value")
                s = jget(v, "stringValue", "string_value") if isinstance(v, dict) else None
                return s if isinstance(s, str) else ""
    return ""


def _count(rl: Any) -> int:
    if not isinstance(rl, dict):
        return 0
    scopes = jget(rl, "scopeLogs", "scope_logs")
    if not isinstance(scopes, list):
        return 0
    return sum(len(s.get("logRecords") or s.get("log_records") or [])
               for s in scopes if isinstance(s, dict)
               and isinstance(s.get("logRecords") or s.get("log_records") or [], list))


# -- the other direction: tests and forwarding ---------------------------------------------

def logs_to_request(records: Iterable[LogRecord]) -> ExportLogsServiceRequest:
    """An ``ExportLogsServiceRequest`` holding ``records`` (one resource per service)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from .otlp import _any_pb_value, _kv_pb

    req = ExportLogsServiceRequest()
    by_res: dict[tuple, Any] = {}
    for r in records:
        key = (r.service, tuple(sorted(r.resource.items(), key=lambda kv: kv[0])),
               r.scope_name)
        sl = by_res.get(key)
        if sl is None:
            rl = req.resource_logs.add()
            res = dict(r.resource)
            if r.service:
                res.setdefault(_SERVICE, r.service)
            rl.resource.attributes.extend(_kv_pb(k, v) for k, v in res.items())
            sl = rl.scope_logs.add()
            sl.scope.name = r.scope_name
            by_res[key] = sl
        lr = sl.log_records.add()
        lr.time_unix_nano = r.time_ns
        if r.severity is not MISSING:
            lr.severity_number = r.severity
        if r.severity_text is not MISSING:
            lr.severity_text = r.severity_text
        if r.body is not MISSING:
            lr.body.CopyFrom(_any_pb_value(r.body))
        if r.trace_id:
            lr.trace_id = bytes.fromhex(r.trace_id)
        if r.span_id:
            lr.span_id = bytes.fromhex(r.span_id)
        lr.attributes.extend(_kv_pb(k, v) for k, v in r.attrs.items())
    return req


def from_sdk_logs(records: Iterable[Any], *, stats: DecodeStats | None = None
                  ) -> list[LogRecord]:
    """OpenTelemetry SDK ``LogData`` objects (e.g. from ``InMemoryLogExporter``), through
    the protobuf encoding the SDK's own OTLP exporter uses, so both paths read alike."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return decode_logs_pb(encode_logs(list(records)).SerializeToString(), stats=stats,
                          source="<sdk logs>")
