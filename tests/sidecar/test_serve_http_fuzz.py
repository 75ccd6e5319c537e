"""A seeded, bounded fuzz of the OTLP/HTTP receiver over raw sockets against a live
`tracelogic serve`.

Cases start from valid requests: bodies made by the OpenTelemetry Python SDK's own OTLP
encoder (the bytes its exporter sends), OTLP/JSON, and metrics, framed by Content-Length or
chunked, plain or gzip (one or two members), sometimes pipelined. Each case then gets a
few mutations of its request line, headers, chunked framing, gzip stream or body, and
sometimes random byte edits of the whole. Every case is a new connection: send, half-close,
read every answer until the server closes.

A crash is:
- a status outside docs/serve.md's table (``http_receiver.STATUSES``; a 500 is a crash);
- no answer to a connection that sent any bytes, or an answer that is not well-formed HTTP;
- a server process that exited, an engine thread that died (``/healthz``), or an error
  logged by the receiver;
- answers the server did not count: ``tracelogic_requests_total`` must grow by exactly
  the number of answers the clients read.

At least 30% of the cases must be accepted (200 on an OTLP path), so that the fuzz reaches
decoding and the monitor, not only the parser. The default run is 3,000 cases;
``TRACELOGIC_LONG=1`` runs 100,000 (``TRACELOGIC_FUZZ_CASES`` overrides either).
"""
from __future__ import annotations

import gzip
import json
import os
import random
import socket
import zlib
from dataclasses import dataclass, field

import pytest

from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.sidecar.http_receiver import STATUSES
from tracelogic.testing.stream_workload import to_sdk, traces

from .serve_helpers import cpu_metrics, metric, metrics_text, send_raw, start_serve

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
CASES = int(os.environ.get("TRACELOGIC_FUZZ_CASES", "100000" if LONG else "3000"))
LIMIT = 64 * 1024


# ----------------------------------------------------------------------- seeds


