"""OTLP logs decoding (ingest/logs.py) and where log records sit among a trace's span
events (ingest/events.py, ``merge_logs``): docs/language.md, "Log records".

The decoders promise the trace decoder's rules: protobuf and OTLP/JSON read alike, a
malformed id or time rejects one record (counted, with a message), a bad resource or
scope rejects its records, the text rule holds for every decoded string, nothing is
lost silently (``logs_received == logs_decoded + logs_rejected``), and bad input never
raises anything but ``InputError``. The fuzz below checks the last three on seeded
mutations (a few thousand cases by default, 100,000 with ``TRACELOGIC_LONG=1``).
"""
from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from tracelogic.errors import InputError
from tracelogic.ingest.events import Trace, merge_logs
from tracelogic.ingest.logs import (LogRecord, decode_logs_json, decode_logs_pb,
                                    logs_to_request, looks_like_logs_json)
from tracelogic.ingest.otlp import read_bytes
from tracelogic.ingest.otlp_common import MAX_STRING_BYTES, DecodeStats
from tracelogic.ingest.spans import MISSING, Span

from .otlp_fuzzing import mutated_json, mutated_pb

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
CASES = 100_000 if LONG else 1_500
T1 = "5b8efff798038103d269b633813fc60c"
S1 = "eee19b7ec3c1b174"


def _doc(records: list[dict], service: str = "shop") -> dict:
    return {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": "app"}, "logRecords": records}]}]}


GOOD = {"timeUnixNano": "1700000000000000100", "severityNumber": 17, "severityText": "ERROR",
        "body": {"stringValue": "payment failed"}, "traceId": T1.upper(), "spanId": S1,
        "attributes": [{"key": "retry.attempt", "value": {"intValue": "2"}},
                       {"key": "peer.service", "value": {"stringValue": "bank"}}]}


def test_a_json_record_decodes_to_every_field():
    stats = DecodeStats()
    [r] = decode_logs_json(_doc([GOOD]), stats=stats)
    assert (r.time_ns, r.severity, r.severity_text, r.body) == \
        (1700000000000000100, 17, "ERROR", "payment failed")
    assert (r.service, r.trace_id, r.span_id, r.scope_name) == ("shop", T1, S1, "app")
    assert r.attr("retry.attempt") == 2 and r.attr("service.name") == "shop"
    assert r.signal == "log" and r.kind is MISSING and r.duration is MISSING
    assert (stats.logs_received, stats.logs_decoded, stats.logs_rejected) == (1, 1, 0)


def test_protobuf_and_json_read_alike():
    recs = decode_logs_json(_doc([GOOD, {"observedTimeUnixNano": "7",
                                         "severityNumber": "SEVERITY_NUMBER_WARN2",
                                         "body": {"kvlistValue": {"values": [
                                             {"key": "a", "value": {"intValue": 1}}]}}}]))
    back = decode_logs_pb(logs_to_request(recs).SerializeToString())
    assert [repr(r) for r in back] == [repr(r) for r in recs]
    assert back[1].time_ns == 7 and back[1].severity == 14 and back[1].trace_id == ""


@pytest.mark.parametrize("bad, words", [
    ({"traceId": "xyz"}, "trace id 'xyz' is not 32 hex digits"),
    ({"spanId": "0" * 16}, "all zeros"),
    ({"timeUnixNano": "soon"}, "are not integers of nanoseconds"),
    ({"severityNumber": "LOUD"}, "severityNumber 'LOUD'"),
    ({"severityText": 3}, "severityText 3 is not a string"),
    ({"attributes": {"k": 1}}, "attributes must be a JSON array"),
])
def test_a_malformed_record_is_rejected_with_a_message(bad, words):
    stats = DecodeStats()
    recs = decode_logs_json(_doc([GOOD, {**GOOD, **bad}]), stats=stats)
    assert len(recs) == 1
    assert (stats.logs_received, stats.logs_decoded, stats.logs_rejected) == (2, 1, 1)
    assert words in stats.messages[0] and "logRecords[1]" in stats.messages[0]


def test_a_severity_outside_the_range_is_kept_as_unspecified_with_a_warning():
    stats = DecodeStats()
    [r] = decode_logs_json(_doc([{**GOOD, "severityNumber": 99}]), stats=stats)
    assert r.severity is MISSING and stats.warnings == 1


def test_the_text_rule_rejects_the_record_or_the_resource():
    stats = DecodeStats()
    long = "x" * (MAX_STRING_BYTES + 1)
    recs = decode_logs_json(_doc([GOOD, {**GOOD, "body": {"stringValue": long}}]), stats=stats)
    assert len(recs) == 1 and stats.logs_rejected == 1 and "limit" in stats.messages[0]
    stats = DecodeStats()
    assert decode_logs_json(_doc([GOOD, GOOD], service=long), stats=stats) == []
    assert stats.logs_rejected == 2


def test_not_a_logs_request_is_an_input_error():
    with pytest.raises(InputError, match="resourceLogs"):
        decode_logs_json([1, 2])
    with pytest.raises(InputError, match="ExportLogsServiceRequest"):
        decode_logs_pb(b"\xff\xff\xff")


def test_log_files_are_recognised_and_read_line_by_line():
    line = json.dumps(_doc([GOOD]))
    data = f"{line}\n{line}\n".encode()
    assert looks_like_logs_json(data) and not looks_like_logs_json(b'{"resourceSpans": []}')
    got = read_bytes(data, source="f.jsonl")
    assert len(got.logs) == 2 and got.stats.ok


# -- fuzz ------------------------------------------------------------------------------

def _seed_texts() -> tuple[str, ...]:
    return (json.dumps(_doc([GOOD])),
            json.dumps(_doc([GOOD, {"observedTimeUnixNano": 5, "body": {"arrayValue": {
                "values": [{"stringValue": "a"}, {"boolValue": True}]}}}])),
            json.dumps({"resource_logs": [{"scope_logs": [{"log_records": [
                {"time_unix_nano": "9", "severity_number": 9, "trace_id": T1}]}]}]}))


def _strings(v: Any) -> list[str]:
    out, stack = [], [v]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, tuple):
            stack.extend(x)
        elif isinstance(x, Mapping):
            stack.extend(x.keys())
            stack.extend(x.values())
    return out


