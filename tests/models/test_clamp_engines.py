"""`clamp` with crossed bounds means the same in a model check as in theorems and config
invariants (docs/language.md §11): `lo` below `lo`, else `hi` above `hi`; the explicit
engine (generated Python, models/machine.py) once computed `min(max(x, lo), hi)`, which
is `hi` for every `x`, while k-induction and PDR (Z3) read it as the language does."""
from __future__ import annotations

import pytest

import tracelogic

SPEC = """
model counter {
  var x : 0..20 = 0
  action up when x < 20 do x := x + 1
}
check counter: invariant (x < 10 -> clamp(x, 10, 0) == 10) & (x >= 10 -> clamp(x, 10, 0) == 0)
check counter: invariant clamp(x, 10, 0) == clamp(x, 0, 10)
"""


@pytest.mark.parametrize("engine", ["explicit", "kind", "pdr"])
def test_crossed_bounds_agree_in_every_engine(engine: str) -> None:
    report = tracelogic.load(SPEC, filename="clamp.spec").check(engine=engine)
    statuses = [r.status for r in report.results]
    assert statuses == ["holds", "fails"], [str(r) for r in report.results]
