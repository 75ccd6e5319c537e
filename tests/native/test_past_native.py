"""The core's past stage (``native/src/past.rs``) against the Python one (its reference).

Hypothesis draws pure-past formulas (metric ``S[lo,hi]``, ``T[lo,hi]``, ``O[..]``,
``H[..]`` with bounds 0, small and far beyond int64, nested, and untimed ``Y Z S T O H``),
stages of several of them over full and Z3-style pruned alphabets, letter masks (infeasible
ones included) and non-decreasing timestamps with ties, gaps and values near ±2^63. The
core's outputs at every event, through the bindings (``_native.PastMonitor``, fed by
``engine.past_plan.past_document``), must be ``PastStage.step``'s, bit for bit, and so must
its register counts; a single formula's valuations, from columns, in batch and one row at a
time, must be ``ValuationMonitor.values``'. The logic layer's reference evaluator
(``reference.holds``) checks the Python stage on the same words, so a bug shared by both
stages cannot hide.

The batch and streaming APIs are then run on a slice of every Timescales pattern, from
the rows Reelay gets, and compared with ``ValuationMonitor.values``; bad input is refused
with the event or column it concerns. TRACELOGIC_LONG=1 runs ten times more examples.
"""
from __future__ import annotations

import json
import os
import sys
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelogic import _native
from tracelogic.automata import compile_valuation
from tracelogic.automata.alphabet import Alphabet
from tracelogic.automata.monitor import ValuationMonitor
from tracelogic.automata.past import PastStage
from tracelogic.engine.past_plan import NativeValuation, past_document, valuation_columns
from tracelogic.errors import InputError
from tracelogic.logic import And, Atom, H, Implies, Not, O, Or, S, Trigger, Y, Z, get_manager
from tracelogic.logic.printers import UnsupportedFormula
from tracelogic.logic.reference import holds

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import timescales_suite as T  # noqa: E402

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
SETTINGS = settings(max_examples=2000 if LONG else 200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ATOMS = ("p", "q", "r")
INT64 = 1 << 63
# bounds: 0, small ones timestamps reach, and ones no difference of two int64 reaches
BOUNDS = st.one_of(st.integers(0, 6), st.sampled_from([0, 10, 2**62, 2**63, 2**64, 10**30]))


@st.composite
def intervals(draw):
    """None (untimed), [lo, hi] or [lo, inf)."""
    if draw(st.booleans()):
        return None
    lo = draw(BOUNDS)
    if draw(st.integers(0, 3)) == 0:
        return (lo, None)
    return (lo, lo + draw(BOUNDS))


def past_formulas(max_leaves: int = 7):
    leaf = st.one_of(st.sampled_from(ATOMS).map(Atom), st.sampled_from(ATOMS).map(Atom),
                     st.sampled_from([And(), Or()]))

    def extend(c):
        return st.one_of(
            c.map(Not), st.tuples(c, c).map(lambda t: And(*t)),
            st.tuples(c, c).map(lambda t: Or(*t)), st.tuples(c, c).map(lambda t: Implies(*t)),
            c.map(Y), c.map(Z),
            st.tuples(c, intervals()).map(lambda t: O(*t)),
            st.tuples(c, intervals()).map(lambda t: H(*t)),
            st.tuples(c, c, intervals()).map(lambda t: S(*t)),
            st.tuples(c, c, intervals()).map(lambda t: Trigger(*t)),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


@st.composite
def timestamps(draw, n: int) -> list[int]:
    """n non-decreasing int64 timestamps: ties, small and huge gaps, near both ends."""
    t = draw(st.sampled_from([0, 0, 3, -INT64, -5, (1 << 62) + 7, INT64 - 40]))
    out = []
    for _ in range(n):
        gap = draw(st.one_of(st.sampled_from([0, 0, 1]), st.integers(0, 12),
                             st.sampled_from([2**40, 2**62, 2**63])))
        t = min(t + gap, INT64 - 1)
        out.append(t)
    return out


@st.composite
def stages(draw):
    """A PastStage of 1 to 3 pure-past formulas over p, q, r, whose letters are all masks
    or a Z3-style pruned subset of them."""
    fs = draw(st.lists(past_formulas(), min_size=1, max_size=3))
    letters = list(range(8))
    if draw(st.booleans()):
        letters = sorted(draw(st.sets(st.sampled_from(letters), min_size=1)))
    alph = Alphabet(ATOMS, letters=letters)
    return PastStage(fs, alph.index, alph.n, alph.letters, get_manager()), alph


def core(stage: PastStage, columns: list[str] | None = None):
    doc = past_document(stage)
    assert not isinstance(doc, str), doc
    return _native.PastMonitor(json.dumps(doc), columns)


@SETTINGS
@given(stages(), st.data())
def test_the_core_steps_every_stage_as_PastStage_step(staged, data):
    stage, alph = staged
    n = data.draw(st.integers(1, 14))
    times = data.draw(timestamps(n))
    feasible = data.draw(st.booleans())
    masks = data.draw(st.lists(st.sampled_from(alph.letters) if feasible
                               else st.integers(0, 7), min_size=n, max_size=n))
    mon = core(stage)
    state = stage.initial
    want, want_regs, got, got_regs = [], [], [], []
    for m, t in zip(masks, times):
        state, out = stage.step(state, m, t)
        want.append(out)
        want_regs.append(stage.register_count(state))
        got.append(mon.step_mask(m, t))
        got_regs.append(mon.registers)
        assert mon.value_bits == stage.value_bits(state)
    assert got == want, (stage.outputs, masks, times)
    # after a mask outside the letters the top machine sits in its output-0 sink for good;
    # the registers behind it no longer matter (a timed monitor stops stepping the stage),
    # and Python's propositional layers keep filling them where the core's tables sink
    sound = next((i for i, m in enumerate(masks) if not alph.feasible[m]), n)
    assert got_regs[:sound] == want_regs[:sound]
    assert mon.run_masks(masks, times) == want  # the batch loop, from the initial state
    if feasible:  # the Python stage itself against the definition of the operators
        word = [(frozenset(a for i, a in enumerate(ATOMS) if m >> i & 1), t)
                for m, t in zip(masks, times)]
        for j, f in enumerate(stage.outputs):
            assert [o >> j & 1 for o in want] == [holds(f, word, i) for i in range(n)], f


@SETTINGS
@given(past_formulas(), st.data())
def test_valuations_from_columns_are_ValuationMonitor_values(f, data):
    mon = compile_valuation(f, atoms=ATOMS)
    n = data.draw(st.integers(0, 14))
    times = data.draw(timestamps(n))
    rows = data.draw(st.lists(st.fixed_dictionaries({a: st.sampled_from([0, 1, True, False, 2,
                                                                          0.0, -0.5, None])
                                                     for a in ATOMS}), min_size=n, max_size=n))
    masks = [sum(1 << i for i, a in enumerate(ATOMS) if r[a]) for r in rows]
    want = [int(v) for v in mon.values(masks, times)]
    nv = NativeValuation(mon)
    columns = {a: [r[a] for r in rows] for a in ATOMS}
    assert list(nv.values(times, columns)) == want
    assert list(nv.values(array("q", times), [columns[a] for a in nv.columns])) == want
    stream = nv.stream()
    assert [int(stream.step(t, r)) for t, r in zip(times, rows)] == want
    stream.reset()
    assert [int(stream.step(t, tuple(r[a] for a in nv.columns)))
            for t, r in zip(times, rows)] == want


# ---------------------------------------------------------------- Timescales, batch and stream

ROWS = 2000
SEEDS = range(8)  # mutants: one flipped bit each


@pytest.mark.skipif(not T.available(), reason=f"the Timescales data is not at {T.SUITE}")
@pytest.mark.parametrize("name", T.NAMES)
def test_timescales_rows_in_batch_and_one_at_a_time(name):
    whole = T.load(name)
    case = T.Case(name, whole.pattern, whole.columns, whole.times[:ROWS], whole.rows[:ROWS])
    mon = compile_valuation(T.parse_reelay(case.pattern))
    nv = NativeValuation(mon)
    assert valuation_columns(mon) == list(mon.atoms)
    for c in [case, *(T.mutate(case, seed)[0] for seed in SEEDS)]:
        masks, times = T.masks_and_times(c, mon.atoms)
        want = [int(v) for v in mon.values(masks, times)]
        dicts = [{k: bool(v) for k, v in r.items()} for r in c.rows]  # what Reelay gets
        # columns of every kind a caller may hold; the columns no atom reads are ignored
        as_bytes = {k: bytes(r[k] for r in c.rows) for k in c.columns}
        as_lists = {k: [d[k] for d in dicts] for k in c.columns}
        as_floats = {k: array("d", (float(r[k]) for r in c.rows)) for k in c.columns}
        for cols in (as_bytes, as_lists, as_floats):
            assert list(nv.values(array("q", times), cols)) == want
        stream = nv.stream()
        assert [int(stream.step(t, d)) for t, d in zip(times, dicts)] == want


@pytest.mark.skipif(not T.available(), reason=f"the Timescales data is not at {T.SUITE}")
def test_the_timescales_mutants_have_false_rows():
    """The comparison above is not vacuous: the mutants make most patterns false at some
    rows (the original traces satisfy every pattern)."""
    falsified = 0
    for name in T.NAMES:
        whole = T.load(name)
        case = T.Case(name, whole.pattern, whole.columns, whole.times[:ROWS], whole.rows[:ROWS])
        mon = compile_valuation(T.parse_reelay(case.pattern))
        for seed in SEEDS:
            masks, times = T.masks_and_times(T.mutate(case, seed)[0], mon.atoms)
            falsified += not all(mon.values(masks, times))
    assert falsified >= 2 * len(T.NAMES)


# ---------------------------------------------------------------- refused input

def test_bad_input_is_refused_with_the_event_or_column():
    nv = NativeValuation(compile_valuation(And(O(Atom("p"), (0, 5)), H(Atom("q")))))
    assert set(nv.columns) == {"p", "q"}
    with pytest.raises(InputError, match="event 2 has t=1 after t=4"):
        nv.values([0, 4, 1], {"p": [1, 1, 1], "q": [1, 1, 1]})
    with pytest.raises(InputError, match="no column 'q'"):
        nv.values([0], {"p": [1]})
    with pytest.raises(InputError, match="column 'q' has 1 rows and times 2"):
        nv.values([0, 1], {"p": [1, 0], "q": [1]})
    with pytest.raises(InputError, match="2 dimensions"):
        nv.values([0, 1], {"p": memoryview(bytes(4)).cast("B", (2, 2)), "q": [1, 1]})
    with pytest.raises(TypeError, match="is a str"):
        nv.values([0, 1], {"p": "10", "q": [1, 1]})
    s = nv.stream()
    assert s.step(5, {"p": 1, "q": 1}) is True
    with pytest.raises(ValueError, match="t=4 after t=5"):
        s.step(4, {"p": 1, "q": 1})
    with pytest.raises(ValueError, match="no column 'q'"):
        s.step(6, {"p": 1})
    with pytest.raises(ValueError, match="a row of 1 values"):
        s.step(6, (1,))
    with pytest.raises(ValueError, match="a row of 3 values"):
        s.step(6, [1, 1, 1])
    with pytest.raises(TypeError, match="a row is a dict"):
        s.step(6, 7)
    # nothing refused changed the state: q held at every accepted row
    assert s.step(11, {"p": 0, "q": 1}) is False and s.step(11, {"p": 1, "q": 1}) is True
    with pytest.raises(ValueError, match="version"):
        _native.PastMonitor('{"version": 0}')


def test_what_the_core_cannot_run_says_why():
    f = O(Atom(("not", "a", "column")))
    with pytest.raises(UnsupportedFormula, match="not a column name"):
        NativeValuation(compile_valuation(f))
    # a pruned alphabet: an impossible row must be refused, which column atoms cannot see
    f = And(O(Atom("p")), Atom("q"))
    pruned = Alphabet(("p", "q"), letters=[0, 1, 3])
    stage = PastStage([f], pruned.index, pruned.n, pruned.letters, get_manager())
    assert "pruned" in valuation_columns(ValuationMonitor(f, pruned, stage))
    assert isinstance(past_document(stage), dict)  # the stage itself is fine (timed uses it)
