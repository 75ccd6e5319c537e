"""Seeds and mutators for the OTLP fuzz tests (test_fuzz_otlp.py, test_fuzz_grpc.py).

Seeds are valid payloads: requests made by the real OpenTelemetry SDK (traces and
metrics), the synthetic shop workload, and the OTLP/JSON files under ``data/``.
Mutations are seeded (``random.Random``), so every run is the same and a failing case
is named by its index. Three kinds:

- byte mutations (flip, set to a telling byte, insert, delete, duplicate, truncate,
  splice two seeds), which mostly exercise framing and syntax errors;
- targeted ones that keep the payload readable so the fuzz reaches the decoders' deep
  code: invalid UTF-8 inside a protobuf string, and, on parsed OTLP/JSON, values of the
  wrong type, lone surrogates, huge or out-of-range integers, deep nesting, bad ids,
  dropped or duplicated keys;
- no mutation at all, now and then, as a control.

No tests here.
"""
from __future__ import annotations

import copy
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest)

from tracelogic.ingest.otlp import request_to_json, spans_to_request

DATA = Path(__file__).parent / "data"
MONITOR_DATA = Path(__file__).parent.parent / "engine" / "data" / "monitor"
TELLING = (0x00, 0x01, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xED, 0xF4, 0xFF, 0x0A, 0x12, 0x22)


@lru_cache(maxsize=1)
def trace_seeds_pb() -> tuple[bytes, ...]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from tracelogic.testing.stream_workload import traces

    from .otlp_badtext import clean_request_pb
    from .otlp_testdata import checkout_trace, record, two_traces

    sdk = [encode_spans(record(checkout_trace)).SerializeToString(),
           encode_spans(record(two_traces, service="catalog", scope="items")).SerializeToString()]
    shop = [spans_to_request([s for s in t]).SerializeToString()
            for t in traces(4, seed=3)]
    return tuple(sdk + shop + [clean_request_pb().SerializeToString()])


@lru_cache(maxsize=1)
def metric_seeds_pb() -> tuple[bytes, ...]:
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader],
                             resource=Resource.create({"service.name": "db"}))
    meter = provider.get_meter("hostmetrics")
    meter.create_counter("requests").add(3, {"route": "/a"})
    meter.create_up_down_counter("process.memory.usage", unit="By").add(2048)
    meter.create_observable_gauge("system.cpu.utilization", callbacks=[
        lambda _o: [Observation(0.5, {"cpu": "cpu0"}), Observation(0.9, {"cpu": "cpu1"})]])
    meter.create_histogram("latency").record(5)
    for i in range(8):  # enough metrics and points that one mutation rarely hits them all
        c = meter.create_counter(f"requests.{i}", unit="1")
        for route in ("/a", "/b", "/c"):
            c.add(i + 1, {"route": route, "code": 200 + i})
    sdk = encode_metrics(reader.get_metrics_data())
    provider.shutdown()
    # a second seed: the first few metrics only
    small = ExportMetricsServiceRequest()
    small.CopyFrom(sdk)
    del small.resource_metrics[0].scope_metrics[0].metrics[4:]
    return (sdk.SerializeToString(), small.SerializeToString())


