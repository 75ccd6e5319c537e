"""Pieces shared by the trace decoder (:mod:`.otlp`) and the metric decoder (:mod:`.metrics`).

- :class:`DecodeStats`: counts and messages about what was decoded, rejected or skipped;
- ``AnyValue`` conversion from upb messages and from OTLP/JSON;
- id checks, JSON field access that accepts lowerCamelCase and snake_case;
- :func:`find_wire_error`: the byte offset of a protobuf framing error, because
  upb's ``DecodeError`` only says "Wire format was corrupt".
- :func:`json_documents`: split a file into OTLP/JSON documents (one object, or
  JSON Lines), recording each malformed line instead of giving up.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from tracelogic.errors import InputError, SourceSpan

from .spans import _EMPTY, InvalidValue
from .text_rule import MAX_STRING_BYTES, safe_text, string_problem, text_problem

# the text rule's names are part of this module's interface too
__all__ = ["DecodeStats", "MAX_STRING_BYTES", "safe_text", "string_problem", "text_problem"]

# The limits every OTLP decoder applies (docs/otlp-input.md, "Limits"): a future native
# decoder must apply the same, so they live here, named, and the tests probe each one at
# limit - 1, limit and limit + 1.
MAX_DEPTH: Final = 64  # nesting of array/kvlist values we convert; deeper is InvalidValue
MAX_JSON_DEPTH: Final = 256  # nesting of JSON arrays and objects in one document
MAX_INT_DIGITS: Final = 20  # digits of a JSON integer literal: 2**64 - 1 has 20
# (and MAX_STRING_BYTES, in text_rule.py)
INT64_MIN: Final = -(1 << 63)
UINT64_MAX: Final = (1 << 64) - 1


@dataclass(slots=True)
class DecodeStats:
    """What one or more decode calls saw. Pass the same object to several calls to sum them.

    ``received`` spans were in the input; ``decoded`` became :class:`~.spans.Span`
    objects; ``rejected`` were skipped (bad ids, unreadable times) with a message
    each. ``warnings`` count things that were kept but repaired or dropped inside a
    span (a malformed link, an attribute value spelled wrongly). ``errors`` are
    document-level problems -- a malformed JSON line, corrupt protobuf -- as
    :class:`~tracelogic.errors.InputError` objects naming file and line or byte
    offset; the rest of the input was still decoded. Messages are capped at
    ``max_messages``; the counts never are.
    """

    received: int = 0
    decoded: int = 0
    rejected: int = 0
    warnings: int = 0
    points_received: int = 0
    points_decoded: int = 0
    points_rejected: int = 0
    points_unsupported: int = 0
    logs_received: int = 0
    logs_decoded: int = 0
    logs_rejected: int = 0
    errors: list[InputError] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    messages_dropped: int = 0
    max_messages: int = 100

    def reject(self, message: str) -> None:
        """Count one rejected span and keep its message."""
        self.rejected += 1
        self._say(message)

    def reject_point(self, message: str) -> None:
        """Count one rejected metric data point and keep its message."""
        self.points_rejected += 1
        self._say(message)

    def reject_many(self, n: int, message: str) -> None:
        """Count ``n`` rejected spans (a bad resource or scope rejects all of its spans)."""
        self.rejected += n
        self._say(message)

    def reject_points(self, n: int, message: str) -> None:
        """Count ``n`` rejected metric data points with one message."""
        self.points_rejected += n
        self._say(message)

    def reject_log(self, message: str) -> None:
        """Count one rejected log record and keep its message."""
        self.logs_rejected += 1
        self._say(message)

    def reject_logs(self, n: int, message: str) -> None:
        """Count ``n`` rejected log records with one message (a bad resource or scope)."""
        self.logs_rejected += n
        self._say(message)

    def warn(self, message: str) -> None:
        """Count one repaired or dropped detail inside a kept span or point."""
        self.warnings += 1
        self._say(message)

    def error(self, err: InputError) -> None:
        """Record a document-level error; decoding carries on with the next document."""
        self.errors.append(err)

    def _say(self, message: str) -> None:
        # A message quotes input; it must stay encodable wherever it goes (a protobuf
        # partial_success, a log line, a terminal), whatever the input held.
        message = safe_text(message)
        if len(self.messages) < self.max_messages:
            self.messages.append(message)
        else:
            self.messages_dropped += 1

    @property
    def ok(self) -> bool:
        """True when nothing was rejected and no document was malformed."""
        return not (self.errors or self.rejected or self.points_rejected
                    or self.logs_rejected)

    def merge(self, other: DecodeStats) -> DecodeStats:
        """Add ``other``'s counts and messages into this object; returns self."""
        for name in ("received", "decoded", "rejected", "warnings", "points_received",
                     "points_decoded", "points_rejected", "points_unsupported",
                     "logs_received", "logs_decoded", "logs_rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        for m in other.messages:
            self._say(m)
        self.messages_dropped += other.messages_dropped
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for reports)."""
        return {
            "received": self.received, "decoded": self.decoded, "rejected": self.rejected,
            "warnings": self.warnings, "points_received": self.points_received,
            "points_decoded": self.points_decoded, "points_rejected": self.points_rejected,
            "points_unsupported": self.points_unsupported,
            "logs_received": self.logs_received, "logs_decoded": self.logs_decoded,
            "logs_rejected": self.logs_rejected,
            "errors": [str(e) for e in self.errors], "messages": list(self.messages),
            "messages_dropped": self.messages_dropped,
        }

    def summary(self) -> str:
        """One line for humans, e.g. ``12 spans received, 11 decoded, 1 rejected``."""
        s = (f"{self.received} spans received, {self.decoded} decoded, "
             f"{self.rejected} rejected")
        if self.points_received:
            s += (f"; {self.points_received} metric points received, "
                  f"{self.points_decoded} decoded, {self.points_rejected} rejected, "
                  f"{self.points_unsupported} of unsupported types")
        if self.logs_received:
            s += (f"; {self.logs_received} log records received, {self.logs_decoded} "
                  f"decoded, {self.logs_rejected} rejected")
        if self.warnings:
            s += f"; {self.warnings} warnings"
        if self.errors:
            s += f"; {len(self.errors)} malformed documents"
        return s


# -- AnyValue: upb messages ----------------------------------------------------

def any_pb(v: Any, depth: int = 0) -> Any:
    """Python value of an ``AnyValue`` message: str, bool, int, float, bytes, tuple, mapping."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        if depth >= MAX_DEPTH:
            return InvalidValue("...", f"nested deeper than {MAX_DEPTH} levels")
        return tuple([any_pb(x, depth + 1) for x in v.array_value.values])
    if which == "kvlist_value":
        if depth >= MAX_DEPTH:
            return InvalidValue("...", f"nested deeper than {MAX_DEPTH} levels")
        return MappingProxyType({kv.key: any_pb(kv.value, depth + 1)
                                 for kv in v.kvlist_value.values})
    return getattr(v, which)


