"""The parser's results from the disk cache (spec/parsed.py): the same module, diagnostics
and broken names as the parser's own, cold and warm, for every shipped spec and mutations
of them; a changed text or parser is a miss; a bad entry is parsed again."""
from __future__ import annotations

import dataclasses
import os
import pickle
import random
import subprocess
import sys

import pytest

from tracelogic import disk_cache
from tracelogic.spec import parsed, parser
from tracelogic.spec.diagnostics import SpecErrors

from tests.spec.loadfuzz import mutate, seeds

SEEDS = seeds()


def _flat(value) -> list:
    """Every part of ``value``, spans included (the nodes' == ignores them), as a flat
    list in preorder: dataclass fields, sequences, sets (sorted) and leaves with their
    types. Iterative: mutated specs nest deeply."""
    out: list = []
    stack = [value]
    while stack:
        v = stack.pop()
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = dataclasses.fields(v)
            out.append((type(v).__name__, len(fields)))
            stack.extend(getattr(v, f.name) for f in reversed(fields))
        elif isinstance(v, (tuple, list)):
            out.append((type(v).__name__, len(v)))
            stack.extend(reversed(v))
        elif isinstance(v, (set, frozenset)):
            out.append((type(v).__name__, tuple(sorted(map(repr, v)))))
        else:
            out.append((type(v).__name__, repr(v)))
    return out


def _same(a: tuple, b: tuple) -> None:
    assert _flat(a) == _flat(b)


def _check(text: str, file: str) -> None:
    want = parser.parse_module_partial(text, file)
    _same(parsed.parse_module_partial(text, file), want)   # cold: parsed and stored
    _same(parsed.parse_module_partial(text, file), want)   # warm: from the file


def test_every_shipped_spec_parses_the_same_from_the_cache(cache):
    for name, text in SEEDS.items():
        _check(text, name)
    assert len([n for n in os.listdir(cache) if n.startswith("spec-module-")]) == len(
        set((n, t) for n, t in SEEDS.items()))


def test_mutated_specs_parse_the_same_from_the_cache(cache):
    """Mostly broken texts: their syntax errors, with their spans, come back the same."""
    rng = random.Random(17)
    corpus = list(SEEDS.values())
    for i in range(150):
        text = mutate(rng, corpus, rng.choice(corpus))
        try:
            parser.parse_module_partial(text, f"m{i}.spec")
        except RecursionError:  # pragma: no cover - the front end's own business
            continue
        _check(text, f"m{i}.spec")


def test_the_file_name_and_the_text_are_part_of_the_key(cache):
    text = 'pred a = name == "x"\nproperty p: G a\n'
    a = parsed.parse_module_partial(text, "a.spec")
    b = parsed.parse_module_partial(text, "b.spec")
    assert a[0].decls[0].span.file == "a.spec" and b[0].decls[0].span.file == "b.spec"
    c = parsed.parse_module_partial(text.replace('"x"', '"y"'), "a.spec")
    assert "'y'" in repr(c[0]) and "'x'" not in repr(c[0])


def _only_entry(cache, prefix: str) -> str:
    [name] = [n for n in os.listdir(cache) if n.startswith(prefix)]
    return os.path.join(cache, name)


def test_a_changed_parser_is_a_miss(cache, monkeypatch):
    text = 'pred a = name == "x"\n'
    other = parser.parse_module_partial('pred b = name == "z"\n', "s.spec")
    parsed.parse_module_partial(text, "s.spec")
    key = parsed._key("module", text, "s.spec")
    disk_cache.store("spec-module", key, other)  # what the entry says is what comes back
    assert parsed.parse_module_partial(text, "s.spec")[0].decls[0].name == "b"
    # ... until the parser's code changes: another fingerprint, another key
    monkeypatch.setattr(disk_cache, "_fingerprints", {})
    monkeypatch.setattr(parsed, "PARSER_SOURCES", parsed.PARSER_SOURCES + ("spec/ast.py",))
    assert parsed.parse_module_partial(text, "s.spec")[0].decls[0].name == "a"


@pytest.mark.parametrize("bad", [b"", b"garbage", "wrong shape"])
def test_a_bad_entry_is_parsed_again(cache, bad):
    text = 'pred a = name == "x"\nproperty p: G (a -> F a)\n'
    want = parser.parse_module_partial(text, "s.spec")
    parsed.parse_module_partial(text, "s.spec")
    path = _only_entry(cache, "spec-module-")
    if bad == "wrong shape":
        disk_cache.store("spec-module", parsed._key("module", text, "s.spec"), ("x", [], set()))
    else:
        with open(path, "wb") as f:
            f.write(bad)
    _same(parsed.parse_module_partial(text, "s.spec"), want)
    _same(parsed.parse_module_partial(text, "s.spec"), want)


