"""Faults and operations of `tracelogic serve`, each against real processes on loopback:
SIGKILL with and without --journal, overload with exact accounting at the exporter,
SIGTERM drain, SIGHUP reload, forwarding, and sharding by routing key."""
from __future__ import annotations

import threading
import time
import zlib

import requests
from opentelemetry.sdk.trace.export import SpanExportResult

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.testing.stream_workload import SPEC, to_sdk, traces

from .serve_helpers import (grpc_exporter, http_exporter, metric, metrics_text,
                                 start_serve, store_violations, wait_for, write_spec)

PER_TRACE = ("no_error", "auth_before_charge", "answered", "fast_queries")


def file_mode(ts, props=None) -> set:
    mon = Monitor(tracelogic.load(SPEC, filename="shop.spec"), properties=props)
    for t in ts:
        mon.feed(t)
    return {(v.prop.name, v.key, tuple(v.span_ids)) for v in mon.close().violations}


def keyset(bodies) -> set:
    return {(v["property"], v["key"], tuple(v["span_ids"])) for v in bodies}


# ----------------------------------------------------------------------- crash


def test_sigkill_during_load_keeps_every_reported_violation(tmp_path):
    sp = start_serve(tmp_path, "--idle", "100ms", "--lateness", "100ms")
    ts = list(traces(3000, orders=2000, seed=21))
    stop = threading.Event()
    acked = []

    def load():
        h = http_exporter(sp, timeout=5)
        for t in ts:
            if stop.is_set():
                return
            if h.export(to_sdk(t)) is SpanExportResult.SUCCESS:
                acked.append(t)
    th = threading.Thread(target=load)
    th.start()
    wait_for(lambda: sum(1 for r in sp.logs() if r.get("msg") == "violation") >= 20, 60,
             "violations to be reported")
    sp.kill()  # SIGKILL while the load generator is still sending
    stop.set()
    th.join()
    reported = [r["violation"] for r in sp.logs() if r.get("msg") == "violation"]
    assert len(reported) >= 20 and len(acked) < len(ts)
    stored = store_violations(sp.store)
    assert keyset(reported) <= keyset(stored)  # everything reported was committed first
    # and what is stored is right: each is a violation file mode finds in what was sent
    assert keyset(stored) <= file_mode(ts[:len(acked) + 2])
    sp2 = start_serve(tmp_path, "--idle", "100ms", store=sp.store, name="serve2")
    assert keyset(reported) <= keyset(sp2.violations())
    assert sp2.terminate() == 0


def test_journal_replays_open_traces_after_sigkill(tmp_path):
    # the idle timeout is long: every acknowledged trace is still open when the process dies
    sp = start_serve(tmp_path, "--journal", "--idle", "60s")
    ts = list(traces(150, orders=120, seed=22))
    h, g = http_exporter(sp), grpc_exporter(sp)
    for i, t in enumerate(ts):
        assert (h if i % 2 else g).export(to_sdk(t)) is SpanExportResult.SUCCESS
    assert sp.violations() == []
    sp.kill()
    expected = file_mode(ts)
    per_trace = {k for k in expected if k[0] in PER_TRACE}
    assert per_trace
    sp2 = start_serve(tmp_path, "--journal", "--idle", "200ms", "--lateness", "1s",
                      store=sp.store, name="serve2")
    wait_for(lambda: per_trace <= keyset(sp2.violations()), 30, "replayed verdicts")
    assert sp2.terminate() == 0
    assert keyset(sp2.violations()) == expected  # cross-trace ones too: nothing was released
    replayed = [r for r in sp2.logs() if r.get("msg") == "journal replayed"]
    assert replayed and replayed[0]["spans"] == sum(len(t) for t in ts)


def test_without_journal_open_traces_die_with_the_process(tmp_path):
    """The documented other side: no --journal, SIGKILL, restart: open traces are gone."""
    sp = start_serve(tmp_path, "--idle", "60s")
    ts = list(traces(40, seed=23))
    h = http_exporter(sp)
    for t in ts:
        assert h.export(to_sdk(t)) is SpanExportResult.SUCCESS
    sp.kill()
    sp2 = start_serve(tmp_path, "--idle", "100ms", store=sp.store, name="serve2")
    time.sleep(1.0)
    assert sp2.terminate() == 0
    assert sp2.violations() == [] and file_mode(ts)


def test_sigterm_drains_and_decides_open_traces(tmp_path):
    sp = start_serve(tmp_path, "--idle", "60s")
    ts = list(traces(80, orders=60, seed=24))
    g = grpc_exporter(sp)
    for t in ts:
        assert g.export(to_sdk(t)) is SpanExportResult.SUCCESS
    assert sp.violations() == []
    assert sp.terminate() == 0
    assert keyset(sp.violations()) == file_mode(ts)
    msgs = [r.get("msg") for r in sp.logs()]
    assert "shutting down" in msgs and msgs[-1] == "stopped"


# ----------------------------------------------------------------------- overload