def _check_case(decode, data: bytes) -> int:
    stats = DecodeStats()
    try:
        recs = decode(data, stats)
    except InputError:
        return 0
    assert stats.logs_received == stats.logs_decoded + stats.logs_rejected
    assert len(recs) == stats.logs_decoded
    for r in recs:
        for s in _strings((r.body, r.severity_text, r.attrs, r.service, r.scope_name)):
            assert len(s.encode("utf-8")) <= MAX_STRING_BYTES  # raises on a lone surrogate
        assert r.severity is MISSING or 1 <= r.severity <= 24
    for m in stats.messages:
        m.encode("utf-8")
    return len(recs)


def _json_decode(data: bytes, stats: DecodeStats) -> list[LogRecord]:
    got = read_bytes(data, source="fuzz.json", fmt="json", stats=stats)
    if got.stats.errors:
        raise got.stats.errors[0]
    return got.logs


def test_fuzz_the_json_logs_decoder():
    rng = random.Random(1919)
    seeds = _seed_texts()
    decoded = 0
    for i in range(CASES):
        data = mutated_json(rng, rng.choice(seeds))
        decoded += bool(_check_case(_json_decode, data))
    assert decoded >= 0.3 * CASES, "the fuzz mostly bounced off the parser"


def test_fuzz_the_protobuf_logs_decoder():
    rng = random.Random(2020)
    seeds = tuple(logs_to_request(decode_logs_json(json.loads(t))).SerializeToString()
                  for t in _seed_texts())
    decoded = 0
    for i in range(CASES):
        data = mutated_pb(rng, seeds)
        decoded += bool(_check_case(
            lambda d, s: decode_logs_pb(d, stats=s, source="fuzz.pb"), data))
    # a broken string rejects its record only (the traces' salvage), so most cases decode
    # something; broken framing above the records still refuses the request
    assert decoded >= 0.3 * CASES, f"the fuzz mostly bounced off the parser ({decoded})"


