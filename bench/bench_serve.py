"""Benchmark: `tracelogic serve` sustained spans/s over OTLP/HTTP and OTLP/gRPC on loopback.

A `serve` process monitors a 20-property spec (``stream_workload.bench_spec(20)``:
19 per trace, one ``per attr["order.id"]``). A *separate* load-generator process
(this script with ``--generate``) sends pre-encoded ``ExportTraceServiceRequest``s
of checkout traces at call depth 8 (10 spans a trace) as fast as the server
acknowledges them, over several keep-alive connections, backing off on 429 /
RESOURCE_EXHAUSTED as an exporter would. Trace ids and timestamps are rewritten per
request, so every trace is new and the watermark advances.

Measured, per transport:
- acknowledged spans/s while sending (the server acknowledges a request only after
  its spans are in the monitor), and spans/s end to end: until every trace was
  completed by the idle timer and its verdicts committed, less the idle time;
- the server process's CPU seconds (from /proc), hence spans per CPU-second: the
  per-core figure, and the cores 100k spans/s would take when sharded by trace id;
- p99 from trace completion to violation committed (the server's histogram);
- refused (429) requests.

Then a cProfile of the engine pipeline (decode, assemble, order events, predicates,
automata, store) run in-process on the same requests: where the time goes.

    python bench/bench_serve.py                  # print
    python bench/bench_serve.py --record         # and append to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# this checkout's tracelogic, here and in the server and load generators it starts
sys.path.insert(0, str(ROOT / "src"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])

TRACES_PER_REQUEST = 50  # 500 spans a request: a BatchSpanProcessor's default is 512
BASE_REQUESTS = 16


# ------------------------------------------------------------------ load generator

def _base_requests(n: int = BASE_REQUESTS):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    from tracelogic.testing.stream_workload import request_bytes, traces
    ts = list(traces(n * TRACES_PER_REQUEST, seed=7, orders=n * TRACES_PER_REQUEST * 20,
                     gap_ns=200_000))
    out = []
    for i in range(n):
        part = [s for t in ts[i * TRACES_PER_REQUEST:(i + 1) * TRACES_PER_REQUEST] for s in t]
        out.append(ExportTraceServiceRequest.FromString(request_bytes(part)))
    return out


def _variant(req, k: int, shift_ns: int) -> bytes:
    """Request ``req`` with fresh trace ids (counter ``k``) and times moved by ``shift_ns``."""
    tag = k.to_bytes(4, "big")
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                sp.trace_id = sp.trace_id[:12] + tag
                sp.start_time_unix_nano += shift_ns
                sp.end_time_unix_nano += shift_ns
    data = req.SerializeToString()
    for rs in req.resource_spans:  # undo the time shift, keep the message reusable
        for ss in rs.scope_spans:
            for sp in ss.spans:
                sp.start_time_unix_nano -= shift_ns
                sp.end_time_unix_nano -= shift_ns
    return data


def generate(transport: str, port: int, seconds: float, conns: int, rate: float = 0) -> dict:
    """Send for ``seconds`` (at ``rate`` spans/s in all, or as fast as acknowledged when 0);
    returns counts. Runs in the load-generator process."""
    import http.client

    base = _base_requests()
    span_count = [sum(len(ss.spans) for rs in r.resource_spans for ss in rs.scope_spans)
                  for r in base]
    lock = threading.Lock()
    counter = [0]
    stats = {"requests": 0, "spans": 0, "refused_requests": 0, "errors": 0}
    stop_at = time.monotonic() + seconds

    t_start = time.monotonic()

    def next_request():
        with lock:
            k = counter[0]
            counter[0] += 1
        if rate:  # paced: request k leaves at k * (spans a request / rate)
            due = t_start + k * (TRACES_PER_REQUEST * 10) / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        i = k % len(base)
        # every round of base requests moves 50 ms on; ids stay unique
        return _variant(base[i], k, (k // len(base)) * 50_000_000), span_count[i]

    def http_worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            data, n = next_request()
            while True:
                c.request("POST", "/v1/traces", body=data,
                          headers={"Content-Type": "application/x-protobuf"})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    with lock:
                        stats["requests"] += 1
                        stats["spans"] += n
                    break
                with lock:
                    stats["refused_requests" if r.status == 429 else "errors"] += 1
                if r.status != 429:
                    break
                time.sleep(0.05)

    def grpc_worker():
        import grpc
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                  request_serializer=None, response_deserializer=None)
            while time.monotonic() < stop_at:
                data, n = next_request()
                while True:
                    try:
                        call(data, timeout=60)
                        with lock:
                            stats["requests"] += 1
                            stats["spans"] += n
                        break
                    except grpc.RpcError as e:
                        busy = e.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                        with lock:
                            stats["refused_requests" if busy else "errors"] += 1
                        if not busy:
                            break
                        time.sleep(0.05)

    worker = http_worker if transport == "http" else grpc_worker
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats["seconds"] = time.monotonic() - t0
    return stats


# ------------------------------------------------------------------ server side

def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        return r.read().decode()


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _quantile(text: str, name: str, q: float) -> float | None:
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le),
                            float(line.rsplit(" ", 1)[1])))
    if not buckets or not buckets[-1][1]:
        return None
    total = buckets[-1][1]
    for le, n in buckets:
        if n >= q * total:
            return le
    return None


def run_transport(transport: str, seconds: float, conns: int, idle: str,
                  rate: float = 0, engine: str = "native",
                  properties: list[str] | None = None) -> dict:
    from tracelogic.testing.stream_workload import bench_spec

    tmp = Path(tempfile.mkdtemp(prefix="tl-bench-"))
    spec = tmp / "bench.spec"
    spec.write_text(bench_spec(20))
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from tracelogic.cli import main; main()", "serve", str(spec),
         "--store", str(tmp / "bench.db"), "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
         "--idle", idle, "--lateness", "2s", "--queue-spans", "20000",
         "--max-open-traces", "1000000", "--engine", engine,
         *[a for p in properties or () for a in ("--property", p)]],
        stderr=log, stdout=subprocess.DEVNULL)
    try:
        listen = _wait_listen(tmp / "serve.log", proc)
        http_port = int(listen["http"].rsplit(":", 1)[1])
        grpc_port = int(listen["grpc"].rsplit(":", 1)[1])
        cpu0 = _cpu_seconds(proc.pid)
        gen = subprocess.run(
            [sys.executable, __file__, "--generate", transport, "--port",
             str(http_port if transport == "http" else grpc_port), "--seconds", str(seconds),
             "--conns", str(conns), "--rate", str(rate)], capture_output=True, text=True,
            check=True)
        sent = json.loads(gen.stdout)
        t_sent = time.monotonic()
        # end to end: until every trace is completed and committed
        while True:
            text = _metrics(http_port)
            if (_metric(text, "tracelogic_open_traces") == 0
                    and _metric(text, "tracelogic_decide_backlog") == 0):
                break
            time.sleep(0.1)
        drain = time.monotonic() - t_sent
        cpu = _cpu_seconds(proc.pid) - cpu0
        text = _metrics(http_port)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    from tracelogic.values.units import parse_duration
    idle_s = parse_duration(idle) / 1e9
    spans = sent["spans"]
    return {
        "transport": transport, "engine": engine, "conns": conns, "rate": rate,
        "seconds": round(sent["seconds"], 2),
        "spans": spans, "acked_spans_per_s": spans / sent["seconds"],
        "end_to_end_spans_per_s": spans / (sent["seconds"] + max(0.0, drain - idle_s)),
        "server_cpu_s": round(cpu, 2), "spans_per_cpu_s": spans / cpu if cpu else None,
        "refused_requests": sent["refused_requests"], "errors": sent["errors"],
        "violations": _metric(text, "tracelogic_violations_total"),
        "traces_completed": _metric(text, "tracelogic_traces_completed"),
        "evicted": _metric(text, "tracelogic_traces_evicted"),
        "p50_commit_s": _quantile(text, "tracelogic_completion_to_commit_seconds", 0.5),
        "p99_commit_s": _quantile(text, "tracelogic_completion_to_commit_seconds", 0.99),
        "p99_request_s": _quantile(text, "tracelogic_request_seconds", 0.99),
    }


def _wait_listen(log: Path, proc, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()}")
        for line in log.read_text().splitlines():
            if '"msg": "serving"' in line:
                return json.loads(line)["listen"]
        time.sleep(0.1)
    raise RuntimeError("serve did not listen")


# ------------------------------------------------------------------ profile

def profile_pipeline(requests: int = 40) -> tuple[str, float]:
    """cProfile of decode + streaming monitor + store commit on ``requests`` requests."""
    import tracelogic
    from tracelogic.sidecar.server import decode_request
    from tracelogic.sidecar.store import Store
    from tracelogic.engine.stream import StreamingMonitor
    from tracelogic.testing.stream_workload import bench_spec

    spec = tracelogic.load(bench_spec(20), filename="bench.spec")
    base = _base_requests()
    datas = [_variant(base[k % len(base)], k, (k // len(base)) * 50_000_000)
             for k in range(requests)]
    now = [0]
    sm = StreamingMonitor(spec, idle_ns=1, lateness_ns=2 * 10**9, clock=lambda: now[0])
    tmp = tempfile.mkdtemp(prefix="tl-prof-")
    store = Store(os.path.join(tmp, "p.db"))
    wanted = sm.wanted_attrs

    def pipeline():
        n = 0
        for d in datas:
            spans, _ = decode_request("traces", "protobuf", d, wanted_attrs=wanted,
                                      wanted_metrics=frozenset())
            n += len(spans)
            sm.ingest(spans)
            now[0] += 10
            sm.poll()
            store.add_violations([v.to_json() for v in sm.take_violations()])
        sm.finish()
        store.add_violations([v.to_json() for v in sm.take_violations()])
        return n
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    n = pipeline()
    prof.disable()
    elapsed = time.perf_counter() - t0
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    return buf.getvalue(), n / elapsed


def pipeline_rate(requests: int = 80, shape_cache: int = 4096, engine: str = "python",
                  properties: list[str] | None = None) -> tuple:
    """Spans/s of the engine pipeline alone, without the profiler's overhead. With
    ``shape_cache=0`` every trace is stepped through every automaton (no two traces of one
    letter sequence share verdicts): the worst case for a workload of all-distinct traces."""
    import tracelogic
    from tracelogic.sidecar.server import decode_request
    from tracelogic.testing.stream_workload import bench_spec

    spec = tracelogic.load(bench_spec(20), filename="bench.spec")
    base = _base_requests()
    datas = [_variant(base[k % len(base)], k, (k // len(base)) * 50_000_000)
             for k in range(requests)]
    now = [0]
    from tracelogic.engine.native_stream import streaming_monitor
    from tracelogic.ingest.otlp import DecodeStats
    sm = streaming_monitor(spec, idle_ns=1, lateness_ns=2 * 10**9, clock=lambda: now[0],
                           shape_cache=shape_cache, engine=engine, properties=properties)
    native = hasattr(sm, "ingest_otlp")
    # CPU time of this thread, not wall time: the machine is shared, and the figure that
    # matters for sizing is spans per CPU-second
    clock = time.thread_time
    t0 = clock()
    n = 0
    stages = {"decode": 0.0, "monitor": 0.0}
    for d in datas:
        a = clock()
        if native:  # the core decodes and monitors in one call
            stats = DecodeStats()
            sm.ingest_otlp(d, stats)
            b = clock()
            k = stats.decoded
        else:
            spans, _ = decode_request("traces", "protobuf", d, wanted_attrs=sm.wanted_attrs,
                                      wanted_metrics=frozenset())
            b = clock()
            sm.ingest(spans)
            k = len(spans)
        now[0] += 10
        sm.poll()
        sm.take_violations()
        stages["decode"] += b - a
        stages["monitor"] += clock() - b
        n += k
    sm.finish()
    total = clock() - t0
    # the native monitor counts its core's trace-shape cache and its Python part's
    stages["shape hits"] = sm.shape_hits / max(1, sm.shape_hits + sm.shape_misses)
    return n / total, {k: (n / v if k != "shape hits" else v) for k, v in stages.items()}


# ------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--idle", default="1s")
    ap.add_argument("--rate", type=float, default=10_000,
                    help="offered spans/s of the latency run (default 10000)")
    ap.add_argument("--engines", default="python,native",
                    help="the engines to measure, in one run (default python,native)")
    ap.add_argument("--per-trace-only", action="store_true",
                    help="only serve bench_spec(20)'s 19 per-trace properties (not the frozen "
                    "workload: what the core runs alone), print, record nothing")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--generate", choices=("http", "grpc"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        print(json.dumps(generate(args.generate, args.port, args.seconds, args.conns,
                                  args.rate)))
        return
    engines = args.engines.split(",")
    if args.per_trace_only:
        names = [f"p{i}_{s}" for i, s in _per_trace_names()]
        for e in engines:
            for t in ("http", "grpc"):
                print(json.dumps(run_transport(t, args.seconds, args.conns, args.idle,
                                               engine=e, properties=names)))
        return
    results = [run_transport(t, args.seconds, args.conns, args.idle, engine=e)
               for e in engines for t in ("http", "grpc")]
    results += [run_transport(t, args.seconds, args.conns, args.idle, args.rate, engine=e)
                for e in engines for t in ("http", "grpc")]
    for r in results:
        print(json.dumps(r))
    rates = {}
    for e in engines:
        rate, stages = pipeline_rate(engine=e)
        cold, cold_stages = pipeline_rate(shape_cache=0, engine=e)
        stages["cold"], stages["cold monitor"] = cold, cold_stages["monitor"]
        # the 19 per-trace properties alone: what the core runs without the Python part
        stages["per-trace only"], _ = pipeline_rate(
            engine=e, properties=[f"p{i}_{s}" for i, s in _per_trace_names()])
        rates[e] = (rate, stages)
        print(f"engine pipeline alone ({e}): {rate:,.0f} spans/s ({stages}); without the "
              f"trace-shape cache: {cold:,.0f} spans/s")
    prof, prof_rate = profile_pipeline()
    print(prof)
    if args.record:
        record(args, results, rates, prof)


def _per_trace_names() -> list[tuple[int, str]]:
    """(index, shape) of bench_spec(20)'s per-trace properties."""
    shapes = ["never", "response", "precedence", "slow", "attr"]
    return [(i, shapes[i % 5]) for i in range(19)]


