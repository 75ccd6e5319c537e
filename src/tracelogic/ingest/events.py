"""Traces and their event order (SPEC-LANGUAGE.md §3, "Events and their order").

A :class:`Trace` groups the spans of one trace id, indexes parents and children
(for ``parent.*``, ``has_ancestor``, ``has_child``), notices missing parents
(a *partial* trace), several roots and parent cycles, and orders its events.

Every span gives a ``start`` and an ``end`` :class:`Event`. The order is:

1. by timestamp;
2. at equal timestamps, ends before starts, except that a span's own start
   comes before its own end. Precisely, the events at one instant form three
   groups, in this order:

   - **E**: ends of spans that started earlier;
   - **Z**: zero-duration spans, each as an adjacent ``start, end`` pair (two
     zero-duration spans cannot both have "ends before starts", so each pair
     stays together);
   - **S**: starts of spans that end later;
3. within a group, causally: an ancestor's start before its descendants'
   starts (groups S and Z, whose pairs move together), a descendant's end
   before its ancestor's end (group E). "Ancestor" follows parent links through
   the whole trace, so a skewed clock in between does not break the chain;
4. then by span id: among the events whose causal predecessors are placed, the
   smallest span id comes first (the lexicographically smallest topological order).

Rule 2 outranks rule 3, as the spec lists them: a zero-duration child at the
instant its parent starts comes *before* the parent's start (its end is an end).

Log records (issue 19, docs/language.md "Log records") are events too, for the
properties that read them: :func:`merge_logs` places each record among a trace's span
events by its time; at equal times after its own span's start and before its own
span's end (just before that end when it is at the same instant, else after every
span event of the instant); records at one position keep their arrival order. A log
event is ``Event(time, None, record)``: it is neither a start nor an end.

Implementation: one sort on ``(time, group, span_id, start/end)``, which already
is the answer when no two spans in a group at one instant are related; such
groups (rare: equal timestamps *and* ancestry) are re-ordered with Kahn's algorithm
and a heap keyed by span id. A span whose end is before its start (bad clock) has
its end event placed at its start time, so its own start still comes first.
"""
from __future__ import annotations

import heapq
from operator import itemgetter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from .spans import Span

__all__ = ["Event", "Trace", "SpanIndex", "order_events", "merge_logs", "END_GROUP",
           "ZERO_GROUP", "START_GROUP"]

END_GROUP, ZERO_GROUP, START_GROUP = 0, 1, 2


class Event(NamedTuple):
    """One step of a trace: the ``start`` or the ``end`` of ``span`` at ``time_ns``."""

    time_ns: int
    is_start: bool | None  # None: a log record's event
    span: Span  # or a logs.LogRecord, for a log event

    @property
    def is_end(self) -> bool:
        return self.is_start is False

    @property
    def is_log(self) -> bool:
        return self.is_start is None

    @property
    def kind(self) -> str:
        """``"start"``, ``"end"`` or ``"log"``."""
        return "log" if self.is_start is None else "start" if self.is_start else "end"

    def __repr__(self) -> str:
        if self.is_start is None:
            return f"Event({self.time_ns}, log, {self.span.label})"
        return (f"Event({self.time_ns}, {self.kind}, {self.span.name!r} "
                f"{self.span.span_id})")


def event_group(span: Span, is_start: bool) -> int:
    """The group (E=0, Z=1, S=2) of one of ``span``'s events at its own instant."""
    if span.end_ns <= span.start_ns:
        return ZERO_GROUP
    return START_GROUP if is_start else END_GROUP