def attrs_pb(kvs: Any, wanted: frozenset[str] | None) -> Mapping[str, Any]:
    """Read-only mapping of the wanted ``KeyValue`` entries (all when ``wanted`` is None).

    With a set, only keys in it are converted: no dict of every attribute is built.
    """
    if wanted is None:
        d = {kv.key: any_pb(kv.value) for kv in kvs}
    elif not wanted:
        return _EMPTY
    else:
        d = {}
        for kv in kvs:
            k = kv.key
            if k in wanted:
                d[k] = any_pb(kv.value)
    return MappingProxyType(d) if d else _EMPTY


# -- AnyValue: OTLP/JSON -------------------------------------------------------

_S, _B, _I, _D, _A, _KV, _BY = range(7)
_ANY_KEYS: Final = {
    "stringValue": _S, "string_value": _S, "boolValue": _B, "bool_value": _B,
    "intValue": _I, "int_value": _I, "doubleValue": _D, "double_value": _D,
    "arrayValue": _A, "array_value": _A, "kvlistValue": _KV, "kvlist_value": _KV,
    "bytesValue": _BY, "bytes_value": _BY,
}
_INT_RE: Final = re.compile(r"-?[0-9]+")
_SPECIAL_DOUBLES: Final = {"NaN": float("nan"), "Infinity": float("inf"),
                           "-Infinity": float("-inf")}


