"""The sidecar (`tracelogic serve`): OTLP/gRPC and OTLP/HTTP receivers, the SQLite store,
forwarding, its Prometheus metrics and its command line.

It sits above :mod:`tracelogic.engine` and :mod:`tracelogic.ingest` and uses only their
public API: no private attribute of a monitor or an assembler (tests/test_layers.py).
"""
