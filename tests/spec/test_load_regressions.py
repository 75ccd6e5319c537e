"""Named regressions: inputs that once made `tracelogic.load` raise something other than
`SpecError`, or take far too long (issue 13). Each now loads, or is refused with a
diagnostic that says what to do; none may crash.

The limits they touch are those of ``tracelogic.spec.limits`` (docs/language.md, "Limits"),
tested at the limit and one past it.
"""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic import cli
from tracelogic.errors import SpecError
from tracelogic.spec.diagnostics import SpecErrors
from tracelogic.spec.formatter import format_text
from tracelogic.spec.limits import MAX_EXPRESSION_NODES, MAX_NESTING, MAX_NUMBER_DIGITS


def refused(text: str, **kw) -> SpecErrors:
    with pytest.raises(SpecError) as info:
        tracelogic.load(text, **kw)
    assert isinstance(info.value, SpecErrors)
    return info.value


def messages(err: SpecErrors) -> str:
    return "\n".join(d.message + " " + (d.hint or "") for d in err.diagnostics)


# ------------------------------------------------------------------ numbers

def test_a_4301_digit_integer_is_a_diagnostic_not_a_valueerror():
    """Python refuses to read more than 4,300 digits; the front end must say so itself."""
    err = refused("const x = " + "1" * 4301 + "\n")
    assert "4,301 digits" in messages(err) and f"at most {MAX_NUMBER_DIGITS:,}" in messages(err)


def test_integer_literals_load_up_to_the_digit_limit():
    spec = tracelogic.load("const x = " + "9" * MAX_NUMBER_DIGITS + "\n")
    assert spec.consts["x"].payload == 10 ** MAX_NUMBER_DIGITS - 1
    spec = tracelogic.load("const x = " + "1" * (MAX_NUMBER_DIGITS - 1) + "\n")
    assert spec.consts["x"].payload == int("1" * (MAX_NUMBER_DIGITS - 1))
    err = refused("const x = " + "1" * (MAX_NUMBER_DIGITS + 1) + "\n")
    assert f"{MAX_NUMBER_DIGITS + 1:,} digits" in messages(err)


def test_underscores_do_not_count_as_digits():
    digits = "1" * MAX_NUMBER_DIGITS
    grouped = "_".join(digits[i:i + 3] for i in range(0, len(digits), 3))
    assert tracelogic.load(f"const x = {grouped}\n").consts["x"].payload == int(digits)


@pytest.mark.parametrize("literal", [
    "0." + "1" * 5000,            # a real's fraction digits count too
    "1" * 5000 + "ms",            # a duration's number
    "1" * 5000 + "Ki",            # a size's number
])
def test_long_real_duration_and_size_literals_are_diagnostics(literal):
    assert "digits" in messages(refused(f"const x = {literal}\n"))


@pytest.mark.parametrize("literal", ["1e401", "1e-401", "1e" + "9" * 5000, "1.5e0000000401"])
def test_exponents_beyond_400_are_diagnostics(literal):
    assert "exponents go from e-400 to e400" in messages(refused(f"const x = {literal}\n"))


def test_a_value_at_the_magnitude_limit_is_a_diagnostic():
    """1,000 digits times 1e400 is a number of 1,400 digits: out of range, not read."""
    err = refused("const x = " + "1" * 999 + "e400\n")
    assert "out of range" in messages(err)
    assert tracelogic.load("const x = 1e400\n").consts["x"].payload == 10 ** 400


def test_constants_cannot_grow_beyond_the_limit_by_folding():
    """Each constant squares the one before: without a check on every fold, 30 lines
    would build a number of 10^9 digits."""
    lines = ["const c0 = " + "9" * 60]
    lines += [f"const c{i} = c{i - 1} * c{i - 1}" for i in range(1, 30)]
    err = refused("\n".join(lines) + "\n")
    assert f"beyond 10^{MAX_NUMBER_DIGITS}" in messages(err)


def test_a_huge_path_index_in_a_config_is_a_diagnostic():
    text = ('config c from "deploy/*.yaml" {\n  r : int = spec.items[' + "7" * 5000
            + "]\n}\n")
    assert "digits" in messages(refused(text))


# ------------------------------------------------------------------ the checker

def test_a_string_bounded_range_in_a_config_is_a_diagnostic_not_a_typeerror():
    text = 'config c from "deploy/*.yaml" {\n  r : "a"..1000 = spec.replicas\n}\n'
    assert "a range cannot go from a string to an int" in messages(refused(text))


