"""Export automata as DOT, HOA v1 and JSON.

**Guards.**  Edges are grouped by (source, target) and labelled with a small
sum of products over the atom names (``p & !q | r``), computed by greedy
prime-implicant expansion.  In DOT, letters removed by Z3 pruning are
don't-cares, so guards read as the user would write them (``name_a``
instead of ``name_a & !name_b``).  In HOA guards are exact: infeasible
letters have no edge, so the automaton stays deterministic.  A guarded
automaton (a future formula over many letters, :mod:`tracelogic.automata.guarded`) has
each edge's BDD guard written directly in every format, as the disjoint cubes of its
paths; no letter is enumerated.

**HOA and finite words.**  HOA describes ω-automata; like Spot's LTLf
translation (``from_ltlf``) we add an atomic proposition ``alive`` that holds
while the finite trace lasts.  A finite word ``w`` is accepted iff
``w`` (with ``alive``) followed by ``!alive`` forever is accepted.  Edges of
the DFA carry ``alive``; every accepting DFA state has one ``[!alive]`` edge
to an extra state that loops on ``!alive`` in the (Büchi) acceptance set 0.
Spot's LTLf semantics exclude the empty word; our DFA's initial state
encodes the empty-trace convention, so an accepting initial state also has
the ``[!alive]`` edge (the word ``!alive`` forever stands for the empty
trace).

**JSON** (``tracelogic.automaton/1``) lists atoms, states with their
acceptance and RV verdict, and edges with both a guard and the explicit
letter masks.  Metric formulas compile to register monitors: only JSON can
describe them (their structure, not a finite graph).
"""
from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from tracelogic.logic.formula import Formula
from tracelogic.logic.printers import UnsupportedFormula, to_tracelogic

__all__ = ["to_dot", "to_hoa", "to_json", "automaton_text", "guard_cubes", "format_guard"]

Cube = tuple[int, int]  # (value, care): the letters m with m & care == value


def _points(value: int, care: int, n: int):
    free = [i for i in range(n) if not (care >> i) & 1]
    for k in range(1 << len(free)):
        m = value
        for j, i in enumerate(free):
            if (k >> j) & 1:
                m |= 1 << i
        yield m


def guard_cubes(on: set[int], allowed: set[int], n: int) -> list[Cube]:
    """A cover of ``on`` by cubes that stay inside ``allowed`` (``on`` plus don't-cares)."""
    if not on:
        return []
    full = (1 << n) - 1
    if len(allowed) == 1 << n:
        if on == allowed:
            return [(0, 0)]
    cubes: list[Cube] = []
    covered: set[int] = set()
    for m in sorted(on):
        if m in covered:
            continue
        value, care = m, full
        for i in range(n):  # greedy expansion: drop literal i while staying inside
            bit = 1 << i
            if not care & bit:
                continue
            c2 = care & ~bit
            v2 = value & c2
            if all(p in allowed for p in _points(v2, c2, n)):
                value, care = v2, c2
        cubes.append((value, care))
        covered.update(p for p in _points(value, care, n) if p in on)
    # drop cubes whose on-points are covered by the others
    kept = list(cubes)
    for c in list(cubes):
        others = [d for d in kept if d is not c]
        pts = {p for p in _points(*c, n) if p in on}
        if others and all(any((p & d[1]) == d[0] for d in others) for p in pts):
            kept.remove(c)
    return kept


def format_guard(cubes: Sequence[Cube], names: Sequence[str], *, style: str = "text") -> str:
    """``style='text'``: ``p & !q | r``; ``style='hoa'``: ``0&!1 | 2``."""
    n = len(names)
    if not cubes:
        return "false" if style == "text" else "f"
    if any(care == 0 for _, care in cubes):
        return "true" if style == "text" else "t"
    terms = []
    for value, care in cubes:
        lits = []
        for i in range(n):
            if (care >> i) & 1:
                a = names[i] if style == "text" else str(i)
                neg = not (value >> i) & 1
                lits.append(("!" if neg else "") + a)
        terms.append((" & " if style == "text" else "&").join(lits))
    if style == "hoa" and len(terms) > 1:
        terms = [f"({t})" if "&" in t else t for t in terms]
    return " | ".join(terms)


def _names(atoms: Sequence[Hashable], names: Mapping[Hashable, str] | None) -> list[str]:
    names = names or {}
    return [names.get(a, str(a)) for a in atoms]


