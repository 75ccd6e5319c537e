"""Every std module checks, is formatted, imports, and is documented in docs/stdlib.md."""
from __future__ import annotations

import io
import os
import re

import pytest

import tracelogic
from tracelogic.cli import run
from tracelogic.spec.loader import std_modules, std_path

MINE = ["breaker", "consensus", "failover", "saga", "session"]
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "stdlib.md")


def test_the_modules_are_shipped():
    assert set(MINE) <= set(std_modules())


@pytest.mark.parametrize("name", MINE)
def test_check_and_fmt_pass(name):
    out, err = io.StringIO(), io.StringIO()
    assert run(["check", std_path(name)], out, err) == 0, out.getvalue() + err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert run(["fmt", "--check", std_path(name)], out, err) == 0, out.getvalue()


@pytest.mark.parametrize("name", MINE)
def test_importable_as_std_name(name):
    spec = tracelogic.load(f"import std.{name}\n")
    assert spec is not None


@pytest.mark.parametrize("name", MINE)
def test_documented(name):
    with open(std_path(name), encoding="utf-8") as f:
        text = f.read()
    with open(DOCS, encoding="utf-8") as f:
        docs = f.read()
    section = docs.split(f"## std.{name}", 1)
    assert len(section) == 2, f"docs/stdlib.md has no section `## std.{name}`"
    body = section[1].split("\n## ", 1)[0]
    for prop in re.findall(r"^property (\w+)", text, re.M):
        assert f"`{prop}`" in body, f"property {prop} is not documented"
    keys = set(re.findall(r'attr\[\\?"([\w.]+)\\?"\]', text))
    assert keys
    for key in keys:
        assert f"`{key}`" in body, f"attribute {key} is not documented"
    # every `message` placeholder names attributes that the module documents
    for msg in re.findall(r'message "((?:[^"\\]|\\.)*)"', text):
        assert "{" in msg, f"message without placeholders: {msg}"
