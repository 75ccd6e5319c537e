"""The engine thread survives any single bad trace, a failing store and a stuck batch:
what fails is counted (``tracelogic_engine_errors_total``,
``tracelogic_monitor_failures_total``) and logged, every request is answered, nothing
committed is lost. The sidecar runs in this process (real SQLite, real threads); the
faults are injected by replacing one method, because no input should be able to cause
them any more (the decoders' text rule) -- this is the last line of defence."""
from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading

import pytest

from tracelogic.sidecar.server import ServeConfig, Sidecar, setup_logging
from tracelogic.engine.stream import SECOND, StreamingMonitor

from ingest.otlp_badtext import BAD_TRACE, GOOD_TRACE, request_json
from .serve_helpers import metric, store_violations, wait_for, write_spec


def _sidecar(tmp_path, engine: str | None = None):
    log = io.StringIO()
    setup_logging("info", log)
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http=None,
                      store=str(tmp_path / "v.db"), idle_ns=SECOND // 20, lateness_ns=SECOND,
                      engine=engine)
    sc = Sidecar(cfg)
    sc.log = log
    sc.start()
    yield sc
    sc.stop()
    logging.getLogger("tracelogic").handlers.clear()


@pytest.fixture
def sidecar(tmp_path):
    yield from _sidecar(tmp_path)


@pytest.fixture
def python_sidecar(tmp_path):
    """On the Python engine: the fault below is injected into its per-trace monitoring
    (the core runs every property of this spec, so the default engine would not reach it)."""
    yield from _sidecar(tmp_path, "python")


def records(sc) -> list[dict]:
    return [json.loads(line) for line in sc.log.getvalue().splitlines()]


def stored_keys(sc, prop: str = "no_error") -> set[str]:
    return {v["key"] for v in store_violations(sc.config.store) if v["property"] == prop}


def test_a_trace_whose_monitoring_raises_is_counted_and_skipped(python_sidecar, monkeypatch):
    sidecar = python_sidecar
    real = StreamingMonitor._complete

    def buggy(self, trace):
        if trace.trace_id == BAD_TRACE:
            raise ZeroDivisionError("a bug in one property")
        return real(self, trace)
    monkeypatch.setattr(StreamingMonitor, "_complete", buggy)
    out = sidecar.handle("traces", "json", request_json(None), "http")
    assert out.status == "ok" and out.rejected == 0
    wait_for(lambda: GOOD_TRACE in stored_keys(sidecar), 20, "the other trace's violation")
    wait_for(lambda: metric(sidecar.metrics.render(), "tracelogic_monitor_failures_total") == 1,
             20, "the failure to be counted")
    assert sidecar.healthy
    failed = [r for r in records(sidecar) if r["msg"] == "monitoring failed; skipped"]
    assert len(failed) == 1 and BAD_TRACE in failed[0]["what"]
    assert "ZeroDivisionError" in failed[0]["what"]
    # and it keeps serving
    assert sidecar.handle("traces", "json", request_json(None), "http").status == "ok"


def test_a_failing_store_is_survived_and_the_violations_are_kept(sidecar, monkeypatch):
    store = sidecar.store
    real = store.add_violations
    failing = threading.Event()
    failing.set()
    calls = []

    def flaky(bodies):
        calls.append(len(bodies))
        if failing.is_set():
            raise sqlite3.OperationalError("disk I/O error")
        return real(bodies)
    monkeypatch.setattr(store, "add_violations", flaky)
    assert sidecar.handle("traces", "json", request_json(None), "http").status == "ok"
    # the idle timer decides the traces; committing their violations fails, again and again
    wait_for(lambda: len(calls) >= 3, 20, "commits to be tried")
    assert stored_keys(sidecar) == set()
    assert metric(sidecar.metrics.render(), "tracelogic_engine_errors_total",
                  stage="commit") >= 3
    assert sidecar.healthy
    failing.clear()  # the disk is back: the kept violations are committed, none lost
    wait_for(lambda: GOOD_TRACE in stored_keys(sidecar), 20, "the kept violation")
    assert sidecar.handle("traces", "json", request_json(None), "http").status == "ok"


