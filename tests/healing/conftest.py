"""Shared helpers for the healing tests: a fake clock, a webhook receiver on 127.0.0.1,
a recording program for `command`, and spec builders."""
from __future__ import annotations

import json
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracelogic.healing.actions.builtin import verify_signature
from tracelogic.ingest.spans import Span

SECRET = b"test-hmac-secret"
MINUTE = 60 * 10**9


class Clock:
    def __init__(self, start: int = 1_800_000_000 * 10**9):
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Receiver:
    """A webhook receiver on 127.0.0.1 that records requests; `statuses` scripts replies."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        owner = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body})
                    code = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def signed_ok(self, req: dict, secret: bytes = SECRET) -> bool:
        h = {k.lower(): v for k, v in req["headers"].items()}
        return verify_signature(secret, h["x-tracelogic-timestamp"], req["body"],
                                h["x-tracelogic-signature"])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def recorder(tmp_path):
    """An executable that appends its argv (after argv[0]) as one JSON line to a file."""
    script = tmp_path / "record-argv"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      "with open(sys.argv[1], 'a') as f:\n"
                      "    f.write(json.dumps(sys.argv[2:]) + '\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def read_argv_lines(path) -> list[list[str]]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def span(name="POST /checkout", service="checkout", attrs=None, n=1, at=None) -> Span:
    """A server span; ``at`` is its start (unix ns), by default a tiny time derived from n."""
    start = n * 1000 if at is None else at
    return Span(name=name, trace_id=f"{n:032x}", span_id=f"{n:016x}", start_ns=start,
                end_ns=start + 500, kind="server", service=service, attrs=attrs or {})


def violation(prop="broken", n=1, key=None, sp: Span | None = None) -> dict:
    sp = sp or span(n=n)
    return {"property": prop, "key": key or sp.trace_id, "trace_ids": [sp.trace_id],
            "span_ids": [sp.span_id], "message": "m", "severity": "error",
            "events": [{"span_id": sp.span_id, "event": "start", "time_unix_nano": sp.start_ns,
                        "name": sp.name, "service": sp.service}]}


def config_toml(tmp_path, receiver=None, extra: str = "") -> str:
    text = extra
    if receiver is not None:
        text += (f'\n[webhooks.oncall]\nurl = "{receiver.url}"\nsecret = "{SECRET.decode()}"\n'
                 'timeout = "2s"\nretries = 2\nbackoff = "10ms"\n')
    path = tmp_path / "controller.toml"
    path.write_text(text)
    return str(path)