@pytest.mark.parametrize("lo,hi", [("true", "1"), ("1", '"z"'), ("[1]", "2"), ("1s", "2")])
def test_ranges_of_values_that_are_not_one_kind_of_number_are_diagnostics(lo, hi):
    text = f'config c from "deploy/*.yaml" {{\n  r : {lo}..{hi} = spec.replicas\n}}\n'
    refused(text)


@pytest.mark.parametrize("text", [
    "const a = 1\npred a = true\n",
    "pred a = true\nconst a = 1\n",
    "step a = true\nconst a = 2\n",
    "enum a { x, y }\nconst a = 1\n",
    "property a: true\nconst a = 1\n",
], ids=["const-then-pred", "pred-then-const", "step-then-const", "enum-then-const",
        "property-then-const"])
def test_a_name_that_is_both_a_pred_and_a_const_is_a_diagnostic(text):
    err = refused(text)
    assert "`a` is defined twice" in messages(err)


def test_a_const_named_like_an_import_alias_is_a_diagnostic():
    err = refused("import std.saga\nconst saga = 1\n")
    assert "`saga` is defined twice" in messages(err)


def test_nested_lists_type_check_in_linear_time():
    """`[[…]]` once hashed its whole type at every level."""
    deep_list = "[" * 300 + '"x"' + "]" * 300
    spec = tracelogic.load(f"pred p = {deep_list} == {deep_list}\n")
    assert spec.preds["p"].typed is not None
    err = refused(f"pred p = {deep_list} == {'[' * 299}\"x\"{']' * 299}\n")
    assert "cannot compare" in messages(err)


def test_exponential_predicate_expansion_is_a_diagnostic():
    """Each predicate uses the next twice: 2^40 nodes if expanded naively."""
    n = 40
    text = "".join(f"pred p{i}(x) = p{i + 1}(x) & p{i + 1}(x)\n" for i in range(n))
    text += f"pred p{n}(x) = x == 1\npred q = p0(1)\n"
    err = refused(text)
    assert f"at most {MAX_EXPRESSION_NODES:,}" in messages(err)


def test_a_predicate_used_twice_per_level_loads_below_the_limit():
    n = 12  # 2^12 expansions: well below the limit, and built once per level
    text = "".join(f"pred p{i}(x) = p{i + 1}(x) & p{i + 1}(x)\n" for i in range(n))
    text += f"pred p{n}(x) = x == 1\npred q = p0(1)\n"
    spec = tracelogic.load(text)
    assert spec.preds["q"].typed.size > 2 ** n


# ------------------------------------------------------------------ files

def test_importing_a_file_that_is_not_utf8_names_that_file(tmp_path):
    (tmp_path / "main.spec").write_text('import "latin.spec"\npred p = true\n',
                                        encoding="utf-8")
    (tmp_path / "latin.spec").write_bytes(b'pred q = name == "caf\xe9"\n')
    with pytest.raises(SpecError) as info:
        tracelogic.load(str(tmp_path / "main.spec"))
    first = info.value.diagnostics[0]
    assert "`latin.spec`" in first.message or "latin.spec`" in first.message
    assert "not UTF-8" in first.message
    assert first.span.file.endswith("main.spec") and first.span.line == 1  # at the import
    assert "caf" not in str(info.value)  # the bad file's content is never echoed


def test_a_root_file_that_is_not_utf8_is_a_spec_error(tmp_path):
    path = tmp_path / "latin.spec"
    path.write_bytes(b'pred q = name == "caf\xe9"\n')
    with pytest.raises(SpecError, match="not UTF-8"):
        tracelogic.load(str(path))


def test_check_names_the_imported_file_that_is_not_utf8(tmp_path, capsys):
    import io

    (tmp_path / "main.spec").write_text('import "latin.spec"\n', encoding="utf-8")
    (tmp_path / "latin.spec").write_bytes(b"\xff\xfe\x00")
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", str(tmp_path / "main.spec")], out, err)
    assert code == 2
    assert "imported file `" in err.getvalue() and "latin.spec` is not UTF-8" in err.getvalue()


# ------------------------------------------------------------------ long and deep input

def test_a_50kb_string_literal_loads():
    spec = tracelogic.load('const s = "' + "a" * 50_000 + '"\n')
    assert len(spec.consts["s"].payload) == 50_000


def test_an_unterminated_string_of_50k_escaped_quotes_is_a_diagnostic():
    """Once quadratic (22 s): each quote restarted a scan to the end of the line."""
    err = refused('const s = "' + '\\"' * 25_000 + "\n")
    assert "unexpected character" in messages(err)


