"""The grammar builds without conflicts, and every normative example is in examples/ and checks clean."""
from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest
from lark import Lark

from tracelogic.spec.loader import load
from tracelogic.spec.parser import grammar_text, lark_parser, parse_expr, parse_module

# the normative blocks, copied into the repository; the source is the shared reference
# beside the checkout (../shared), which a clone of this repository alone does not have
NORMATIVE = Path(__file__).parent / "data" / "normative_blocks.md"
SPEC_LANGUAGE = Path(__file__).resolve().parents[2].parent / "shared" / "SPEC-LANGUAGE.md"
EXAMPLES = sorted(glob.glob("examples/**/*.spec", recursive=True))


def _blocks(text: str) -> list[str]:
    return re.findall(r"```spec\n(.*?)```", text, re.S)


def normative_blocks() -> list[str]:
    return _blocks(NORMATIVE.read_text())


@pytest.mark.skipif(not SPEC_LANGUAGE.is_file(),
                    reason="the shared SPEC-LANGUAGE.md is not beside this checkout")
def test_the_copy_of_the_normative_blocks_has_not_drifted():
    assert normative_blocks() == _blocks(SPEC_LANGUAGE.read_text()), \
        "SPEC-LANGUAGE.md changed: copy its ```spec blocks into tests/spec/data/normative_blocks.md"


def test_grammar_builds_strictly():
    # strict=True turns any shift/reduce or reduce/reduce conflict, and any terminal
    # collision, into an error instead of a silent resolution.
    Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True,
         start=["start", "expr_start"], propagate_positions=True, maybe_placeholders=True)
    assert lark_parser(fresh=True) is not None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("index", range(len(normative_blocks())))
def test_every_normative_block_is_in_an_example_file(index):
    block = _squash(normative_blocks()[index])
    assert any(block in _squash(open(p).read()) for p in EXAMPLES), \
        f"SPEC-LANGUAGE.md spec block {index} is not in examples/"


@pytest.mark.parametrize("path", EXAMPLES)
def test_every_example_type_checks_with_no_diagnostics(path):
    spec = load(path)
    assert spec.warnings == ()


@pytest.mark.parametrize("text, tokens", [
    ("250ms", ["DURATION"]), ("1..50", ["INT", "__ANON", "INT"]), ("0.0..1.0", ["REAL", None, "REAL"]),
    ("512Mi", ["BYTES"]), ("1e-3", ["REAL"]), ("1_000", ["INT"]), ('r"^\\d+$"', ["RAW_STRING"]),
    ("nextval", ["NAME"]), ("F[", ["UN_BOUNDED"]), ("1E3", ["REAL"]), ("1E", ["BYTES"]),
])
def test_lexical_rules(text, tokens):
    got = [t.type for t in lark_parser().lex(text)]
    assert len(got) == len(tokens)
    for g, want in zip(got, tokens):
        if want is not None and not want.startswith("__"):
            assert g == want


def test_units_have_priority_and_values():
    lits = {d.name: d.value for d in parse_module(
        "const a = 250ms\nconst b = 1.5m\nconst c = 512Mi\nconst d = 1k\nconst e = 1_000\n"
        "const f = 2d\nconst g = 10us\n").decls}
    assert lits["a"].value == 250_000_000
    assert lits["b"].value == 90 * 10**9
    assert lits["c"].value == 512 * 2**20
    assert lits["d"].value == 1000
    assert lits["e"].value == 1000
    assert lits["f"].value == 2 * 86400 * 10**9
    assert lits["g"].value == 10_000


def test_minus_is_always_an_operator():
    e = parse_expr("x -3")
    assert e.op == "-" and e.left.id == "x" and e.right.value == 3
    n = parse_expr("-3")
    assert n.op == "-" and n.operand.value == 3


def _shape(e) -> str:
    """A fully parenthesised rendering of the parse, independent of the formatter."""
    from tracelogic.spec import ast as A
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.Literal):
        return e.text
    if isinstance(e, A.Paren):
        return _shape(e.expr)
    if isinstance(e, A.Unary):
        return f"({e.op} {_shape(e.operand)})"
    if isinstance(e, A.Binary):
        return f"({_shape(e.left)} {e.op} {_shape(e.right)})"
    if isinstance(e, A.Compare):
        return "(" + f" {e.ops[0]} ".join(_shape(o) for o in e.operands) + ")"
    return type(e).__name__


@pytest.mark.parametrize("text, shape", [
    ("X state != closed", "(X (state != closed))"),
    ('! name == "a"', '(! (name == "a"))'),
    ("a & b | c", "((a & b) | c)"),
    ("a | b & c", "(a | (b & c))"),
    ("a xor b | c", "((a xor b) | c)"),
    ("a & b xor c", "((a & b) xor c)"),
    ("a -> b -> c", "(a -> (b -> c))"),
    ("a <-> b -> c", "(a <-> (b -> c))"),
    ("a U b U c", "(a U (b U c))"),
    ("! a U b", "((! a) U b)"),
    ("F a & b", "((F a) & b)"),
    ("a U b & c", "((a U b) & c)"),
    ("G a -> F b", "((G a) -> (F b))"),
    ("x + y * z < 3", "((x + (y * z)) < 3)"),
    ("x - y - z", "((x - y) - z)"),
    ("-x * y", "((- x) * y)"),
    ("always p implies eventually q", "((G p) -> (F q))"),
    ("p weak until q", "(p W q)"),
    ("p strong release q", "(p M q)"),
    ("next p", "(X p)"),
])
def test_precedence_table(text, shape):
    assert _shape(parse_expr(text)) == shape


def test_chained_comparison_keeps_all_operands():
    e = parse_expr("lo <= x <= hi")
    assert [o.id for o in e.operands] == ["lo", "x", "hi"] and e.ops == ("<=", "<=")


def test_every_node_carries_a_position():
    module = parse_module(open("examples/language/properties.spec").read(), "p.spec")
    from tests.spec.test_checker import all_nodes
    for node in all_nodes(module.decls):
        assert node.span.file == "p.spec"
        assert node.span.line >= 1 and node.span.column >= 1, node
