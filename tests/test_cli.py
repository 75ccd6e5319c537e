"""The `tracelogic` command line: exit codes, output formats and `fmt` (DESIGN.md, CLI).

Everything runs in-process through ``cli.run(argv, out, err, stdin)``, which is
exactly what the console script's ``main`` runs; one test starts the installed
console script itself.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tracelogic import __version__, cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "language").glob("*.spec"))
BROKEN = 'pred checkout = name == "x"\npred b = chekout and true\n'
UNFORMATTED = 'pred   a=name=="x"   # keep me\nproperty  p :G( a->F a )\n'


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err, io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def broken(tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    Path("broken.spec").write_text(BROKEN, encoding="utf-8")
    return "broken.spec"


# ------------------------------------------------------------------ the command itself

def test_version():
    code, out, err = run("--version")
    assert code == 0
    assert out.strip() == f"tracelogic {__version__}"


def test_help_lists_commands_and_examples():
    code, out, _ = run("--help")
    assert code == 0
    assert "check" in out and "fmt" in out
    assert "examples:" in out
    assert "tracelogic check " in out
    assert "exit codes" in out


def test_no_command_is_a_usage_error():
    code, out, err = run()
    assert code == 2
    assert "usage:" in out + err


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["frobnicate"],
    ["check"],
    ["check", "--bogus", "x.spec"],
    ["check", "--format", "yaml", "x.spec"],
    ["check", "--config", "no-equals-sign", "x.spec"],
    ["fmt"],
], ids=["unknown-option", "unknown-command", "check-without-spec", "check-unknown-option",
        "check-unknown-format", "check-bad-config-override", "fmt-without-spec"])
def test_command_line_errors_exit_2(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.spec").write_text("pred a = true\n", encoding="utf-8")
    code, out, err = run(*argv)
    assert code == 2
    assert err.strip(), "a usage error says what is wrong on stderr"


def test_an_internal_error_is_exit_3_in_one_line(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "run", boom)
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "x.spec"])
    assert info.value.code == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_the_console_script_runs():
    exe = shutil.which("tracelogic") or str(Path(sys.executable).with_name("tracelogic"))
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tracelogic {__version__}"


# ------------------------------------------------------------------ check

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_check_every_example(path):
    """Every example checks cleanly; theorems.spec holds a theorem that is refuted on purpose."""
    code, out, err = run("check", str(path))
    assert "error:" not in err, err
    if path.name == "theorems.spec":  # SPEC-LANGUAGE.md §5: quorums_intersect is refuted
        assert code == 1, out + err
        assert "quorums_intersect" in out and "refuted" in out
    else:
        assert code == 0, out + err


def test_check_broken_spec_exits_2_with_the_diagnostic_on_stderr(broken):
    code, out, err = run("check", broken)
    assert code == 2
    assert "broken.spec:2:10: error: unknown name `chekout`" in err
    assert "did you mean `checkout`?" in err
    assert "chekout" not in out


def test_check_reports_the_rest_when_one_spec_is_broken(broken):
    """DESIGN.md: a malformed input is exit 2, and the rest is still checked and reported."""
    theorems = str(ROOT / "examples" / "language" / "theorems.spec")
    code, out, err = run("check", broken, theorems, "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert [d["line"] for d in report["diagnostics"]] == [2]
    assert {r["name"] for r in report["results"]} >= {"quorums_intersect"}


CHECK_SCHEMA = {
    "type": "object",
    "required": ["schema", "files", "diagnostics", "results", "summary"],
    "properties": {
        "schema": {"const": "tracelogic.check/1"},
        "files": {"type": "array", "items": {"type": "string"}},
        "diagnostics": {"type": "array", "items": {
            "type": "object",
            "required": ["severity", "message", "file", "line", "column"],
            "properties": {
                "severity": {"enum": ["error", "warning", "note"]},
                "message": {"type": "string"},
                "file": {"type": "string"},
                "line": {"type": "integer", "minimum": 1},
                "column": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer"},
                "end_column": {"type": "integer"},
                "hint": {"type": "string"},
            }}},
        "results": {"type": "array"},
        "summary": {"type": "object", "required": ["errors"]},
    },
}


def test_check_json(broken):
    code, out, err = run("check", "--format", "json", broken)
    assert code == 2
    report = json.loads(out)
    jsonschema.validate(report, CHECK_SCHEMA)
    [diag] = report["diagnostics"]
    assert (diag["file"], diag["line"], diag["column"]) == ("broken.spec", 2, 10)
    assert (diag["end_line"], diag["end_column"]) == (2, 17)
    assert diag["severity"] == "error"
    assert "chekout" in diag["message"] and "checkout" in diag["hint"]
    assert report["summary"]["errors"] == 1


def test_check_json_of_a_clean_spec():
    code, out, _ = run("check", "--format", "json", str(EXAMPLES[0]))
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, CHECK_SCHEMA)
    assert report["diagnostics"] == [] and report["summary"]["errors"] == 0


def _sarif_results(out: str) -> list[dict]:
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert "sarif" in sarif["$schema"]
    [run_] = sarif["runs"]
    assert run_["tool"]["driver"]["name"] == "tracelogic"
    rules = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    for result in run_["results"]:
        assert result["ruleId"] in rules
        assert result["message"]["text"]
        for loc in result.get("locations", []):
            region = loc["physicalLocation"]["region"]
            assert region["startLine"] >= 1 and region["startColumn"] >= 1
    return run_["results"]


def test_check_sarif_for_a_spec_error(broken):
    code, out, _ = run("check", "--format", "sarif", broken)
    assert code == 2
    [result] = _sarif_results(out)
    assert result["ruleId"].startswith("tracelogic/")
    assert result["level"] == "error"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "broken.spec"
    assert (loc["region"]["startLine"], loc["region"]["startColumn"]) == (2, 10)


def test_check_sarif_for_a_refuted_theorem():
    """SARIF rule ids are `tracelogic/<kind>/<name>` (DESIGN.md)."""
    code, out, _ = run("check", "--format", "sarif",
                       str(ROOT / "examples" / "language" / "theorems.spec"))
    assert code == 1
    results = _sarif_results(out)
    [refuted] = [r for r in results if r["ruleId"] == "tracelogic/theorem/quorums_intersect"]
    region = refuted["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 8


def test_check_nonexistent_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run("check", "missing.spec")
    assert code == 2
    assert "missing.spec" in err


def test_check_non_utf8_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("latin1.spec").write_bytes('pred a = name == "café"\n'.encode("latin-1"))
    code, out, err = run("check", "latin1.spec")
    assert code == 2
    assert "latin1.spec" in err and "UTF-8" in err


def test_a_bad_regex_does_not_spill_library_logs_on_stderr(tmp_path):
    """stderr carries our diagnostics only, not RE2's own C++ log lines."""
    spec = tmp_path / "re.spec"
    spec.write_text('pred p = name matches r"(abc"\n', encoding="utf-8")
    code = "import sys\nfrom tracelogic import cli\nsys.exit(cli.run(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "check", str(spec)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "invalid regular expression" in proc.stderr
    assert "re2.cc" not in proc.stderr and "absl" not in proc.stderr, proc.stderr


