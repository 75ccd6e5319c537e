"""Ingest: OTLP decoding (protobuf, JSON, metrics), the span model and trace assembly.

The lowest of the runtime layers: it imports neither :mod:`tracelogic.engine` nor
:mod:`tracelogic.sidecar` (tests/test_layers.py checks it), so a decoder can be used,
tested and fuzzed without a spec or a server.
"""
