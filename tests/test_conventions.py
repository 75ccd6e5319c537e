"""Command-line conventions (issue 16, item 6): `python -m tracelogic` and shell completion.

Completion scripts come from shtab over the real parser; the bash one is sourced and its
completion function called as bash would call it; the zsh one is checked by zsh's parser.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracelogic.cli import run

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "engine" / "data" / "monitor" / "edge.spec"
TRACES = ROOT / "tests" / "engine" / "data" / "monitor" / "out_of_order.jsonl"


def python_m(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracelogic", *argv], capture_output=True,
                          text=True, timeout=120, cwd=str(ROOT))


def test_python_m_tracelogic_is_the_tracelogic_command():
    r = python_m("--version")
    assert r.returncode == 0 and r.stdout.startswith("tracelogic ")
    r = python_m("monitor", str(SPEC), str(TRACES), "--format", "json")
    assert r.returncode == 1 and '"schema": "tracelogic.monitor/1"' in r.stdout  # the exit code
    r = python_m("check", str(ROOT / "nope.spec"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = python_m()
    assert r.returncode == 2 and "COMMAND" in r.stdout


def completion(shell: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert run(["completion", shell], out, err) == 0, err.getvalue()
    return out.getvalue()


def complete_bash(script: Path, *words: str) -> list[str]:
    """What the completion function offers for the last of ``words`` (bash's COMP_WORDS)."""
    bash = shutil.which("bash")
    assert bash
    quoted = " ".join(f"'{w}'" for w in ("tracelogic", *words))
    r = subprocess.run([bash, "--norc", "-c",
                        f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; "
                        "_shtab_tracelogic; printf '%s\\n' \"${COMPREPLY[@]}\""],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x]


def test_bash_completion_completes_commands_options_and_choices(tmp_path):
    script = tmp_path / "tracelogic.bash"
    script.write_text(completion("bash"))
    assert complete_bash(script, "mon") == ["monitor"]
    assert complete_bash(script, "serve", "--max-o") == ["--max-open-traces"]
    assert complete_bash(script, "monitor", "x.spec", "--format", "") == [
        "text", "json", "junit", "sarif", "html"]
    assert complete_bash(script, "completion", "") == ["bash", "zsh"]
    (tmp_path / "shop.spec").write_text("")
    (tmp_path / "shop.txt").write_text("")
    offered = complete_bash(script, "check", f"{tmp_path}/sho")
    assert f"{tmp_path}/shop.spec" in offered  # a spec argument completes file names


def test_zsh_completion_parses_in_zsh(tmp_path):
    zsh = shutil.which("zsh")
    assert zsh, "zsh is not installed (scripts/install.sh installs it)"
    script = tmp_path / "_tracelogic"
    text = completion("zsh")
    assert text.startswith("#compdef tracelogic")
    assert "--max-open-traces" in text and "junit" in text
    script.write_text(text)
    r = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_completion_refuses_an_unknown_shell():
    err = io.StringIO()
    assert run(["completion", "fish"], io.StringIO(), err) == 2
    assert "invalid choice" in err.getvalue()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_every_command_is_in_the_script(shell):
    from tracelogic.commands import COMMANDS

    text = completion(shell)
    missing = [name for name in COMMANDS if name not in text]
    assert not missing
