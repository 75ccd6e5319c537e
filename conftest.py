"""Hypothesis profiles for the whole suite (tests/ and examples/).

CI and a plain `pytest` run are derandomized: every run draws the same examples, so a
green run here is a green run in CI, and a failure reproduces. TRACELOGIC_LONG=1 is the
exploring run: random seeds, and the tests' own larger example counts.
"""
import os
import shutil
import tempfile

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
# the cache directory pytest_configure made, for pytest_unconfigure to remove
_MADE_CACHE = pytest.StashKey[str]()


def pytest_configure(config):
    """The suite's disk cache (the parser's tables, parsed specs, alphabets, dataclass
    code) in a private temporary directory, not in ~/.cache: a test run leaves the
    developer's cache as it was. Set here, before xdist starts its workers, so they and
    the `tracelogic` processes the tests start share it; an explicit TRACELOGIC_CACHE_DIR
    (empty: no cache) is kept."""
    if "TRACELOGIC_CACHE_DIR" not in os.environ:
        made = tempfile.mkdtemp(prefix="tracelogic-test-cache-")  # mode 0700: private
        os.environ["TRACELOGIC_CACHE_DIR"] = made
        config.stash[_MADE_CACHE] = made


def pytest_unconfigure(config):
    made = config.stash.get(_MADE_CACHE, None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("TRACELOGIC_CACHE_DIR", None)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh private cache directory for tracelogic's disk cache (TRACELOGIC_CACHE_DIR),
    not yet created: the tests of what is cached read and write there, not in ~/.cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", str(d))
    return d