def json_int(x: Any, lo: int = INT64_MIN, hi: int = UINT64_MAX) -> int | None:
    """A 64-bit integer in OTLP/JSON: a decimal string or a JSON number, within
    ``[lo, hi]`` (by default anything an int64 or a uint64 holds). None otherwise.

    A decimal string is at most :data:`MAX_INT_DIGITS` digits long, so Python's
    int-string limit is never reached.
    """
    if isinstance(x, str):
        if len(x) <= MAX_INT_DIGITS + 1 and _INT_RE.fullmatch(x):
            v = int(x)
        else:
            return None
    elif isinstance(x, bool):
        return None
    elif isinstance(x, int):
        v = x
    elif isinstance(x, float) and x.is_integer():
        v = int(x)
    else:
        return None
    return v if lo <= v <= hi else None


def json_double(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        sp = _SPECIAL_DOUBLES.get(x)
        if sp is not None:
            return sp
        try:
            return float(x)
        except ValueError:
            return None
    return None


def any_json(v: Any, depth: int = 0) -> Any:
    """Python value of an OTLP/JSON ``AnyValue`` object; a wrong spelling gives InvalidValue."""
    if not isinstance(v, dict):
        return InvalidValue(v, "an AnyValue must be a JSON object such as {\"stringValue\": \"x\"}")
    for k, x in v.items():
        kind = _ANY_KEYS.get(k)
        if kind is None:
            continue  # unknown fields are ignored, as OTLP/JSON requires
        if kind == _S:
            return x if isinstance(x, str) else InvalidValue(x, "stringValue is not a string")
        if kind == _I:
            i = json_int(x, INT64_MIN, (1 << 63) - 1)
            return InvalidValue(x, "intValue is not an integer in the 64-bit range") if i is None else i
        if kind == _B:
            return x if isinstance(x, bool) else InvalidValue(x, "boolValue is not true/false")
        if kind == _D:
            d = json_double(x)
            return InvalidValue(x, "doubleValue is not a number") if d is None else d
        if kind == _BY:
            if isinstance(x, str):
                try:
                    return base64.b64decode(x.replace("-", "+").replace("_", "/")
                                            + "=" * (-len(x) % 4), validate=True)
                except (binascii.Error, ValueError):
                    pass
            return InvalidValue(x, "bytesValue is not base64")
        if depth >= MAX_DEPTH:
            return InvalidValue("...", f"nested deeper than {MAX_DEPTH} levels")
        values = jget(x, "values", "values") if isinstance(x, dict) else None
        if values is None and isinstance(x, dict):
            values = []
        if not isinstance(values, list):
            return InvalidValue(x, "arrayValue/kvlistValue must be {\"values\": [...]}")
        if kind == _A:
            return tuple([any_json(e, depth + 1) for e in values])
        out: dict[str, Any] = {}
        for kv in values:
            if isinstance(kv, dict) and isinstance(kv.get("key"), str):
                out[kv["key"]] = any_json(kv.get("value", {}), depth + 1)
        return MappingProxyType(out)
    return None  # an empty AnyValue


def attrs_json(lst: Any, wanted: frozenset[str] | None) -> Mapping[str, Any]:
    """Read-only mapping of the wanted OTLP/JSON ``KeyValue`` entries."""
    if not lst or (wanted is not None and not wanted):
        return _EMPTY
    if not isinstance(lst, list):
        raise ValueError("attributes must be a JSON array of {\"key\": ..., \"value\": ...}")
    d: dict[str, Any] = {}
    for kv in lst:
        k = kv.get("key") if isinstance(kv, dict) else None
        if not isinstance(k, str):
            raise ValueError(f"attribute entry {kv!r} has no string \"key\"")
        if wanted is None or k in wanted:
            d[k] = any_json(kv.get("value", {}))
    return MappingProxyType(d) if d else _EMPTY


def jget(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """``obj[camel]``, else ``obj[snake]``, else None: protobuf's JSON parser accepts both."""
    v = obj.get(camel)
    if v is None and snake != camel:
        v = obj.get(snake)
    return v


def jlist(obj: dict[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    v = jget(obj, camel, snake)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ValueError(f"{where}.{camel} must be a JSON array, not {type(v).__name__}")
    return v


def jobj(obj: dict[str, Any], camel: str, snake: str, where: str) -> dict[str, Any]:
    v = jget(obj, camel, snake)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ValueError(f"{where}.{camel} must be a JSON object, not {type(v).__name__}")
    return v


def json_enum(x: Any, names: Mapping[str, int]) -> int | None:
    """An enum in OTLP/JSON: an integer (OTLP's rule) or, leniently, the enum's name."""
    if x is None:
        return 0
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    if isinstance(x, str):
        if x in names:
            return names[x]
        return json_int(x)
    return None


# -- ids -------------------------------------------------------------------------

_HEX_RE: Final = {16: re.compile(r"[0-9a-fA-F]{32}"), 8: re.compile(r"[0-9a-fA-F]{16}")}
_ZERO_HEX: Final = {16: "0" * 32, 8: "0" * 16}


def json_id(x: Any, nbytes: int, what: str) -> tuple[str | None, str]:
    """Check a hex id from OTLP/JSON. Returns ``(lower_hex, "")``, ``("", "")`` when
    absent, or ``(None, reason)`` when malformed."""
    if x is None or x == "":
        return "", ""
    if isinstance(x, str) and _HEX_RE[nbytes].fullmatch(x):
        h = x.lower()
        if h == _ZERO_HEX[nbytes]:
            return None, f"{what} {x!r} is all zeros, which OpenTelemetry defines as invalid"
        return h, ""
    hint = ""
    if isinstance(x, str) and len(x) == {16: 24, 8: 12}[nbytes] and x.endswith("="):
        hint = ("; it looks base64-encoded, as protobuf's generic JSON mapping writes ids, "
                "but OTLP/JSON ids are hex: re-export with an OTLP/JSON exporter")
    return None, (f"{what} {x!r} is not {2 * nbytes} hex digits "
                  f"({nbytes} bytes){hint}")


def pb_id(b: bytes, nbytes: int, what: str) -> tuple[str | None, str]:
    """Check an id from protobuf bytes, like :func:`json_id`."""
    if not b:
        return "", ""
    if len(b) != nbytes:
        return None, f"{what} has {len(b)} bytes, expected {nbytes} (hex {b.hex()!r})"
    if not any(b):
        return None, f"{what} is all zeros, which OpenTelemetry defines as invalid"
    return b.hex(), ""


# -- the text rule: which documents need their strings checked ---------------------------

def text_suspect(doc: Any) -> bool:
    """Could a string in the parsed document break the text rule? False is certain.

    One pass of the C JSON encoder: encoding its output as UTF-8 fails exactly when a
    string holds a lone surrogate, and no string can be longer than the whole text.
    """
    try:
        n = len(json.dumps(doc, ensure_ascii=False, check_circular=False,
                           default=repr).encode("utf-8"))
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return True
    return n > MAX_STRING_BYTES


# -- JSON with limits ------------------------------------------------------------------

class JsonLimitError(InputError):
    """A JSON document is malformed or over a limit. ``lineno``/``colno`` are 1-based
    when the position is known, else None."""

    def __init__(self, msg: str, lineno: int | None = None, colno: int | None = None):
        super().__init__(msg)
        self.msg, self.lineno, self.colno = msg, lineno, colno


class LongInt:
    """An integer literal longer than :data:`MAX_INT_DIGITS` digits, as json.loads
    returns it: not an int (so no field reads it as one), and never converted, so
    Python's int-string limit is never reached. Its span gets a precise message."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return (f"<an integer literal of {self.digits} digits; OTLP integers are 64-bit, "
                f"at most {MAX_INT_DIGITS} digits>")


def _parse_int(s: str) -> int | LongInt:
    n = len(s) - (s[:1] == "-")
    return LongInt(n) if n > MAX_INT_DIGITS else int(s)


_KEEP_STRUCT: Final = bytes(b for b in range(256) if b not in b'[]{}"')
_QUOTED: Final = re.compile(rb'"[^"]*"')
_SIGNED: Final = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_RAW_SURROGATE: Final = re.compile(rb"\xed[\xa0-\xbf]")  # a surrogate, encoded surrogatepass


def json_depth(raw: bytes) -> int:
    """The nesting depth of arrays and objects in a JSON text, without parsing it.

    Linear and iterative (so a 5,000-deep document is measured, not recursed into):
    drop escaped backslashes and quotes, keep only brackets and quotes, drop the
    strings, then take the maximum prefix sum. Exact for valid JSON; for invalid JSON
    it is some number, and json.loads reports the syntax error.
    """
    s = raw
    if b"\\" in s:
        s = s.replace(b"\\\\", b"").replace(b'\\"', b"")
    s = s.translate(None, _KEEP_STRUCT)
    if b'"' in s:
        s = _QUOTED.sub(b"", s.replace(b'""', b""))  # '""' first: most strings hold no bracket
    if not s:
        return 0
    from array import array
    from itertools import accumulate
    return max(0, max(accumulate(array("b", s.translate(_SIGNED)))))


def loads_json(raw: bytes | str) -> tuple[Any, bool]:
    """Parse one OTLP/JSON text under the limits: ``(document, text_suspect)``.

    Raises :class:`JsonLimitError` for malformed JSON (with line and column), nesting
    deeper than :data:`MAX_JSON_DEPTH` (measured before parsing, so json.loads never
    recurses that deep), and bytes that are not UTF-8. Integer literals longer than
    :data:`MAX_INT_DIGITS` become :class:`LongInt`. ``text_suspect`` is False when no
    string can break the text rule (no ``\\ud8..``-``\\udf..`` escape, the text shorter
    than the string limit): then the decoders skip checking strings one by one.
    """
    if isinstance(raw, str):
        b = raw.encode("utf-8", "surrogatepass")
        text = raw
    else:
        b = raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line, col = _line_col(raw, e.start)
            raise JsonLimitError(f"invalid UTF-8 byte {raw[e.start:e.start + 1]!r} at byte "
                                 f"offset {e.start}", line, col) from None
    n = b.count(b"[") + b.count(b"{")
    if n > MAX_JSON_DEPTH:
        depth = json_depth(b)
        if depth > MAX_JSON_DEPTH:
            raise JsonLimitError(f"arrays and objects nested {depth} deep, over the limit "
                                 f"of {MAX_JSON_DEPTH}")
    # the parse_int hook costs a Python call per integer literal: only when a run of more
    # than MAX_INT_DIGITS digits exists at all (inside strings too, so it may be needless)
    long_digits = b"0" * (MAX_INT_DIGITS + 1) in b.translate(_DIGITS_AS_ZERO)
    try:
        doc = json.loads(text, parse_int=_parse_int) if long_digits else json.loads(text)
    except json.JSONDecodeError as e:
        raise JsonLimitError(e.msg, e.lineno, e.colno) from None
    except (RecursionError, ValueError) as e:  # not expected under the limits above
        raise JsonLimitError(f"unreadable JSON ({type(e).__name__}: {e})") from None
    suspect = (len(b) > MAX_STRING_BYTES or _SURROGATE_ESCAPE.search(b) is not None
               or (not isinstance(raw, bytes) and _RAW_SURROGATE.search(b) is not None))
    return doc, suspect


# -- documents -------------------------------------------------------------------

KNOWN_TOP_KEYS: Final = frozenset({"resourceSpans", "resource_spans", "resourceMetrics",
                                   "resource_metrics"})


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    nl = "\n" if isinstance(data, str) else b"\n"
    line = data.count(nl, 0, offset) + 1  # type: ignore[arg-type]
    start = data.rfind(nl, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - start + 1


def _err(source: str, line: int, col: int, msg: str, value: Any = None,
         hint: str | None = None) -> InputError:
    return InputError(msg, span=SourceSpan(source, line, col, line, col + 1), value=value,
                      hint=hint)


def json_documents(data: bytes | str, source: str,
                   stats: DecodeStats) -> list[tuple[int, Any]]:
    """Split OTLP/JSON input into ``(line, document)`` pairs; see :func:`split_json`."""
    return [(line, doc) for line, doc, _ in split_json(data, source, stats)]


def split_json(data: bytes | str, source: str,
               stats: DecodeStats) -> list[tuple[int, Any, bool]]:
    """Split OTLP/JSON input into ``(line, document, text_suspect)`` triples
    (``text_suspect`` as :func:`loads_json` gives it).

    The input is either one JSON value (possibly pretty-printed over many lines) or
    JSON Lines, one request per line, as the Collector's file exporter writes. A
    malformed JSON Lines line is recorded in ``stats.errors`` with its line number
    and the other lines are still returned; a malformed single document is recorded
    with the line and column of the JSON error.

    The native core splits bytes by the same rules (``native/src/jsonl.rs``) and asks
    :func:`split_errors` for the words of the errors.
    """
    text, uerr = _as_text(data)
    if text is not None:
        if not text.strip():
            return []  # an empty file holds no requests
        try:
            doc, suspect = loads_json(text)
        except JsonLimitError:
            pass
        else:
            stripped = len(text) - len(text.lstrip())
            return [(_line_col(text, stripped)[0], doc, suspect)]
    parsed: list[tuple[int, Any, bool]] = []
    bad: list[InputError] = []
    looks_jsonl = False
    for i, raw in enumerate(_lines(data, text), 1):
        got = _split_line(source, i, raw)
        if isinstance(got, InputError):
            bad.append(got)
        elif got is not None:
            obj, suspect = got
            if isinstance(obj, dict) and (KNOWN_TOP_KEYS.intersection(obj) or not obj):
                looks_jsonl = True
            parsed.append((i, obj, suspect))
    if looks_jsonl or sum(isinstance(o, dict) for _, o, _ in parsed) >= 2:
        for err in bad:
            stats.error(err)
        return parsed
    stats.error(_whole_error(data, text, uerr, source))
    return []


def split_errors(data: bytes, source: str, bad: list[int], whole: bool) -> list[InputError]:
    """The errors :func:`split_json` records for ``data`` when the core split it: those of
    the malformed lines ``bad`` (1-based), or, when ``whole``, the one error of an input
    that is neither one document nor JSON Lines. The error path only: the lines named are
    parsed again here, for Python's json module's words."""
    text, uerr = _as_text(data)
    if whole:
        return [_whole_error(data, text, uerr, source)]
    lines = _lines(data, text)
    out = []
    for i in bad:
        err = _split_line(source, i, lines[i - 1])
        if not isinstance(err, InputError):  # the core and split_json disagree: a bug
            raise AssertionError(f"{source}:{i}: the core found a malformed line that "
                                 f"Python reads")
        out.append(err)
    return out


def _as_text(data: bytes | str) -> tuple[str | None, UnicodeDecodeError | None]:
    """The input as text (a BOM read as a space, keeping columns), or the UTF-8 error."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            return None, e
    else:
        text = data
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep columns: the BOM becomes whitespace
    return text, None


def _lines(data: bytes | str, text: str | None) -> list[Any]:
    """The lines of an input: of its text, or of its bytes when it is not UTF-8."""
    return text.split("\n") if text is not None else data.split(b"\n")  # type: ignore


def _split_line(source: str, i: int, raw: str | bytes) -> tuple[Any, bool] | InputError | None:
    """One line of JSON Lines: ``(document, text_suspect)``, its error, or None if blank."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return _err(source, i, e.start + 1,
                        f"invalid UTF-8 byte {raw[e.start:e.start + 1]!r} in this line",
                        hint="OTLP/JSON must be UTF-8")
    if not raw.strip():
        return None
    try:
        return loads_json(raw)
    except JsonLimitError as e:
        return _err(source, i, e.colno or 1, f"malformed JSON: {e.msg}", value=raw[:200],
                    hint="each line of a JSON Lines file must be one complete "
                         "OTLP/JSON request; the other lines were still read")


def _whole_error(data: bytes | str, text: str | None, uerr: UnicodeDecodeError | None,
                 source: str) -> InputError:
    """The error of an input that is neither one document nor JSON Lines."""
    over_limit = False
    if text is not None:
        try:
            loads_json(text)
            raise AssertionError(f"{source}: one valid document cannot be refused whole")
        except JsonLimitError as e:
            line, col, msg = e.lineno or 1, e.colno or 1, e.msg
            over_limit = e.lineno is None
    else:
        assert uerr is not None and isinstance(data, bytes)
        line, col = _line_col(data, uerr.start)
        msg = (f"invalid UTF-8 byte {data[uerr.start:uerr.start + 1]!r} "
               f"at byte offset {uerr.start}")
    return _err(source, line, col, f"malformed JSON: {msg}",
                hint=(f"OTLP/JSON documents nest at most {MAX_JSON_DEPTH} levels"
                      if over_limit else "the file must hold one OTLP/JSON request, "
                      "or one request per line (JSON Lines)"))


# -- protobuf framing ------------------------------------------------------------

def _varint(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    result = shift = 0
    for i in range(pos, min(end, pos + 10)):
        b = data[i]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i + 1
        shift += 7
    return None


class WireError(InputError):
    """Protobuf framing that cannot be walked: ``offset`` and ``reason``."""

    def __init__(self, offset: int, reason: str):
        super().__init__(f"{reason} at byte offset {offset}")
        self.offset, self.reason = offset, reason


def pb_fields(data: bytes, start: int = 0,
              end: int | None = None) -> list[tuple[int, int, int, int]]:
    """The top-level fields of one protobuf message in ``data[start:end]``:
    ``(number, wire type, value start, value end)``; the value of a varint is its bytes.
    Raises :class:`WireError` where the framing is broken. Used only on the slow path,
    after upb refused a request, to decode what can be decoded span by span."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos < end:
        at = pos
        tag = _varint(data, pos, end)
        if tag is None:
            raise WireError(at, "truncated or overlong field tag")
        key, pos = tag
        num, wt = key >> 3, key & 7
        if num == 0:
            raise WireError(at, "field number 0 is not allowed")
        if wt == 0:
            v = _varint(data, pos, end)
            if v is None:
                raise WireError(pos, f"truncated varint in field {num}")
            out.append((num, wt, pos, v[1]))
            pos = v[1]
        elif wt == 1 or wt == 5:
            n = 8 if wt == 1 else 4
            if pos + n > end:
                raise WireError(at, f"field {num} runs past the end of its message")
            out.append((num, wt, pos, pos + n))
            pos += n
        elif wt == 2:
            ln = _varint(data, pos, end)
            if ln is None:
                raise WireError(pos, f"truncated length of field {num}")
            n, pos = ln
            if pos + n > end:
                raise WireError(at, f"field {num} says it is {n} bytes long, but only "
                                    f"{end - pos} remain in its message (truncated input?)")
            out.append((num, wt, pos, pos + n))
            pos += n
        else:
            raise WireError(at, f"wire type {wt} in field {num} (not used by OTLP)")
    return out


def utf8_problem(data: bytes, start: int, end: int, name: str) -> str | None:
    """Why the string field ``name`` in ``data[start:end]`` breaks the text rule, or None."""
    try:
        text = data[start:end].decode("utf-8")
    except UnicodeDecodeError as e:
        return f"string field {name!r} is not valid UTF-8 at byte offset {start + e.start}"
    why = string_problem(text)
    return f"string field {name!r} {why}" if why else None


def pb_part(cls: Any, data: bytes, start: int, end: int) -> tuple[Any, str | None]:
    """Parse ``data[start:end]`` as one ``cls`` message under the text rule:
    ``(message, None)``, or ``(None, reason)`` naming the byte offset in ``data``."""
    from google.protobuf.message import DecodeError

    chunk = data[start:end]
    try:
        msg = cls.FromString(chunk)
    except (DecodeError, RuntimeError, ValueError) as e:
        found = find_wire_error(chunk, cls.DESCRIPTOR)
        if found is not None:
            return None, f"{found[1]} at byte offset {start + found[0]}"
        if "MaxDepth" in str(e):
            return None, (f"messages nested deeper than protobuf's limit of 100 levels "
                          f"(bytes {start}-{end})")
        return None, f"not a valid {cls.DESCRIPTOR.name} message (bytes {start}-{end})"
    if end - start > MAX_STRING_BYTES:
        found = find_wire_error(chunk, cls.DESCRIPTOR, max_string=MAX_STRING_BYTES)
        if found is not None:
            return None, f"{found[1]} at byte offset {start + found[0]}"
    return msg, None


def find_wire_error(data: bytes, descriptor: Any, max_depth: int = 100,
                    max_string: int | None = None) -> tuple[int, str] | None:
    """Walk protobuf framing (guided by ``descriptor``) and return ``(offset, reason)``
    for the first problem, or None when the framing looks sound.

    Only used after upb rejected the input, to say *where*. It checks tags, varints,
    lengths, nesting depth and UTF-8 in string fields -- the usual ways a file is
    truncated or is not protobuf at all -- as upb does: a tag is at most 5 bytes and 32
    bits, and ``max_depth`` messages below ``data``'s decode. Iterative: a deep message
    cannot overflow Python's stack.
    """
    from google.protobuf.descriptor import FieldDescriptor as FD

    stack: list[list[Any]] = [[0, len(data), descriptor]]
    while stack:
        frame = stack[-1]
        pos, end, desc = frame
        if pos >= end:
            stack.pop()
            continue
        start = pos
        tag = _varint(data, pos, end)
        if tag is None:
            return start, "truncated or overlong field tag"
        key, pos = tag
        if pos - start > 5 or key > 0xFFFFFFFF:  # upb reads a tag as a varint32
            return start, "field tag of more than 5 bytes or 32 bits (upb's limit)"
        num, wt = key >> 3, key & 7
        if num == 0:
            return start, "field number 0 is not allowed"
        fd = desc.fields_by_number.get(num) if desc is not None else None
        if wt == 0:
            v = _varint(data, pos, end)
            if v is None:
                return pos, f"truncated varint in field {num}"
            pos = v[1]
        elif wt == 1 or wt == 5:
            pos += 8 if wt == 1 else 4
            if pos > end:
                return start, f"field {num} runs past the end of its message"
        elif wt == 2:
            ln = _varint(data, pos, end)
            if ln is None:
                return pos, f"truncated length of field {num}"
            n, pos = ln
            if pos + n > end:
                return start, (f"field {num} says it is {n} bytes long, but only "
                               f"{end - pos} remain in its message (truncated input?)")
            frame[0] = pos + n
            if fd is not None and fd.type == FD.TYPE_MESSAGE:
                if len(stack) > max_depth:  # the stack holds the top message too
                    return start, f"messages nested deeper than {max_depth}"
                stack.append([pos, pos + n, fd.message_type])
                continue
            if fd is not None and fd.type == FD.TYPE_STRING:
                try:
                    data[pos:pos + n].decode("utf-8")
                except UnicodeDecodeError as e:
                    return pos + e.start, f"string field {fd.name!r} is not valid UTF-8"
                if max_string is not None and n > max_string:
                    return pos, (f"string field {fd.name!r} of {n} bytes is over the limit "
                                 f"of {max_string} bytes")
            pos += n
        elif wt in (3, 4):
            return start, f"group wire type {wt} in field {num} (not used by OTLP)"
        else:
            return start, f"invalid wire type {wt} in field {num}"
        frame[0] = pos
    return None


def pb_error(data: bytes, descriptor: Any, source: str, what: str,
             cause: Exception) -> InputError:
    """An InputError for protobuf upb refused, with the byte offset when we can find it."""
    found = find_wire_error(data, descriptor)
    if found is not None:
        off, reason = found
        msg = (f"{source}: not a valid protobuf {what}: {reason} at byte offset {off} "
               f"(of {len(data)} bytes)")
        value: Any = off
    else:
        msg = (f"{source}: not a valid protobuf {what} ({cause}); the framing looks sound, "
               f"so the byte offset of the problem is not known")
        value = None
    hint = ("if this file is OTLP/JSON, name it *.json; protobuf metrics must be read "
            "as metrics (monitor --metrics)")
    return InputError(msg, value=value, hint=hint)
