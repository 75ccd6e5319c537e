"""The real OpenTelemetry Collector (deploy/collector/builder.yaml, built by
scripts/install_collector.sh) in front of real `tracelogic serve` processes, on both engines.

- deploy/collector/scale-out.yaml, the configuration docs/serve.md quotes: the Collector's
  load-balancing exporter shards the shop workload by trace id over 3 per-trace sidecars and
  by `order.id` over 3 per-order sidecars (after groupbytrace), and sends everything to one
  global sidecar. The union of their violations equals one sidecar's over the same workload.
- The load-balancing exporter's attribute routing reads the attribute from the first span of
  a trace: with `order.id` only on some spans a trace lands on the wrong shard and double
  charges are missed; with it on every span (the supported way) none is.
- deploy/collector/tee.yaml: the Collector's file exporter feeds `tracelogic monitor` the same
  verdicts as the workload written directly, and as the sidecar behind the same Collector.
- `serve --forward` to that Collector: every span and metric point arrives.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter

import pytest

from interop.collector import DEPLOY, start_collector
from sidecar.serve_helpers import (cpu_metrics, keyset, metric, metrics_text, start_serve,
                                   wait_for, write_spec)
from tracelogic.ingest.otlp import read_path, request_to_json, spans_to_request
from tracelogic.ingest.spans import Span
from tracelogic.testing.stream_workload import MS, traces

PER_TRACE = ("no_error", "auth_before_charge", "answered", "fast_queries")
PER_ORDER = ("no_double_charge",)
GLOBAL = ("no_panic",)
SERVE = ("--idle", "1s", "--lateness", "1s")


def props(names) -> list[str]:
    return [a for n in names for a in ("--property", n)]


def serve_in(tmp_path, name: str, *args: str, spec):
    """A serve process with its own directory (store, log) under ``tmp_path``."""
    (tmp_path / name).mkdir()
    return start_serve(tmp_path / name, *SERVE, *args, spec=spec)


def processed(sp) -> float:
    return metric(metrics_text(sp), "tracelogic_spans_processed_total")


def post(url: str, body: bytes, ctype: str = "application/x-protobuf") -> int:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def send(url: str, ts: list[list[Span]], per_request: int = 10) -> int:
    """POST the traces ``ts`` as OTLP/HTTP protobuf, ``per_request`` traces a request, the
    spans of a trace in the order the workload lists them (the root last, as SDKs that
    export finished spans send them); the number of requests."""
    n = 0
    for i in range(0, len(ts), per_request):
        spans = [s for t in ts[i:i + per_request] for s in t]
        assert post(url, spans_to_request(spans).SerializeToString()) == 200
        n += 1
    return n


def with_attrs(s: Span, extra: dict) -> Span:
    return Span(name=s.name, trace_id=s.trace_id, span_id=s.span_id, parent_id=s.parent_id,
                start_ns=s.start_ns, end_ns=s.end_ns, kind=s.kind, status=s.status,
                service=s.service, attrs={**s.attrs, **extra})


def order_on_every_span(ts: list[list[Span]]) -> list[list[Span]]:
    """The supported way to route by `order.id`: every span of a trace carries its order
    (what a baggage span processor does with an `order.id` baggage entry)."""
    out = []
    for t in ts:
        order = next(s.attrs["order.id"] for s in t if not s.parent_id)
        out.append([with_attrs(s, {"order.id": order}) for s in t])
    return out


def fields(spans) -> Counter:
    """The spans as a multiset of what the workload sets on them."""
    return Counter((s.trace_id, s.span_id, s.parent_id or "", s.name, s.start_ns, s.end_ns,
                    s.kind, s.status, s.service, tuple(sorted(s.attrs.items())))
                   for s in spans)


def hostnames(sps) -> str:
    return "[" + ", ".join(sp.grpc for sp in sps) + "]"


def wait_processed(sps, total: int, what: str) -> list[float]:
    counts: list[float] = []

    def done():
        counts[:] = [processed(sp) for sp in sps]
        return sum(counts) >= total
    wait_for(done, 120, f"{what} to process {total} spans (got {counts})")
    assert sum(counts) == total, f"{what} processed {counts}, not {total} spans in all"
    return counts


def test_scale_out_config_shards_to_the_same_violations_as_one_sidecar(tmp_path,
                                                                       monitor_engine):
    ts = order_on_every_span(list(traces(120, orders=40, seed=60)))
    total = sum(len(t) for t in ts)
    spec = write_spec(tmp_path)
    per_trace = [serve_in(tmp_path, f"t{i}", *props(PER_TRACE), spec=spec) for i in range(3)]
    per_order = [serve_in(tmp_path, f"o{i}", *props(PER_ORDER), spec=spec) for i in range(3)]
    glob = serve_in(tmp_path, "g", *props(GLOBAL), spec=spec)
    ref = serve_in(tmp_path, "ref", spec=spec)
    col = start_collector(tmp_path, DEPLOY / "scale-out.yaml", {
        "TRACELOGIC_PER_TRACE": hostnames(per_trace),
        "TRACELOGIC_PER_ORDER": hostnames(per_order),
        "TRACELOGIC_GLOBAL": glob.grpc, "GROUP_WAIT": "1s"})
    send(f"{col.http}/v1/traces", ts)
    send(f"{ref.http}/v1/traces", ts)
    trace_counts = wait_processed(per_trace, total, "the per-trace sidecars")
    order_counts = wait_processed(per_order, total, "the per-order sidecars")
    wait_processed([glob], total, "the global sidecar")
    wait_processed([ref], total, "the reference sidecar")
    assert col.stop() == 0
    # real sharding: every sidecar of both groups got a share of the workload
    assert all(trace_counts) and all(order_counts), (trace_counts, order_counts)
    for sp in [*per_trace, *per_order, glob, ref]:
        assert sp.terminate() == 0
    expected = keyset(ref.violations())
    assert {k[0] for k in expected} == {*PER_TRACE, *PER_ORDER, *GLOBAL}

    def only(names, got):
        return {k for k in got if k[0] in names}
    union_trace = set().union(*(keyset(sp.violations()) for sp in per_trace))
    union_order = set().union(*(keyset(sp.violations()) for sp in per_order))
    assert union_trace == only(PER_TRACE, expected)
    assert union_order == only(PER_ORDER, expected)
    assert keyset(glob.violations()) == only(GLOBAL, expected)
    # each trace's violations come from exactly one shard
    shard_sets = [keyset(sp.violations()) for sp in per_trace]
    assert sum(len(s) for s in shard_sets) == len(union_trace)


def double_charges(n_orders: int, seed: int = 5) -> list[list[Span]]:
    """Every order charged once in each of two traces. In trace A the charge span (which
    carries `order.id`) comes first; in trace B `authorize` (which does not) comes first,
    and the root (which does) last. The per-order property is violated once per order."""
    import random
    rng = random.Random(seed)
    hexid = lambda n: "%0*x" % (2 * n, rng.getrandbits(8 * n) | 1)  # noqa: E731
    out = []
    t0 = 1_700_000_000 * 10**9
    for o in range(n_orders):
        for charge_first in (True, False):
            tid, root = hexid(16), hexid(8)
            order = {"order.id": f"o-{o}"}
            t0 += 10 * MS
            auth = Span(name="authorize", trace_id=tid, span_id=hexid(8), parent_id=root,
                        start_ns=t0 + MS, end_ns=t0 + 2 * MS, service="payments")
            charge = Span(name="charge", trace_id=tid, span_id=hexid(8), parent_id=root,
                          start_ns=t0 + 3 * MS, end_ns=t0 + 4 * MS, service="payments",
                          attrs=order)
            reply = Span(name="reply", trace_id=tid, span_id=hexid(8), parent_id=root,
                         start_ns=t0 + 5 * MS, end_ns=t0 + 6 * MS, service="frontend")
            top = Span(name="POST /checkout", trace_id=tid, span_id=root, parent_id="",
                       start_ns=t0, end_ns=t0 + 7 * MS, kind="server", service="frontend",
                       attrs=order)
            out.append([charge, auth, reply, top] if charge_first else
                       [auth, charge, reply, top])
    return out


@pytest.mark.parametrize("stamped", [False, True], ids=["order-on-some-spans",
                                                        "order-on-every-span"])
def test_attribute_routing_reads_the_first_span_of_a_trace(tmp_path, monitor_engine,
                                                           stamped):
    n_orders = 24
    ts = double_charges(n_orders)
    if stamped:
        ts = order_on_every_span(ts)
    total = sum(len(t) for t in ts)
    spec = write_spec(tmp_path)
    per_order = [serve_in(tmp_path, f"o{i}", *props(PER_ORDER), spec=spec) for i in range(3)]
    # the per-trace and global groups: one sidecar, not looked at here
    sink = serve_in(tmp_path, "sink", "--property", "no_error", spec=spec)
    ref = serve_in(tmp_path, "ref", *props(PER_ORDER), spec=spec)
    col = start_collector(tmp_path, DEPLOY / "scale-out.yaml", {
        "TRACELOGIC_PER_TRACE": hostnames([sink]), "TRACELOGIC_PER_ORDER": hostnames(per_order),
        "TRACELOGIC_GLOBAL": sink.grpc, "GROUP_WAIT": "1s"})
    send(f"{col.http}/v1/traces", ts)
    send(f"{ref.http}/v1/traces", ts)
    counts = wait_processed(per_order, total, "the per-order sidecars")
    wait_processed([ref], total, "the reference sidecar")
    assert col.stop() == 0
    for sp in [*per_order, sink, ref]:
        assert sp.terminate() == 0
    expected = keyset(ref.violations())
    assert len(expected) == n_orders and {k[0] for k in expected} == set(PER_ORDER)
    union = set().union(*(keyset(sp.violations()) for sp in per_order))
    if stamped:
        assert union == expected
        assert sum(1 for c in counts if c) >= 2, counts  # sharded, not all on one sidecar
        return
    # Every B trace starts with `authorize`, so its routing key is "order.id=|" (missing):
    # all of them land on one sidecar, whatever their order ...
    b_spans = sum(len(t) for t in ts if t[0].name == "authorize")
    assert max(counts) >= b_spans, counts
    # ... while each A trace goes where its order's key hashes: for most orders another
    # sidecar, so the double charge is never seen whole (a miss for all 24 orders alone has
    # probability about 3^-24).
    assert union < expected, "attribute routing found every double charge"


def spec_file(tmp_path):
    text = (write_spec(tmp_path).read_text()
            + 'metric cpu = "system.cpu.utilization" : ratio\n'
              'metric invariant cpu_ok per service:\n  cpu < 0.9\n')
    p = tmp_path / "shop-cpu.spec"
    p.write_text(text)
    return p


def monitor_json(spec, *paths) -> dict:
    r = subprocess.run([sys.executable, "-m", "tracelogic", "monitor", str(spec), *map(str, paths),
                        "--format", "json", "--allow-unknown"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def verdicts(report: dict) -> tuple:
    """What a monitor report decides: each property's results, and each violation."""
    return (json.dumps(report["properties"], sort_keys=True),
            sorted(json.dumps(v, sort_keys=True) for v in report["violations"]))


