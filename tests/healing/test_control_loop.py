"""A declared controller run as a healing policy by a real `serve` (docs/control.md §9).

Real parts: the sidecar's HTTP receiver on a loopback socket, the OpenTelemetry
Python SDK's OTLP/HTTP metric exporter, the store's SQLite file, the healing
worker thread. The PID and HPA controllers of docs/control.md drive dry-run
`kubernetes.scale` decisions; the oracle is the exact simulator run on the
same metric sequence.

Timing never decides an assertion: the test sends one data point, then waits
until both policies have decided a period on it before sending the next, so
every period that steps has exactly one point (periods without one are
recorded as `no_metric` skips and do not step the controller).
"""
from __future__ import annotations

import json
import sqlite3
import time

import pytest

import tracelogic
from tracelogic.healing.audit import AuditLog
from tracelogic.healing.worker import HealingWorker
from tracelogic.models.control_sim import simulate
from tracelogic.sidecar import server
from tracelogic.sidecar.store import Store

CONTROLLERS = """
controller pid {
  period 15s
  metric cpu: real
  const dt = 15
  var I: real = 0
  var e_prev: real = 0
  var replicas: int = 3
  let e = 60 - cpu
  let D = (e - e_prev) / dt
  let i_next = I + e * dt
  let u = 1.0 * e + 0.1 * i_next + 0.05 * D
  next I := i_next; e_prev := e; replicas := clamp(replicas + round(u / 10), 2, 10)
}

controller hpa {
  period 15s
  metric cpu: real
  var replicas: int = 4
  let ratio = cpu / 60
  let desired = ite(abs(ratio - 1) <= 0.1, replicas, ceil(replicas * ratio))
  next replicas := clamp(max_over(desired, 300s), 1, 10)
}
"""

SPEC = CONTROLLERS + """
heal pid_scale
  run controller pid on metric "system.cpu.utilization" every 200ms
  do kubernetes.scale(namespace: "shop", deployment: "checkout", replicas: replicas)
  limit 3 per 1h

heal hpa_scale
  run controller hpa on metric "system.cpu.utilization" every 200ms
  do kubernetes.scale(namespace: "shop", deployment: "search", replicas: replicas)
"""

METRIC = [60, 100, 100, 100, 30.5, 45, 90]


class Gauge:
    """The real SDK: a synchronous gauge, collected and exported once per value."""

    def __init__(self, endpoint: str):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.resources import Resource

        self.reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[self.reader],
                                 resource=Resource.create({"service.name": "checkout"}))
        self.gauge = provider.get_meter("test").create_gauge("system.cpu.utilization")
        self.exporter = OTLPMetricExporter(endpoint=endpoint)

    def send(self, value: float) -> None:
        self.gauge.set(value)
        assert self.exporter.export(self.reader.get_metrics_data()).name == "SUCCESS"


def _actions(db: str) -> list[dict]:
    log = AuditLog(db)
    try:
        return log.actions()
    finally:
        log.close()


def _wait(cond, what: str, limit_s: float = 30.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live(tmp_path):
    spec_path = tmp_path / "autoscale.spec"
    spec_path.write_text(SPEC)
    db = str(tmp_path / "serve.db")
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0", store=db,
                             idle_ns=50_000_000, lateness_ns=10**9, execute=False)
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
    assert sidecar.healer is not None
    sidecar.start()
    try:
        gauge = Gauge(f"http://{sidecar.addresses()['http']}/v1/metrics")
        for k, value in enumerate(METRIC):
            gauge.send(value)
            _wait(lambda: all(sum(1 for a in _actions(db) if a["policy"] == p) > k
                              for p in ("pid_scale", "hpa_scale")), f"period {k}")
        yield sidecar, db
    finally:
        sidecar.stop(1)


def _prometheus(sidecar) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://{sidecar.addresses()['http']}/metrics",
                                timeout=10) as r:
        return r.read().decode()


