"""Session guarantees and eventual consistency over register histories (reads and
writes per key), per client (Terry et al., "Session guarantees for weakly consistent
replicated data", PDIS 1994).

A read is attributed to the write whose value it returned, so each key's written values
must be distinct (Jepsen's histories write unique values for the same reason); a key
where a value is written twice is ``inconclusive`` with that reason. Without a replica's
version order, "older" is real time: write ``a`` is older than write ``b`` when ``a``
completed before ``b`` was invoked. Failed operations are left out; indeterminate writes
may have taken effect, and indeterminate reads say nothing. Cross-client guarantees
(monotonic writes, writes-follow-reads) look at every client's reads.

- **read-your-writes**: after a client's write completed, its later reads of that key
  return neither nil nor a value older than that write;
- **monotonic reads**: a client's later read never returns a value older than one it
  read before;
- **monotonic writes**: when a client wrote ``a`` then ``b`` (``a`` completed first), no
  client reads ``b`` and afterwards ``a``;
- **writes-follow-reads**: when a client read the value of ``a`` and then wrote ``b``,
  no client reads ``b`` and afterwards ``a``;
- **eventual** (:func:`eventual`): every read invoked at least ``bound_ns`` after a key's
  last write completed returns the same value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Iterable

from .history import Operation, _show, by_key, usable

__all__ = ["GUARANTEES", "Violation", "SessionResult", "sessions", "eventual"]

GUARANTEES: Final = ("read-your-writes", "monotonic-reads", "monotonic-writes",
                     "writes-follow-reads")
_READS: Final = frozenset({"read", "get"})
_WRITES: Final = frozenset({"write", "put", "set"})


@dataclass(frozen=True, slots=True)
class Violation:
    guarantee: str
    key: Any
    client: str
    operations: tuple[Operation, ...]
    message: str

    def to_json(self) -> dict[str, Any]:
        from .history import _plain

        return {"guarantee": self.guarantee, "key": _plain(self.key), "client": self.client,
                "message": self.message, "operations": [o.to_json() for o in self.operations]}


@dataclass(frozen=True, slots=True)
class SessionResult:
    """Violations found, and the keys that could not be judged (with why)."""

    violations: tuple[Violation, ...]
    inconclusive: tuple[tuple[Any, str], ...] = ()

    def verdict(self, guarantee: str | None = None) -> str:
        vs = [v for v in self.violations if guarantee in (None, v.guarantee)]
        return "violated" if vs else ("inconclusive" if self.inconclusive else "satisfied")

    def to_json(self) -> dict[str, Any]:
        from .history import _plain

        return {"check": "sessions", "verdict": self.verdict(),
                "violations": [v.to_json() for v in self.violations],
                "inconclusive": [{"key": _plain(k), "reason": r} for k, r in self.inconclusive]}


def _older(a: Operation | None, b: Operation | None) -> bool:
    """Write ``a`` is older than write ``b`` (nil, the initial value, is older than any)."""
    if b is None:
        return False
    if a is None:
        return not b.indeterminate
    return a.precedes(b)


def _split(ops: Iterable[Operation]) -> dict[Any, tuple[list, list, dict, str]]:
    out = {}
    for key, part in by_key(usable(ops)).items():
        reads = [o for o in part if o.f.lower() in _READS and not o.indeterminate]
        writes = [o for o in part if o.f.lower() in _WRITES]
        by_value: dict[Any, Operation] = {}
        problem = ""
        for w in writes:
            if w.input in by_value:
                problem = f"value {_show(w.input)} is written twice: a read cannot say which " \
                          "write it saw"
            by_value[w.input] = w
        for r in reads:
            if r.output is not None and r.output not in by_value and not problem:
                problem = f"{r.describe()} returned a value nobody wrote"
        out[key] = (reads, writes, by_value, problem)
    return out


def sessions(ops: Iterable[Operation]) -> SessionResult:
    """The four session guarantees, per client and key."""
    found: list[Violation] = []
    unsure: list[tuple[Any, str]] = []
    for key, (reads, writes, by_value, problem) in _split(ops).items():
        if problem:
            unsure.append((key, problem))
            continue

        def source(r: Operation) -> Operation | None:
            return None if r.output is None else by_value[r.output]

        clients = {o.client for o in reads + writes}
        for c in sorted(clients):
            mine_r = sorted((r for r in reads if r.client == c), key=lambda o: o.call)
            mine_w = [w for w in writes if w.client == c and not w.indeterminate]
            for r in mine_r:
                for w in mine_w:
                    if w.ret < r.call and (r.output is None or _older(source(r), w)):
                        found.append(Violation("read-your-writes", key, c, (w, r),
                                               f"client {c} wrote {_show(w.input)} and then "
                                               f"read {_show(r.output)}, an older value"))
                        break
            for i, r1 in enumerate(mine_r):
                for r2 in mine_r[i + 1:]:
                    if r1.ret < r2.call and _older(source(r2), source(r1)):
                        found.append(Violation("monotonic-reads", key, c, (r1, r2),
                                               f"client {c} read {_show(r1.output)} and then "
                                               f"{_show(r2.output)}, an older value"))
                        break
        # cross-client: a pair (a, b) that every reader must see in that order
        ordered: list[tuple[str, Operation, Operation]] = []
        done_w = [w for w in writes if not w.indeterminate]
        for a in done_w:
            for b in writes:
                if a is not b and a.client == b.client and a.ret < b.call:
                    ordered.append(("monotonic-writes", a, b))
        for r in reads:
            if r.output is None:
                continue
            for b in writes:
                if b.client == r.client and r.ret < b.call:
                    ordered.append(("writes-follow-reads", by_value[r.output], b))
        for guarantee, a, b in ordered:
            for c in sorted(clients):
                seq = sorted((r for r in reads if r.client == c), key=lambda o: o.call)
                saw_b = next((r for r in seq if r.output == b.input), None)
                if saw_b is None:
                    continue
                later_a = next((r for r in seq if r.call > saw_b.ret and r.output == a.input),
                               None)
                if later_a is not None:
                    found.append(Violation(guarantee, key, c, (a, b, saw_b, later_a),
                                           f"{b.describe()} must follow {a.describe()}, but "
                                           f"client {c} read {_show(b.input)} and then "
                                           f"{_show(a.input)}"))
                    break
    return SessionResult(tuple(found), tuple(unsure))


def eventual(ops: Iterable[Operation], bound_ns: int) -> SessionResult:
    """After a key's last write completed (indeterminate writes count from their call),
    every read invoked ``bound_ns`` or more later returns one and the same value."""
    if bound_ns < 0:
        raise ValueError(f"bound_ns={bound_ns!r}: give a bound of 0 ns or more")
    found: list[Violation] = []
    for key, part in by_key(usable(ops)).items():
        writes = [o for o in part if o.f.lower() in _WRITES]
        reads = [o for o in part if o.f.lower() in _READS and not o.indeterminate]
        quiet = max((w.call if w.indeterminate else w.ret for w in writes), default=None)
        if quiet is None:
            late = reads
        else:
            late = [r for r in reads if r.call >= quiet + bound_ns]
        late.sort(key=lambda o: (o.call, o.id))
        values = {r.output for r in late}
        if len(values) > 1:
            first = late[0]
            odd = next(r for r in late if r.output != first.output)
            found.append(Violation("eventual", key, odd.client, (first, odd),
                                   f"{bound_ns} ns after the last write, reads still return "
                                   f"{_show(first.output)} and {_show(odd.output)}"))
    return SessionResult(tuple(found))