def order_events(spans: Iterable[Span],
                 parent_of: Callable[[Span], Span | None]) -> list[Event]:
    """The events of ``spans`` in the order of the module docstring.

    ``parent_of`` maps a span to its parent span, or None (root or absent parent).
    The result does not depend on the order of ``spans`` (given unique span ids).
    """
    # (time, group, span id, 0 start / 1 end, event): unique in its first four fields,
    # so the sort compares in C and never reaches the event
    keyed: list[tuple[int, int, str, int, Event]] = []
    add = keyed.append
    zeros = 0
    for s in spans:
        st, en, sid = s.start_ns, s.end_ns, s.span_id
        if en <= st:
            zeros += 1
            add((st, ZERO_GROUP, sid, 0, _new(Event, (st, True, s))))
            add((st, ZERO_GROUP, sid, 1, _new(Event, (st, False, s))))
        else:
            add((st, START_GROUP, sid, 0, _new(Event, (st, True, s))))
            add((en, END_GROUP, sid, 1, _new(Event, (en, False, s))))
    keyed.sort()
    out = list(map(_event_of, keyed))
    # Fix-ups: runs of one group at one instant holding more than one span. Without any,
    # the (time, group) pairs are all distinct but for each zero-duration span's pair.
    n = len(keyed)
    if len(set(map(_instant_of, keyed))) == n - zeros:
        return out
    i = 0
    while i < n:
        t, g = keyed[i][0], keyed[i][1]
        j = i + 1
        while j < n and keyed[j][0] == t and keyed[j][1] == g:
            j += 1
        if j - i > (2 if g == ZERO_GROUP else 1):
            _fix_run(out, keyed, i, j, g, parent_of)
        i = j
    return out


def merge_logs(events: Iterable[Event], logs: Iterable[Any]) -> list[Event]:
    """Span ``events`` (in :func:`order_events`' order) with log records placed among them
    by the rules of the module docstring. ``logs`` are :class:`~.logs.LogRecord` objects
    (``time_ns``, ``span_id``, ``seq``); the result does not depend on their order."""
    from bisect import bisect_right

    events = list(events)
    recs = sorted(logs, key=lambda r: (r.time_ns, r.seq))
    if not recs:
        return events
    times = [ev.time_ns for ev in events]
    end_at: dict[str, int] = {}
    for i, ev in enumerate(events):
        if ev.is_start is False:
            end_at[ev.span.span_id] = i
    # position -> records placed just before events[position] (len(events): at the end)
    before: dict[int, list[Event]] = {}
    for r in recs:
        t = r.time_ns
        j = end_at.get(r.span_id) if r.span_id else None
        pos = j if j is not None and times[j] == t else bisect_right(times, t)
        before.setdefault(pos, []).append(_new(Event, (t, None, r)))
    out: list[Event] = []
    for i, ev in enumerate(events):
        placed = before.get(i)
        if placed:
            out.extend(placed)
        out.append(ev)
    out.extend(before.get(len(events), ()))
    return out


_new = tuple.__new__  # builds an Event without the Python-level NamedTuple __new__
_event_of = itemgetter(4)
_instant_of = itemgetter(0, 1)


