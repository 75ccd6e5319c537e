"""Workflow languages built by the automaton kernel equal the ones the old workflow stack built.

Until commit 90bc5a6, workflows had their own DFA type (``EventDFA``), their own subset
construction and their own (Moore) minimiser, and the Petri-net language a third copy of
the subset construction. Now both go through :mod:`tracelogic.automata.subset` and
:func:`tracelogic.automata.dfa.minimize`. Two oracles show that nothing changed:

1. **The old implementation's own results, recorded before it was deleted.**
   ``data/workflow_languages_90bc5a6.json`` holds, for every workflow declared in a spec
   under ``examples/`` or in a ```` ```spec ```` block of ``docs/`` and for 300 seeded
   random workflows (:func:`tests.models.workflow_samples.seeded_workflow`), the tables
   the old code produced: ``forward_dfa``, the Petri net's ``lts_dfa`` and ``conforms_dfa``
   (with compensations). It was written by running the old ``tracelogic.models.workflow``
   and ``tracelogic.models.petri`` of commit 90bc5a6 over those workflows. A minimal DFA
   with the canonical breadth-first numbering is unique, so equal languages give equal
   tables: the comparison is exact, not sampled, and it also shows that the runtime's
   ``conforms`` tables (state numbers included) are unchanged.
2. **An independent oracle for workflows Hypothesis generates:** every word of length at
   most ``BOUND``, enumerated straight from the algebra's definitions (concatenation,
   union, shuffle, star as set operations on words, :func:`words_upto`), must be exactly
   the words of that length the kernel's DFA accepts, for the forward language and for the
   Petri net's language alike.
"""
from __future__ import annotations

import json
import os
from collections import deque
from itertools import combinations
from pathlib import Path

from hypothesis import given, settings

from tracelogic.automata.dfa import DFA, live_states
from tracelogic.models.petri import lts_dfa
from tracelogic.models.workflow import (END, START, Alt, Event, Opt, Par, Seq, Skip, Star, Step,
                                        Wf, conforms_dfa, forward_dfa, from_ast, show, steps_of)
from tests.models.strategies import workflows
from tests.models.workflow_samples import SEEDS, documented_workflows, seeded_workflow

RECORDED = json.loads((Path(__file__).parent / "data" / "workflow_languages_90bc5a6.json")
                      .read_text())
LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
N = 300 if LONG else 60
BOUND = 6


def table(d: DFA) -> dict:
    """The recorded form of a language DFA: event letters as text, the accepting states."""
    return {"alphabet": [repr(e) for e in d.letters], "delta": [list(r) for r in d.delta],
            "initial": d.initial, "accepting": [s for s, o in enumerate(d.output) if o]}


def automata_of(w: Wf, compensations: list[str]) -> dict:
    return {"workflow": show(w), "compensations": compensations,
            "forward": table(forward_dfa(w)), "petri": table(lts_dfa(w)),
            "conforms": table(conforms_dfa(w, compensations))}


def test_documented_workflows_have_the_recorded_automata():
    found = documented_workflows()
    gone = sorted(set(RECORDED["documented"]) - set(found))
    assert not gone, f"recorded workflows no longer documented: {gone}"
    for key, recorded in RECORDED["documented"].items():
        wf = found[key]
        comps = [c for _, c in wf.compensations]
        assert automata_of(from_ast(wf.expr), comps) == recorded, key


def test_workflows_documented_since_the_recording_have_the_enumerated_languages():
    """The old stack cannot run on workflows documented after it was deleted: those meet
    the enumeration oracle instead (words of length <= BOUND)."""
    for key, wf in documented_workflows().items():
        if key in RECORDED["documented"]:
            continue
        w = from_ast(wf.expr)
        expected = words_upto(w, BOUND)
        assert accepted_upto(forward_dfa(w), BOUND) == expected, key
        assert accepted_upto(lts_dfa(w), BOUND) == expected, key


