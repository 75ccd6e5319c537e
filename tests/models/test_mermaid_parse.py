"""`tracelogic export --mermaid` parses in Mermaid 11 (issue 16, item 5).

Every workflow and model picture the examples make is parsed by the real `mermaid` package
(pinned in tests/interop/tools, run under jsdom since its parser needs a DOM). A workflow's
unlabelled places were once written `((""))`, which Mermaid 11 rejects; the control case
shows the parser here still rejects that form, so a pass means something.
"""
from __future__ import annotations

import io
from pathlib import Path

from interop.npm_tools import mermaid_parse
from tracelogic.cli import run
from tracelogic.models.check import check_ltl_formula
from tracelogic.models.export import _mermaid_text, model_mermaid
from tracelogic.models.machine import Machine
from tracelogic.spec.loader import load

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = [("examples/language/workflow.spec", "order"), ("examples/saga/saga.spec", "order")]

def export(target: str, tmp_path: Path, name: str) -> Path:
    out, err = io.StringIO(), io.StringIO()
    assert run(["export", target, "--mermaid"], out, err) == 0, err.getvalue()
    path = tmp_path / f"{name}.mmd"
    path.write_text(out.getvalue())
    return path


def test_workflow_and_model_exports_parse_in_mermaid_11(tmp_path):
    files = [export(f"{ROOT / spec}::{wf}", tmp_path, f"wf{i}")
             for i, (spec, wf) in enumerate(WORKFLOWS)]
    files.append(export(f"{ROOT / 'examples/language/models.spec'}::breaker", tmp_path, "model"))
    results, version = mermaid_parse(*files)
    assert version.split(".")[0] == "11"
    assert [r["file"] for r in results] == [str(f) for f in files]
    bad = [r for r in results if not r["ok"]]
    assert not bad, bad
    assert {r["diagramType"] for r in results} == {"flowchart-v2"}
    text = files[0].read_text()
    assert '(("start"))' in text and '(("end"))' in text and '((""))' not in text


def test_a_counterexample_picture_and_quoted_labels_parse(tmp_path):
    broken = (ROOT / "examples/language/models.spec").read_text().replace(
        "action probe_ko",
        "action reset when state == open do state := closed\n  action probe_ko")
    spec = load(broken, filename="b.spec")
    machine = Machine(spec.models["breaker"])
    ltl = next(c for c in spec.checks if c.kind == "ltl")
    picture = tmp_path / "cex.mmd"
    picture.write_text(model_mermaid(machine, check_ltl_formula(machine, ltl.body).run))
    assert "linkStyle" in picture.read_text()
    quoted = tmp_path / "quoted.mmd"
    label = _mermaid_text('say "hi" #1 <b>')
    assert '"' not in label
    quoted.write_text(f'flowchart LR\n  t0["{label}"]\n  p0((" ")) --> t0\n')
    results, _ = mermaid_parse(picture, quoted)
    assert [r["ok"] for r in results] == [True, True], results


def test_the_old_empty_place_label_is_what_mermaid_rejects(tmp_path):
    good = tmp_path / "good.mmd"
    good.write_text('flowchart LR\n  p0(("start"))\n  p2((" "))\n  p0 --> p2\n')
    old = tmp_path / "old.mmd"
    old.write_text('flowchart LR\n  p0(("start"))\n  p2((""))\n  p0 --> p2\n')
    results, _ = mermaid_parse(good, old)
    assert [r["ok"] for r in results] == [True, False]
    assert "Parse error" in results[1]["error"]
