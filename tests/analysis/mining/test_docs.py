"""docs/mining.md's worked example is what the commands print: every `$ tracelogic ...` line
of its console blocks is run (in order, in a copy of examples/mining/) and its output
compared, and the `mined.spec` it shows is the file `mine -o` wrote."""
from __future__ import annotations

import importlib.util
import io
import re
import shlex
import shutil
from pathlib import Path

from tracelogic.cli import run

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "mining.md"
EXAMPLE = ROOT / "examples" / "mining"


def commands(text: str) -> list[tuple[list[str], str]]:
    out = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        cmd, lines = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((cmd, "\n".join(lines)))
                cmd, lines = shlex.split(line[2:]), []
            else:
                lines.append(line)
        if cmd is not None:
            out.append((cmd, "\n".join(lines)))
    return out


def test_the_example_files_are_what_make_traces_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_traces", EXAMPLE / "make_traces.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(str(tmp_path))
    for name in ("healthy.jsonl", "faulty.jsonl"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name


def test_the_worked_example_runs_as_documented(tmp_path, monkeypatch):
    for f in EXAMPLE.glob("*.jsonl"):
        shutil.copy(f, tmp_path)
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    cmds = commands(text)
    assert [c[0][:2] for c in cmds] == [["tracelogic", "mine"], ["tracelogic", "check"],
                                        ["tracelogic", "monitor"]]
    for argv, expected in cmds:
        out, err = io.StringIO(), io.StringIO()
        code = run(argv[1:], out, err)
        assert code in (0, 1), err.getvalue()
        got = (out.getvalue() + err.getvalue()).rstrip()
        assert got == expected.rstrip(), f"$ {' '.join(argv)}"
        if argv[1] == "mine":
            shown = re.search(r"`mined\.spec`:\n\n```spec\n(.*?)```", text, re.S)
            assert shown and shown.group(1) == (tmp_path / "mined.spec").read_text()
