"""Sequential consistency (Lamport, 1979): some total order of the operations keeps each
client's own order (program order, by invocation time) and is legal for the model.
Unlike linearizability it ignores real time between clients, and it is not local: the
keys cannot be checked apart (Herlihy and Wing, 1990), so one search covers them all.

The search is a depth-first walk over "how far each client has got", memoised on
(positions, per-key states): from a node it tries each client's next operation. An
indeterminate operation may take effect there or never (two branches); failed ones are
left out, indeterminate read-only ones constrain nothing and are dropped. A
:class:`~.linearizability.Budget` bounds the steps; past it the verdict is
``inconclusive``.
"""
from __future__ import annotations

from typing import Any, Iterable

from .history import Operation, usable
from .linearizability import Budget, KeyResult, Result, Witness
from .models import ILLEGAL, Model

__all__ = ["check_sequential"]


def check_sequential(model: Model, ops: Iterable[Operation], *,
                     budget: Budget = Budget()) -> Result:
    """The history's sequential-consistency verdict, as one result over all keys (the key
    of its single :class:`KeyResult` is ``None``)."""
    ops = [o for o in usable(ops)
           if not (o.indeterminate and model.canonical(o.f) in model.readonly)]
    keys: dict[Any, int] = {}
    for o in ops:
        keys.setdefault(o.key, len(keys))
    clients: dict[str, list[Operation]] = {}
    for o in sorted(ops, key=lambda o: (o.call, o.id)):
        clients.setdefault(o.client, []).append(o)
    queues = list(clients.values())
    steps_of = [[(model.step_function(model.canonical(o.f)), keys[o.key], o) for o in q]
                for q in queues]
    start = (tuple(0 for _ in queues), tuple(model.init for _ in keys))
    seen = {start}
    stack: list[tuple[tuple, tuple, tuple]] = [(start[0], start[1], ())]
    steps = 0
    best: tuple = ()
    best_state: Any = start[1]
    limit = budget.steps
    while stack:
        pos, states, order = stack.pop()
        if len(order) > len(best):
            best, best_state = order, states
        if all(p == len(q) for p, q in zip(pos, queues)):
            return Result(model.name, (KeyResult(None, "satisfied", len(ops), steps),))
        for c, q in enumerate(queues):
            p = pos[c]
            if p == len(q):
                continue
            steps += 1
            if limit is not None and steps > limit:
                return Result(model.name, (KeyResult(
                    None, "inconclusive", len(ops), steps,
                    f"the search ran out of its budget of {limit} steps"),))
            fn, k, o = steps_of[c][p]
            npos = pos[:c] + (p + 1,) + pos[c + 1:]
            new = fn(states[k], o.input, o.output, not o.indeterminate)
            if new is not ILLEGAL:
                nstates = states[:k] + (new,) + states[k + 1:]
                if (npos, nstates) not in seen:
                    seen.add((npos, nstates))
                    stack.append((npos, nstates, order + (o,)))
            if o.indeterminate and (npos, states) not in seen:  # it never took effect
                seen.add((npos, states))
                stack.append((npos, states, order))
    state = best_state[0] if len(keys) == 1 else dict(zip(keys, best_state))
    w = Witness(tuple(ops), False, best, state, None)
    return Result(model.name, (KeyResult(None, "violated", len(ops), steps, witness=w),))
