"""`tracelogic check --format json` prints what docs/check.schema.json and docs/check-json.md say.

The schema is closed (no undocumented fields), so a field added to the report
without documenting it fails here. Each case runs the CLI in-process, exactly
as `main` does, and validates its stdout.
"""
from __future__ import annotations

import glob
import io
import json
import os

import pytest

import jsonschema  # noqa: E402  (a test extra: never skipped)

from tracelogic.checkers import report as R  # noqa: E402
from tracelogic.cli import run  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCHEMA_PATH = os.path.join(ROOT, "docs", "check.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "language", "*.spec")))


@pytest.fixture(scope="module")
def validator():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_json(*argv: str) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["check", *argv, "--format", "json"], out=out, err=err)
    return code, json.loads(out.getvalue()), err.getvalue()


def assert_valid(validator, report: dict) -> None:
    problems = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    assert not problems, "\n".join(
        f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in problems)


def assert_consistent(report: dict, code: int) -> None:
    """What the schema cannot say: rule ids, summary counts, and the exit code."""
    for r in report["results"]:
        assert r["rule"] == f"tracelogic/{r['kind']}/{r['name']}"
    diags, results, s = report["diagnostics"], report["results"], report["summary"]
    assert s["files"] == len(report["files"])
    assert s["checks"] == len(results)
    assert s["errors"] == sum(d["severity"] == "error" for d in diags)
    assert s["warnings"] == sum(d["severity"] == "warning" for d in diags) + \
        sum(r["status"] == "warning" for r in results)
    assert s["passed"] == sum(r["status"] in R.OK_STATUSES for r in results)
    assert s["failed"] == sum(r["status"] in R.FAILED_STATUSES for r in results)
    assert s["unknown"] == sum(r["status"] in R.UNKNOWN_STATUSES for r in results)
    if s["errors"] or any(r["status"] == "input-error" for r in results):
        assert code == 2
    else:
        assert code in (0, 1)


def test_schema_statuses_match_the_report_module():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    documented = set(schema["$defs"]["result"]["properties"]["status"]["enum"])
    known = R.OK_STATUSES | R.FAILED_STATUSES | R.UNKNOWN_STATUSES | R.WARNING_STATUSES
    assert documented == known | {"input-error"}


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_print_valid_reports(validator, path):
    code, report, err = check_json(path)
    assert err == ""  # with --format json, diagnostics are in the report, not on stderr
    assert_valid(validator, report)
    assert_consistent(report, code)
    assert report["diagnostics"] == []
    assert code in (0, 1)


def test_all_examples_in_one_report(validator):
    code, report, _ = check_json(*EXAMPLES)
    assert_valid(validator, report)
    assert_consistent(report, code)
    assert report["files"] == EXAMPLES


BROKEN = """\
pred checkout = name == "POST /checkout"
property answered: G (chekout & start -> F[<= 2s] (checkout & end))
theorem t: forall timeout: 1s..10s : timeout >= 1
const x = 1
const x = 2
"""


def test_broken_spec(validator, tmp_path):
    path = tmp_path / "broken.spec"
    path.write_text(BROKEN)
    code, report, _ = check_json(str(path))
    assert_valid(validator, report)
    assert_consistent(report, code)
    assert code == 2
    assert report["results"] == []  # a spec with errors is not checked further
    diags = report["diagnostics"]
    assert [d["line"] for d in diags] == [2, 3, 5]
    assert all(d["severity"] == "error" and d["file"] == str(path) for d in diags)
    assert diags[0]["hint"] == "did you mean `checkout`?"


def test_syntax_error(validator, tmp_path):
    path = tmp_path / "syntax.spec"
    path.write_text("property p: G (\n")
    code, report, _ = check_json(str(path))
    assert_valid(validator, report)
    assert code == 2 and report["diagnostics"]


def test_unreadable_spec(validator, tmp_path):
    code, report, _ = check_json(str(tmp_path / "missing.spec"))
    assert_valid(validator, report)
    assert_consistent(report, code)
    assert code == 2
    assert report["diagnostics"][0]["line"] == 0  # the whole file


def test_results_with_and_without_locations(validator, tmp_path):
    # A config block whose glob matches nothing, a violated invariant with related
    # document lines, and a --config for a block that does not exist (no location).
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "app.yaml").write_text("kind: Deployment\nspec:\n  replicas: 2\n")
    spec = tmp_path / "c.spec"
    spec.write_text(
        'config deployment from "deploy/*.yaml" select kind == "Deployment" {\n'
        "  replicas : 1..100 = spec.replicas\n"
        "}\n"
        'config absent from "nothing/*.yaml" {\n'
        "  x : int = a\n"
        "}\n"
        "invariant ha on deployment severity warning: replicas >= 3\n"
        "invariant fleet: sum(deployment.replicas) <= 1\n")
    code, report, _ = check_json(str(spec), "--config", "nope=x.yaml")
    assert_valid(validator, report)
    assert_consistent(report, code)
    assert code == 2


def test_sarif_rule_ids(tmp_path):
    path = tmp_path / "broken.spec"
    path.write_text(BROKEN)
    theorems = os.path.join(ROOT, "examples", "language", "theorems.spec")
    out = io.StringIO()
    run(["check", str(path), theorems, "--format", "sarif"], out=out, err=io.StringIO())
    sarif = json.loads(out.getvalue())
    assert sarif["version"] == "2.1.0"
    (sarif_run,) = sarif["runs"]
    ids = [r["ruleId"] for r in sarif_run["results"]]
    assert ids.count("tracelogic/spec/error") == 3
    assert "tracelogic/theorem/quorums_intersect" in ids
    assert "tracelogic/theorem/replicas_stay_in_bounds" not in ids  # passing checks are omitted
    rules = {r["id"] for r in sarif_run["tool"]["driver"]["rules"]}
    assert rules == set(ids)
