"""The model-checking engines behind one registry with capabilities, as automata/backends.py
does for automata: what each engine can check and how, in one table instead of string
comparisons spread over the checks.

* ``auto`` (default): k-induction, an explicit search of up to 100,000 states, PDR, then
  the explicit search up to the state bound, until one decides; LTL by the explicit
  tableau product.
* ``explicit``: breadth-first search of the reachable states (exact when they fit).
* ``kind``: k-induction on Z3; ``pdr``: Z3's Spacer.
* ``nusmv``: NuSMV through pynusmv (BDDs), invariants and LTL; where ``import pynusmv``
  fails, its checks are ``unknown`` with the reason (models/nusmv.py).

Light to import (no Z3): the command line lists the names at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass

from tracelogic.errors import InputError

__all__ = ["ModelEngine", "ENGINES", "get_engine"]


@dataclass(frozen=True)
class ModelEngine:
    """``invariant_steps``: what :func:`~tracelogic.models.check.check_invariant` runs, in
    order, until one decides (``kind``, ``explicit-small``, ``pdr``, ``explicit``, or
    ``nusmv``); ``ltl``: the engine that decides LTL checks under this choice."""

    name: str
    invariant_steps: tuple[str, ...]
    ltl: str = "explicit"
    capabilities: frozenset[str] = frozenset({"invariant", "deadlock"})


_REGISTRY: dict[str, ModelEngine] = {e.name: e for e in (
    ModelEngine("auto", ("kind", "explicit-small", "pdr", "explicit")),
    ModelEngine("explicit", ("explicit",)),
    ModelEngine("kind", ("kind",)),
    ModelEngine("pdr", ("pdr",)),
    ModelEngine("nusmv", ("nusmv",), ltl="nusmv",
                capabilities=frozenset({"invariant", "deadlock", "ltl"})),
)}

ENGINES: tuple[str, ...] = tuple(_REGISTRY)


def get_engine(name: str) -> ModelEngine:
    """The engine ``name``; :class:`InputError` naming the choices for an unknown one."""
    engine = _REGISTRY.get(name)
    if engine is None:
        raise InputError(f"engine={name!r}: expected one of {', '.join(ENGINES)}", value=name)
    return engine
