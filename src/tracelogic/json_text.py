"""JSON text exactly as ``json.dumps(obj, indent=2)`` writes it, about 1.7x faster.

A leaf module (docs/architecture.md). With ``indent``, CPython's ``json`` module leaves its
C encoder for a pure-Python one that yields every token from nested generators; on a
`monitor --format json` report of 200k spans (40k violations, 43 MB) that was 1.9 s of a
6 s run. This writer appends whole lines to one list instead, and uses the C string
escaper the ``json`` module itself uses, so the bytes are the same (tests/test_json_text.py
checks it against ``json.dumps`` on generated documents). Whatever it does not know (a
subclass of a JSON type) is handed to ``json.dumps`` and re-indented.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _string
from typing import Any

__all__ = ["Verbatim", "dumps", "indented", "key_string"]

_INF = float("inf")


def dumps(obj: Any) -> str:
    """``json.dumps(obj, indent=2)``: the same text."""
    parts: list[str] = []
    _write(obj, "\n", parts)
    return "".join(parts)


def _float(x: float) -> str:
    if x != x:
        return "NaN"
    if x == _INF:
        return "Infinity"
    if x == -_INF:
        return "-Infinity"
    return float.__repr__(x)


def key_string(k: Any) -> str:
    """A key that is not a ``str``, as ``json.dumps`` turns it into one (in its order)."""
    if isinstance(k, str):
        return str.__str__(k)
    if isinstance(k, float):
        return _float(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _write(o: Any, nl: str, parts: list[str]) -> None:
    """Append ``o``'s text to ``parts``; ``nl`` is a newline and the current indentation."""
    t = type(o)
    if t is str:
        parts.append(_string(o))
    elif t is dict:
        if not o:
            parts.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            parts.append(sep + _string(k if type(k) is str else key_string(k)) + ": ")
            _write(v, inner, parts)
            sep = "," + inner
        parts.append(nl + "}")
    elif t is list or t is tuple:
        if not o:
            parts.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            parts.append(sep)
            _write(v, inner, parts)
            sep = "," + inner
        parts.append(nl + "]")
    elif o is True:
        parts.append("true")
    elif o is False:
        parts.append("false")
    elif o is None:
        parts.append("null")
    elif t is int:
        parts.append(int.__repr__(o))
    elif t is float:
        parts.append(_float(o))
    else:  # a subclass (an enum, a str subclass), or what json.dumps itself refuses
        parts.append(indented(o, nl))


class Verbatim:
    """JSON text written already (by the native core, at depth 0), which :func:`dumps`
    (and ``engine.json_report.dumps``) put in place, indented to where it stands: a
    report's violations, thousands of them, written without an object each. The text of
    several items of a list may be one, joined by ``",\\n"``: they read as consecutive
    items. Only these writers know it; ``json.dumps`` refuses it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def indented(o: Any, nl: str) -> str:
    """``json.dumps``'s own text for ``o``, indented to ``nl``: strings in JSON text hold
    no raw newline, so every newline is one the encoder wrote (a :class:`Verbatim`'s
    too)."""
    if type(o) is Verbatim:
        return o.text.replace("\n", nl)
    return json.dumps(o, indent=2).replace("\n", nl)
