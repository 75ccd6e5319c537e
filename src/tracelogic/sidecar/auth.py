"""The bearer-token check both receivers share (HTTP ``Authorization``, gRPC metadata).

One function so that the two receivers cannot drift apart on what they accept.
"""
from __future__ import annotations

import hmac

__all__ = ["bearer_matches"]


def bearer_matches(header: str | bytes | None, token: str) -> bool:
    """Whether an ``Authorization`` value carries ``token`` under the Bearer scheme.

    RFC 7235 §2.1 makes the auth scheme case-insensitive (``bearer``, ``BEARER`` and
    ``Bearer`` are one scheme) and separates it from the credentials by one or more
    spaces. The token itself is compared in constant time, so the answer's timing
    does not tell an attacker how much of a guess was right.
    """
    if header is None:
        return False
    raw = header if isinstance(header, bytes) else header.encode("utf-8", "surrogateescape")
    scheme, sep, credentials = raw.strip(b" \t").partition(b" ")
    if not sep or scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(credentials.lstrip(b" "), token.encode("utf-8"))
