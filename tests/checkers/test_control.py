"""`tracelogic check` on controllers (docs/control.md): every claim of the page gets the
verdict its comment states, in the same text/JSON/SARIF report as other checks."""
from __future__ import annotations

import io
import json
import os

import jsonschema
import pytest

import tracelogic
from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.cli import run
from tests.models.control_specs import BLOCKS, CLAIMED, PAGE

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def page_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("control") / "autoscaler.spec"
    path.write_text("\n".join(BLOCKS), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = run(["check", str(path), "--format", "json", "--timeout", "60"], out=out, err=err)
    return code, json.loads(out.getvalue()), path


def test_the_page_claims_verdicts_for_every_kind_of_claim():
    kinds = {m for _, _, _, block in CLAIMED for m in ("always", "bounded", "converges",
                                                         "no_flap") if m in block}
    assert kinds == {"always", "bounded", "converges", "no_flap"}
    assert {v for _, _, v, _ in CLAIMED} == {"proved", "refuted"}


@pytest.mark.parametrize("ctl, name, verdict", [c[:3] for c in CLAIMED],
                         ids=[f"{c[0]}.{c[1]}" for c in CLAIMED])
def test_each_claim_of_the_page_is_decided_as_it_says(page_report, ctl, name, verdict):
    code, report, _ = page_report
    [result] = [r for r in report["results"] if r["name"] == f"{ctl}.{name}"]
    assert result["kind"] == "controller"
    assert result["status"] == verdict, result["message"]
    if verdict == "refuted":
        cex = result["details"]["replay"]
        table = "\n".join("    " + line for line in cex["table"].splitlines())
        assert cex["metric"] and table in result["message"]
    assert code == 1  # refutations fail the check


def test_the_json_report_follows_the_schema(page_report):
    with open(os.path.join(ROOT, "docs", "check.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(page_report[1])


def test_the_text_output_quoted_on_the_page_is_what_check_prints(tmp_path):
    pid = next(b for b in BLOCKS if b.startswith("controller pid "))
    path = tmp_path / "autoscaler.spec"
    path.write_text(pid, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(["check", str(path), "--timeout", "60"], out=out, err=err) == 1
    printed = out.getvalue().replace(f"{tmp_path}/", "")
    shown = PAGE.split("`tracelogic check autoscaler.spec`", 1)[1].split("```\n", 2)[1]
    for line in shown.splitlines():
        if line.strip() != "…":
            assert line in printed.splitlines(), line


def test_a_controller_with_only_proved_claims_passes():
    hpa = next(b for b in BLOCKS if b.startswith("controller hpa "))
    spec = tracelogic.load(hpa, filename="hpa.spec")
    report = CheckReport()
    run_checks(spec, report, timeout=60)
    assert [r.status for r in report.results if r.kind == "controller"] == ["proved", "proved"]
    assert report.exit_code() == 0
