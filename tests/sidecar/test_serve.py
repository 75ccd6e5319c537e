"""`tracelogic serve` as a real process on loopback, fed by the real OpenTelemetry SDK
exporters (OTLP/HTTP and OTLP/gRPC): violations land in the store; bad input is refused
with the OTLP status codes and the server keeps serving."""
from __future__ import annotations

import gzip
import http.client
import json

import grpc
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.sidecar.grpc_receiver import TRACE_METHOD
from tracelogic.testing.stream_workload import request_bytes, to_sdk, traces

from .serve_helpers import (cpu_metrics, file_mode, grpc_exporter, http_exporter,
                                 keyset, metric, metrics_text, start_serve, wait_for)

FAST = ("--idle", "200ms", "--lateness", "1s")


def post(sp, path, body, ctype="application/x-protobuf", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", sp.http_port, timeout=30)
    c.request("POST", path, body=body, headers={"Content-Type": ctype, **(headers or {})})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def grpc_call(sp, payload: bytes, metadata=()):
    with grpc.insecure_channel(sp.grpc) as ch:
        call = ch.unary_unary(TRACE_METHOD, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=30, metadata=metadata)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sp = start_serve(tmp_path_factory.mktemp("serve"), *FAST)
    yield sp
    sp.terminate()


def test_sdk_exporters_over_http_and_grpc_put_violations_in_the_store(tmp_path):
    sp = start_serve(tmp_path, *FAST)
    ts = list(traces(120, orders=100, seed=11))
    h, g = http_exporter(sp), grpc_exporter(sp)
    for i, t in enumerate(ts):
        assert (h if i % 2 else g).export(to_sdk(t)) is SpanExportResult.SUCCESS
    expected = file_mode(ts)
    per_trace = {k for k in expected if k[0] not in ("no_double_charge", "no_panic")}
    # per-trace verdicts are committed by the idle timer, while the server runs
    wait_for(lambda: per_trace <= keyset(sp.violations()), 20, "per-trace violations")
    assert sp.terminate() == 0
    # on SIGTERM the cross-trace events waiting for the watermark are released and decided
    assert keyset(sp.violations()) == expected
    assert {"no_error", "no_double_charge", "answered"} <= {k[0] for k in expected}
    h.shutdown()
    g.shutdown()


def test_otlp_json_and_gzip_over_http(server):
    ts = list(traces(3, seed=5))
    req = spans_to_request([s for t in ts for s in t])
    body = json.dumps(request_to_json(req)).encode()
    status, headers, data = post(server, "/v1/traces", gzip.compress(body), "application/json",
                                 {"Content-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(data) == {}  # no partial success: everything was accepted
    status, _, data = post(server, "/v1/traces", gzip.compress(req.SerializeToString()),
                           headers={"Content-Encoding": "gzip"})
    assert status == 200
    ExportTraceServiceResponse.FromString(data)


def test_partial_success_reports_rejected_spans(server):
    doc = request_to_json(spans_to_request(next(traces(1, seed=6))))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "abc"  # bad id
    status, _, data = post(server, "/v1/traces", json.dumps(doc).encode(), "application/json")
    assert status == 200
    ps = json.loads(data)["partialSuccess"]
    assert ps["rejectedSpans"] == "1" and "trace" in ps["errorMessage"].lower()


@pytest.mark.parametrize("ctype,body", [
    ("application/x-protobuf", b"\x0a\xff\xff\xff\xff\x0f garbage"),
    ("application/json", b'{"resourceSpans": [ {'),
    ("application/json", b'[1, 2]'),
])
def test_malformed_http_body_is_400_with_a_message_and_the_server_keeps_serving(
        server, ctype, body):
    status, headers, data = post(server, "/v1/traces", body, ctype)
    assert status == 400
    if ctype == "application/json":
        assert json.loads(data)["message"]
    else:
        assert status_pb2.Status.FromString(data).message
    ok, _, _ = post(server, "/v1/traces", request_bytes(next(traces(1, seed=7))))
    assert ok == 200


def test_malformed_grpc_is_invalid_argument_and_the_server_keeps_serving(server):
    with pytest.raises(grpc.RpcError) as e:
        grpc_call(server, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in e.value.details()
    ExportTraceServiceResponse.FromString(grpc_call(server, request_bytes(
        next(traces(1, seed=8)))))


def test_oversize_requests_are_refused(tmp_path):
    sp = start_serve(tmp_path, "--max-request-bytes", "64Ki", *FAST)
    big = request_bytes([s for t in traces(200, seed=9) for s in t])
    assert len(big) > 64 * 1024
    status, _, data = post(sp, "/v1/traces", big)
    assert status == 413 and b"--max-request-bytes" in status_pb2.Status.FromString(data).message.encode()
    # a small gzip body that inflates past the limit is refused too (no gzip bomb)
    bomb = gzip.compress(b"\x00" * (1 << 20))
    status, _, _ = post(sp, "/v1/traces", bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413
    mid = request_bytes([s for t in traces(110, seed=9) for s in t])
    assert 64 * 1024 < len(mid) < 2 * 64 * 1024 < len(big)
    with pytest.raises(grpc.RpcError) as e:
        grpc_call(sp, mid)  # counted by tracelogic, not retryable
    assert e.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "exceeds the limit" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        grpc_call(sp, big)  # over twice the limit grpc itself refuses it
    assert e.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    ok, _, _ = post(sp, "/v1/traces", request_bytes(next(traces(1, seed=10))))
    assert ok == 200
    text = metrics_text(sp)
    assert metric(text, "tracelogic_requests_total", outcome="oversize") == 3
    sp.terminate()


def test_wrong_media_type_and_path(server):
    assert post(server, "/v1/traces", b"x", "text/plain")[0] == 415
    assert post(server, "/v1/profiles", b"x")[0] == 404


@pytest.mark.skipif(__import__("shutil").which("openssl") is None,
                    reason="needs the openssl command to make a test certificate")
def test_bearer_token_and_tls(tmp_path, monkeypatch):
    import subprocess

    # requests lets these override the exporter's certificate_file; keep them out of the way
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,"
                    "IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    sp = start_serve(tmp_path, "--token-file", str(token), "--tls-cert", str(cert),
                     "--tls-key", str(key), *FAST)
    ts = list(traces(4, seed=12))
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as G
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as H
    url = f"https://127.0.0.1:{sp.http_port}/v1/traces"
    auth = {"authorization": "Bearer s3cret"}
    assert H(endpoint=url, certificate_file=str(cert)).export(to_sdk(ts[0])) is \
        SpanExportResult.FAILURE  # no token
    assert H(endpoint=url, certificate_file=str(cert), headers=auth).export(to_sdk(ts[1])) is \
        SpanExportResult.SUCCESS
    creds = grpc.ssl_channel_credentials(cert.read_bytes())
    assert G(endpoint=f"127.0.0.1:{sp.grpc_port}", credentials=creds).export(
        to_sdk(ts[2])) is SpanExportResult.FAILURE
    assert G(endpoint=f"127.0.0.1:{sp.grpc_port}", credentials=creds, headers=auth).export(
        to_sdk(ts[3])) is SpanExportResult.SUCCESS
    import ssl
    import urllib.request
    ctx = ssl.create_default_context(cafile=str(cert))
    r = urllib.request.Request(f"https://127.0.0.1:{sp.http_port}/metrics",
                               headers={"Authorization": "Bearer s3cret"})
    text = urllib.request.urlopen(r, context=ctx, timeout=10).read().decode()
    assert metric(text, "tracelogic_requests_total", outcome="unauthenticated") == 2
    assert metric(text, "tracelogic_spans_processed_total") == len(ts[1]) + len(ts[3])
    sp.terminate()


def test_health_ready_and_metrics(server):
    import urllib.request
    for path, word in (("/healthz", b"ok"), ("/readyz", b"ready")):
        with urllib.request.urlopen(f"{server.http}{path}", timeout=10) as r:
            assert r.status == 200 and word in r.read()
    text = metrics_text(server)
    for name in ("tracelogic_spans_received_total", "tracelogic_open_traces",
                 "tracelogic_queue_spans", "tracelogic_request_seconds_bucket",
                 "tracelogic_verdicts", "tracelogic_spans_refused_total"):
        assert name in text
    assert all(json.loads(line)["level"] for line in server.log.read_text().splitlines())


def test_metrics_signal_reaches_metric_invariants(tmp_path):
    spec = tmp_path / "cpu.spec"
    spec.write_text('metric cpu = "system.cpu.utilization" : ratio\n'
                    'metric invariant cpu_ok per service:\n  cpu < 0.9\n')
    sp = start_serve(tmp_path, spec=spec)
    c = http.client.HTTPConnection("127.0.0.1", sp.http_port, timeout=30)
    c.request("POST", "/v1/metrics", body=cpu_metrics(0.5, 0.95),
              headers={"Content-Type": "application/x-protobuf"})
    assert c.getresponse().status == 200
    bodies = wait_for(sp.violations, 10, "a metric violation")
    assert bodies[0]["property"] == "cpu_ok" and bodies[0]["key"] == "cart"
    sp.terminate()