def _fix_run(out: list[Event], keyed: list[Any], i: int, j: int, group: int,
             parent_of: Callable[[Span], Span | None]) -> None:
    members: dict[str, Span] = {}
    for k in keyed[i:j]:
        members[k[2]] = k[4].span
    # Ancestors inside the run, found by walking parent links through the whole
    # trace (bounded, so a parent cycle cannot loop forever).
    limit = 10_000
    anc_in_run: dict[str, list[str]] = {}
    related = False
    for sid, s in members.items():
        found = []
        seen = {sid}
        p = parent_of(s)
        steps = 0
        while p is not None and p.span_id not in seen and steps < limit:
            seen.add(p.span_id)
            if p.span_id in members:
                found.append(p.span_id)
            p = parent_of(p)
            steps += 1
        if found:
            related = True
        anc_in_run[sid] = found
    if not related:
        return  # the sort by span id is already the answer
    # Predecessor edges: ancestor -> descendant for starts and zero pairs,
    # descendant -> ancestor for ends.
    succs: dict[str, list[str]] = {sid: [] for sid in members}
    indeg = dict.fromkeys(members, 0)
    for sid, ancs in anc_in_run.items():
        for a in ancs:
            if group == END_GROUP:
                succs[sid].append(a)
                indeg[a] += 1
            else:
                succs[a].append(sid)
                indeg[sid] += 1
    heap = [sid for sid, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        sid = heapq.heappop(heap)
        order.append(sid)
        for nxt in succs[sid]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                heapq.heappush(heap, nxt)
    if len(order) < len(members):  # a parent cycle inside the run: keep span-id order
        placed = set(order)
        order += sorted(sid for sid in members if sid not in placed)
    t = keyed[i][0]
    pos = i
    for sid in order:
        s = members[sid]
        if group == ZERO_GROUP:
            out[pos] = Event(t, True, s)
            out[pos + 1] = Event(t, False, s)
            pos += 2
        else:
            out[pos] = Event(t, group == START_GROUP, s)
            pos += 1


class SpanIndex:
    """Spans by ``(trace_id, span_id)``: resolves ``linked(P)`` within one input or window."""

    __slots__ = ("_d",)

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self._d: dict[tuple[str, str], Span] = {}
        self.add(spans)

    def add(self, spans: Iterable[Span]) -> None:
        d = self._d
        for s in spans:
            d.setdefault((s.trace_id, s.span_id), s)

    def get(self, trace_id: str, span_id: str) -> Span | None:
        return self._d.get((trace_id, span_id))

    def __len__(self) -> int:
        return len(self._d)

    def link_targets(self, span: Span) -> tuple[list[Span], int]:
        """The spans ``span`` links to that are present, and how many links are unresolved."""
        found, missing = [], 0
        for key in span.links:
            t = self._d.get(key)
            if t is None:
                missing += 1
            else:
                found.append(t)
        return found, missing


class Trace:
    """The spans of one trace id, with structure indexes and the ordered events.

    Spans with a span id already seen are dropped and counted in ``duplicates``
    (the first one wins). ``spans`` is sorted by ``(start_ns, span_id)``, so a
    Trace does not depend on the order its spans arrived in.
    """

    __slots__ = ("trace_id", "spans", "duplicates", "_by_id", "_children", "_events",
                 "_roots", "_orphans", "_cyclic", "logs", "_log_events")

    def __init__(self, spans: Iterable[Span], logs: Iterable[Any] = (),
                 trace_id: str | None = None) -> None:
        """``logs``: the trace's log records (docs/language.md, "Log records"); a trace of
        log records only (no span arrived) names its ``trace_id``."""
        by_id: dict[str, Span] = {}
        dups = 0
        self.logs: tuple[Any, ...] = tuple(logs)
        self._log_events: tuple[Event, ...] | None = None
        for s in spans:
            if trace_id is None:
                trace_id = s.trace_id
            elif s.trace_id != trace_id:
                raise ValueError(f"span {s.span_id} has trace id {s.trace_id}, but this trace "
                                 f"is {trace_id}; group spans by trace id first "
                                 f"(see assembly.Assembler)")
            if s.span_id in by_id:
                dups += 1
            else:
                by_id[s.span_id] = s
        if trace_id is None:
            raise ValueError("a Trace needs at least one span (or log records and a trace_id)")
        self.trace_id: str = trace_id
        self.spans: tuple[Span, ...] = tuple(sorted(by_id.values(),
                                                    key=lambda s: (s.start_ns, s.span_id)))
        self.duplicates: int = dups
        self._by_id = by_id
        children: dict[str, list[Span]] = {}
        roots: list[Span] = []
        orphans: list[Span] = []
        for s in self.spans:
            if not s.parent_id:
                roots.append(s)
            elif s.parent_id in by_id:
                children.setdefault(s.parent_id, []).append(s)
            else:
                orphans.append(s)
        self._children = {k: tuple(sorted(v, key=lambda s: s.span_id))
                          for k, v in children.items()}
        self._roots = tuple(roots)
        self._orphans = tuple(orphans)
        self._events: tuple[Event, ...] | None = None
        self._cyclic: tuple[Span, ...] | None = None

    # -- structure ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def get(self, span_id: str) -> Span | None:
        return self._by_id.get(span_id)

    def parent(self, span: Span) -> Span | None:
        """The parent span, or None for a root or a parent absent from the trace."""
        return self._by_id.get(span.parent_id) if span.parent_id else None

    def children(self, span: Span) -> tuple[Span, ...]:
        """Direct children present in the trace, sorted by span id."""
        return self._children.get(span.span_id, ())

    def ancestors(self, span: Span) -> Iterator[Span]:
        """Parent, grandparent, ... as far as they are present; stops on a cycle."""
        seen = {span.span_id}
        p = self.parent(span)
        while p is not None and p.span_id not in seen:
            yield p
            seen.add(p.span_id)
            p = self.parent(p)

    def has_ancestor(self, span: Span, pred: Callable[[Span], bool]) -> bool:
        return any(pred(a) for a in self.ancestors(span))

    def has_child(self, span: Span, pred: Callable[[Span], bool]) -> bool:
        return any(pred(c) for c in self.children(span))

    def linked(self, span: Span, pred: Callable[[Span], bool],
               index: SpanIndex | None = None) -> bool:
        """Whether ``span`` links to a present span satisfying ``pred``.

        Targets are looked up in ``index`` (all spans of the input or window) or,
        without one, in this trace only.
        """
        for t, s in span.links:
            target = index.get(t, s) if index is not None else (
                self._by_id.get(s) if t == self.trace_id else None)
            if target is not None and pred(target):
                return True
        return False

    @property
    def roots(self) -> tuple[Span, ...]:
        """Spans without a parent id, by start time."""
        return self._roots

    @property
    def root(self) -> Span | None:
        """The root when there is exactly one, else None."""
        return self._roots[0] if len(self._roots) == 1 else None

    @property
    def orphans(self) -> tuple[Span, ...]:
        """Spans whose parent id names a span absent from the trace."""
        return self._orphans

    @property
    def is_partial(self) -> bool:
        """True when some parent never arrived (or there is no root at all)."""
        return bool(self._orphans) or (not self._roots and bool(self.spans))

    @property
    def has_multiple_roots(self) -> bool:
        return len(self._roots) > 1

    @property
    def cyclic(self) -> tuple[Span, ...]:
        """Spans whose parent chain loops back (malformed input), sorted by span id."""
        if self._cyclic is None:
            bad = []
            for s in self.spans:
                seen = {s.span_id}
                p = self.parent(s)
                while p is not None:
                    if p.span_id in seen:
                        bad.append(s)
                        break
                    seen.add(p.span_id)
                    p = self.parent(p)
            self._cyclic = tuple(sorted(bad, key=lambda s: s.span_id))
        return self._cyclic

    @property
    def start_ns(self) -> int:
        return min([s.start_ns for s in self.spans] + [r.time_ns for r in self.logs])

    @property
    def end_ns(self) -> int:
        return max([max(s.end_ns, s.start_ns) for s in self.spans]
                   + [r.time_ns for r in self.logs])

    # -- events ------------------------------------------------------------------
    @property
    def events(self) -> tuple[Event, ...]:
        """Start and end events of every span in the order of the module docstring."""
        if self._events is None:
            self._events = tuple(order_events(self.spans, self.parent))
        return self._events

    @property
    def events_with_logs(self) -> tuple[Event, ...]:
        """:attr:`events` with the trace's log records among them (:func:`merge_logs`)."""
        if self._log_events is None:
            self._log_events = (tuple(merge_logs(self.events, self.logs)) if self.logs
                                else self.events)
        return self._log_events

    def with_logs(self, logs: Iterable[Any]) -> "Trace":
        """This trace with ``logs`` added to its log records (the spans are shared)."""
        t = object.__new__(Trace)
        for k in Trace.__slots__:
            object.__setattr__(t, k, getattr(self, k))
        t.logs = self.logs + tuple(logs)
        t._log_events = None
        return t

    def problems(self) -> list[str]:
        """Human-readable notes on what makes this trace unusual (for reports)."""
        notes = []
        if self._orphans:
            missing = sorted({s.parent_id for s in self._orphans})
            notes.append(f"partial trace: {len(self._orphans)} spans have parents that never "
                         f"arrived ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
        if not self._roots:
            notes.append("no root span")
        elif len(self._roots) > 1:
            notes.append(f"{len(self._roots)} root spans")
        if self.duplicates:
            notes.append(f"{self.duplicates} duplicate spans dropped")
        if self.cyclic:
            notes.append(f"{len(self.cyclic)} spans in a parent cycle")
        return notes

    def __repr__(self) -> str:
        extra = f", problems={self.problems()!r}" if self.problems() else ""
        return f"<Trace {self.trace_id} spans={len(self.spans)}{extra}>"
