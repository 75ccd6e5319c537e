"""Guards: limit, cooldown, approvals (CLI, HTTP, timeout), idempotency, concurrency,
blast radius, conflicts in one tick, verification and escalation, std.healing over the trail."""
from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request

import pytest

import tracelogic
from tracelogic import cli
from tracelogic.engine.record import ViolationRecord
from tracelogic.healing.config import parse_config
from tracelogic.healing.controller import Controller
from tracelogic.healing.trail import verify_audit

from .conftest import MINUTE, span, violation


class Breaker:
    """The circuit_breaker callback: records calls; can block until released."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, name, state, *, idempotency_key):
        self.calls.append((name, state))
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        return "ok"


def make(tmp_path, clock, policies: str, cfg: dict | None = None, execute=True, breaker=None):
    spec = tracelogic.load("property broken: G (status != error)\n"
                           "property other: G (name != \"x\")\n" + policies)
    breaker = breaker or Breaker()
    ctl = Controller(spec, str(tmp_path / "t.db"), parse_config(cfg or {}), execute=execute,
                     hooks={"circuit_breaker": breaker}, clock=clock)
    return ctl, breaker


def fire(ctl, n, attrs=None, prop="broken", service="checkout", at=None):
    """A violation of ``prop`` whose witness span happened now (or ``at``), handled now."""
    sp = span(n=n, service=service, attrs=attrs, at=ctl.clock() if at is None else at)
    return ctl.handle(ViolationRecord.of(violation(prop, n=n, sp=sp), witness=sp))


def outcomes(ds):
    return [d.outcome for d in ds]


def test_storm_yields_at_most_the_limit(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"]) limit 3 per 1h""")
    results = []
    for i in range(40):  # 40 violations, 40 different targets, within one minute
        clock.advance(10**9)
        results += fire(ctl, i + 1, {"dep": f"d{i}"})
    assert outcomes(results).count("executed") == 3
    assert len(br.calls) == 3
    blocked = [d for d in results if d.outcome == "blocked"]
    assert len(blocked) == 37 and all(d.reason.startswith("limit:") for d in blocked)
    # the window slides: an hour after the first action, one more is allowed
    clock.advance(60 * MINUTE)
    assert outcomes(fire(ctl, 99, {"dep": "z"})) == \
        ["executed"]
    reports = verify_audit(ctl.log, ctl.spec)
    assert not [v for r in reports for v in r.violations]


def test_storm_in_dry_run_plans_at_most_the_limit(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"]) limit 2 per 1h""",
                   execute=False)
    res = []
    for i in range(10):
        res += fire(ctl, i + 1, {"dep": f"d{i}"})
    assert outcomes(res).count("dry_run") == 2 and br.calls == []


def test_cooldown_per_policy_and_target(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"]) cooldown 5m""")

    def hit(n, dep):
        return fire(ctl, n, {"dep": dep})[0]

    assert hit(1, "a").outcome == "executed"
    clock.advance(1 * MINUTE)
    d = hit(2, "a")
    assert d.outcome == "blocked" and d.reason.startswith("cooldown:")
    assert hit(3, "b").outcome == "executed"       # another target is not cooling down
    clock.advance(4 * MINUTE + 1)
    assert hit(4, "a").outcome == "executed"       # 5m after the first action on `a`
    assert br.calls == [("a", "open"), ("b", "open"), ("a", "open")]


def test_redelivery_is_idempotent(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: "checkout") limit 10 per 1h""")
    v = violation(n=1)
    assert outcomes(ctl.handle(ViolationRecord.of(v))) == ["executed"]
    for _ in range(3):
        clock.advance(MINUTE)
        assert outcomes(ctl.handle(ViolationRecord.of(json.loads(json.dumps(v))))) == ["duplicate"]
    assert br.calls == [("checkout", "open")]
    # a second controller on the same store (a restarted sidecar) also sees the key
    ctl2, br2 = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: "checkout") limit 10 per 1h""")
    assert outcomes(ctl2.handle(ViolationRecord.of(v))) == ["duplicate"] and br2.calls == []
    assert [e.event for e in ctl.log.events()].count("duplicate") == 4


HIGH_RISK = """
heal trip on violated broken do circuit_breaker(name: attr["dep"])
  approve when risk > 0.5
  risk 0.9
  limit 10 per 1h
"""


def test_approval_via_cli_then_executes(tmp_path, clock):
    ctl, br = make(tmp_path, clock, HIGH_RISK)
    [d] = fire(ctl, 1, {"dep": "pay"})
    assert d.outcome == "pending_approval" and br.calls == []
    assert ctl.run_pending() == [] and br.calls == []      # nothing runs before a decision
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["approve", "--store", ctl.store_path], out, err) == 0
    assert d.action_id in out.getvalue() and "1 pending" in out.getvalue()
    clock.advance(MINUTE)
    out = io.StringIO()
    assert cli.run(["approve", "--store", ctl.store_path, d.action_id[:10], "--by", "alice"],
                   out, err) == 0, err.getvalue()
    clock.advance(MINUTE)
    assert outcomes(ctl.run_pending()) == ["executed"]
    assert br.calls == [("pay", "open")]
    assert outcomes(ctl.run_pending()) == []                 # runs once
    events = [(e.event, e.outcome) for e in ctl.log.events()]
    assert events == [("plan", "matched"), ("approval_requested", "pending"),
                      ("approved", "approved"), ("execute", "ok")]
    assert not [v for r in verify_audit(ctl.log, ctl.spec) for v in r.violations]


