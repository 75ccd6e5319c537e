"""The core's results as packed arrays (native/src/packed.rs -> engine/native_run.py).

``NativeRun.close`` hands results over as one ``bytes`` column per field instead of a Python
object per instance, and the report lists the instances lazily (``PropertyResult.add_codes``).
The differential tests compare whole reports; this file drives the packing where it can
break: many instances (more than a byte's worth, in one block), keys with odd characters,
no instance at all, the lazy listing mixed with eager results, and the helpers that turn
states into verdict codes.
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

import tracelogic
from tracelogic.automata.monitor import Verdict
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.native_run import (count_vacuous, final_verdicts, unpack_closed,
                                          verdict_codes, violated)
from tracelogic.engine.report import VERDICT_CODES, VERDICT_NAMES, PropertyResult
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

SPEC = """
property no_error:
  G !(status == error)
property answered:
  G (name == "a" & start -> F name == "b")
property triggered:
  response(name == "x", name == "b")
property by_key per attr["k"]:
  G (name == "a" & start -> F name == "b")
property by_service per service:
  G !(status == error)
"""

ODD_KEYS = ["", " ", "\x00", "a\x00b", "é", "日本", "🙂", "\n", "\"quoted\"", "back\\slash",
            "\ud7ff", "1", "1.0", "k" * 300, "\t tab", "zero\u200bwidth"]


def spans_for(n_traces: int, keys: list[str] | None) -> list[Span]:
    """Traces of two spans ``a`` then (for most) ``b``; every seventh fails, every fifth
    lacks its ``b`` (a violation of ``answered``), and the key of trace ``t`` is
    ``keys[t % len(keys)]`` (none when ``keys`` is None)."""
    out = []
    for t in range(n_traces):
        attrs = {} if keys is None else {"k": keys[t % len(keys)]}
        tid = f"{t + 1:032x}"
        out.append(Span(name="a", trace_id=tid, span_id=f"{1:016x}", start_ns=t * 10**6,
                        end_ns=t * 10**6 + 5, service=f"s{t % 3}", attrs=attrs,
                        status="error" if t % 7 == 0 else "unset"))
        if t % 5:
            out.append(Span(name="b", trace_id=tid, span_id=f"{2:016x}",
                            parent_id=f"{1:016x}", start_ns=t * 10**6 + 1,
                            end_ns=t * 10**6 + 2, service=f"s{t % 3}", attrs=attrs))
    return out


def reports(spans: list[Span], max_open: int = 100_000) -> dict[str, dict]:
    requests = [spans_to_request(spans[i:i + 500]).SerializeToString()
                for i in range(0, len(spans), 500)]
    out = {}
    for engine in ("python", "native"):
        mon = Monitor(tracelogic.load(SPEC), engine=engine, max_open_traces=max_open)
        if engine == "native":
            assert set(mon.engines.values()) == {"native"}, mon.engines
        for data in requests:
            mon.feed_otlp(data)
        report = mon.close()
        out[engine] = {"json": report.to_json(), "text": report.to_text(),
                       "exit": report.exit_code(), "verdicts": mon.verdicts()}
    return out


def test_many_instances_pack_and_list_as_the_python_engine_reports_them(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    got = reports(spans_for(1500, [f"o-{i}" for i in range(700)]))
    assert got["native"] == got["python"]
    props = {p["name"]: p for p in got["native"]["json"]["properties"]}
    assert props["no_error"]["instances"] == 1500
    assert props["by_key"]["instances"] == 700
    assert props["triggered"]["vacuous"] == 1500  # `x` never occurs
    verdicts = {r["verdict"] for r in props["answered"]["results"]}
    assert verdicts == {"satisfied", "violated"}


def test_keys_with_odd_characters_survive_the_packing(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    got = reports(spans_for(len(ODD_KEYS) * 3, ODD_KEYS))
    assert got["native"] == got["python"]
    by_key = next(p for p in got["native"]["json"]["properties"] if p["name"] == "by_key")
    assert [r["key"] for r in by_key["results"]] == ODD_KEYS


def test_no_instances_at_all(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    got = reports(spans_for(4, None))  # no span has the key: by_key has no instance
    assert got["native"] == got["python"]
    by_key = next(p for p in got["native"]["json"]["properties"] if p["name"] == "by_key")
    assert by_key["instances"] == 0 and by_key["results"] == []
    empty = reports([])
    assert empty["native"] == empty["python"]
    assert all(p["instances"] == 0 for p in empty["native"]["json"]["properties"])


def test_evicted_traces_beside_packed_results(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    got = reports(spans_for(40, ["k1", "k2", "k3"]), max_open=3)
    assert got["native"] == got["python"]
    assert got["native"]["json"]["summary"]["incomplete"] > 0


def test_unpack_closed_reads_every_column():
    i32 = lambda *xs: b"".join(x.to_bytes(4, "little", signed=True) for x in xs)  # noqa: E731
    u32 = lambda *xs: b"".join(x.to_bytes(4, "little") for x in xs)  # noqa: E731
    out = {
        "complete_ids": "0" * 31 + "1" + "f" * 32, "complete_partial": b"\x00\x01",
        "n_events": u32(2, 3), "others": [("ab" * 16, "incomplete", "evicted", False)],
        "results": [{"state": u32(300, 1), "state_width": 4, "decided": i32(-1, 2),
                     "raised": i32(0, -1), "trigger": b"\x01\x00"}, None],
        "cross": [None, {"keys": ["", "\x00é"], "state": b"\x02\x00", "state_width": 1,
                         "decided_trace": i32(1, -1), "decided_event": i32(2, -1),
                         "raised_trace": i32(-1, 0), "raised_event": i32(-1, 1),
                         "last_trace": i32(1, 0), "last_event": i32(2, 1),
                         "trigger": b"\x00\x01", "partial": b"\x01\x00",
                         "events": u32(3, 1), "trace_offsets": u32(0, 2, 2),
                         "traces": u32(1, 0)}],
        "evicted_keys": [[[], []]], "counters": {"evicted": 1}, "mismatches": [],
        "reg_mismatches": [], "samples": [None, None],
    }
    if sys.byteorder != "little":
        pytest.skip("the columns are in machine order; this data is little-endian")
    c = unpack_closed(out)
    assert c.complete_ids == ["0" * 31 + "1", "f" * 32]
    assert list(c.n_events) == [2, 3] and c.complete_partial == b"\x00\x01"
    assert c.others[0].trace_id == "ab" * 16 and c.others[0].reason == "evicted"
    r = c.results[0]
    assert list(r.state) == [300, 1] and r.state_bytes is None
    assert list(r.decided) == [-1, 2] and list(r.raised) == [0, -1]
    x = c.cross[1]
    assert x.keys == ["", "\x00é"] and list(x.state) == [2, 0] and x.state_bytes == b"\x02\x00"
    assert list(x.traces[x.trace_offsets[0]:x.trace_offsets[1]]) == [1, 0]
    assert list(x.traces[x.trace_offsets[1]:x.trace_offsets[2]]) == []
    assert (list(x.decided_trace), list(x.raised_event)) == ([1, -1], [-1, 1])
    assert r.timed is None and x.timed is None  # no timed property


def _cp(verdicts: list[Verdict], accepting: list[bool]):
    """Just what verdict_codes reads of a compiled property."""
    return SimpleNamespace(monitor=SimpleNamespace(verdicts=verdicts, accepting=accepting))


def test_verdict_codes_narrow_wide_and_partial():
    P, V, S = Verdict.PRESUMABLY_SATISFIED, Verdict.VIOLATED, Verdict.SATISFIED
    cp = _cp([P, V, S, P] + [P] * 297, [True, False, True, False] + [True] * 297)
    names = lambda codes: [VERDICT_NAMES[c] for c in codes]  # noqa: E731
    states = [0, 1, 2, 3, 0]
    partial = b"\x00\x00\x00\x01\x01"
    narrow = verdict_codes(cp, states, bytes(states), partial)
    wide = verdict_codes(cp, states + [300], None, partial + b"\x00")
    expected = ["satisfied", "violated", "satisfied", "inconclusive", "inconclusive"]
    assert names(narrow) == expected and names(wide) == expected + ["satisfied"]
    assert [v.value for v in final_verdicts(cp, False)[:4]] == [
        "satisfied", "violated", "satisfied", "violated"]
    assert list(violated(bytearray(narrow))) == [1]
    assert list(violated(bytearray())) == []
    # satisfied without a trigger: instances 0 and 2 satisfied, 2 had its trigger
    assert count_vacuous(narrow, b"\x00\x00\x01\x00\x00") == 1
    assert count_vacuous(bytearray(), b"") == 0


def test_property_result_lists_blocks_lazily_in_order():
    res = PropertyResult("p", "trace")
    res.add("first", Verdict.SATISFIED)
    codes = bytes([VERDICT_CODES["violated"], VERDICT_CODES["satisfied"],
                   VERDICT_CODES["incomplete"]])
    res.add_codes(["a", "", "\x00"], codes)
    res.add_codes([], b"")
    assert res.instances == 4
    assert res.count("violated") == 1 and res.count("satisfied") == 2
    assert res.count("incomplete") == 1 and res.count("no such verdict") == 0
    res.add("last", "incomplete")  # after a block: the block is listed first
    assert res.results == [("first", "satisfied"), ("a", "violated"), ("", "satisfied"),
                           ("\x00", "incomplete"), ("last", "incomplete")]
    assert res.count("incomplete") == 2
    assert res == PropertyResult("p", "trace", 5, 0, list(res.results))
    with pytest.raises(ValueError):
        res.add_codes(["a"], b"")


def test_a_second_close_of_the_core_gives_the_same_results_and_events_stay_readable(
        monkeypatch):
    """The core frees its copy of the results once it handed them over
    (``FileRun::forget_results``): a second ``close`` returns what the first did, and the
    witnesses' events and spans are still read back from the store."""
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    from tracelogic.engine.native_run import _render_key

    spans = spans_for(300, [f"o-{i}" for i in range(40)])
    mon = Monitor(tracelogic.load(SPEC), engine="native", max_open_traces=100_000)
    mon.feed_otlp(spans_to_request(spans).SerializeToString())
    core = mon._native
    first = core._run.close(_render_key, None)
    again = core._run.close(_render_key, None)
    assert again is first
    by_key = first["cross"][3]
    assert len(by_key["keys"]) == 40 and by_key["keys"][:2] == ["o-0", "o-1"]
    report = mon.close()  # reads the same results, and witnesses from the store
    assert report.violations and all(v.witness for v in report.violations)
    assert core.event(0, 0).span.trace_id == f"{1:032x}"
