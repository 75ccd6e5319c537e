"""Seeded, bounded fuzzing of the OTLP decoders: protobuf and OTLP/JSON, traces and metrics,
through the sidecar's entry point (`server.decode_request`) and the file reader
(`otlp.read_bytes`: sniffing, JSON Lines, gzip).

A **crash** is any exception other than `InputError`. Every case is also checked against
the rules the decoders promise (docs/otlp-input.md):

- the text rule: every string in a decoded span or data point encodes as UTF-8 and is at
  most 1 MiB, and so does every message;
- nothing is lost silently: ``received == decoded + rejected`` for spans,
  ``points_received == decoded + rejected + unsupported`` for points;
- what decodes goes deeper: into one `StreamingMonitor` (a spec with `matches`, so RE2
  sees every attribute value the spec reads), whose violations are written to a real
  SQLite store.

At least 30% of the cases of each kind must decode to something, so the fuzz reaches the
decoders' deep code rather than bouncing off the parser. Mutations are described in
``otlp_fuzzing.py``; a failing case is named by its kind and index (rerun is exact).

Default run: a few thousand cases in a few seconds. ``TRACELOGIC_LONG=1``: 100,000 cases of
each kind. Every crash the fuzz found is a named regression test at the bottom.
"""
from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import tracelogic
from tracelogic.errors import InputError
from tracelogic.ingest.otlp_common import MAX_STRING_BYTES
from tracelogic.ingest.metrics import DataPoint
from tracelogic.ingest.otlp import DecodeStats, read_bytes
from tracelogic.sidecar.server import decode_request
from tracelogic.ingest.spans import InvalidValue, Span
from tracelogic.sidecar.store import Store
from tracelogic.engine.stream import StreamingMonitor
from tracelogic.testing.stream_workload import SPEC

from .otlp_fuzzing import (
    json_seed_docs, jsonl_seeds, metric_seeds_pb, mutate_bytes, mutated_json, mutated_pb,
    trace_seeds_pb,
)

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
CASES = 100_000 if LONG else 1_500
FUZZ_SPEC = SPEC + '''
pred card = attr["order.id"] matches "o-[0-9]+"
property ids_look_right:
  G (name matches "ch.*" & end -> card)
'''
WANTED = (None, frozenset({"order.id", "db.system", "service.name"}))


def _text_ok(s: str) -> bool:
    try:
        return len(s.encode("utf-8")) <= MAX_STRING_BYTES
    except UnicodeEncodeError:
        return False


def _value_ok(v: Any) -> bool:
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            if not _text_ok(x):
                return False
        elif isinstance(x, tuple):
            stack.extend(x)
        elif isinstance(x, Mapping):
            for k, y in x.items():
                if not _text_ok(k):
                    return False
                stack.append(y)
        elif isinstance(x, InvalidValue):
            stack.append(x.reason)
    return True


def check_items(items: list, stats: DecodeStats) -> None:
    """The promises every decoded span or point keeps (see the module docstring)."""
    for it in items:
        if isinstance(it, Span):
            strings = (it.name, it.status_message, it.service, it.scope_name, it.trace_id,
                       it.span_id, it.parent_id, *it.event_names)
            maps = (it.attrs, it.resource)
        else:
            assert isinstance(it, DataPoint)
            strings = (it.metric, it.unit, it.service, it.scope_name)
            maps = (it.attrs, it.resource)
        assert all(isinstance(s, str) and _text_ok(s) for s in strings), repr(it)
        assert all(_value_ok(m) for m in maps), repr(it)
    for m in stats.messages:
        m.encode("utf-8")
    for e in stats.errors:
        assert isinstance(e, InputError)
        str(e).encode("utf-8")
    assert stats.received == stats.decoded + stats.rejected, stats.summary()
    assert stats.points_received == (stats.points_decoded + stats.points_rejected
                                     + stats.points_unsupported), stats.summary()


class Deep:
    """What decoded spans and points flow into: one streaming monitor and a SQLite store."""

    def __init__(self, tmp_path):
        self.sm = StreamingMonitor(tracelogic.load(FUZZ_SPEC), idle_ns=0, lateness_ns=0)
        self.store = Store(str(tmp_path / "fuzz.db"))
        self.now = 0

    def feed(self, items: list) -> None:
        spans = [x for x in items if isinstance(x, Span)]
        points = [x for x in items if isinstance(x, DataPoint)]
        self.sm.ingest(spans)
        self.sm.feed_points(points)
        self.now += 10**12
        self.sm.poll(self.now)
        body = [v.to_json() for v in self.sm.take_violations()]
        self.store.add_violations(body)
        assert self.sm.failures == 0, self.sm.take_failures()

    def close(self) -> None:
        self.sm.finish()
        self.store.add_violations([v.to_json() for v in self.sm.take_violations()])
        assert self.sm.failures == 0, self.sm.take_failures()
        self.store.close()


