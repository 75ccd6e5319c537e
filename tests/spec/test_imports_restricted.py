"""Imports read only `.spec` files, under the spec's directory or a named spec path.

A spec's text is untrusted; these tests play the attacker: an import of
`/proc/self/environ`, of any other file, through `../` or a symbolic link, must
be refused before the file is read, and no diagnostic may show its content.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracelogic
from tracelogic.cli import run
from tracelogic.spec.diagnostics import SpecErrors
from tracelogic.spec.loader import load, load_with_diagnostics

SECRET = "tl-secret-7f3a9c"
LIB = "pred ok = true\n"
REPO = Path(__file__).resolve().parents[2]


def errors_of(call) -> str:
    """The rendered diagnostics of a load that must fail with SpecErrors only."""
    with pytest.raises(SpecErrors) as info:
        call()
    return str(info.value)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """app/ holds the root spec; shared/ is a sibling directory outside it."""
    (tmp_path / "app").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lib.spec").write_text(LIB)
    (tmp_path / "secret.txt").write_text(f"TOKEN={SECRET}\n")
    return tmp_path


def root(tree: Path, text: str) -> str:
    path = tree / "app" / "top.spec"
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------ files that are not specs

def test_proc_self_environ_is_refused_and_never_echoed(tmp_path: Path):
    spec = tmp_path / "a.spec"
    spec.write_text('import "/proc/self/environ"\n')
    env = dict(os.environ, TL_PROBE=SECRET)
    proc = subprocess.run([sys.executable, "-m", "tracelogic.cli", "check", str(spec)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "TL_PROBE" not in proc.stdout + proc.stderr
    assert "cannot import `/proc/self/environ`: imports read only `.spec` files" in proc.stderr


@pytest.mark.parametrize("target", ["../secret.txt", "{tree}/secret.txt", "notes", "x.spec.txt"])
def test_a_file_that_is_not_a_spec_is_refused_without_its_content(tree: Path, target: str):
    (tree / "app" / "notes").write_text(f"pred {SECRET} = true\n")
    (tree / "app" / "x.spec.txt").write_text(f"{SECRET}\n")
    target = target.format(tree=tree)
    text = errors_of(lambda: load(root(tree, f'import "{target}" as n\n'),
                                  spec_path=[str(tree)]))
    assert SECRET not in text
    assert f"cannot import `{target}`: imports read only `.spec` files" in text
    assert "top.spec:1:1" in text  # the importing location


def test_a_link_named_spec_to_a_file_that_is_not_a_spec_is_refused(tree: Path):
    (tree / "app" / "data.txt").write_text(f"{SECRET}\n")
    (tree / "app" / "data.spec").symlink_to(tree / "app" / "data.txt")
    text = errors_of(lambda: load(root(tree, 'import "data.spec"\n')))
    assert SECRET not in text
    assert "resolves to" in text and "data.txt" in text and "not a `.spec` file" in text


# ------------------------------------------------------------ containment

def test_dot_dot_escape_is_refused_with_what_to_do(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nproperty p: G lib.ok\n')
    text = errors_of(lambda: load(path))
    assert "cannot import `../shared/lib.spec`: it is outside the directories imports may " \
        "read" in text
    assert f"--spec-path {tree / 'shared'}" in text
    assert "spec_path=" in text


def test_dot_dot_escape_is_allowed_when_the_spec_path_names_it(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nproperty p: G lib.ok\n')
    spec = load(path, spec_path=[str(tree / "shared")])
    assert "lib" in spec.imports
    # the facade and a single directory (not a list) as well
    assert "lib" in tracelogic.load(path, spec_path=tree / "shared").imports


def test_the_spec_path_is_also_searched(tree: Path):
    path = root(tree, 'import "lib.spec"\nproperty p: G lib.ok\n')
    assert "not found" in errors_of(lambda: load(path))
    spec = load(path, spec_path=str(tree / "shared"))
    assert spec.imports["lib"].file.endswith("lib.spec")


def test_absolute_paths_obey_the_same_rule(tree: Path):
    (tree / "app" / "local.spec").write_text(LIB)
    ok = root(tree, f'import "{tree}/app/local.spec"\nproperty p: G local.ok\n')
    assert "local" in load(ok).imports
    outside = root(tree, f'import "{tree}/shared/lib.spec"\n')
    assert "outside the directories" in errors_of(lambda: load(outside))
    assert "lib" in load(outside, spec_path=[str(tree / "shared")]).imports


def test_a_symlink_cannot_lead_out(tree: Path):
    (tree / "app" / "lib.spec").symlink_to(tree / "shared" / "lib.spec")
    path = root(tree, 'import "lib.spec"\nproperty p: G lib.ok\n')
    text = errors_of(lambda: load(path))
    assert f"it resolves to `{tree / 'shared' / 'lib.spec'}`, outside the directories" in text
    assert "lib" in load(path, spec_path=[str(tree / "shared")]).imports


def test_a_symlinked_directory_cannot_lead_out(tree: Path):
    (tree / "app" / "vendor").symlink_to(tree / "shared", target_is_directory=True)
    path = root(tree, 'import "vendor/lib.spec"\n')
    assert "resolves to" in errors_of(lambda: load(path))


def test_a_symlink_inside_the_directory_is_fine(tree: Path):
    (tree / "app" / "real").mkdir()
    (tree / "app" / "real" / "lib.spec").write_text(LIB)
    (tree / "app" / "lib.spec").symlink_to(tree / "app" / "real" / "lib.spec")
    assert "lib" in load(root(tree, 'import "lib.spec"\nproperty p: G lib.ok\n')).imports


def test_a_spec_path_that_is_itself_a_link_is_resolved(tree: Path):
    (tree / "link").symlink_to(tree / "shared", target_is_directory=True)
    path = root(tree, 'import "../shared/lib.spec"\n')
    assert "lib" in load(path, spec_path=[str(tree / "link")]).imports


def test_nested_imports_stay_inside_the_allowed_directories(tree: Path):
    (tree / "app" / "sub").mkdir()
    (tree / "app" / "common.spec").write_text(LIB)
    # a nested file may import within the root spec's directory ...
    (tree / "app" / "sub" / "mid.spec").write_text('import "../common.spec"\npred m = common.ok\n')
    assert "mid" in load(root(tree, 'import "sub/mid.spec"\n')).imports
    # ... but not out of it, unless the spec path names the target
    (tree / "app" / "sub" / "mid.spec").write_text('import "../../shared/lib.spec"\n')
    path = root(tree, 'import "sub/mid.spec"\n')
    text = errors_of(lambda: load(path))
    assert "mid.spec:1:1" in text and "outside the directories" in text
    assert "mid" in load(path, spec_path=[str(tree / "shared")]).imports


def test_a_spec_given_as_text_imports_from_the_working_directory(tree: Path, monkeypatch):
    monkeypatch.chdir(tree / "app")
    (tree / "app" / "local.spec").write_text(LIB)
    assert "local" in load('import "local.spec"\nproperty p: G local.ok\n').imports
    text = errors_of(lambda: load('import "../shared/lib.spec"\n'))
    assert "outside the directories" in text
    assert "lib" in load('import "../shared/lib.spec"\n', spec_path=[str(tree / "shared")]
                         ).imports


def test_a_spec_path_that_is_not_a_directory_is_an_error(tree: Path):
    text = errors_of(lambda: load(root(tree, LIB), spec_path=[str(tree / "nowhere")]))
    assert f"spec path `{tree / 'nowhere'}` is not a directory" in text


# ------------------------------------------------------------ what keeps working

def test_std_imports_still_work(tree: Path):
    spec = load(root(tree, "import std.saga\nproperty q: G (saga.failed_step -> true)\n"))
    assert "saga" in spec.imports
    assert "saga" in load("import std.saga\n").imports


def test_the_language_example_with_imports_loads():
    spec = load(str(REPO / "examples" / "language" / "imports.spec"))
    assert {"common", "shop"} <= set(spec.imports)


# ------------------------------------------------------------ unreadable imports

def test_an_import_that_is_not_utf8_names_the_imported_file_and_the_import(tree: Path):
    (tree / "app" / "bad.spec").write_bytes(b'pred x = "\xff\xfe"\n')
    path = root(tree, 'pred a = true\nimport "bad.spec"\n')
    with pytest.raises(SpecErrors) as info:
        load(path)
    [d] = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.span.file == path and d.span.line == 2  # where the import is
    assert "imported file `bad.spec` is not UTF-8 text" in d.message
    assert "bad.spec)" in d.message  # and which file it is
    spec, diags, _ = load_with_diagnostics(path)
    assert spec is None and "imported file `bad.spec` is not UTF-8" in diags[0].message


# ------------------------------------------------------------ the command line

def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_check_refuses_then_allows_with_spec_path(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nproperty p: G lib.ok\n')
    code, _, err = cli("check", path)
    assert code == 2 and "outside the directories" in err
    code, _, err = cli("check", path, "--spec-path", str(tree / "shared"))
    assert code == 0, err
    code, _, err = cli("check", path, "--spec-path", str(tree / "nowhere"))
    assert code == 2 and "is not a directory" in err


def test_monitor_takes_spec_path(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nproperty p: G lib.ok\n')
    traces = tree / "empty.json"
    traces.write_text('{"resourceSpans": []}\n')
    assert cli("monitor", path, str(traces))[0] == 2
    code, _, err = cli("monitor", path, str(traces), "--spec-path", str(tree / "shared"))
    assert code == 0, err


def test_automaton_takes_spec_path(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nproperty p: G lib.ok\n')
    code, _, err = cli("automaton", f"{path}::p")
    assert code == 2 and "outside the directories" in err
    code, out, err = cli("automaton", f"{path}::p", "--spec-path", str(tree / "shared"),
                         "--format", "json")
    assert code == 0, err
    assert out.strip().startswith("{")


def test_export_takes_spec_path(tree: Path):
    path = root(tree, 'import "../shared/lib.spec"\nmodel m {\n  var n : 0..2 = 0\n'
                      '  action inc when n < 2 do n := n + 1\n}\n')
    code, _, err = cli("export", f"{path}::m", "--smv")
    assert code == 2 and "outside the directories" in err
    code, out, err = cli("export", f"{path}::m", "--smv", "--spec-path", str(tree / "shared"))
    assert code == 0, err
    assert "MODULE main" in out


@pytest.mark.parametrize("argv", [
    ["serve", "S.spec"], ["heal", "S.spec", "--store", "x.db"], ["audit", "--store", "x.db"],
    ["analyze", "t.json", "--root-cause", "--spec", "S.spec"],
])
def test_every_command_that_loads_a_spec_accepts_spec_path(argv: list[str]):
    from tracelogic.cli import build_parser

    args = build_parser().parse_args(argv + ["--spec-path", "a", "--spec-path", "b"])
    assert args.spec_path == ["a", "b"]
