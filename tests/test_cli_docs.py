"""Every command-line option is documented (the house rule: docs/cli.md stays complete).

docs/cli.md documents `check`, `fmt` and the global options and points to one page per
other command; an option counts as documented when its page or docs/cli.md names it.
Read from the real parser, so a flag added without docs fails here.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from tracelogic.cli import build_parser

DOCS = Path(__file__).resolve().parents[1] / "docs"

# the page docs/cli.md sends each command to
PAGES = {
    "check": "cli.md", "fmt": "cli.md", "monitor": "monitor.md", "serve": "serve.md",
    "violations": "serve.md", "heal": "healing.md", "audit": "healing.md",
    "approve": "healing.md", "analyze": "analysis.md", "export": "models.md",
    "automaton": "automata.md", "completion": "cli.md", "simulate": "control.md",
    "mine": "mining.md",
}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_has_a_page_that_cli_md_links() -> None:
    index = (DOCS / "cli.md").read_text()
    for name in _commands():
        assert name in PAGES, f"`tracelogic {name}` has no documentation page in this test"
        page = PAGES[name]
        assert (DOCS / page).is_file()
        assert page == "cli.md" or f"]({page}" in index, f"docs/cli.md does not link {page}"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_option_is_documented(name: str) -> None:
    parser = _commands()[name]
    text = (DOCS / PAGES[name]).read_text() + (DOCS / "cli.md").read_text()
    options = [o for a in parser._actions for o in a.option_strings
               if o.startswith("--") and o != "--help"]
    missing = [o for o in options if not re.search(re.escape(o) + r"(?![\w-])", text)]
    assert not missing, f"`tracelogic {name}` options missing from docs/{PAGES[name]}: {missing}"
