"""The benchmark's generated spec is valid and as large as bench/bench_parse.py says.

No timing here: bench/bench_parse.py measures, this only keeps its input honest.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gen_spec import block, generate  # noqa: E402

from tracelogic.spec.loader import load  # noqa: E402


@pytest.fixture(scope="module")
def big_spec(tmp_path_factory):
    text = generate(10_000)
    path = tmp_path_factory.mktemp("bench") / "bench.spec"
    path.write_text(text, encoding="utf-8")
    return text, load(str(path))


def test_generated_spec_has_10000_lines_and_loads_without_diagnostics(big_spec):
    text, spec = big_spec
    assert text.count("\n") >= 10_000
    assert spec.warnings == ()


def test_generated_spec_mixes_every_construct(big_spec):
    text, spec = big_spec
    blocks = text.count("# ---- block ")
    assert {p.kind for p in spec.properties} == {"formula", "aggregate", "metric", "conforms",
                                                 "saga", "follows"}
    assert any(p.params for p in spec.preds.values())          # parameterised predicates
    assert any(p.is_step for p in spec.preds.values())         # step declarations
    assert "saga" in spec.imports                              # import std.saga
    for table in (spec.consts, spec.enums, spec.metrics, spec.configs, spec.workflows,
                  spec.models):
        assert len(table) >= blocks
    for items in (spec.invariants, spec.theorems, spec.checks, spec.heals):
        assert len(items) >= blocks
    assert {c.kind for c in spec.checks} == {"sound", "invariant", "ltl", "deadlock_free"}
    for word in ("severity", "owner", "runbook", "message", "window", "sliding", "per attr",
                 "F[<=", "O[<=", "H[>=", "U[", " S ", " W ", "WX", "within", "prev(", "last(",
                 "absence(", "response(", "precedence(", "existence(", "universality(",
                 "between(", "after(", "compensate", "cooldown", "limit", "approve", "risk",
                 "forall", "assuming", "clamp(", "matches", "has_ancestor(", "linked(",
                 "parent.", "has_event(", " in [", "startswith"):
        assert word in block(0), word