def stick_engine(sc, monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Make ``sc``'s engine hang on its next batch (for up to 30 s) and receivers give up
    after 0.3 s: ``(entered, release)``, set when the engine is stuck and to free it."""
    sc.config.engine_wait_s = 0.3
    entered, release = threading.Event(), threading.Event()
    real = Sidecar._process

    def stuck(self, items):
        if items:
            entered.set()
            release.wait(30)
        return real(self, items)
    monkeypatch.setattr(Sidecar, "_process", stuck)
    return entered, release


def test_a_receiver_never_waits_forever_for_a_stuck_engine(sidecar, monkeypatch):
    real = Sidecar._process
    entered, release = stick_engine(sidecar, monkeypatch)
    out = sidecar.handle("traces", "json", request_json(None), "http")
    assert entered.is_set() and not release.is_set()
    assert out.status == "unavailable" and "retry" in out.message
    assert metric(sidecar.metrics.render(), "tracelogic_requests_total",
                  outcome="unavailable") == 1
    release.set()
    monkeypatch.setattr(Sidecar, "_process", real)
    assert sidecar.handle("traces", "json", request_json(None), "http").status == "ok"
    assert sidecar.healthy


def test_an_error_outside_any_stage_is_survived_by_the_loop(sidecar, monkeypatch):
    real = Sidecar._maybe_retain
    boom = []

    def failing(self, force=False):
        if not boom:
            boom.append(1)
            raise RuntimeError("retention bug")
        return real(self, force)
    monkeypatch.setattr(Sidecar, "_maybe_retain", failing)
    wait_for(lambda: boom, 20, "the loop to run")
    assert sidecar.handle("traces", "json", request_json(None), "http").status == "ok"
    assert metric(sidecar.metrics.render(), "tracelogic_engine_errors_total", stage="loop") == 1
    assert sidecar.healthy
    assert any(r["msg"] == "engine error survived" and r["stage"] == "loop"
               for r in records(sidecar))


@pytest.fixture
def http_sidecar(tmp_path):
    """With the HTTP receiver, whose OTLP protobuf trace requests are queued from its loop
    and waited for there (not on a worker thread)."""
    log = io.StringIO()
    setup_logging("info", log)
    cfg = ServeConfig(spec_path=str(write_spec(tmp_path)), grpc=None, http="127.0.0.1:0",
                      store=str(tmp_path / "v.db"), idle_ns=SECOND // 20, lateness_ns=SECOND)
    sc = Sidecar(cfg)
    sc.log = log
    sc.start()
    yield sc
    sc.stop()
    logging.getLogger("tracelogic").handlers.clear()


def _post_protobuf(sc, seed: int) -> tuple[int, dict]:
    import http.client

    from tracelogic.testing.stream_workload import request_bytes, traces
    port = int(sc.addresses()["http"].rsplit(":", 1)[1])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/traces", body=request_bytes(next(iter(traces(1, seed=seed)))),
              headers={"Content-Type": "application/x-protobuf"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, dict(r.getheaders())


def test_an_http_request_waited_for_on_the_loop_is_answered_when_the_engine_is_stuck(
        http_sidecar, monkeypatch):
    sc = http_sidecar
    real = Sidecar._process
    entered, release = stick_engine(sc, monkeypatch)
    status, headers = _post_protobuf(sc, 1)
    assert entered.is_set() and not release.is_set()
    assert status == 503 and headers.get("Retry-After") == "1"
    assert metric(sc.metrics.render(), "tracelogic_requests_total", outcome="unavailable",
                  transport="http") == 1
    release.set()
    monkeypatch.setattr(Sidecar, "_process", real)
    assert _post_protobuf(sc, 2)[0] == 200
    assert metric(sc.metrics.render(), "tracelogic_spans_processed_total") >= 10


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_http_request_waited_for_on_the_loop_is_answered_when_the_engine_dies(
        http_sidecar, monkeypatch):
    sc = http_sidecar

    def dies(self, items):
        if items:  # the batch in hand is never finished: only the engine's death tells
            raise SystemExit("engine gone")
        return None
    monkeypatch.setattr(Sidecar, "_process", dies)
    status, headers = _post_protobuf(sc, 3)
    assert status == 503 and "Retry-After" in headers
    wait_for(lambda: not sc.healthy, 10, "the engine to be gone")
    assert _post_protobuf(sc, 4)[0] == 503  # refused at once: the queue is closed