def test_fuzz_one_corrupted_record_costs_only_that_record():
    """The salvage's oracle: corrupting one record's bytes (a string that is not UTF-8, a
    bad tag or length inside it) rejects at most that record; every other record decodes
    exactly as from the request without it. Seeded; longer with TRACELOGIC_LONG=1."""
    from opentelemetry.proto.logs.v1 import logs_pb2

    rng = random.Random(1919_2)
    for _ in range(2_000 if LONG else 150):
        n = rng.randint(2, 6)
        recs = [dict(GOOD, body={"stringValue": f"r{i}-" + "x" * rng.randint(0, 9)},
                     timeUnixNano=str(1700000000000000000 + i)) for i in range(n)]
        req = logs_to_request(decode_logs_json(_doc(recs)))
        k = rng.randrange(n)
        victim = req.resource_logs[0].scope_logs[0].log_records[k].SerializeToString()
        bad = bytearray(victim)
        how = rng.choice(["utf8", "byte", "cut"])
        if how == "utf8":  # inside the body's text
            at = bytes(bad).index(b"r%d-" % k)
            bad[at] = rng.choice([0xFF, 0xC3, 0x80])
        elif how == "byte":
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        else:
            bad = bad[:rng.randrange(len(bad))]
        data = req.SerializeToString()
        # the record's bytes sit inside their length-delimited field: a changed length
        # would change the framing above the record, which is not what this test is about
        data = data.replace(victim, bytes(bad).ljust(len(victim), b"\0")[:len(victim)]) \
            if how == "cut" else data.replace(victim, bytes(bad))
        stats = DecodeStats()
        try:
            got = decode_logs_pb(data, stats=stats, source="one.pb")
        except InputError:
            raise AssertionError(f"one record's damage ({how}) refused the whole request")
        others = [r for i, r in enumerate(decode_logs_json(_doc(recs))) if i != k]
        key = lambda r: (r.time_ns, r.severity, r.body, r.trace_id, r.span_id,  # noqa: E731
                         dict(r.attrs))
        assert stats.logs_received == n == stats.logs_decoded + stats.logs_rejected
        assert stats.logs_rejected <= 1
        kept = [key(r) for r in got]
        if stats.logs_rejected:
            assert kept == [key(r) for r in others]
            assert f"logRecords[{k}]" in stats.messages[0]
            assert "log record skipped" in stats.messages[0]
        else:  # the damage left a readable record: the others are all there
            assert [x for i, x in enumerate(kept) if i != k] == [key(r) for r in others]


def _pb_with(body: str = "chargeX") -> bytes:
    """Three records; the second's body is ``body`` (set in protobuf: no decoder checks it)."""
    recs = [dict(GOOD, body={"stringValue": b}) for b in ("first", "chargeX", "third")]
    req = logs_to_request(decode_logs_json(_doc(recs)))
    req.resource_logs[0].scope_logs[0].log_records[1].body.string_value = body
    return req.SerializeToString()


def test_protobuf_invalid_utf8_rejects_the_record_its_scope_or_its_resource():
    """The traces' rules (tests/ingest/test_otlp_limits.py), for log records."""
    data = _pb_with()
    for needle, rejected, where in [(b"shop", 3, "resourceLogs[0]: the resource"),
                                    (b"app", 3, "scopeLogs[0]: the scope"),
                                    (b"chargeX", 1, "logRecords[1]")]:
        at = data.index(needle)
        bad = data[:at] + b"\xc3\x28" + data[at + 2:]
        stats = DecodeStats()
        recs = decode_logs_pb(bad, stats=stats, source="bad.pb")
        assert (stats.logs_received, stats.logs_rejected) == (3, rejected)
        assert len(recs) == 3 - rejected and where in stats.messages[0], stats.messages
        assert f"byte offset {at}" in stats.messages[0]
        if rejected == 1:
            assert [r.body for r in recs] == ["first", "third"]


