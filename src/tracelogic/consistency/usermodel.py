"""A state machine of the spec's model language (§7) as a sequential specification, as
Porcupine takes a Go step function.

An operation names an action (case does not matter): it is legal where the action's
guard holds, and its assignments give the next state. §7 actions take no arguments and
return nothing, so inputs and outputs are not checked: the checkers ask whether the
operations can be ordered so that every action is enabled when it runs (a lock's
``acquire`` and ``release``, a breaker's ``trip`` and ``cool``). Actions that assign
nothing are read-only.
"""
from __future__ import annotations

from typing import Any, Callable

from tracelogic.models.machine import Machine
from tracelogic.spec.typed import ModelT

from .models import ILLEGAL, Model

__all__ = ["from_spec_model"]


def from_spec_model(spec_model: ModelT) -> Model:
    """The :class:`~.models.Model` of a typed §7 model."""
    machine = Machine(spec_model)

    def step_of(index: int) -> Callable[[Any, Any, Any, bool], Any]:
        def step(state: Any, inp: Any, out: Any, known: bool) -> Any:
            for i, nxt in machine.successors(state):
                if i == index:
                    return nxt
            return ILLEGAL
        return step

    steps = {a.name.lower(): step_of(i) for i, a in enumerate(spec_model.actions)}
    readonly = frozenset(a.name.lower() for a in spec_model.actions if not a.assigns)
    return Model(spec_model.name, machine.init, steps,
                 f"the spec's model `{spec_model.name}` (§7)", readonly)
