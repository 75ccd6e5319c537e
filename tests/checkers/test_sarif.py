"""SARIF from `check` and `monitor` passes the SARIF multitool at the warning level
(issue 16, item 5), with per-rule help pointing at the docs page of the rule's kind.

The multitool is Microsoft's `@microsoft/sarif-multitool` (pinned in tests/interop/tools).
tracelogic has no public site, so informationUri and helpUri are absent unless
TRACELOGIC_DOCS_URL says where the docs are published: with it, the multitool finds nothing
at the warning level; without it, exactly its "no informationUri" warning (SARIF2005) and
nothing else — never a placeholder address.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from interop.npm_tools import sarif_validate
from tracelogic.checkers.report import DOC_PAGES
from tracelogic.cli import run

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DATA = ROOT / "tests" / "engine" / "data" / "monitor"
BASE = "https://docs.example.org/tracelogic/docs"

BROKEN = """\
pred checkout = name == "POST /checkout"
property answered: G (chekout & start -> F[<= 2s] (checkout & end))
theorem t: forall timeout: 1s..10s : timeout >= 1
"""


def sarif(*argv: str) -> dict:
    out = io.StringIO()
    run([*argv, "--format", "sarif"], out, io.StringIO())
    return json.loads(out.getvalue())


def outputs(tmp_path: Path) -> dict[str, dict]:
    """SARIF with results of every kind we can make here: spec diagnostics, a refuted
    theorem, a healing policy, violated and warning properties."""
    broken = tmp_path / "broken.spec"
    broken.write_text(BROKEN)
    lang = ROOT / "examples" / "language"
    return {
        "check": sarif("check", str(broken), str(lang / "theorems.spec"),
                       str(lang / "healing.spec")),
        "monitor": sarif("monitor", str(DATA / "edge.spec"), str(DATA / "out_of_order.jsonl")),
        "monitor-skew": sarif("monitor", str(DATA / "edge.spec"), str(DATA / "skew.json")),
    }


def write(tmp_path: Path, docs: dict[str, dict]) -> dict[str, Path]:
    paths = {}
    for name, doc in docs.items():
        paths[name] = tmp_path / f"{name}.sarif"
        paths[name].write_text(json.dumps(doc))
    return paths


def test_with_the_docs_url_the_multitool_finds_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELOGIC_DOCS_URL", BASE + "/")
    docs = outputs(tmp_path)
    for name, path in write(tmp_path, docs).items():
        assert docs[name]["runs"][0]["results"], f"{name}: no results to validate"
        assert sarif_validate(path, tmp_path) == [], name
        driver = docs[name]["runs"][0]["tool"]["driver"]
        assert driver["informationUri"] == BASE + "/cli.md"
        for rule in driver["rules"]:
            page = rule["helpUri"].removeprefix(BASE + "/")
            assert (DOCS / page.partition("#")[0]).is_file(), rule
            assert f"docs/{page}" in rule["help"]["text"]


def test_without_it_no_placeholder_and_only_the_missing_uri_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACELOGIC_DOCS_URL", raising=False)
    docs = outputs(tmp_path)
    for name, path in write(tmp_path, docs).items():
        driver = docs[name]["runs"][0]["tool"]["driver"]
        assert "informationUri" not in driver
        assert all("helpUri" not in r and r["help"]["text"] for r in driver["rules"])
        found = sarif_validate(path, tmp_path)
        assert [f["rule"] for f in found] == ["SARIF2005"], (name, found)
    assert "example.invalid" not in json.dumps(docs)


def test_the_validator_is_not_a_rubber_stamp(tmp_path):
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "tracelogic"}},
                                         "results": [{"ruleId": "x", "message": {},
                                                      "locations": [{"physicalLocation": {
                                                          "region": {"startLine": 0}}}]}]}]}
    path = tmp_path / "bad.sarif"
    path.write_text(json.dumps(bad))
    found = sarif_validate(path, tmp_path)
    errors = {f["rule"] for f in found if f["level"] == "error"}
    assert errors & {"JSON1008", "JSON1017"} and "SARIF1007" in errors, found
    assert {"SARIF2005", "SARIF2008"} <= {f["rule"] for f in found if f["level"] == "warning"}


@pytest.mark.parametrize("kind", sorted(DOC_PAGES))
def test_each_kind_names_a_docs_page_with_that_heading(kind):
    page, _ = DOC_PAGES[kind]
    file, _, anchor = page.partition("#")
    text = (DOCS / file).read_text()
    if anchor:  # GitHub's anchor of some heading on that page
        import re
        anchors = {re.sub(r"[^\w\- ]", "", h.strip("# ").lower()).replace(" ", "-")
                   for h in text.splitlines() if h.startswith("#")}
        assert anchor in anchors, (kind, sorted(anchors))
