"""Start-up stays lazy: the command line is built, and `monitor` runs on an empty input,
without importing Z3, grpc, networkx, protobuf and the rest (DESIGN.md, lazy start-up).

Measured, not timed: each check runs a fresh interpreter in which importing a guarded
module raises ImportError, so any code path that needs one fails the command loudly
(exit 3, or a traceback) instead of only being slower. A second interpreter, without the
guard, produces the same help text for every command: the flags did not change when the
command modules stopped importing their implementations. Timings live in bench/RESULTS.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The commands DESIGN.md and docs/ describe; a command module that failed to import would
# drop its commands from the parser silently (cli._load_command_modules).
COMMANDS = ("check", "monitor", "fmt", "completion", "automaton", "export", "simulate", "serve",
            "violations", "heal", "audit", "approve", "analyze", "mine")

# What no command needs before it runs: solvers, graphs, RPC, protobuf, the OTel SDK, YAML,
# RE2, Kubernetes, and importlib.metadata (for the version, ~20 ms).
HEAVY = ("z3", "grpc", "networkx", "google.protobuf", "opentelemetry", "yaml", "re2",
         "kubernetes", "rich", "h11", "hypothesis", "importlib.metadata")
# The parser, too, is only for commands that read a spec.
PARSER_HEAVY = HEAVY + ("lark", "tracelogic.spec", "tracelogic.engine.monitor")

# A fresh interpreter: refuse to import the guarded modules, then run the code in argv[1]
# and report the exit code and the guarded modules that are loaded (none may be).
GUARD = textwrap.dedent("""
    import importlib.abc, json, sys

    guarded = tuple(json.loads(sys.argv[1]))
    present = {m for m in guarded if m in sys.modules}   # imported by site, not by us

    def hit(name):
        return any(name == g or name.startswith(g + ".") for g in guarded)

    class Guard(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if hit(name) and name not in present:
                raise ImportError(f"start-up guard: {name} imported")
            return None

    sys.meta_path.insert(0, Guard())
    code = 0
    try:
        exec(sys.argv[2])
    except SystemExit as e:
        code = e.code
    loaded = sorted(m for m in sys.modules if hit(m) and
                    not any(m == p or m.startswith(p + ".") for p in present))
    print("\\n" + json.dumps({"code": code, "loaded": loaded}))
""")


def guarded(code: str, guard: tuple[str, ...], cwd: Path | None = None
            ) -> tuple[dict, str, str]:
    """Run ``code`` under the import guard: its result line, its stdout and its stderr."""
    env = dict(os.environ, COLUMNS="100")
    r = subprocess.run([sys.executable, "-c", GUARD, json.dumps(guard), code],
                       capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    body, _, last = r.stdout.rstrip("\n").rpartition("\n")
    return json.loads(last), body, r.stderr


def helps(guard: tuple[str, ...]) -> dict[str, str]:
    code = textwrap.dedent("""
        import argparse
        from tracelogic import cli
        parser = cli.build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        print(json.dumps({"": parser.format_help(),
                          **{n: p.format_help() for n, p in sub.choices.items()}}))
    """)
    result, out, err = guarded(code, guard)
    assert result == {"code": 0, "loaded": []}, err
    return json.loads(out)


def test_the_command_line_is_built_without_heavy_imports():
    light = helps(PARSER_HEAVY)
    assert tuple(light)[1:] == COMMANDS
    # the same text, flag for flag, as when nothing is guarded (nothing is lazy by accident)
    assert light == helps(())
    assert "--max-request-bytes" in light["serve"] and "--critical-path" in light["analyze"]


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["analyze", "--help"],
                                  ["frobnicate"], ["--version"]])
def test_help_usage_errors_and_version_import_nothing_heavy(argv):
    # --version reads the installed metadata, and only it
    guard = tuple(m for m in PARSER_HEAVY if argv != ["--version"] or m != "importlib.metadata")
    result, out, err = guarded(f"from tracelogic.cli import main; main({argv!r})", guard)
    assert result == {"code": 2 if argv == ["frobnicate"] else 0, "loaded": []}, err
    if argv == ["--version"]:
        from importlib.metadata import version

        assert out.strip() == f"tracelogic {version('tracelogic')}"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "none.spec").write_text('pred checkout = name == "POST /checkout"\n')
    (tmp_path / "one.spec").write_text('property ok: G !(status == error)\n')
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "POST /checkout", "kind": "SPAN_KIND_SERVER",
            "startTimeUnixNano": "1", "endTimeUnixNano": "2",
            "status": {"code": "STATUS_CODE_ERROR"}}
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    (tmp_path / "one.json").write_text(json.dumps(doc))
    return tmp_path


def run_monitor(args: list[str], guard: tuple[str, ...], cwd: Path) -> tuple[dict, str, str]:
    return guarded(f"from tracelogic.cli import main; main({['monitor', *args]!r})", guard,
                   cwd)


def test_monitor_on_an_empty_file_imports_nothing_heavy(inputs):
    result, out, err = run_monitor(["none.spec", "empty.json"], HEAVY, inputs)
    assert result == {"code": 0, "loaded": []}, err
    assert "0 span(s), 0 propert(y/ies)" in out


def test_monitor_reads_otlp_json_without_protobuf(inputs):
    """OTLP/JSON names enum values as protobuf does (SPAN_KIND_SERVER); the decoder knows
    them without importing the generated classes (test_otlp_enums.py compares the two)."""
    result, out, err = run_monitor(["none.spec", "one.json", "--format", "json"],
                                   ("google.protobuf", "opentelemetry", "z3"), inputs)
    assert result == {"code": 0, "loaded": []}, err
    assert json.loads(out)["summary"]["spans"] == 1


def test_a_property_may_use_z3_and_still_decides(inputs):
    """Z3 prunes the alphabet of a formula's automaton: allowed, and the verdict is right."""
    result, out, err = run_monitor(["one.spec", "one.json"], ("grpc", "networkx"), inputs)
    assert result == {"code": 1, "loaded": []}, err
    assert "ok (trace): 1 instance(s), 1 violated" in out


def test_a_command_of_the_cli_module_builds_only_its_own_parser(inputs):
    """`monitor`, `check` and `fmt` parse their arguments without importing the other
    commands' modules (cli.build_parser(only=...)): the same parse, less start-up."""
    modules = ("tracelogic.sidecar", "tracelogic.healing", "tracelogic.analysis",
               "tracelogic.automata.cli", "tracelogic.models.cli")
    result, out, err = run_monitor(["none.spec", "empty.json"], modules, inputs)
    assert result == {"code": 0, "loaded": []}, err
    from tracelogic import cli

    argv = ["monitor", "a.spec", "t.json", "--format", "json", "--spec-path", "d"]
    assert vars(cli.build_parser(only="monitor").parse_args(argv)) == \
        vars(cli.build_parser().parse_args(argv))
