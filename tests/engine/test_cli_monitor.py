"""`tracelogic monitor`: output formats, the JSON contract and its schema, exit codes."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tracelogic.cli import run

HERE = Path(__file__).parent
DATA = HERE / "data" / "monitor"
ROOT = HERE.parent.parent
SCHEMA = json.loads((ROOT / "docs" / "monitor.schema.json").read_text())
EDGE = DATA / "edge.spec"
SHOP = DATA / "shop.spec"


def monitor(*args, fmt: str = "json") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", *map(str, args), "--format", fmt], out, err)
    return code, out.getvalue(), err.getvalue()


def report(*args) -> tuple[int, dict]:
    code, out, _ = monitor(*args)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    return code, doc


# ----------------------------------------------------------------- JSON and its schema

@pytest.mark.parametrize("args", [
    (EDGE, DATA / "out_of_order.jsonl"),
    (EDGE, DATA / "partial.json"),
    (EDGE, DATA / "malformed.jsonl", DATA / "bad_id.json"),
    (EDGE, DATA / "wrong_type.json", DATA / "duplicates.jsonl"),
    (EDGE, DATA / "missing-file.json"),
    (SHOP, DATA / "skew.json"),
])
def test_json_output_validates_against_the_schema(args):
    code, doc = report(*args)
    assert doc["schema"] == "tracelogic.monitor/1"
    assert doc["summary"]["properties"] == len(doc["properties"])
    assert doc["summary"]["instances"] == sum(p["instances"] for p in doc["properties"])
    assert doc["summary"]["violated"] == sum(
        1 for p in doc["properties"] for r in p["results"] if r["verdict"] == "violated")
    for p in doc["properties"]:
        assert p["instances"] == len(p["results"])


def test_every_optional_field_is_exercised_and_valid(tmp_path):
    """Aggregates (values, window), metrics (points), temporal (events, owner, runbook,
    description), errors: one report holding all of them still validates."""
    spec = tmp_path / "all.spec"
    spec.write_text(SHOP.read_text() + '''
property busy window 1m: count(true) <= 1
property no_roots "no roots at all" owner "team" runbook "https://r.example": G !is_root
metric cpu = "system.cpu.utilization" : ratio
metric invariant cpu_low per service: cpu < 0.5
''')
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "db"}}]},
        "scopeMetrics": [{"metrics": [{"name": "system.cpu.utilization", "gauge": {
            "dataPoints": [{"timeUnixNano": "1000", "asDouble": 0.7}]}}]}]}]}))
    code, doc = report(spec, DATA / "out_of_order.jsonl", DATA / "skew.json", metrics,
                       DATA / "malformed.jsonl")
    fields = {k for v in doc["violations"] for k in v}
    assert {"events", "values", "window", "points", "owner", "runbook",
            "description"} <= fields
    assert "errors" in doc and code == 2


def test_json_key_rules_per_scope():
    _, doc = report(SHOP, DATA / "out_of_order.jsonl", DATA / "skew.json")
    scopes = {p["name"]: (p["scope"], [r["key"] for r in p["results"]])
              for p in doc["properties"]}
    assert scopes["answered"][0] == "trace"
    assert all(len(k) == 32 for k in scopes["answered"][1])
    assert scopes["error_budget"][0] == "service"
    assert sorted(scopes["error_budget"][1]) == ["api", "edge"]
    assert scopes["no_double_charge"][0] == 'attr["order.id"]'


# ----------------------------------------------------------------- other formats

def test_junit_is_xml_with_one_case_per_property():
    code, out, _ = monitor(EDGE, DATA / "out_of_order.jsonl", fmt="junit")
    suite = ET.fromstring(out)
    assert suite.tag == "testsuite"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert len(cases) == int(suite.get("tests")) == 8
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {"no_failures", "finishes", "answered"}
    assert int(suite.get("failures")) == 3
    assert code == 1


def test_junit_counts_input_errors():
    _, out, _ = monitor(EDGE, DATA / "malformed.jsonl", fmt="junit")
    assert ET.fromstring(out).get("errors") == "1"


def test_sarif_2_1_0_with_rule_per_violated_property():
    code, out, _ = monitor(EDGE, DATA / "skew.json", fmt="sarif")
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    (run_,) = doc["runs"]
    assert run_["tool"]["driver"]["name"] == "tracelogic"
    rules = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    assert rules == {"tracelogic/property/root_first", "tracelogic/property/child_inside"}
    for res in run_["results"]:
        assert res["ruleId"] in rules and res["level"] == "error"
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("edge.spec")
        assert loc["region"]["startLine"] >= 1
    assert code == 1


def test_text_report_for_people():
    code, out, err = monitor(SHOP, DATA / "skew.json", DATA / "out_of_order.jsonl", fmt="text")
    assert "\x1b[" not in out                     # plain when not a terminal
    assert "✗ answered" not in out                 # nothing missed its deadline here
    assert "✗ errors_are_leaves [error] key 11111111111111111111111111111111" in out
    assert "violated at `root` start" in out
    # the timeline: offset ms, service, span name, start/end, status
    assert "0.000 ms  api              root" in out
    assert "start error" in out
    assert out.rstrip().endswith("0 incomplete, 0 dropped")
    assert err == "" and code == 1


# ----------------------------------------------------------------- exit codes

def test_exit_0_when_everything_holds():
    code, doc = report(EDGE, DATA / "multi_root.json", "--property", "root_first",
                       "--property", "no_failures")
    assert code == 0 and doc["violations"] == []


def test_exit_1_on_violation_and_warning_severity_only_with_strict(tmp_path):
    code, _ = report(EDGE, DATA / "skew.json", "--property", "child_inside")
    assert code == 1
    spec = tmp_path / "w.spec"
    spec.write_text('property soft severity warning: G !(name == "child")\n'
                    'property info severity info: G !(name == "parent")\n')
    code, doc = report(spec, DATA / "skew.json")
    assert len(doc["violations"]) == 2 and code == 0
    code, _ = report(spec, DATA / "skew.json", "--strict")
    assert code == 1


def test_exit_1_on_inconclusive_unless_allow_unknown():
    assert report(EDGE, DATA / "partial.json", "--property", "answered")[0] == 1
    assert report(EDGE, DATA / "partial.json", "--property", "answered",
                  "--allow-unknown")[0] == 0


def test_exit_2_takes_precedence_and_the_rest_is_reported():
    code, doc = report(EDGE, DATA / "malformed.jsonl", DATA / "skew.json")
    assert code == 2
    results = {r["key"]: r["verdict"] for r in doc["properties"][2]["results"]}
    assert results["6" * 32] == "violated"                   # skew.json, after the bad file
    assert set(results) == {"6" * 32, "8" * 32, "9" * 32}   # and the good lines


@pytest.mark.parametrize("args, needle", [
    ((EDGE, DATA / "no-such-file.json"), "cannot read"),
    ((EDGE, DATA / "skew.json", "--lateness", "soon"), "--lateness"),
    ((EDGE, DATA / "skew.json", "--property", "nope"), "nope"),
    ((DATA / "no-such.spec", DATA / "skew.json"), "no-such.spec"),
])
def test_exit_2_on_bad_command_line_spec_or_input(args, needle):
    code, out, err = monitor(*args)
    assert code == 2
    assert needle in out + err
    assert "Traceback" not in out + err


def test_bad_spec_text_is_exit_2(tmp_path):
    spec = tmp_path / "bad.spec"
    spec.write_text("property p: G (name ==)\n")
    code, out, err = monitor(spec, DATA / "skew.json")
    assert code == 2 and "bad.spec:1" in err


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage", b"{\"resourceSpans\": 3}",
                                     b"[1, 2]", b"\x0a\x05hello"])
def test_garbage_input_is_exit_2_never_a_traceback(tmp_path, content):
    f = tmp_path / "in.json"
    f.write_bytes(content)
    code, out, err = monitor(EDGE, f)
    assert "Traceback" not in out + err
    assert code in (0, 2)
    if content:
        assert code == 2


def test_stdin_and_the_installed_entry_point(tmp_path):
    data = (DATA / "skew.json").read_bytes()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-m", "tracelogic.cli", "monitor", str(EDGE), "-",
                           "--format", "json", "--property", "child_inside"],
                          input=data, capture_output=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["properties"][0]["results"] == [{"key": "6" * 32, "verdict": "violated"}]


@pytest.mark.parametrize("fmt,missing", [("text", False), ("json", False), ("json", True)])
def test_a_reader_that_stops_reading_leaves_the_verdict_as_exit_code(tmp_path, fmt, missing):
    """`monitor ... | head`: the report is cut short, but the exit code is still the
    verdict (1: violated; 2 with an input that cannot be read, which stderr still names),
    and nothing else is said. The report is far larger than a pipe holds, so the writer
    meets the closed pipe while writing."""
    from tracelogic.ingest.otlp import spans_to_request
    from tracelogic.ingest.spans import Span

    spec = tmp_path / "s.spec"
    spec.write_text('property no_error "nothing fails":\n  G !(status == error)\n')
    spans = [Span(name="op", trace_id=f"{t + 1:032x}", span_id=f"{t + 1:016x}",
                  start_ns=1_000_000, end_ns=2_000_000, status="error") for t in range(3000)]
    data = tmp_path / "t.pb"
    data.write_bytes(spans_to_request(spans).SerializeToString())
    argv = [sys.executable, "-m", "tracelogic.cli", "monitor", str(spec), str(data),
            *([str(tmp_path / "missing.pb")] if missing else []), "--format", fmt]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(100)
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read()
    whole = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert proc.wait(timeout=120) == whole.returncode == (2 if missing else 1), err
    assert err == whole.stderr and (b"missing.pb" in err) == missing
    assert len(whole.stdout) > 1 << 18  # 4x a pipe's buffer (64 KiB)
    assert first and whole.stdout.startswith(first)


def test_max_open_traces_bounds_memory_with_counted_incomplete_verdicts():
    """Two traces interleave in out_of_order.jsonl: with room for one, the other is
    evicted; its verdicts are incomplete, counted, and a warning says what to raise."""
    code, doc = report(EDGE, DATA / "out_of_order.jsonl", "--max-open-traces", "1")
    assert doc["summary"]["incomplete"] >= 1
    verdicts = {r["verdict"] for p in doc["properties"] for r in p["results"]}
    assert "incomplete" in verdicts
    assert any("evicted" in w and "--max-open-traces" in w for w in doc["summary"]["warnings"])
    assert code == 1  # incomplete verdicts fail the run unless --allow-unknown
    code, roomy = report(EDGE, DATA / "out_of_order.jsonl")
    assert roomy["summary"]["incomplete"] == 0
    assert not any("evicted" in w for w in roomy["summary"]["warnings"])
    code, out, err = monitor(EDGE, DATA / "out_of_order.jsonl", "--max-open-traces", "0")
    assert code == 2 and "--max-open-traces takes a positive number" in err and out == ""


def test_an_empty_input_is_not_a_silent_pass(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, doc = report(EDGE, empty)
    assert code == 0 and doc["summary"]["spans"] == 0
    assert "the input held no spans and no metric points: nothing was monitored" in \
        doc["summary"]["warnings"]
    code, _, _ = monitor(EDGE, empty, "--strict")
    assert code == 1


# ----------------------------------------------------------------- bounded obligations

def _deploy_input(tmp_path: Path) -> tuple[Path, Path]:
    """A deploy, then a 5xx 20 ms later: `G[<= 30s]` after the deploy is broken."""
    from tracelogic.ingest.otlp import spans_to_request
    from tracelogic.ingest.spans import Span

    ms = 1_000_000

    def span(i: int, name: str, start: int, end: int) -> Span:
        return Span(name=name, trace_id="ab" * 16, span_id=f"{i:016x}",
                    parent_id="" if i == 1 else f"{1:016x}", start_ns=start * ms,
                    end_ns=end * ms, service="api")

    spans = [span(1, "root", 0, 100), span(2, "deploy", 10, 20), span(3, "work", 22, 23),
             span(4, "http_5xx", 40, 45)]
    data = tmp_path / "t.pb"
    data.write_bytes(spans_to_request(spans).SerializeToString())
    spec = tmp_path / "deploy.spec"
    spec.write_text('property no_5xx_after_deploy:\n'
                    '  G (name == "deploy" & end -> G[<= 30s] !(name == "http_5xx"))\n')
    return spec, data


@pytest.mark.parametrize("engine", ["python", "native"])
def test_a_bounded_obligation_names_its_trigger_in_every_format(tmp_path, engine):
    """Issue 15 item 5: the deploy that opened the window, not only the 5xx, in JSON (a
    `trigger` object, schema-valid), text, SARIF (message, related location, properties)."""
    spec, data = _deploy_input(tmp_path)
    code, doc = report(spec, data, "--engine", engine)
    assert code == 1
    (v,) = doc["violations"]
    assert v["trigger"] == {"trace_id": "ab" * 16, "span_id": f"{2:016x}", "event": "end",
                            "time_unix_nano": 20_000_000, "name": "deploy", "service": "api"}
    assert v["trigger"] in v["events"] and v["span_ids"] == [f"{2:016x}", f"{4:016x}"]
    assert v["message"] == "violated at `http_5xx` start, 20ms after its trigger `deploy` end"
    _, out, _ = monitor(spec, data, "--engine", engine, fmt="text")
    assert f"bounded obligation opened by `deploy` end (span {2:016x}, service api)" in out
    _, out, _ = monitor(spec, data, "--engine", engine, fmt="sarif")
    (res,) = json.loads(out)["runs"][0]["results"]
    assert "bounded obligation opened by `deploy` end" in res["message"]["text"]
    (rel,) = res["relatedLocations"]
    assert rel["logicalLocations"][0]["fullyQualifiedName"] == \
        f"trace/{'ab' * 16}/span/{2:016x}/end"
    assert res["properties"]["trigger"] == v["trigger"]


def test_an_unbounded_property_has_no_trigger(tmp_path):
    spec, data = _deploy_input(tmp_path)
    spec.write_text('property p:\n  G (name == "deploy" & end -> G !(name == "http_5xx"))\n')
    _, doc = report(spec, data)
    (v,) = doc["violations"]
    assert "trigger" not in v
    _, out, _ = monitor(spec, data, fmt="sarif")
    assert "relatedLocations" not in json.loads(out)["runs"][0]["results"][0]