def sdk_trace_bodies() -> list[bytes]:
    """Request bodies exactly as the Python SDK's OTLP exporter encodes them."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    out = []
    for i, n in enumerate((1, 2, 5)):
        ts = list(traces(n, seed=300 + i, orders=3))
        out.append(encode_spans(to_sdk([s for t in ts for s in t])).SerializeToString())
    return out


def json_trace_bodies() -> list[bytes]:
    ts = list(traces(2, seed=310, orders=2))
    return [json.dumps(request_to_json(spans_to_request(t))).encode() for t in ts]


@dataclass
class Case:
    method: str = "POST"
    target: str = "/v1/traces"
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""           # the encoded body (after gzip, before chunking)
    chunked: bool = False
    chunks: list[bytes] | None = None  # raw chunked framing, when mutated
    length: str | None = None   # the Content-Length value, when not the body's
    tail: bytes = b""           # pipelined bytes after the request


def valid_case(rng: random.Random, seeds: dict) -> Case:
    kind = rng.choice(["pb", "pb", "pb", "json", "metrics"])
    if kind == "metrics":
        body, ctype, target = seeds["metrics"], "application/x-protobuf", "/v1/metrics"
    elif kind == "json":
        body, ctype, target = rng.choice(seeds["json"]), "application/json", "/v1/traces"
    else:
        body, ctype, target = rng.choice(seeds["pb"]), "application/x-protobuf", "/v1/traces"
    c = Case(target=target, headers=[("Host", "127.0.0.1"), ("Content-Type", ctype),
                                     ("User-Agent", "fuzz")])
    if rng.random() < 0.4:
        if rng.random() < 0.3:  # two members, split anywhere
            k = rng.randrange(len(body) + 1)
            body = gzip.compress(body[:k]) + gzip.compress(body[k:])
        else:
            body = gzip.compress(body)
        c.headers.append(("Content-Encoding", "gzip"))
    c.body = body
    c.chunked = rng.random() < 0.4
    if rng.random() < 0.1:
        c.headers.append(("Expect", "100-continue"))
    return c


# ----------------------------------------------------------------------- mutations

GARBAGE = [b"", b"\x00", b"\xff\xfe", b"\r\n", b"\n", b" ", b"\t", b":", b";", b"\x1f\x8b",
           "²".encode(), "é".encode("latin-1"), b"0", b"-1", b"%00", b"\r\n\r\n",
           b"Transfer-Encoding: chunked", b"A" * 100]


def mutate(rng: random.Random, c: Case) -> None:
    op = rng.randrange(22)
    if op == 0:
        c.method = rng.choice(["GET", "PUT", "DELETE", "OPTIONS", "P0ST", "post", "",
                               "POST POST", "CONNECT", "\x00POST"])
    elif op == 1:
        c.target = rng.choice(["/", "/v1/traces/", "/v1/traces?x=1", "/v1/metrics",
                               "/v1/logs", "/healthz", "/readyz", "/metrics", "*",
                               "http://x/v1/traces", "/v1/%74races", "", "/" + "a" * 5000,
                               "/v1/traces#f", "/\x00"])
    elif op == 2:
        c.version = rng.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "HTTP/1", "http/1.1",
                                "HTTP/0.9", "", "HTTP/1.10"])
    elif op == 3 and c.headers:
        del c.headers[rng.randrange(len(c.headers))]
    elif op == 4 and c.headers:
        c.headers.insert(rng.randrange(len(c.headers) + 1), rng.choice(c.headers))
    elif op == 5:
        c.length = rng.choice([str(len(c.body) + rng.randint(-5, 5)), "", "abc", "²", "٣",
                               "+1", "-1", " 0", "0x10", "1e3", "9" * 25, str(10**7),
                               f"{len(c.body)}, {len(c.body)}", f"{len(c.body)},1",
                               str(len(c.body)) + "\x00"])
    elif op == 6:
        n = str(len(c.body))
        c.headers.append(("Content-Length", rng.choice([n, str(len(c.body) + 1), "0"])))
    elif op == 7:
        c.headers.append(("Transfer-Encoding", rng.choice(
            ["chunked", "gzip", "chunked, gzip", "gzip, chunked", "identity", "Chunked",
             "chunked ", "xchunked"])))
    elif op == 8:
        c.headers.append(("Content-Type", rng.choice(
            ["application/json", "application/x-protobuf", "text/plain", "",
             "application/json; charset=utf-8", "APPLICATION/X-PROTOBUF", "application/*"])))
    elif op == 9:
        c.headers.append(("Content-Encoding", rng.choice(
            ["gzip", "br", "deflate", "identity", "GZIP", "gzip, gzip", "", "x-gzip"])))
    elif op == 10:
        c.headers.append((rng.choice(["X-A", "Bad Name", "", "X\x00", "Authorization",
                                      "Connection", "Expect"]),
                          rng.choice(["1", "close", "keep-alive", "100-continue",
                                      "Bearer x", "\x7f", "a\r\n b", "é", "x" * 70_000])))
    elif op == 11:  # chunked framing: sizes, extensions, trailers, a missing end
        chunks = _chunk(rng, c.body)
        sub = rng.randrange(6)
        if sub == 0 and chunks:
            i = rng.randrange(len(chunks))
            data = chunks[i].split(b"\r\n", 1)[1][:-2]
            chunks[i] = b"%x\r\n" % (len(data) + rng.choice([-1, 1, 100])) + data + b"\r\n"
        elif sub == 1 and chunks:
            chunks[rng.randrange(len(chunks))] = rng.choice(GARBAGE)
        elif sub == 2:
            chunks.append(b"0;ext=1\r\nX-Trailer: 1\r\n\r\n")
            c.chunks = chunks
            c.chunked = True
            return
        elif sub == 3 and chunks:
            i = rng.randrange(len(chunks))
            chunks[i] = chunks[i].replace(b"\r\n", b";name=val\r\n", 1)
        elif sub == 4 and chunks:
            i = rng.randrange(len(chunks))
            head, _, rest = chunks[i].partition(b"\r\n")
            chunks[i] = head.upper().rjust(8, b"0") + b"\r\n" + rest
        elif sub == 5:
            chunks.append(b"")  # no final chunk: truncated
            c.chunks = chunks
            c.chunked = True
            return
        chunks.append(b"0\r\n\r\n")
        c.chunks = chunks
        c.chunked = True
    elif op == 12:  # gzip stream
        raw = c.body
        sub = rng.randrange(4)
        if sub == 0:
            c.body = gzip.compress(raw) + rng.choice(GARBAGE[1:])
        elif sub == 1:
            g = gzip.compress(raw)
            c.body = g[:rng.randrange(len(g))]
        elif sub == 2:
            g = bytearray(gzip.compress(raw))
            g[rng.randrange(len(g))] ^= 1 << rng.randrange(8)
            c.body = bytes(g)
        else:
            c.body = zlib.compress(raw)
        c.headers.append(("Content-Encoding", "gzip"))
    elif op == 13 and c.body:  # body bytes
        b = bytearray(c.body)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        c.body = bytes(b)
    elif op == 14:
        c.body = c.body[:rng.randrange(len(c.body) + 1)]
    elif op == 15:
        c.body = c.body + rng.choice(GARBAGE)
    elif op == 16:  # over the limit, plain or compressed
        c.body = rng.choice([b"\x0a" * (LIMIT + rng.randint(1, 3 * LIMIT)),
                             gzip.compress(b"\x00" * (LIMIT + rng.randint(1, LIMIT)))])
        if c.body[:2] == b"\x1f\x8b":
            c.headers.append(("Content-Encoding", "gzip"))
    elif op == 17:  # pipelining: a second request, a probe, or garbage
        c.tail = rng.choice([b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                             b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b"garbage\r\n\r\n",
                             b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             b"Content-Type: application/x-protobuf\r\n\r\n\x0a\x00"])
    elif op == 18:
        c.headers = [(k.upper() if rng.random() < 0.5 else k.lower(), v) for k, v in c.headers]
    elif op == 19:
        c.headers.append(("X-Folded", "a\r\n continued"))
    elif op == 20:
        c.headers.append(("Connection", rng.choice(["close", "keep-alive", "upgrade"])))
    else:
        c.headers.append(("Expect", rng.choice(["100-continue", "200-ok", ""])))


def _chunk(rng: random.Random, body: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(body):
        n = rng.randint(1, max(1, len(body) // 3))
        out.append(b"%x\r\n%s\r\n" % (len(body[i:i + n]), body[i:i + n]))
        i += n
    return out


def encode(c: Case) -> bytes:
    lines = [f"{c.method} {c.target} {c.version}".encode("latin-1", "replace")]
    for k, v in c.headers:
        lines.append(f"{k}: {v}".encode("utf-8", "surrogateescape"))
    if c.chunked:
        lines.append(b"Transfer-Encoding: chunked")
        body = b"".join(c.chunks) if c.chunks is not None else \
            b"".join(_chunk(random.Random(len(c.body)), c.body)) + b"0\r\n\r\n"
    else:
        body = c.body
        lines.append(b"Content-Length: " + (c.length if c.length is not None
                                            else str(len(body))).encode("utf-8"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + c.tail


def byte_edits(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.randrange(3)
        if op == 0:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i:i + rng.randint(1, 8)]
        else:
            b[i:i] = rng.choice(GARBAGE)
    return bytes(b)


def make_case(rng: random.Random, seeds: dict) -> tuple[bytes, str]:
    c = valid_case(rng, seeds)
    r = rng.random()
    if r < 0.45:
        n = 0          # valid (in one of its framings), to reach the monitor
    elif r < 0.9:
        n = rng.randint(1, 3)
    else:
        n = rng.randint(3, 6)
    for _ in range(n):
        mutate(rng, c)
    raw = encode(c)
    if rng.random() < 0.08:
        raw = byte_edits(rng, raw)
    return raw, c.method


# ----------------------------------------------------------------------- the oracle


def statuses(data: bytes, first_method: str) -> list[int]:
    """The statuses of well-formed HTTP/1.1 answers in ``data``; AssertionError otherwise."""
    out = []
    head_first = first_method == "HEAD"
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete answer: {data[:200]!r}"
        lines = head.split(b"\r\n")
        proto, code, _ = lines[0].split(b" ", 2)
        assert proto == b"HTTP/1.1", lines[0]
        n = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        status = int(code)
        if status != 100:
            out.append(status)
            if head_first and len(out) == 1:
                n = 0
        assert len(rest) >= n, f"a truncated answer body: {data[:200]!r}"
        data = rest[n:]
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sp = start_serve(tmp_path_factory.mktemp("fuzz"), "--max-request-bytes", "64Ki",
                     "--idle", "200ms", "--lateness", "1s", "--request-timeout", "10s")
    yield sp
    if sp.proc.poll() is None:
        sp.terminate()


@pytest.mark.timeout(7200 if LONG else 300)
def test_fuzz_http_receiver_over_raw_sockets(server):
    rng = random.Random(1313)
    seeds = {"pb": sdk_trace_bodies(), "json": json_trace_bodies(), "metrics": cpu_metrics(0.5)}
    before = metric(metrics_text(server), "tracelogic_requests_total")
    answers = accepted = 0
    crashes: list[str] = []
    seen: dict[int, int] = {}
    for i in range(CASES):
        raw, method = make_case(rng, seeds)
        data = send_raw(server.http_port, raw)
        try:
            got = statuses(data, method)
        except (AssertionError, ValueError) as e:
            crashes.append(f"case {i}: malformed answer ({e}) to {raw[:300]!r}")
            continue
        if raw and not got:
            crashes.append(f"case {i}: no answer to {raw[:300]!r}")
        for s in got:
            seen[s] = seen.get(s, 0) + 1
            if s not in STATUSES:
                crashes.append(f"case {i}: status {s} to {raw[:300]!r}")
        answers += len(got)
        if got and got[0] == 200 and (b" /v1/traces" in raw[:300] or b" /v1/metrics" in raw[:300]):
            if not raw.startswith(b"GET "):
                accepted += 1
        if server.proc.poll() is not None:
            crashes.append(f"case {i}: the server exited with {server.proc.returncode}")
            break
        if len(crashes) >= 10:
            break
    print("fuzz:", CASES, "cases", accepted, "accepted", sorted(seen.items()))
    assert not crashes, "\n".join(crashes)
    text = metrics_text(server)
    # every answer read by a client was counted, and nothing else was (this scrape is +1)
    assert metric(text, "tracelogic_requests_total") == before + answers + 1, seen
    assert metric(text, "tracelogic_requests_total", outcome="error") == 0
    assert accepted >= 0.3 * CASES, (accepted, seen)
    assert {400, 413, 415, 200} <= set(seen), seen
    logged = [r for r in server.logs() if r.get("level") in ("error", "critical")]
    assert not logged, logged[:3]
    assert server.proc.poll() is None
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")  # the engine thread is alive
    assert server.terminate() == 0


def test_fuzz_cases_are_deterministic_for_a_seed():
    seeds = {"pb": sdk_trace_bodies(), "json": json_trace_bodies(), "metrics": cpu_metrics(0.5)}
    a = [make_case(random.Random(7), seeds) for _ in range(3)]
    b = [make_case(random.Random(7), seeds) for _ in range(3)]
    assert a == b
