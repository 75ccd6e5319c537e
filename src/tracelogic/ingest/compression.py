"""gzip input, bounded: a request body (``serve``) or a file (``monitor``, ``analyze``)
is decompressed up to a limit, so a gzip bomb (a few MB that inflate to many GB) stops
at the limit with a precise error instead of exhausting memory."""
from __future__ import annotations

import zlib

from tracelogic.errors import InputError

__all__ = ["BodyTooLarge", "gunzip", "MAX_FILE_DECOMPRESSED_BYTES", "gunzip_file"]

#: the most a gzip file given to `monitor` or `analyze` may inflate to (an uncompressed
#: file has no limit: it is read whole, as large as it is on disk)
MAX_FILE_DECOMPRESSED_BYTES = 1 << 30


class BodyTooLarge(InputError):
    """gzip data over the limit once decompressed (a body: answered 413)."""


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member of ``data``, at most ``limit`` bytes in all.

    RFC 1952 §2.2: a gzip file is a series of members, and a body of two members is
    the concatenation of both. Anything after the last member that is not another
    member is an error (``ValueError``), not silently ignored. A gzip bomb stops at
    the limit (:class:`BodyTooLarge`) without inflating further.
    """
    out = bytearray()
    rest = memoryview(data)
    members = 0
    while True:
        if members and len(rest) == 0:
            return bytes(out)
        if members and bytes(rest[:2]) != b"\x1f\x8b":
            raise ValueError(f"{len(rest)} bytes of trailing data after gzip member "
                             f"{members}; send only gzip members")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = rest
        while True:
            try:
                part = d.decompress(chunk, limit - len(out) + 1)
            except zlib.error as e:
                raise ValueError(f"corrupt gzip member {members + 1}: {e}") from None
            out += part
            if len(out) > limit:
                raise BodyTooLarge(limit)
            if d.eof or not d.unconsumed_tail:
                break
            chunk = d.unconsumed_tail
        if not d.eof:
            raise ValueError(f"truncated gzip member {members + 1}")
        members += 1
        rest = memoryview(d.unused_data)


def gunzip_file(data: bytes, source: str, limit: int | None = None) -> bytes:
    """A gzip file's content, at most ``limit`` bytes (default
    :data:`MAX_FILE_DECOMPRESSED_BYTES`); an :class:`InputError` names the file and the
    limit when it inflates beyond it, or says why the data is corrupt."""
    limit = MAX_FILE_DECOMPRESSED_BYTES if limit is None else limit
    try:
        return gunzip(data, limit)
    except BodyTooLarge:
        raise InputError(
            f"{source}: gzip data inflates to more than {limit} bytes ({limit >> 20} MiB), "
            f"the limit for a compressed file ({len(data)} bytes compressed)", value=source,
            hint="decompress it yourself (`gunzip -k`) and pass the uncompressed file: "
                 "files that are not compressed are read whole, with no limit") from None
    except ValueError as e:
        raise InputError(f"{source}: corrupt gzip data: {e}", value=source,
                         hint="re-compress the file") from None
