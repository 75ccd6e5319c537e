"""docs/ecosystem.md: every command it gives runs tests that exist.

Each row's command is a pytest invocation; its files must exist and its ``-k`` keyword must
select some test function in them, so a renamed or deleted test cannot leave the page
claiming coverage nobody runs.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "ecosystem.md"


def commands() -> list[str]:
    return [c for c in re.findall(r"`(python3 -m pytest [^`]+)`", PAGE.read_text())
            if "tests/" in c]  # (not the whole-suite command of the introduction)


def test_every_command_names_existing_tests():
    cmds = commands()
    assert len(cmds) >= 20
    for cmd in cmds:
        words = shlex.split(cmd)[3:]
        keyword = None
        if "-k" in words:
            keyword = words[words.index("-k") + 1]
        files = [w for w in words if w.startswith("tests/")]
        assert files, cmd
        names = []
        for f in files:
            assert (ROOT / f).is_file(), f"{f} in `{cmd}` does not exist"
            names += re.findall(r"^def (test_\w+)", (ROOT / f).read_text(), re.M)
        assert names, cmd
        if keyword is not None:
            negated = keyword.startswith("not ")
            word = keyword.removeprefix("not ")
            assert re.fullmatch(r"\w+", word), keyword
            chosen = [n for n in names if (word in n) != negated]
            assert chosen, f"-k {keyword!r} selects nothing in `{cmd}`"


def test_the_page_is_linked_from_the_readme():
    assert "docs/ecosystem.md" in (ROOT / "README.md").read_text()
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
