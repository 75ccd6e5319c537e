"""The monitoring engine: a typed spec compiled into monitors, letters, stepping, verdicts
and evidence, with the Python reference engine and the native core behind one registry.

It reads spans through :mod:`tracelogic.ingest` and never imports :mod:`tracelogic.sidecar`
(tests/test_layers.py checks it): the sidecar drives it through its public API only.
"""
