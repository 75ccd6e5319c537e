"""The brute-force linearizability oracle: independent of the search it checks.

It tries every subset of the indeterminate operations (each may never take effect) and
every permutation of the chosen operations, keeps those that respect real-time order,
and runs the model over the whole history (one state per key, no partitioning). Only for
small histories: it refuses more than :data:`MAX_OPS` operations.
"""
from __future__ import annotations

from itertools import combinations, permutations
from typing import Callable, Final, Sequence

from .history import Operation, usable
from .models import ILLEGAL, Model

__all__ = ["MAX_OPS", "linearizable", "sequentially_consistent"]

MAX_OPS: Final = 8


def linearizable(model: Model, ops: Sequence[Operation]) -> bool:
    """True iff some order of the operations (indeterminate ones optional) respects
    real-time order and the model accepts every determinate output in it."""
    return _some_order(model, ops, _respects_real_time)


def sequentially_consistent(model: Model, ops: Sequence[Operation]) -> bool:
    """True iff some order of the operations (indeterminate ones optional) keeps each
    client's order of invocation and the model accepts every determinate output in it."""
    return _some_order(model, ops, _respects_program_order)


def _some_order(model: Model, ops: Sequence[Operation],
                allowed: Callable[[Sequence[Operation]], bool]) -> bool:
    """Every permutation of the determinate operations plus any subset of the
    indeterminate ones, tried in turn: an order ``allowed`` keeps that the model accepts."""
    ops = usable(ops)
    if len(ops) > MAX_OPS:
        raise ValueError(f"{len(ops)} operations: the oracle tries every permutation and "
                         f"takes at most {MAX_OPS}")
    sure = [o for o in ops if not o.indeterminate]
    maybe = [o for o in ops if o.indeterminate]
    for r in range(len(maybe) + 1):
        for extra in combinations(maybe, r):
            for order in permutations(sure + list(extra)):
                if allowed(order) and _legal(model, order):
                    return True
    return False


def _respects_program_order(order: Sequence[Operation]) -> bool:
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b.client == a.client and (b.call, b.id) < (a.call, a.id):
                return False
    return True


def _respects_real_time(order: Sequence[Operation]) -> bool:
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b.precedes(a):
                return False
    return True


def _legal(model: Model, order: Sequence[Operation]) -> bool:
    states: dict = {}
    for o in order:
        st = states.get(o.key, model.init)
        new = model.step(st, model.canonical(o.f), o.input, o.output, not o.indeterminate)
        if new is ILLEGAL:
            return False
        states[o.key] = new
    return True
