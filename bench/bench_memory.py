"""Benchmark: memory per open trace and per `per attr` instance, as process RSS (issue 17).

tracemalloc sees only Python's allocations, not the native core's, so this measures what
the operating system sees: the resident set of a fresh process (``/proc/self/statm``), one
subprocess per configuration, so no run inherits another's heap.

- **per open trace, streaming** (``--only open-traces``; issue 17's goal): what ``serve``
  holds per trace while it waits for the trace to complete. A streaming monitor (as the
  sidecar builds it) fed OTLP protobuf requests of traces of 8 spans (a root and 7
  children, 3 attributes a span of which the spec reads 1) that stay open (no poll: no
  trace is idle); the RSS after feeding N2 traces minus the RSS after feeding N1, divided
  by N2 - N1 (the issue: 100k and 200k). The core packs an open trace's spans.
- **per open trace, file mode** (``--only traces``): the same with a ``Monitor`` (file
  mode keeps every trace until ``close``). The core keeps a file run's open spans as store
  rows, not packed: ``close`` reads every trace, so a file run's high-water mark is the
  row form either way, and packing them first cost a tenth of the run.
- **per `per attr` instance**: the same Monitor with a ``per attr["k"]`` property fed N
  one-span traces, each with its own key (N instances) or all with one key (one instance),
  and closed; the instance's cost is what the distinct keys add over the shared key, again
  as the difference between N2 and N1 divided by N2 - N1. In file mode the core keeps no
  instance open while feeding (it files events per key at ``close``), so this measures what
  an instance costs the run in the end: its bucket, its stepped state, its result and its
  key, in the core and in the report. Every instance of this workload is violated (its
  span's start and end events are both ``charge``), so a violation per key is counted too.
- **per open `per attr` instance, streaming** (``--only open-instances``): what ``serve``
  holds per key while keys accumulate. A streaming monitor (``streaming_monitor``, as
  the sidecar builds it; ``--engine native`` is ``NativeStreamingMonitor`` on the core's
  ``StreamRun``) with a ``per attr["k"]`` property that no event decides is fed N
  one-span traces, distinct keys or one shared key, at a clock that moves on, polled
  after every request with no lateness, so every trace is decided, its rows freed and
  its events stepped past the watermark; the child checks through the public counters
  that ``open_instances`` is N (resp. 1), ``buffered_events``, the backlog and the open
  traces 0. The same difference of differences. The instances hold no obligation's
  witness (the property is presumably satisfied throughout): one raised by an event
  would add that span's copy.

Both with ``--engine native`` (the core holds the spans; Python holds nothing per span) and
``--engine python`` (the reference engine's ``Span`` objects and ``Instance`` objects).

Each figure is measured ``--repeat`` times (3), each time from fresh processes, and the
median is printed with the range: one process's RSS can jump (a single reading once gave
-23 B per open trace, where the readings before and after it gave 266 B).

    python bench/bench_memory.py [--traces 100000 200000] [--only open-instances]
                                 [--repeat 3] [--record]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import struct
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

BATCH = 500          # spans a request, as bench_monitor's
SPANS_PER_TRACE = 8
MS = 1_000_000

TRACE_SPEC = '''
property no_error "no span fails":
  G !(status == error)
property charge_after_auth:
  !(name == "charge") W (name == "authorize" and attr["order.id"] exists)
'''

KEY_SPEC = '''
property single_charge per attr["k"]:
  G (name == "charge" -> WX G !(name == "charge"))
'''

#: the streaming configuration's property: no `charge` event decides it, so every key's
#: instance stays open (presumably satisfied, no obligation raised, so no witness held)
STREAM_KEY_SPEC = '''
property no_refund per attr["k"]:
  G !(name == "refund")
'''


# ------------------------------------------------------------ a minimal OTLP encoder
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _fixed64(field: int, n: int) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<Q", n)


def _kv(key: str, value: str | int) -> bytes:
    if isinstance(value, str):
        any_value = _ld(1, value.encode())
    else:
        any_value = _varint(3 << 3) + _varint(value)
    return _ld(1, key.encode()) + _ld(2, any_value)


def span(trace_id: int, span_id: int, parent_id: int, name: str, start_ns: int,
         attrs: dict[str, str | int]) -> bytes:
    """One encoded ``Span`` (opentelemetry/proto/trace/v1/trace.proto)."""
    body = (_ld(1, trace_id.to_bytes(16, "big")) + _ld(2, span_id.to_bytes(8, "big"))
            + (_ld(4, parent_id.to_bytes(8, "big")) if parent_id else b"")
            + _ld(5, name.encode()) + _varint(6 << 3) + _varint(2 if not parent_id else 1)
            + _fixed64(7, start_ns) + _fixed64(8, start_ns + 5 * MS)
            + b"".join(_ld(9, _kv(k, v)) for k, v in attrs.items()))
    return _ld(2, body)


def request(spans: list[bytes]) -> bytes:
    """An ``ExportTraceServiceRequest`` of one resource (service ``shop``) and one scope."""
    resource = _ld(1, _ld(1, _kv("service.name", "shop")))
    scope = _ld(1, _ld(1, b"bench"))
    return _ld(1, resource + _ld(2, scope + b"".join(spans)))


def trace_requests(n_traces: int):
    """Requests of 500 spans: ``n_traces`` traces of 8 spans, a root and 7 children."""
    names = ("authorize", "db.query", "charge", "audit", "inventory", "db.query", "reply")
    pending: list[bytes] = []
    for t in range(n_traces):
        tid, root = t + 1, (t + 1) << 8
        t0 = 1_700_000_000_000 * MS + t * MS
        pending.append(span(tid, root, 0, "POST /checkout", t0,
                            {"order.id": f"o-{t}", "http.route": "/checkout",
                             "http.status_code": 200}))
        for j, name in enumerate(names):
            pending.append(span(tid, root + j + 1, root, name, t0 + (j + 1) * MS,
                                {"order.id": f"o-{t}", "thread.id": j, "retry": "no"}))
        if len(pending) >= BATCH:
            yield request(pending)
            pending = []
    if pending:
        yield request(pending)


def key_requests(n_traces: int, distinct: bool):
    """Requests of 500 one-span traces named ``charge``, with attribute ``k`` = ``k-<i>``
    (``distinct``) or ``k`` for all."""
    pending = []
    for t in range(n_traces):
        pending.append(span(t + 1, 1, 0, "charge", 1_700_000_000_000 * MS + t * MS,
                            {"k": f"k-{t}" if distinct else "k", "thread.id": 1}))
        if len(pending) >= BATCH:
            yield request(pending)
            pending = []
    if pending:
        yield request(pending)


# ------------------------------------------------------------ one configuration
def rss() -> int:
    """The resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(engine: str, what: str, n: int) -> dict:
    """Run one configuration in this (fresh) process; the RSS it ends with."""
    import tracelogic
    from tracelogic.engine.monitor import Monitor

    spec = tracelogic.load(TRACE_SPEC if what == "traces" else KEY_SPEC,
                           filename="bench_memory.spec")
    mon = Monitor(spec, engine=engine, max_open_traces=n + 1)
    want = "native" if engine == "native" else "python"
    assert set(mon.engines.values()) == {want}, mon.engines
    gc.collect()
    before = rss()
    if what == "traces":
        for data in trace_requests(n):
            mon.feed_otlp(data)
        gc.collect()
        after = rss()
        report = None
    else:
        for data in key_requests(n, what == "distinct"):
            mon.feed_otlp(data)
        report = mon.close()
        gc.collect()
        after = rss()
        instances = sum(p.instances for p in report.properties)
        assert instances == (n if what == "distinct" else 1), instances
    return {"before": before, "after": after}