def prom_sample(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, summed over the labels not mentioned."""
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        base, _, rest = head.partition("{")
        if line.startswith("#") or base != name:
            continue
        got = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if all(got.get(k, "").strip('"') == v for k, v in labels.items()):
            total += float(value)
    return total


def _runs(db: str, policy: str) -> list[dict]:
    rows = [a for a in _actions(db) if a["policy"] == policy]
    return sorted(rows, key=lambda a: a["violation"]["controller"]["period"])


def test_decisions_equal_the_simulator_and_the_guards_apply(live):
    sidecar, db = live
    spec = tracelogic.load(SPEC)
    for policy, ctl, deployment in (("pid_scale", "pid", "checkout"),
                                    ("hpa_scale", "hpa", "search")):
        rows = _runs(db, policy)
        assert [r["violation"]["controller"]["period"] for r in rows] == list(range(len(METRIC)))
        # the metric each period read is the value the SDK sent, exactly
        assert [r["violation"]["controller"]["metric"] for r in rows] == \
            [60, 100, 100, 100, "61/2", 45, 90]
        expected = [p.next["replicas"] for p in simulate(spec.controllers[ctl], METRIC)]
        assert [r["args"]["replicas"] for r in rows] == expected
        assert all(r["target"] == f"shop/{deployment}" and r["dry_run"] for r in rows)
    # the PID controller's decisions vary (a real test of the oracle, not a constant)
    assert len({r["args"]["replicas"] for r in _runs(db, "pid_scale")}) > 1
    # limit 3 per 1h: the first three periods are dry-run plans, the rest blocked, and the
    # audit trail says why
    pid = _runs(db, "pid_scale")
    assert [r["state"] for r in pid] == ["dry_run"] * 3 + ["blocked"] * (len(METRIC) - 3)
    log = AuditLog(db)
    try:
        guards = [e for e in log.events(policy="pid_scale") if e.event == "guard"]
        assert len(guards) == len(METRIC) - 3
        assert all(e.outcome == "limit" and "limit 3 per 1h" in e.detail["reason"]
                   for e in guards)
        hpa = _runs(db, "hpa_scale")
        assert all(r["state"] == "dry_run" for r in hpa)  # no limit on this policy
    finally:
        log.close()
    # the real decisions conform: no conformance violation was stored
    assert Store(db).violations(prop="pid_scale.conformance") == []
    assert sidecar.healer.divergences == 0
    # and serve counts the decisions by outcome
    text = _prometheus(sidecar)
    name = "tracelogic_controller_decisions_total"
    assert prom_sample(text, name, policy="pid_scale", outcome="dry_run") == 3
    assert prom_sample(text, name, policy="pid_scale", outcome="blocked") == len(METRIC) - 3
    assert prom_sample(text, name, policy="hpa_scale", outcome="dry_run") == len(METRIC)
    assert prom_sample(text, "tracelogic_controller_divergences_total") == 0


def test_a_tampered_decision_is_flagged(live):
    sidecar, db = live
    row = _runs(db, "hpa_scale")[2]
    tampered = dict(row["args"], replicas=row["args"]["replicas"] + 1)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE heal_actions SET args = ? WHERE id = ?",
                    (json.dumps(tampered), row["id"]))
    found = _wait(lambda: Store(db).violations(prop="hpa_scale.conformance"),
                  "the conformance violation")
    body = found[0].body
    assert body["kind"] == "controller-conformance"
    assert body["details"]["period"] == 2 and body["details"]["what"] == "argument"
    assert body["details"]["recorded"] == tampered["replicas"]
    assert body["details"]["declared"] == row["args"]["replicas"]
    assert sidecar.healer.divergences >= 1
    text = _prometheus(sidecar)
    assert prom_sample(text, "tracelogic_controller_divergences_total",
                       policy="hpa_scale") == sidecar.healer.divergences
    assert Store(db).violations(prop="pid_scale.conformance") == []  # only the tampered one


# ---------------------------------------------------------------- execute, Kubernetes faked

from .test_actions import DEP, FakePool, kube  # noqa: E402,F401  (the fake API server)


def test_execute_scales_through_the_kubernetes_client_as_declared(kube, tmp_path):
    """--execute: the real `kubernetes` client, its HTTP pool faked (test_actions.FakePool),
    receives one PATCH per period whose count differs from the deployment's, with the
    declared count clamped to [kubernetes] min/max_replicas; the trail still conforms."""
    from tracelogic.healing import Controller
    from tracelogic.healing.conformance import check_trail
    from tracelogic.ingest.metrics import DataPoint

    text = CONTROLLERS + """
heal pid_scale
  run controller pid on metric "cpu" every 15s
  do kubernetes.scale(namespace: "shop", deployment: "checkout", replicas: replicas)
"""
    spec = tracelogic.load(text)
    FakePool.answers[("GET", DEP + "/scale")] = {"spec": {"replicas": 3}}
    metric = [60, 20, 20, 100, 100, 0]
    expected = [p.next["replicas"] for p in simulate(spec.controllers["pid"], metric)]
    now = [10**12]
    with Controller(spec, str(tmp_path / "s.db"), kube, execute=True,
                    clock=lambda: now[0]) as ctl:
        outcomes = []
        for m in metric:
            ctl.observe_points([DataPoint("cpu", "gauge", m, now[0])])
            now[0] += 15 * 10**9
            outcomes += [d.outcome for d in ctl.tick_controllers()]
        assert outcomes == ["executed"] * len(metric)
        patches = [r["body"]["spec"]["replicas"] for r in FakePool.requests
                   if r["method"] == "PATCH"]
        assert patches == [min(max(n, 2), 10) for n in expected if min(max(n, 2), 10) != 3]
        assert patches and len(set(expected)) > 1
        assert check_trail(spec, ctl.log).ok
        # each period is the loop's next decision, not a failed verification of the last
        assert not [e for e in ctl.log.events() if e.event == "escalate"]


# ---------------------------------------------------------------- crafted OTLP/JSON requests

def _otlp_json(points: list[tuple[str, object]]) -> bytes:
    """One OTLP/JSON metrics request: a gauge per (metric name, value)."""
    metrics = []
    for i, (name, value) in enumerate(points):
        dp = {"timeUnixNano": str(time.time_ns() + i)}
        dp["asInt" if isinstance(value, int) else "asDouble"] = \
            str(value) if isinstance(value, int) else value
        metrics.append({"name": name, "gauge": {"dataPoints": [dp]}})
    return json.dumps({"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [
        {"scope": {"name": "t"}, "metrics": metrics}]}]}).encode()


def test_only_the_named_metric_steps_the_loop_and_the_latest_point_wins(tmp_path):
    import urllib.request

    text = CONTROLLERS + """
heal hpa_scale
  run controller hpa on metric "cpu" every 200ms
  do kubernetes.scale(namespace: "shop", deployment: "search", replicas: replicas)
"""
    spec_path = tmp_path / "a.spec"
    spec_path.write_text(text)
    db = str(tmp_path / "serve.db")
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0", store=db,
                             idle_ns=50_000_000, lateness_ns=10**9, execute=False)
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
    sidecar.start()
    try:
        url = f"http://{sidecar.addresses()['http']}/v1/metrics"
        # in one request: another metric, then two points of `cpu`: the later one (90) wins
        for body in (_otlp_json([("memory", 99.0), ("cpu", 30.0), ("cpu", 90)]),
                     _otlp_json([("memory", 10.0)]),  # no `cpu`: the loop must not step
                     _otlp_json([("cpu", 120.0)])):
            before = len(_actions(db))
            req = urllib.request.Request(url, data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
            if b'"cpu"' in body:
                _wait(lambda: len(_actions(db)) > before, "a decision")
        log = AuditLog(db)
        try:
            _wait(lambda: any(e.outcome == "no_metric" for e in log.events()), "a skip")
        finally:
            log.close()
    finally:
        sidecar.stop(1)
    rows = _runs(db, "hpa_scale")
    assert [r["violation"]["controller"]["metric"] for r in rows] == [90, 120]
    spec = tracelogic.load(text)
    assert [r["args"]["replicas"] for r in rows] == \
        [p.next["replicas"] for p in simulate(spec.controllers["hpa"], [90, 120])]


# ---------------------------------------------------------------- state across restarts

def _serve(tmp_path, text: str):
    spec_path = tmp_path / "autoscale.spec"
    spec_path.write_text(text)
    cfg = server.ServeConfig(spec_path=str(spec_path), grpc=None, http="127.0.0.1:0",
                             store=str(tmp_path / "serve.db"), idle_ns=50_000_000,
                             lateness_ns=10**9, execute=False)
    sidecar = server.Sidecar(cfg, healer=HealingWorker)
    sidecar.start()
    return sidecar, Gauge(f"http://{sidecar.addresses()['http']}/v1/metrics")


def _feed(sidecar, gauge, db: str, values, policies) -> None:
    for value in values:
        before = {p: len(_runs(db, p)) for p in policies}
        gauge.send(value)
        _wait(lambda: all(len(_runs(db, p)) > before[p] for p in policies), f"{value}")


def test_a_restarted_serve_continues_the_run_with_its_integral_and_window(tmp_path):
    """The PID's integral and previous error, and the HPA's stabilization window, are in
    the store after every period; a new serve on the same store continues the run: its
    decisions are the simulator's on the whole metric sequence (not on the part after the
    restart), and the conformance check replays the run across the restart as one."""
    db = str(tmp_path / "serve.db")
    cut = 4
    sidecar, gauge = _serve(tmp_path, SPEC)
    try:
        _feed(sidecar, gauge, db, METRIC[:cut], ("pid_scale", "hpa_scale"))
    finally:
        sidecar.stop(1)
    sidecar, gauge = _serve(tmp_path, SPEC)
    try:
        _feed(sidecar, gauge, db, METRIC[cut:], ("pid_scale", "hpa_scale"))
        _wait(lambda: sidecar.healer is not None, "the healer")
        divergences = sidecar.healer.divergences
    finally:
        sidecar.stop(1)
    spec = tracelogic.load(SPEC)
    for policy, ctl in (("pid_scale", "pid"), ("hpa_scale", "hpa")):
        rows = _runs(db, policy)
        periods = [r["violation"]["controller"] for r in rows]
        assert [c["period"] for c in periods] == list(range(len(METRIC)))
        assert len({c["run"] for c in periods}) == 1, "the restart started a new run"
        whole = simulate(spec.controllers[ctl], METRIC)
        assert [r["args"]["replicas"] for r in rows] == [p.next["replicas"] for p in whole]
        # the first period after the restart starts where the last one before it ended
        assert periods[cut]["state"] == periods[cut - 1]["next"]
    pid_whole = simulate(spec.controllers["pid"], METRIC)
    assert pid_whole[cut].state["I"] != 0  # the integral that a reset would have lost
    reset = simulate(spec.controllers["pid"], METRIC[cut:])
    assert [p.next["replicas"] for p in reset] != \
        [p.next["replicas"] for p in pid_whole[cut:]]  # so the test tells them apart
    assert divergences == 0
    assert Store(db).violations(prop="pid_scale.conformance") == []
    assert Store(db).violations(prop="hpa_scale.conformance") == []


def test_a_changed_declaration_or_an_unreadable_state_starts_a_new_run(tmp_path):
    db = str(tmp_path / "serve.db")
    hpa_only = CONTROLLERS + """