@pytest.mark.parametrize("extra,ok", [(-1, True), (0, True), (1, False)])
def test_protobuf_string_size_limit_rejects_the_record(extra, ok):
    s = "v" * (MAX_STRING_BYTES + extra)
    stats = DecodeStats()
    recs = decode_logs_pb(_pb_with(s), stats=stats)
    assert (stats.logs_rejected == 0) is ok and len(recs) == 3 - (not ok)
    if ok:
        assert recs[1].body == s
    else:
        assert f"over the limit of {MAX_STRING_BYTES}" in stats.messages[0]
        assert "logRecords[1]" in stats.messages[0]


def test_protobuf_framing_errors_above_the_records_stay_request_errors():
    with pytest.raises(InputError) as e:
        decode_logs_pb(_pb_with()[:-3], source="cut.pb")
    assert "byte offset" in str(e.value) and "cut.pb" in str(e.value)
    assert "ExportLogsServiceRequest" in str(e.value)


# -- order -----------------------------------------------------------------------------

def _span(i: int, start: int, end: int, parent: int | None = None) -> Span:
    return Span(name=f"s{i}", trace_id=T1, span_id="%016x" % i, start_ns=start, end_ns=end,
                parent_id="%016x" % parent if parent else "")


@st.composite
def traces_with_logs(draw):
    n = draw(st.integers(1, 5))
    spans = []
    for i in range(1, n + 1):
        a = draw(st.integers(0, 6))
        b = draw(st.integers(0, 6))
        parent = draw(st.sampled_from([None] + list(range(1, i))))
        spans.append(_span(i, min(a, b), max(a, b), parent))
    logs = []
    for k in range(draw(st.integers(0, 6))):
        own = draw(st.sampled_from([""] + [s.span_id for s in spans] + ["%016x" % 99]))
        logs.append(LogRecord(time_ns=draw(st.integers(0, 6)), trace_id=T1, span_id=own,
                              body=f"log{k}", seq=k))
    return spans, logs


@settings(max_examples=300, deadline=None)
@given(traces_with_logs(), st.randoms())
def test_logs_sit_among_span_events_by_the_rules(case, rnd):
    spans, logs = case
    trace = Trace(spans)
    shuffled = list(logs)
    rnd.shuffle(shuffled)
    merged = merge_logs(trace.events, shuffled)
    assert merged == merge_logs(trace.events, logs)  # arrival order is `seq`, not the list's
    # the span events keep their order, and every log record is there once
    assert [e for e in merged if e.is_start is not None] == list(trace.events)
    assert sorted(e.span.seq for e in merged if e.is_start is None) == list(range(len(logs)))
    times = [e.time_ns for e in merged]
    assert times == sorted(times)  # by time
    for i, e in enumerate(merged):
        if e.is_start is not None:
            continue
        rec = e.span
        own = trace.get(rec.span_id) if rec.span_id else None
        later = [x for x in merged[i + 1:] if x.is_start is not None and x.time_ns == rec.time_ns]
        if own is not None and own.start_ns <= rec.time_ns <= own.end_ns:
            pos_start = merged.index(next(x for x in merged
                                          if x.is_start is True and x.span is own))
            pos_end = merged.index(next(x for x in merged
                                        if x.is_start is False and x.span is own))
            assert pos_start < i < pos_end  # after its span's start, before its end
        # at its instant, the only span event after it can be its own span's end onwards
        if later:
            assert later[0].is_start is False and later[0].span is own
        # records at one position keep their arrival order
        nxt = merged[i + 1] if i + 1 < len(merged) else None
        if nxt is not None and nxt.is_start is None and nxt.time_ns == rec.time_ns:
            assert nxt.span.seq > rec.seq


def test_a_trace_of_log_records_only():
    rec = LogRecord(time_ns=5, trace_id=T1, severity=9, body="hello")
    trace = Trace((), [rec], trace_id=T1)
    assert trace.events == () and [e.span for e in trace.events_with_logs] == [rec]
    assert not trace.is_partial and trace.start_ns == trace.end_ns == 5
