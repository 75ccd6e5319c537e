"""Wide and deep specs load, check and monitor with the default stack and recursion limit
(issue 14, item 1): a 30,000-term `or`, a 10,000-deep `&` chain, a property written over
10,000 lines, and generated formulas of depth 10^4, on both engines.

Each verdict is compared with an oracle computed here, directly from the span names.
"""
from __future__ import annotations

import random
import sys

import pytest
from hypothesis import Phase, given, settings, strategies as st

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span

LIMIT = sys.getrecursionlimit()
ENGINES = ("python", "native")
NAMES = [f"s{i}" for i in range(12)] + ["other"]


def spans(names: list[str], long_ms: frozenset = frozenset()) -> list[Span]:
    """One trace per name, one span each; a span lasts 1 ms, or 3 s for the names in
    ``long_ms``."""
    return [Span(name=n, trace_id=f"{t + 1:032x}", span_id=f"{t + 1:016x}", parent_id="",
                 start_ns=t * 10**10, end_ns=t * 10**10 + (3 * 10**9 if n in long_ms else 10**6),
                 service="shop")
            for t, n in enumerate(names)]


def violated(spec, engine: str, data: list[Span]) -> set[str]:
    """The trace ids the monitor reports as violating the spec's one property."""
    mon = Monitor(spec, engine=engine)
    mon.feed(data)
    report = mon.close()
    assert not mon.refused
    return {t for v in report.violations for t in v.trace_ids}


def trace_ids(data: list[Span], names: set[str]) -> set[str]:
    return {s.trace_id for s in data if s.name in names}


WIDE = 30_000
DEEP = 10_000


@pytest.fixture(scope="module")
def wide():
    """`G ((name == "s0" | … | name == "s29999") -> F[<= 1s] end)`."""
    ors = " | ".join(f'name == "s{i}"' for i in range(WIDE))
    return tracelogic.load(f"property wide: G (({ors}) -> F[<= 1s] end)\n")


@pytest.fixture(scope="module")
def deep():
    """`G (start -> (name != "s0" & … & name != "s9999"))`: the chain nests 10^4 deep."""
    ands = " & ".join(f'name != "s{i}"' for i in range(DEEP))
    return tracelogic.load(f"property deep: G (start -> ({ands}))\n")


@pytest.fixture(scope="module")
def long_property():
    """One property written over 10,000 lines."""
    lines = "\n".join(f'  | name == "s{i}"' for i in range(1, DEEP))
    return tracelogic.load(f'property long:\n  G (start -> !(name == "s0"\n{lines}))\n')


def test_the_specs_load_without_raising_the_recursion_limit(wide, deep, long_property):
    assert sys.getrecursionlimit() == LIMIT
    assert wide.properties[0].body.size > 3 * WIDE
    assert deep.properties[0].body.depth > DEEP
    assert long_property.properties[0].body.size > 3 * DEEP


@pytest.mark.parametrize("which", ["wide", "deep", "long_property"])
def test_the_specs_check(which, request):
    report = request.getfixturevalue(which).check()
    assert report.exit_code() == 0
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_30000_term_or_monitors(wide, engine):
    data = spans(NAMES, long_ms=frozenset({"s3", "other"}))
    # `other` matches no term (holds vacuously); s3 matches and ends 3 s after its start
    assert violated(wide, engine, data) == trace_ids(data, {"s3"})
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_10000_deep_and_chain_monitors(deep, engine):
    data = spans(NAMES)
    assert violated(deep, engine, data) == trace_ids(data, set(NAMES) - {"other"})
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_10000_line_property_monitors(long_property, engine):
    data = spans(NAMES)
    assert violated(long_property, engine, data) == trace_ids(data, set(NAMES) - {"other"})
    assert sys.getrecursionlimit() == LIMIT


# ------------------------------------------------------------------ generated, depth 10^4

STEP = st.one_of(st.just(("not", 0)), st.tuples(st.sampled_from(["and", "or", "implies"]),
                                                st.integers(0, len(NAMES) - 1)))


def build(first: int, steps: list[tuple[str, int]]) -> str:
    """The formula, written with one bracket level per step (10^4 steps nest 10^4 deep)."""
    text = f'name == "{NAMES[first]}"'
    for op, i in steps:
        if op == "not":
            text = f"!({text})"
        else:
            word = {"and": "&", "or": "|", "implies": "->"}[op]
            text = f'({text}) {word} name == "{NAMES[i]}"'
    return text


def oracle(first: int, steps: list[tuple[str, int]], name: str) -> bool:
    value = name == NAMES[first]
    for op, i in steps:
        leaf = name == NAMES[i]
        value = (not value if op == "not" else value and leaf if op == "and"
                 else value or leaf if op == "or" else (not value) or leaf)
    return value


# no `explain` phase: its tracer slows a 10^4-deep walk a hundredfold
@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(first=st.integers(0, len(NAMES) - 1), motif=st.lists(STEP, min_size=1, max_size=40),
       seed=st.integers(0, 2**32 - 1))
def test_generated_specs_of_depth_10_000_load_check_and_monitor(first, motif, seed):
    """Hypothesis draws at most a few thousand values per example, so it draws the steps
    that occur (``motif``) and a seed that orders 10^4 of them."""
    limit = sys.getrecursionlimit()  # Hypothesis itself adds 2,000 frames around a test:
    assert limit < DEEP  # still far too few for a pass that recursed on the depth
    rng = random.Random(seed)
    steps = [rng.choice(motif) for _ in range(DEEP)]
    spec = tracelogic.load(f"property gen: G (start -> {build(first, steps)})\n")
    assert spec.properties[0].body.depth > DEEP
    assert spec.check().exit_code() == 0
    data = spans(NAMES)
    expected = trace_ids(data, {n for n in NAMES if not oracle(first, steps, n)})
    for engine in ENGINES:
        assert violated(spec, engine, data) == expected, engine
    assert sys.getrecursionlimit() == limit
