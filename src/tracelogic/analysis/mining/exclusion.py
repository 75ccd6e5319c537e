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

from collections import defaultdict
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
    groups: dict[tuple[Operation, str], dict[str, list[tuple[int, int]]]] = defaultdict(
        lambda: defaultdict(list))
    for s in spans:
        op = (s.service, s.name)
        for k, v in s.attrs.items():
            if isinstance(v, bool) or not isinstance(v, (str, int)) or skipped_key(k):
                continue
            groups[(op, k)][str(v)].append((s.start_ns, max(s.end_ns, s.start_ns)))
    out = []
    for (op, key), by_value in groups.items():
        if len(by_value) < 2:
            continue
        exercised = held = pairs = 0
        gap = None
        for ivs in by_value.values():
            if len(ivs) < 2:
                continue
            exercised += 1
            ivs.sort()
            ok = True
            last_end = ivs[0][1]
            for st, en in ivs[1:]:
                pairs += 1
                if st <= last_end:
                    ok = False
                else:
                    g = st - last_end
                    gap = g if gap is None else min(gap, g)
                last_end = max(last_end, en)
            held += ok
        if exercised:
            out.append(Exclusion(op, key, len(by_value), exercised, held, pairs, gap or 0))
    return out
