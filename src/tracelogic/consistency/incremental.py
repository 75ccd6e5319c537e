"""Linearizability checked window by window, one key at a time: what ``serve`` runs.

A live store's history never ends, so ``serve`` cannot wait for it and search it whole.
It checks each key's history (P-compositionality, Horn and Kroening 2015) in **windows**
cut at quiescent points, and carries what the next window needs:

- A **cut** at time ``c`` splits a key's operations into a prefix ``P`` (invoked before
  ``c``) and the rest, where every determinate operation of ``P`` returned before ``c``
  and nothing of the rest was invoked before ``c``. Then every operation of ``P`` precedes
  every operation after it in real time, except the indeterminate ones of ``P``, which
  may still take effect later.
- Checking ``P`` does not stop at the first linearization: it collects every
  **configuration** a linearization of ``P`` can end in: the model state, and the
  indeterminate operations of ``P`` not placed yet (still **pending**: they may take
  effect in a later window, or never). A configuration whose pending set contains
  another's at the same state subsumes it (a pending operation may always stay
  unapplied), so only the maximal ones are kept.
- The next window starts from each configuration in turn, with its pending operations
  added. The key is linearizable so far iff some configuration survives every window;
  when none survives a window, that window is violated.

This is exact: a linearization of the whole history restricted to ``P`` is a
linearization of ``P`` (plus some pending operations placed later), and conversely any
linearization of ``P`` followed by one of the rest from its configuration is one of the
whole history, because real-time order never puts an operation of the rest before one of
``P``. tests/consistency/test_incremental.py compares it with :func:`~.check` over whole
histories, cut at every place the watermark can fall.

The limits are a key's verdict, never a silent drop (docs/consistency.md §11):

- a window's search has a :class:`~.linearizability.Budget`; when it runs out, or when
  more than ``max_configs`` configurations survive, the key is ``inconclusive`` with the
  reason, and no later window of it can be checked (its state is unknown);
- a key whose open window grows beyond ``max_window`` operations before a cut frees it is
  evicted: ``incomplete``, with the number of operations dropped;
- an operation invoked before the key's last cut, arriving after the cut was checked, is
  **late**: it should have been in a checked window, so the key is ``incomplete``.

After a final verdict (violated, inconclusive, incomplete) a key's later operations are
counted as ``unchecked`` and dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Iterable, Literal

from .history import Operation
from .linearizability import Budget, KeyResult, Witness, _OutOfBudget, _Search, check_key
from .models import Model, ModelError

__all__ = ["KeyState", "WindowResult", "cut", "check_window", "Verdict", "FINAL"]

Verdict = Literal["open", "violated", "inconclusive", "incomplete"]
FINAL: Final = frozenset({"violated", "inconclusive", "incomplete"})

#: a configuration: the model state, and the ids of the indeterminate operations that
#: are still pending (may take effect later, or never)
Config = tuple[Any, frozenset[int]]


def starting_at(model: Model, state: Any) -> Model:
    """``model`` with another initial state (a window starts where the last one ended)."""
    return Model(model.name, state, {f: model.step_function(f) for f in model.operations},
                 model.doc, model.readonly)


def cut(ops: list[Operation], watermark: int) -> int:
    """How many of ``ops`` (sorted by call) form the longest prefix that can be checked
    now: every one invoked before ``watermark`` (an operation not arrived yet is assumed
    invoked at or after it), every determinate one returned before the watermark and
    before the next operation's call. 0: no cut yet."""
    best = 0
    maxret = -1  # the latest return of a determinate operation in ops[:i]
    for i, o in enumerate(ops):
        if i and maxret < o.call and maxret < watermark:
            best = i
        if o.call >= watermark:
            return best
        if not o.indeterminate and o.ret > maxret:
            maxret = o.ret
    if ops and maxret < watermark:
        best = len(ops)
    return best


@dataclass(frozen=True)
class WindowResult:
    """One window's outcome: ``configs`` to carry (empty when violated), or the verdict
    and what explains it."""

    verdict: Literal["ok", "violated", "inconclusive"]
    configs: tuple[Config, ...] = ()
    reason: str = ""
    result: KeyResult | None = None   # the violated window's check, with its witness
    initial_state: Any = None
    steps: int = 0


