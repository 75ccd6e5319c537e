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