def test_no_cache_when_it_is_off(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = 'pred a = name == "x"\n'
    _same(parsed.parse_module_partial(text, "s.spec"), parser.parse_module_partial(text,
                                                                                 "s.spec"))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text", ["name == \"x\" and duration > 1s", "1 +", "attr[",
                                  "F[<= 2s] ok"])
def test_expressions_and_their_errors_come_back_the_same(cache, text):
    def outcome():
        try:
            return "ok", _flat(parsed.parse_expr(text, "<m>"))
        except SpecErrors as e:
            return "errors", _flat(e.diagnostics), e.sources

    try:
        want = "ok", _flat(parser.parse_expr(text, "<m>"))
    except SpecErrors as e:
        want = "errors", _flat(e.diagnostics), e.sources
    assert outcome() == want
    assert outcome() == want


def _cli(args: list[str], cache_dir: str, cwd: str) -> tuple:
    env = dict(os.environ, TRACELOGIC_CACHE_DIR=cache_dir)
    r = subprocess.run([sys.executable, "-m", "tracelogic", *args], env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def test_the_cli_says_the_same_with_and_without_the_cache(tmp_path):
    """`check` on a good and a broken spec with imports, and `monitor` over a trace file:
    the same output and exit code with the cache off, cold and warm."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (tmp_path / "lib.spec").write_text('pred paid = name == "charge" and status == ok\n')
    (tmp_path / "main.spec").write_text(
        'import "lib.spec"\n'
        'property p message "{name} took {duration}": G (lib.paid -> F name == "reply")\n')
    (tmp_path / "bad.spec").write_text('import "lib.spec"\nproperty q: G (lib.paid -> F\n'
                                       'pred x = nmae == "a"\n')
    traces = os.path.join(root, "examples", "mining", "faulty.jsonl")
    runs = [["check", "main.spec"], ["check", "bad.spec"],
            ["monitor", "main.spec", traces],
            ["monitor", os.path.join(root, "examples", "shop", "specs", "cascade.spec"),
             traces]]
    cache = str(tmp_path / "cache")
    for args in runs:
        off = _cli(args, "", str(tmp_path))
        assert off[0] in (0, 1, 2), off
        assert _cli(args, cache, str(tmp_path)) == off, args  # cold
        assert _cli(args, cache, str(tmp_path)) == off, args  # warm
    assert any(n.startswith("alphabet-") for n in os.listdir(cache))
    assert any(n.startswith("spec-expr-") for n in os.listdir(cache))


def test_a_warm_run_imports_neither_lark_nor_z3(tmp_path):
    program = ("import sys\n"
               "from tracelogic.spec.loader import load\n"
               "from tracelogic.engine.monitor import Monitor\n"
               "Monitor(load(sys.argv[1]))\n"
               "print('lark' in sys.modules, 'z3' in sys.modules)\n")
    spec = tmp_path / "s.spec"
    spec.write_text('pred a = name == "x"\npred b = name == "y"\n'
                    'property p: G (a -> F b)\n')
    env = dict(os.environ, TRACELOGIC_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", program, str(spec)], env=env, text=True,
                           capture_output=True, timeout=300) for _ in range(2)]
    assert [r.stdout for r in runs] == ["True True\n", "False False\n"], runs[1].stderr


def test_the_fingerprint_covers_every_module_the_parser_imports():
    """A change to any file of ours the parser's result depends on must change the key."""
    import ast
    from pathlib import Path

    import tracelogic

    root = Path(tracelogic.__file__).resolve().parent
    seen, todo = set(), ["tracelogic.spec.parser", "tracelogic.spec.parsed"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        rel = name.removeprefix("tracelogic.").replace(".", "/")
        path = root / f"{rel}.py" if (root / f"{rel}.py").exists() else root / rel / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for m in mods:
                if m.startswith("tracelogic."):
                    whole = m if (root / (m[11:].replace(".", "/") + ".py")).exists() \
                        or (root / m[11:].replace(".", "/")).is_dir() else m.rsplit(".", 1)[0]
                    todo.append(whole)
                    if isinstance(node, ast.ImportFrom):  # `from tracelogic.spec import ast`
                        todo += [f"{m}.{a.name}" for a in node.names
                                 if (root / m[11:].replace(".", "/") / f"{a.name}.py").exists()]
    files = {n.removeprefix("tracelogic.").replace(".", "/") + ".py" for n in seen
             if (root / (n.removeprefix("tracelogic.").replace(".", "/") + ".py")).exists()}
    assert files - set(parsed.PARSER_SOURCES) == set()
