"""The plan: the part of a compiled spec that the native core runs (docs/native.md).

Python compiles the typed spec (:class:`~.engine.CompiledSpec`); this module turns the
properties the core can run into plain data, the *plan*, which ``tracelogic._native``
executes without the GIL:

* the **atom program**: every atomic predicate those properties read, emitted from the one
  semantics layer (:mod:`tracelogic.semantics.atoms`, which mirrors the generated Python code node by node);
* per property: its scope (``trace``, ``key`` with the program's value expression of its
  scope key, or ``global``), which plan atoms make its letter (bit ``i`` of the property's
  letter is plan atom ``atoms[i]``; with registers, bit ``bits[i]``, and the other bits are
  the atoms of the program's register entry ``registers``, which each instance evaluates
  with its own ``prev``/``last`` values), its trigger atoms (for vacuity), and its automaton
  **per state as guards over the letter's bits**: cubes ``(care, value, target)`` tried in
  order, then a ``default`` target. No table over all 2^k letters: the core fills a
  (state, letter) -> target cache as letters occur. An aggregate property has no letter:
  ``samples`` names its entry in the program's ``samples`` list, the values the core takes
  per span for Python to aggregate.

A property the core cannot run gets the reason instead, and runs in the Python engine.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracelogic.automata.monitor import TableMonitor, Verdict
from tracelogic.engine.compiled import CompiledProperty, CompiledSpec
from tracelogic.semantics.codegen import uses_registers
from tracelogic.spec.typed import TExpr

__all__ = ["NativePlan", "build_plan", "property_reason", "guards", "timed", "PLAN_VERSION",
           "MAX_LETTER_BITS"]

PLAN_VERSION = 3
MAX_LETTER_BITS = 64  # a property's letter is one machine word in the core


@dataclass(frozen=True)
class NativePlan:
    """The properties the core runs, in plan order, and the plan document it executes."""

    properties: tuple[CompiledProperty, ...]
    fallbacks: dict[str, str]      # property name -> why it runs in the Python engine
    atoms: tuple[TExpr, ...]       # the plan's atoms, in program order
    document: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.document, separators=(",", ":"))


def property_reason(cp: CompiledProperty) -> str | None:
    """Why the core cannot run ``cp`` as a property kind (None: it can, atoms permitting)."""
    prop = cp.prop
    if cp.sees_logs:
        return ("it reads log records, which run in the Python engine (issue 19; "
                "docs/logs.md)")
    if prop.kind not in ("formula", "aggregate"):
        return f"`{prop.kind}` properties run in the Python engine until issue 17 step 4"
    if prop.scope == "key":
        from tracelogic.semantics.atoms import Unsupported, key_value

        key = key_value(prop.scope_key) if prop.scope_key is not None else \
            Unsupported("a scope without a key")
        if isinstance(key, Unsupported):
            return key.reason
    if prop.kind == "aggregate":
        return None  # the core samples; Python computes the aggregates (sample_program)
    if cp.timed:
        if getattr(cp.monitor, "whole_trace", False):
            return ("a past operator over a future one with time bounds is evaluated over "
                    "the whole trace by the reference evaluator, in the Python engine")
        if cp.n_registers:
            return "prev()/last() registers in a property with time bounds run in the Python engine"
        if cp.monitor.past is not None:
            from tracelogic.engine.past_plan import past_document

            past = past_document(cp.monitor.past)
            if isinstance(past, str):
                return past
            if cp.monitor.n + len(cp.monitor.past.outputs) > MAX_LETTER_BITS:
                return (f"the atoms and the past stage's outputs of a timed property take more "
                        f"than {MAX_LETTER_BITS} letter bits")
        if cp.monitor.alphabet.symbolic and cp.monitor.alphabet.pruned:
            return ("a timed property over a symbolic alphabet pruned by Z3 has no list of "
                    "feasible letters to give the core")
        twin = cp.untimed
        if twin is not None and not set(twin.monitor.atoms) <= set(cp.monitor.atoms):
            return "the untimed twin of a timed property reads atoms its timed monitor does not"
    elif not isinstance(cp.monitor, TableMonitor):
        return f"{type(cp.monitor).__name__} monitors run in the Python engine"
    if len(cp.monitor.atoms) > MAX_LETTER_BITS:
        return f"more than {MAX_LETTER_BITS} atoms in one property"
    return None


def build_plan(compiled: CompiledSpec, candidates: list[CompiledProperty]) -> NativePlan:
    """The plan for those of ``candidates`` (properties the engine registry routed to the
    core) whose kind and atoms the core can run; the others are in ``fallbacks``."""
    from tracelogic.semantics.atoms import Unsupported, key_value, program as atom_program

    by_global = {i: a for a, i in compiled.atoms.items()}
    fallbacks: dict[str, str] = {}
    wanted: list[tuple[CompiledProperty, list[TExpr], list[TExpr]]] = []
    for cp in candidates:
        reason = property_reason(cp)
        if reason is not None:
            fallbacks[cp.name] = reason
            continue
        wanted.append((cp, _shared_atoms(cp), [by_global[g] for g in cp.triggers]))
    # one program for every atom of the remaining properties; a property with an atom (or
    # registers) the program cannot hold falls back, and the program is built again
    # without its atoms
    while True:
        atoms: dict[TExpr, int] = {}
        for _, mine, trig in wanted:
            for a in [a for _, a in mine] + trig:
                atoms.setdefault(a, len(atoms))
        order = list(atoms)
        values: dict[TExpr, int] = {}  # scope key -> value expression (shared by its properties)
        for cp, _, _ in wanted:
            if cp.prop.scope == "key":
                values.setdefault(cp.prop.scope_key, len(values))
        with_regs = [cp for cp, _, _ in wanted if cp.n_registers]
        with_aggs = [cp for cp, _, _ in wanted if cp.prop.kind == "aggregate"]
        built = atom_program(order, [key_value(k) for k in values],
                             [(_register_atoms(cp), cp.register_nodes) for cp in with_regs],
                             [[n for n, _, _ in cp.aggregates] for cp in with_aggs])
        program = built.program
        bad = {order[i]: why for i, why in built.unsupported.items()}
        # property -> its register or sample entry in the program, or why it has none
        entries = dict(zip((cp.name for cp in with_regs), built.registers))
        entries.update(zip((cp.name for cp in with_aggs), built.samples))
        if not bad and not any(isinstance(r, Unsupported) for r in entries.values()):
            break
        keep = []
        for cp, mine, trig in wanted:
            why = next((bad[a] for _, a in mine if a in bad),
                       next((bad[a] for a in trig if a in bad), None))
            entry = entries.get(cp.name)
            if why is None and isinstance(entry, Unsupported):
                why = entry.reason
            if why is None:
                keep.append((cp, mine, trig))
            else:
                fallbacks[cp.name] = f"an atom the core cannot run yet: {why}"
        wanted = keep
    props = []
    for cp, mine, trig in wanted:
        scope = cp.prop.scope
        prop = {
            "name": cp.name,
            "scope": scope,
            "key": values[cp.prop.scope_key] if scope == "key" else None,
            "atoms": [atoms[a] for _, a in mine],
            "trigger": sorted({atoms[a] for a in trig}),
            **(_NO_AUTOMATON if cp.monitor is None
               else timed(cp) if cp.timed else guards(cp.monitor)),
        }
        if cp.n_registers:
            # bit `bits[i]` of the letter is plan atom `atoms[i]`; the others are the
            # register atoms of program register entry `registers`, per instance
            prop["bits"] = [bit for bit, _ in mine]
            prop["registers"] = entries[cp.name]
        if cp.prop.kind == "aggregate":
            # the program's sample entry `samples`, taken at each span's end event
            prop["samples"] = entries[cp.name]
        props.append(prop)
    document = {"version": PLAN_VERSION, "program": program, "properties": props}
    return NativePlan(tuple(cp for cp, _, _ in wanted), fallbacks, tuple(order), document)


# an aggregate property steps no automaton: the plan gives it one state that every letter
# keeps (the core reads every property's automaton alike)
_NO_AUTOMATON = {"initial": 0, "states": [{"cubes": [], "default": 0, "decided": False,
                                           "pv": False}]}


def _shared_atoms(cp: CompiledProperty) -> list[tuple[int, TExpr]]:
    """The (bit, atom) pairs of ``cp``'s letter that are plan atoms (the global letter's,
    ``CompiledSpec._automaton``): all but the register atoms, which each instance evaluates
    with its own registers. An aggregate property has no letter."""
    if cp.monitor is None:
        return []
    return [(bit, a) for bit, a in enumerate(cp.monitor.atoms) if not uses_registers(a)]


def _register_atoms(cp: CompiledProperty) -> list[tuple[int, TExpr]]:
    """The (bit, atom) pairs of ``cp``'s letter that read its registers, in bit order (the
    checks of its generated ``regs``)."""
    if cp.monitor is None:
        return []
    return [(bit, a) for bit, a in enumerate(cp.monitor.atoms) if uses_registers(a)]


def guards(mon: TableMonitor) -> dict[str, Any]:
    """The automaton of ``mon`` per state as guards: ``{"initial", "states": [{"cubes":
    [[care, value, target], ...], "default", "decided", "pv"}]}``.

    Each state's letters are grouped by target and merged into cubes (two cubes of one
    target that differ in one cared-for bit become one without it, as in Quine–McCluskey's
    first phase). The target reached by the most letters becomes the ``default`` and needs
    no cube, unless the alphabet was pruned: then the default is the infeasible-letter state,
    exactly as the Python engine's table sends every letter Z3 ruled out there.
    """
    if mon.guarded:
        return _symbolic_guards(mon)
    dfa = mon.automaton.dfa
    full = (1 << mon.alphabet.n) - 1
    pruned = mon.infeasible_state is not None
    states = []
    for s, row in enumerate(dfa.delta):
        by_target: dict[int, list[int]] = {}
        for k, m in enumerate(dfa.letters):
            by_target.setdefault(row[k], []).append(m)
        if pruned:
            default = mon.infeasible_state
        else:
            default = max(by_target, key=lambda t: (len(by_target[t]), -t))
            del by_target[default]
        cubes = [[care, value, t] for t, masks in sorted(by_target.items())
                 for care, value in _merge(masks, full)]
        states.append(_state(mon, s, cubes, default))
    if pruned:  # the infeasible-letter sink
        states.append(_state(mon, mon.infeasible_state, [], mon.infeasible_state))
    return {"initial": mon.initial, "states": states}


def _symbolic_guards(mon: Any) -> dict[str, Any]:
    """:func:`guards` of a :class:`~tracelogic.automata.guarded.GuardedMonitor`: the cubes
    are the paths of each edge's BDD guard (disjoint, so their order does not matter).
    The default is the target whose guard takes the most cubes, or, when Z3 pruned the
    alphabet, the infeasible-letter state (no guard holds an infeasible letter)."""
    pruned = mon.infeasible_state is not None
    by_state: dict[int, list[tuple[int, list[tuple[int, int]]]]] = {}
    for s, t, g in mon.edges():
        by_state.setdefault(s, []).append((t, mon.guard_cubes(g)))
    states = []
    for s in range(mon.n_states):
        edges = by_state.get(s, [])
        if pruned or not edges:
            default = mon.infeasible_state if pruned else s
        else:
            default = max(edges, key=lambda e: (len(e[1]), -e[0]))[0]
        cubes = [[care, value, t] for t, cs in edges if t != default or pruned
                 for value, care in cs]
        states.append(_state(mon, s, cubes, default))
    if pruned:
        states.append(_state(mon, mon.infeasible_state, [], mon.infeasible_state))
    return {"initial": mon.initial, "states": states}


#: the automaton of a timed property without an untimed twin: never stepped
_NO_TWIN = {"initial": 0, "states": [{"cubes": [], "default": 0, "decided": False,
                                      "pv": False}]}


def timed(cp: CompiledProperty) -> dict[str, Any]:
    """A timed property (a ``TimedMonitor``, with its past stage if any) for the core: ``timed``
    holds ``memo_ns`` (a per-trace trace lasting at most this long is stepped on the
    untimed twin, as ``CompiledProperty.by_letters`` does; None: never) and ``feasible``
    (the letters Z3 left, when it pruned the alphabet; None: all). The automaton is the
    twin's guards, its bits renumbered into the timed monitor's letter. The timed monitor
    itself is not in the plan: the core asks ``native_run.TimedOracle`` for its states
    and transitions as it meets them."""
    mon = cp.monitor
    twin = cp.untimed if cp.prop.scope == "trace" else None  # cross-trace: always timed
    auto = _NO_TWIN
    if twin is not None:
        pos = [mon.atoms.index(a) for a in twin.monitor.atoms]
        auto = guards(twin.monitor)
        for st in auto["states"]:
            st["cubes"] = [[_renumber(care, pos), _renumber(value, pos), t]
                           for care, value, t in st["cubes"]]
    alph = mon.alphabet
    section = {"memo_ns": None if twin is None else min(cp.memo_ns, 2**64 - 1),
               "feasible": list(alph.letters) if alph.pruned else None}
    if twin is not None:  # to name the event that opened a broken obligation (Monitor._opened)
        section["violated"] = [s for s, v in enumerate(twin.monitor.verdicts)
                               if v is Verdict.VIOLATED]
    if mon.past is not None:  # its outputs are letter bits above the atoms' (TimedMonitor)
        from tracelogic.engine.past_plan import past_document

        section["past"] = past_document(mon.past)
    return {**auto, "timed": section}


def _renumber(mask: int, pos: list[int]) -> int:
    out = 0
    for i, p in enumerate(pos):
        out |= ((mask >> i) & 1) << p
    return out


def _state(mon: TableMonitor, s: int, cubes: list, default: int) -> dict[str, Any]:
    return {"cubes": cubes, "default": default, "decided": bool(mon.decided[s]),
            "pv": mon.verdicts[s] is Verdict.PRESUMABLY_VIOLATED}


def _merge(masks: list[int], full: int) -> list[tuple[int, int]]:
    """Cubes ``(care, value)`` covering exactly ``masks`` (letters over ``full``'s bits)."""
    cubes = {(full, m) for m in masks}
    bit = 1
    while bit <= full:
        merged = set()
        for care, value in cubes:
            if care & bit and not value & bit and (care, value | bit) in cubes:
                merged.add((care, value))
        if merged:
            for care, value in merged:
                cubes.discard((care, value))
                cubes.discard((care, value | bit))
                cubes.add((care & ~bit, value))
        bit <<= 1
    return sorted(cubes)
