"""The built-in actions: ``log``, ``webhook``, ``command``, ``circuit_breaker``.

Untrusted values (from the witness span or the violation) reach these only as
data: a JSON field (``log``, ``webhook``), one argv element (``command``) or one
callback argument (``circuit_breaker``).
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import os
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import re2

from tracelogic.healing.actions import (Action, ActionFailed, ActionRefused, ActionResult,
                                        Effect, ExecContext, Param, _jsonable)

log = logging.getLogger("tracelogic.healing")

_OUTPUT_MAX = 4096


class LogAction(Action):
    """Write one structured line to the ``tracelogic.healing`` logger (and the audit trail)."""

    name = "log"
    params = (Param("message", "string", required=False, default="violation"),
              Param("target", "string", required=False))
    target = ("target",)
    risk = 0.0
    extra_args = True

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        record = {"policy": ctx.policy, "idempotency_key": ctx.idempotency_key,
                  **_jsonable(args)}
        log.warning("heal %s", json.dumps(record, sort_keys=True))
        return ActionResult(True, {"logged": record})


# ------------------------------------------------------------------ webhook

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The URL comes from configuration; a redirect must not send the payload elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Tracelogic-Signature`` value: HMAC-SHA256 over ``timestamp.body``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """For receivers (and tests): constant-time check of a webhook signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookAction(Action):
    """POST a JSON document to a webhook named in the controller configuration.

    ``endpoint`` names a ``[webhooks.NAME]`` table; the URL, secret, timeout and
    retries come from there, never from the spec. Other named arguments become
    fields of the JSON body.
    """

    name = "webhook"
    params = (Param("endpoint", "string", required=False, default="default"),
              Param("target", "string", required=False))
    target = ("target",)
    risk = 0.1
    extra_args = True

    def validate(self, args: dict, tainted: dict) -> None:
        if tainted.get("endpoint"):
            raise ActionRefused("the webhook `endpoint` must be a constant in the spec, not a "
                                "value from the span", value=args.get("endpoint"))
        self.config.webhook(args["endpoint"])  # raises ConfigError naming the known ones

    def _body(self, args: dict, ctx: ExecContext) -> dict:
        fields = {k: v for k, v in args.items() if k not in ("endpoint",)}
        v = ctx.violation
        return {"policy": ctx.policy, "action": self.name,
                "idempotency_key": ctx.idempotency_key,
                "violation": {k: v.get(k) for k in ("property", "key", "trace_ids", "span_ids",
                                                    "severity", "message") if k in v},
                "fields": _jsonable(fields)}

    def plan(self, args: dict) -> dict:
        hook = self.config.webhook(args["endpoint"])
        return {"action": self.name, "endpoint": hook.name, "url": hook.url,
                "signed": hook.secret is not None,
                "fields": _jsonable({k: v for k, v in args.items() if k != "endpoint"})}

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        hook = self.config.webhook(args["endpoint"])
        body = json.dumps(self._body(args, ctx), sort_keys=True).encode()
        return post_json(hook, body, ctx.idempotency_key)


def post_json(hook: Any, body: bytes, idempotency_key: str) -> ActionResult:
    """POST with HMAC, a timeout and retries (on connection errors, 429 and 5xx)."""
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    attempts = []
    for attempt in range(hook.retries + 1):
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "tracelogic-healing",
                   "Idempotency-Key": idempotency_key, "X-Tracelogic-Timestamp": timestamp,
                   **dict(hook.headers)}
        if hook.secret is not None:
            headers["X-Tracelogic-Signature"] = sign(hook.secret, timestamp, body)
        req = urllib.request.Request(hook.url, data=body, method="POST", headers=headers)
        try:
            with opener.open(req, timeout=hook.timeout_s) as resp:
                status = resp.status
                resp.read(_OUTPUT_MAX)
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            attempts.append({"attempt": attempt + 1, "error": str(getattr(e, "reason", e))})
            if attempt < hook.retries:
                time.sleep(hook.backoff_s * (2 ** attempt))
            continue
        attempts.append({"attempt": attempt + 1, "status": status})
        if 200 <= status < 300:
            return ActionResult(True, {"endpoint": hook.name, "status": status,
                                       "attempts": attempts})
        if status != 429 and status < 500:
            break  # the receiver refused the request: retrying will not help
        if attempt < hook.retries:
            time.sleep(hook.backoff_s * (2 ** attempt))
    raise ActionFailed(f"webhook `{hook.name}` failed after {len(attempts)} attempt(s): "
                       f"{attempts[-1] if attempts else 'no attempt'}",
                       value={"endpoint": hook.name, "attempts": attempts})


# ------------------------------------------------------------------ command