class CountingSession(requests.Session):
    """Counts, per HTTP attempt the exporter makes, the spans it sent and the status."""

    def __init__(self, counts: dict, lock: threading.Lock):
        super().__init__()
        self.counts, self.lock = counts, lock

    def request(self, method, url, *a, data=None, **kw):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest)
        req = ExportTraceServiceRequest.FromString(data)
        n = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        r = super().request(method, url, *a, data=data, **kw)
        with self.lock:
            self.counts[r.status_code] = self.counts.get(r.status_code, 0) + n
            self.counts[("requests", r.status_code)] = \
                self.counts.get(("requests", r.status_code), 0) + 1
        return r


def test_overload_gets_429_and_every_span_is_accounted_for(tmp_path):
    sp = start_serve(tmp_path, "--queue-spans", "5", "--idle", "100ms", grpc=False)
    ts = list(traces(120, seed=25))
    attempts: dict[int, int] = {}
    results = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def sender(part):
        h = http_exporter(sp, session=CountingSession(attempts, lock), timeout=4)
        for t in part:
            r = h.export(to_sdk(t))
            with lock:
                results["ok" if r is SpanExportResult.SUCCESS else "failed"] += len(t)
    threads = [threading.Thread(target=sender, args=(ts[i::8],)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    text = metrics_text(sp)
    processed = metric(text, "tracelogic_spans_processed_total")
    refused = metric(text, "tracelogic_spans_refused_total", reason="queue_full")
    assert attempts.get(429, 0) > 0, "the load did not overload the queue"
    assert set(attempts) <= {200, 429, ("requests", 200), ("requests", 429)}
    # at the exporter: every attempt was either processed or refused and counted
    assert attempts[200] == processed
    assert attempts[429] == refused
    assert metric(text, "tracelogic_requests_total", outcome="busy") > 0
    # per export call: what the exporter reports as sent is what was processed
    assert results["ok"] == processed
    assert results["ok"] + results["failed"] == sum(map(len, ts))
    # at the server: received = processed + refused, in spans and in requests
    assert metric(text, "tracelogic_spans_received_total") == processed + refused
    assert metric(text, "tracelogic_requests_total", signal="traces", outcome="ok") == \
        attempts[("requests", 200)]
    assert metric(text, "tracelogic_requests_total", signal="traces", outcome="busy") == \
        attempts[("requests", 429)]
    assert metric(text, "tracelogic_requests_total", signal="traces") == \
        attempts[("requests", 200)] + attempts[("requests", 429)]
    sp.terminate()


def test_overload_over_grpc_is_resource_exhausted_with_retry_info(tmp_path):
    import grpc

    from tracelogic.testing.stream_workload import request_bytes
    from tracelogic.sidecar.grpc_receiver import TRACE_METHOD

    sp = start_serve(tmp_path, "--queue-spans", "5", "--idle", "100ms", http=False)
    ts = list(traces(160, seed=26))
    codes: dict = {}
    sent = {"ok": 0}
    lock = threading.Lock()

    def sender(part):
        with grpc.insecure_channel(sp.grpc) as ch:
            call = ch.unary_unary(TRACE_METHOD, request_serializer=None,
                                  response_deserializer=None)
            for t in part:
                try:
                    call(request_bytes(t), timeout=10)
                    code, retry = grpc.StatusCode.OK, None
                except grpc.RpcError as e:
                    code = e.code()
                    retry = dict(e.trailing_metadata()).get("google.rpc.retryinfo-bin")
                    assert retry is not None  # the exporter's backoff hint
                with lock:
                    codes[code] = codes.get(code, 0) + len(t)
                    if code is grpc.StatusCode.OK:
                        sent["ok"] += len(t)
    threads = [threading.Thread(target=sender, args=(ts[i::8],)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert codes.get(grpc.StatusCode.RESOURCE_EXHAUSTED, 0) > 0
    text = metrics_text_grpc_only(sp)
    assert metric(text, "tracelogic_spans_processed_total") == sent["ok"]
    assert metric(text, "tracelogic_spans_refused_total", reason="queue_full") == \
        codes[grpc.StatusCode.RESOURCE_EXHAUSTED]
    sp.terminate()


def metrics_text_grpc_only(sp) -> str:
    """No HTTP port: read the final counters from the `stopped` log line instead."""
    sp.terminate()
    rec = [r for r in sp.logs() if r.get("msg") == "metrics"]
    assert rec, "serve logs its counters when it stops"
    return rec[-1]["prometheus"]


# ----------------------------------------------------------------------- reload


def test_sighup_reload_keeps_open_instances_of_unchanged_properties(tmp_path):
    import signal

    from tracelogic.ingest.spans import Span

    spec = write_spec(tmp_path)
    sp = start_serve(tmp_path, "--idle", "100ms", "--lateness", "0s", spec=spec)
    t0 = 1_700_000_000 * 10**9

    def one_charge(start, seed):  # a clean checkout of order o-0 (orders=1), charged once
        return next(t for t in traces(50, orders=1, seed=seed, start_ns=start)
                    if sum(s.name == "charge" for s in t) == 1 and len(t) == 9)

    def ping(start, tid):  # moves the watermark on
        return [Span(name="ping", trace_id=tid, span_id="1" * 16, start_ns=start,
                     end_ns=start + 1)]
    h = http_exporter(sp)
    assert h.export(to_sdk(one_charge(t0, 27))) is SpanExportResult.SUCCESS
    assert h.export(to_sdk(ping(t0 + 10**10, "a" * 32))) is SpanExportResult.SUCCESS
    wait_for(lambda: metric(metrics_text(sp), "tracelogic_open_instances") >= 1, 10,
             "an open instance for o-0")
    spec.write_text(SPEC.replace('G !(name == "panic")', 'G !(name == "fatal")'))
    sp.proc.send_signal(signal.SIGHUP)
    rec = wait_for(lambda: [r for r in sp.logs() if r.get("msg") == "reloaded"], 10, "reload")
    assert "no_double_charge" in rec[0]["kept"] and rec[0]["restarted"] == ["no_panic"]
    spec.write_text("property broken: G (")  # a bad spec is refused, the old one keeps running
    sp.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: [r for r in sp.logs() if r.get("msg", "").startswith("reload failed")],
             10, "the failed reload")
    assert h.export(to_sdk(one_charge(t0 + 2 * 10**10, 28))) is SpanExportResult.SUCCESS
    assert sp.terminate() == 0
    doubles = [v for v in sp.violations() if v["property"] == "no_double_charge"]
    # each trace charged o-0 once: the violation needs the instance from before the reload
    assert len(doubles) == 1 and doubles[0]["key"] == "o-0"


# ----------------------------------------------------------------------- forwarding


def test_forward_passes_everything_on_to_an_upstream(tmp_path):
    up = start_serve(tmp_path, "--idle", "100ms", "--lateness", "1s", name="upstream",
                     store=tmp_path / "up.db")
    a = start_serve(tmp_path, "--forward", up.http, name="a", store=tmp_path / "a.db")
    b = start_serve(tmp_path, "--forward", f"grpc://{up.grpc}", name="b",
                    store=tmp_path / "b.db")
    ts = list(traces(60, orders=50, seed=28))
    ha, gb = http_exporter(a), grpc_exporter(b)
    for i, t in enumerate(ts):
        assert (ha if i % 2 else gb).export(to_sdk(t)) is SpanExportResult.SUCCESS
    wait_for(lambda: metric(metrics_text(up), "tracelogic_spans_processed_total")
             >= sum(map(len, ts)), 20, "forwarded spans upstream")
    assert a.terminate() == 0 and b.terminate() == 0
    assert up.terminate() == 0
    assert keyset(up.violations()) == file_mode(ts)


# ----------------------------------------------------------------------- sharding


def test_sharding_by_routing_key_gives_the_single_process_violations(tmp_path):
    """Split one workload as the Collector's load-balancing exporter would: per-trace
    properties by trace id over 3 sidecars, `per attr["order.id"]` by order id over 2,
    `global` on 1. The union of their violations is the single sidecar's."""
    from tracelogic.engine.stream import routing_keys

    spec = tracelogic.load(SPEC, filename="shop.spec")
    assert routing_keys(spec) == ["trace_id", 'attr["order.id"]', "global"]
    fast = ("--idle", "100ms", "--lateness", "1s")
    per_trace = [a for p in PER_TRACE for a in ("--property", p)]
    groups = {
        "trace": [start_serve(tmp_path, *fast, *per_trace, name=f"t{i}", store=tmp_path /
                              f"t{i}.db", grpc=False) for i in range(3)],
        "order": [start_serve(tmp_path, *fast, "--property", "no_double_charge",
                              name=f"o{i}", store=tmp_path / f"o{i}.db", grpc=False)
                  for i in range(2)],
        "global": [start_serve(tmp_path, *fast, "--property", "no_panic", name="g",
                               store=tmp_path / "g.db", grpc=False)],
    }
    single = start_serve(tmp_path, *fast, name="single", store=tmp_path / "single.db",
                         grpc=False)
    exporters = {k: [http_exporter(sp) for sp in v] for k, v in groups.items()}
    one = http_exporter(single)
    ts = list(traces(240, orders=150, seed=29))
    for t in ts:
        tid = t[0].trace_id
        order = next(s.attrs["order.id"] for s in t if not s.parent_id)
        sdk = to_sdk(t)
        route = {"trace": int(tid, 16) % 3, "order": zlib.crc32(order.encode()) % 2,
                 "global": 0}
        for k, i in route.items():
            assert exporters[k][i].export(sdk) is SpanExportResult.SUCCESS
        assert one.export(sdk) is SpanExportResult.SUCCESS
    union = set()
    for sps in groups.values():
        for sp in sps:
            assert sp.terminate() == 0
            union |= keyset(sp.violations())
    assert single.terminate() == 0
    expected = keyset(single.violations())
    assert expected == file_mode(ts)
    assert union == expected
    assert {k[0] for k in expected} >= {"no_error", "no_double_charge", "no_panic"}
    # and the shards really split the work
    assert all(0 < len(sp.violations()) < len(expected) for sp in groups["trace"])
