"""Cross-trace scopes in the core (issue 17 step 4): the scope key's text and the routing.

The generated differential test (test_stepping_native.py) compares whole reports; this file
holds the pieces that one cannot pin down: the core renders a float scope key exactly as
Python's ``key_text`` does (the shortest round-trip digits, Python's exponent rules, huge
integral floats digit for digit), and which scope keys the core reads.
"""
from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic import _native
from tracelogic.engine.monitor import Monitor, key_text
from tracelogic.engine.plan import property_reason
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span


def _floats_around_the_rules() -> list[float]:
    """Where Python's repr switches notation (1e-4, 1e16), integral floats at i128's edge
    and beyond, the extremes, and neighbours of each."""
    out = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
           1.7976931348623157e308, -1.7976931348623157e308, 0.1, 0.2, 0.3, 1 / 3, 2 / 3]
    for e in range(-30, 40):
        out += [10.0 ** e, -(10.0 ** e), 1.5 * 10.0 ** e, 123456789.125 * 10.0 ** e]
    for e in (52, 53, 63, 64, 126, 127, 128, 200, 1023):
        out += [2.0 ** e, -(2.0 ** e)]
    return [y for x in out for y in (x, math.nextafter(x, math.inf),
                                     math.nextafter(x, -math.inf))]


def test_float_keys_read_as_python_renders_them_at_the_edges():
    for f in _floats_around_the_rules():
        assert _native.float_key_text(f) == key_text(f), repr(f)


def test_float_keys_read_as_python_renders_them_for_any_bits():
    rng = random.Random(17)
    for _ in range(100_000):
        f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        assert _native.float_key_text(f) == key_text(f), repr(f)
    for _ in range(20_000):  # short decimals, where two shortest candidates are likeliest
        f = round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)) * 10.0 ** rng.randint(-12, 12)
        assert _native.float_key_text(f) == key_text(f), repr(f)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_keys_read_as_python_renders_them(f):
    assert _native.float_key_text(f) == key_text(f)


SPEC = """
property by_key per attr["k"]:
  G (name == "a" -> F name == "b")
property by_service per service:
  G !(status == error)
property everything global:
  F name == "c"
property with_registers per attr["k"]:
  G (attr["x"] >= prev(attr["x"]))
property with_links per attr["k"]:
  G (name == "b" -> !linked(name == "a"))
"""


RUN_SPEC = SPEC


def test_which_scope_keys_the_core_reads(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    mon = Monitor(tracelogic.load(SPEC))
    reasons = {cp.name: property_reason(cp) for cp in mon.compiled.properties}
    assert reasons["by_key"] is None and reasons["by_service"] is None
    assert reasons["everything"] is None
    assert mon.engines == {"by_key": "native", "by_service": "native",
                           "everything": "native", "with_registers": "native",
                           "with_links": "python"}


ALONE_SPEC = RUN_SPEC.replace("""property with_links per attr["k"]:
  G (name == "b" -> !linked(name == "a"))
""", "")


@pytest.mark.parametrize("text", [RUN_SPEC, ALONE_SPEC], ids=["beside-python", "core-alone"])
def test_keys_of_one_text_are_one_instance_and_the_engines_agree(monkeypatch, text):
    """1, 1.0, "1" and True-like values: instances are by the key's text, whichever engine;
    spans without a usable key (missing, None, empty service) belong to no instance. Run
    beside a property the Python engine keeps (both engines see the spans) and with the core
    alone; with room for every trace, and with evictions (their keys become incomplete)."""
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    values = [1, 1.0, "1", True, "true", None, ("a", 1), b"x", {"m": 1}, 2.5, 1e300, "", -0.0]
    spans = []
    for t, v in enumerate(values):
        for i in range(2):
            spans.append(Span(
                name="ab"[i], trace_id=f"{t + 1:032x}", span_id=f"{i + 1:016x}",
                parent_id="" if i == 0 else f"{1:016x}", start_ns=(10 + t + i) * 10**6,
                end_ns=(12 + t + i) * 10**6, status="error" if t % 3 == 0 else "unset",
                service=["s1", "", "s2"][t % 3], attrs={} if v is None else {"k": v, "x": t}))
    data = spans_to_request(spans).SerializeToString()
    reports = {}
    for engine in ("python", "native"):
        for max_open in (100, 3):
            mon = Monitor(tracelogic.load(text), engine=engine, max_open_traces=max_open)
            mon.feed_otlp(data)
            rep = mon.close()
            reports[engine, max_open] = (rep.to_text(), rep.to_json())
    for max_open in (100, 3):
        assert reports["native", max_open] == reports["python", max_open]
    evicted = next(p for p in reports["native", 3][1]["properties"] if p["name"] == "by_key")
    assert any(r["verdict"] == "incomplete" for r in evicted["results"])
    by_key = next(p for p in reports["native", 100][1]["properties"] if p["name"] == "by_key")
    texts = {key_text(v) for v in values} - {None}
    assert [r["key"] for r in by_key["results"]] == list(dict.fromkeys(
        key_text(v) for v in values if key_text(v) is not None))
    assert by_key["instances"] == len(texts)