class CommandAction(Action):
    """Run a program with an argv list: never a shell.

    - ``argv[0]`` must be a constant of the spec (and, when the configuration has
      ``[command] allowed``, one of those programs).
    - A value from the span is one argv element, whatever it contains. One that
      starts with ``-`` is refused unless a ``"--"`` element comes before it, since
      most programs would read it as an option.
    - ``validate``: one RE2 pattern that every span-derived element must match in
      full, or a list with one pattern per argv element (``""`` for none).
    """

    name = "command"
    params = (Param("argv", "list"), Param("validate", "any", required=False),
              Param("target", "string", required=False))
    target = ("target",)
    risk = 0.5

    def validate(self, args: dict, tainted: dict) -> None:
        argv = args["argv"]
        marks = tainted.get("argv")
        marks = list(marks) if isinstance(marks, list) else [bool(marks)] * len(argv)
        if not argv:
            raise ActionRefused("`command` needs a non-empty argv list")
        clean = []
        for i, v in enumerate(argv):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise ActionRefused(f"argv[{i}] is {type(v).__name__} {v!r}; only strings and "
                                    "numbers can be arguments", value=v)
            s = str(v)
            if "\x00" in s:
                raise ActionRefused(f"argv[{i}] contains a NUL byte", value=s)
            clean.append(s)
        args["argv"] = clean
        if marks[0]:
            raise ActionRefused("argv[0], the program, must be a constant in the spec, not a "
                                "value from the span", value=clean[0])
        allowed = self.config.command_allowed
        if allowed is not None and clean[0] not in allowed:
            raise ActionRefused(f"program {clean[0]!r} is not in the configuration's "
                                "[command] allowed list", value=clean[0])
        seen_dashdash = False
        for i, (s, t) in enumerate(zip(clean, marks)):
            if not t and s == "--":
                seen_dashdash = True
            if t and s.startswith("-") and not seen_dashdash:
                raise ActionRefused(
                    f"argv[{i}] = {s!r} comes from the span and starts with `-`, so the "
                    "program would read it as an option", value=s,
                    hint='put "--" before span values in argv')
        patterns = args.get("validate")
        if patterns is None:
            return
        if isinstance(patterns, str):
            checks = [(i, patterns) for i, t in enumerate(marks) if t]
        elif isinstance(patterns, list) and all(isinstance(p, str) for p in patterns):
            if len(patterns) != len(clean):
                raise ActionRefused(f"`validate` has {len(patterns)} pattern(s) for "
                                    f"{len(clean)} argv element(s); give one per element "
                                    '("" for none)', value=patterns)
            checks = [(i, p) for i, p in enumerate(patterns) if p]
        else:
            raise ActionRefused("`validate` must be a regex string or a list of them",
                                value=patterns)
        for i, pattern in checks:
            opts = re2.Options()
            opts.log_errors = False
            try:
                rx = re2.compile(pattern, opts)
            except re2.error as e:
                raise ActionRefused(f"`validate` pattern {pattern!r} is not valid RE2: {_re2_message(e)}",
                                    value=pattern) from None
            if rx.fullmatch(clean[i]) is None:
                raise ActionRefused(f"argv[{i}] = {clean[i]!r} does not match {pattern!r}",
                                    value=clean[i])

    def plan(self, args: dict) -> dict:
        return {"action": self.name, "argv": list(args["argv"]), "shell": False}

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8",
               "TRACELOGIC_POLICY": ctx.policy,
               "TRACELOGIC_IDEMPOTENCY_KEY": ctx.idempotency_key}
        try:
            proc = subprocess.run(list(args["argv"]), shell=False, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=self.config.command_timeout_s,
                                  env=env, cwd=self.config.command_cwd, check=False)
        except subprocess.TimeoutExpired:
            raise ActionFailed(f"command timed out after {self.config.command_timeout_s}s",
                               value=args["argv"]) from None
        except OSError as e:
            raise ActionFailed(f"cannot run {args['argv'][0]!r}: {e.strerror}",
                               value=args["argv"]) from None
        detail = {"argv": list(args["argv"]), "returncode": proc.returncode,
                  "stdout": proc.stdout[:_OUTPUT_MAX].decode("utf-8", "replace"),
                  "stderr": proc.stderr[:_OUTPUT_MAX].decode("utf-8", "replace")}
        if proc.returncode != 0:
            raise ActionFailed(f"command exited with status {proc.returncode}", value=detail)
        return ActionResult(True, detail)


# ------------------------------------------------------------------ circuit breaker

class CircuitBreakerAction(Action):
    """Open (or close) a circuit breaker through a user callback.

    The callback is ``callback(name, state, *, idempotency_key)``; it comes from
    ``Controller(hooks={"circuit_breaker": fn})`` or from the configuration's
    ``[circuit_breaker] callback = "module:function"``.
    """

    name = "circuit_breaker"
    params = (Param("name", "string"),
              Param("state", "string", required=False, default="open"))
    target = ("name",)
    risk = 0.3
    effect = Effect("breaker", state="state", directions=(("open", 1), ("half_open", 1),
                                                          ("closed", -1)))
    has_undo = True
    _STATES = ("open", "closed", "half_open")
    _UNDO = {"open": "closed", "half_open": "closed", "closed": "open"}

    def validate(self, args: dict, tainted: dict) -> None:
        if args["state"] not in self._STATES:
            raise ActionRefused(f"breaker state must be one of {', '.join(self._STATES)}, got "
                                f"{args['state']!r}", value=args["state"])
        self._callback()

    def _callback(self):
        fn = self.hooks.get("circuit_breaker")
        if fn is not None:
            return fn
        ref = self.config.breaker_callback
        if ref is None:
            raise ActionRefused("no circuit-breaker callback: pass hooks={'circuit_breaker': fn} "
                                "or set [circuit_breaker] callback in the configuration")
        module, _, attr = ref.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ActionRefused(f"cannot load circuit-breaker callback {ref!r}: {e}") from None
        return obj

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:
        try:
            out = self._callback()(args["name"], args["state"],
                                   idempotency_key=ctx.idempotency_key)
        except Exception as e:  # the user's callback: any failure is the action's failure
            raise ActionFailed(f"circuit-breaker callback failed: {type(e).__name__}: {e}") \
                from None
        return ActionResult(True, {"name": args["name"], "state": args["state"],
                                   "callback_result": _jsonable(out)},
                            undo={"name": args["name"], "state": self._UNDO[args["state"]]})

    def undo(self, args: dict, result: ActionResult, ctx: ExecContext) -> ActionResult:
        return self.execute(dict(result.undo or {}), ctx)


def _re2_message(e: Exception) -> str:
    arg = e.args[0] if e.args else e
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