def check_window(model: Model, configs: Iterable[Config], pending: dict[int, Operation],
                 window: list[Operation], *, key: Any, budget: Budget,
                 max_configs: int) -> WindowResult:
    """Check one window from every carried configuration; see the module docstring."""
    configs = list(configs)
    found: list[Config] = []
    steps = 0
    for state, waiting in configs:
        ops = [pending[i] for i in sorted(waiting)] + window
        collect: list[tuple[Any, int]] = []
        s = _Search(model, ops, budget, None, init=state, collect=collect)
        try:
            s.run()
        except _OutOfBudget as e:
            return WindowResult("inconclusive", reason=e.reason, steps=steps + s.steps)
        except ModelError as e:
            return WindowResult("inconclusive", reason=str(e), steps=steps + s.steps)
        steps += s.steps
        for new, lin in collect:
            left = frozenset(o.id for j, o in enumerate(ops)
                             if o.indeterminate and not lin >> j & 1)
            found.append((new, left))
        if len(found) > 64 * max_configs:
            break
    kept = _maximal(found)
    if len(kept) > max_configs:
        return WindowResult("inconclusive", steps=steps, reason=(
            f"more than {max_configs} model states and pending indeterminate operations "
            "may end this window"))
    if kept:
        return WindowResult("ok", tuple(kept), steps=steps)
    # violated from every configuration: explain it from the first (the usual case
    # is one configuration; the witness names the state it started from)
    state, waiting = configs[0]
    ops = [pending[i] for i in sorted(waiting)] + window
    r = check_key(starting_at(model, state), ops, key=key, budget=budget)
    if r.verdict != "violated":  # the budget ran out while explaining it
        return WindowResult("inconclusive", steps=steps, reason=r.reason or
                            "the window is not linearizable, but its witness could not "
                            "be computed within the budget")
    return WindowResult("violated", result=r, initial_state=state, steps=steps)


def _maximal(found: list[Config]) -> list[Config]:
    """Drop configurations subsumed by another at the same state with more pending."""
    by_state: dict[Any, list[frozenset[int]]] = {}
    for state, left in found:
        sets = by_state.setdefault(state, [])
        if any(left <= s for s in sets):
            continue
        sets[:] = [s for s in sets if not s <= left] + [left]
    return [(state, s) for state, sets in by_state.items() for s in sets]


@dataclass
class KeyState:
    """One key of one check, as ``serve`` holds it: the open window (operations not yet
    checked), the configurations the checked windows may end in, and the pending
    indeterminate operations they refer to."""

    key: Any
    model: Model
    configs: list[Config] = field(default_factory=list)
    pending: dict[int, Operation] = field(default_factory=dict)
    window: list[Operation] = field(default_factory=list)
    verdict: Verdict = "open"
    reason: str = ""
    cut_at: int = -1          # every operation invoked before this was checked
    checked: int = 0          # operations checked (in closed windows)
    windows: int = 0          # windows checked
    steps: int = 0            # search steps spent
    dropped: int = 0          # open operations dropped unchecked by a final verdict

    def __post_init__(self) -> None:
        if not self.configs:
            self.configs = [(self.model.init, frozenset())]

    def add(self, op: Operation) -> Literal["ok", "late", "unchecked", "dropped"]:
        """Take one operation. ``late``: it was invoked before the last cut (the key is
        now incomplete); ``unchecked``: the key has a final verdict already; ``dropped``:
        a failed operation, or an indeterminate read (they constrain nothing)."""
        if self.verdict in FINAL:
            return "unchecked"
        if op.status == "fail" or (op.indeterminate and self._readonly(op)):
            return "dropped"
        if op.call < self.cut_at:
            self.finish("incomplete", f"operation #{op.id} {op.describe()} was invoked at "
                        f"{op.call}, before the window already checked (up to "
                        f"{self.cut_at}), and arrived after it")
            return "late"
        self.window.append(op)
        return "ok"

    def _readonly(self, op: Operation) -> bool:
        try:
            return self.model.canonical(op.f) in self.model.readonly
        except ModelError:
            return False

    def finish(self, verdict: Verdict, reason: str) -> int:
        """Give the key a final verdict; returns the operations it drops unchecked."""
        dropped = len(self.window)
        self.dropped += dropped
        self.verdict, self.reason = verdict, reason
        self.window, self.configs, self.pending = [], [], {}
        return dropped

    def advance(self, watermark: int, *, budget: Budget,
                max_configs: int) -> WindowResult | None:
        """Check the longest prefix of the window the watermark lets go; None when there
        is nothing to check yet."""
        if self.verdict in FINAL or not self.window:
            return None
        self.window.sort(key=lambda o: (o.call, o.id))
        n = cut(self.window, watermark)
        if n == 0:
            return None
        head, self.window = self.window[:n], self.window[n:]
        r = check_window(self.model, self.configs, self.pending, head, key=self.key,
                         budget=budget, max_configs=max_configs)
        self.windows += 1
        self.steps += r.steps
        self.checked += n
        # an operation invoked at or before any of the window's calls or determinate
        # returns belongs in it: if one arrives now, it is late
        self.cut_at = max(self.cut_at, 1 + max(max(o.call for o in head), max(
            (o.ret for o in head if not o.indeterminate), default=-1)))
        if r.verdict == "ok":
            for o in head:
                if o.indeterminate:
                    self.pending[o.id] = o
            self.configs = list(r.configs)
            live = set().union(*(s for _, s in self.configs)) if self.configs else set()
            self.pending = {i: o for i, o in self.pending.items() if i in live}
        else:
            self.finish(r.verdict, r.reason)
        return r


def witness_of(r: WindowResult) -> Witness | None:
    return None if r.result is None else r.result.witness
