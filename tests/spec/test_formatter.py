"""`tracelogic fmt`: round-trips, idempotence and comment preservation on generated specs."""
from __future__ import annotations

import glob
import os
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from tracelogic.spec.formatter import format_text
from tracelogic.spec.parser import parse_module
from tests.spec.specgen import spec_texts

EXAMPLES = sorted(glob.glob("examples/**/*.spec", recursive=True))
LONG = int(os.environ.get("TRACELOGIC_LONG", "0") or 0)
SETTINGS = settings(max_examples=4000 if LONG else 300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def comments(text: str) -> Counter:
    return Counter(c.text for c in parse_module(text).comments)


@SETTINGS
@given(spec_texts())
def test_format_preserves_the_ast(text):
    assert parse_module(format_text(text)).decls == parse_module(text).decls


@SETTINGS
@given(spec_texts())
def test_format_is_idempotent(text):
    once = format_text(text)
    assert format_text(once) == once


@SETTINGS
@given(spec_texts())
def test_format_keeps_every_comment(text):
    assert comments(format_text(text)) == comments(text)


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_round_trip(path):
    text = open(path).read()
    once = format_text(text, path)
    assert parse_module(once).decls == parse_module(text).decls
    assert format_text(once, path) == once
    assert comments(once) == comments(text)


def test_layout_is_canonical():
    messy = ('pred   checkout=name=="POST /checkout"and kind==server   # the entry\n'
             'property answered "desc" severity  warning :\n'
             '      G(checkout&start->F[<=2s](checkout&end))\n')
    assert format_text(messy) == (
        'pred checkout = name == "POST /checkout" and kind == server  # the entry\n'
        'property answered "desc" severity warning:\n'
        '  G (checkout & start -> F[<= 2s] (checkout & end))\n')


def test_own_line_comments_stay_before_their_declaration_and_blank_lines_collapse():
    text = "# header\n\n\n\n# about a\nconst a = 1\nconst b = 2\n\n\n# footer\n"
    assert format_text(text) == "# header\n\n# about a\nconst a = 1\nconst b = 2\n\n# footer\n"


def test_comments_inside_blocks_stay_inside():
    text = ("model m {\n  # the state\n  var s : 0..3 = 0   # starts at zero\n"
            "  action inc when s < 3 do s := s + 1\n  # nothing after\n}\n")
    out = format_text(text)
    assert out.index("# the state") < out.index("var s")
    assert re.search(r"var s : 0\.\.3 = 0  # starts at zero", out)
    assert out.index("# nothing after") < out.index("}")


def test_precedence_needs_no_extra_parentheses():
    # `!a U b` is `(!a) U b`; printing must not add parentheses the parser would keep.
    for src in ["property p: !a U b", "property p: X s != closed", "property p: a -> b -> c",
                "property p: (a -> b) -> c", "const c = 1 - (2 - 3)", "const c = -(1 + 2) * 3"]:
        assert format_text(src).strip() == src