def test_seeded_workflows_have_the_recorded_automata():
    recorded = RECORDED["seeded"]
    assert [r["seed"] for r in recorded] == list(SEEDS)
    for r in recorded:
        w = seeded_workflow(r["seed"])
        got = automata_of(w, r["compensations"])
        assert got["workflow"] == r["workflow"], "the seeded generator changed"
        assert {**got, "seed": r["seed"]} == r, r["workflow"]


def test_the_recorded_oracle_is_not_vacuous():
    """The recorded sample exercises every operator and non-trivial automata, and the
    comparison notices a different language."""
    texts = " ".join(r["workflow"] for r in RECORDED["seeded"])
    for op in (";", "||", "+", "*", "?", "skip"):
        assert op in texts
    assert max(len(r["conforms"]["delta"]) for r in RECORDED["seeded"]) > 50
    first = RECORDED["seeded"][1]
    other = automata_of(seeded_workflow(2), first["compensations"])
    assert other["forward"] != first["forward"]


# ---------------------------------------------------------------- brute-force oracle


def words_upto(w: Wf, n: int) -> frozenset[tuple[Event, ...]]:
    """Every word of ``w``'s forward language of length at most ``n``, by the definitions.

    Recursive on purpose (it mirrors the algebra, as models/semantics.py does); the
    generated terms are shallow."""
    if isinstance(w, Step):
        return frozenset([(Event(w.name, START), Event(w.name, END))] if n >= 2 else [])
    if isinstance(w, Skip):
        return frozenset([()])
    if isinstance(w, Opt):
        return words_upto(w.item, n) | {()}
    if isinstance(w, Star):
        one = words_upto(w.item, n)
        out: set = {()}
        frontier: set = {()}
        while frontier:
            frontier = {u + v for u in frontier for v in one if len(u + v) <= n} - out
            out |= frontier
        return frozenset(out)
    parts = [words_upto(c, n) for c in w.items]
    acc = parts[0]
    for p in parts[1:]:
        if isinstance(w, Alt):
            acc = acc | p
        elif isinstance(w, Seq):
            acc = frozenset(u + v for u in acc for v in p if len(u) + len(v) <= n)
        else:
            acc = frozenset(x for u in acc for v in p if len(u) + len(v) <= n
                            for x in interleavings(u, v))
    return acc


def interleavings(u: tuple, v: tuple):
    n = len(u) + len(v)
    for pos in combinations(range(n), len(u)):
        chosen, word, i, j = set(pos), [], 0, 0
        for k in range(n):
            if k in chosen:
                word.append(u[i])
                i += 1
            else:
                word.append(v[j])
                j += 1
        yield tuple(word)


def accepted_upto(d: DFA, n: int) -> frozenset[tuple]:
    """Every word of length at most ``n`` that ``d`` accepts (breadth first, live states only)."""
    live = live_states(d)
    out = set()
    queue = deque([(d.initial, ())])
    while queue:
        s, word = queue.popleft()
        if d.output[s]:
            out.add(word)
        if len(word) < n:
            for k, t in enumerate(d.delta[s]):
                if live[t]:
                    queue.append((t, word + (d.letters[k],)))
    return frozenset(out)


@settings(max_examples=N, deadline=None)
@given(workflows())
def test_kernel_languages_are_the_enumerated_languages(w):
    expected = words_upto(w, BOUND)
    assert accepted_upto(forward_dfa(w), BOUND) == expected, show(w)
    assert accepted_upto(lts_dfa(w), BOUND) == expected, show(w)


def test_the_enumeration_oracle_is_not_vacuous():
    a, b = Step("a"), Step("b")
    ab = words_upto(Par((a, b)), BOUND)
    assert len(ab) == 6 and words_upto(Seq((a, b)), BOUND) < ab
    assert accepted_upto(forward_dfa(Seq((a, b))), BOUND) != ab
    assert steps_of(Star(a)) == ("a",) and len(words_upto(Star(a), BOUND)) == 4