def run_fuzz(kind: str, make: Callable[[random.Random], Callable[[], tuple[list, DecodeStats]]],
             deep: Deep, cases: int = CASES) -> None:
    rng = random.Random(f"otlp-fuzz-{kind}")
    crashes: list[str] = []
    decoded = refused = 0
    for i in range(cases):
        case = make(rng)
        try:
            items, stats = case()
        except InputError as e:
            str(e).encode("utf-8")
            refused += 1
            continue
        except Exception as e:  # a crash: anything but InputError
            crashes.append(f"{kind} case {i}: {type(e).__name__}: {e}"[:300])
            if len(crashes) >= 10:
                break
            continue
        check_items(items, stats)
        if items:
            decoded += 1
            deep.feed(items)
    print(f"{kind}: {cases} cases, {decoded} decoded something, {refused} InputError, "
          f"{len(crashes)} crashes")
    assert not crashes, "\n".join(crashes)
    assert decoded >= 0.3 * cases, f"{kind}: only {decoded} of {cases} cases decoded anything"


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    d = Deep(tmp_path_factory.mktemp("fuzz"))
    yield d
    d.close()


def _request(signal: str, fmt: str, body: bytes, wanted) -> Callable[[], tuple]:
    return lambda: decode_request(signal, fmt, body, wanted_attrs=wanted,
                                  wanted_metrics=frozenset({"requests", "process.memory.usage",
                                                            "system.cpu.utilization"})
                                  if wanted else None)


def test_fuzz_protobuf_traces(deep):
    seeds = trace_seeds_pb()
    run_fuzz("pb-traces", lambda r: _request("traces", "protobuf", mutated_pb(r, seeds),
                                             r.choice(WANTED)), deep)


def test_fuzz_protobuf_metrics(deep):
    seeds = metric_seeds_pb()
    run_fuzz("pb-metrics", lambda r: _request("metrics", "protobuf", mutated_pb(r, seeds),
                                              r.choice(WANTED)), deep)


def test_fuzz_json_traces_and_metrics(deep):
    docs = json_seed_docs()

    def make(r: random.Random):
        text = r.choice(docs)
        signal = "metrics" if "resourceMetrics" in text else "traces"
        return _request(signal, "json", mutated_json(r, text), r.choice(WANTED))
    run_fuzz("json", make, deep)


def test_fuzz_file_reader(deep):
    """`read_bytes` as `tracelogic monitor` calls it: format sniffing, JSON Lines, gzip."""
    texts = json_seed_docs() + jsonl_seeds()
    pbs = trace_seeds_pb()

    def make(r: random.Random):
        if r.random() < 0.3:
            data = mutated_pb(r, pbs)
        else:
            text = r.choice(texts)
            data = mutated_json(r, text) if "\n" not in text.strip() else mutate_bytes(
                r, text.encode(), ())
        if r.random() < 0.1:
            data = gzip.compress(data)
            if r.random() < 0.5:
                data = mutate_bytes(r, data, ())

        def case():
            res = read_bytes(data, source="fuzz", wanted_attrs=r.choice(WANTED))
            return res.spans + res.points, res.stats
        return case
    run_fuzz("files", make, deep)


# -- regression tests: the crashes the fuzz (and the issue) found -------------------------

def test_regression_lone_surrogate_attribute_reached_sqlite(tmp_path):
    """Issue 13: accepted, then `UnicodeEncodeError` in the store (the engine died)."""
    body = (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + b"1" * 32
            + b'","spanId":"' + b"2" * 16 + b'","name":"n","status":{"code":2},'
            b'"attributes":[{"key":"order.id","value":{"stringValue":"\\ud800"}}]}]}]}]}')
    assert len(body) < 250
    spans, stats = decode_request("traces", "json", body, wanted_attrs=None,
                                  wanted_metrics=frozenset())
    assert spans == [] and stats.rejected == 1


def test_regression_json_nested_5000_deep_raised_recursion_error():
    with pytest.raises(InputError):
        decode_request("traces", "json", b"[" * 5000 + b"]" * 5000, wanted_attrs=None,
                       wanted_metrics=frozenset())


def test_regression_5000_digit_integer_raised_value_error():
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "1" * 32, "spanId": "2" * 16, "endTimeUnixNano": 0}]}]}]})
    body = body.replace('"endTimeUnixNano": 0', '"endTimeUnixNano": ' + "7" * 5000)
    res = read_bytes(body.encode(), source="big.json")
    assert res.spans == [] and res.stats.rejected == 1


def test_regression_metric_name_of_the_wrong_type_raised_type_error():
    """`name not in wanted_metrics` with an unhashable name (a list) raised TypeError."""
    doc = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": ["x"], "gauge": {"dataPoints": [{"asInt": "1"}]}}]}]}]}
    with pytest.raises(InputError) as e:
        decode_request("metrics", "json", json.dumps(doc).encode(), wanted_attrs=None,
                       wanted_metrics=frozenset({"m"}))
    assert "name a string" in str(e.value)
