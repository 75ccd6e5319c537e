"""`tracelogic mine` on the command line: input errors, flags, the file it writes, stability
under reordering of the input files, and a mined spec that `check` accepts."""
from __future__ import annotations

import io
import json
import os
import random
import stat

import pytest

from tracelogic.cli import run
from tracelogic.ingest.otlp import request_to_json, spans_to_request

from . import generate

LONG = bool(os.environ.get("TRACELOGIC_LONG"))


def tl(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write_traces(path, spans) -> str:
    path.write_text(json.dumps(request_to_json(spans_to_request(spans))) + "\n")
    return str(path)


@pytest.fixture
def files(tmp_path):
    spans = generate.traces(11, n_traces=9)
    by_trace: dict[str, list] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    groups = list(by_trace.values())
    return [write_traces(tmp_path / f"part{i}.jsonl", [s for g in groups[i::3] for s in g])
            for i in range(3)]


def test_mined_spec_is_accepted_by_check_and_holds_under_monitor(files, tmp_path):
    code, text, err = tl("mine", *files, "--min-support", "1")
    assert code == 0, err
    spec = tmp_path / "mined.spec"
    spec.write_text(text)
    code, out, err = tl("check", "--strict", str(spec))
    assert code == 0, out + err
    code, out, err = tl("fmt", "--check", str(spec))  # already in fmt's canonical layout
    assert code == 0, out + err
    code, out, err = tl("monitor", str(spec), *files, "--format", "json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["summary"]["violated"] == 0
    assert all(p["instances"] > p["vacuous"] for p in doc["properties"])


def test_output_is_byte_identical_whatever_the_order_of_the_files(files):
    outputs = set()
    for seed in range(4 if not LONG else 12):
        order = files[:]
        random.Random(seed).shuffle(order)
        code, text, err = tl("mine", *order)
        assert code == 0, err
        outputs.add(text)
    assert len(outputs) == 1


def test_max_properties_caps_the_output(files):
    for n in (1, 5, 17):
        code, text, _ = tl("mine", *files, "--max-properties", str(n), "--min-support", "1")
        assert code == 0
        count = sum(line.startswith(("property ", "metric invariant "))
                    for line in text.splitlines())
        assert count == n
        assert f"--max-properties {n}" in text


def test_output_file_is_private(files, tmp_path):
    target = tmp_path / "out.spec"
    code, out, err = tl("mine", *files, "-o", str(target))
    assert code == 0 and out == ""
    assert "written to" in err
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text().startswith("# Mined by `tracelogic mine`")


@pytest.mark.parametrize("argv, message", [
    (["--max-properties", "0"], "--max-properties: give an integer of at least 1, got 0"),
    (["--max-pattern-length", "0"], "--max-pattern-length: give an integer of at least 1"),
    (["--min-support", "-1"], "--min-support: give an integer of at least 1, got -1"),
    (["--min-confidence", "1.5"], "--min-confidence: give a fraction in (0, 1]"),
    (["--min-confidence", "nan"], "take finite numbers"),
    (["--margin", "-0.1"], "--margin: give a fraction of at least 0"),
    (["--max-enum", "0"], "--max-enum: give an integer of at least 1"),
])
def test_bad_flags_exit_2_with_a_precise_message(files, argv, message):
    code, out, err = tl("mine", files[0], *argv)
    assert code == 2 and out == ""
    assert message in err


def test_a_missing_file_exits_2_and_names_it(tmp_path, files):
    code, out, err = tl("mine", files[0], str(tmp_path / "nope.jsonl"))
    assert code == 2 and out == ""
    assert f"cannot read {tmp_path / 'nope.jsonl'}" in err
    assert "nothing was mined" in err


def test_empty_input_exits_2(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out, err = tl("mine", str(empty))
    assert code == 2 and out == ""
    assert "the input holds no spans" in err


def test_metrics_only_input_exits_2(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "a"}}]}, "scopeMetrics": [
        {"metrics": [{"name": "x", "gauge": {"dataPoints": [
            {"timeUnixNano": "1", "asDouble": 1.0}]}}]}]}]}) + "\n")
    code, out, err = tl("mine", str(m))
    assert code == 2 and "holds no spans (only metric points)" in err


def test_malformed_content_exits_2_and_mines_nothing(tmp_path, files):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceSpans": [\n')
    code, out, err = tl("mine", files[0], str(bad))
    assert code == 2 and out == ""
    assert str(bad) in err


def test_fuzzed_inputs_never_crash(tmp_path, files):
    data = open(files[0], "rb").read()
    rnd = random.Random(19)
    for i in range(300 if LONG else 15):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            pos = rnd.randrange(len(b))
            b[pos] = rnd.randrange(256)
        if rnd.random() < 0.3:
            b = b[:rnd.randrange(len(b))]
        p = tmp_path / f"fuzz{i}.jsonl"
        p.write_bytes(bytes(b))
        code, out, err = tl("mine", str(p))
        assert code in (0, 2), err
        assert "internal error" not in err