def record(args, results, rates, prof) -> None:
    date = _dt.date.today().isoformat()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    load = os.getloadavg()
    lines = [
        "", f"## `tracelogic serve`: sustained spans/s over OTLP on loopback ({date})", "",
        f"- Command: `python bench/bench_serve.py --seconds {args.seconds:g} --conns "
        f"{args.conns} --record`",
        f"- Source: commit `{commit}`. Machine: Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPU(s), load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; the load generator is a separate "
        "process on the same 2 cores.",
        "- Workload: `stream_workload.bench_spec(20)` (19 per-trace properties, 1 "
        "`per attr[\"order.id\"]`); checkout traces at call depth 8 (10 spans), 50 traces "
        f"(500 spans) a request, {args.conns} keep-alive connections; `--idle {args.idle} "
        "--lateness 2s`; no `--journal`.",
        "",
        "| engine | transport | offered | acked spans/s | end-to-end spans/s | server CPU s "
        "| spans per CPU-s (per core) | cores for 100k spans/s | p50 / p99 completion→commit "
        "| p99 request | 429s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        per_core = r["spans_per_cpu_s"] or 0
        lines.append(
            f"| {r['engine']} | {r['transport']} | "
            f"{'as fast as acked' if not r['rate'] else format(r['rate'], ',.0f') + ' spans/s'}"
            f" | {r['acked_spans_per_s']:,.0f} | "
            f"{r['end_to_end_spans_per_s']:,.0f} | {r['server_cpu_s']} | {per_core:,.0f} | "
            f"{100_000 / per_core:.1f} | ≤ {_ms(r['p50_commit_s'])} / ≤ "
            f"{_ms(r['p99_commit_s'])} | ≤ {_ms(r['p99_request_s'])} | "
            f"{r['refused_requests']} |")
    lines += [
        "",
        *[f"- Engine pipeline alone, `{e}` (decode + assemble + 20 monitors, one thread, no "
          f"sockets, per CPU-second): {rate:,.0f} spans/s (decode {st['decode']:,.0f} "
          f"spans/s, streaming monitor {st['monitor']:,.0f} spans/s); shape-cache hits "
          f"{st['shape hits']:.0%}; with that cache off {st['cold']:,.0f} spans/s; the 19 "
          f"per-trace properties alone {st['per-trace only']:,.0f} spans/s."
          for e, (rate, st) in rates.items()],
        "- Latencies are upper bounds from the server's histogram buckets.",
        "- Where the time goes (cProfile of the pipeline, top functions by own time):",
        "", "```", *[ln for ln in prof.strip().splitlines()[:34]], "```", "",
    ]
    with open(HERE / "RESULTS.md", "a") as f:
        f.write("\n".join(lines) + "\n")


def _ms(v: float | None) -> str:
    return "?" if v is None else ("∞" if v == float("inf") else f"{v * 1000:g} ms")


if __name__ == "__main__":
    main()
