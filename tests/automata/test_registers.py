"""Register bounds of the metric constructions (docs/automata.md)."""
from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples
from tracelogic.automata import TableMonitor, TimedMonitor, compile_monitor, compile_valuation
from tracelogic.logic import Atom, F, G, H, Implies, O, S, U, Not
from tracelogic.logic.reference import holds, verdict

p, q = Atom("p"), Atom("q")


def random_word(rng, n, density=0.5, max_gap=3):
    t = 0
    out = []
    for _ in range(n):
        t += rng.randrange(max_gap + 1)
        out.append((frozenset(k for k in "pq" if rng.random() < density), t))
    return out


def test_untimed_formulas_are_plain_dfas():
    assert isinstance(compile_monitor(G(Implies(p, F(q)))), TableMonitor)
    assert isinstance(compile_monitor(G(Implies(p, F(q, (0, 5))))), TimedMonitor)
    assert isinstance(compile_monitor(G(Implies(p, O(q)))), TableMonitor)


def test_bounded_response_keeps_one_register_for_the_oldest_request():
    f = G(Implies(p, F(q, (0, 50))))
    mon = compile_monitor(f)
    rng = random.Random(7)
    for _ in range(20):
        w = random_word(rng, 300, density=0.1)
        s = mon.initial
        for letter, t in w:
            s = mon.step(s, mon.mask(letter), t)
            assert mon.register_count(s) <= 1
        want = all(any("q" in w[j][0] and w[j][1] - w[i][1] <= 50 for j in range(i, len(w)))
                   for i in range(len(w)) if "p" in w[i][0])
        assert mon.final(s) == want
    w = random_word(rng, 60, density=0.3)
    assert mon.accepts(w) == verdict(f, w)


@examples(60)
@given(st.integers(1, 6), st.integers(0, 6), st.integers(0, 10_000))
def test_delayed_window_registers_are_bounded_by_the_events_in_the_delay(a, width, seed):
    """``[a, b]`` with ``a > 0`` keeps one register per pending anchor younger than
    ``a`` (distinct timestamps in a window of length ``a``) plus one for ``lo = 0``."""
    b = a + width
    f = G(Implies(p, F(q, (a, b))))
    mon = compile_monitor(f)
    rng = random.Random(seed)
    w = random_word(rng, 120, density=0.4, max_gap=2)
    s = mon.initial
    for i, (letter, t) in enumerate(w):
        s = mon.step(s, mon.mask(letter), t)
        young = {tj for _, tj in w[:i + 1] if t - tj < a}
        assert mon.register_count(s) <= len(young) + 1, (i, t)
    assert mon.accepts(w[:25]) == verdict(f, w[:25])


@examples(60)
@given(st.integers(1, 5), st.integers(1, 8), st.integers(0, 10_000))
def test_past_since_queue_stays_within_its_bound(lo, width, seed):
    hi = lo + width
    f = S(Not(q), p, (lo, hi))
    mon = compile_valuation(f)
    unit = mon.stage.units[0]
    bound = unit.bound()
    assert bound == 2 * -(-hi // (hi - lo)) + 2
    rng = random.Random(seed)
    w = random_word(rng, 200, density=0.6, max_gap=1)
    s = mon.initial
    for i, (letter, t) in enumerate(w):
        s = mon.step(s, mon.mask(letter), t)
        assert mon.stage.register_count(s) <= bound
        if i < 40:
            assert mon.value(s) == holds(f, w, i)


def test_point_interval_queue_is_bounded_by_distinct_timestamps():
    f = O(p, (3, 3))
    mon = compile_valuation(f)
    assert mon.stage.units[0].bound() is None
    rng = random.Random(3)
    w = random_word(rng, 200, density=0.7, max_gap=1)
    s = mon.initial
    for i, (letter, t) in enumerate(w):
        s = mon.step(s, mon.mask(letter), t)
        window = {tj for _, tj in w[:i + 1] if 0 <= t - tj <= 3}
        assert mon.stage.register_count(s) <= len(window)


def test_one_register_units():
    for f in [O(p, (0, 7)), H(p, (0, 7)), O(p, (4, None)), S(p, q, (2, None))]:
        mon = compile_valuation(f)
        assert all(u.bound() == 1 for u in mon.stage.units)
        rng = random.Random(11)
        w = random_word(rng, 150)
        s = mon.initial
        for letter, t in w:
            s = mon.step(s, mon.mask(letter), t)
            assert mon.stage.register_count(s) <= 1


def test_unbounded_lower_bound_releases_its_register():
    f = U(p, q, (3, None))
    mon = compile_monitor(f)
    s = mon.initial
    s = mon.step(s, mon.mask({"p"}), 0)
    assert mon.register_count(s) == 1
    s = mon.step(s, mon.mask({"p"}), 5)  # lower bound met: plain until from now on
    assert mon.register_count(s) == 0


@examples(60)
@given(st.sampled_from([2**62, 2**63 - 40, -2**63, -2**62 - 7, 2**64 - 60, 0]),
       st.sampled_from([(0, 5), (2, 9), (0, 2**62), (1, 2**63), (0, 2**64)]),
       st.integers(0, 10_000))
def test_metric_registers_at_times_near_the_int64_limits(base, bounds, seed):
    """Register slots are ordered without a sentinel time: anchors and windows at times
    near ±2^63 (and beyond int64, where OTLP's fixed64 ends) decide as the reference."""
    rng = random.Random(seed)
    w = [(letter, base + t) for letter, t in random_word(rng, 25, density=0.4, max_gap=4)]
    for f in (G(Implies(p, F(q, bounds))), G(Implies(p, O(q, bounds))),
              U(p, q, bounds), G(Implies(q, F(p, bounds))) & F(q)):
        assert compile_monitor(f).accepts(w) == verdict(f, w), (f, w)