@lru_cache(maxsize=1)
def json_seed_docs() -> tuple[str, ...]:
    """OTLP/JSON texts: SDK requests in the OTLP/JSON mapping, the data files, metrics."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    out = [json.dumps(request_to_json(ExportTraceServiceRequest.FromString(b)))
           for b in trace_seeds_pb()]
    for p in sorted(DATA.glob("*.json")) + sorted(MONITOR_DATA.glob("*.json")):
        out.append(p.read_text(encoding="utf-8"))
    for b in metric_seeds_pb():
        doc = json_format.MessageToDict(ExportMetricsServiceRequest.FromString(b))
        out.append(json.dumps(doc))
    return tuple(out)


@lru_cache(maxsize=1)
def jsonl_seeds() -> tuple[str, ...]:
    return tuple(p.read_text(encoding="utf-8")
                 for p in sorted(DATA.glob("*.jsonl")) + sorted(MONITOR_DATA.glob("*.jsonl")))


# -- byte mutations ---------------------------------------------------------------------

def mutate_bytes(rng: random.Random, data: bytes, others: tuple[bytes, ...]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        op = rng.randrange(8)
        n = len(b)
        i = rng.randrange(n) if n else 0
        if op == 0 and n:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[i] = rng.choice(TELLING)
        elif op == 2:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            del b[i:i + rng.randint(1, 16)]
        elif op == 4 and n:
            j = min(n, i + rng.randint(1, 64))
            b[i:i] = b[i:j]
        elif op == 5 and n:
            del b[rng.randrange(n):]
        elif op == 6 and others:
            o = rng.choice(others)
            k = rng.randrange(len(o)) if o else 0
            b = b[:i] + bytearray(o[k:])
        elif op == 7 and n:  # a byte run as in a long varint or a huge length
            b[i:i + 1] = bytes([0xFF] * rng.randint(1, 11))
    return bytes(b)


def corrupt_pb_string(rng: random.Random, data: bytes) -> bytes:
    """Put an invalid UTF-8 byte (or a truncated sequence) inside an ASCII run: most
    such runs are protobuf strings, so upb refuses the whole message."""
    runs = []
    i = 0
    while i < len(data):
        if 0x20 <= data[i] < 0x7F:
            j = i
            while j < len(data) and 0x20 <= data[j] < 0x7F:
                j += 1
            if j - i >= 3:
                runs.append((i, j))
            i = j
        else:
            i += 1
    if not runs:
        return data
    a, b = rng.choice(runs)
    k = rng.randrange(a, b)
    bad = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90"))
    return data[:k] + bad[:1] + data[k + 1:] if len(bad) == 1 else (
        data[:k] + bad + data[k + len(bad):])


# -- structural mutations of OTLP/JSON ----------------------------------------------------

WEIRD_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1.5, "", "x", [], {}, "\ud800", "a\udfffb", "\U0001F600",
    "9" * 25, 10 ** 19, 2 ** 64, -(2 ** 63) - 1, 1e308, "NaN", "1e3", [[[[]]]],
    {"stringValue": "\ud800"}, {"intValue": "9" * 30}, {"arrayValue": {"values": [{}]}},
    {"kvlistValue": {"values": [{"key": "\udc00", "value": {}}]}}, "AAAAAAAAAAAAAAAAAAAAAA==",
    "0" * 32, "0" * 16, "Z" * 32, {"bytesValue": "!!"}, {"doubleValue": "Infinity"},
)


def _containers(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a parsed document, iteratively."""
    out = []
    stack = [doc]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                out.append((o, k))
                stack.append(v)
        elif isinstance(o, list):
            for i, v in enumerate(o):
                out.append((o, i))
                stack.append(v)
    return out


def nested(depth: int, leaf: Any = 1) -> Any:
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def mutate_doc(rng: random.Random, doc: Any) -> Any:
    """Mutate a parsed OTLP/JSON document in place (a few edits); returns it."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        places = _containers(doc)
        if not places:
            return copy.deepcopy(rng.choice(WEIRD_VALUES))
        parent, key = rng.choice(places)
        op = rng.randrange(7)
        if op <= 2:  # a copy: the edits below must never change WEIRD_VALUES itself
            parent[key] = copy.deepcopy(rng.choice(WEIRD_VALUES))
        elif op == 3:
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif op == 4 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == 5:
            parent[key] = nested(rng.choice((3, 63, 64, 65, 255, 300)), parent[key])
        elif op == 6 and isinstance(parent[key], str):
            s = parent[key]
            k = rng.randrange(len(s) + 1)
            parent[key] = s[:k] + rng.choice(("\ud800", "\udbff", "\udc00", "\x00", "é",
                                              "\ufffe")) + s[k:]
    return doc


def mutated_json(rng: random.Random, text: str) -> bytes:
    """One fuzz case from an OTLP/JSON text: a structural or a byte mutation."""
    r = rng.random()
    if r < 0.05:
        return text.encode("utf-8")
    if r < 0.75:
        try:
            doc = json.loads(text)
        except ValueError:
            return text.encode("utf-8")
        try:
            doc = mutate_doc(rng, doc)
            return json.dumps(doc, ensure_ascii=rng.random() < 0.7).encode(
                "utf-8", "surrogatepass")
        except (ValueError, RecursionError):  # the mutator's own limits (deepcopy, dumps)
            return text.encode("utf-8")
    return mutate_bytes(rng, text.encode("utf-8"), ())


def mutated_pb(rng: random.Random, seeds: tuple[bytes, ...]) -> bytes:
    data = rng.choice(seeds)
    r = rng.random()
    if r < 0.05:
        return data
    if r < 0.5:
        return corrupt_pb_string(rng, data)
    return mutate_bytes(rng, data, seeds)