def _symbolic(mon) -> bool:
    """A guarded monitor (automata.guarded): its edges are BDD guards."""
    return getattr(mon, "guarded", False)


def _guard_edges(mon, names: list[str], style: str) -> list[tuple[int, int, str]]:
    """``(source, target, guard text)`` of a guarded monitor: the guard of each pair of
    states written from its BDD directly (its paths, disjoint cubes), never from letters."""
    return [(s, t, format_guard(mon.guard_cubes(g), names, style=style))
            for s, t, g in mon.edges()]


def _edges(mon) -> dict[tuple[int, int], set[int]]:
    dfa = mon.automaton.dfa
    groups: dict[tuple[int, int], set[int]] = {}
    for s, row in enumerate(dfa.delta):
        for k, m in enumerate(dfa.letters):
            groups.setdefault((s, row[k]), set()).add(m)
    return groups


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(mon, names: Mapping[Hashable, str] | None = None) -> str:
    """Graphviz DOT of a table monitor (don't-care-simplified guards)."""
    labels = _names(mon.atoms, names)
    n = len(labels)
    feasible = set() if _symbolic(mon) else set(mon.automaton.dfa.letters)
    allowed_all = set() if _symbolic(mon) else set(range(1 << n))
    title = _dot_escape(to_tracelogic(mon.formula, names))
    out = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [shape=circle, fontname="Helvetica"];',
           '  edge [fontname="Helvetica"];', '  __init [shape=point, label=""];',
           f"  __init -> {mon.initial};"]
    for s in range(mon.n_states):
        shape = "doublecircle" if mon.accepting[s] else "circle"
        v = mon.verdicts[s].value
        out.append(f'  {s} [shape={shape}, tooltip="{v}"];')
    if _symbolic(mon):
        for s, t, g in _guard_edges(mon, labels, "text"):
            out.append(f'  {s} -> {t} [label="{_dot_escape(g)}"];')
        out.append("}")
        return "\n".join(out) + "\n"
    dontcare = allowed_all - feasible
    for (s, t), letters in sorted(_edges(mon).items()):
        cubes = guard_cubes(letters, letters | dontcare, n)
        g = _dot_escape(format_guard(cubes, labels))
        out.append(f'  {s} -> {t} [label="{g}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _hoa_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_hoa(mon, names: Mapping[Hashable, str] | None = None) -> str:
    """HOA v1 with Spot's ``alive`` convention for finite words (exact guards)."""
    labels = _names(mon.atoms, names)
    n = len(labels)
    alive = n
    sink = mon.n_states
    out = ["HOA: v1", f"name: {_hoa_quote(to_tracelogic(mon.formula, names))}",
           f"States: {mon.n_states + 1}", f"Start: {mon.initial}",
           "AP: " + " ".join([str(n + 1)] + [_hoa_quote(x) for x in labels] + ['"alive"']),
           "acc-name: Buchi", "Acceptance: 1 Inf(0)",
           "properties: trans-labels explicit-labels state-acc deterministic",
           "--BODY--"]
    by_src: dict[int, list[tuple[int, str]]] = {}
    if _symbolic(mon):  # the BDD guards, written directly
        for s, t, g in _guard_edges(mon, labels, "hoa"):
            by_src.setdefault(s, []).append((t, g))
    else:
        for (s, t), letters in _edges(mon).items():
            by_src.setdefault(s, []).append(
                (t, format_guard(guard_cubes(letters, letters, n), labels, style="hoa")))
    for s in range(mon.n_states):
        out.append(f"State: {s}")
        for t, g in sorted(by_src.get(s, [])):
            if g == "t":
                lab = str(alive)
            elif "|" in g:
                lab = f"({g})&{alive}"
            else:
                lab = f"{g}&{alive}"
            out.append(f"[{lab}] {t}")
        if mon.accepting[s]:
            out.append(f"[!{alive}] {sink}")
    out.append(f"State: {sink} {{0}}")
    out.append(f"[!{alive}] {sink}")
    out.append("--END--")
    return "\n".join(out) + "\n"


def to_json(mon, names: Mapping[Hashable, str] | None = None) -> str:
    """``tracelogic.automaton/1``; a guarded automaton (``"symbolic": true``) lists no
    letters per transition (null) but ``cubes`` (``[value, care]`` masks), and no
    letters at all over a symbolic alphabet."""
    labels = _names(mon.atoms, names)
    if _symbolic(mon):
        return json.dumps(_symbolic_doc(mon, labels, names), indent=2) + "\n"
    n = len(labels)
    feasible = set(mon.automaton.dfa.letters)
    dontcare = set(range(1 << n)) - feasible
    doc: dict[str, Any] = {
        "schema": "tracelogic.automaton/1",
        "kind": "dfa",
        "formula": to_tracelogic(mon.formula, names),
        "atoms": labels,
        "letters": sorted(feasible),
        "pruned": bool(dontcare),
        "initial": mon.initial,
        "states": [{"id": s, "accepting": mon.accepting[s], "verdict": mon.verdicts[s].value,
                    "decided": mon.decided[s]} for s in range(mon.n_states)],
        "transitions": [
            {"from": s, "to": t, "letters": sorted(letters),
             "guard": format_guard(guard_cubes(letters, letters | dontcare, n), labels)}
            for (s, t), letters in sorted(_edges(mon).items())],
    }
    return json.dumps(doc, indent=2) + "\n"


def _symbolic_doc(mon, labels: list[str], names) -> dict[str, Any]:
    return {
        "schema": "tracelogic.automaton/1",
        "kind": "dfa",
        "formula": to_tracelogic(mon.formula, names),
        "atoms": labels,
        "letters": None if mon.alphabet.letters is None else list(mon.alphabet.letters),
        "symbolic": True,
        "pruned": bool(mon.alphabet.pruned),
        "initial": mon.initial,
        "states": [{"id": s, "accepting": mon.accepting[s], "verdict": mon.verdicts[s].value,
                    "decided": mon.decided[s]} for s in range(mon.n_states)],
        "transitions": [
            {"from": s, "to": t, "letters": None,
             "cubes": [list(c) for c in mon.guard_cubes(g)],
             "guard": format_guard(mon.guard_cubes(g), labels)}
            for s, t, g in mon.edges()],
    }


def _timed_json(mon, names: Mapping[Hashable, str] | None) -> str:
    labels = _names(mon.atoms, names)
    past = mon.past
    doc: dict[str, Any] = {
        "schema": "tracelogic.automaton/1",
        "kind": "register-monitor",
        "formula": to_tracelogic(mon.formula, names),
        "atoms": labels,
        "past": None if past is None else {
            "outputs": [to_tracelogic(f, names) for f in past.outputs],
            "layers": [{"states": table.dfa.n_states,
                        "units": [{"formula": to_tracelogic(u.node, names),
                                   "interval_ns": [u.lo, u.hi],
                                   "register_bound": u.bound()} for u in units]}
                       for table, units in past.layers],
            "top_states": past.top.dfa.n_states,
        },
        "future": {"formula": to_tracelogic(mon.future.formula, names),
                   "explored_states": len(mon.future.states),
                   "note": "obligations are explored lazily; registers hold anchor timestamps"},
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


def automaton_text(formula: Formula, fmt: str, names: dict | None = None, *,
                   backend: str = "native", encode=None) -> str:
    """The automaton of ``formula`` as ``dot``, ``hoa`` or ``json`` text (for the CLI)."""
    from tracelogic.automata.backends import get_backend
    from tracelogic.automata.construction import compile_monitor

    if fmt not in ("dot", "hoa", "json"):
        from tracelogic.errors import InputError
        raise InputError(f"unknown automaton format {fmt!r}", value=fmt,
                         hint="use one of dot, hoa, json")
    be = get_backend(backend)
    if be.name != "native":
        from tracelogic.automata.monitor import TableMonitor
        mon: Any = TableMonitor(be.translate(formula, encode=encode))
    else:
        mon = compile_monitor(formula, encode=encode)
    if getattr(mon, "whole_trace", False):
        raise UnsupportedFormula(
            f"{to_tracelogic(formula, names)} has time bounds and a past operator over a future "
            "one: no automaton describes it yet (a monitor evaluates it over the whole trace)",
            value=formula, hint="drop the bounds to see the untimed DFA")
    if mon.timed:
        if fmt == "json":
            return _timed_json(mon, names)
        raise UnsupportedFormula(
            f"{to_tracelogic(formula, names)} has metric bounds: it compiles to a monitor with "
            f"timestamp registers, which {fmt.upper()} cannot describe", value=formula,
            hint="use --format json for its structure, or drop the bounds to see the untimed DFA")
    if fmt == "dot":
        return to_dot(mon, names)
    if fmt == "hoa":
        return to_hoa(mon, names)
    return to_json(mon, names)
