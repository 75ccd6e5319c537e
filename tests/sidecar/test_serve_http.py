"""The OTLP/HTTP receiver's framing, over raw sockets against a live `tracelogic serve`:
chunked bodies, gzip members, Content-Length rules, a 413 the client can read, and the
bearer scheme compared case-insensitively (HTTP and gRPC). Each issue-13 example has a
test named for it; `gunzip` and `bearer_matches` also get unit tests at their limits."""
from __future__ import annotations

import gzip
import socket
import zlib

import grpc
import pytest
from google.rpc import status_pb2

from tracelogic.sidecar.auth import bearer_matches
from tracelogic.sidecar.grpc_receiver import TRACE_METHOD
from tracelogic.sidecar.http_receiver import BodyTooLarge, gunzip
from tracelogic.testing.stream_workload import request_bytes, traces

from .serve_helpers import metric, metrics_text, send_raw, start_serve

FAST = ("--idle", "200ms", "--lateness", "1s")
LIMIT = 64 * 1024


# ----------------------------------------------------------------------- raw HTTP


def exchange(port: int, raw: bytes, timeout: float = 30) -> list[tuple[int, dict, bytes]]:
    """Send ``raw``, half-close, and parse every response until the server closes."""
    return parse_responses(send_raw(port, raw, timeout))


def parse_responses(data: bytes) -> list[tuple[int, dict, bytes]]:
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return [r for r in out if r[0] != 100]


