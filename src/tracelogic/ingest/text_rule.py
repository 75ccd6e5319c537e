"""The text rule (docs/otlp-input.md): every string decoded from OTLP is valid UTF-8 (so
it holds no lone surrogate) and at most :data:`MAX_STRING_BYTES` long, or the span (data
point) holding it is rejected.

upb checks UTF-8 for protobuf; OTLP/JSON can smuggle a lone surrogate in as ``"\\ud800"``,
which json.loads turns into a Python str that nothing downstream (SQLite, RE2, a log
line, a protobuf answer) can encode; SDK spans hold whatever str the application gave.
This module owns the check; the decoders (``otlp_common``, ``otlp``, ``metrics``,
``spans.from_sdk``) apply it.
"""
from __future__ import annotations

from typing import Any, Final

__all__ = ["MAX_STRING_BYTES", "safe_text", "string_problem", "text_problem"]

MAX_STRING_BYTES: Final = 1 << 20  # one string, in UTF-8; a longer one rejects its span


def safe_text(s: str) -> str:
    """``s`` itself when it can be encoded as UTF-8, else with the offending code points
    written as ``\\udXXX`` escapes: for messages, which quote input."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def string_problem(s: str) -> str | None:
    """Why ``s`` breaks the text rule, or None when it keeps it."""
    if s.isascii():
        n = len(s)
    else:
        try:
            n = len(s.encode("utf-8"))
        except UnicodeEncodeError as e:
            return (f"holds a lone surrogate U+{ord(s[e.start]):04X} at character {e.start} "
                    f"(OTLP strings must be valid UTF-8; \\ud800-\\udfff escapes are "
                    f"allowed in JSON only as surrogate pairs)")
    if n > MAX_STRING_BYTES:
        return (f"holds a string of {n} bytes, over the limit of {MAX_STRING_BYTES} bytes "
                f"of UTF-8")
    return None


def text_problem(obj: Any, path: str, skip: frozenset[str] = frozenset()) -> str | None:
    """``"<path>: <reason>"`` for the first string (key or value), in document order, of a
    parsed JSON value that breaks the text rule; None when every string keeps it.

    ``skip`` names keys of ``obj`` itself not to look into (a resource's spans are
    checked one by one). Iterative: a deep value cannot exhaust Python's stack.
    """
    stack: list[tuple[Any, str]] = [(obj, path)]
    top = True
    while stack:
        o, p = stack.pop()
        if isinstance(o, str):
            why = string_problem(o)
            if why:
                return f"{p}: {why}"
        elif isinstance(o, dict):
            items = []
            for k, v in o.items():
                if top and k in skip:
                    continue
                if isinstance(k, str):
                    why = string_problem(k)
                    if why:
                        return f"{p}: key {ascii(k)} {why}"
                items.append((v, f"{p}.{k}"))
            stack.extend(reversed(items))
        elif isinstance(o, list):
            stack.extend(reversed([(v, f"{p}[{i}]") for i, v in enumerate(o)]))
        top = False
    return None