def test_file_exporter_output_monitors_like_the_workload_sent_directly(tmp_path,
                                                                       monitor_engine):
    ts = list(traces(80, orders=30, seed=64))
    total = sum(len(t) for t in ts)
    spec = spec_file(tmp_path)
    behind = serve_in(tmp_path, "behind", spec=spec)
    out_traces, out_metrics = tmp_path / "traces.jsonl", tmp_path / "metrics.jsonl"
    col = start_collector(tmp_path, DEPLOY / "tee.yaml", {
        "OTELCOL_TRACES_FILE": str(out_traces), "OTELCOL_METRICS_FILE": str(out_metrics),
        "TRACELOGIC_HTTP": behind.http})
    send(f"{col.http}/v1/traces", ts, per_request=7)
    assert col.post("/v1/metrics", cpu_metrics(0.5, 0.95, 0.97, 0.2)) == 200
    wait_processed([behind], total, "the sidecar behind the Collector")
    assert col.stop() == 0
    assert behind.terminate() == 0
    # the same spans written directly, as one OTLP/JSON request per trace
    direct = tmp_path / "direct.jsonl"
    direct.write_text("".join(json.dumps(request_to_json(spans_to_request(t))) + "\n"
                              for t in ts))
    direct_metrics = tmp_path / "direct-metrics.pb"
    direct_metrics.write_bytes(cpu_metrics(0.5, 0.95, 0.97, 0.2))
    assert fields(read_path(out_traces).spans) == fields(s for t in ts for s in t)
    via = monitor_json(spec, out_traces, "--metrics", out_metrics)
    straight = monitor_json(spec, direct, "--metrics", direct_metrics)
    assert verdicts(via) == verdicts(straight)
    got = {(v["property"], v["key"], tuple(v["span_ids"])) for v in via["violations"]}
    assert {"no_error", "answered", "no_double_charge", "cpu_ok"} <= {k[0] for k in got}
    # and the sidecar behind the same Collector (otlp_http exporter) agrees with both
    assert keyset(behind.violations()) == got


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_serve_forward_to_the_collector_delivers_everything(tmp_path, monitor_engine, scheme):
    ts = list(traces(60, orders=20, seed=63))
    total = sum(len(t) for t in ts)
    spec = spec_file(tmp_path)
    behind = serve_in(tmp_path, "behind", spec=spec)
    out_traces, out_metrics = tmp_path / "traces.jsonl", tmp_path / "metrics.jsonl"
    col = start_collector(tmp_path, DEPLOY / "tee.yaml", {
        "OTELCOL_TRACES_FILE": str(out_traces), "OTELCOL_METRICS_FILE": str(out_metrics),
        "TRACELOGIC_HTTP": behind.http})
    upstream = (f"http://127.0.0.1:{col.http_port}" if scheme == "http"
                else f"grpc://127.0.0.1:{col.grpc_port}")
    front = serve_in(tmp_path, "front", "--forward", upstream, spec=spec)
    n = send(f"{front.http}/v1/traces", ts[:30], per_request=6)
    # OTLP/JSON too: forwarded as it came over HTTP, re-encoded as protobuf over gRPC
    for t in ts[30:]:
        assert post(f"{front.http}/v1/traces", json.dumps(request_to_json(
            spans_to_request(t))).encode(), "application/json") == 200
        n += 1
    assert post(f"{front.http}/v1/metrics", cpu_metrics(0.5, 0.95, 0.2)) == 200
    n += 1
    wait_for(lambda: metric(metrics_text(front), "tracelogic_forwarded_total",
                            outcome="ok") >= n, 60, "serve to forward every request")
    text = metrics_text(front)
    assert metric(text, "tracelogic_forwarded_total", outcome="ok") == n
    assert metric(text, "tracelogic_forwarded_total", outcome="failed") == 0
    assert metric(text, "tracelogic_forwarded_total", outcome="dropped") == 0
    wait_processed([behind], total, "the sidecar behind the Collector")
    assert col.stop() == 0
    assert front.terminate() == 0 and behind.terminate() == 0
    # every span arrived, field for field, and every metric point
    assert fields(read_path(out_traces).spans) == fields(s for t in ts for s in t)
    points = read_path(out_metrics).points
    assert sorted(p.value for p in points) == [0.2, 0.5, 0.95]
    # the sidecar behind the Collector saw what the one in front saw
    assert keyset(behind.violations()) == keyset(front.violations())
    assert {v["property"] for v in front.violations()} >= {"no_error", "cpu_ok"}