def post_raw(path: str, body: bytes, *headers: str, length: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/x-protobuf",
             *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sp = start_serve(tmp_path_factory.mktemp("http"), "--max-request-bytes", "64Ki", *FAST)
    yield sp
    sp.terminate()


def processed(sp) -> float:
    return metric(metrics_text(sp), "tracelogic_spans_processed_total")


def one_trace(seed: int) -> tuple[bytes, int]:
    t = next(traces(1, seed=seed))
    return request_bytes(t), len(t)


# ----------------------------------------------------------------------- chunked


def test_chunked_body_is_accepted(server):
    body, n = one_trace(101)
    before = processed(server)
    [(status, headers, data)] = exchange(server.http_port, post_raw(
        "/v1/traces", chunked(body, 97), "Transfer-Encoding: chunked", length=False))
    assert status == 200 and headers["content-type"] == "application/x-protobuf"
    assert processed(server) == before + n


def test_chunked_gzip_body_is_accepted(server):
    body, n = one_trace(102)
    before = processed(server)
    [(status, _, _)] = exchange(server.http_port, post_raw(
        "/v1/traces", chunked(gzip.compress(body), 50), "Transfer-Encoding: chunked",
        "Content-Encoding: gzip", length=False))
    assert status == 200 and processed(server) == before + n


def test_chunked_body_over_the_limit_is_413_and_readable(server):
    body = b"\x00" * (LIMIT + 1)
    [(status, headers, data)] = exchange(server.http_port, post_raw(
        "/v1/traces", chunked(body, 8192), "Transfer-Encoding: chunked", length=False))
    assert status == 413 and headers["connection"] == "close"
    assert "--max-request-bytes" in status_pb2.Status.FromString(data).message


def test_chunked_body_at_the_limit_is_read(server):
    # LIMIT bytes of zeros are not an OTLP request (400), but they are read, not refused
    [(status, _, data)] = exchange(server.http_port, post_raw(
        "/v1/traces", chunked(b"\x00" * LIMIT, 8192), "Transfer-Encoding: chunked",
        length=False))
    assert status == 400, status_pb2.Status.FromString(data).message


def test_chunked_and_content_length_together_is_400(server):
    body, _ = one_trace(103)
    [(status, _, data)] = exchange(server.http_port, post_raw(
        "/v1/traces", chunked(body), "Transfer-Encoding: chunked",
        f"Content-Length: {len(body)}", length=False))
    assert status == 400 and "Transfer-Encoding" in status_pb2.Status.FromString(data).message


def test_malformed_chunk_size_is_400(server):
    [(status, _, _)] = exchange(server.http_port, post_raw(
        "/v1/traces", b"zz\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked", length=False))
    assert status == 400


def test_no_length_at_all_is_411(server):
    [(status, _, data)] = exchange(server.http_port, post_raw("/v1/traces", b"", length=False))
    assert status == 411 and "Content-Length" in status_pb2.Status.FromString(data).message


# ----------------------------------------------------------------------- gzip


def test_two_gzip_members_deliver_both_members_spans(server):
    t1, t2 = list(traces(2, seed=104))
    body = gzip.compress(request_bytes(t1)) + gzip.compress(request_bytes(t2))
    before = processed(server)
    [(status, _, _)] = exchange(server.http_port, post_raw(
        "/v1/traces", body, "Content-Encoding: gzip"))
    assert status == 200
    # protobuf concatenation merges the repeated fields: both traces' spans arrive
    assert processed(server) == before + len(t1) + len(t2)


def test_gzip_followed_by_garbage_is_400(server):
    body, _ = one_trace(105)
    before = processed(server)
    [(status, _, data)] = exchange(server.http_port, post_raw(
        "/v1/traces", gzip.compress(body) + b"garbage", "Content-Encoding: gzip"))
    assert status == 400 and "trailing" in status_pb2.Status.FromString(data).message
    assert processed(server) == before


def test_truncated_gzip_is_400(server):
    body, _ = one_trace(106)
    [(status, _, _)] = exchange(server.http_port, post_raw(
        "/v1/traces", gzip.compress(body)[:-5], "Content-Encoding: gzip"))
    assert status == 400


def test_gunzip_limits_and_members():
    a, b = b"a" * 100, b"b" * 50
    assert gunzip(gzip.compress(a) + gzip.compress(b), 150) == a + b
    with pytest.raises(BodyTooLarge):
        gunzip(gzip.compress(a) + gzip.compress(b), 149)
    assert gunzip(gzip.compress(a), 100) == a            # limit
    assert gunzip(gzip.compress(a), 101) == a            # limit + 1
    with pytest.raises(BodyTooLarge):
        gunzip(gzip.compress(a), 99)                     # limit - 1
    with pytest.raises(BodyTooLarge):                    # a bomb stops at the limit
        gunzip(gzip.compress(b"\x00" * (1 << 24)), 1 << 16)
    with pytest.raises(ValueError, match="trailing"):
        gunzip(gzip.compress(a) + b"\x00", 1000)
    with pytest.raises(ValueError, match="truncated"):
        gunzip(gzip.compress(a)[:-3], 1000)
    with pytest.raises(ValueError, match="corrupt"):
        gunzip(b"\x1f\x8b\x08\x00garbage-garbage", 1000)
    with pytest.raises(ValueError):
        gunzip(b"", 1000)
    # zlib differential: every split of a two-member body decodes like gzip.decompress
    two = gzip.compress(b"xyz" * 300) + gzip.compress(b"")
    assert gunzip(two, 10_000) == gzip.decompress(two)
    raw = zlib.compress(a)  # zlib framing is not gzip
    with pytest.raises(ValueError):
        gunzip(raw, 1000)


# ----------------------------------------------------------------------- Content-Length


def test_content_length_superscript_two_is_400(server):
    raw = ("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
           "Content-Length: ²\r\n\r\n").encode("utf-8")
    [(status, _, _)] = exchange(server.http_port, raw)
    assert status == 400


def test_duplicate_differing_content_length_is_400(server):
    body, _ = one_trace(107)
    raw = post_raw("/v1/traces", body, f"Content-Length: {len(body) - 10}")
    [(status, _, _)] = exchange(server.http_port, raw)
    assert status == 400


@pytest.mark.parametrize("value", ["-1", "+5", "0x10", "1 2", "1.0", "٣"])
def test_content_length_must_be_ascii_digits(server, value):
    raw = ("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
           f"Content-Length: {value}\r\n\r\n").encode("utf-8")
    [(status, _, _)] = exchange(server.http_port, raw)
    assert status == 400


# ----------------------------------------------------------------------- 413


def test_413_is_readable_by_a_client_still_sending(server):
    """The body (8 times the limit) is still being sent when the 413 is decided: the
    server answers, then reads and drops the rest, so the client sees the 413, not a
    reset."""
    big = b"\x0a" * (8 * LIMIT)
    for raw in (post_raw("/v1/traces", big),
                post_raw("/v1/traces", chunked(big, 4096), "Transfer-Encoding: chunked",
                         length=False)):
        with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as s:
            s.sendall(raw)  # no EPIPE: the server keeps reading
            data = b""
            while not data.endswith(b"\r\n\r\n") or b"\r\n\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    break
                data += got
                if b"\r\n\r\n" in data:
                    break
        assert data.startswith(b"HTTP/1.1 413 "), data[:100]


def test_http_client_with_a_large_body_reads_the_413(server):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    c.request("POST", "/v1/traces", body=b"\x0a" * (16 * LIMIT),
              headers={"Content-Type": "application/x-protobuf"})
    r = c.getresponse()
    assert r.status == 413 and b"--max-request-bytes" in r.read()
    c.close()


# ----------------------------------------------------------------------- routing


def test_probes_and_unknown_paths(server):
    [(status, _, body)] = exchange(server.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and body == b"ok\n"
    [(status, headers, _)] = exchange(server.http_port,
                                      b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 3\r\n\r\nabc")
    assert status == 405 and headers["allow"] == "GET"
    [(status, headers, _)] = exchange(server.http_port,
                                      b"GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and headers["allow"] == "POST"
    [(status, _, _)] = exchange(server.http_port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404
    [(status, _, _)] = exchange(server.http_port, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400
    [(status, _, _)] = exchange(server.http_port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n")
    assert status == 431


def test_keep_alive_and_pipelining(server):
    body, n = one_trace(108)
    before = processed(server)
    req = post_raw("/v1/traces", body)
    got = exchange(server.http_port, req + b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n" + req)
    assert [s for s, _, _ in got] == [200, 200, 200]
    # both copies are processed; the monitor drops the repeat as a retry's duplicate
    assert processed(server) == before + 2 * n
    assert metric(metrics_text(server), "tracelogic_spans_duplicate") >= n


def test_every_answer_is_counted(server):
    text0 = metrics_text(server)
    exchange(server.http_port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    exchange(server.http_port, b"garbage\r\n\r\n")
    exchange(server.http_port, post_raw("/v1/traces", b"", length=False))
    text1 = metrics_text(server)
    delta = {o: metric(text1, "tracelogic_requests_total", outcome=o)
             - metric(text0, "tracelogic_requests_total", outcome=o)
             for o in ("not_found", "invalid", "length_required")}
    assert delta == {"not_found": 1, "invalid": 1, "length_required": 1}


# ----------------------------------------------------------------------- auth scheme


@pytest.mark.parametrize("header,ok", [
    ("Bearer s3cret", True), ("bearer s3cret", True), ("BEARER s3cret", True),
    ("BeArEr   s3cret", True), ("Bearer s3cre", False), ("Bearer s3cret2", False),
    ("Basic s3cret", False), ("s3cret", False), ("Bearer", False), ("", False),
    ("Bearers3cret", False), ("Bearer s3cret ", True)])
def test_bearer_matches(header, ok):
    assert bearer_matches(header, "s3cret") is ok
    assert bearer_matches(header.encode(), "s3cret") is ok


def test_bearer_scheme_is_case_insensitive_over_http_and_grpc(tmp_path):
    sp = start_serve(tmp_path, *FAST, env={"TRACELOGIC_TOKEN": "s3cret"})
    body, _ = one_trace(109)
    for scheme, want in (("bearer", 200), ("BEARER", 200), ("Bearer", 200), ("Basic", 401)):
        [(status, _, _)] = exchange(sp.http_port, post_raw(
            "/v1/traces", body, f"Authorization: {scheme} s3cret"))
        assert status == want, scheme
    with grpc.insecure_channel(sp.grpc) as ch:
        call = ch.unary_unary(TRACE_METHOD, request_serializer=None,
                              response_deserializer=None)
        for scheme in ("bearer", "BEARER"):
            call(body, timeout=30, metadata=(("authorization", f"{scheme} s3cret"),))
        with pytest.raises(grpc.RpcError) as e:
            call(body, timeout=30, metadata=(("authorization", "Basic s3cret"),))
        assert e.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert sp.terminate() == 0
