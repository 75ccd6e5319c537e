"""Hand-written OTLP/JSON edge cases through `tracelogic monitor` (data/monitor/*.json[l]).

Temporal verdicts are checked against the reference evaluator on the decoded
spans (test_monitor_oracle.py); what the fixtures are about -- order
independence, partial traces, duplicates, bad lines and ids, wrong types -- is
asserted on the JSON report and the exit code.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import tracelogic
from tracelogic.cli import run
from tracelogic.ingest.events import Trace
from tracelogic.ingest.otlp import read_path

from .test_monitor_oracle import expected

DATA = Path(__file__).parent / "data" / "monitor"
SPEC = DATA / "edge.spec"


def monitor(*files: str, args: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", str(SPEC), *(str(DATA / f) for f in files), "--format", "json",
                *args], out, err)
    return code, json.loads(out.getvalue()), err.getvalue()


def verdicts(report: dict) -> dict[str, dict[str, str]]:
    return {p["name"]: {r["key"]: r["verdict"] for r in p["results"]}
            for p in report["properties"]}


def check_against_reference(report: dict, *files: str) -> None:
    spans = [s for f in files for s in read_path(DATA / f).spans]
    got = verdicts(report)
    for prop in tracelogic.load(str(SPEC)).properties:
        for key, exp in expected(prop, spans).items():
            if exp.partial and got[prop.name][key] == "inconclusive":
                continue
            assert got[prop.name][key] == exp.verdict, (prop.name, key)


@pytest.mark.parametrize("name", ["out_of_order.jsonl", "in_order.json", "multi_root.json",
                                  "partial.json", "equal_ts.json", "skew.json",
                                  "duplicates.jsonl", "malformed.jsonl", "bad_id.json",
                                  "wrong_type.json"])
def test_fixture_verdicts_equal_the_reference(name):
    _, report, _ = monitor(name)
    check_against_reference(report, name)


def test_out_of_order_spans_across_lines_give_the_in_order_report():
    code1, shuffled, _ = monitor("out_of_order.jsonl")
    code2, ordered, _ = monitor("in_order.json")
    assert shuffled == ordered and code1 == code2 == 1
    got = verdicts(ordered)
    assert got["root_first"] == {"1" * 32: "satisfied", "2" * 32: "satisfied"}
    assert got["a_then_b"]["1" * 32] == "satisfied"   # b starts exactly when a ends


def test_multiple_roots_are_not_a_partial_trace():
    code, report, _ = monitor("multi_root.json")
    assert "inconclusive" not in {v for p in verdicts(report).values() for v in p.values()}
    assert Trace(read_path(DATA / "multi_root.json").spans).has_multiple_roots


def test_missing_parent_makes_undecided_verdicts_inconclusive():
    code, report, _ = monitor("partial.json")
    got = {name: v["4" * 32] for name, v in verdicts(report).items()}
    # decided before the end: final, whatever the missing parent held
    assert got["no_failures"] == "violated" and got["root_first"] == "violated"
    # undecided at the end: they depend on the missing part
    for name in ("finishes", "answered", "a_then_b", "child_inside", "no_5xx"):
        assert got[name] == "inconclusive", name
    assert code == 1
    code, _, _ = monitor("partial.json", args=("--property", "finishes"))
    assert code == 1                                  # inconclusive fails ...
    code, _, _ = monitor("partial.json", args=("--property", "finishes", "--allow-unknown"))
    assert code == 0                                  # ... unless allowed


def test_identical_timestamps_follow_the_event_order():
    spans = read_path(DATA / "equal_ts.json").spans
    order = [(e.span.name, e.kind) for e in Trace(spans).events]
    assert order == [("root", "start"), ("a", "start"), ("a", "end"), ("c", "start"),
                     ("c", "end"), ("b", "start"), ("b", "end"), ("root", "end"),
                     ("done", "start"), ("done", "end")]  # at 300: ends, then zero-length
    _, report, _ = monitor("equal_ts.json")
    # the zero-duration child of b sits between a's end and b's start (ends before starts)
    assert verdicts(report)["a_then_b"] == {"5" * 32: "violated"}
    (v,) = [v for v in report["violations"] if v["property"] == "a_then_b"]
    assert [(e["name"], e["event"]) for e in v["events"]] == [("a", "end"), ("c", "start")]


def test_child_starting_before_its_parent():
    _, report, _ = monitor("skew.json")
    got = verdicts(report)
    assert got["child_inside"] == {"6" * 32: "violated"}
    (v,) = [v for v in report["violations"] if v["property"] == "child_inside"]
    assert v["span_ids"] == ["6000000000000002"]


def test_duplicate_spans_are_dropped_and_counted():
    code, report, _ = monitor("duplicates.jsonl")
    assert report["summary"]["duplicates"] == 1
    assert verdicts(report)["no_failures"] == {"7" * 32: "satisfied"}  # the first copy wins


def test_malformed_line_names_file_and_line_and_the_rest_is_monitored():
    code, report, err = monitor("malformed.jsonl")
    assert code == 2
    (error,) = report["errors"]
    assert error.startswith(str(DATA / "malformed.jsonl") + ":2:")
    assert "malformed.jsonl:2:" in err
    assert set(verdicts(report)["finishes"]) == {"8" * 32, "9" * 32}   # lines 1 and 3
    assert report["summary"]["spans"] == 3


def test_span_with_a_bad_id_is_reported_counted_and_exit_2():
    code, report, err = monitor("bad_id.json")
    assert code == 2
    assert report["summary"]["dropped"] == 1
    (error,) = report["errors"]
    assert "'reply'" in error and "span id" in error and "bad_id.json" in error
    assert set(verdicts(report)["finishes"]) == {"a" * 32}   # the good span still counts
    code, _, _ = monitor("bad_id.json", args=("--allow-unknown",))
    assert code == 2


def test_attribute_of_another_type_makes_comparisons_false_with_a_warning():
    code, report, _ = monitor("wrong_type.json", args=("--property", "no_5xx"))
    # "500" is a string and "5x0" is not an integer: neither is >= 500
    assert verdicts(report)["no_5xx"] == {"b" * 32: "satisfied"}
    (warning,) = report["summary"]["warnings"]
    assert 'attr["http.response.status_code"] >= 500' in warning and "str" in warning
    assert code == 0
    code, _, _ = monitor("wrong_type.json", args=("--property", "no_5xx", "--strict"))
    assert code == 1


def test_never_seen_attribute_warns_with_did_you_mean():
    code, report, _ = monitor("wrong_type.json", args=("--property", "typo_attr"))
    assert report["summary"]["warnings"] == [
        'attribute "htp.status" never appeared in the input; did you mean "http.status"?']
    assert code == 0
    code, _, _ = monitor("wrong_type.json", args=("--property", "typo_attr", "--strict"))
    assert code == 1
