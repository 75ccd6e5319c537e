"""docs/language.md's examples do what the page says: its theorems are proved or refuted as
their comments claim, the warning it shows is the one `check` prints, the attribute reading
table is how the monitor reads attributes, and `clamp` with crossed bounds behaves as
described in theorems and config invariants."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

import tracelogic
from tracelogic import cli
from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span

LANGUAGE = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text(
    encoding="utf-8")
BLOCKS = re.findall(r"```spec\n(.*?)```", LANGUAGE, re.S)
# `theorem NAME: … # proved` / `# refuted…`: the verdict the page claims
CLAIMS = [(m.group(1), m.group(2), block) for block in BLOCKS
          for m in re.finditer(r"^theorem (\w+):[^\n#]*# (proved|refuted)", block, re.M)]


def _section(title: str) -> str:
    return LANGUAGE.split(title, 1)[1].split("\n#", 1)[0]


@pytest.mark.parametrize("name, claim, block", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_theorems_are_proved_or_refuted_as_the_page_says(name, claim, block):
    spec = tracelogic.load(block, filename="doc.spec")
    report = CheckReport()
    run_checks(spec, report)
    [result] = [r for r in report.results if r.kind == "theorem" and r.name == name]
    assert result.status == claim, result.message


def test_the_page_claims_the_clamp_theorems():
    assert {"clamp_crossed_bounds", "clamp_crossed_bounds_is_not_swapped"} <= \
        {name for name, _, _ in CLAIMS}


def _verdicts(spec_text: str, attrs_per_span: list[dict], **span_kw) -> dict[str, list[str]]:
    """Each property's verdict on each one-span trace."""
    spec = tracelogic.load(spec_text, filename="doc.spec")
    spans = [Span(name="x", trace_id="%032x" % (i + 1), span_id="%016x" % (i + 1),
                  parent_id="", start_ns=0, end_ns=span_kw.get("end_ns", 1_000_000),
                  attrs=attrs) for i, attrs in enumerate(attrs_per_span)]
    mon = Monitor(spec)
    mon.feed(spans)
    report = mon.close()
    bad = {(v.prop.name, t) for v in report.violations for t in v.trace_ids}
    return {p.name: ["fails" if (p.name, s.trace_id) in bad else "holds" for s in spans]
            for p in spec.properties}


def test_clamp_with_crossed_bounds_in_a_config_invariant(tmp_path):
    (tmp_path / "d.yaml").write_text("n: 2\n---\nn: 15\n", encoding="utf-8")
    (tmp_path / "c.spec").write_text(
        'config c from "d.yaml" {\n  n : int = n\n}\n'
        "invariant is_lo on c: clamp(n, 10, 0) == 10\n", encoding="utf-8")
    report = CheckReport()
    run_checks(tracelogic.load(str(tmp_path / "c.spec")), report)
    # n = 2 is below lo: 10; n = 15 is not: hi, 0
    [bad] = [r for r in report.results if r.name == "is_lo" and r.status == "violated"]
    assert bad.details["document"] == 1
    # span predicates evaluate the built-ins as config invariants do, as the page says
    assert "span predicates evaluate the built-ins too" in LANGUAGE
    got = _verdicts("property low: G (clamp(duration, 10s, 0s) == 10s)\n"
                    'property small: G (abs(attr["x"]) <= 2)\n',
                    [{"x": -1}, {"x": -3}, {"x": "1"}])
    # every span lasts less than 10s (below lo: 10s); abs(-3) > 2; "1" is not a number
    assert got == {"low": ["holds"] * 3, "small": ["holds", "fails", "fails"]}


def test_the_attribute_example_holds_and_fails_as_its_comments_say():
    [block] = [b for b in BLOCKS if "answered_in_time" in b]
    got = _verdicts(block, [{"elapsed_ms": 1500, "body.size": 5242880},
                            {"elapsed_ms": 2500, "body.size": "5Mi"}])
    assert got == {"answered_in_time": ["holds", "fails"], "small_bodies": ["holds", "fails"]}
    assert "# 1500 holds, 2500 fails" in block and '# 5242880 holds, "5Mi" fails' in block


# the reading table: attribute value -> (against duration, bytes, int/real, string), each a
# comparison that holds exactly when the attribute is read as the cell says
TABLE = {
    "integer `1500`": (1500, ('attr["v"] == 1500ns', 'attr["v"] == 1.5k', 'attr["v"] == 1500',
                              'attr["v"] == "1500"')),
    "float `1.5`": (1.5, ('attr["v"] > 1ns and attr["v"] < 2ns', 'attr["v"] < 1k',
                          'attr["v"] == 1.5', 'attr["v"] == "1.5"')),
    'string `"2s"`, `"10Mi"`, `"5"`': ("2s", ('attr["v"] == 2s', 'attr["v"] == 2',
                                             'attr["v"] == 2', 'attr["v"] == "2s"')),
    "boolean": (True, ('attr["v"] == 1ns', 'attr["v"] == 1k', 'attr["v"] == 1',
                       'attr["v"] == "true"')),
}


@pytest.mark.parametrize("row", list(TABLE))
def test_the_attribute_reading_table(row):
    section = _section("**How an attribute is read against a unit.**")
    [line] = [ln for ln in section.splitlines() if ln.startswith(f"| {row} |")]
    cells = [c.strip() for c in line.strip("|").split("|")][1:]
    value, conditions = TABLE[row]
    text = "".join(f"property c{i}: G ({c})\nproperty n{i}: G (!({c}))\n"
                   for i, c in enumerate(conditions))
    got = _verdicts(text, [{"v": value}])
    for i, cell in enumerate(cells):
        if cell == "never matches":  # false, and its negation false too (`!=` is false)
            assert (got[f"c{i}"], cell) == (["fails"], cell)
        else:
            assert (got[f"c{i}"], got[f"n{i}"], cell) == (["holds"], ["fails"], cell), row


def test_a_mismatched_type_makes_not_equal_false_too():
    got = _verdicts('property ne: G (attr["v"] != 1s)\n', [{"v": "2s"}])
    assert got == {"ne": ["fails"]}


def test_the_warning_shown_is_the_one_check_prints(tmp_path, monkeypatch):
    section = _section("**How an attribute is read against a unit.**")
    shown = re.search(r"```\n(t\.spec:.*?)```", section, re.S).group(1)
    source = shown.splitlines()[1].strip()
    (tmp_path / "t.spec").write_text(source + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "t.spec"], out, err) == 0
    assert err.getvalue() == shown
