"""The native atom program against the generated Python predicates (its reference).

Hypothesis writes small specs (typed by construction: numbers, durations, strings,
attributes, parent hops, arithmetic with zero divisors, `in`, `matches`, structure,
every connective), loads them with the real front end, and compiles them with
:class:`CompiledSpec`; each atom is emitted by ``semantics.atoms`` and evaluated by the core
(``_native.eval_atoms``) on generated traces (values near ±2^63, NaN, ±inf, -0.0, bools,
strings, None/bytes/tuples, missing attributes, roots, orphans, parent cycles). The letters
at every span's start and end, and the type-mismatch counts per comparison site, must be
those of ``CompiledSpec.letter`` and ``CodeGen.mismatches``.

Regular expressions get their own test against the ``re2`` module: RE2 syntax rewritten
by ``rust_pattern`` must find a match in exactly the strings RE2 does.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import json
import os

import pytest
import re2
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

import tracelogic
from tracelogic import _native
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.ingest.events import Trace
from tracelogic.ingest.spans import KIND_NAMES, STATUS_NAMES, InvalidValue, Span
from tracelogic.semantics.atoms import Unsupported, emit, program, rust_pattern
from tracelogic.spec.diagnostics import SpecErrors

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
FACTOR = 20 if LONG else 1
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.filter_too_much])

KEYS = ("a", "b", "c")
I64 = (-2 ** 63, 2 ** 63 - 1)

# ------------------------------------------------------------------ spec expressions

INT_LITS = ["0", "1", "3", "7", "1_000", "9007199254740993", "4611686018427387904",
            "9223372036854775807", "9223372036854775808", "18446744073709551616"]
REAL_LITS = ["0.5", "2.5", "0.1", "1e300", "1e-300", "0.0", "3.0"]
DUR_LITS = ["0ns", "1ns", "1ms", "2s", "1h", "1.5us"]
STR_LITS = ['""', '"a"', '"b"', '"é"', '"12"', '"a b"', '"\ufffd"', '"\U0001d7d8"']


def _attr(draw) -> str:
    src = draw(st.sampled_from(["attr", "attr", "resource", "parent.attr",
                                "parent.parent.attr", "parent.resource"]))
    return f'{src}["{draw(st.sampled_from(KEYS))}"]'


@st.composite
def int_term(draw, depth=0):
    """An INT- (or dyn-) typed expression."""
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        lit = draw(st.sampled_from(INT_LITS))
        return f"-{lit}" if draw(st.booleans()) else lit
    if choice == 1:
        return _attr(draw)
    if choice == 2:
        return f"(duration // {draw(st.sampled_from(DUR_LITS))})"
    op = draw(st.sampled_from(["+", "-", "*", "//", "%"]))
    return f"({draw(int_term(depth + 1))} {op} {draw(int_term(depth + 1))})"


@st.composite
def num_term(draw, depth=0):
    """A numeric (int, real or dyn) expression."""
    choice = draw(st.integers(0, 3 if depth < 2 else 1))
    if choice == 0:
        return draw(int_term(depth + 1))
    if choice == 1:
        lit = draw(st.sampled_from(REAL_LITS))
        return f"-{lit}" if draw(st.booleans()) else lit
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    return f"({draw(num_term(depth + 1))} {op} {draw(num_term(depth + 1))})"


@st.composite
def dur_term(draw, depth=0):
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        return draw(st.sampled_from(["duration", "duration", "parent.duration"]))
    if choice == 1:
        return draw(st.sampled_from(DUR_LITS))
    if choice == 2:
        return f"({draw(dur_term(depth + 1))} {draw(st.sampled_from('+-'))} " \
               f"{draw(dur_term(depth + 1))})"
    if choice == 3:
        return f"({draw(dur_term(depth + 1))} % {draw(dur_term(depth + 1))})"
    return f"({draw(dur_term(depth + 1))} {draw(st.sampled_from(['*', '/']))} " \
           f"{draw(st.sampled_from(INT_LITS[:5] + REAL_LITS[:2]))})"


STR_TERMS = ["name", "parent.name", "service", "status_message", "scope.name",
             "parent.parent.service", "span_id", "parent_id"]
PATTERNS = [r"^a", r"\d+$", r"^\w*$", r"\bb", r"[^\s]", r"é|٣", r"^$", r"a{2}", r"x{"]


@st.composite
def condition(draw, depth=0):
    choice = draw(st.integers(0, 15 if depth < 3 else 9))
    cmp = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    eq = draw(st.sampled_from(["==", "!="]))
    if choice == 0:
        return f"{draw(num_term())} {cmp} {draw(num_term())}"
    if choice == 1:
        return f"{draw(dur_term())} {cmp} {draw(dur_term())}"
    if choice == 2:
        left = draw(st.sampled_from(STR_TERMS + [_attr(draw)]))
        return f"{left} {cmp} {draw(st.sampled_from(STR_TERMS + STR_LITS))}"
    if choice == 3:
        return f"{_attr(draw)} {eq} {draw(st.sampled_from(['true', 'false']))}"
    if choice == 4:
        items = draw(st.lists(st.sampled_from(INT_LITS[:6] + REAL_LITS[:3]), min_size=1,
                              max_size=3))
        if draw(st.booleans()):
            items = draw(st.lists(st.sampled_from(STR_LITS), min_size=1, max_size=3))
        return f"{_attr(draw)} in [{', '.join(items)}]"
    if choice == 5:
        lo, hi = sorted(draw(st.lists(st.sampled_from([-3, 0, 1, 2, 7, 2 ** 63]),
                                      min_size=2, max_size=2)))
        return f"{draw(num_term())} in {lo}..{hi}"
    if choice == 6:
        left = draw(st.sampled_from(["name", _attr(draw)]))
        op = draw(st.sampled_from(["matches", "contains", "startswith"]))
        right = f'r"{draw(st.sampled_from(PATTERNS))}"' if op == "matches" else \
            draw(st.sampled_from(STR_LITS + ["name"]))
        return f"{left} {op} {right}"
    if choice == 7:
        return draw(st.sampled_from([
            f"{_attr(draw)} exists", _attr(draw), "is_root", "parent.is_root", "start", "end",
            'has_event("e")', "kind == server", "status == error", "parent.kind == client",
            "parent.is_root == false", "is_root == true"]))
    if choice in (8, 9):
        return f"{_attr(draw)} {cmp} {draw(num_term())}"
    if choice == 10:
        return f"!({draw(condition(depth + 1))})"
    if choice == 11:
        return f"{draw(st.sampled_from(['has_ancestor', 'has_child']))}" \
               f"({draw(condition(depth + 1))})"
    op = draw(st.sampled_from(["&", "|", "->", "<->", "xor"]))
    return f"({draw(condition(depth + 1))} {op} {draw(condition(depth + 1))})"


# ------------------------------------------------------------------ spans

ATTR_VALUES = st.one_of(
    st.sampled_from([0, 1, -1, 2, 3, -7, I64[0], I64[1], I64[0] + 1, I64[1] - 1, 2 ** 53 + 1,
                     -(2 ** 53) - 1, 10 ** 18]),
    st.integers(*I64),
    st.sampled_from([0.0, -0.0, 0.5, -2.5, 1e300, 1e-300, float("nan"), float("inf"),
                     float("-inf"), 9.223372036854775807e18, -9.223372036854775808e18]),
    st.floats(allow_nan=True),
    st.booleans(),
    st.sampled_from(["", "a", "b", "12", "a b", "é", "٣", "ſ", "aa"]),
    st.sampled_from([None, b"x", (1, 2), InvalidValue("x", "bad")]),
)
NUMBERS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 3, -7, I64[0], I64[1], I64[0] + 1, I64[1] - 1, 2 ** 53 + 1]),
    st.integers(-100, 100), st.integers(*I64),
    st.sampled_from([0.0, -0.0, 0.5, -2.5, 1e300, float("nan"), float("inf"), float("-inf"),
                     9.223372036854775807e18]),
    st.floats(allow_nan=True))
# U+FFFD sorts below U+1D7D8 by code point (Python, UTF-8) but above it in UTF-16
NAMES = st.sampled_from(["a", "b", "", "é", "12", "x1 y", "aa", "٣", "\ufffd", "\U0001d7d8"])


@st.composite
def trace_rows(draw, numeric=False):
    """The spans of one trace; ``numeric``: every attribute present, and a number."""
    n = draw(st.integers(1, 4))
    ids = [f"{i + 1:016x}" for i in range(n)]
    spans = []
    for i in range(n):
        parent = draw(st.sampled_from(["", "00000000000000ff", *ids]))
        start = draw(st.sampled_from([0, 1, 5, 2 ** 63, 2 ** 64 - 1, 10 ** 9]))
        end = draw(st.sampled_from([0, 3, 1_000_000, 2 ** 64 - 1, 2 ** 63 + 7, 10 ** 9]))
        spans.append(Span(
            name=draw(NAMES), trace_id="0" * 31 + "1", span_id=ids[i], parent_id=parent,
            start_ns=start, end_ns=end, kind=draw(st.sampled_from(KIND_NAMES)),
            status=draw(st.sampled_from(STATUS_NAMES)), status_message=draw(NAMES),
            service=draw(NAMES), scope_name=draw(NAMES),
            attrs=draw(st.fixed_dictionaries({k: NUMBERS for k in KEYS}) if numeric else
                       st.dictionaries(st.sampled_from(KEYS), ATTR_VALUES, max_size=3)),
            resource=draw(st.fixed_dictionaries({k: NUMBERS for k in KEYS}) if numeric else
                          st.dictionaries(st.sampled_from(KEYS), ATTR_VALUES, max_size=2)),
            event_names=draw(st.lists(st.sampled_from(["e", "x"]), max_size=2))))
    return spans


def row(s: Span):
    return ((s.name, s.kind, s.status, s.status_message, s.service, s.scope_name),
            (s.trace_id, s.span_id, s.parent_id), (s.start_ns, s.end_ns),
            dict(s.attrs), dict(s.resource), list(s.event_names))


def note(text: str) -> None:
    """A Hypothesis event (`--hypothesis-show-statistics`), in generated examples only."""
    if currently_in_test_context():
        event(text)


def any_bits(letters: list[tuple[int, int]]) -> int:
    out = 0
    for a, b in letters:
        out |= a | b
    return out


def word_int(words: list[int]) -> int:
    return sum(w << (64 * i) for i, w in enumerate(words))


# ------------------------------------------------------------------ the differential test

def compile_spec(conditions: list[str], generated: bool = True) -> CompiledSpec:
    text = "".join(f"property p{i}: always ({c})\n" for i, c in enumerate(conditions))
    try:
        spec = tracelogic.load(text)
    except SpecErrors:
        if not generated:
            raise
        reject()  # a combination the generator did not type (rare)
    return CompiledSpec(spec)


def check_spec(cs: CompiledSpec, traces: list[list[Span]]) -> None:
    atoms = sorted(cs.atoms, key=cs.atoms.__getitem__)
    prog = program(atoms)
    supported = sum(1 << i for i in range(len(atoms)) if i not in prog.unsupported)
    for reason in prog.unsupported.values():
        assert reason.startswith(("`*` may compute", "`+` may compute",
                                  "`-` may compute", "an integer literal")), reason
    text = json.dumps(prog.program)
    for spans in traces:
        before = {k: list(v) for k, v in cs.gen.mismatches.items()}
        tr = Trace(spans)
        try:
            expected = [(cs.letter(s, True, tr), cs.letter(s, False, tr)) for s in spans]
        except OverflowError:
            # Python's int-to-float limit, on atoms the core refused
            assert prog.unsupported
            continue
        letters, counts = _native.eval_atoms(text, [row(s) for s in spans])
        got = [(word_int(a), word_int(b)) for a, b in letters]
        assert [(a & supported, b & supported) for a, b in got] == \
            [(a & supported, b & supported) for a, b in expected], (prog.program, spans)
        note(f"{bin(supported & any_bits(got)).count('1')} of {len(atoms)} atoms true once")
        if prog.unsupported:
            note("an atom is unsupported")
            continue  # their sites count in Python only
        # the counts this trace added, per label, and the first types seen overall
        delta = {k: v[0] - before.get(k, [0])[0] for k, v in cs.gen.mismatches.items()}
        ours = {label: c for label, c in zip(prog.program["sites"], counts) if c[0]}
        note("mismatches counted" if ours else "no mismatch")
        assert {k: c[0] for k, c in ours.items()} == {k: n for k, n in delta.items() if n}
        for label, (_, left, right) in ours.items():
            if label not in before:
                assert [left, right] == cs.gen.mismatches[label][1:], label


@settings(max_examples=90 * FACTOR, **SETTINGS)
@given(st.lists(condition(), min_size=1, max_size=4),
       st.lists(trace_rows(), min_size=1, max_size=3))
def test_atoms_match_generated_python(conditions, traces):
    check_spec(compile_spec(conditions), traces)


@settings(max_examples=40 * FACTOR, **SETTINGS)
@given(st.lists(st.sampled_from(["attr", "parent.attr", "resource"]), min_size=1,
                max_size=3).flatmap(lambda srcs: st.tuples(
                    st.just(srcs), st.lists(st.sampled_from(["+", "-", "*", "/", "//", "%"]),
                                            min_size=len(srcs), max_size=len(srcs)))),
       st.sampled_from(INT_LITS + REAL_LITS + ["0", "-1"]),
       st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
       st.lists(trace_rows(numeric=True), min_size=1, max_size=3))
def test_arithmetic_on_attributes(chain, operand, cmp, traces):
    """Chains of arithmetic over attributes: ±2^63, zero divisors, NaN, floor semantics."""
    srcs, ops = chain
    term = operand
    for (src, op), key in zip(zip(srcs, ops), KEYS):
        term = f'({src}["{key}"] {op} {term})'
    check_spec(compile_spec([f"{term} {cmp} {operand}", f"{term} {cmp} {term}",
                             f"{term} in [0, 1, -1]", f"{term} in -1..2"]), traces)


def test_examples_are_differential():
    """Hand-picked atoms whose Python values are subtle, on one trace."""
    spans = [
        Span(name="a", trace_id="1" * 32, span_id="1" * 16, start_ns=0, end_ns=2 ** 64 - 1,
             attrs={"a": 2 ** 63 - 1, "b": -(2 ** 63), "c": float("nan")}),
        Span(name="b", trace_id="1" * 32, span_id="2" * 16, parent_id="1" * 16, start_ns=5,
             end_ns=3, attrs={"a": 9007199254740993, "b": True, "c": 0.1}),
        Span(name="c", trace_id="1" * 32, span_id="3" * 16, parent_id="3" * 16, start_ns=1,
             end_ns=1, attrs={"a": -7, "b": 0, "c": -0.0}),
    ]
    cs = compile_spec([
        'attr["a"] == 9007199254740992.0', 'attr["a"] > 9007199254740992.0',
        'attr["a"] * attr["a"] == 85070591730234615847396907784232501249',
        'attr["b"] // -1 > 0', 'attr["a"] % 2 == 1', 'attr["a"] / 3 > 3.0e18',
        'attr["c"] != attr["c"]', 'attr["b"] == 1', 'attr["c"] % attr["b"] > -1',
        '(duration / 2) > 9223372036854775807ns', 'parent.name == "a" -> attr["b"] == true',
        'has_ancestor(attr["a"] > 0)', 'has_child(attr["b"] == 0)',
        'parent.is_root <-> false', '-attr["b"] > 0', 'attr["a"] / attr["b"] < 0'],
        generated=False)
    check_spec(cs, [spans])


@settings(max_examples=30 * FACTOR, **SETTINGS)
@given(st.lists(st.tuples(st.one_of(st.integers(-2 ** 127 + 1, 2 ** 127 - 1),
                                    st.integers(-2 ** 64, 2 ** 64)),
                          st.one_of(st.integers(-2 ** 127 + 1, 2 ** 127 - 1),
                                    st.integers(-2 ** 64, 2 ** 64), st.integers(-9, 9))),
                min_size=1, max_size=40))
def test_integer_true_division_is_correctly_rounded(pairs):
    """`x / y` on two i128s is the double nearest the quotient, as CPython's."""
    def lit(v):
        return {"op": "lit", "v": {"int": str(v)}}

    atoms = [{"op": "cmp", "cmp": "==", "site": None,
              "args": [{"op": "arith", "ar": "/", "static": False, "args": [lit(x), lit(y)]},
                       {"op": "lit", "v": {"float": x / y}}]}
             for x, y in pairs if y != 0]
    if not atoms:
        return
    letters, _ = _native.eval_atoms(json.dumps({"atoms": atoms, "sites": []}),
                                    [row(Span(name="", trace_id="1" * 32, span_id="1" * 16,
                                              start_ns=0, end_ns=0))])
    assert word_int(letters[0][0]) == 2 ** len(atoms) - 1