heal hpa_scale
  run controller hpa on metric "system.cpu.utilization" every 200ms
  do kubernetes.scale(namespace: "shop", deployment: "search", replicas: replicas)
"""
    for text, values in ((hpa_only, [100, 100]),
                         (hpa_only.replace("var replicas: int = 4", "var replicas: int = 5"),
                          [100]),
                         (None, [100])):
        if text is None:  # the same declaration, its saved state damaged
            with sqlite3.connect(db) as con:
                con.execute("UPDATE heal_controller_state SET state = "
                            "json_set(state, '$.state', json('{\"nope\": 1}'))")
            text = prev
        sidecar, gauge = _serve(tmp_path, text)
        try:
            _feed(sidecar, gauge, db, values, ("hpa_scale",))
        finally:
            sidecar.stop(1)
        prev = text
    rows = sorted(_runs(db, "hpa_scale"), key=lambda r: (  # run ids are start times
        int(r["violation"]["controller"]["run"]), r["violation"]["controller"]["period"]))
    runs = [r["violation"]["controller"]["run"] for r in rows]
    assert len(set(runs)) == 3 and runs[0] == runs[1]
    assert [r["violation"]["controller"]["period"] for r in rows] == [0, 1, 0, 0]
    assert [r["violation"]["controller"]["state"]["replicas"] for r in rows] == [4, 7, 5, 5]
    with sqlite3.connect(db) as con:
        mode = con.execute("PRAGMA table_info(heal_controller_state)").fetchall()
    assert mode  # kept in the store itself (private: tests/sidecar/test_store_permissions.py)
