"""Testing support: the pytest plugin, `assert_spec`, and Hypothesis strategies for traces."""
from tracelogic.testing.assertions import SpecViolation, assert_spec

__all__ = ["SpecViolation", "assert_spec"]
