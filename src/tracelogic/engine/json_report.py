"""A report's JSON text, ``json.dumps(obj, indent=2)``'s bytes, written by the native core.

``tracelogic.json_text`` writes the same text from one Python loop, a bytecode dispatch per
token; on `monitor --format json` over 800k spans (150 MB of text) that loop was about a
third of the run. The core's ``dumps_indent2`` (``native/src/json_py.rs``) walks the same
objects and hands back to ``json_text`` what it does not write itself (subclasses, keys
that are not strings, strings with lone surrogates), so the text is the standard library's
either way. Without the core (not built, or an older build), ``json_text`` writes it all.
"""
from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Any

from tracelogic import json_text

__all__ = ["dumps"]


def dumps(obj: Any) -> str:
    """``json.dumps(obj, indent=2)``: the same text, from the core when it is built."""
    writer = _writer()
    if writer is None:
        return json_text.dumps(obj)
    return writer(obj, json_text.indented, json_text.key_string, encode_basestring_ascii,
                  json_text.Verbatim)


def _writer() -> Any:
    try:
        from tracelogic import _native
    except ImportError:
        return None
    if getattr(_native, "ABI_VERSION", 0) < 9:  # an older build: no `verbatim` argument
        return None
    return getattr(_native, "dumps_indent2", None)
