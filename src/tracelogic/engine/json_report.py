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
from typing import Any, TextIO

from tracelogic import json_text
from tracelogic.byte_streams import utf8_buffer

__all__ = ["dump", "dumps"]


def dumps(obj: Any) -> str:
    """``json.dumps(obj, indent=2)``: the same text, from the core when it is built."""
    writer = _writer()
    if writer is None:
        return json_text.dumps(obj)
    return writer(obj, json_text.indented, json_text.key_string, encode_basestring_ascii,
                  json_text.Verbatim)


def dump(obj: Any, out: TextIO) -> None:
    """``dumps(obj)`` and a newline, written to ``out``. To a UTF-8 text stream over a
    binary one (a file, a pipe, ``sys.stdout``), the core hands the text to the binary
    stream a megabyte at a time, as bytes: a report of 160 MB is never one string, nor
    decoded and encoded again (at 800k spans its one string cost three copies of it)."""
    binary = utf8_buffer(out)
    writer = _writer(11) if binary is not None else None
    if writer is None:
        out.write(dumps(obj))
        out.write("\n")
        return
    out.flush()  # what was written to `out` before goes first
    writer(obj, json_text.indented, json_text.key_string, encode_basestring_ascii,
           json_text.Verbatim, binary.write)
    binary.write(b"\n")
    binary.flush()


def _writer(abi: int = 9) -> Any:
    """The core's ``dumps_indent2`` if its build speaks ``abi`` or later (9: ``verbatim``;
    11: ``write``), else None."""
    try:
        from tracelogic import _native
    except ImportError:
        return None
    if getattr(_native, "ABI_VERSION", 0) < abi:
        return None
    return getattr(_native, "dumps_indent2", None)
