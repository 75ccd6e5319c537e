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


def check_traces(sp, out: dict, ts, transport: str) -> None:
    """An app's export of the workload ``ts``: every call ok, every span processed, none
    rejected, one request per export call; then the store holds exactly file mode's
    violations, and the workload violates every property (per trace, per order, global)."""
    from sidecar.serve_helpers import file_mode, keyset, metric, metrics_text

    spans = sum(len(t) for t in ts)
    assert out["spans"] == spans and set(out["results"]) == {"ok"}
    text = metrics_text(sp)
    assert metric(text, "tracelogic_spans_processed_total") == spans
    assert metric(text, "tracelogic_requests_total", signal="traces", transport=transport,
                  outcome="ok") == len(out["results"])
    assert metric(text, "tracelogic_spans_rejected_total") == 0
    assert sp.terminate() == 0
    expected = file_mode(ts)
    assert {"no_error", "auth_before_charge", "answered", "fast_queries",
            "no_double_charge", "no_panic"} == {k[0] for k in expected}
    assert keyset(sp.violations()) == expected


CPU_SPEC = ('metric cpu = "system.cpu.utilization" : ratio\n'
            'metric invariant cpu_ok per service:\n  cpu < 0.9\n')