def test_approval_rejected_over_http_with_the_bearer_token(tmp_path, clock):
    cfg = {"approval": {"listen": "127.0.0.1:0", "token": "s3cret-token"}}
    ctl, br = make(tmp_path, clock, HIGH_RISK, cfg)
    [d] = fire(ctl, 1, {"dep": "pay"})
    server = ctl.serve_approvals()
    try:
        assert server.address[0] == "127.0.0.1"

        def call(path, token=None, method="POST", body=b"{}"):
            req = urllib.request.Request(server.url + path, data=body if method == "POST"
                                         else None, method=method)
            if token:
                req.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert call(f"/approvals/{d.action_id}/reject")[0] == 401
        assert call(f"/approvals/{d.action_id}/reject", "wrong")[0] == 401
        code, listing = call("/approvals", "s3cret-token", "GET")
        assert code == 200 and [a["id"] for a in listing] == [d.action_id]
        assert call("/approvals/nope/reject", "s3cret-token")[0] == 404
        code, body = call(f"/approvals/{d.action_id}/reject", "s3cret-token",
                          body=b'{"by": "bob", "reason": "not now"}')
        assert (code, body["state"]) == (200, "rejected")
        assert call(f"/approvals/{d.action_id}/approve", "s3cret-token")[0] == 409
    finally:
        server.stop()
    clock.advance(MINUTE)
    assert outcomes(ctl.run_pending()) == [] and br.calls == []
    assert ctl.log.action(d.action_id)["state"] == "rejected"
    assert not [v for r in verify_audit(ctl.log) for v in r.violations]


def test_approval_server_refuses_to_start_without_a_token(tmp_path, clock):
    ctl, _ = make(tmp_path, clock, HIGH_RISK)
    with pytest.raises(tracelogic.errors.InputError, match="bearer token"):
        ctl.serve_approvals()


def test_timed_out_approval_is_never_executed(tmp_path, clock):
    ctl, br = make(tmp_path, clock, HIGH_RISK, {"controller": {"approval_timeout": "10m"}})
    [d] = fire(ctl, 1, {"dep": "pay"})
    clock.advance(10 * MINUTE)
    assert outcomes(ctl.run_pending()) == ["expired"]
    ok, state = ctl.approve(d.action_id, by="late")
    assert (ok, state) == (False, "expired")
    assert outcomes(ctl.run_pending()) == [] and br.calls == []
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["approve", "--store", ctl.store_path, d.action_id], out, err) == 1
    assert "expired" in err.getvalue()


def test_approval_that_arrives_after_the_deadline_expires_it(tmp_path, clock):
    """No run_pending in between: the approval itself sees the deadline passed."""
    ctl, br = make(tmp_path, clock, HIGH_RISK, {"controller": {"approval_timeout": "1m"}})
    [d] = fire(ctl, 1, {"dep": "pay"})
    clock.advance(2 * MINUTE)
    assert ctl.approve(d.action_id) == (False, "expired")
    assert outcomes(ctl.run_pending()) == [] and br.calls == []


def test_std_healing_catches_an_action_after_rejection(tmp_path, clock):
    """The runtime property can fail: forge an execution after a rejection in the trail."""
    ctl, _ = make(tmp_path, clock, HIGH_RISK)
    [d] = fire(ctl, 1, {"dep": "pay"})
    clock.advance(MINUTE)
    ctl.reject(d.action_id, by="bob")
    clock.advance(MINUTE)
    with ctl.log.transaction() as conn:
        ctl.log.record(conn, action_id=d.action_id, policy="trip", action="circuit_breaker",
                       target="pay", event="execute", outcome="ok", dry_run=False)
    bad = {v.prop.name for r in verify_audit(ctl.log) for v in r.violations}
    # risk 0.9 ran without an approval, too
    assert bad == {"no_action_after_refusal", "approved_before_high_risk",
                   "no_action_without_approval_above_risk"}
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", ctl.store_path, "--verify"], out, err) == 1


def test_std_healing_limit_property_catches_too_many_executions(tmp_path, clock):
    ctl, _ = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"]) limit 2 per 1h""")
    for i in range(2):
        clock.advance(MINUTE)
        fire(ctl, i + 1, {"dep": f"d{i}"})
    assert not [v for r in verify_audit(ctl.log, ctl.spec) for v in r.violations]
    with ctl.log.transaction() as conn:  # a forged third execution inside the hour
        ctl.log.record(conn, action_id="forged", policy="trip", action="circuit_breaker",
                       target="x", event="execute", outcome="ok", dry_run=False)
    bad = {v.prop.name for r in verify_audit(ctl.log, ctl.spec) for v in r.violations}
    assert bad == {"limit_trip"}