def stream_child(engine: str, what: str, n: int) -> dict:
    """The streaming configuration in this (fresh) process: a ``serve``-style streaming
    monitor fed ``n`` one-span traces (distinct keys, or one shared key) at a clock that
    advances, polled after every request as the sidecar's engine thread does, with no
    lateness, so every trace is decided and every event passes the watermark; what stays
    per key is its open instance. Its RSS at the end."""
    import tracelogic
    from tracelogic.engine.native_stream import streaming_monitor

    spec = tracelogic.load(STREAM_KEY_SPEC, filename="bench_memory.spec")
    clock = [0]
    sm = streaming_monitor(spec, engine=engine, lateness_ns=0, idle_ns=1,
                           rootless_idle_ns=1, max_open_traces=2 * BATCH,
                           max_instances=n + 1, clock=lambda: clock[0])
    ingest = _stream_ingest(sm, engine)
    gc.collect()
    before = rss()
    for data in key_requests(n, what == "distinct"):
        clock[0] += 10
        ingest(data)
        sm.poll(clock[0] + 5)
        sm.take_done_traces()
        sm.take_violations()
        sm.take_completion_times()
    gc.collect()
    after = rss()
    assert sm.open_instances == (n if what == "distinct" else 1), sm.open_instances
    assert sm.buffered_events == 0 and sm.backlog == 0, (sm.buffered_events, sm.backlog)
    assert sm.assembler.open_traces == 0, sm.assembler.open_traces
    return {"before": before, "after": after}


def _stream_ingest(sm, engine: str):
    """After checking that ``engine`` runs every property of streaming monitor ``sm``, a
    function that feeds it one request's bytes as the sidecar does."""
    from tracelogic.ingest.otlp import DecodeStats, decode_traces_pb

    want = "native" if engine == "native" else "python"
    assert {a.engine for a in sm.monitor.engine_plan.values()} == {want}, \
        sm.monitor.engine_plan
    stats = DecodeStats()

    def ingest(data: bytes) -> None:
        if hasattr(sm, "ingest_otlp"):  # the core decodes (as the sidecar feeds it)
            sm.ingest_otlp(data, stats)
        else:
            sm.ingest(decode_traces_pb(data, wanted_attrs=sm.wanted_attrs, stats=stats))
    return ingest


