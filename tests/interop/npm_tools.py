"""The pinned third-party validators in tests/interop/tools (`npm ci` there, which
scripts/install.sh runs): the SARIF multitool and Mermaid under jsdom. Without node or
those packages the tests that use them fail with the command to run: they never skip."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / "tools"
MODULES = TOOLS / "node_modules"


def _missing(what: str) -> str:
    return (f"{what} is not installed: run `npm ci` in {TOOLS} (scripts/install.sh does)")


def node() -> str:
    exe = shutil.which("node")
    assert exe, "node is not installed: the Mermaid parse test needs Node.js >= 20"
    return exe


def multitool() -> Path:
    """The SARIF multitool's Linux executable (a self-contained .NET build in the package)."""
    exe = MODULES / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"
    assert exe.is_file(), _missing("@microsoft/sarif-multitool")
    return exe


def sarif_validate(path: Path, out_dir: Path) -> list[dict]:
    """The multitool's findings on one SARIF file at the error and warning levels, each
    ``{"rule", "level", "message"}`` (its own SARIF output, read back)."""
    out = out_dir / (path.stem + ".validation.sarif")
    r = subprocess.run([str(multitool()), "validate", str(path), "--level", "Error;Warning",
                        "--output", str(out), "--log", "ForceOverwrite"],
                       capture_output=True, text=True, timeout=300,
                       env={"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "PATH": "/usr/bin:/bin",
                            "HOME": str(out_dir), "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"})
    assert r.returncode == 0 and out.is_file(), (
        f"the SARIF multitool exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    doc = json.loads(out.read_text(encoding="utf-8-sig"))
    return [{"rule": res.get("ruleId"), "level": res.get("level", "warning"),
             "message": res.get("message", {}).get("text", "")}
            for run in doc.get("runs", []) for res in run.get("results", [])]


def mermaid_parse(*files: Path) -> tuple[list[dict], str]:
    """Mermaid's parser on each file: one ``{"file", "ok", ...}`` per file, and the version."""
    assert (MODULES / "mermaid").is_dir() and (MODULES / "jsdom").is_dir(), _missing(
        "mermaid (with jsdom)")
    r = subprocess.run([node(), str(TOOLS / "mermaid-parse.mjs"), *map(str, files)],
                       capture_output=True, text=True, timeout=180, cwd=str(TOOLS))
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert lines and "mermaid" in lines[-1], f"node exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return lines[:-1], lines[-1]["mermaid"]