def test_global_concurrency_limit(tmp_path, clock):
    br = Breaker()
    br.gate = threading.Event()
    ctl, _ = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"])""",
                  {"controller": {"concurrency": 1}}, breaker=br)
    first: list = []
    t = threading.Thread(target=lambda: first.extend(
        fire(ctl, 1, {"dep": "a"})))
    t.start()
    assert br.entered.wait(10)
    d = fire(ctl, 2, {"dep": "b"})[0]
    assert (d.outcome, d.reason) == ("blocked", "concurrency")
    br.gate.set()
    t.join(10)
    assert outcomes(first) == ["executed"]
    assert outcomes(fire(ctl, 3, {"dep": "c"})) == ["executed"]


def test_blast_radius(tmp_path, clock):
    cfg = {"blast_radius": {"max_share": 0.5, "window": "1h", "targets": {"checkout": 4}}}
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["pod"])""", cfg)
    res = [fire(ctl, i + 1, {"pod": f"p{i}"})[0]
           for i in range(3)]
    assert outcomes(res) == ["executed", "executed", "blocked"]
    assert res[2].reason.startswith("blast_radius:")
    # another service is not affected
    assert outcomes(fire(ctl, 9, {"pod": "s1"}, service="search")) == ["executed"]


def test_opposite_actions_on_one_target_in_one_tick(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal open_it on violated broken do circuit_breaker(name: "pay", state: "open")
heal close_it on violated other do circuit_breaker(name: "pay", state: "closed")""")
    ds = ctl.handle_many([ViolationRecord.of(violation("broken", n=1)),
                          ViolationRecord.of(violation("other", n=2))])
    assert outcomes(ds) == ["executed", "blocked"]
    assert ds[1].reason.startswith("conflict:") and "open_it" in ds[1].reason
    assert br.calls == [("pay", "open")]
    # in separate ticks they are not a conflict
    clock.advance(MINUTE)
    assert outcomes(ctl.handle(ViolationRecord.of(violation("other", n=3)))) == ["executed"]


def test_failed_verification_escalates_and_success_is_recorded(tmp_path, clock, receiver):
    cfg = {"controller": {"verify_window": "10m"}, "escalation": {"webhook": "oncall"},
           "webhooks": {"oncall": {"url": receiver.url, "secret": "k"}}}
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"])""", cfg)
    fire(ctl, 1, {"dep": "a"})
    fire(ctl, 2, {"dep": "b"})
    clock.advance(5 * MINUTE)
    # `a` is violated again inside its window: verification fails, escalation is sent
    fire(ctl, 3, {"dep": "a"})
    clock.advance(6 * MINUTE)
    ds = ctl.run_pending()
    recovered = {d.target for d in ds if d.outcome == "recovered"}
    assert recovered == {"b"}
    ver = [(e.target, e.outcome) for e in ctl.log.events() if e.event == "verify"]
    assert ("a", "failed") in ver and ("b", "recovered") in ver
    esc = [e for e in ctl.log.events() if e.event == "escalate"]
    assert len(esc) == 1 and esc[0].target == "a" and esc[0].outcome == "notified"
    assert len(receiver.requests) == 1 and receiver.signed_ok(receiver.requests[0], b"k")
    assert json.loads(receiver.requests[0]["body"])["escalation"] is True


def test_failed_action_is_recorded_and_escalated(tmp_path, clock):
    def boom(name, state, *, idempotency_key):
        raise RuntimeError("breaker service down")

    spec = tracelogic.load("property broken: G (status != error)\n"
                           "heal trip on violated broken do circuit_breaker(name: \"x\")")
    ctl = Controller(spec, str(tmp_path / "t.db"), None, execute=True,
                     hooks={"circuit_breaker": boom}, clock=clock)
    [d] = ctl.handle(ViolationRecord.of(violation()))
    assert d.outcome == "failed" and "breaker service down" in d.reason
    assert [e.event for e in ctl.log.events()] == ["plan", "execute", "escalate"]


def test_undo_restores(tmp_path, clock):
    ctl, br = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: "pay")""")
    [d] = ctl.handle(ViolationRecord.of(violation()))
    u = ctl.undo(d.action_id)
    assert u.outcome == "executed" and br.calls == [("pay", "open"), ("pay", "closed")]


def test_a_cooldown_says_how_long_ago_in_words(tmp_path, clock):
    ctl, _ = make(tmp_path, clock,
                  'heal trip on violated broken do circuit_breaker(name: "db") cooldown 5m')
    assert fire(ctl, 1)[0].outcome == "executed"
    clock.advance(1_369_261)
    (d,) = fire(ctl, 2)
    assert d.outcome == "blocked"
    assert d.reason == "cooldown: acted on db 1.36926ms ago; cooldown 5m"
