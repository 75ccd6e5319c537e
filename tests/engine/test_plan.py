"""The plan's automata: guards per state reach exactly the targets of the Python engine's
table, for every state and every letter (the table is the reference)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic.automata.monitor import TableMonitor
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.plan import _merge, guards, property_reason, timed

SPEC = '''
pred a = name == "a"
pred b = name == "b"
pred c = attr["x"] > 3
pred d = kind == server

property never_a:     G !a
property response:    G (a -> F b)
property weakly:      !b W a
property til:         (a | c) U (b & d)
property past:        G (b -> O a)
property pattern:     response(a & start, c) after(d)
property nested:      G (a -> X (b | F (c & !d)))
property timed:       G (a -> F[<= 1s] b)
property timed_past:  G (a -> O[<= 1s] b)
property spread:      G (a -> F[1s, 2s] b)
property timed_per per attr["x"]: G (a -> F[<= 1s] b)
property per_x per attr["x"]: G !a
property with_prev per service: G (c -> prev(c))
'''


def target(state: dict, letter: int) -> int:
    for care, value, t in state["cubes"]:
        if letter & care == value:
            return t
    return state["default"]


@pytest.fixture(scope="module")
def compiled() -> CompiledSpec:
    return CompiledSpec(tracelogic.load(SPEC))


def test_guards_reach_the_tables_targets(compiled):
    checked = 0
    for cp in compiled.properties:
        if not isinstance(cp.monitor, TableMonitor):
            continue
        mon = cp.monitor
        g = guards(mon)
        assert g["initial"] == mon.initial
        n_states = len(mon.table) // mon.n_letters
        assert len(g["states"]) == n_states
        for s in range(n_states):
            st_ = g["states"][s]
            assert st_["decided"] == mon.decided[s]
            for m in range(mon.n_letters):
                assert target(st_, m) == mon.table[s * mon.n_letters + m], (cp.name, s, m)
                checked += 1
    assert checked > 100


def test_which_properties_the_core_runs(compiled):
    reasons = {cp.name: property_reason(cp) for cp in compiled.properties}
    assert {n for n, r in reasons.items() if r is None} == {
        "never_a", "response", "weakly", "til", "past", "pattern", "nested", "per_x",
        "with_prev", "timed", "spread", "timed_per", "timed_past"}


def test_a_timed_property_carries_its_untimed_twin_and_when_it_applies(compiled):
    """Per trace, a trace within every bound is stepped on the untimed twin (`by_letters`):
    the plan holds the twin's guards, renumbered into the timed monitor's letter, and the
    bound; a `[1s, 2s]` window (no twin) and a cross-trace property get none."""
    by_name = {cp.name: cp for cp in compiled.properties}
    cp = by_name["timed"]
    doc = timed(cp)
    assert doc["timed"]["memo_ns"] == cp.memo_ns == 10**9
    twin = cp.untimed.monitor
    pos = [cp.monitor.atoms.index(a) for a in twin.atoms]
    for s, st_ in enumerate(doc["states"]):
        for m in range(twin.n_letters):
            timed_letter = sum(((m >> i) & 1) << p for i, p in enumerate(pos))
            assert target(st_, timed_letter) == twin.table[s * twin.n_letters + m]
    alph = cp.monitor.alphabet
    assert doc["timed"]["feasible"] == (list(alph.letters) if alph.pruned else None)
    for name in ("spread", "timed_per"):
        assert timed(by_name[name])["timed"]["memo_ns"] is None
        assert len(timed(by_name[name])["states"]) == 1  # never stepped


@settings(max_examples=200)
@given(st.sets(st.integers(0, 63)))
def test_merged_cubes_cover_exactly_the_letters(masks):
    cubes = _merge(sorted(masks), 63)
    covered = {m for m in range(64) if any(m & care == value for care, value in cubes)}
    assert covered == masks
    # and no letter is covered twice: the cubes are disjoint
    assert sum(1 for m in range(64) for care, value in cubes if m & care == value) == len(masks)
