"""Benchmark: `tracelogic monitor` as a whole process against the bare upb baseline (issue 17).

The issue's speed goal for `monitor` is about the whole command, start-up and report
included, in CPU-seconds: at least 800k spans of bench_monitor's workload (the same SDK-recorded
checkout traces and 10-property spec, requests of 500 spans written to files), against the
bare Python upb baseline measured in the same run: a process that parses each request,
iterates the spans and reads the name, the start and end times and every attribute into a
dict. Each is run as a child process and its CPU (user + system) read from the kernel's
accounting of the child (``os.wait4``); rounds alternate the runs, so all see the same
machine, and every report is compared byte for byte with the first round's.

``--against SRC`` adds a second tracelogic (another checkout's ``src``, with its own build
of the core) to every round: an interleaved A/B of two builds on the same files.

    python bench/bench_monitor_process.py [--spans 800000] [--rounds 3] [--formats text json]
        [--dir DIR] [--against OTHER/src]

The request files are written once to ``--dir`` (default: a private directory under the
system's temporary directory, removed at the end); generating 800k spans with the SDK takes
about 100 s, so pass ``--dir`` to keep them between runs (a manifest says what is there).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: the baseline's child: every request parsed by upb, every span's name, times and
#: attributes read into a dict (the issue's "decode-and-touch")
BASELINE = """
import sys
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
n = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        req = ExportTraceServiceRequest.FromString(f.read())
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                d = {"name": sp.name, "start": sp.start_time_unix_nano,
                     "end": sp.end_time_unix_nano}
                for kv in sp.attributes:
                    v = kv.value
                    d[kv.key] = getattr(v, v.WhichOneof("value"))
                n += 1
print(n)
"""


def write_requests(directory: Path, spans: int) -> tuple[Path, list[Path]]:
    """bench_monitor's spec and ``spans`` spans of its requests as files in ``directory``
    (made private), reused when its manifest says they are these."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    manifest = directory / "MANIFEST"
    spec = directory / "bench.spec"
    want = f"bench_monitor.make_requests({spans}, seed=1)\n"
    if manifest.exists() and manifest.read_text() == want:
        files = sorted(directory.glob("r*.pb"))
        return spec, files
    sys.path.insert(0, str(HERE))
    import bench_monitor

    for old in directory.glob("r*.pb"):
        old.unlink()
    requests = bench_monitor.make_requests(spans)
    files = []
    for i, data in enumerate(requests):
        path = directory / f"r{i:05d}.pb"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        files.append(path)
    spec.write_text(bench_monitor.SPEC)
    manifest.write_text(want)
    return spec, files


def child_cpu(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, bytes]:
    """Run ``argv``; its CPU seconds (user + system, from ``wait4``) and its standard output.
    Exit codes 0 and 1 (violations found) are the monitor's answers; any other fails."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env)
        err = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{argv[:4]}... exited {proc.returncode}: {err.decode()[-2000:]}")
        out.seek(0)
        return usage.ru_utime + usage.ru_stime, out.read()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=800_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--formats", nargs="+", default=["text", "json"],
                    choices=["text", "json"])
    ap.add_argument("--dir", type=Path, help="keep the request files here between runs")
    ap.add_argument("--against", type=Path, metavar="SRC",
                    help="another tracelogic's src directory to run beside this one")
    args = ap.parse_args()
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tracelogic-bench-")
        args.dir = Path(tmp.name) / "requests"
    spec, files = write_requests(args.dir, args.spans)
    trees = {"this": ROOT / "src"}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    names = [str(f) for f in files]
    first: dict[tuple[str, str], bytes] = {}
    print(f"{args.spans} spans in {len(files)} files; `tracelogic monitor` CPU-seconds "
          f"(user + system) against the upb baseline, {args.rounds} round(s), "
          f"{_dt.date.today()}")
    for r in range(1, args.rounds + 1):
        base, out = child_cpu([sys.executable, "-c", BASELINE, *names])
        assert int(out) == args.spans, out
        cells = [f"round {r}: baseline {base:.2f} s"]
        for fmt in args.formats:
            for name, src in trees.items():
                env = dict(os.environ, PYTHONPATH=str(src))
                env.pop("TRACELOGIC_ENGINE", None)
                cpu, report = child_cpu([sys.executable, "-m", "tracelogic.cli", "monitor",
                                         "--format", fmt, str(spec), *names], env)
                same = first.setdefault((fmt, "report"), report) == report
                cells.append(f"{name}/{fmt} {cpu:.2f} s ({base / cpu:.2f}x"
                             f"{'' if same else ', REPORT DIFFERS'})")
        print("; ".join(cells), flush=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
