"""OTLP metric data points (gauge and sum), protobuf and JSON, from the real SDK."""
from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from tracelogic.errors import InputError
from tracelogic.ingest.metrics import (
    DataPoint, decode_metrics_json, decode_metrics_pb,
)
from tracelogic.ingest.otlp import DecodeStats, read_bytes, read_path
from tracelogic.ingest.spans import MISSING

from .otlp_testdata import DATA


@pytest.fixture(scope="module")
def metrics_request():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader],
                             resource=Resource.create({"service.name": "db", "host.name": "h1"}))
    meter = provider.get_meter("hostmetrics")
    counter = meter.create_counter("requests")
    counter.add(3, {"route": "/a"})
    counter.add(2, {"route": "/a"})
    meter.create_up_down_counter("process.memory.usage", unit="By").add(2048)
    meter.create_observable_gauge(
        "system.cpu.utilization",
        callbacks=[lambda _o: [Observation(0.5, {"cpu": "cpu0"}), Observation(0.9, {"cpu": "cpu1"})]])
    meter.create_histogram("latency").record(5)
    req = encode_metrics(reader.get_metrics_data())
    provider.shutdown()
    return req


def test_sdk_gauge_and_sum_points(metrics_request):
    stats = DecodeStats()
    points = decode_metrics_pb(metrics_request.SerializeToString(), stats=stats)
    by = {(p.metric, p.attrs.get("cpu")): p for p in points}
    req = by[("requests", None)]
    assert (req.kind, req.value, req.temporality, req.is_monotonic) == ("sum", 5, "cumulative", True)
    assert isinstance(req.value, int) and req.attr("route") == "/a"
    mem = by[("process.memory.usage", None)]
    assert mem.value == 2048 and mem.unit == "By" and mem.is_monotonic is False
    cpu1 = by[("system.cpu.utilization", "cpu1")]
    assert cpu1.kind == "gauge" and cpu1.value == 0.9 and isinstance(cpu1.value, float)
    assert cpu1.service == "db" and cpu1.attr("host.name") == "h1" and cpu1.scope_name == "hostmetrics"
    assert cpu1.attr("nope") is MISSING and cpu1.time_ns > 0
    assert (stats.points_received, stats.points_decoded, stats.points_unsupported) == (5, 4, 1)
    assert any("'latency': histogram metrics are not read" in m for m in stats.messages)


def test_json_decoding_equals_protobuf(metrics_request):
    # Metrics carry no ids, so protobuf's own JSON printer is OTLP/JSON here
    # (with integer enums): an independent encoder for the JSON path.
    doc = json.loads(json_format.MessageToJson(metrics_request, use_integers_for_enums=True))
    from_json = decode_metrics_json(doc)
    from_pb = decode_metrics_pb(metrics_request.SerializeToString())
    key = lambda p: (p.metric, sorted(p.attrs.items()))  # noqa: E731
    assert sorted(from_json, key=key) == sorted(from_pb, key=key)
    assert len(from_pb) == 4


def test_wanted_metrics_and_attrs(metrics_request):
    data = metrics_request.SerializeToString()
    stats = DecodeStats()
    pts = decode_metrics_pb(data, wanted_metrics=frozenset({"system.cpu.utilization"}),
                            wanted_attrs=frozenset({"cpu"}), stats=stats)
    assert {p.metric for p in pts} == {"system.cpu.utilization"} and len(pts) == 2
    assert all(set(p.attrs) == {"cpu"} and not p.resource for p in pts)
    assert pts[0].service == "db"
    assert stats.points_received == 2 and stats.points_unsupported == 0  # others not touched


def test_handwritten_json_int_forms_and_bad_points():
    res = read_path(DATA / "metrics.json")
    st = res.stats
    vals = [(p.metric, p.value) for p in res.points]
    assert vals == [("system.cpu.utilization", 0.42), ("system.cpu.utilization", 0.97),
                    ("process.memory.usage", 2147483648), ("process.memory.usage", 1024)]
    assert isinstance(res.points[2].value, int) and res.points[2].temporality == "cumulative"
    assert res.points[2].start_ns == 500 and res.points[0].attr("cpu") == "cpu0"
    assert res.spans == [] and res.points[0].service == "db"
    assert (st.points_received, st.points_decoded, st.points_rejected,
            st.points_unsupported) == (7, 4, 2, 1)
    text = "\n".join(st.messages)
    assert "asInt 'lots' is not an integer" in text and "neither asInt nor asDouble" in text


def test_sniffing_and_protobuf_metrics_need_to_be_asked_for(metrics_request):
    data = metrics_request.SerializeToString()
    as_metrics = read_bytes(data, signal="metrics", source="m.pb")
    assert len(as_metrics.points) == 4 and as_metrics.stats.ok
    js = read_bytes(json_format.MessageToJson(metrics_request).encode())
    assert len(js.points) == 4 and js.spans == []  # sniffed by "resourceMetrics"


def test_corrupt_metrics_protobuf():
    with pytest.raises(InputError, match="ExportMetricsServiceRequest.*byte offset"):
        decode_metrics_pb(b"\x0a\x10\x0a", source="m.pb")


def test_datapoint_is_immutable():
    p = DataPoint("m", "gauge", 1.0, 5, attrs={"a": 1})
    with pytest.raises(AttributeError):
        p.value = 2  # type: ignore[misc]
    assert p == DataPoint("m", "gauge", 1.0, 5, attrs={"a": 1}) and p.attr("a") == 1
    with pytest.raises(ValueError, match="only 'gauge' and 'sum'"):
        DataPoint("m", "histogram", 1, 5)
