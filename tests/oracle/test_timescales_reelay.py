"""Row-by-row agreement with Reelay on the Timescales small suite.

Each pattern (Reelay's old syntax, see bench/timescales_suite.py for the
translation: one time unit = 1 ms) is compiled into a per-event valuation
monitor and run on the first rows of its trace, then on mutated copies (one
bit flipped at a random row).  Reelay's ``discrete_timed_monitor`` with one
update per row gives the expected value at every row.  No timing here.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import timescales_suite as T  # noqa: E402

from tracelogic.automata import compile_valuation, valuations  # noqa: E402

import reelay  # noqa: E402  (the bench extra, installed by scripts/install.sh)
pytestmark = pytest.mark.skipif(not T.available(),
                                reason=f"the Timescales data is not at {T.SUITE}")

ROWS = 3000
SEEDS = range(8)


def reelay_values(case: T.Case) -> list[bool]:
    mon = reelay.discrete_timed_monitor(pattern=T.reelay_pattern(case.pattern), condense=False)
    return [mon.update({k: bool(v) for k, v in row.items()})["value"] for row in case.rows]


def head(case: T.Case, n: int) -> T.Case:
    return T.Case(case.name, case.pattern, case.columns, case.times[:n], case.rows[:n])


@pytest.mark.parametrize("name", T.NAMES)
def test_agrees_with_reelay_on_original_and_mutated_rows(name):
    case = head(T.load(name), ROWS)
    f = T.parse_reelay(case.pattern)
    mon = compile_valuation(f)
    for seed in [None, *SEEDS]:
        c = case if seed is None else T.mutate(case, seed)[0]
        want = reelay_values(c)
        masks, times = T.masks_and_times(c, mon.atoms)
        got = mon.values(masks, times)
        assert len(got) == len(want)
        bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
        assert not bad, (name, seed, bad[:5], str(f))
    # the public word-based API on a short prefix gives the same
    word = [(frozenset(k for k, v in row.items() if v), t * T.MS)
            for row, t in zip(case.rows[:300], case.times[:300])]
    assert valuations(f, word) == reelay_values(head(case, 300))


def test_mutations_do_produce_violations():
    """The comparison is not vacuous: on some patterns a flipped bit makes the
    monitors report false at some rows."""
    seen = 0
    for name in T.NAMES:
        case = head(T.load(name), ROWS)
        for seed in SEEDS:
            seen += reelay_values(T.mutate(case, seed)[0]).count(False)
    assert seen > 0


def test_pattern_parser_follows_reelay_precedence():
    from tracelogic.logic import And, Atom, H, Implies, Not, O, S
    p, q, r = Atom("p"), Atom("q"), Atom("r")
    f = T.parse_reelay("historically(r && !q && once q ) -> ((not p) since[3:10] q)")
    assert f is Implies(H(And(r, Not(q), O(q))), S(Not(p), q, (3 * T.MS, 10 * T.MS)))
    assert T.parse_reelay("once[:10](p)") is O(p, (0, 10 * T.MS))
    assert T.parse_reelay("not(s) since[10:] p") is S(Not(Atom("s")), p, (10 * T.MS, None))