# ------------------------------------------------------------------ fmt

def test_fmt_check_on_an_unformatted_file_exits_1_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("u.spec").write_text(UNFORMATTED, encoding="utf-8")
    code, out, err = run("fmt", "--check", "u.spec")
    assert code == 1
    assert "u.spec" in out
    assert Path("u.spec").read_text(encoding="utf-8") == UNFORMATTED


def test_fmt_rewrites_then_check_passes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("u.spec").write_text(UNFORMATTED, encoding="utf-8")
    code, out, err = run("fmt", "u.spec")
    assert code == 0, err
    text = Path("u.spec").read_text(encoding="utf-8")
    assert text != UNFORMATTED
    assert 'pred a = name == "x"' in text and "# keep me" in text
    assert run("fmt", "--check", "u.spec")[0] == 0
    assert run("check", "u.spec")[0] == 0
    code, out, _ = run("fmt", "u.spec")  # already formatted: nothing to do
    assert code == 0 and Path("u.spec").read_text(encoding="utf-8") == text


def test_fmt_reads_stdin_and_writes_stdout():
    code, out, err = run("fmt", "-", stdin=UNFORMATTED)
    assert code == 0, err
    assert 'pred a = name == "x"' in out and "# keep me" in out
    assert run("fmt", "-", stdin=out)[1] == out


def test_fmt_of_a_broken_spec_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("b.spec").write_text('pred a = name == "x" &&\n', encoding="utf-8")
    code, out, err = run("fmt", "b.spec")
    assert code == 2
    assert "b.spec:1:" in err
    assert Path("b.spec").read_text(encoding="utf-8") == 'pred a = name == "x" &&\n'


def test_fmt_nonexistent_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run("fmt", "missing.spec")
    assert code == 2
    assert "missing.spec" in err


def test_fmt_non_utf8_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("latin1.spec").write_bytes('pred a = name == "café"\n'.encode("latin-1"))
    code, out, err = run("fmt", "--check", "latin1.spec")
    assert code == 2
    assert "UTF-8" in err


def test_std_module_names_a_spec_when_no_such_file_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text('{"resourceSpans": []}')
    code, out, err = run("monitor", "std.consensus", str(empty), "--format", "json")
    assert code == 0, err
    names = {p["name"] for p in json.loads(out)["properties"]}
    assert {"one_leader_per_term", "terms_never_decrease"} <= names
    code, out, err = run("check", "std.sag")
    assert code == 2
    assert "the standard library has no module `sag`" in err and "std.saga" in err
    # a file of that name wins: the user's own `std.saga` is read, not the shipped one
    (tmp_path / "std.saga").write_text("const x = 1\n")
    code, out, err = run("check", "std.saga", "--format", "json")
    assert code == 0 and json.loads(out)["files"] == ["std.saga"]


def test_check_engine_and_state_bound_reach_the_model_checks():
    spec = str(Path(__file__).resolve().parents[1] / "examples" / "language" / "models.spec")
    code, out, _ = run("check", spec, "--engine", "explicit", "--format", "json")
    results = {r["name"]: r for r in json.loads(out)["results"]}
    assert code == 0 and "explicit search" in results["breaker.invariant"]["message"]
    code, out, _ = run("check", spec, "--engine", "pdr", "--format", "json")
    results = {r["name"]: r for r in json.loads(out)["results"]}
    assert code == 0 and "PDR" in results["breaker.invariant"]["message"]
    code, out, _ = run("check", spec, "--state-bound", "3", "--format", "json")
    results = {r["name"]: r for r in json.loads(out)["results"]}
    assert code == 1 and results["breaker.ltl"]["status"] == "unknown"
    assert "more than 3" in results["breaker.ltl"]["message"]
    code, out, err = run("check", spec, "--state-bound", "0")
    assert code == 2 and "--state-bound takes a positive number" in err
    code, out, err = run("check", spec, "--timeout", "-1")
    assert code == 2 and "--timeout takes a positive number" in err


@pytest.mark.parametrize("module", ["tracelogic", "tracelogic.cli"])
def test_python_dash_m_offers_every_command(module):
    """`python -m tracelogic.cli serve` said "invalid choice": the command modules registered
    into the imported tracelogic.cli, not into the copy that runs as __main__."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", module, "serve", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "--max-request-bytes" in r.stdout
