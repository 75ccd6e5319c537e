"""The span model every runtime backend sees: one immutable, slotted :class:`Span`.

A :class:`Span` holds exactly the built-in fields of SPEC-LANGUAGE.md §2, already
normalised: ids are lower-case hex, ``kind`` and ``status`` are the spec's enum
names, ``attrs`` and ``resource`` hold only the attributes the decoder was asked
for (see ``wanted_attrs`` in :mod:`.otlp`).

Built-in fields always hold a value of their declared type (``service`` is
``""`` when the resource has no string ``service.name``; ``parent_id`` is
``""`` for a root). Dynamic lookups -- :meth:`Span.attr`, :meth:`Span.resource_attr`
-- return the :data:`MISSING` sentinel for an absent key, so a predicate can tell
"absent" from any real value, including ``None``.

Spans are built on the decoding hot path, so construction avoids the
per-field ``object.__setattr__`` a frozen dataclass pays (about 8x slower, measured):
:func:`_make` fills a mutable slotted base class and then switches the object's
class to the frozen subclass, which refuses every later assignment.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from tracelogic.values.missing import MISSING

from .text_rule import string_problem

__all__ = [
    "MISSING", "KIND_NAMES", "STATUS_NAMES", "InvalidValue", "Span", "from_sdk",
    "freeze_value",
]

#: OTLP ``Span.SpanKind`` number -> spec enum name (the index is the OTLP value).
KIND_NAMES: Final = ("unspecified", "internal", "server", "client", "producer", "consumer")
#: OTLP ``Status.StatusCode`` number -> spec enum name.
STATUS_NAMES: Final = ("unset", "ok", "error")

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


class InvalidValue:
    """An attribute value the input spelled wrongly, e.g. ``{"intValue": "12x"}``.

    It is kept (so ``exists`` still sees the key) but equals nothing except an
    identical ``InvalidValue``, so every typed comparison on it is false.
    """

    __slots__ = ("raw", "reason")

    def __init__(self, raw: Any, reason: str) -> None:
        self.raw = raw
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, InvalidValue) and other.raw == self.raw
                and other.reason == self.reason)

    def __hash__(self) -> int:
        return hash(("InvalidValue", repr(self.raw), self.reason))

    def __repr__(self) -> str:
        return f"InvalidValue({self.raw!r}, {self.reason!r})"


def freeze_value(v: Any, _depth: int = 0) -> Any:
    """Make an attribute value immutable: lists become tuples, dicts read-only mappings."""
    if isinstance(v, (str, bool, int, float, bytes)) or v is None:
        return v
    if _depth > 64:
        return InvalidValue("...", "nested deeper than 64 levels")
    if isinstance(v, (list, tuple)):
        return tuple(freeze_value(x, _depth + 1) for x in v)
    if isinstance(v, Mapping):
        return MappingProxyType({k: freeze_value(x, _depth + 1) for k, x in v.items()})
    return v


_FIELDS: Final = ("name", "kind", "status", "status_message", "start_ns", "end_ns",
                  "service", "trace_id", "span_id", "parent_id", "attrs", "resource",
                  "scope_name", "event_names", "links")


class _SpanSlots:
    """Mutable storage for :class:`Span`; only :func:`_make` ever sees an instance."""

    __slots__ = _FIELDS

    def __init__(self, name: str, kind: str, status: str, status_message: str,
                 start_ns: int, end_ns: int, service: str, trace_id: str, span_id: str,
                 parent_id: str, attrs: Mapping[str, Any], resource: Mapping[str, Any],
                 scope_name: str, event_names: tuple[str, ...],
                 links: tuple[tuple[str, str], ...]) -> None:
        self.name = name
        self.kind = kind
        self.status = status
        self.status_message = status_message
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.service = service
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.attrs = attrs
        self.resource = resource
        self.scope_name = scope_name
        self.event_names = event_names
        self.links = links


class Span(_SpanSlots):
    """One finished span, with the §2 built-in fields. Immutable and hashable.

    Build one with keywords (validated), or get them from :mod:`.otlp` or
    :func:`from_sdk`. Equality compares every field; the hash uses the ids.
    """

    __slots__ = ()

    # a span event's signal; the log record fields are missing at it (docs/language.md)
    signal = "span"
    severity = severity_text = body = MISSING

    def __init__(self, *, name: str, trace_id: str, span_id: str, start_ns: int,
                 end_ns: int, parent_id: str | None = "", kind: str = "internal",
                 status: str = "unset", status_message: str = "", service: str = "",
                 attrs: Mapping[str, Any] | None = None,
                 resource: Mapping[str, Any] | None = None, scope_name: str = "",
                 event_names: Iterable[str] = (),
                 links: Iterable[tuple[str, str]] = ()) -> None:
        # Validating, user-facing constructor; the decoders use _make instead.
        _check_hex("trace_id", trace_id, 32)
        _check_hex("span_id", span_id, 16)
        if parent_id:
            _check_hex("parent_id", parent_id, 16)
        if kind not in KIND_NAMES:
            raise ValueError(f"kind={kind!r} is not a span kind; "
                             f"use one of {', '.join(KIND_NAMES)}")
        if status not in STATUS_NAMES:
            raise ValueError(f"status={status!r} is not a span status; "
                             f"use one of {', '.join(STATUS_NAMES)}")
        for fname, v in (("start_ns", start_ns), ("end_ns", end_ns)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{fname}={v!r} must be an int of nanoseconds since the Unix epoch")
        links_t = tuple((str(t), str(s)) for t, s in links)
        for t, s in links_t:
            _check_hex("link trace_id", t, 32)
            _check_hex("link span_id", s, 16)
        set_ = object.__setattr__  # Span.__setattr__ refuses; this is the constructor
        for k, v in zip(_FIELDS, (
                str(name), kind, status, str(status_message), start_ns, end_ns, str(service),
                trace_id, span_id, parent_id or "", _freeze_map(attrs), _freeze_map(resource),
                str(scope_name), tuple(str(e) for e in event_names), links_t)):
            set_(self, k, v)

    # -- derived built-ins -------------------------------------------------
    @property
    def duration(self) -> int:
        """``end_ns - start_ns`` in nanoseconds (negative if the input said so)."""
        return self.end_ns - self.start_ns

    @property
    def is_root(self) -> bool:
        """True when the span has no parent span id."""
        return not self.parent_id

    # -- dynamic lookups -----------------------------------------------------
    def attr(self, key: str) -> Any:
        """Span attribute ``key``, else resource attribute ``key``, else :data:`MISSING`."""
        v = self.attrs.get(key, MISSING)
        if v is MISSING:
            return self.resource.get(key, MISSING)
        return v

    def resource_attr(self, key: str) -> Any:
        """Resource attribute ``key``, else :data:`MISSING`."""
        return self.resource.get(key, MISSING)

    def has_event(self, name: str) -> bool:
        """True when the span carries a span event called ``name``."""
        return name in self.event_names

    @property
    def key(self) -> tuple[str, str]:
        """``(trace_id, span_id)``: what deduplication and link resolution use."""
        return (self.trace_id, self.span_id)

    # -- immutability, equality, pickling, repr ------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Span is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Span is immutable; cannot delete {name!r}")

    def _fields(self) -> tuple[Any, ...]:
        return (self.name, self.kind, self.status, self.status_message, self.start_ns,
                self.end_ns, self.service, self.trace_id, self.span_id, self.parent_id,
                dict(self.attrs), dict(self.resource), self.scope_name, self.event_names,
                self.links)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if not isinstance(other, Span):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id))

    def __reduce__(self) -> tuple[Any, ...]:
        f = self._fields()
        return (_unpickle, f[:10] + (_plain(self.attrs), _plain(self.resource)) + f[12:])

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"trace_id={self.trace_id!r}",
                 f"span_id={self.span_id!r}"]
        if self.parent_id:
            parts.append(f"parent_id={self.parent_id!r}")
        parts += [f"start_ns={self.start_ns!r}", f"end_ns={self.end_ns!r}",
                  f"kind={self.kind!r}"]
        if self.status != "unset":
            parts.append(f"status={self.status!r}")
        if self.status_message:
            parts.append(f"status_message={self.status_message!r}")
        if self.service:
            parts.append(f"service={self.service!r}")
        if self.attrs:
            parts.append(f"attrs={_plain(self.attrs)!r}")
        if self.resource:
            parts.append(f"resource={_plain(self.resource)!r}")
        if self.scope_name:
            parts.append(f"scope_name={self.scope_name!r}")
        if self.event_names:
            parts.append(f"event_names={self.event_names!r}")
        if self.links:
            parts.append(f"links={self.links!r}")
        return f"Span({', '.join(parts)})"



def _make(name: str, kind: str, status: str, status_message: str, start_ns: int,
          end_ns: int, service: str, trace_id: str, span_id: str, parent_id: str,
          attrs: Mapping[str, Any], resource: Mapping[str, Any], scope_name: str,
          event_names: tuple[str, ...], links: tuple[tuple[str, str], ...],
          _new: Any = object.__new__, _init: Any = _SpanSlots.__init__) -> Span:
    """Build a :class:`Span` without validation: the decoders' fast path.

    Arguments must already be normalised (hex ids, enum names, read-only mappings).
    The object is filled as a mutable ``_SpanSlots`` and then becomes a ``Span``;
    both classes have the same slot layout, so the class switch is allowed.
    """
    o = _new(_SpanSlots)
    _init(o, name, kind, status, status_message, start_ns, end_ns, service, trace_id,
          span_id, parent_id, attrs, resource, scope_name, event_names, links)
    o.__class__ = Span
    return o  # type: ignore[return-value]


def _unpickle(*f: Any) -> Span:
    return _make(*f[:10], _freeze_map(f[10]), _freeze_map(f[11]), *f[12:])


def _plain(v: Any) -> Any:
    """Read-only mappings back to dicts, for reprs that rebuild the object."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v


