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

from collections.abc import Mapping
from typing import Any, Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tracelogic.errors import InputError

from ._otlp_common import (
    DecodeStats, attrs_json, attrs_pb, jget, jlist, jobj, json_double, json_enum, json_int,
    pb_error,
)
from .spans import MISSING

__all__ = ["DataPoint", "decode_metrics_pb", "decode_metrics_request", "decode_metrics_json"]

TEMPORALITY_NAMES: Final = ("unspecified", "delta", "cumulative")
_TEMPORALITY_ENUM: Final = dict(metrics_pb2.AggregationTemporality.items())
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
    try:
        req = ExportMetricsServiceRequest.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise pb_error(bytes(data), ExportMetricsServiceRequest.DESCRIPTOR, source,
                       "ExportMetricsServiceRequest", e) from e
    return decode_metrics_request(req, wanted_attrs=wanted_attrs,
                                  wanted_metrics=wanted_metrics, stats=stats, source=source)


def decode_metrics_request(req: ExportMetricsServiceRequest, *,
                           wanted_attrs: frozenset[str] | None = None,
                           wanted_metrics: frozenset[str] | None = None,
                           stats: DecodeStats | None = None,
                           source: str = "<request>") -> list[DataPoint]:
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
            for mi, m in enumerate(sm.metrics):
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
                        line: int | None = None) -> list[DataPoint]:
    """Decode one parsed OTLP/JSON ``ExportMetricsServiceRequest`` (a dict)."""
    if stats is None:
        stats = DecodeStats()
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
                if wanted_metrics is not None and name not in wanted_metrics:
                    continue
                _metric_json(m, name, mwhere, resource, service, scope_name, wanted_attrs,
                             stats, out)
    stats.points_decoded += len(out)
    return out


def _metric_json(m: dict[str, Any], name: Any, where: str, resource: Mapping[str, Any],
                 service: str, scope_name: Any, wanted: frozenset[str] | None,
                 stats: DecodeStats, out: list[DataPoint]) -> None:
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
        try:
            if not isinstance(dp, dict):
                raise ValueError("a data point must be a JSON object")
            flags = json_int(dp.get("flags", 0))
            if flags and flags & _NO_RECORDED_VALUE:
                stats.points_unsupported += 1
                continue
            raw_i = jget(dp, "asInt", "as_int")
            raw_d = jget(dp, "asDouble", "as_double")
            value: int | float | None
            if raw_i is not None:
                value = json_int(raw_i)
                if value is None:
                    raise ValueError(f"asInt {raw_i!r} is not an integer")
            elif raw_d is not None:
                value = json_double(raw_d)
                if value is None:
                    raise ValueError(f"asDouble {raw_d!r} is not a number")
            else:
                raise ValueError("a data point has neither asInt nor asDouble")
            t_ns = json_int(jget(dp, "timeUnixNano", "time_unix_nano") or 0)
            s_ns = json_int(jget(dp, "startTimeUnixNano", "start_time_unix_nano") or 0)
            if t_ns is None or s_ns is None:
                raise ValueError("timeUnixNano/startTimeUnixNano are not integers")
            attrs = attrs_json(dp.get("attributes"), wanted)
        except (ValueError, TypeError, AttributeError) as e:
            stats.reject_point(f"{where} {name!r}.dataPoints[{pi}]: {e}; point skipped")
            continue
        out.append(_point(name, kind, value, t_ns, s_ns, unit if isinstance(unit, str) else "",
                          service, attrs, resource,
                          scope_name if isinstance(scope_name, str) else "", temporality, mono))