def test_4000_nested_brackets_load():
    spec = tracelogic.load('pred p = attr["k"] in ' + "[" * 4000 + '"x"' + "]" * 4000 + "\n")
    assert spec.preds["p"].typed is not None


def test_a_10000_deep_and_chain_loads():
    spec = tracelogic.load("pred p = " + " & ".join(f'name != "s{i}"' for i in range(10_000))
                           + "\n")
    assert spec.preds["p"].typed.size > 10_000


@pytest.mark.parametrize("construct", [
    lambda n: "pred p = " + "!" * n + "true\n",
    lambda n: "pred p = " + "(" * n + "true" + ")" * n + "\n",
    lambda n: 'pred p = attr["k"] in ' + "[" * (n - 1) + '"x"' + "]" * (n - 1) + "\n",
    lambda n: "pred p = " + " & ".join(["true"] * (n + 1)) + "\n",
    lambda n: "property p: " + "F " * n + "true\n",
    lambda n: "pred p = " + "has_ancestor(" * n + "true" + ")" * n + "\n",
], ids=["not", "parens", "brackets", "and-chain", "eventually", "calls"])
def test_nesting_is_refused_only_past_the_limit(monkeypatch, construct):
    """The limit itself, scaled down so that each construct is tested at limit - 1, limit
    and limit + 1 in milliseconds; the real limit is tested below."""
    import tracelogic.spec.parser as parser

    monkeypatch.setattr(parser, "MAX_NESTING", 50)
    assert tracelogic.load(construct(49)) is not None
    assert tracelogic.load(construct(50)) is not None
    err = refused(construct(51))
    assert "more than 50 levels" in messages(err)
    assert err.diagnostics[0].span.line == 1


def test_the_real_nesting_limit_loads_and_formats():
    """At the limit, every recursive pass (checker, constant folding, formatter) has the
    stack it needs: 100,000 nested minus signs load, fold and format."""
    text = "const c = " + "-" * MAX_NESTING + "1\n"
    assert tracelogic.load(text).consts["c"].payload == 1
    assert format_text(text) == text


def test_one_level_past_the_real_nesting_limit_is_a_diagnostic():
    err = refused("const c = " + "-" * (MAX_NESTING + 1) + "1\n")
    assert f"more than {MAX_NESTING:,} levels" in messages(err)


# ------------------------------------------------------------------ found by the load fuzz

@pytest.mark.parametrize("default", ['-"x"', '-r"x"', "-true", "-false"])
def test_a_negated_string_or_bool_config_default_is_a_diagnostic(default):
    """tests/spec/test_load_fuzz.py, seed 20261202, case 3263: `default -"…"` negated the
    string in the parser (TypeError); `-true` silently became the bool -1."""
    text = ('config app from optional "settings/*.json" {\n'
            f"  slack : real = service.slack default {default}\n}}\n")
    assert "cannot negate" in messages(refused(text))


def test_a_negated_number_config_default_still_loads():
    text = ('config app from optional "settings/*.json" {\n'
            "  slack : real = service.slack default -0.5\n"
            "  wait : duration = service.wait default -1s\n}\n")
    bindings = {b.name: b for b in tracelogic.load(text).configs["app"].bindings}
    assert bindings["slack"].default == -0.5 and bindings["wait"].default == -10 ** 9


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x85", "\r"])
def test_fmt_keeps_a_comment_that_holds_a_unicode_line_separator(sep):
    """The lexer ends a comment at `\\n` only; `str.splitlines` also split at these, so
    `fmt` cut the comment there and dropped the rest of it."""
    text = f"pred a = true  # before{sep}after\n# own{sep}line\npred b = true\n"
    out = format_text(text)
    assert f"before{sep}after" in out and f"own{sep}line" in out
    assert format_text(out) == out


@pytest.mark.parametrize("sep", ["\u2028", "\x0c", "\r"])
def test_diagnostics_point_at_the_line_the_lexer_counted(sep):
    err = refused(f"# a{sep}comment\npred b = nope\n")
    d = err.diagnostics[0]
    assert (d.span.line, d.span.column) == (2, 10)
    assert "  pred b = nope\n           ^^^^" in str(err)


def test_check_survives_a_deeply_nested_config_invariant():
    """`tracelogic check` on 40,000 nested `!` in a config invariant: the evaluator recursed
    on the caller's stack (RecursionError, "internal error", exit 3). Every pass is now
    iterative, with the default recursion limit."""
    import io
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep.spec"
        path.write_text("const k = 1\ninvariant i: " + "!" * 40_000 + "k > 0\n",
                        encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        assert cli.run(["check", str(path)], out, err) == 0, err.getvalue()
        assert "1 passed" in out.getvalue()
