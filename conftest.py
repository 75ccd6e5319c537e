"""Hypothesis profiles for the whole suite (tests/ and examples/).

CI and a plain `pytest` run are derandomized: every run draws the same examples, so a
green run here is a green run in CI, and a failure reproduces. TRACELOGIC_LONG=1 is the
exploring run: random seeds, and the tests' own larger example counts.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("long", derandomize=False)
settings.load_profile("long" if os.environ.get("TRACELOGIC_LONG", "") not in ("", "0") else "ci")


# ------------------------------------------------------------------ both engines
# The differential harness of the native core (docs/native.md): a test that takes
# `monitor_engine` runs once per monitoring engine, with TRACELOGIC_ENGINE set so every
# Monitor it builds (in-process, or a `tracelogic` subprocess that inherits the environment)
# uses that engine. tests/native/test_differential.py compares the engines' full reports.
import pytest  # noqa: E402

MONITOR_ENGINES = ("python", "native")


@pytest.fixture(params=MONITOR_ENGINES)
def monitor_engine(request, monkeypatch) -> str:
    monkeypatch.setenv("TRACELOGIC_ENGINE", request.param)
    return request.param


# ------------------------------------------------------------------ the disk cache
@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh private cache directory for tracelogic's disk cache (TRACELOGIC_CACHE_DIR),
    not yet created: the tests of what is cached read and write there, not in ~/.cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", str(d))
    return d
