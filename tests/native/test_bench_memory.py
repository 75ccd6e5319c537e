"""bench/bench_memory.py runs, and its input is what it says (no thresholds: the benchmark
measures, this keeps it working and honest)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import bench_memory  # noqa: E402

from tracelogic.ingest.otlp import decode_traces_pb  # noqa: E402


def test_trace_requests_hold_traces_of_eight_spans_under_one_root():
    spans = [s for data in bench_memory.trace_requests(70) for s in decode_traces_pb(data)]
    per_trace = Counter(s.trace_id for s in spans)
    assert len(per_trace) == 70 and set(per_trace.values()) == {bench_memory.SPANS_PER_TRACE}
    roots = [s for s in spans if not s.parent_id]
    assert len(roots) == 70
    ids = {(s.trace_id, s.span_id) for s in spans}
    assert all((s.trace_id, s.parent_id) in ids for s in spans if s.parent_id)
    assert all(s.attrs["order.id"] for s in spans)


def test_key_requests_have_distinct_or_shared_keys():
    for distinct, keys in ((True, 1200), (False, 1)):
        spans = [s for data in bench_memory.key_requests(1200, distinct)
                 for s in decode_traces_pb(data)]
        assert len(spans) == 1200 and len({s.attrs["k"] for s in spans}) == keys


def test_bench_memory_runs_on_a_tiny_configuration():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("TRACELOGIC_ENGINE", None)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_memory.py"),
                          "--traces", "300", "600", "--repeat", "2"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == ("RSS difference between 300 and 600, divided by 300 "
                        "(median of 2 runs, and their range):")
    for engine in ("native", "python"):
        line = next(x for x in lines if x.strip().startswith(engine))
        for what in ("open trace of 8 spans (streaming)", "open trace of 8 spans (file mode)",
                     "per-attr instance", "open per-attr instance (streaming)"):
            assert re.search(rf"-?\d+ B per {re.escape(what)} \[-?\d+ to -?\d+\]", line), line


def test_a_figure_is_the_median_of_its_readings_with_their_range():
    # one reading that jumped (as a single process's RSS can) does not move the median
    assert bench_memory.figure([266.0, -23.0, 265.4], "open trace") == (
        "    265 B per open trace [-23 to 266]")
    assert bench_memory.figure([80.0], "instance") == "     80 B per instance"


def test_repeat_below_one_is_refused():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_memory.py"),
                          "--repeat", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--repeat must be at least 1" in out.stderr


def test_the_streaming_configuration_holds_n_open_instances_or_one():
    """The child checks its own counts (open_instances N or 1, nothing buffered, nothing
    open); a small run of each kind, so that check runs in the default suite."""
    for what in ("distinct", "shared"):
        got = bench_memory.stream_child("native", what, 1200)
        assert got["after"] > 0 and got["before"] > 0


def test_the_streaming_open_traces_stay_open():
    """The child checks that all n traces are open in the streaming monitor's assembler
    (none polled out), for both engines."""
    for engine in ("native", "python"):
        got = bench_memory.stream_traces_child(engine, 700)
        assert got["after"] > 0 and got["before"] > 0
