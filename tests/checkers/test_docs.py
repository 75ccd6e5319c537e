"""The outputs pasted into docs/static-checks.md are what `tracelogic check` prints."""
from __future__ import annotations

import io
import re
from pathlib import Path

from tracelogic import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_cross_document_example_prints_what_the_docs_show(tmp_path, monkeypatch):
    text = (DOCS / "static-checks.md").read_text(encoding="utf-8")
    section = text.split("**Cross-document invariants**", 1)[1].split("\n## ", 1)[0]
    spec = re.search(r"```spec\n(.*?)```", section, re.S).group(1)
    documents = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "apps.yaml").write_text(documents, encoding="utf-8")
    (tmp_path / "cluster.spec").write_text(spec, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "cluster.spec"], out, err) == 1, err.getvalue()
    # the docs shorten the document paths to the part the glob matched
    assert out.getvalue().replace(f"{tmp_path}/", "") == shown
