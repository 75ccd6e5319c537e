"""Seeded, bounded fuzzing of the OTLP/gRPC receiver: a real grpc server (the sidecar, in
this process) and a real channel, sending mutated trace and metrics requests (seeded from
SDK-made requests, see ``otlp_fuzzing.py``) to both Export methods, some gzip-compressed.

A **crash** is a status code outside docs/serve.md's table for gRPC (OK,
INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE; UNAUTHENTICATED needs a token, which
is not set here), an exception in any thread, a dead engine thread, an error the engine
had to survive (``tracelogic_engine_errors_total``, ``tracelogic_monitor_failures_total``)
or a request that is not counted in ``tracelogic_requests_total``. At least 30% of the
requests must be accepted (OK), so the fuzz reaches the engine.

Default run: a few hundred requests. ``TRACELOGIC_LONG=1``: 100,000.
"""
from __future__ import annotations

import os
import random
import threading

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracelogic.sidecar.server import ServeConfig, Sidecar
from tracelogic.sidecar.grpc_receiver import METRICS_METHOD, TRACE_METHOD
from tracelogic.engine.stream import SECOND

from ingest.otlp_fuzzing import metric_seeds_pb, mutated_pb, trace_seeds_pb
from ingest.test_fuzz_otlp import FUZZ_SPEC
from .serve_helpers import metric, write_spec

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
CASES = 100_000 if LONG else 1_500
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
           grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}


@pytest.fixture
def thread_errors():
    """Every exception that ends a thread (grpc workers, the engine, ...)."""
    seen: list[str] = []
    old = threading.excepthook

    def hook(args):
        seen.append(f"{args.thread.name if args.thread else '?'}: "
                    f"{args.exc_type.__name__}: {args.exc_value}")
    threading.excepthook = hook
    yield seen
    threading.excepthook = old


@pytest.fixture
def sidecar(tmp_path):
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path, FUZZ_SPEC)), grpc="127.0.0.1:0",
                      http=None, store=str(tmp_path / "v.db"), idle_ns=SECOND // 50,
                      lateness_ns=SECOND, max_request_bytes=1 << 20)
    sc = Sidecar(cfg)
    sc.start()
    yield sc
    sc.stop()


def test_fuzz_grpc_receiver(sidecar, thread_errors):
    rng = random.Random("grpc-fuzz")
    traces, metrics = trace_seeds_pb(), metric_seeds_pb()
    crashes: list[str] = []
    codes: dict[str, int] = {}
    with grpc.insecure_channel(sidecar.addresses()["grpc"]) as ch:
        calls = {m: ch.unary_unary(m, request_serializer=None, response_deserializer=None)
                 for m in (TRACE_METHOD, METRICS_METHOD)}
        for i in range(CASES):
            is_trace = rng.random() < 0.7
            payload = mutated_pb(rng, traces if is_trace else metrics)
            # now and then the other service's method: its bytes are garbage to that one
            method = (TRACE_METHOD if is_trace else METRICS_METHOD) if rng.random() < 0.9 \
                else (METRICS_METHOD if is_trace else TRACE_METHOD)
            compression = grpc.Compression.Gzip if rng.random() < 0.2 else None
            try:
                resp = calls[method](payload, timeout=60, compression=compression)
                code = grpc.StatusCode.OK
                parsed = (ExportTraceServiceResponse if method == TRACE_METHOD
                          else ExportMetricsServiceResponse).FromString(resp)
                parsed.partial_success.error_message.encode("utf-8")
            except grpc.RpcError as e:
                code = e.code()
                (e.details() or "").encode("utf-8")
            codes[code.name] = codes.get(code.name, 0) + 1
            if code not in ALLOWED:
                crashes.append(f"case {i}: {code.name}: {payload[:60]!r}")
                if len(crashes) >= 10:
                    break
    print(f"grpc: {CASES} requests, by status code: {codes}")
    assert not crashes, "\n".join(crashes)
    assert not thread_errors, thread_errors
    assert sidecar.healthy and sidecar._engine.is_alive()
    text = sidecar.metrics.render()
    assert metric(text, "tracelogic_engine_errors_total") == 0, text
    assert metric(text, "tracelogic_monitor_failures_total") == 0, sidecar.sm.take_failures()
    assert metric(text, "tracelogic_requests_total") == sum(codes.values()), codes
    assert codes.get("OK", 0) >= 0.3 * CASES, codes
