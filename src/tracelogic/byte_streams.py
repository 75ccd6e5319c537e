"""When a report may be written to a text stream's binary stream as bytes.

A large report's text comes from the core already encoded (UTF-8, or ASCII for JSON):
decoding it into a ``str`` only for the text stream to encode it again cost a fifth of
writing it, and twice its size in memory. Bytes may go under the text stream only when
they are what the text stream would write: it encodes UTF-8 and translates no newline.
"""
from __future__ import annotations

import codecs
import os
from typing import Any

__all__ = ["utf8_buffer"]


def utf8_buffer(out: Any) -> Any:
    """The binary stream under text stream ``out`` when bytes written to it are what
    ``out.write`` would write: ``out`` encodes UTF-8 and this system ends lines with
    ``\\n`` (so ``out`` translates none); else None (a ``StringIO``, another encoding).
    Flush ``out`` before writing to it: what ``out`` holds goes first."""
    buffer, encoding = getattr(out, "buffer", None), getattr(out, "encoding", None)
    if buffer is None or not isinstance(encoding, str) or os.linesep != "\n":
        return None
    try:
        return buffer if codecs.lookup(encoding).name == "utf-8" else None
    except LookupError:
        return None
