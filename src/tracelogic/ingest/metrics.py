"""OTLP metric input: gauge and sum data points, the events of a ``metric invariant``.

A spec binds metrics by name (``metric cpu_usage = "system.cpu.utilization" : ratio``);
each number data point of a gauge or a sum becomes one immutable :class:`DataPoint`.
Histograms, exponential histograms and summaries are not read: their points are
counted in ``DecodeStats.points_unsupported`` with one message per metric.

Like the trace decoder, these take ``wanted_attrs`` (data point and resource
attribute keys; None = all) and also ``wanted_metrics`` (metric names; None = all).
Metrics not wanted are skipped without touching their points and are not counted.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from tracelogic.errors import InputError
from tracelogic.values.missing import MISSING

from .otlp_common import (
    INT64_MIN, MAX_STRING_BYTES, UINT64_MAX, DecodeStats, WireError, attrs_json, attrs_pb, jget,
    jlist, jobj, json_double, json_enum, json_int, pb_fields, pb_part, string_problem,
    text_problem, text_suspect, utf8_problem,
)
from ._otlp_salvage import Salvage, salvage_request

# The generated protobuf classes are imported by the functions that use them, as in
# otlp.py: OTLP/JSON input never needs them (DESIGN.md: lazy start-up).
if TYPE_CHECKING:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)

__all__ = ["DataPoint", "decode_metrics_pb", "decode_metrics_request", "decode_metrics_json"]

TEMPORALITY_NAMES: Final = ("unspecified", "delta", "cumulative")
# the names OTLP/JSON may use, equal to metrics_pb2's (tests/ingest/test_otlp_enums.py)
_TEMPORALITY_ENUM: Final = {f"AGGREGATION_TEMPORALITY_{n.upper()}": i
                            for i, n in enumerate(TEMPORALITY_NAMES)}
_NO_RECORDED_VALUE: Final = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
_UNSUPPORTED: Final = ("histogram", "exponential_histogram", "summary")
_UNSUPPORTED_JSON: Final = {"histogram": "histogram",
                            "exponentialHistogram": "exponential_histogram",
                            "exponential_histogram": "exponential_histogram",
                            "summary": "summary"}
_FIELDS: Final = ("metric", "kind", "value", "time_ns", "start_ns", "unit", "service", "attrs",
                  "resource", "scope_name", "temporality", "is_monotonic")


class DataPoint:
    """One gauge or sum data point. Immutable; ``attr(k)`` looks in the point's
    attributes, then the resource's, else returns :data:`~.spans.MISSING`."""

    __slots__ = _FIELDS
    metric: str
    kind: str  # "gauge" | "sum"
    value: int | float
    time_ns: int
    start_ns: int
    unit: str
    service: str
    attrs: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope_name: str
    temporality: str  # "unspecified" | "delta" | "cumulative" ("unspecified" for gauges)
    is_monotonic: bool

    def __init__(self, metric: str, kind: str, value: int | float, time_ns: int, *,
                 start_ns: int = 0, unit: str = "", service: str = "",
                 attrs: Mapping[str, Any] | None = None,
                 resource: Mapping[str, Any] | None = None, scope_name: str = "",
                 temporality: str = "unspecified", is_monotonic: bool = False) -> None:
        if kind not in ("gauge", "sum"):
            raise ValueError(f"kind={kind!r}: only 'gauge' and 'sum' data points are modelled")
        if temporality not in TEMPORALITY_NAMES:
            raise ValueError(f"temporality={temporality!r}; use one of {TEMPORALITY_NAMES}")
        from types import MappingProxyType
        sa = object.__setattr__
        for k, v in zip(_FIELDS, (metric, kind, value, time_ns, start_ns, unit, service,
                                  MappingProxyType(dict(attrs or {})),
                                  MappingProxyType(dict(resource or {})), scope_name,
                                  temporality, is_monotonic)):
            sa(self, k, v)

    def attr(self, key: str) -> Any:
        v = self.attrs.get(key, MISSING)
        return self.resource.get(key, MISSING) if v is MISSING else v

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DataPoint is immutable; cannot set {name!r}")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(dict(v) if isinstance(v, Mapping) else v
                     for v in (getattr(self, f) for f in _FIELDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataPoint):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.metric, self.time_ns, self.value))

    def __repr__(self) -> str:
        extra = "".join(f", {f}={getattr(self, f)!r}" for f in _FIELDS[4:]
                        if f not in ("attrs", "resource") and getattr(self, f)
                        and getattr(self, f) != "unspecified")
        extra += "".join(f", {f}={dict(getattr(self, f))!r}" for f in ("attrs", "resource")
                         if getattr(self, f))
        return (f"DataPoint({self.metric!r}, {self.kind!r}, {self.value!r}, "
                f"{self.time_ns!r}{extra})")


