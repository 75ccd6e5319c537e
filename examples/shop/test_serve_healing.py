"""The five scenarios live: the real `tracelogic serve` and its healing controller, dry-run.

For each scenario, two sidecars are started as real processes on free loopback ports
(`--grpc off --http 127.0.0.1:0`, dry-run, the controller configuration of
examples/shop/controller.toml with its webhook pointed at a local receiver): one for the
fault run, one for the control run. The shop's own OpenTelemetry exporters send every
span (and metric point) both to the file sink and to the sidecar. The test then

- waits until the sidecar has processed every span the shop exported (its `/metrics`),
  and, where the property can be decided while the sidecar runs, until the violations
  and the controller's decisions on them are committed: per-trace properties after
  `--idle`, metric invariants at the data point. Cross-trace span properties (`per
  service`, `per attr[...]`) wait for the watermark (`--lateness`, 30 s), which a run of a
  few seconds never passes: SIGTERM releases and decides them (docs/serve.md);
- stops the sidecar with SIGTERM (exit 0; nothing late, nothing evicted);
- asserts the stored violations (the same as `tracelogic monitor` gives for the file) and,
  from `tracelogic audit --format json`, the exact plan of every policy: the action, its
  target and arguments, `dry_run` (or the guard that blocked it); that nothing was
  executed (no `execute` event, no webhook request, no breaker callback); and that
  `tracelogic audit --verify SPEC` (std.healing and each policy's limit) holds;
- and for the control run: no violation, no audit event, no action.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from shopdemo.scenarios import run
from shopdemo.serving import Serve, tl, tl_json

from tracelogic.ingest.otlp import read_path

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 2**20
REPORT_QUERY = "SELECT sku, SUM(qty) FROM stock GROUP BY sku ORDER BY sku"
CONTROLLER_URL = "https://hooks.example/dba"   # in controller.toml; replaced per test
SECRET = "shopdemo-test-secret"


def spec(name: str) -> str:
    return os.path.join(HERE, "specs", f"{name}.spec")


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request (dry-run: none)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dba"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver():
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@dataclass
class Served:
    """What one run through the sidecar left behind."""

    store: str                   # the sidecar's SQLite store
    traces: str                  # the same spans, as the file sink wrote them
    metrics: str | None
    live: list[dict]             # violations committed while the sidecar ran
    violations: list[dict]       # all, after SIGTERM
    audit: dict                  # `tracelogic audit --format json`
    stopped: dict                # the sidecar's final counters (its "stopped" log line)
    breaker_log: str             # where the breaker callback would have written

    def actions(self, policy: str) -> list[dict]:
        return [a for a in self.audit["actions"] if a["policy"] == policy]

    def monitor(self, name: str) -> dict:
        argv = ["monitor", spec(name), self.traces]
        if self.metrics:
            argv += ["--metrics", self.metrics]
        return tl_json(*argv)[1]


def controller_config(tmp_path, receiver: Receiver) -> str:
    with open(os.path.join(HERE, "controller.toml"), encoding="utf-8") as f:
        text = f.read()
    assert text.count(CONTROLLER_URL) == 1, "controller.toml no longer has the dba webhook"
    path = tmp_path / "controller.toml"
    path.write_text(text.replace(CONTROLLER_URL, receiver.url))
    return str(path)


def serve_both(tmp_path, receiver: Receiver, scenario: str, spec_name: str,
               live: dict[str, int]) -> tuple[Served, Served]:
    """The fault run and the control run, each through its own sidecar.

    ``live`` maps a policy to the number of audit `plan` events that must be committed
    before SIGTERM (the violations decided while the sidecar runs); the fault run waits
    for them, the control run checks that none appear.
    """
    config = controller_config(tmp_path, receiver)
    env = {"SHOPDEMO_DBA_SECRET": SECRET,  # controller.toml: the webhook's secret_env
           # controller.toml: the breaker callback is shopdemo.breaker:set_state
           "PYTHONPATH": os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p)}
    results = {}
    with contextlib.ExitStack() as stack:
        sidecars = {}
        for fault in (True, False):  # launch both, then wait: the two start concurrently
            work = tmp_path / ("fault" if fault else "control")
            breaker_log = str(work / "breaker.jsonl")
            sv = Serve(spec(spec_name), str(work), "--controller-config", config,
                       "--idle", "3s",
                       env={**env, "SHOPDEMO_BREAKER_LOG": breaker_log}).launch()
            stack.enter_context(sv)  # always stopped (SIGTERM, then SIGKILL)
            sidecars[fault] = (sv, breaker_log)
        for fault, (sv, breaker_log) in sidecars.items():
            sv.ready()
            paths = run(scenario, str(sv.workdir), fault=fault, also=[sv.http])
            exported = len(read_path(paths["traces"]).spans)
            assert exported > 0
            sv.wait_for(lambda: sv.metric("tracelogic_spans_processed_total") == exported,
                        f"serve to process the {exported} spans the shop exported")

            def planned() -> dict[str, int]:
                events = tl_json("audit", "--store", sv.store)[1]["events"]
                return {p: sum(e["event"] == "plan" and e["policy"] == p for e in events)
                        for p in live}
            if fault:
                sv.wait_for(lambda: planned() == live,
                            f"the controller's live decisions {live}", timeout=30)
            committed = sv.violations()
            assert sv.stop() == 0, sv.log_text()
            stopped = [r for r in sv.logs() if r.get("msg") == "stopped"]
            assert len(stopped) == 1, sv.log_text()
            assert [r for r in sv.logs() if r.get("level") == "error" or "raw" in r] == []
            results[fault] = Served(
                sv.store, paths["traces"], paths["metrics"], committed, sv.violations(),
                tl_json("audit", "--store", sv.store)[1], stopped[0], breaker_log)
            assert results[fault].stopped["spans"] == exported
    return results[True], results[False]


def assert_dry_run(s: Served, receiver: Receiver, spec_name: str) -> None:
    """Nothing was executed, every event is a dry-run one, and std.healing holds."""
    assert s.audit["events"], "the controller recorded nothing"
    assert all(e["dry_run"] for e in s.audit["events"])
    assert {e["event"] for e in s.audit["events"]} <= {"plan", "dry_run", "guard"}
    assert all(a["dry_run"] and a["result"] is None for a in s.audit["actions"])
    assert receiver.requests == []
    assert not os.path.exists(s.breaker_log)
    code, out, err = tl("audit", "--store", s.store, "--verify", spec(spec_name))
    assert code == 0, out + err
    assert "0 violated" in out and "limit_" in out


def assert_quiet(s: Served) -> None:
    """The control run: spans arrived, nothing was violated, nothing planned."""
    assert s.stopped["spans"] > 0
    assert (s.stopped["late_events"], s.stopped["traces_evicted"]) == (0, 0)
    assert s.violations == [] and s.live == []
    assert s.audit["events"] == [] and s.audit["actions"] == []
    assert not os.path.exists(s.breaker_log)


def identity(v: dict) -> tuple:
    return (v["property"], v["key"], tuple(v["trace_ids"]), tuple(v["span_ids"]),
            v["message"], json.dumps(v.get("values"), sort_keys=True))


def assert_monitor_agrees(s: Served, spec_name: str) -> None:
    """The sidecar stored exactly what `tracelogic monitor` reports for the same spans."""
    doc = s.monitor(spec_name)
    assert sorted(map(identity, s.violations)) == sorted(map(identity, doc["violations"]))
    assert (s.stopped["late_events"], s.stopped["late_spans"], s.stopped["traces_evicted"]) \
        == (0, 0, 0)


def by_state(actions: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for a in actions:
        out.setdefault(a["state"], []).append(a)
    return out


# ---------------------------------------------------------------- cascading failure

def test_cascade_plans_the_breaker_and_a_database_replica(tmp_path, receiver):
    fault, control = serve_both(tmp_path, receiver, "cascade", "cascade",
                                live={"open_orders_breaker": 6})
    # decided while serving: the 12 per-trace violations; db_latency (per service) at SIGTERM
    assert sorted(v["property"] for v in fault.live) == ["checkout_ok"] * 6 + ["orders_ok"] * 6
    assert sorted({v["property"] for v in fault.violations}) == [
        "checkout_ok", "db_latency", "orders_ok"]
    assert_monitor_agrees(fault, "cascade")

    breaker = by_state(fault.actions("open_orders_breaker"))
    assert sorted(breaker) == ["blocked", "dry_run"]
    [planned] = breaker["dry_run"]
    assert (planned["action"], planned["target"]) == ("circuit_breaker", "gateway->orders")
    assert planned["args"] == {"name": "gateway->orders", "state": "open"}
    assert planned["plan"] == {"action": "circuit_breaker",
                               "args": {"name": "gateway->orders", "state": "open"}}
    assert planned["violation"]["property"] == "checkout_ok"
    # the first checkout violation is planned; the 5 others fall in the 5m cooldown
    first = min((v for v in fault.violations if v["property"] == "checkout_ok"),
                key=lambda v: v["id"])
    assert planned["violation"]["key"] == first["key"]
    assert len(breaker["blocked"]) == 5
    assert all(a["reason"].startswith("cooldown: acted on gateway->orders ")
               and a["reason"].endswith("; cooldown 5m") for a in breaker["blocked"])

    [scale] = fault.actions("scale_inventory_db")
    assert (scale["state"], scale["action"], scale["target"]) == (
        "dry_run", "kubernetes.scale", "shop/inventory-db")
    assert scale["plan"] == {"action": "kubernetes.scale", "namespace": "shop",
                             "deployment": "inventory-db", "delta": 1,
                             "min_replicas": 1, "max_replicas": 6}
    assert scale["violation"] == {"property": "db_latency", "key": "inventory"}
    assert len(fault.audit["actions"]) == 7
    assert_dry_run(fault, receiver, "cascade")
    assert_quiet(control)


# ---------------------------------------------------------------- slow database query

def test_slow_query_plans_a_signed_webhook_to_the_dba(tmp_path, receiver):
    fault, control = serve_both(tmp_path, receiver, "slow-query", "slow_query", live={})
    assert fault.live == []  # `per attr["db.query.text"]`: released by the watermark
    [v] = fault.violations
    assert (v["property"], v["key"]) == ("query_fast", REPORT_QUERY)
    assert_monitor_agrees(fault, "slow_query")

    [action] = fault.audit["actions"]
    assert (action["policy"], action["action"], action["state"], action["target"]) == (
        "notify_dba", "webhook", "dry_run", "inventory-db")
    assert action["plan"] == {
        "action": "webhook", "endpoint": "dba", "url": receiver.url, "signed": True,
        "fields": {"owner": "dba", "query": REPORT_QUERY, "target": "inventory-db"}}
    assert action["violation"] == {"property": "query_fast", "key": REPORT_QUERY}
    assert_dry_run(fault, receiver, "slow_query")
    assert_quiet(control)


# ---------------------------------------------------------------- memory leak

def test_memory_leak_plans_a_restart_of_orders(tmp_path, receiver):
    fault, control = serve_both(tmp_path, receiver, "memory-leak", "memory",
                                live={"restart_leaking": 1})
    # a metric invariant is decided at the data point, while the sidecar runs
    [v] = fault.live
    assert fault.violations == fault.live
    assert (v["property"], v["key"], v["span_ids"]) == ("memory_fits", "orders", [])
    assert v["values"]["memory_usage"] >= 96 * MiB
    # the file got its own metric reader's points: the same finding, not the same values
    [m] = fault.monitor("memory")["violations"]
    assert (m["property"], m["key"]) == ("memory_fits", "orders")

    [action] = fault.audit["actions"]
    assert (action["policy"], action["action"], action["state"], action["target"]) == (
        "restart_leaking", "kubernetes.restart", "dry_run", "shop/orders")
    assert action["args"] == {"deployment": "orders", "namespace": "shop"}
    assert action["plan"] == {
        "action": "kubernetes.restart", "deployment": "orders", "namespace": "shop",
        "request": "PATCH deployment pod-template annotation kubectl.kubernetes.io/restartedAt"}
    assert action["violation"] == {"property": "memory_fits", "key": "orders"}
    assert fault.stopped["points"] > 0
    assert_dry_run(fault, receiver, "memory")
    assert_quiet(control)
    assert control.stopped["points"] > 0


# ---------------------------------------------------------------- network partition

def test_partition_plans_read_only_mode_once(tmp_path, receiver):
    fault, control = serve_both(tmp_path, receiver, "partition", "partition", live={})
    assert fault.live == []  # `per attr["kv.round"]`: released by the watermark
    assert [int(v["key"]) for v in fault.violations] == list(range(9, 29))
    assert_monitor_agrees(fault, "partition")

    actions = by_state(fault.actions("kv_read_only"))
    assert sorted(actions) == ["blocked", "dry_run"]
    [planned] = actions["dry_run"]
    assert (planned["action"], planned["target"]) == ("command", "kv")
    # the first round without a quorum; its number is one argv element, after "--"
    assert planned["plan"] == {"action": "command", "shell": False,
                               "argv": ["/usr/local/bin/kv-admin", "read-only", "--", "9"]}
    assert planned["violation"] == {"property": "quorum", "key": "9"}
    # rounds 10..28 fall in the 10m cooldown on target "kv": planned, then blocked
    blocked = sorted(actions["blocked"], key=lambda a: int(a["violation"]["key"]))
    assert [a["violation"]["key"] for a in blocked] == [str(r) for r in range(10, 29)]
    assert [a["plan"]["argv"][-1] for a in blocked] == [str(r) for r in range(10, 29)]
    assert all(a["reason"].startswith("cooldown: acted on kv ") for a in blocked)
    assert_dry_run(fault, receiver, "partition")
    assert_quiet(control)


# ---------------------------------------------------------------- race condition

def test_race_logs_the_lost_update_for_the_owner(tmp_path, receiver):
    fault, control = serve_both(tmp_path, receiver, "race", "race", live={})
    assert fault.live == []  # `per attr["stock.sku"]`: released by the watermark
    [v] = fault.violations
    assert (v["property"], v["key"]) == ("no_lost_update", "sku-1")
    assert_monitor_agrees(fault, "race")
    spans = {s.span_id: s for s in read_path(fault.traces).spans}
    later = max((s for s in spans.values() if s.name == "reserve stock"),
                key=lambda s: s.end_ns)
    assert v["span_ids"] == [later.span_id]

    [action] = fault.audit["actions"]
    assert (action["policy"], action["action"], action["state"], action["target"]) == (
        "page_inventory_owner", "log", "dry_run", "stock/sku-1")
    # arguments from the witness span: its attribute and its id
    expected_args = {"message": "lost update: page the inventory owner", "owner": "inventory",
                     "target": "stock/sku-1", "span": later.span_id}
    assert action["args"] == expected_args
    assert action["plan"] == {"action": "log", "args": expected_args}
    assert action["service"] == "inventory"
    assert_dry_run(fault, receiver, "race")
    assert_quiet(control)

