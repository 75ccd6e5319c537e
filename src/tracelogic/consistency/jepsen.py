"""Jepsen histories -> operations -> OTLP spans (scripts/jepsen_to_otlp.py).

Reads the two history formats Porcupine's test data uses, with the meaning Porcupine's
own tests give them (porcupine_test.go, ``parseJepsenLog`` and ``parseKvLog``):

- etcd logs (``INFO jepsen.util - 3 :invoke :cas [1 4]``): read / write / cas on one
  register. ``:fail :cas`` is a compare that did not match (output false); ``:fail
  :read :timed-out`` and every ``:info`` (a timeout) leave the outcome unknown, so the
  operation is indeterminate, as is one never completed;
- kv logs (``{:process 9, :type :invoke, :f :append, :key "0", :value "x"}``): get /
  put / append per key. Their operations all complete.

Lines of neither shape (Jepsen's setup chatter) are skipped, as Porcupine skips them. A
completion with no invocation open for its process is an :class:`InputError` naming the
line. Timestamps are line numbers (1 µs apart), which keeps Jepsen's real-time order.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from tracelogic.errors import InputError

from .history import Operation
from .spans import (ATTR_CLIENT, ATTR_INDETERMINATE, ATTR_INPUT, ATTR_KEY, ATTR_OPERATION,
                    ATTR_OUTPUT)

__all__ = ["parse_etcd", "parse_kv", "to_otlp_json"]

_ETCD: Final = re.compile(
    r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$")
_KV: Final = re.compile(
    r'^\{:process (\d+), :type :(invoke|ok|fail|info), :f :(get|put|append), '
    r':key "(.*)", :value (nil|"(.*)")\}\s*$')
_TICK: Final = 1000  # ns between two lines
_BASE: Final = 1_700_000_000_000_000_000


def _int(text: str, lineno: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"line {lineno}: `{text}` is not an integer", value=text) from None


def parse_etcd(text: str) -> list[Operation]:
    """A Jepsen etcd log's operations on its one register."""
    open_: dict[str, tuple[int, str, Any, int]] = {}
    done: list[Operation] = []
    n = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _ETCD.match(line)
        if m is None:
            continue
        proc, typ, f, arg = m.groups()
        t = _BASE + lineno * _TICK
        if typ == "invoke":
            if arg == "nil":
                inp = None
            elif f == "cas":
                parts = arg.strip("[]").split()
                if len(parts) != 2:
                    raise InputError(f"line {lineno}: cas takes `[old new]`, not `{arg}`",
                                     value=arg)
                inp = (_int(parts[0], lineno), _int(parts[1], lineno))
            else:
                inp = _int(arg, lineno)
            if proc in open_:
                raise InputError(f"line {lineno}: process {proc} invokes again before its "
                                 "last operation completed", value=line)
            open_[proc] = (n, f, inp, t)
            n += 1
            continue
        if proc not in open_:
            raise InputError(f"line {lineno}: process {proc} completes an operation it never "
                             "invoked", value=line)
        i, f0, inp, call = open_.pop(proc)
        if typ == "ok" and f == "read":
            out = None if arg == "nil" else _int(arg, lineno)
            done.append(Operation(i, f0, inp, out, call, t, "ok", None, proc))
        elif typ == "ok" or (typ == "fail" and f == "cas"):
            out = (typ == "ok") if f0 == "cas" else None
            done.append(Operation(i, f0, inp, out, call, t, "ok", None, proc))
        else:  # :info, or a failed read that timed out: the outcome is unknown
            done.append(Operation(i, f0, inp, None, call, t, "indeterminate", None, proc))
    end = _BASE + (len(text.splitlines()) + 1) * _TICK
    for proc, (i, f0, inp, call) in open_.items():
        done.append(Operation(i, f0, inp, None, call, end, "indeterminate", None, proc))
    return sorted(done, key=lambda o: o.id)


def parse_kv(text: str) -> list[Operation]:
    """A Jepsen kv log's get / put / append operations, keyed."""
    open_: dict[str, tuple[int, str, str, Any, int]] = {}
    done: list[Operation] = []
    n = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _KV.match(line)
        if m is None:
            continue
        proc, typ, f, key, raw, value = m.groups()
        t = _BASE + lineno * _TICK
        if typ == "invoke":
            if proc in open_:
                raise InputError(f"line {lineno}: process {proc} invokes again before its "
                                 "last operation completed", value=line)
            open_[proc] = (n, f, key, None if raw == "nil" else value, t)
            n += 1
            continue
        if proc not in open_:
            raise InputError(f"line {lineno}: process {proc} completes an operation it never "
                             "invoked", value=line)
        i, f0, k, inp, call = open_.pop(proc)
        if typ == "ok":
            out = (None if raw == "nil" else value) if f0 == "get" else None
            done.append(Operation(i, f0, None if f0 == "get" else inp, out, call, t, "ok", k,
                                  proc))
        elif typ == "fail":
            done.append(Operation(i, f0, inp, None, call, t, "fail", k, proc))
        else:
            done.append(Operation(i, f0, inp, None, call, t, "indeterminate", k, proc))
    end = _BASE + (len(text.splitlines()) + 1) * _TICK
    for proc, (i, f0, k, inp, call) in open_.items():
        done.append(Operation(i, f0, inp, None, call, end, "indeterminate", k, proc))
    return sorted(done, key=lambda o: o.id)


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, tuple):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def to_otlp_json(ops: list[Operation], *, service: str = "jepsen",
                 history: str = "") -> dict[str, Any]:
    """OTLP/JSON spans, one client span per operation by the span convention: its own
    trace, start = invocation, end = completion, ``error`` status for a failed or
    indeterminate one (the latter marked ``consistency.indeterminate``)."""
    spans = []
    for o in ops:
        digest = hashlib.sha256(f"{history}/{o.id}".encode()).hexdigest()
        attrs = [{"key": ATTR_OPERATION, "value": {"stringValue": o.f}},
                 {"key": ATTR_CLIENT, "value": {"stringValue": o.client}}]
        if o.key is not None:
            attrs.append({"key": ATTR_KEY, "value": _any_value(o.key)})
        if o.input is not None:
            attrs.append({"key": ATTR_INPUT, "value": _any_value(o.input)})
        if o.output is not None:
            attrs.append({"key": ATTR_OUTPUT, "value": _any_value(o.output)})
        status: dict[str, Any] = {}
        if o.status != "ok":
            status = {"code": 2, "message": "timed out" if o.indeterminate else "failed"}
        if o.indeterminate:
            attrs.append({"key": ATTR_INDETERMINATE, "value": {"boolValue": True}})
        spans.append({"traceId": digest[:32], "spanId": digest[32:48], "name": o.f,
                      "kind": 3, "startTimeUnixNano": str(o.call),
                      "endTimeUnixNano": str(max(o.ret, o.call)),
                      "attributes": attrs, "status": status})
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "tracelogic.consistency.jepsen"},
                        "spans": spans}]}]}
