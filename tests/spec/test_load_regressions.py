"""Named regressions: inputs that once made `tracelogic.load` raise something other than
`SpecError`, or take far too long (issue 13). Each now loads, or is refused with a
diagnostic that says what to do; none may crash.

The limits they touch are those of ``tracelogic.spec.limits``, tested at the limit and one
past it.
"""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic import cli
from tracelogic.errors import SpecError
from tracelogic.spec.diagnostics import SpecErrors
from tracelogic.spec.limits import MAX_EXPRESSION_NODES, MAX_NUMBER_DIGITS


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
