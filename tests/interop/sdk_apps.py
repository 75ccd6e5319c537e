"""The Go and Java SDK apps of tests/interop (built by scripts/install.sh) and the job
files they read: not a test module (no ``test_`` prefix).

Each app takes one JSON job (tests/interop/go/main.go documents the format), makes the
spans with its SDK's own tracer, exports them with the SDK's OTLP exporter and prints one
JSON line of export results. Without a built app the tests fail with the command that
builds it: they never skip.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
GO_APP = HERE / "go" / "build" / "otlpapp"
JAVA_DIR = HERE / "java"
JAVA_JAR = JAVA_DIR / "target" / "otlpapp.jar"
JAVA_LIB = JAVA_DIR / "target" / "lib"


def go_app() -> list[str]:
    assert GO_APP.is_file(), (f"the Go SDK app is not built: run scripts/install.sh (it runs "
                              f"`go build -o build/otlpapp .` in {GO_APP.parent.parent})")
    return [str(GO_APP)]


def java_app() -> list[str]:
    java = shutil.which("java")
    assert java, "java is not installed: the Java SDK interop tests need a JDK >= 11"
    assert JAVA_JAR.is_file() and JAVA_LIB.is_dir(), (
        f"the Java SDK app is not built: run scripts/install.sh (it runs `mvn package` in "
        f"{JAVA_DIR})")
    return [java, "-cp", f"{JAVA_JAR}:{JAVA_LIB}/*", "tracelogic.interop.OtlpApp"]


def job_spans(ts) -> list[dict]:
    """The spans of the traces ``ts`` as the apps' job files carry them."""
    return [{"name": s.name, "trace_id": s.trace_id, "span_id": s.span_id,
             "parent_id": s.parent_id or "", "start_ns": s.start_ns, "end_ns": s.end_ns,
             "kind": s.kind, "status": s.status, "service": s.service,
             "attrs": dict(s.attrs)} for t in ts for s in t]


def run_app(cmd: list[str], tmp_path: Path, job: dict, env: dict | None = None,
            name: str = "job") -> dict:
    """Run an app on ``job``; its one JSON line of results (asserting it exited 0)."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(job))
    r = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=180,
                       env=env)
    assert r.returncode == 0, f"{cmd[0]} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])
