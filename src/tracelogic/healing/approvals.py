"""The approval endpoint: approve or reject pending high-risk actions over HTTP.

Binds 127.0.0.1 unless configured otherwise, and refuses to start without a
bearer token (``[approval] token`` or ``token_env`` in the controller
configuration). Every request needs ``Authorization: Bearer <token>``.

- ``GET  /approvals`` — the pending requests (JSON list).
- ``POST /approvals/<id>/approve`` and ``/approvals/<id>/reject`` — optional JSON
  body ``{"by": "...", "reason": "..."}``. 200 when decided; 409 when the
  request is no longer pending (already decided, or timed out: a timed-out
  request is never executed); 404 for an unknown id.

The server only records decisions; the controller executes approved actions on
its next :meth:`~tracelogic.healing.controller.Controller.run_pending`.
"""
from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tracelogic.errors import InputError
from tracelogic.healing.audit import AuditLog

_MAX_BODY = 16 * 1024


class ApprovalServer:
    def __init__(self, log: AuditLog, token: str | None, *, host: str = "127.0.0.1",
                 port: int = 0):
        if not token:
            raise InputError("the approval endpoint needs a bearer token",
                             hint="set [approval] token or token_env in the controller "
                             "configuration")
        self.log = log
        self._token = token.encode()
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> "ApprovalServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tracelogic-approvals",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ApprovalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._token)


class _Handler(BaseHTTPRequestHandler):
    server_ref: ApprovalServer
    server_version = "tracelogic-approvals"
    sys_version = ""

    def log_message(self, format: str, *args) -> None:  # keep test output and logs quiet
        pass

    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body, sort_keys=True).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _auth(self) -> bool:
        if self.server_ref.authorised(self.headers.get("Authorization")):
            return True
        self._send(401, {"error": "missing or wrong bearer token"})
        return False

    def do_GET(self) -> None:  # noqa: N802
        if not self._auth():
            return
        if self.path.rstrip("/") != "/approvals":
            self._send(404, {"error": "not found"})
            return
        rows = self.server_ref.log.pending_approvals()
        self._send(200, [{"id": r["id"], "policy": r["policy"], "action": r["action"],
                          "target": r["target"], "risk": r["risk"], "plan": r["plan"],
                          "expires_unix_nano": r["approval_expires_ns"]} for r in rows])

    def do_POST(self) -> None:  # noqa: N802
        if not self._auth():
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "approvals" or parts[2] not in ("approve", "reject"):
            self._send(404, {"error": "use POST /approvals/<id>/approve or /reject"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(413, {"error": "body too large"})
            return
        body = {}
        if length:
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._send(400, {"error": "the body must be JSON"})
                return
            if not isinstance(body, dict):
                self._send(400, {"error": "the body must be a JSON object"})
                return
        by = str(body.get("by", "http"))[:200]
        reason = str(body.get("reason", ""))[:1000]
        done, state = self.server_ref.log.decide(parts[1], parts[2] == "approve", by=by,
                                                 reason=reason)
        if state == "unknown":
            self._send(404, {"error": f"no action {parts[1]}"})
        elif not done:
            self._send(409, {"error": f"not pending: {state}", "state": state})
        else:
            self._send(200, {"id": parts[1], "state": state})
