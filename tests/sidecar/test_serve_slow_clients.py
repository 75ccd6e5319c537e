"""Slow and idle HTTP clients against a live `tracelogic serve`: idle sockets cannot take
the request slots, a client dripping bytes is answered 408 and closed, idle keep-alive
connections are closed, and the probes answer while every request slot is busy.

No timing thresholds: each test waits generously for an outcome and checks the order of
events (for example, that the probes answered while the slow requests still held their
slots), not how fast anything was."""
from __future__ import annotations

import select
import socket
import time
import urllib.request

from tracelogic.testing.stream_workload import request_bytes, traces

from .serve_helpers import metric, metrics_text, start_serve, wait_for
from .test_serve_http import exchange, parse_responses, post_raw

FAST = ("--idle", "200ms", "--lateness", "1s")


def get(sp, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"{sp.http}{path}", timeout=30) as r:
        return r.status, r.read()


def idle_sockets(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]


def closed_by_peer(s: socket.socket) -> bool:
    """True once the server has closed ``s`` (EOF or reset), without blocking."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(65536, socket.MSG_PEEK) == b""
    except (ConnectionResetError, OSError):
        return True


def read_all(s: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            got = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return data
        if not got:
            return data
        data += got


def test_256_idle_sockets_and_healthz_still_answers(tmp_path):
    """The old receiver gave each connection a thread out of 256: 256 idle sockets refused
    everything, /healthz included, for 60 s."""
    sp = start_serve(tmp_path, *FAST)
    socks = idle_sockets(sp.http_port, 256)
    try:
        wait_for(lambda: metric(metrics_text(sp), "tracelogic_http_connections") >= 256, 20,
                 "the idle sockets to be accepted")
        assert get(sp, "/healthz") == (200, b"ok\n")
        assert get(sp, "/readyz") == (200, b"ready\n")
        t = next(traces(1, seed=201))
        [(status, _, _)] = exchange(sp.http_port, post_raw("/v1/traces", request_bytes(t)))
        assert status == 200
        assert not any(closed_by_peer(s) for s in socks)  # nobody had to make room
    finally:
        for s in socks:
            s.close()
    assert sp.terminate() == 0


def test_idle_sockets_beyond_the_connection_limit_yield_to_new_clients(tmp_path):
    sp = start_serve(tmp_path, *FAST, "--max-http-connections", "32")
    socks = idle_sockets(sp.http_port, 64)
    try:
        assert get(sp, "/healthz") == (200, b"ok\n")
        t = next(traces(1, seed=202))
        [(status, _, _)] = exchange(sp.http_port, post_raw("/v1/traces", request_bytes(t)))
        assert status == 200
        # the longest idle made room: at least the first 32 of 64 idle sockets are closed
        wait_for(lambda: sum(closed_by_peer(s) for s in socks) >= 32, 20,
                 "idle sockets to be closed")
        text = metrics_text(sp)
        assert metric(text, "tracelogic_http_connections") <= 32
        assert metric(text, "tracelogic_http_connections_closed_total", reason="evicted") >= 32
        assert metric(text, "tracelogic_requests_total", outcome="too_many_connections") == 0
    finally:
        for s in socks:
            s.close()
    assert sp.terminate() == 0


def test_drip_feed_socket_gets_408_and_is_closed(tmp_path):
    """A byte every 0.2 s would take 60 s to send this head; the request deadline ends it."""
    sp = start_serve(tmp_path, *FAST, "--request-timeout", "1s")
    head = (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            + b"X-Pad: " + b"a" * 300 + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", sp.http_port), timeout=30) as s:
        sent = 0
        answered = False
        for b in head:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += 1
            if select.select([s], [], [], 0.2)[0]:
                answered = True
                break
        assert answered and sent < len(head), "the dripping client was never cut off"
        data = read_all(s)
    [(status, headers, _)] = parse_responses(data)
    assert status == 408 and headers["connection"] == "close"
    # the same for a body that drips after a complete head
    body_head = post_raw("/v1/traces", b"", "Content-Length: 1000", length=False)
    with socket.create_connection(("127.0.0.1", sp.http_port), timeout=30) as s:
        s.sendall(body_head)
        answered = False
        for _ in range(1000):
            try:
                s.sendall(b"\x0a")
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            if select.select([s], [], [], 0.2)[0]:
                answered = True
                break
        assert answered
        [(status, _, _)] = parse_responses(read_all(s))
    assert status == 408
    assert metric(metrics_text(sp), "tracelogic_requests_total", outcome="timeout") == 2
    assert sp.terminate() == 0


def test_idle_keep_alive_connection_is_closed(tmp_path):
    sp = start_serve(tmp_path, *FAST, "--keepalive-timeout", "1s")
    with socket.create_connection(("127.0.0.1", sp.http_port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        s.settimeout(30)
        assert read_all(s) == b""  # the server closed the idle connection
    assert metric(metrics_text(sp), "tracelogic_http_connections_closed_total",
                  reason="idle") >= 1
    assert sp.terminate() == 0


def test_probes_answer_while_every_request_slot_is_busy(tmp_path):
    """256 requests hold every request slot (head sent, body withheld): the probes still
    answer, while those requests are still unanswered; then each gets its 408."""
    sp = start_serve(tmp_path, *FAST, "--request-timeout", "4s")
    head = post_raw("/v1/traces", b"", "Content-Length: 100000", length=False)
    socks = idle_sockets(sp.http_port, 256)
    try:
        for s in socks:
            s.sendall(head)
        text = wait_for(lambda: (lambda t: t if metric(t, "tracelogic_http_requests_in_flight")
                                 == 256 else None)(metrics_text(sp)), 20, "all slots busy")
        assert metric(text, "tracelogic_http_requests_in_flight") == 256
        assert get(sp, "/healthz") == (200, b"ok\n")
        assert get(sp, "/readyz") == (200, b"ready\n")
        assert metric(metrics_text(sp), "tracelogic_http_requests_in_flight") == 256
        # the slow requests are still waiting: the probes did not wait for them
        assert not any(select.select([s], [], [], 0)[0] for s in socks)
        for s in socks:
            [(status, _, _)] = parse_responses(read_all(s))
            assert status == 408
    finally:
        for s in socks:
            s.close()
    text = metrics_text(sp)
    assert metric(text, "tracelogic_requests_total", signal="traces", outcome="timeout") == 256
    assert metric(text, "tracelogic_http_requests_in_flight") == 0
    t = next(traces(1, seed=203))
    [(status, _, _)] = exchange(sp.http_port, post_raw("/v1/traces", request_bytes(t)))
    assert status == 200
    assert sp.terminate() == 0


def test_sigterm_with_idle_and_slow_connections_exits_0(tmp_path):
    sp = start_serve(tmp_path, *FAST)
    socks = idle_sockets(sp.http_port, 20)
    socks[0].sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")  # half a head
    try:
        time.sleep(0.2)
        assert sp.terminate() == 0
    finally:
        for s in socks:
            s.close()