def stream_traces_child(engine: str, n: int) -> dict:
    """The streaming configuration of open traces in this (fresh) process: a ``serve``-style
    streaming monitor fed ``n`` traces of 8 spans that stay open (never polled). Its RSS at
    the end."""
    import tracelogic
    from tracelogic.engine.native_stream import streaming_monitor

    spec = tracelogic.load(TRACE_SPEC, filename="bench_memory.spec")
    sm = streaming_monitor(spec, engine=engine, max_open_traces=n + 1, clock=lambda: 0)
    ingest = _stream_ingest(sm, engine)
    gc.collect()
    before = rss()
    for data in trace_requests(n):
        ingest(data)
    gc.collect()
    after = rss()
    assert sm.assembler.open_traces == n, sm.assembler.open_traces
    return {"before": before, "after": after}


def run_child(engine: str, what: str, n: int) -> int:
    out = subprocess.run([sys.executable, __file__, "--child", engine, what, str(n)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["after"]


def measure(engines: list[str], n1: int, n2: int,
            what: tuple[str, ...] = ("open-traces", "traces", "instances", "open-instances"),
            repeat: int = 1) -> dict[str, dict[str, list[float]]]:
    """Bytes per open trace and per instance, per engine (see the module docstring): each
    figure ``repeat`` times, each from fresh processes."""
    out: dict[str, dict[str, list[float]]] = {}
    for engine in engines:
        got = out[engine] = {}

        def note(name: str, value: float) -> None:
            got.setdefault(name, []).append(value)

        def diff(key: str) -> float:
            a, b = (run_child(engine, key, n) for n in (n1, n2))
            return b - a

        for _ in range(repeat):
            if "open-traces" in what:
                note("per_open_trace_streaming", diff("stream-traces") / (n2 - n1))
            if "traces" in what:
                note("per_open_trace", diff("traces") / (n2 - n1))
            if "instances" in what:
                note("per_instance", (diff("distinct") - diff("shared")) / (n2 - n1))
            if "open-instances" in what:
                note("per_open_instance",
                     (diff("stream-distinct") - diff("stream-shared")) / (n2 - n1))
    return out


def figure(readings: list[float], what: str) -> str:
    """``what`` after the median of the readings, and their range when there are
    several."""
    spread = f" [{min(readings):.0f} to {max(readings):.0f}]" if len(readings) > 1 else ""
    return f"{statistics.median(readings):7.0f} B per {what}{spread}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "WHAT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--traces", nargs=2, type=int, default=[100_000, 200_000],
                    metavar=("N1", "N2"), help="open traces (and instances) in the two runs")
    ap.add_argument("--engines", nargs="+", default=["native", "python"])
    ap.add_argument("--only", choices=["open-traces", "traces", "instances", "open-instances"],
                    help="measure open traces (streaming), open traces or instances (file "
                         "mode) or open instances (streaming) only")
    ap.add_argument("--repeat", type=int, default=3,
                    help="measure each figure this many times; the median is printed, with "
                         "the range (default 3)")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.child:
        engine, what, n = args.child
        if what == "stream-traces":
            print(json.dumps(stream_traces_child(engine, int(n))))
        elif what.startswith("stream-"):
            print(json.dumps(stream_child(engine, what.removeprefix("stream-"), int(n))))
        else:
            print(json.dumps(child(engine, what, int(n))))
        return
    n1, n2 = args.traces
    got = measure(args.engines, n1, n2,
                  (args.only,) if args.only
                  else ("open-traces", "traces", "instances", "open-instances"),
                  args.repeat)
    lines = [f"RSS difference between {n1} and {n2}, divided by {n2 - n1}"
             + (f" (median of {args.repeat} runs, and their range):" if args.repeat > 1
                else ":")]
    for engine, m in got.items():
        parts = []
        if "per_open_trace_streaming" in m:
            parts.append(figure(m["per_open_trace_streaming"],
                                f"open trace of {SPANS_PER_TRACE} spans (streaming)"))
        if "per_open_trace" in m:
            parts.append(figure(m["per_open_trace"],
                                f"open trace of {SPANS_PER_TRACE} spans (file mode)"))
        if "per_instance" in m:
            parts.append(figure(m["per_instance"], "per-attr instance"))
        if "per_open_instance" in m:
            parts.append(figure(m["per_open_instance"], "open per-attr instance (streaming)"))
        lines.append(f"  {engine:<6}: " + ", ".join(parts))
    print("\n".join(lines))
    if args.record:
        with open(HERE / "RESULTS.md", "a") as f:
            f.write(f"\n## Memory per open trace and instance, RSS ({_dt.date.today()})\n\n"
                    f"`python bench/bench_memory.py --traces {n1} {n2} "
                    f"--repeat {args.repeat}` on "
                    f"{platform.python_implementation()} {platform.python_version()}, "
                    f"{platform.machine()}.\n\n```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