def _freeze_map(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not m:
        return _EMPTY
    return MappingProxyType({str(k): freeze_value(v) for k, v in m.items()})


_HEX: Final = frozenset("0123456789abcdef")


def _check_hex(field: str, value: object, length: int) -> None:
    if not (isinstance(value, str) and len(value) == length and _HEX.issuperset(value)):
        raise ValueError(
            f"{field}={value!r} is not {length} lower-case hex digits; "
            f"ids are written like {'0' * (length - 1)}1")


# -- OpenTelemetry SDK spans ---------------------------------------------------

def from_sdk(spans: Iterable[Any], *, wanted_attrs: frozenset[str] | None = None,
             stats: Any = None) -> list[Span]:
    """Convert OpenTelemetry SDK ``ReadableSpan`` objects (e.g. from ``InMemorySpanExporter``).

    ``wanted_attrs`` limits which span and resource attributes are copied (None = all).
    Spans that have not ended or carry an invalid span context are skipped; when
    ``stats`` (a :class:`~.otlp.DecodeStats`) is given they are counted there as rejected.
    """
    out: list[Span] = []
    res_cache: dict[int, tuple[Any, Mapping[str, Any], str]] = {}
    for i, s in enumerate(spans):
        if stats is not None:
            stats.received += 1
        ctx = s.get_span_context() if hasattr(s, "get_span_context") else s.context
        if ctx is None or not ctx.is_valid:
            _sdk_reject(stats, f"sdk span #{i} {getattr(s, 'name', '?')!r}: invalid span context")
            continue
        if s.start_time is None or s.end_time is None:
            _sdk_reject(stats, f"sdk span #{i} {s.name!r}: has not ended (end_time is None)")
            continue
        res = s.resource
        cached = res_cache.get(id(res))
        if cached is None or cached[0] is not res:
            rattrs = dict(res.attributes) if res is not None else {}
            service = rattrs.get("service.name", "")
            cached = (res, _select(rattrs, wanted_attrs),
                      service if isinstance(service, str) else "")
            res_cache[id(res)] = cached
        parent = s.parent
        scope = s.instrumentation_scope
        status = s.status
        span = _make(
            s.name, KIND_NAMES[int(s.kind.value) + 1],
            STATUS_NAMES[int(status.status_code.value)] if status is not None else "unset",
            (status.description or "") if status is not None else "",
            int(s.start_time), int(s.end_time), cached[2],
            format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"),
            format(parent.span_id, "016x") if parent is not None and parent.span_id else "",
            _select(s.attributes or {}, wanted_attrs), cached[1],
            scope.name if scope is not None else "",
            tuple(e.name for e in s.events),
            tuple((format(ln.context.trace_id, "032x"), format(ln.context.span_id, "016x"))
                  for ln in s.links if ln.context is not None and ln.context.is_valid))
        why = _text_problem(span)
        if why:
            _sdk_reject(stats, f"sdk span #{i} {ascii(span.name)}: {why}; span skipped")
            continue
        out.append(span)
        if stats is not None:
            stats.decoded += 1
    return out


def _text_problem(span: Span, problem: Any = string_problem) -> str | None:
    """The text rule (docs/otlp-input.md) on the strings a span holds: SDK spans come from
    application code, which can put a lone surrogate into any ``str``.

    Not :func:`.text_rule.text_problem`: that one walks parsed JSON (dicts, lists) in
    document order and names JSON paths; this one walks a span's frozen values (mappings,
    tuples) and names the part of the span ("resource attribute 'k' value ...")."""
    for what, text in (("name", span.name), ("status message", span.status_message),
                       ("service", span.service), ("scope name", span.scope_name),
                       *(("event name", e) for e in span.event_names)):
        why = problem(text) if isinstance(text, str) else None
        if why:
            return f"{what} {why}"
    return nested_text_problem([("attribute", span.attrs), ("resource attribute",
                                                           span.resource)], problem, "value ")


def nested_text_problem(parts: list[tuple[str, Any]], problem: Any = string_problem,
                        value_word: str = "") -> str | None:
    """The first string, or mapping key, in frozen values (mappings, tuples, strings) that
    ``problem`` refuses, named by its part (``"attribute 'k' value ..."``); without
    recursion, as values nest as deep as the input allows. Spans and log records share it."""
    stack = list(parts)
    while stack:
        what, v = stack.pop()
        if isinstance(v, str):
            why = problem(v)
            if why:
                return f"{what} {value_word}{why}"
        elif isinstance(v, tuple):
            stack.extend((what, x) for x in v)
        elif isinstance(v, Mapping):
            for k, x in v.items():
                why = problem(k) if isinstance(k, str) else None
                if why:
                    return f"{what} key {why}"
                stack.append((f"{what} {k!r}", x))
    return None


def _select(attrs: Mapping[str, Any], wanted: frozenset[str] | None) -> Mapping[str, Any]:
    if wanted is None:
        items: Iterable[tuple[str, Any]] = attrs.items()
    else:
        items = [(k, attrs[k]) for k in wanted if k in attrs]
    d = {k: freeze_value(v) for k, v in items}
    return MappingProxyType(d) if d else _EMPTY


def _sdk_reject(stats: Any, message: str) -> None:
    if stats is not None:
        stats.reject(message)