def _point(metric: str, kind: str, value: int | float, time_ns: int, start_ns: int, unit: str,
           service: str, attrs: Mapping[str, Any], resource: Mapping[str, Any],
           scope_name: str, temporality: str, is_monotonic: bool,
           _new: Any = object.__new__, _sa: Any = object.__setattr__) -> DataPoint:
    o = _new(DataPoint)
    for k, v in zip(_FIELDS, (metric, kind, value, time_ns, start_ns, unit, service, attrs,
                              resource, scope_name, temporality, is_monotonic)):
        _sa(o, k, v)
    return o


# -- protobuf ----------------------------------------------------------------------

def decode_metrics_pb(data: bytes, *, wanted_attrs: frozenset[str] | None = None,
                      wanted_metrics: frozenset[str] | None = None,
                      stats: DecodeStats | None = None,
                      source: str = "<protobuf>") -> list[DataPoint]:
    """Decode one serialized ``ExportMetricsServiceRequest``; InputError if it is not one."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)

    if stats is None:
        stats = DecodeStats()
    cause: Exception | None = None
    try:
        req = ExportMetricsServiceRequest.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        req, cause = None, e
    mmap = None
    if req is None or len(data) > MAX_STRING_BYTES:  # refused, or a string may be too long
        req, mmap = _salvage_metrics(bytes(data), wanted_metrics, stats, source, cause)
    return decode_metrics_request(req, wanted_attrs=wanted_attrs,
                                  wanted_metrics=wanted_metrics, stats=stats, source=source,
                                  _mmap=mmap)


def _salvage_metrics(data: bytes, wanted_metrics: frozenset[str] | None, stats: DecodeStats,
                     source: str, cause: Exception | None
                     ) -> tuple[ExportMetricsServiceRequest, dict[tuple[int, int], list[int]]]:
    """The slow path after upb refused the request (see ``otlp._salvage_traces``): rebuild
    the request from the parts that parse, rejecting data points under the text rule.

    A bad resource, scope or metric (name, description, unit, metadata) rejects all the
    metric's points; a bad number data point only itself. Returns the rebuilt request
    and, per ``(resource, scope)``, the original metric indexes kept (for messages).
    """
    def metric(data: bytes, start: int, end: int, stats: DecodeStats, where: str) -> Any:
        return _salvage_metric(data, start, end, wanted_metrics, stats, where)

    return salvage_request(data, stats, source, cause, _salvage(), metric)


_BODIES: Final = {5: "gauge", 7: "sum", 9: "histogram", 10: "exponential_histogram",
                  11: "summary"}


def _count_points(data: bytes, start: int, end: int) -> int:
    """Data points of one serialized Metric, whatever its type, as far as its framing
    can be walked; at least 1, so a rejected metric is never counted as nothing."""
    n = 0
    try:
        for num, wt, a, b in pb_fields(data, start, end):
            if num in _BODIES and wt == 2:
                n += sum(1 for pn, pw, _, _ in pb_fields(data, a, b) if pn == 1 and pw == 2)
    except WireError:
        pass
    return max(n, 1)


@functools.cache
def _salvage() -> Salvage:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest)

    return Salvage(
        ExportMetricsServiceRequest, unit="data points", points=True, count=_count_points,
        hint="protobuf metrics must be read as metrics (monitor --metrics)")


def _salvage_metric(data: bytes, start: int, end: int, wanted: frozenset[str] | None,
                    stats: DecodeStats, where: str) -> Any:
    """One metric on the slow path: the metric itself, or a copy holding only its good
    number data points, or None (rejected and counted, or not wanted)."""
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    m, why = pb_part(metrics_pb2.Metric, data, start, end)
    if m is not None:
        return m
    try:
        return _salvage_metric_parts(data, start, end, wanted, stats, where, why)
    except WireError as e:  # broken framing inside the metric: the metric is rejected
        n = _count_points(data, start, end)
        stats.points_received += n
        stats.reject_points(n, f"{where}: {e.reason} at byte offset {e.offset}; its data "
                               f"points skipped")
        return None


def _salvage_metric_parts(data: bytes, start: int, end: int, wanted: frozenset[str] | None,
                          stats: DecodeStats, where: str, why: str | None) -> Any:
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    fields = pb_fields(data, start, end)
    name = None
    for num, wt, a, b in fields:
        if num == 1 and wt == 2:
            try:
                name = data[a:b].decode("utf-8")
            except UnicodeDecodeError:
                name = None
    if name is not None and wanted is not None and name not in wanted:
        return None  # not read, as for a metric that parses
    out = metrics_pb2.Metric()
    bad = None
    for num, wt, a, b in fields:
        if wt != 2:
            continue
        if num in (1, 2, 3):
            bad = utf8_problem(data, a, b, {1: "name", 2: "description", 3: "unit"}[num])
            if not bad:
                setattr(out, {1: "name", 2: "description", 3: "unit"}[num],
                        data[a:b].decode("utf-8"))
        elif num == 12:
            from opentelemetry.proto.common.v1.common_pb2 import KeyValue
            kv, bad = pb_part(KeyValue, data, a, b)
            if kv is not None:
                out.metadata.append(kv)
        if bad:
            n = _count_points(data, start, end)
            stats.points_received += n
            stats.reject_points(n, f"{where}: {bad}; its {n} data points skipped")
            return None
    for num, wt, a, b in fields:
        body = _BODIES.get(num)
        if body is None or wt != 2:
            continue
        if body not in ("gauge", "sum"):
            n = _count_points(data, start, end)
            stats.points_received += n
            stats.reject_points(n, f"{where}: {why}; its {n} data points skipped")
            return None
        target = getattr(out, body)
        for pn, pw, c, d in pb_fields(data, a, b):
            if pn == 1 and pw == 2:
                dp, pwhy = pb_part(metrics_pb2.NumberDataPoint, data, c, d)
                if dp is None:
                    stats.points_received += 1
                    stats.reject_point(f"{where}.{body}.dataPoints: {pwhy}; point skipped")
                else:
                    target.data_points.append(dp)
            elif body == "sum" and pn == 2 and pw == 0:
                v = _varint_value(data, c, d)
                target.aggregation_temporality = v if v < 3 else 0  # type: ignore
            elif body == "sum" and pn == 3 and pw == 0:
                target.is_monotonic = bool(_varint_value(data, c, d))
    return out


def _varint_value(data: bytes, start: int, end: int) -> int:
    v = 0
    for i, b in enumerate(data[start:end]):
        v |= (b & 0x7F) << (7 * i)
    return v


def decode_metrics_request(req: ExportMetricsServiceRequest, *,
                           wanted_attrs: frozenset[str] | None = None,
                           wanted_metrics: frozenset[str] | None = None,
                           stats: DecodeStats | None = None,
                           source: str = "<request>",
                           _mmap: dict[tuple[int, int], list[int]] | None = None
                           ) -> list[DataPoint]:
    """Decode a parsed ``ExportMetricsServiceRequest`` into gauge and sum data points."""
    if stats is None:
        stats = DecodeStats()
    out: list[DataPoint] = []
    for ri, rm in enumerate(req.resource_metrics):
        rkvs = rm.resource.attributes
        resource = attrs_pb(rkvs, wanted_attrs)
        service = ""
        for kv in rkvs:
            if kv.key == "service.name":
                service = kv.value.string_value
                break
        for si, sm in enumerate(rm.scope_metrics):
            scope_name = sm.scope.name
            ms = _mmap.get((ri, si)) if _mmap else None
            for mi, m in (enumerate(sm.metrics) if ms is None else zip(ms, sm.metrics)):
                name = m.name
                if wanted_metrics is not None and name not in wanted_metrics:
                    continue
                which = m.WhichOneof("data")
                if which == "gauge":
                    body, temporality, mono = m.gauge, "unspecified", False
                elif which == "sum":
                    body = m.sum
                    temporality = (TEMPORALITY_NAMES[body.aggregation_temporality]
                                   if 0 <= body.aggregation_temporality < 3 else "unspecified")
                    mono = body.is_monotonic
                else:
                    n = len(getattr(m, which).data_points) if which in _UNSUPPORTED else 0
                    stats.points_received += n
                    stats.points_unsupported += n
                    stats.warn(f"{source}: resourceMetrics[{ri}].scopeMetrics[{si}]."
                               f"metrics[{mi}] {name!r}: {which or 'no data'} metrics are "
                               f"not read ({n} points skipped); only gauge and sum are")
                    continue
                unit = m.unit
                for dp in body.data_points:
                    stats.points_received += 1
                    if dp.flags & _NO_RECORDED_VALUE:
                        stats.points_unsupported += 1
                        continue
                    vk = dp.WhichOneof("value")
                    if vk is None:
                        stats.reject_point(f"{source}: metric {name!r}: a data point has "
                                           f"neither as_int nor as_double; point skipped")
                        continue
                    out.append(_point(
                        name, which, dp.as_int if vk == "as_int" else dp.as_double,
                        dp.time_unix_nano, dp.start_time_unix_nano, unit, service,
                        attrs_pb(dp.attributes, wanted_attrs), resource, scope_name,
                        temporality, mono))
    stats.points_decoded += len(out)
    return out


# -- OTLP/JSON ----------------------------------------------------------------------

def decode_metrics_json(doc: Any, *, wanted_attrs: frozenset[str] | None = None,
                        wanted_metrics: frozenset[str] | None = None,
                        stats: DecodeStats | None = None, source: str = "<json>",
                        line: int | None = None, _suspect: bool | None = None
                        ) -> list[DataPoint]:
    """Decode one parsed OTLP/JSON ``ExportMetricsServiceRequest`` (a dict).

    The text rule as for spans: a data point holding a bad string (a lone surrogate,
    one over the string limit) is rejected; a bad resource, scope or metric rejects
    all of its points.
    """
    if stats is None:
        stats = DecodeStats()
    check = text_suspect(doc) if _suspect is None else _suspect
    loc = f"{source}:{line}" if line is not None else source
    if not isinstance(doc, dict):
        raise InputError(f"{loc}: expected an OTLP/JSON object with \"resourceMetrics\", "
                         f"got a JSON {type(doc).__name__}", value=doc)
    out: list[DataPoint] = []
    try:
        rms = jlist(doc, "resourceMetrics", "resource_metrics", "request")
    except ValueError as e:
        raise InputError(f"{loc}: {e}") from e
    for ri, rm in enumerate(rms):
        where = f"{loc}: resourceMetrics[{ri}]"
        if check:
            why = text_problem(rm, where, _RM_CHILDREN)
            if why:
                _reject_json(stats, rm, "resourceMetrics", why)
                continue
        try:
            if not isinstance(rm, dict):
                raise ValueError("must be a JSON object")
            res = jobj(rm, "resource", "resource", "resourceMetrics[]")
            rkvs = jget(res, "attributes", "attributes")
            resource = attrs_json(rkvs, wanted_attrs)
            service = ""
            for kv in rkvs or ():
                if isinstance(kv, dict) and kv.get("key") == "service.name":
                    v = kv.get("value")
                    s = jget(v, "stringValue", "string_value") if isinstance(v, dict) else None
                    service = s if isinstance(s, str) else ""
                    break
            sms = jlist(rm, "scopeMetrics", "scope_metrics", "resourceMetrics[]")
        except ValueError as e:
            stats.error(InputError(f"{where}: {e}; skipped", value=rm))
            continue
        for si, sm in enumerate(sms):
            if check:
                why = text_problem(sm, f"{where}.scopeMetrics[{si}]", _SM_CHILDREN)
                if why:
                    _reject_json(stats, sm, "scopeMetrics", why)
                    continue
            try:
                if not isinstance(sm, dict):
                    raise ValueError("must be a JSON object")
                scope_name = jobj(sm, "scope", "scope", "scopeMetrics[]").get("name", "")
                metrics = jlist(sm, "metrics", "metrics", "scopeMetrics[]")
            except ValueError as e:
                stats.error(InputError(f"{where}.scopeMetrics[{si}]: {e}; skipped", value=sm))
                continue
            for mi, m in enumerate(metrics):
                mwhere = f"{where}.scopeMetrics[{si}].metrics[{mi}]"
                if not isinstance(m, dict):
                    stats.error(InputError(f"{mwhere}: a metric must be a JSON object"))
                    continue
                name = m.get("name", "")
                if (wanted_metrics is not None and isinstance(name, str)
                        and name not in wanted_metrics
                        and not (check and string_problem(name))):
                    continue  # not read; a name that breaks the text rule is rejected below
                if check:
                    why = text_problem(m, mwhere, _METRIC_CHILDREN)
                    if why:
                        _reject_json(stats, m, "metric", why)
                        continue
                _metric_json(m, name, mwhere, resource, service, scope_name, wanted_attrs,
                             stats, out, check)
    stats.points_decoded += len(out)
    return out


_RM_CHILDREN: Final = frozenset({"scopeMetrics", "scope_metrics"})
_SM_CHILDREN: Final = frozenset({"metrics"})
_METRIC_CHILDREN: Final = frozenset({"gauge", "sum"})  # their points are checked one by one


def _reject_json(stats: DecodeStats, obj: Any, what: str, why: str) -> None:
    """Reject every data point under ``obj`` (a ``what``: resourceMetrics, scopeMetrics or
    metric) with one message: ``why`` broke the text rule somewhere above the points."""
    n = _count_json_points(obj, what)
    stats.points_received += n
    stats.reject_points(n, f"{why}; its {n} data points skipped")


def _count_json_points(obj: Any, level: str) -> int:
    """Data points below a resource, scope or metric of OTLP/JSON (for rejections)."""
    n = 0
    stack = [(obj, level)]
    while stack:
        o, lv = stack.pop()
        if not isinstance(o, dict):
            continue
        if lv == "resourceMetrics":
            stack.extend((x, "scopeMetrics") for x in _as_list(jget(o, "scopeMetrics",
                                                                    "scope_metrics")))
        elif lv == "scopeMetrics":
            stack.extend((x, "metric") for x in _as_list(o.get("metrics")))
        else:
            for key in ("gauge", "sum", *_UNSUPPORTED_JSON):
                b = o.get(key)
                if isinstance(b, dict):
                    n += len(_as_list(jget(b, "dataPoints", "data_points")))
    return n


def _as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _metric_json(m: dict[str, Any], name: Any, where: str, resource: Mapping[str, Any],
                 service: str, scope_name: Any, wanted: frozenset[str] | None,
                 stats: DecodeStats, out: list[DataPoint], check: bool = False) -> None:
    body = m.get("gauge")
    kind = "gauge"
    if body is None:
        body = m.get("sum")
        kind = "sum"
    if body is None:
        for key, label in _UNSUPPORTED_JSON.items():
            b = m.get(key)
            if isinstance(b, dict):
                pts = jget(b, "dataPoints", "data_points")
                n = len(pts) if isinstance(pts, list) else 0
                stats.points_received += n
                stats.points_unsupported += n
                stats.warn(f"{where} {name!r}: {label} metrics are not read ({n} points "
                           f"skipped); only gauge and sum are")
                return
        stats.warn(f"{where} {name!r}: no gauge or sum data; metric skipped")
        return
    if not isinstance(body, dict) or not isinstance(name, str):
        stats.error(InputError(f"{where} {name!r}: {kind} must be a JSON object and name a "
                               f"string; metric skipped"))
        return
    temporality, mono = "unspecified", False
    if kind == "sum":
        t = json_enum(jget(body, "aggregationTemporality", "aggregation_temporality"),
                      _TEMPORALITY_ENUM)
        temporality = TEMPORALITY_NAMES[t] if t is not None and 0 <= t < 3 else "unspecified"
        mono = jget(body, "isMonotonic", "is_monotonic") is True
    unit = m.get("unit", "")
    pts = jget(body, "dataPoints", "data_points") or []
    if not isinstance(pts, list):
        stats.error(InputError(f"{where} {name!r}: dataPoints must be a JSON array"))
        return
    for pi, dp in enumerate(pts):
        stats.points_received += 1
        if check:
            why = text_problem(dp, f"{where}.{kind}.dataPoints[{pi}]")
            if why:
                stats.reject_point(f"{why}; point skipped")
                continue
        try:
            if not isinstance(dp, dict):
                raise ValueError("a data point must be a JSON object")
            flags = json_int(dp.get("flags", 0), 0, UINT64_MAX)
            if flags and flags & _NO_RECORDED_VALUE:
                stats.points_unsupported += 1
                continue
            raw_i = jget(dp, "asInt", "as_int")
            raw_d = jget(dp, "asDouble", "as_double")
            value: int | float | None
            if raw_i is not None:
                value = json_int(raw_i, INT64_MIN, (1 << 63) - 1)
                if value is None:
                    raise ValueError(f"asInt {raw_i!r} is not an integer in the 64-bit range")
            elif raw_d is not None:
                value = json_double(raw_d)
                if value is None:
                    raise ValueError(f"asDouble {raw_d!r} is not a number")
            else:
                raise ValueError("a data point has neither asInt nor asDouble")
            t_ns = json_int(jget(dp, "timeUnixNano", "time_unix_nano") or 0, 0, UINT64_MAX)
            s_ns = json_int(jget(dp, "startTimeUnixNano", "start_time_unix_nano") or 0, 0,
                            UINT64_MAX)
            if t_ns is None or s_ns is None:
                raise ValueError("timeUnixNano/startTimeUnixNano are not integers of "
                                 "nanoseconds in 0..2**64-1")
            attrs = attrs_json(dp.get("attributes"), wanted)
        except (ValueError, TypeError, AttributeError) as e:
            stats.reject_point(f"{where} {name!r}.dataPoints[{pi}]: {e}; point skipped")
            continue
        out.append(_point(name, kind, value, t_ns, s_ns, unit if isinstance(unit, str) else "",
                          service, attrs, resource,
                          scope_name if isinstance(scope_name, str) else "", temporality, mono))
