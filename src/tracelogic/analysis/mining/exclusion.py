"""Mutual exclusion across traces: the spans of one operation that share an attribute value
never overlap in time (a per-key "absence of a second start before the end").

This is what a lock, a single-threaded worker or a serialised resource looks like in
healthy traces -- two reservations of ``stock/sku-1`` one after the other -- and what a race
breaks. It is mined in the scope ``per attr["k"]`` (SPEC-LANGUAGE.md §3), whose instances
see the events of every trace with that value, and written with past operators only, so a
cross-trace instance decides it online:

    G (A & start -> (Y (!(A & start) S (A & end)) | !(Y (O (A & start)))))

"at every start of A, an end of A came after the previous start of A, or there was none".
Only string and integer attributes with at least two values are candidate keys (a key with
one value is not a key; float values are measurements). A pair of spans touching at one
instant counts as overlapping here, because the order of events of different traces at one
instant is not something healthy data can teach.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracelogic.ingest.spans import Span

from .invariants import skipped_key
from .model import Operation

__all__ = ["Exclusion", "collect_exclusions"]


@dataclass
class Exclusion:
    op: Operation
    key: str
    values: int          # distinct values of the key on this operation's spans
    exercised: int       # values with at least two spans: where exclusion could fail
    held: int            # of those, values whose spans never overlap
    pairs: int           # consecutive span pairs checked
    min_gap_ns: int      # the smallest gap between consecutive spans of one value


def collect_exclusions(spans: Iterable[Span]) -> list[Exclusion]:
    """One pass over the spans in start order, keeping per (operation, key, value) only the
    latest end seen and whether a span started before it."""
    # (op, key) -> value text -> [spans, latest end, overlapped, smallest gap or -1]
    groups: dict[tuple[Operation, str], dict[str, list[int]]] = {}
    for s in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        op = (s.service, s.name)
        st, en = s.start_ns, max(s.end_ns, s.start_ns)
        for k, v in s.attrs.items():
            tv = type(v)
            if (tv is not str and tv is not int) or skipped_key(k):
                continue
            by_value = groups.get((op, k))
            if by_value is None:
                by_value = groups[(op, k)] = {}
            text = str(v)
            rec = by_value.get(text)
            if rec is None:
                by_value[text] = [1, en, 0, -1]
                continue
            rec[0] += 1
            if st <= rec[1]:
                rec[2] = 1
            else:
                gap = st - rec[1]
                if rec[3] < 0 or gap < rec[3]:
                    rec[3] = gap
            if en > rec[1]:
                rec[1] = en
    out = []
    for (op, key), by_value in groups.items():
        if len(by_value) < 2:
            continue
        exercised = held = pairs = 0
        gap = -1
        for n, _, overlapped, g in by_value.values():
            if n < 2:
                continue
            exercised += 1
            pairs += n - 1
            held += not overlapped
            if g >= 0 and (gap < 0 or g < gap):
                gap = g
        if exercised:
            out.append(Exclusion(op, key, len(by_value), exercised, held, pairs, max(gap, 0)))
    return out
