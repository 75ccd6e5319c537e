"""The core's span count of a request (``_native.count_spans_pb``, what the sidecar's
ingest queue is bounded by before the engine thread decodes) against the decoder's count
of received spans, on generated requests and on their truncations."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelogic.errors import InputError
from tracelogic.ingest.otlp import DecodeStats, decode_traces_pb, spans_to_request
from tests.native.test_stepping_native import traces

_native = pytest.importorskip("tracelogic._native")


@settings(max_examples=100, deadline=None)
@given(traces(), st.data())
def test_the_count_is_the_decoders_received_count(requests, data):
    for spans in requests:
        payload = spans_to_request(spans).SerializeToString()
        stats = DecodeStats()
        decode_traces_pb(payload, stats=stats, source="gen")
        assert _native.count_spans_pb(payload) == stats.received == len(spans)
        cut = data.draw(st.integers(0, len(payload)))
        got = _native.count_spans_pb(payload[:cut])
        stats = DecodeStats()
        try:
            decode_traces_pb(payload[:cut], stats=stats, source="gen")
        except InputError:
            continue  # refused whole: the engine answers invalid; the count only sized the queue
        if got is not None:  # framing intact above the spans: the same count
            assert got == stats.received
