"""The catalogue of known mistakes: every wrong spec here must be reported where it is wrong.

Each case is a deliberately broken spec. The test loads it (through
``tracelogic.spec.loader.load`` and through ``tracelogic check``) and asserts,
for the first error diagnostic in the file it names:

- the exact line and column, worked out by hand from the case's text (never
  copied from the tool's output);
- key words of the message, and of the hint where a hint is part of the
  contract (did-you-mean, "use `==`", "rename it", ...);
- words that must *not* appear (a hint that suggests the very word the user
  wrote, a Python ``b'...'`` repr leaking into a message).

Where the caret may reasonably sit either at the start of the smallest clause
holding the mistake or at the offending token itself (``severity fatal``:
column of ``severity`` or of ``fatal``), ``col`` lists both; anything else, in
particular the start of the enclosing declaration on another line or column,
is wrong. Columns are 1-based and count characters, as the diagnostics do.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import pytest

from tracelogic import cli
from tracelogic.spec.diagnostics import Diagnostic, SpecErrors
from tracelogic.spec.loader import load


@dataclass(frozen=True)
class Case:
    text: str
    line: int
    col: int | tuple[int, ...]
    msg: tuple[str, ...] = ()
    hint: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()                  # must appear in neither message nor hint
    files: dict[str, str] = field(default_factory=dict)  # other files next to the case
    file: str = "case.spec"                       # the file the diagnostic is in
    main: str = "case.spec"                       # the file that is loaded

    @property
    def cols(self) -> tuple[int, ...]:
        return self.col if isinstance(self.col, tuple) else (self.col,)


_MODEL = "model m {\n  var x : 0..3 = 0\n  action a do x := 1\n}\n"

CASES: dict[str, Case] = {
    # ------------------------------------------------------------------ syntax
    "missing-colon-property": Case(
        "property p G true", 1, 12, ("unexpected `G`", "`:`"),
        forbid=("did you mean `G`",)),
    "missing-colon-theorem": Case(
        "theorem t forall x: 1..3 : x > 0", 1, 11, ("unexpected `forall`", "`:`")),
    "missing-colon-workflow": Case(
        "workflow w a ; b", 1, 12, ("unexpected `a`", "`:`")),
    "missing-colon-check": Case(
        _MODEL + "check m deadlock_free", 5, 9, ("unexpected `deadlock_free`", "`:`"),
        forbid=("did you mean `deadlock_free`",)),
    "unbalanced-open-paren": Case(
        'pred a = (name == "x"', 1, 22, ("`)`",)),
    "unbalanced-open-paren-before-next-declaration": Case(
        'property p:\n  G (name == "a" -> F (name == "b")\nproperty q: true', 2, 36, ("`)`",)),
    "unbalanced-close-paren": Case(
        'property p: G (name == "x"))', 1, 28, ("unexpected `)`",)),
    "unbalanced-bracket": Case(
        'pred a = attr["k" == 1', 1, 23, ("`]`",)),
    "eq-instead-of-eqeq": Case(
        'pred a = name = "x"', 1, 15, ("unexpected `=`",), ("`==`",)),
    "eq-instead-of-eqeq-in-property": Case(
        "property p: G (status = error)", 1, 23, ("unexpected `=`",), ("`==`",)),
    "eq-instead-of-assign-in-model": Case(
        "model m {\n  var x : 0..3 = 0\n  action a do x = 1\n}", 3, 17, ("`:=`",), ("`:=`",)),
    "double-ampersand": Case(
        'pred a = name == "x" && kind == server', 1, 23, ("unexpected `&`",), ("`&`", "`and`")),
    "double-pipe": Case(
        'pred a = name == "x" || kind == server', 1, 23, ("unexpected `|`",), ("`|`", "`or`")),
    "single-quoted-string": Case(
        "pred a = name == 'x'", 1, 18, ("`'`",), ("double quotes",)),
    "misspelled-eventually-applied": Case(
        'property p: evntually (name == "x")', 1, 13, ("`evntually`",), ("`eventually`",)),
    "misspelled-eventually": Case(
        'property p: evntually name == "x"', 1, 23, ("unexpected `name`",),
        ("`evntually`", "`eventually`")),
    "misspelled-declaration-keyword": Case(
        "proprety p: true", 1, 1, ("unexpected `proprety`",), ("`property`",)),
    "misspelled-model-keyword": Case(
        "model m {\n  var x : 0..3 = 0\n  acton a do x := 1\n}", 3, 3, ("unexpected `acton`",),
        ("`action`",)),
    "bound-with-a-space-F": Case(
        'property p: F [<= 2s] (name == "x")', 1, 16, ("unexpected `<=`",),
        ("without a space", "F[<= 2s]")),
    "bound-with-a-space-U": Case(
        'property p: name == "a" U [<= 1s] name == "b"', 1, 28, ("unexpected `<=`",),
        ("without a space",)),
    "unterminated-string": Case(
        'pred a = name == "abc', 1, 18, ('`"`',), ("close on the same line",)),
    "unterminated-description": Case(
        'property p "never closed:\n  true', 1, 12, ('`"`',), ("close on the same line",)),
    "unknown-escape-in-string": Case(
        'pred a = name == "x\\q"', 1, 20, ("escape",)),
    "junk-dollar": Case(
        'pred a = name == "x" $ 1', 1, 22, ("`$`",)),
    "junk-at-line-start": Case(
        "pred a = true\n@pred b = true", 2, 1, ("`@`",)),
    "junk-unicode-arrow": Case(
        'pred a = name == "x" → true', 1, 22, ("`→`",)),
    "junk-backtick": Case(
        "pred a = `name`", 1, 10, ("`",)),
    "trailing-operator": Case(
        'pred a = name == "x" and', 1, 25, ("ended", "expression")),
    # ------------------------------------------------------------ unknown names
    "unknown-predicate": Case(
        'pred checkout = name == "x"\npred b = chekout and true', 2, 10,
        ("unknown", "`chekout`"), ("`checkout`",)),
    "unknown-predicate-in-property": Case(
        'pred checkout = name == "x"\nproperty p: G (chekout -> F checkout)', 2, 16,
        ("unknown", "`chekout`"), ("`checkout`",)),
    "unknown-span-field": Case(
        'pred a = nme == "x"', 1, 10, ("unknown", "`nme`"), ("`name`",)),
    "unknown-span-kind": Case(
        "pred a = kind == sever", 1, 18, ("`sever`",), ("`server`",)),
    "unknown-function": Case(
        "pred checkout = true\nproperty p: G has_ancestr(checkout)", 2, 15,
        ("unknown", "`has_ancestr`"), ("`has_ancestor`",)),
    "unknown-type": Case(
        "theorem t: forall x: strin : x == x", 1, 22, ("unknown type", "`strin`"),
        ("`string`",)),
    "unknown-check-target": Case(
        "model breaker {\n  var x : 0..3 = 0\n  action a do x := 1\n}\n"
        "check breakr: deadlock_free", 5, (1, 7), ("`breakr`",), ("`breaker`",)),
    "unknown-name-in-message-placeholder": Case(
        'property p message "x {nme}": true', 1, (12, 20, 24), ("`nme`",), ("`name`",)),
    "unknown-imported-member": Case(
        "import \"common.spec\"\npred x = common.chekout", 2, 10, ("`common`", "`chekout`"),
        ("`checkout`",), files={"common.spec": 'pred checkout = name == "POST /checkout"\n'}),
    # ------------------------------------------------------------ units
    "duration-compared-with-int": Case(
        "const timeout = 2s\ninvariant i: timeout >= 1", 2, 14, ("duration", "int"),
        ("compare a duration with a duration", "`1s`")),
    "config-duration-compared-with-int": Case(
        'config d from "x/*.yaml" {\n  timeout : duration = a.b\n}\n'
        "invariant t on d: timeout >= 1", 4, 19, ("duration", "int"), ("`1s`",)),
    "duration-plus-bytes": Case(
        "const a = 2s + 1Mi", 1, 11, ("cannot add", "bytes", "duration")),
    "bytes-minus-duration": Case(
        "const a = 1Mi - 2s", 1, 11, ("cannot subtract",), forbid=("bytess",)),
    "floor-division-on-reals": Case(
        "const a = 2.5 // 1", 1, 11, ("`//`",), ("`/`",)),
    "modulo-on-reals": Case(
        "theorem t: forall x: 0.0..1.0 : x % 2 == 0", 1, 33, ("`%`",)),
    "span-duration-compared-with-int": Case(
        "pred p = duration > 1", 1, 10, ("duration", "int"), ("`1s`",)),
    "duration-times-duration": Case(
        "pred p = 1s * 2s > 1s", 1, 10, ("multiply",)),
    "time-bound-not-a-duration": Case(
        "property p: F[<= 1] true", 1, 18, ("time bound", "duration")),
    "window-not-a-duration": Case(
        "property p per service window 5: count() > 1", 1, 31, ("window", "duration")),
    "model-init-wrong-unit": Case(
        "model m {\n  var x : 0..3 = 1s\n}", 2, 18, ("`x`", "duration")),
    "string-compared-with-int": Case(
        'pred p = "a" < 1', 1, 10, ("string", "int")),
    "constant-division-by-zero": Case(
        "const c = 10 // 0", 1, 11, ("zero",)),
    "fractional-nanoseconds": Case(
        "const c = 1.5ns", 1, 11, ("nanoseconds",)),
    "matches-on-a-number": Case(
        "pred p = name matches 3", 1, 10, ("`matches`", "string")),
    # ------------------------------------------------------------ duplicates
    "duplicate-predicate": Case(
        "pred a = true\npred a = false", 2, (1, 6), ("`a`", "twice")),
    "duplicate-across-kinds": Case(
        "const a = 1\nproperty a: true", 2, (1, 10), ("`a`", "twice")),
    "duplicate-enum-member": Case(
        "enum E { a, b, a }", 1, 16, ("`a`", "twice")),
    "duplicate-config-binding": Case(
        'config c from "x" {\n  a : int = a\n  a : int = b\n}', 3, 3, ("`a`", "twice")),
    "duplicate-model-variable": Case(
        "model m {\n  var x : int = 0\n  var x : int = 1\n}", 3, (3, 7), ("`x`", "twice")),
    "duplicate-parameter": Case(
        "pred p(a, a) = name == a", 1, 11, ("parameter",)),
    "duplicate-clause": Case(
        "property p severity error severity warning: true", 1, 27, ("`severity`", "twice")),
    "import-alias-clashes-with-declaration": Case(
        'import "c.spec" as k\npred k = true', 2, (1, 6), ("`k`", "twice"),
        files={"c.spec": "pred c1 = true\n"}),
    # ------------------------------------------------------------ reserved words
    "reserved-pred-name": Case(
        "pred until = true", 1, 6, ("`until`", "reserved"), ("rename",)),
    "reserved-operator-letter": Case(
        "const F = 1", 1, 7, ("`F`", "reserved"), ("rename",)),
    "reserved-enum-member": Case(
        "enum E { open, within }", 1, 16, ("`within`", "reserved")),
    "reserved-property-name": Case(
        "property always: true", 1, 10, ("`always`", "reserved")),
    "reserved-model-variable": Case(
        "model m {\n  var next : int = 0\n}", 2, 7, ("`next`", "reserved")),
    "reserved-parameter": Case(
        "pred op(eventually) = name == eventually", 1, 9, ("`eventually`", "reserved")),
    "reserved-theorem-variable": Case(
        "theorem t: forall G: 1..3 : G > 0", 1, 19, ("`G`", "reserved")),
    # ------------------------------------------------------------ imports
    "import-missing-file": Case(
        'import "missing.spec"', 1, (1, 8), ("`missing.spec`", "not found")),
    "import-unknown-std-module": Case(
        "import std.nosuch", 1, (1, 8), ("`nosuch`",), ("saga",)),
    "import-std-did-you-mean": Case(
        "import std.sga", 1, (1, 8), ("`sga`",), ("`saga`",)),
    "import-not-std-module": Case(
        "import foo.bar", 1, (1, 8), ("`foo.bar`",), ("std",)),
    "import-cycle": Case(
        'import "b.spec"\npred pa = name == "a"', 2, (1, 8), ("cycle", "case.spec -> b.spec -> case.spec"),
        files={"b.spec": 'pred pb = name == "b"\nimport "case.spec"\n'}, file="b.spec"),
    "import-self": Case(
        'import "case.spec"', 1, (1, 8), ("cycle", "case.spec")),
    "import-alias-clash": Case(
        'import "c.spec"\nimport "sub/c.spec"', 2, (1, 8), ("`c`",), ("`as`",),
        files={"c.spec": "pred c1 = true\n", "sub/c.spec": "pred c2 = true\n"}),
    "import-stem-not-a-name": Case(
        'import "my-file.spec"', 1, (1, 8), ("`my-file`",), ("as NAME",),
        files={"my-file.spec": "pred z = true\n"}),
    # ------------------------------------------------------------ misplaced constructs
    "start-in-config-invariant": Case(
        'config c from "x/*.yaml" {\n  n : int = spec.n\n}\ninvariant i on c: start and n > 1',
        4, 19, ("`start`", "config invariant")),
    "temporal-operator-in-pred": Case(
        'pred p = F (name == "x")', 1, 10, ("temporal", "`F`", "predicate"), ("property",)),
    "aggregate-in-pred": Case(
        'pred p = count(name == "x") > 1', 1, 10, ("`count(...)`", "predicate")),
    "prev-in-pred": Case(
        "pred p = prev(duration) > 1s", 1, 10, ("`prev(...)`", "property")),
    "prev-in-theorem": Case(
        "theorem t: forall x: 1..3 : prev(x) == x", 1, 29, ("`prev(...)`", "property")),
    "pattern-in-pred": Case(
        'pred p = absence(name == "x")', 1, 10, ("pattern", "`absence(...)`", "property")),
    "pattern-in-config-invariant": Case(
        "invariant i: absence(true)", 1, 14, ("pattern", "property")),
    "temporal-operator-in-theorem": Case(
        "theorem t: forall x: 1..3 : G (x > 0)", 1, 29, ("temporal", "`G`", "theorem")),
    "aggregate-under-temporal-operator": Case(
        "property p: G (count() > 1)", 1, 16, ("aggregate", "temporal")),
    "past-operator-in-model-check": Case(
        _MODEL + "check m: G (O x == 1)", 5, 13, ("past operator", "`O`")),
    "span-field-in-theorem": Case(
        "theorem t: duration > 1s", 1, 12, ("`duration`", "span field", "theorem")),
    "metric-outside-metric-invariant": Case(
        'metric cpu = "system.cpu" : ratio\nproperty p: cpu < 0.9', 2, 13,
        ("`cpu`", "metric invariant")),
    # ------------------------------------------------------------ severities
    "unknown-severity": Case(
        'property p severity fatal: name == "x"', 1, (12, 21), ("`fatal`",),
        ("critical", "warning")),
    "misspelled-severity": Case(
        "property p severity warn: true", 1, (12, 21), ("`warn`",), ("`warning`",)),
    "unknown-invariant-severity": Case(
        "invariant i severity fatal: 1 < 2", 1, (13, 22), ("`fatal`",)),
    # ------------------------------------------------------------ windows
    "window-without-aggregate": Case(
        'property p window 1m: name == "x"', 1, 12, ("`window`", "aggregate")),
    "window-of-zero": Case(
        "property p per service window 0s: count() > 1", 1, 24, ("longer than zero",)),
    # ------------------------------------------------------------ models
    "assign-undeclared-variable": Case(
        "model m {\n  var x : 0..3 = 0\n  action a do y := 1\n}", 3, 15,
        ("`y`", "not a variable"), ("x",)),
    "init-out-of-range": Case(
        "model m {\n  var x : 0..3 = 7\n  action a do x := 1\n}", 2, 18,
        ("7", "outside", "0..3")),
    "assign-to-model-constant": Case(
        "model m {\n  const k = 1\n  var x : 0..3 = 0\n  action a do k := 2\n}", 4, 15,
        ("`k`", "constant")),
    "assign-out-of-range": Case(
        "model m {\n  var x : 0..3 = 0\n  action a do x := 9\n}", 3, 20, ("9", "outside")),
    # ------------------------------------------------------------ workflows
    "compensation-for-unknown-step": Case(
        "workflow w:\n  reserve ; charge\n  compensate reserv with release", 3, (3, 14),
        ("unknown step", "`reserv`"), ("`reserve`",)),
    "compensation-is-a-forward-step": Case(
        "workflow w:\n  a ; b\n  compensate a with b", 3, (3, 21), ("`b`", "forward step")),
    "two-compensations": Case(
        "workflow w:\n  a ; b\n  compensate a with x\n  compensate a with y", 4, (3, 14),
        ("`a`", "two compensations")),
    # ------------------------------------------------------------ healing
    "heal-unknown-property": Case(
        'property answered: true\nheal h\n  on violated answred\n  do log(message: "x")',
        3, (3, 15), ("unknown property", "`answred`"), ("`answered`",)),
    "heal-cooldown-not-a-duration": Case(
        'property p: true\nheal h\n  on violated p\n  do log(message: "x")\n  cooldown 5',
        5, 12, ("cooldown", "duration"), ("`1s`",)),
    "heal-risk-out-of-range": Case(
        'property p: true\nheal h\n  on violated p\n  do log(message: "x")\n  risk 1.5',
        5, 8, ("1.5", "0.0..1.0")),
    "heal-limit-zero": Case(
        'property p: true\nheal h\n  on violated p\n  do log(message: "x")\n  limit 0 per 1h',
        5, (3, 9), ("`limit",)),
    "heal-without-action": Case(
        "property p: true\nheal h\n  on violated p", 2, 1, ("`h`", "`do")),
    # ------------------------------------------------------------ predicate arity
    "pred-too-many-arguments": Case(
        'pred op(n) = name == n\nproperty p: G op("a", "b")', 2, 15,
        ("`op`", "1 argument", "got 2")),
    "pred-no-arguments": Case(
        'pred op(n) = name == n\nproperty p: G op()', 2, 15, ("`op`", "1 argument", "got 0")),
    "pred-used-without-call": Case(
        "pred op(n) = name == n\nproperty p: G op", 2, 15, ("`op`", "1 argument", "op(n)")),
    "plain-pred-called-with-arguments": Case(
        'pred checkout = true\nproperty p: G checkout("x")', 2, 15,
        ("`checkout`", "no arguments")),
    "pattern-arity": Case(
        "property p: absence(true, false)", 1, 13, ("`absence`", "got 2")),
    # ------------------------------------------------------------ what the user most likely meant
    "unquoted-dotted-string": Case(
        "property p: G (name == payments.charge)", 1, 24, ("unknown name `payments`",),
        ('quote it', '`"payments.charge"`')),
    "unquoted-string": Case(
        "property p: G (service == checkout)", 1, 27, ("unknown name `checkout`",),
        ('quote it', '`"checkout"`')),
    "unquoted-string-left-of-comparison": Case(
        "property p: G (checkout == service)", 1, 16, ("unknown name `checkout`",),
        ('`"checkout"`',)),
    "unquoted-string-close-to-a-name": Case(
        'pred paymnts = true\nproperty p: G (name == payments.charge)', 2, 24,
        ("unknown name `payments`",), ("did you mean `paymnts`?", '`"payments.charge"`')),
    "unquoted-attribute-key": Case(
        'property p: G (attr[order.id] == "x")', 1, 21, ("unknown name `order`",),
        ('`attr["order.id"]`',)),
    "unquoted-resource-key": Case(
        'property p: G (resource[region] == "x")', 1, 25, ("unknown name `region`",),
        ('`resource["region"]`',)),
    "duration-unit-spelled-out": Case(
        'property p: F[<= 2sec] (name == "x")', 1, 18, ("unexpected `2sec`",),
        ("did you mean `2s`?",)),
    "duration-unit-with-fraction": Case(
        "property p: G (duration > 1.5min)", 1, 27, ("unexpected `1.5min`",),
        ("`1.5m`",)),
    "duration-unit-after-a-space": Case(
        'property p: F[<= 2 s] (name == "x")', 1, 20, ("unexpected `s`",),
        ("without a space", "`2s`")),
    "duration-word-after-a-space": Case(
        "const t = 2 seconds", 1, 13, ("unexpected `seconds`",), ("`2s`",)),
    "size-unit-MB": Case(
        'property p: G (attr["size"] > 10MB)', 1, 31, ("unexpected `10MB`",),
        ("`10M`", "`10Mi`")),
    "size-unit-MiB-after-a-space": Case(
        'property p: G (attr["size"] > 10 MiB)', 1, 34, ("unexpected `MiB`",), ("`10Mi`",)),
    "quoted-duration": Case(
        'property p: G ("20m" == duration)', 1, 16, ("cannot compare", "string", "duration"),
        ("without quotes", "`20m`")),
    "quoted-size": Case(
        'const c = 512Mi\ninvariant i: c <= "1Gi"', 2, 14, ("cannot compare", "string"),
        ("without quotes", "`1Gi`")),
    "predicate-hides-pattern": Case(
        'pred response = name == "x"\nproperty p: response(name == "a", name == "b")', 2, 13,
        ("`response`", "no arguments"), ("also a pattern", "`response(P, Q)`", "rename")),
    "predicate-with-parameter-hides-pattern": Case(
        'pred absence(n) = name == n\nproperty p: absence(name == "a", name == "b")', 2, 13,
        ("`absence`", "got 2"), ("also a pattern", "`absence(P)`")),
    # ------------------------------------------------------------ regular expressions
    "regex-unbalanced-group": Case(
        'pred p = name matches r"(abc"', 1, 23, ("invalid regular expression", "missing )"),
        ("RE2",), forbid=("b'",)),
    "regex-lookbehind": Case(
        'pred p = name matches r"(?<=a)b"', 1, 23, ("invalid regular expression",),
        ("lookaround",), forbid=("b'",)),
    "regex-bad-repetition": Case(
        'pred p = name matches r"a{2,1}"', 1, 23, ("invalid regular expression", "{2,1}"),
        forbid=("b'",)),
    "regex-backreference": Case(
        'pred p = name matches r"(a)\\1"', 1, 23, ("invalid regular expression",),
        ("backreferences",), forbid=("b'",)),
}


def _write_case(tmp_path, case: Case) -> str:
    for name, text in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    main = tmp_path / case.main
    main.write_text(case.text, encoding="utf-8")
    return str(main)


def _first_error(diags: list[Diagnostic], file: str) -> Diagnostic:
    mine = [d for d in diags if d.severity == "error" and d.span is not None
            and os.path.basename(d.span.file) == file]
    assert mine, "no error in {}; got:\n{}".format(
        file, "\n".join(f"  {d.span}: {d.message}" for d in diags))
    return mine[0]


def _show(d: Diagnostic) -> str:
    return f"{d.span}: {d.message} (hint: {d.hint})"


def test_the_catalogue_is_big_enough():
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_catalogue_load(case: Case, tmp_path):
    path = _write_case(tmp_path, case)
    with pytest.raises(SpecErrors) as info:
        load(path)
    d = _first_error(info.value.diagnostics, case.file)
    assert (d.span.line, d.span.column) in [(case.line, c) for c in case.cols], _show(d)
    for word in case.msg:
        assert word in d.message, _show(d)
    if case.hint:
        assert d.hint is not None, f"expected a hint with {case.hint}: {_show(d)}"
        for word in case.hint:
            assert word in d.hint, _show(d)
    for word in case.forbid:
        assert word not in d.message and word not in (d.hint or ""), _show(d)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_catalogue_cli(case: Case, tmp_path, monkeypatch):
    path = _write_case(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", os.path.basename(path)], out, err)
    assert code == 2, err.getvalue()
    text = err.getvalue()
    heads = [f"{case.file}:{case.line}:{c}: error: " for c in case.cols]
    assert any(h in text for h in heads), f"none of {heads} in:\n{text}"


# ------------------------------------------------------------ warnings

WARNINGS: dict[str, Case] = {
    "untyped-attribute-compared-with-minutes": Case(
        'property p: G (attr["payload.size"] > 10m)', 1, 16,
        ('`attr["payload.size"]`', "no declared type", "duration", "nanoseconds", '"20m"'),
        ("`10m` is 10 minutes", "`10M`", "`10Mi`")),
    "untyped-attribute-compared-with-a-duration": Case(
        'property p: G (attr["elapsed"] > 2s)', 1, 16,
        ("no declared type", "read as one", "nanoseconds"),
        ('`attr["elapsed"] * 1ms`',)),
    "untyped-parent-attribute-compared-with-bytes": Case(
        'property p: G (parent.attr["body.size"] <= 512Mi)', 1, 16,
        ('`parent.attr["body.size"]`', "bytes", '"10Mi"'), ('`parent.attr["body.size"] * 1Ki`',)),
    "untyped-attribute-in-a-duration-range": Case(
        'property p: G (attr["t"] in 1s..2s)', 1, 16, ('`attr["t"]`', "duration")),
    "untyped-attribute-plus-a-duration": Case(
        'property p: G (attr["t"] + 1s > duration)', 1, 16, ('`attr["t"]`', "combined with",
                                                            "duration")),
    "predicate-named-after-a-pattern": Case(
        'pred response = name == "x"\nproperty p: G response', 1, 1,
        ("predicate `response`", "hides the pattern `response(P, Q)`"), ("`is_response`",)),
}


def _first_warning(diags, file: str) -> Diagnostic:
    mine = [d for d in diags if d.severity == "warning" and d.span is not None
            and os.path.basename(d.span.file) == file]
    assert mine, "no warning in {}; got:\n{}".format(
        file, "\n".join(f"  {d.span}: {d.message}" for d in diags))
    return mine[0]


@pytest.mark.parametrize("case", list(WARNINGS.values()), ids=list(WARNINGS))
def test_warning_catalogue(case: Case, tmp_path, monkeypatch):
    path = _write_case(tmp_path, case)
    d = _first_warning(list(load(path).warnings), case.file)
    assert (d.span.line, d.span.column) in [(case.line, c) for c in case.cols], _show(d)
    for word in case.msg:
        assert word in d.message, _show(d)
    for word in case.hint:
        assert d.hint is not None and word in d.hint, _show(d)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", os.path.basename(path)], out, err) == 0, err.getvalue()
    assert f"{case.file}:{case.line}:{case.cols[0]}: warning: " in err.getvalue()
    assert cli.run(["check", "--strict", os.path.basename(path)], out, err) == 1


@pytest.mark.parametrize("text", [
    'property p: G (attr["elapsed_ms"] * 1ms > 2s)',   # the reading is stated
    'property p: G (attr["retries"] > 3)',              # a plain number
    'property p: G (attr["timeout"] == "20m")',         # a string
    'property p: G (duration > 2s)',                    # a typed field
    "pred is_response = true\nproperty p: response(is_response, true)",
], ids=["multiplied-by-a-unit", "plain-number", "string", "typed-field", "pattern-not-hidden"])
def test_no_warning_where_the_reading_is_plain(text, tmp_path):
    path = tmp_path / "ok.spec"
    path.write_text(text, encoding="utf-8")
    assert load(str(path)).warnings == ()


def test_an_attribute_warns_once_per_unit(tmp_path):
    path = tmp_path / "once.spec"
    path.write_text('property p: G (attr["t"] > 1s and attr["t"] < 5s)\n'
                    'property q: G (attr["t"] > 1Mi)\n', encoding="utf-8")
    got = [(d.span.line, d.span.column) for d in load(str(path)).warnings]
    assert got == [(1, 16), (2, 16)]


# ------------------------------------------------------------ several errors, one run

THREE_ERRORS = (
    'pred a = nme == "x"\n'                       # 1:10 unknown name (type checker)
    'pred b = name == "x" && kind == server\n'   # 2:23 syntax error
    "const c = 1s + 1Mi\n"                        # 3:11 unit mismatch (type checker)
)


def test_independent_errors_are_all_reported_in_one_run(tmp_path):
    path = tmp_path / "three.spec"
    path.write_text(THREE_ERRORS, encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        load(str(path))
    got = [(d.span.line, d.span.column) for d in info.value.diagnostics if d.severity == "error"]
    assert got == [(1, 10), (2, 23), (3, 11)], "\n".join(map(_show, info.value.diagnostics))


def test_independent_errors_are_all_rendered_with_source_and_caret(tmp_path, monkeypatch):
    (tmp_path / "three.spec").write_text(THREE_ERRORS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "three.spec"], out, err) == 2
    lines = err.getvalue().splitlines()
    for line, col, source, width in ((1, 10, 'pred a = nme == "x"', 3),
                                     (2, 23, 'pred b = name == "x" && kind == server', 1),
                                     (3, 11, "const c = 1s + 1Mi", 8)):
        head = [i for i, t in enumerate(lines) if t.startswith(f"three.spec:{line}:{col}: error: ")]
        assert head, f"no three.spec:{line}:{col} in:\n{err.getvalue()}"
        i = head[0]
        assert lines[i + 1] == "  " + source
        assert lines[i + 2] == "  " + " " * (col - 1) + "^" * width


def test_rendered_diagnostic_shape(tmp_path, monkeypatch):
    (tmp_path / "one.spec").write_text('pred checkout = name == "x"\npred b = chekout and true\n',
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "one.spec"], out, err) == 2
    assert err.getvalue().splitlines()[:4] == [
        "one.spec:2:10: error: unknown name `chekout`",
        "  pred b = chekout and true",
        "           ^^^^^^^",
        "  hint: did you mean `checkout`?",
    ]


def test_spec_errors_str_renders_every_diagnostic(tmp_path):
    path = tmp_path / "two.spec"
    path.write_text('pred a = nme == "x"\nconst c = 1s + 1Mi\n', encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        load(str(path))
    text = str(info.value)
    assert f"{path}:1:10: error: unknown name `nme`" in text
    assert f"{path}:2:11: error: cannot add" in text
    assert "           ^^^" in text


# ------------------------------------------------------------ definitions in terms of themselves

@pytest.mark.parametrize("text, name", [
    ("pred a = b\npred b = a\n", "a"),
    ("pred a = a and true\n", "a"),
    ("pred a = has_ancestor(a)\n", "a"),
    ("step s = s\nworkflow w: s\n", "s"),
    ("const a = b\nconst b = a\n", "a"),
], ids=["mutual-preds", "self-pred", "self-pred-in-has_ancestor", "self-step", "mutual-consts"])
def test_recursive_definitions_are_errors_not_crashes(text, name, tmp_path):
    """A definition that refers to itself is a spec error, never a RecursionError."""
    path = tmp_path / "rec.spec"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        load(str(path))
    d = info.value.diagnostics[0]
    assert f"`{name}`" in d.message or f"`{name}`" in (d.hint or ""), _show(d)
    assert any(w in d.message for w in ("itself", "cycle", "recursive")), _show(d)


# ------------------------------------------------------------ valid text the lexer must accept

@pytest.mark.parametrize("text, expected", [
    ('pred p = name == "a\\\\" or name == "b"\n', "a\\"),
    ('pred p = name == "say \\"hi\\"" or name == "x"\n', 'say "hi"'),
    ('pred p = name == "tab\\there" or name == "x"\n', "tab\there"),
], ids=["escaped-backslash-then-string", "escaped-quotes", "tab-escape"])
def test_string_escapes_are_exactly_the_documented_ones(text, expected, tmp_path):
    """§0: `"..."` takes `\\" \\\\ \\n \\t`; a string ending in `\\\\` ends there."""
    path = tmp_path / "ok.spec"
    path.write_text(text, encoding="utf-8")
    spec = load(str(path))
    cmp = spec.preds["p"].typed.args[0].args[0]  # or(cmp, cmp) -> the left comparison
    assert cmp.args[1].payload == expected
