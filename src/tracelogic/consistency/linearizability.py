"""Linearizability by the Wing–Gong–Lowe search, per key, memoised.

The search (Wing and Gong, "Testing and verifying concurrent objects", 1993, as improved
by Lowe, "Testing for linearizability", Concurrency and Computation 29(4), 2017) walks a
list of call and return entries in time order. At a call it tries to linearize that
operation now: apply it to the model and, if the model accepts the output, remove the
call and its return from the list and start again from the head. At a return whose
operation is not linearized yet, no order of the remaining calls can put it before its
return: undo the last choice and try the next call. Lowe's memoisation keeps every
(set of linearized operations, model state) reached, and never explores one twice:
what follows depends on nothing else.

P-compositionality (Horn and Kroening, "Faster linearizability checking via
P-compositionality", FORTE 2015): a history is linearizable iff every key's sub-history
is, so each key is searched alone. This is what makes the search practical.

Indeterminate operations (status ``indeterminate``, Jepsen's ``:info``) have a call but
no return entry: they may be linearized at any point after their call, and the search
succeeds once every *determinate* operation is linearized, so they may also never take
effect. Failed operations never took effect and are left out.

Every search has a :class:`Budget` (search steps, and optionally seconds). When it runs
out the key's verdict is ``inconclusive`` with the reason, never a guess.

A violation carries a :class:`Witness`: a set of that key's operations that cannot be
linearized, shrunk until removing any one of them makes it linearizable (when the budget
allows; ``minimal`` says so), the longest partial linearization the search reached, the
model state after it, and the operation it could not place.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Final, Iterable, Literal, Sequence

from .history import Operation, by_key, usable
from .models import ILLEGAL, Model

__all__ = ["Budget", "Witness", "KeyResult", "Result", "check", "check_key", "Verdict"]

Verdict = Literal["satisfied", "violated", "inconclusive"]

_CALL: Final = 0
_RET: Final = 1


@dataclass(frozen=True, slots=True)
class Budget:
    """How much one key's search may spend: ``steps`` (call entries tried; the search's
    unit of work, deterministic) and ``seconds`` (wall clock, ``None``: unbounded).
    ``shrink_checks`` and ``shrink_steps`` bound the re-checks the witness minimisation
    may run and their search steps, over all the keys of one :func:`check`; past them a
    witness is reported as found, not minimal."""

    steps: int | None = 5_000_000
    seconds: float | None = None
    shrink_checks: int = 400
    shrink_steps: int = 300_000

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps={self.steps!r}: give a positive number of search steps, "
                             "or None for no limit")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"seconds={self.seconds!r}: give a positive number of seconds, "
                             "or None for no limit")


@dataclass(frozen=True, slots=True)
class Witness:
    """Why a key is not linearizable. Read it as: these ``operations`` admit no
    linearization, even when every other operation of the key may take effect anywhere
    after its call or never; the search could order the ``partial`` prefix (ending in
    model ``state``) but then found ``blocked`` had returned with no way to place it."""

    operations: tuple[Operation, ...]
    minimal: bool
    partial: tuple[Operation, ...]
    state: Any
    blocked: Operation | None

    def to_json(self) -> dict[str, Any]:
        from .history import _plain

        return {"operations": [o.to_json() for o in self.operations],
                "minimal": self.minimal,
                "partial_linearization": [o.to_json() for o in self.partial],
                "state": _plain(self.state),
                "blocked": None if self.blocked is None else self.blocked.to_json()}

    def text(self) -> str:
        from .history import _show

        lines = [f"  cannot be linearized together ({len(self.operations)} operations"
                 f"{', minimal' if self.minimal else ', not shrunk to minimal'}; any other "
                 "operation may take effect after its call, or never):"]
        lines += [f"    {_line(o)}" for o in self.operations]
        lines.append(f"  longest partial linearization ({len(self.partial)} operations): "
                     + (" ; ".join(o.describe() for o in self.partial) or "(none)"))
        lines.append(f"  model state after it: {_show(self.state)}")
        if self.blocked is not None:
            lines.append(f"  then {self.blocked.describe()} returned and could not be placed")
        return "\n".join(lines)


def _line(o: Operation) -> str:
    ret = "never returned" if o.indeterminate else f"{o.ret}"
    who = f" client {o.client}" if o.client else ""
    return f"#{o.id} {o.describe()}  [{o.call} .. {ret}]{who}"


@dataclass(frozen=True, slots=True)
class KeyResult:
    """One key's verdict. ``steps`` is the search's work; ``reason`` explains an
    inconclusive verdict."""

    key: Any
    verdict: Verdict
    operations: int
    steps: int
    reason: str = ""
    witness: Witness | None = None
    shrink_steps: int = field(default=0, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        from .history import _plain

        d: dict[str, Any] = {"key": _plain(self.key), "verdict": self.verdict,
                             "operations": self.operations, "steps": self.steps}
        if self.reason:
            d["reason"] = self.reason
        if self.witness is not None:
            d["witness"] = self.witness.to_json()
        return d


@dataclass(frozen=True, slots=True)
class Result:
    """A history's verdict: violated if any key is, else inconclusive if any key is, else
    satisfied."""

    model: str
    keys: tuple[KeyResult, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        vs = {k.verdict for k in self.keys}
        return "violated" if "violated" in vs else (
            "inconclusive" if "inconclusive" in vs else "satisfied")

    @property
    def violations(self) -> tuple[KeyResult, ...]:
        return tuple(k for k in self.keys if k.verdict == "violated")

    def to_json(self) -> dict[str, Any]:
        return {"check": "linearizable", "model": self.model, "verdict": self.verdict,
                "keys": [k.to_json() for k in self.keys]}

    def text(self) -> str:
        from .history import _show

        lines = [f"linearizable ({self.model}): {self.verdict}, {len(self.keys)} keys"]
        for k in self.keys:
            if k.verdict == "satisfied":
                continue
            lines.append(f"key {_show(k.key)}: {k.verdict}"
                         + (f" ({k.reason})" if k.reason else ""))
            if k.witness is not None:
                lines.append(k.witness.text())
        return "\n".join(lines)


class _OutOfBudget(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Search:
    """One key's search over a doubly linked list of entries, held in arrays (entry i:
    ``kind[i]``, ``op[i]``; ``nxt``/``prv`` link them, ``0`` is the head sentinel)."""

    def __init__(self, model: Model, ops: Sequence[Operation], budget: Budget,
                 deadline: float | None, *, init: Any = None,
                 collect: list[tuple[Any, int]] | None = None) -> None:
        """``init``: the state to start from (None: the model's). ``collect``: instead of
        stopping at the first linearization, append every distinct ``(state, linearized
        set)`` in which all determinate operations are placed and search on (what the
        incremental checker of ``serve`` carries from one window to the next)."""
        self.model = model
        self.init = model.init if init is None else init
        self.collect = collect
        self.ops = list(ops)
        self.budget = budget
        self.deadline = deadline
        self.steps = 0
        self.best: list[int] = []
        self.best_state: Any = self.init
        self.blocked: int | None = None

    def run(self) -> bool:
        model = self.model
        ops = self.ops
        n = len(ops)
        fs = [model.canonical(o.f) for o in ops]
        # entries sorted by time; at equal times calls come first (touching is concurrent)
        events: list[tuple[int, int, int]] = []
        for i, o in enumerate(ops):
            events.append((o.call, _CALL, i))
            if not o.indeterminate:
                events.append((o.ret, _RET, i))
        events.sort()
        m = len(events)
        kind = [0] * (m + 1)
        opi = [0] * (m + 1)
        match = [0] * (m + 1)   # call entry -> its return entry (0: none)
        call_of = [0] * n
        for j, (_, k, i) in enumerate(events, 1):
            kind[j] = k
            opi[j] = i
            if k == _CALL:
                call_of[i] = j
        for j in range(1, m + 1):
            if kind[j] == _RET:
                match[call_of[opi[j]]] = j
        nxt = list(range(1, m + 2))
        nxt[m] = 0  # 0 also ends the list
        prv = list(range(-1, m))
        remaining = sum(1 for o in ops if not o.indeterminate)
        collect = self.collect
        if remaining == 0:
            if collect is None:
                return True
            collect.append((self.init, 0))
        stepf = [model.step_function(f) for f in fs]
        inputs = [o.input for o in ops]
        outputs = [o.output for o in ops]
        known = [not o.indeterminate for o in ops]
        bits = [1 << i for i in range(n)]
        cache: set[tuple[int, Any]] = set()
        stack: list[tuple[int, Any]] = []
        linearized = 0
        state = self.init
        entry = nxt[0]
        limit = self.budget.steps
        deadline = self.deadline
        steps = 0
        best = 0
        while True:
            if entry == 0 or kind[entry] == _RET:
                # the oldest unlinearized return (or the end): backtrack
                if entry != 0 and len(stack) >= best and self.blocked is None:
                    self.blocked = opi[entry]
                if not stack:
                    self.steps = steps
                    return bool(collect)
                entry, state = stack.pop()
                i = opi[entry]
                linearized ^= bits[i]
                if known[i]:
                    remaining += 1
                # unlift: put the call (and its return) back where they were
                r = match[entry]
                if r:
                    nxt[prv[r]] = r
                    if nxt[r]:
                        prv[nxt[r]] = r
                nxt[prv[entry]] = entry
                if nxt[entry]:
                    prv[nxt[entry]] = entry
                entry = nxt[entry]
                continue
            steps += 1
            if limit is not None and steps > limit:
                self.steps = steps
                raise _OutOfBudget(f"the search ran out of its budget of {limit} steps")
            if deadline is not None and not steps & 1023 and time.monotonic() > deadline:
                self.steps = steps
                raise _OutOfBudget(f"the search ran out of its {self.budget.seconds}s budget")
            i = opi[entry]
            new = stepf[i](state, inputs[i], outputs[i], known[i])
            if new is not ILLEGAL:
                lin = linearized | bits[i]
                memo = (lin, new)
                if memo not in cache:
                    cache.add(memo)
                    stack.append((entry, state))
                    state = new
                    linearized = lin
                    if known[i]:
                        remaining -= 1
                        if remaining == 0:
                            if collect is None:
                                self.steps = steps
                                return True
                            collect.append((new, lin))
                    # lift: unlink the call and its return
                    nxt[prv[entry]] = nxt[entry]
                    if nxt[entry]:
                        prv[nxt[entry]] = prv[entry]
                    r = match[entry]
                    if r:
                        nxt[prv[r]] = nxt[r]
                        if nxt[r]:
                            prv[nxt[r]] = prv[r]
                    if len(stack) > best:
                        best = len(stack)
                        self.best = [opi[e] for e, _ in stack]
                        self.best_state = state
                        self.blocked = None
                    entry = nxt[0]
                    continue
            entry = nxt[entry]


def _linearizable(model: Model, ops: Sequence[Operation], budget: Budget,
                  deadline: float | None) -> tuple[bool, _Search]:
    s = _Search(model, ops, budget, deadline)
    return s.run(), s


def check_key(model: Model, ops: Sequence[Operation], *, key: Any = None,
              budget: Budget = Budget()) -> KeyResult:
    """One key's (one object's) verdict, with a witness when it is violated."""
    ops = [o for o in usable(ops)
           if not (o.indeterminate and model.canonical(o.f) in model.readonly)]
    deadline = None if budget.seconds is None else time.monotonic() + budget.seconds
    try:
        ok, s = _linearizable(model, ops, budget, deadline)
    except _OutOfBudget as e:
        return KeyResult(key, "inconclusive", len(ops), budget.steps or 0, e.reason)
    if ok:
        return KeyResult(key, "satisfied", len(ops), s.steps)
    witness, spent = _witness(model, ops, s, budget)
    return KeyResult(key, "violated", len(ops), s.steps, witness=witness, shrink_steps=spent)


def _witness(model: Model, ops: list[Operation], s: _Search,
             budget: Budget) -> tuple[Witness, int]:
    """Shrink the key's history to a core that still cannot be linearized.

    An operation leaves the core by becoming indeterminate, not by vanishing: it may still
    take effect anywhere after its call, or never, but its output and return no longer
    constrain anything. That only adds linearizations, so a core that still fails is a
    real reason (deleting a write instead would leave reads of its value unexplained,
    and the "reason" would be that the value came from nowhere)."""
    partial = tuple(ops[i] for i in s.best)
    blocked = ops[s.blocked] if s.blocked is not None else None
    checks = budget.shrink_checks
    steps_left = budget.shrink_steps
    deadline = None if budget.seconds is None else time.monotonic() + budget.seconds
    base = list(ops)

    def still_bad(core: list[int]) -> bool | None:
        nonlocal checks, steps_left
        if checks <= 0 or steps_left <= 0 or (
                deadline is not None and time.monotonic() > deadline):
            return None
        checks -= 1
        keep = set(core)
        cand = [o if i in keep else _relaxed(o) for i, o in enumerate(base)
                if i in keep or model.canonical(o.f) not in model.readonly]
        search = _Search(model, cand, Budget(steps=steps_left, seconds=None), deadline)
        try:
            ok = search.run()
        except _OutOfBudget:
            return None
        finally:
            steps_left -= search.steps
        return not ok

    core = [i for i, o in enumerate(base) if not o.indeterminate]
    # first cut: operations invoked after the blocked one returned cannot be ordered
    # before that return; relax them all at once when the rest still fails
    if blocked is not None:
        cut = [i for i in core if base[i].call <= blocked.ret]
        if len(cut) < len(core) and still_bad(cut):
            core = cut
    # then relax chunks, halving their size (ddmin's complement steps); at size one,
    # repeat the passes until none changes anything: then the core is 1-minimal
    minimal = True
    chunk = max(1, len(core) // 2)
    while True:
        changed = False
        i = 0
        while i < len(core):
            cand = core[:i] + core[i + chunk:]
            verdict = still_bad(cand) if cand else False
            if verdict is None:
                minimal = False
                break
            if verdict:
                core = cand
                changed = True
            else:
                i += chunk
        if not minimal:
            break
        if chunk > 1:
            chunk //= 2
        elif not changed:
            break
    return (Witness(tuple(base[i] for i in core), minimal, partial, s.best_state, blocked),
            budget.shrink_steps - steps_left)


def _relaxed(o: Operation) -> Operation:
    return Operation(o.id, o.f, o.input, None, o.call, o.ret, "indeterminate", o.key,
                     o.client, o.span)


def check(model: Model, ops: Iterable[Operation], *, budget: Budget = Budget(),
          stop_at_first: bool = False) -> Result:
    """Every key's verdict (P-compositionality): the history is linearizable iff each
    key's sub-history is. With ``stop_at_first`` (what Porcupine does), the smaller keys
    are searched first and the keys after the first violated one are not searched: each
    is ``inconclusive`` and says why. Results come in the order keys first appear."""
    keys = by_key(ops)
    order = list(keys)
    if stop_at_first:
        order.sort(key=lambda k: len(keys[k]))
    done: dict[Any, KeyResult] = {}
    left = budget.shrink_steps
    first = None
    for k in order:
        part = keys[k]
        if first is not None:
            done[k] = KeyResult(k, "inconclusive", len(part), 0,
                                f"not searched: key {first!r} is already violated")
            continue
        r = check_key(model, part, key=k, budget=replace(budget, shrink_steps=max(0, left)))
        left -= r.shrink_steps
        done[k] = r
        if stop_at_first and r.verdict == "violated":
            first = k
    return Result(model.name, tuple(done[k] for k in keys))
