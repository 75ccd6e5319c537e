"""Differential tests: compiled monitors == the reference evaluator.

Each example draws one formula and a batch of timed words (equal timestamps
included); the monitor's LTLf verdict must equal ``reference.verdict`` on
every word, and per-event valuations must equal ``reference.holds`` at every
event.  With TRACELOGIC_LONG=1 each test runs ten times more examples.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import (
    examples, future_formulas, mixed_formulas, past_formulas, past_over_future, words,
)
from tracelogic.automata import compile_monitor, compile_valuation, valuations
from tracelogic.logic.reference import holds, verdict

WORDS = st.lists(words(max_size=7), min_size=6, max_size=10)
SHORT_WORDS = st.lists(words(min_size=1, max_size=9), min_size=3, max_size=5)


def _check_verdicts(f, ws):
    mon = compile_monitor(f)
    assert mon.timed == f.is_metric
    for w in ws:
        got = mon.accepts(w)
        want = verdict(f, w)
        assert got == want, (f, w, got, want)


#: (formulas, examples): each family of formulas, untimed and metric
FAMILIES = {
    "future_untimed": (future_formulas(), 400),
    "past_untimed_as_property": (past_formulas(), 400),
    "mixed_untimed": (mixed_formulas(), 400),
    "past_over_future_untimed": (past_over_future(), 200),
    "past_over_future_metric": (past_over_future(metric=True), 200),
    "future_metric": (future_formulas(metric=True), 400),
    "mixed_metric": (mixed_formulas(metric=True), 300),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_verdicts_match_reference(family):
    formulas, n = FAMILIES[family]

    @examples(n)
    @given(formulas, WORDS)
    def check(f, ws):
        _check_verdicts(f, ws)

    check()


@examples(400)
@given(past_formulas(metric=True), st.lists(words(min_size=1, max_size=9), min_size=4,
                                             max_size=6))
def test_valuations_match_reference(f, ws):
    for w in ws:
        got = valuations(f, w)
        want = [holds(f, w, i) for i in range(len(w))]
        assert got == want, (f, w, got, want)


@examples(300)
@given(past_formulas(metric=True), SHORT_WORDS)
def test_streaming_valuations_match_columns(f, ws):
    """The per-event ``step`` path and the column path of the same monitor agree."""
    mon = compile_valuation(f)
    for w in ws:
        s = mon.initial
        stream = []
        for letter, t in w:
            s = mon.step(s, mon.alphabet.mask(letter), t)
            stream.append(mon.value(s))
        assert stream == valuations(f, w), (f, w)


@examples(200)
@given(past_formulas(metric=True), SHORT_WORDS)
def test_column_evaluation_matches_reference(f, ws):
    """The C-level column implementation (bisect and prefix sums) is independent of
    the generated stepping loop; both must agree with the reference."""
    mon = compile_valuation(f)
    for w in ws:
        masks = [mon.alphabet.mask(lt) for lt, _ in w]
        times = [t for _, t in w]
        col = mon.stage.columns_cbased(masks, times)[0]
        assert [bool(v) for v in col] == [holds(f, w, i) for i in range(len(w))], (f, w)


@examples(200)
@given(past_formulas(metric=True), SHORT_WORDS)
def test_generated_step_matches_the_interpreted_step(f, ws):
    """Generated per-event code == the interpreted stage (independent code paths)."""
    stage = compile_valuation(f).stage
    for w in ws:
        a, b = stage.initial, stage.initial_generic
        for letter, t in w:
            m = stage_mask(stage, letter)
            a, oa = stage.step(a, m, t)
            b, ob = stage.step_generic(b, m, t)
            assert oa == ob, (f, w)


def stage_mask(stage, letter):
    return sum(1 << stage.index[k] for k in letter if k in stage.index)
