"""bench/bench_monitor_process.py runs, reads its children's CPU from the kernel, compares
the reports, and keeps its request files private (no thresholds: the benchmark measures,
this keeps it working and honest)."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import bench_monitor_process as bmp  # noqa: E402


def test_request_files_are_private_and_reused(tmp_path):
    spec, files = bmp.write_requests(tmp_path / "req", 1000)
    assert len(files) == 2 and spec.read_text().count("property ") == 10
    assert stat.S_IMODE((tmp_path / "req").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    stamp = [f.stat().st_mtime_ns for f in files]
    _, again = bmp.write_requests(tmp_path / "req", 1000)  # the manifest matches: kept
    assert again == files and [f.stat().st_mtime_ns for f in again] == stamp
    _, other = bmp.write_requests(tmp_path / "req", 1500)  # another size: written anew
    assert len(other) == 3


def test_a_child_that_fails_is_an_error_not_a_reading():
    try:
        bmp.child_cpu([sys.executable, "-c", "import sys; sys.exit(3)"])
    except RuntimeError as e:
        assert "exited 3" in str(e)
    else:
        raise AssertionError("exit 3 was read as a measurement")
    cpu, out = bmp.child_cpu([sys.executable, "-c", "print(sum(range(10**6)))"])
    assert cpu > 0 and int(out) == sum(range(10**6))


def test_runs_on_a_tiny_configuration(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("TRACELOGIC_ENGINE", None)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_monitor_process.py"),
                          "--spans", "1000", "--rounds", "2", "--dir", str(tmp_path / "r"),
                          "--against", str(ROOT / "src")],
                         capture_output=True, text=True, env=env, timeout=300, check=True)
    rounds = [line for line in out.stdout.splitlines() if line.startswith("round ")]
    assert len(rounds) == 2, out.stdout
    for line in rounds:
        # both trees, both formats, each with its ratio, and the same report every time
        cells = re.findall(r"(this|against)/(text|json) [0-9.]+ s \([0-9.]+x\)", line)
        assert len(cells) == 4, line
        assert "DIFFERS" not in line
