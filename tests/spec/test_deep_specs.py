"""Wide and deep specs load, format, check and monitor with the default stack and recursion
limit (issue 14, item 1): a 30,000-term `or`, a 10,000-deep `&` chain, a property written
over 10,000 lines, 10^4 nested parentheses, `!`, `has_ancestor(...)` calls and `+`,
chains of 10^4 predicates and constants each defined by the next, and generated formulas
of depth 10^4, on both engines. No pass raises the recursion limit or runs on a bigger
stack (spec/deep.py, which did, is gone): each test asserts the limit is unchanged.

Each verdict is compared with an oracle computed here, directly from the span names.
"""
from __future__ import annotations

import os
import random
import sys

import pytest
from hypothesis import Phase, given, settings, strategies as st

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span
from tracelogic.spec.diagnostics import SpecErrors
from tracelogic.spec.formatter import format_text
from tracelogic.spec.limits import MAX_NESTING

LIMIT = sys.getrecursionlimit()
ENGINES = ("python", "native")
NAMES = [f"s{i}" for i in range(12)] + ["other"]


def spans(names: list[str], long_ms: frozenset = frozenset(),
          attrs: dict | None = None) -> list[Span]:
    """One trace per name, one span each; a span lasts 1 ms, or 3 s for the names in
    ``long_ms``; ``attrs[name]`` are its attributes."""
    return [Span(name=n, trace_id=f"{t + 1:032x}", span_id=f"{t + 1:016x}", parent_id="",
                 start_ns=t * 10**10, end_ns=t * 10**10 + (3 * 10**9 if n in long_ms else 10**6),
                 service="shop", attrs=(attrs or {}).get(n, {}))
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


# `G ((name == "s0" | … | name == "s29999") -> F[<= 1s] end)`
WIDE_TEXT = "property wide: G ((" + " | ".join(f'name == "s{i}"' for i in range(WIDE)) \
    + ") -> F[<= 1s] end)\n"
# `G (start -> (name != "s0" & … & name != "s9999"))`: the chain nests 10^4 deep
DEEP_TEXT = "property deep: G (start -> (" + " & ".join(f'name != "s{i}"' for i in range(DEEP)) \
    + "))\n"
# one property written over 10,000 lines
LONG_TEXT = 'property long:\n  G (start -> !(name == "s0"\n' \
    + "\n".join(f'  | name == "s{i}"' for i in range(1, DEEP)) + "))\n"


@pytest.fixture(scope="module")
def wide():
    return tracelogic.load(WIDE_TEXT)


@pytest.fixture(scope="module")
def deep():
    return tracelogic.load(DEEP_TEXT)


@pytest.fixture(scope="module")
def long_property():
    return tracelogic.load(LONG_TEXT)


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


# ------------------------------------------------------------------ nesting, and chains of names

# Each written canonically, so that `fmt` must give the text back unchanged.
PARENS_TEXT = "property p: G (start -> " + "(" * DEEP + "!" * DEEP + '(name != "s1")' \
    + ")" * DEEP + ")\n"  # 10^4 parentheses around 10^4 `!` (an even number: they cancel)
CALLS = 2_000
CALLS_TEXT = "property p: G (start -> " + "has_ancestor(" * CALLS + 'name == "s0"' \
    + ")" * CALLS + ")\n"
SUM_TEXT = 'property p: G (start -> attr["n"] == ' + " + ".join(["1"] * DEEP) + ")\n"
# chains of 10^4 predicates and constants, each defined by the next (loaded, checked and
# monitored by the generated test at the end)
PREDS_TEXT = "".join(f'pred p{i} = p{i + 1} & name != "s{i}"\n' for i in range(DEEP)) \
    + f"pred p{DEEP} = true\nproperty p: G (start -> p0)\n"
# `q0(x) = q1(x) & name != x`, …: each is expanded at its one use
PARAMS_TEXT = "".join(f"pred q{i}(x) = q{i + 1}(x) & name != x\n" for i in range(DEEP)) \
    + f'pred q{DEEP}(x) = name != "s1"\nproperty p: G (start -> q0("s0"))\n'
CONSTS_TEXT = "".join(f"const c{i} = c{i + 1} + 1\n" for i in range(DEEP)) \
    + f'const c{DEEP} = 1\nproperty p: G (start -> attr["n"] == c0)\n'
CANONICAL = {"wide": WIDE_TEXT, "deep": DEEP_TEXT, "parens": PARENS_TEXT, "calls": CALLS_TEXT,
             "sum": SUM_TEXT, "preds": PREDS_TEXT, "params": PARAMS_TEXT, "consts": CONSTS_TEXT}


@pytest.mark.parametrize("which", sorted(CANONICAL))
def test_the_specs_format_to_themselves(which):
    text = CANONICAL[which]
    assert format_text(text) == text
    assert sys.getrecursionlimit() == LIMIT


def test_the_10000_line_property_formats_to_one_line():
    assert format_text(LONG_TEXT) == 'property long:\n  G (start -> !(name == "s0" | ' \
        + " | ".join(f'name == "s{i}"' for i in range(1, DEEP)) + "))\n"
    assert sys.getrecursionlimit() == LIMIT


def checked(text: str):
    """Load and check ``text``."""
    spec = tracelogic.load(text)
    assert spec.check().exit_code() == 0
    assert sys.getrecursionlimit() == LIMIT
    return spec


@pytest.fixture(scope="module")
def parens():
    return checked(PARENS_TEXT)


@pytest.fixture(scope="module")
def calls():
    return checked(CALLS_TEXT)


@pytest.fixture(scope="module")
def sum_spec():
    return checked(SUM_TEXT)


@pytest.fixture(scope="module")
def params():
    return checked(PARAMS_TEXT)


@pytest.mark.parametrize("engine", ENGINES)
def test_deeply_nested_parentheses_and_negations(parens, engine):
    data = spans(NAMES)
    assert violated(parens, engine, data) == trace_ids(data, {"s1"})
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_deeply_nested_calls(calls, engine):
    """`has_ancestor(has_ancestor(… name == "s0" …))`: with one span per trace no span has
    an ancestor, so every trace violates it."""
    data = spans(NAMES[:3])
    assert violated(calls, engine, data) == trace_ids(data, set(NAMES[:3]))
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_10000_term_sum(sum_spec, engine):
    """`attr["n"] == 1 + 1 + … + 1`: a 10^4-deep `+` chain."""
    data = spans(NAMES[:3], attrs={"s0": {"n": DEEP}, "s1": {"n": DEEP - 1}, "s2": {"n": 1}})
    assert violated(sum_spec, engine, data) == trace_ids(data, {"s1", "s2"})
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_chain_of_10000_predicates_with_parameters(params, engine):
    data = spans(NAMES)
    assert violated(params, engine, data) == trace_ids(data, {"s0", "s1"})
    assert sys.getrecursionlimit() == LIMIT


def test_a_cycle_at_the_end_of_a_long_chain_is_the_ordinary_diagnostic():
    """The chain's last constant is defined by its first: the checker still names it."""
    text = "".join(f"const c{i} = c{i + 1} + 1\n" for i in range(DEEP)) + f"const c{DEEP} = c0\n"
    with pytest.raises(SpecErrors, match="is defined in terms of itself"):
        tracelogic.load(text)
    assert sys.getrecursionlimit() == LIMIT


@pytest.mark.parametrize("stage", ["load", "format"])
def test_nesting_past_the_limit_is_the_ordinary_diagnostic(monkeypatch, stage):
    """The builder's diagnostic, for `fmt` as for `load` (the limit scaled down to 10^4:
    tests/spec/test_load_regressions.py loads the real one)."""
    import tracelogic.spec.parser as parser

    assert MAX_NESTING > DEEP
    monkeypatch.setattr(parser, "MAX_NESTING", DEEP)
    text = "property p: G (" + "(" * DEEP + "start" + ")" * DEEP + ")\n"
    with pytest.raises(SpecErrors, match=f"nests more than {DEEP:,} levels deep"):
        tracelogic.load(text) if stage == "load" else format_text(text)
    assert sys.getrecursionlimit() == LIMIT


def test_deep_controller_expressions_simulate_and_check():
    """A 2,000-deep `ite` (twice the recursion limit; Z3 makes deeper ones too slow for
    the default run): the simulator and the Z3 encoder are iterative too (they ran on
    spec/deep.py's big stack before)."""
    from fractions import Fraction

    from tracelogic.models.control import check_claim, replay

    n = 2_000
    text = ("controller c {\n  period 1s\n  metric m : real\n  var r : real = 0\n  let x = "
            + "ite(m > 2, 5, " * n + "m" + ")" * n + "\n  next r := clamp(x, 0, 1)\n"
            + "  claim a: always r <= 1 & r >= 0 assuming m in 0..1\n}\n")
    assert format_text(text) == text
    ctl = checked(text).controllers["c"]
    run, error = replay(ctl, [Fraction(1, 2), 3, 1])
    assert error is None and [p.next["r"] for p in run] == [Fraction(1, 2), 1, 1]
    assert check_claim(ctl, ctl.claims[0], timeout=60).status == "proved"
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


@settings(max_examples=5 if os.environ.get("TRACELOGIC_LONG") else 1, deadline=None,
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(first=st.integers(0, len(NAMES) - 1), motif=st.lists(STEP, min_size=1, max_size=40),
       seed=st.integers(0, 2**32 - 1), offsets=st.lists(st.integers(-9, 9), min_size=1,
                                                       max_size=20))
def test_generated_chains_of_10000_definitions_load_check_and_monitor(first, motif, seed,
                                                                      offsets):
    """The formula of the test above, written as 10^4 predicates each defined by the next
    (`q0 = !(q1)`, `q1 = (q2) & name == "s3"`, …), and a threshold as 10^4 constants
    each defined by the next (`c0 = c1 + 3`, …)."""
    limit = sys.getrecursionlimit()  # Hypothesis adds its own frames (see the test above)
    assert limit < DEEP
    rng = random.Random(seed)
    steps = [rng.choice(motif) for _ in range(DEEP)]
    adds = [rng.choice(offsets) for _ in range(DEEP)]
    lines = [f'pred q{DEEP} = name == "{NAMES[first]}"\n', f"const c{DEEP} = 0\n"]
    for k, (op, i) in enumerate(steps):
        j = DEEP - 1 - k
        word = {"and": "&", "or": "|", "implies": "->"}.get(op)
        lines.append(f"pred q{j} = !(q{j + 1})\n" if op == "not"
                     else f'pred q{j} = (q{j + 1}) {word} name == "{NAMES[i]}"\n')
        lines.append(f"const c{j} = c{j + 1} + {adds[k]}\n" if adds[k] >= 0
                     else f"const c{j} = c{j + 1} - {-adds[k]}\n")
    rng.shuffle(lines)  # declarations may come in any order
    spec = tracelogic.load("".join(lines) + 'property gen: G (start -> q0 & attr["n"] < c0)\n')
    assert spec.consts["c0"].payload == sum(adds)
    assert spec.check().exit_code() == 0
    data = spans(NAMES, attrs={n: {"n": sum(adds) - 1 + k % 2} for k, n in enumerate(NAMES)})
    expected = trace_ids(data, {n for k, n in enumerate(NAMES)
                                if not (oracle(first, steps, n) and k % 2 == 0)})
    for engine in ENGINES:
        assert violated(spec, engine, data) == expected, engine
    assert sys.getrecursionlimit() == limit
