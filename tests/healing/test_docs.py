"""The healing docs agree with the code: their `heal` examples pass `tracelogic check --strict`,
and docs/language.md says what `check` checks about policies as docs/healing.md does."""
from __future__ import annotations

import io
import os
import re

import pytest

from tracelogic import cli

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")


def _read(name: str) -> str:
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def _heal_blocks() -> list[tuple[str, int, str]]:
    out = []
    for name in ("healing.md", "language.md"):
        blocks = re.findall(r"```spec\n(.*?)```", _read(name), re.S)
        out += [(name, i, b) for i, b in enumerate(blocks) if re.search(r"^heal ", b, re.M)]
    return out


def test_the_docs_have_heal_examples():
    assert {name for name, _, _ in _heal_blocks()} == {"healing.md", "language.md"}


@pytest.mark.parametrize("name, index, text", _heal_blocks(),
                         ids=[f"{n}#{i}" for n, i, _ in _heal_blocks()])
def test_heal_examples_check_cleanly(tmp_path, name, index, text):
    path = tmp_path / "example.spec"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", "--strict", str(path)], out, err)
    assert code == 0, f"docs/{name} spec block {index}:\n{out.getvalue()}{err.getvalue()}"
    assert ": policy " in out.getvalue()  # the policies were checked, not skipped


def test_language_md_does_not_contradict_healing_md():
    language, healing = _read("language.md"), _read("healing.md")
    assert "What `tracelogic check` proves about policies" in healing
    for stale in ("nor does it check action names", "does not yet check action names"):
        assert stale not in language
    # both name the same checks
    section = language.split("## 14. Healing policies", 1)[1].split("\n## ", 1)[0]
    for word in ("action names and parameters", "`approve when`", "witness", "opposite"):
        assert word in section
