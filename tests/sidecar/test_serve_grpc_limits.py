"""The gRPC receiver's request-size limit at limit - 1, limit and limit + 1 (the HTTP
receiver's are tested with its framing). In process: a real grpc server and channel."""
from __future__ import annotations

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracelogic.sidecar.server import ServeConfig, Sidecar
from tracelogic.sidecar.grpc_receiver import TRACE_METHOD

from ingest.otlp_badtext import clean_request_pb
from .serve_helpers import metric, write_spec

LIMIT = 4096


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def sized(n: int) -> bytes:
    """A valid request of exactly ``n`` bytes: padded with an unknown field (ignored)."""
    base = clean_request_pb().SerializeToString()
    tag = varint(99 << 3 | 2)  # field 99, length-delimited
    for pad in range(n):
        out = base + tag + varint(pad) + bytes(pad)
        if len(out) == n:
            return out
    raise AssertionError(f"cannot pad to {n} bytes")


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grpc")
    sc = Sidecar(ServeConfig(spec_path=str(write_spec(tmp)), grpc="127.0.0.1:0", http=None,
                             store=str(tmp / "v.db"), max_request_bytes=LIMIT))
    sc.start()
    yield sc
    sc.stop()


@pytest.mark.parametrize("size,ok", [(LIMIT - 1, True), (LIMIT, True), (LIMIT + 1, False)])
def test_grpc_request_size_limit(sidecar, size, ok):
    payload = sized(size)
    assert len(payload) == size
    with grpc.insecure_channel(sidecar.addresses()["grpc"]) as ch:
        call = ch.unary_unary(TRACE_METHOD, request_serializer=None, response_deserializer=None)
        if ok:
            resp = ExportTraceServiceResponse.FromString(call(payload, timeout=30))
            assert not resp.HasField("partial_success")
        else:
            with pytest.raises(grpc.RpcError) as e:
                call(payload, timeout=30)
            assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert f"request of {size} bytes exceeds the limit of {LIMIT}" in e.value.details()
    assert metric(sidecar.metrics.render(), "tracelogic_requests_total",
                  outcome="oversize") == int(not ok)
