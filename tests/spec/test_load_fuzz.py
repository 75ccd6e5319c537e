"""Seeded, bounded fuzzing of `tracelogic.load` (and `fmt`) over mutations of valid specs.

`tests/spec/test_fuzz.py` drives the `check` and `fmt` commands with random text and token
soup; this file starts from every valid spec the project ships (examples, the standard
library, the docs' `spec` blocks) and makes a few edits to each, most of which keep the
text parseable (tests/spec/loadfuzz.py): so that the cases reach the checker, where the
crashes of issue 13 were (a `TypeError` for `"a"..1000`, an `AttributeError` for a name
that is both a `pred` and a `const`).

A crash is any exception other than `SpecError`. The test also asserts that at least 30%
of the cases parse, so that the fuzz cannot silently degrade into a parser test.

Every crash this fuzz found is a named test in `tests/spec/test_load_regressions.py`.

Case counts: 300 in a normal run (seconds); ``TRACELOGIC_LONG=1`` runs 100,000, e.g.
``TRACELOGIC_LONG=1 python -m pytest tests/spec/test_load_fuzz.py``. The seed is fixed;
``TRACELOGIC_FUZZ_SEED=N`` picks another.
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.spec.loadfuzz import ROOT, fuzz, seeds
from tracelogic.spec.parser import parse_module_partial

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
CASES = 100_000 if LONG else 300
SEED = int(os.environ.get("TRACELOGIC_FUZZ_SEED", "20261202"))
MIN_PARSED = 0.30


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A copy of examples/language as the current directory: text specs import from it."""
    shutil.copytree(ROOT / "examples" / "language", tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_seeds_are_valid_specs():
    """The fuzz starts from specs that parse. The examples and the standard library must;
    of the docs' `spec` blocks, a few are sketches of syntax to come, but most must."""
    corpus = seeds()
    shipped = {n: t for n, t in corpus.items() if not n.startswith("docs/")}
    assert len(shipped) >= 20
    broken = [name for name, text in shipped.items() if parse_module_partial(text, name)[1]]
    assert not broken, broken
    docs = {n: t for n, t in corpus.items() if n.startswith("docs/")}
    parsed = [n for n, t in docs.items() if not parse_module_partial(t, n)[1]]
    assert len(parsed) >= 0.9 * len(docs), sorted(set(docs) - set(parsed))


@pytest.mark.timeout(4 * 3600 if LONG else 300)  # the suite's 300 s is for the default run
def test_mutated_specs_load_or_give_diagnostics(workspace):
    result = fuzz(CASES, SEED)
    print(f"load fuzz: seed {SEED}, {result.cases} cases, {result.parsed} parsed "
          f"({result.parsed / result.cases:.0%}), {len(result.crashes)} kinds of crash")
    report = "\n".join(f"{count} x {kind}; first input:\n{text[:2000]!r}\n{tb}"
                       for kind, (count, text, tb) in result.crashes.items())
    assert not result.crashes, f"{len(result.crashes)} kinds of crash:\n{report}"
    share = result.parsed / result.cases
    assert share >= MIN_PARSED, (
        f"only {share:.0%} of {result.cases} cases parse: the mutations no longer reach "
        "the checker")
