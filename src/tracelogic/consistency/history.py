"""Operations and histories: what every consistency checker reads.

An :class:`Operation` is one call of a store, as a client saw it: it was invoked at
``call`` and completed at ``ret`` (nanoseconds), with a status:

- ``ok``: it completed, and ``output`` is what it returned;
- ``fail``: it certainly did not take effect (a definite error), so the checkers drop it;
- ``indeterminate``: it may or may not have taken effect, and its output is unknown
  (Jepsen's ``:info``). It may linearize anywhere after its invocation, or never.

Real-time order (Herlihy and Wing): ``a`` precedes ``b`` when ``a.ret < b.call``. Two
operations whose times touch (``a.ret == b.call``) are concurrent; an indeterminate
operation never returns, so nothing follows it in real time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Iterable, Literal

__all__ = ["Operation", "Status", "STATUSES", "by_key", "usable"]

Status = Literal["ok", "fail", "indeterminate"]
STATUSES: Final = ("ok", "fail", "indeterminate")


@dataclass(frozen=True, slots=True)
class Operation:
    """One invocation and its completion. ``key`` names the object it acts on (``None``:
    the store is one object); ``span`` is ``(trace_id, span_id)`` when it came from a span.
    """

    id: int
    f: str
    input: Any = None
    output: Any = None
    call: int = 0
    ret: int = 0
    status: Status = "ok"
    key: Any = None
    client: str = ""
    span: tuple[str, str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r} is not one of {', '.join(STATUSES)}")
        if self.status != "indeterminate" and self.ret < self.call:
            raise ValueError(f"operation {self.id} returns at {self.ret} before its call at "
                             f"{self.call}; a completion cannot precede its invocation")

    @property
    def indeterminate(self) -> bool:
        return self.status == "indeterminate"

    def precedes(self, other: Operation) -> bool:
        """Real-time order: this one completed before ``other`` was invoked."""
        return not self.indeterminate and self.ret < other.call

    def describe(self) -> str:
        """``write(3)``, ``read() -> 3``, ``cas(1, 2) -> false``, ``write(4) -> ?``."""
        arg = "" if self.input is None else (
            ", ".join(map(_show, self.input)) if isinstance(self.input, tuple) else
            _show(self.input))
        key = "" if self.key is None else f"[{_show(self.key)}]"
        out = " -> ?" if self.indeterminate else (
            "" if self.output is None and self.f not in READS else f" -> {_show(self.output)}")
        return f"{self.f}{key}({arg}){out}"

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "op": self.f, "key": _plain(self.key),
                             "input": _plain(self.input), "output": _plain(self.output),
                             "call_ns": self.call, "status": self.status,
                             "client": self.client, "text": self.describe()}
        d["return_ns"] = None if self.indeterminate else self.ret
        if self.span is not None:
            d["trace_id"], d["span_id"] = self.span
        return d


READS: Final = frozenset({"read", "get", "dequeue", "contains", "cas"})


def _show(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, frozenset):
        return "{" + ", ".join(sorted(map(_show, v))) + "}"
    if isinstance(v, tuple):
        return "[" + ", ".join(map(_show, v)) + "]"
    return str(v)


def _plain(v: Any) -> Any:
    if isinstance(v, frozenset):
        return sorted((_plain(x) for x in v), key=repr)
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def usable(ops: Iterable[Operation]) -> list[Operation]:
    """The operations a checker must explain: failed ones never took effect and are
    dropped."""
    return [o for o in ops if o.status != "fail"]


def by_key(ops: Iterable[Operation]) -> dict[Any, list[Operation]]:
    """P-compositionality (Herlihy and Wing's locality; Horn and Kroening 2015): a history
    of independent objects is linearizable iff each object's sub-history is. The
    partitions, in the order their keys first appear."""
    out: dict[Any, list[Operation]] = {}
    for o in ops:
        out.setdefault(o.key, []).append(o)
    return out
