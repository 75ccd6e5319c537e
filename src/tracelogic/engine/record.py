"""A violation as it is committed: one record from the store's commit to the controller.

A :class:`~tracelogic.engine.report.Violation` is what a monitor decided; a
:class:`ViolationRecord` is that violation once it is stored: its row id, the JSON body
exactly as the store holds it, and its witness span. It is built once, by
:meth:`tracelogic.sidecar.store.Store.add_violations` (or :meth:`ViolationRecord.of` for a
violation that has no row, as in tests and in-process healing), and the healing controller
takes only this type, from the sidecar and from ``poll`` alike: there is no second
conversion on the way.

The witness is the first of the violation's ``span_ids``: the full span when the monitor
had it, else a :class:`PartialSpan` rebuilt from the body's ``events``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Mapping  # not typing's alias: its isinstance runs in Python
from typing import Any

from tracelogic.values.missing import MISSING
from tracelogic.ingest.text_rule import safe_text


@dataclass(frozen=True)
class ViolationRecord:
    """``id`` is the store's row id (None for a violation that was never stored); ``body``
    the monitor JSON as stored (never modified after the commit); ``witness`` the witness span, or None when the violation
    names no span (a metric invariant)."""

    id: int | None
    body: dict
    witness: Any = None
    #: ``body`` as JSON text, exactly as the store holds it (sorted keys), when the store
    #: built the record: the sidecar's log line reuses it instead of encoding ``body`` again
    text: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, violation: Any, *, id: int | None = None, witness: Any = None,
           spans: dict | None = None) -> "ViolationRecord":
        """From a report ``Violation`` (its own witness events give the span) or its JSON.

        ``spans`` maps ``(trace_id, span_id)`` or ``span_id`` to full spans, for a JSON
        body whose witness should carry its attributes."""
        if isinstance(violation, ViolationRecord):
            return violation
        body, own = body_and_witness(violation, spans)
        return cls(id, body, own if witness is None else witness)


def body_and_witness(violation: Any, spans: dict | None = None) -> tuple[dict, Any]:
    """A violation's storable JSON body and its witness span, from a report ``Violation``
    or from its JSON (as a :class:`ViolationRecord` holds them)."""
    if isinstance(violation, Mapping):
        body = storable(dict(violation))
        return body, witness_of(body, spans)
    body = storable(violation.to_json())
    return body, _own_witness(violation, body, spans)


def encoded(violation: Any, spans: dict | None = None) -> tuple[dict, Any, str]:
    """:func:`body_and_witness`, and the body's JSON text as the store holds it
    (``json.dumps(body, sort_keys=True)``), encoding the body once.

    The text is also what tells whether the body is storable: without a surrogate
    escape (``\\ud...``) in it, every string in the body encodes to UTF-8, which is what
    :func:`storable` checks; otherwise (or if it does not encode) :func:`storable` decides."""
    if isinstance(violation, Mapping):
        body, own = dict(violation), None
    else:
        body, own = violation.to_json(), violation
    try:
        text = _SORTED.encode(body)
    except (TypeError, ValueError):
        text = None
    if text is None or "\\ud" in text:
        body = storable(body)
        text = json.dumps(body, sort_keys=True)
    witness = witness_of(body, spans) if own is None else _own_witness(own, body, spans)
    return body, witness, text


#: the encoder of ``json.dumps(..., sort_keys=True)``, made once
_SORTED = json.JSONEncoder(sort_keys=True)


def _own_witness(violation: Any, body: dict, spans: dict | None) -> Any:
    ids = body.get("span_ids") or []
    for ev in getattr(violation, "witness", None) or []:
        if ids and ev.span.span_id == ids[0]:
            return ev.span
    return witness_of(body, spans)


def dedup_key(v: Mapping[str, Any]) -> str:
    """What makes two violations the same: property, key, and the spans that decided it
    (for a metric invariant, which has no spans: the data points that decided it).

    The text is ``json.dumps(parts, sort_keys=True)``, and stays so: stored keys are
    compared with it. The common case (text property and key, span ids, no window) is
    written without an encoder; the same text (tests/engine/test_record.py)."""
    prop, key, ids, window = v.get("property"), v.get("key"), v.get("span_ids"), v.get("window")
    if ids and window is None and type(prop) is str and type(key) is str:
        listed = json_strings(sorted(ids))
        if listed is not None:
            return f"[{_quote(prop)}, {_quote(key)}, {listed}, null]"
    parts = [prop, key, sorted(ids or []), window]
    if not ids and v.get("points"):
        parts.append([(p.get("metric"), p.get("time_unix_nano")) for p in v["points"]])
    return _SORTED.encode(parts)


def json_strings(values: Any) -> str | None:
    """``json.dumps(values)`` of a list of strings, without an encoder per call (the store
    writes two per violation); None for anything else."""
    if type(values) is not list:
        return None
    for x in values:
        if type(x) is not str:
            return None
    return "[" + ", ".join(map(_quote, values)) + "]"


#: a string as ``json.dumps`` writes it (ASCII, quoted): the encoder's own function
_quote = json.encoder.encode_basestring_ascii


def storable(body: dict) -> dict:
    """``body`` when SQLite and JSON can hold every string in it; else a copy with the
    unencodable characters escaped (``\\ud800``). The decoders' text rule should make
    this a no-op; it is the last line of defence for the store, logs and healing."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        return body
    except (UnicodeEncodeError, TypeError, ValueError):
        pass

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            return safe_text(v)
        if isinstance(v, dict):
            return {clean(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if v is None or isinstance(v, (bool, int, float)):
            return v
        return safe_text(repr(v))
    return clean(body)


class PartialSpan:
    """The witness as far as a violation's JSON tells it: name, service, ids and times.

    Every other field is MISSING, so a comparison on it is false and an argument
    reading it has no value.
    """

    __slots__ = ("name", "service", "trace_id", "span_id", "parent_id", "start_ns", "end_ns",
                 "kind", "status", "status_message", "scope_name", "attrs", "resource",
                 "event_names", "links")

    def __init__(self, span_id: str, trace_id: str, name: Any, service: Any,
                 start_ns: Any, end_ns: Any):
        self.span_id, self.trace_id = span_id, trace_id
        self.name, self.service = name, service
        self.parent_id = ""
        self.start_ns, self.end_ns = start_ns, end_ns
        self.kind = self.status = self.status_message = self.scope_name = MISSING
        self.attrs: dict = {}
        self.resource: dict = {}
        self.event_names: tuple = ()
        self.links: tuple = ()

    def attr(self, key: str) -> Any:
        return MISSING

    def resource_attr(self, key: str) -> Any:
        return MISSING

    def has_event(self, name: str) -> bool:
        return False

    def __repr__(self) -> str:
        return f"PartialSpan(span_id={self.span_id!r}, name={self.name!r}, " \
               f"service={self.service!r})"


def witness_of(violation: Mapping[str, Any], spans: dict | None = None) -> Any:
    """The witness span of a violation (JSON): the first of its ``span_ids``.

    That is the span the monitor's own ``message`` placeholders read: the event
    that raised the obligation the violation settled, else the deciding one; for
    an aggregate, the worst span of the window. ``spans`` maps ``(trace_id,
    span_id)`` or ``span_id`` to full spans when they are at hand.
    """
    ids = violation.get("span_ids") or []
    if not ids:
        return None
    sid = ids[0]
    trace_ids = violation.get("trace_ids") or [""]
    if spans:
        for key in [(t, sid) for t in trace_ids] + [sid]:
            if key in spans:
                return spans[key]
    events = [e for e in violation.get("events") or [] if e.get("span_id") == sid]
    if not events:
        return PartialSpan(sid, trace_ids[0], MISSING, MISSING, MISSING, MISSING)
    times = [e.get("time_unix_nano") for e in events]
    starts = [t for e, t in zip(events, times) if e.get("event") == "start"]
    ends = [t for e, t in zip(events, times) if e.get("event") == "end"]
    # the event's own trace: a cross-trace violation lists every trace of its instance
    return PartialSpan(sid, events[0].get("trace_id") or trace_ids[0],
                       events[0].get("name", MISSING),
                       events[0].get("service", MISSING),
                       starts[0] if starts else MISSING, ends[0] if ends else MISSING)