def test_every_example_atom_is_emitted():
    """The atoms of the shipped examples: each is emitted, or refused for a stated reason
    (`linked` and registers only), and the core accepts the program."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "examples"
    seen = 0
    for path in sorted(root.rglob("*.spec")):
        try:
            spec = tracelogic.load(str(path))
            cs = CompiledSpec(spec)
        except Exception:  # noqa: BLE001 - specs needing configs or imports elsewhere
            continue
        atoms = sorted(cs.atoms, key=cs.atoms.__getitem__)
        prog = program(atoms)
        for i, reason in prog.unsupported.items():
            assert reason.startswith(("`linked`", "`prev`", "`last`")), (path, reason)
        _native.eval_atoms(json.dumps(prog.program), [])
        seen += len(atoms)
    assert seen > 20


# ------------------------------------------------------------------ regular expressions

PIECES = ["a", "b", "é", "٣", "1", " ", "_", r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\b",
          r"\B", ".", "^", "$", "[a-z]", r"[\d_]", r"[^\w]", "[[:alpha:]]", "[]a]", "[a&&b]",
          "[~~]", "[a[]", "x{2}", "{", "}", "a{,2}", "a{1,}", "(?m)", "(?s)", "(?i)", "(a|b)",
          r"\pL", r"\<", r"\>", r"[\[]", r"\x41", r"\x{e9}", r"\v", r"\.", r"[\s\S]", r"\A",
          r"\z", "[-a]", "[a-]", "(?U)", r"\Q", r"[\b]", "[[:^digit:]]", r"\f", r"[\w-]",
          "[[:digit:]-]", "[[:alpha:]-z]", r"[\s-z]", r"\x{D800}", "(?:)", "(|a)"]
TEXT = st.text(alphabet=list("abzA_1٣éſK \t\n\v\f\r\u00a0\u2003<>{}[]&~-x.\x00"),
               max_size=6)


@st.composite
def re2_pattern(draw):
    parts = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5))
    quantified = [p + draw(st.sampled_from(["", "", "*", "+", "?", "{0,1}"])) for p in parts]
    pattern = "".join(quantified)
    try:
        re2.compile(pattern)
    except re2.error:
        reject()
    return pattern


def rust_search(pattern: str, texts: list[str]) -> list[bool]:
    doc = {"atoms": [{"op": "matches", "arg": {"op": "attr", "hops": 0, "resource": False,
                                               "key": "a"}, "pattern": pattern}],
           "sites": []}
    rows = [(("", "internal", "unset", "", "", ""), ("0" * 32, f"{i + 1:016x}", ""), (0, 0),
             {"a": t}, {}, []) for i, t in enumerate(texts)]
    letters, _ = _native.eval_atoms(json.dumps(doc), rows)
    return [bool(start[0] & 1) for start, _ in letters]


@settings(max_examples=400 * FACTOR, **SETTINGS)
@given(re2_pattern(), st.lists(TEXT, min_size=1, max_size=8))
def test_patterns_match_like_re2(pattern, texts):
    translated = rust_pattern(pattern)
    if isinstance(translated, Unsupported):
        return
    compiled = re2.compile(pattern)
    expected = [compiled.search(t) is not None for t in texts]
    assert rust_search(translated, texts) == expected, (pattern, translated)


@pytest.mark.parametrize("pattern, texts", [
    (r"^\d+$", ["123", "١٢٣", "12a"]),
    (r"\w", ["é", "a", "ſ"]),
    (r"^\s$", ["\v", " ", "\u00a0", "\u2003"]),
    (r"a\b", ["aé", "a b", "a_"]),
    (r"[\d\s]", ["٣", " ", "x"]),
    (r"x{", ["x{", "x"]),
    (r"a{,2}", ["a{,2}", "aa"]),
    (r"[a&&b]", ["&", "a", "c"]),
    (r"[a[]", ["[", "a", "b"]),
    (r"\<a\>", ["<a>", "a"]),
])
def test_known_differences_are_rewritten(pattern, texts):
    compiled = re2.compile(pattern)
    translated = rust_pattern(pattern)
    assert isinstance(translated, str)
    assert rust_search(translated, texts) == [compiled.search(t) is not None for t in texts]


@pytest.mark.parametrize("pattern", [r"(?i)k", r"(?-i:a)", r"\pL", r"\PN", r"\C", r"\Qa\E",
                                     r"[\b]", r"[a--b]", r"\1", r"a\_", r"\x{D800}",
                                     r"[\d-z]", "[[:alpha:]-z]", "(?m)*", r"a\B"])
def test_patterns_that_may_differ_are_refused(pattern):
    assert isinstance(rust_pattern(pattern), Unsupported)


# ------------------------------------------------------------------ what the emitter refuses

def _atom(condition: str):
    from tracelogic.semantics.lower import lower

    spec = tracelogic.load(f"property p: always ({condition})")
    (atom,) = lower(spec.property("p").body).atoms
    return atom


@pytest.mark.parametrize("condition, reason", [
    ('linked(name == "a")', "`linked`"),
    ('attr["a"] * attr["a"] * attr["a"] > 0', "`*` may compute"),
    ('1 / (attr["a"] * attr["b"] * attr["c"]) > 0', "`*` may compute"),
    ("duration > 170141183460469231731687303715884105728ns", "an integer literal of 128 bits"),
])
def test_refused_atoms(condition, reason):
    out = emit(_atom(condition))
    assert isinstance(out, Unsupported) and out.reason.startswith(reason), out


@pytest.mark.parametrize("condition", ["duration < duration % duration",
                                       "(duration // 0ns) * 2 == 1", "duration // 0ns != 1"])
def test_a_zero_divisor_is_missing_in_both_engines(condition):
    """A `/ // %` by a divisor that may be zero is a dynamic operand: missing on a zero
    divisor, so every comparison on it is false (the Python engine used to apply
    Python's operators to MISSING: a TypeError for `<`, true for `!=`)."""
    spec = tracelogic.load(f"property p: always ({condition})")
    cs = CompiledSpec(spec)
    (atom,) = cs.atoms
    prog = program([atom])
    assert not prog.unsupported
    span = Span(name="a", trace_id="1" * 32, span_id="1" * 16, start_ns=5, end_ns=5)
    expected = (cs.letter(span, True, Trace([span])), cs.letter(span, False, Trace([span])))
    assert expected == (0, 0)
    letters, _ = _native.eval_atoms(json.dumps(prog.program), [row(span)])
    assert [(word_int(a), word_int(b)) for a, b in letters] == [expected]


def test_deep_atoms_are_refused_not_crashed():
    # one atom (a chain of `&` is many: atoms are literals), 300 nodes deep
    deep = 'attr["a"]' + " + 1" * 300 + " == 0"
    out = emit(_atom(deep))
    assert isinstance(out, Unsupported) and "deeper" in out.reason


def test_program_keeps_bit_positions():
    spec = tracelogic.load('property p: always (linked(name == "a"))\n'
                           'property q: always (attr["x"] > 1)')
    cs = CompiledSpec(spec)
    atoms = sorted(cs.atoms, key=cs.atoms.__getitem__)
    prog = program(atoms)
    assert len(prog.program["atoms"]) == len(atoms) == 2
    assert list(prog.unsupported) == [next(i for i, a in enumerate(atoms) if a.op == "linked")]
    assert prog.program["sites"] == ['attr["x"] > 1']


def test_bad_programs_are_refused():
    with pytest.raises(ValueError, match="site 3"):
        _native.eval_atoms(json.dumps({"atoms": [{"op": "cmp", "cmp": "==", "site": 3, "args": [
            {"op": "lit", "v": {"int": "1"}}, {"op": "lit", "v": {"int": "1"}}]}],
            "sites": []}), [])
    with pytest.raises(ValueError, match="pattern"):
        _native.eval_atoms(json.dumps({"atoms": [{"op": "matches", "pattern": "(", "arg": {
            "op": "lit", "v": {"str": "x"}}}], "sites": []}), [])
    with pytest.raises(ValueError, match="i128"):
        _native.eval_atoms(json.dumps({"atoms": [{"op": "lit", "v": {"int": str(2 ** 127)}}],
                                       "sites": []}), [])
    with pytest.raises(ValueError, match="levels deep"):
        _native.eval_atoms("[" * 2000 + "]" * 2000, [])
