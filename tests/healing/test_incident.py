"""Healing in an incident (issue 21): real `tracelogic heal --execute` runs over a store.

Each test drives the command line as an SRE would, with a real `command` action (a
recording program that appends its argv to a file) and a real SQLite store, and then
reads the audit trail and `std.healing` over it.
"""
from __future__ import annotations

import io
import json
import logging
import time

import tracelogic
from tracelogic import cli
from tracelogic.healing.audit import AuditLog
from tracelogic.healing.trail import verify_audit
from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.sidecar.store import Store

from .conftest import read_argv_lines, span, violation

POLICY = """
property broken: G (status != error)

heal fix
  on violated broken
  do command(argv: ["{prog}", "{out}", "--", service], target: service)
  cooldown 1m
  limit 5 per 1h
"""


class Site:
    """A spec file, a store, the recorder's output file and a controller configuration."""

    def __init__(self, tmp_path, recorder, policy: str = POLICY, config: str = ""):
        self.tmp = tmp_path
        self.out = tmp_path / "argv.jsonl"
        self.spec = tmp_path / "site.spec"
        self.spec.write_text(policy.replace("{prog}", recorder).replace("{out}", str(self.out)))
        tracelogic.load(str(self.spec))  # the spec is valid
        self.db = str(tmp_path / "site.db")
        Store(self.db).close()
        self.config = tmp_path / "controller.toml"
        self.config.write_text(config)
        self.n = 0

    def violate(self, at: int | None = None, service: str = "checkout", attrs=None):
        """Record one violation whose witness span happened at ``at`` (default: now)."""
        self.n += 1
        sp = span(n=self.n, service=service, attrs=attrs,
                  at=time.time_ns() if at is None else at)
        Store(self.db).add_violations([violation("broken", n=self.n, sp=sp)])
        return sp

    def heal(self, *extra: str, execute: bool = True) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = ["heal", str(self.spec), "--store", self.db, "--controller-config",
                str(self.config), *extra] + (["--execute"] if execute else [])
        code = cli.run(argv, out, err)
        return code, out.getvalue(), err.getvalue()

    def events(self, event: str | None = None) -> list:
        return [e for e in AuditLog(self.db).events() if event is None or e.event == event]

    def ran(self) -> list[list[str]]:
        return read_argv_lines(self.out)

    def std_healing(self) -> dict[str, int]:
        """std.healing over the trail: property name -> number of violations."""
        spec = tracelogic.load(str(self.spec))
        counts: dict[str, int] = {}
        for r in verify_audit(AuditLog(self.db), spec):
            for p in r.properties:
                counts[p.name] = sum(1 for v in r.violations if v.prop.name == p.name)
        return counts


# ---------------------------------------------------------------- item 1

def test_a_failed_verification_escalates_although_the_follow_up_is_in_cooldown(
        tmp_path, recorder, caplog):
    site = Site(tmp_path, recorder)
    site.violate()
    code, out, err = site.heal()
    assert code == 0, err
    assert "executed" in out and site.ran() == [["--", "checkout"]]
    # the fix did not work: the property is violated again, a moment later
    site.violate()
    with caplog.at_level(logging.WARNING, logger="tracelogic.healing"):
        code, out, err = site.heal()
    assert code == 0, err
    assert "blocked — cooldown:" in out
    assert site.ran() == [["--", "checkout"]]          # the follow-up did not run
    [verify] = site.events("verify")
    assert verify.outcome == "failed"
    [esc] = site.events("escalate")
    assert esc.action_id == verify.action_id and esc.detail["cause"] == "verification_failed"
    # the trail says why: the verification failed, and the follow-up was held by its cooldown
    assert "verification failed" in esc.detail["reason"]
    assert esc.detail["follow_up"]["outcome"] == "blocked"
    assert esc.detail["follow_up"]["reason"].startswith("cooldown:")
    assert any("heal escalation" in r.getMessage() and "cooldown" in r.getMessage()
               for r in caplog.records)
    # a third violation inside the window: still exactly one escalation
    site.violate()
    assert site.heal()[0] == 0
    assert len(site.events("escalate")) == 1 and len(site.events("verify")) == 1
    # and std.healing's new property holds over this trail, also through `audit --verify`
    counts = site.std_healing()
    assert counts["escalation_after_failed_verification"] == 0
    assert counts["escalated_at_most_once"] == 0
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", site.db, "--verify", str(site.spec), "--format",
                    "json"], out, err) == 0, err.getvalue()
    props = {p["name"]: p for r in json.loads(out.getvalue())["verification"]
             for p in r["properties"]}
    assert props["escalation_after_failed_verification"]["instances"] >= 1
    assert {"escalated_at_most_once", "no_action_without_approval_above_risk"} <= set(props)


# ---------------------------------------------------------------- item 2

def test_verification_compares_event_times_with_the_action(tmp_path, recorder):
    site = Site(tmp_path, recorder)
    before = time.time_ns()
    site.violate(at=before)
    assert site.heal()[0] == 0 and site.ran() == [["--", "checkout"]]
    [action] = AuditLog(site.db).actions()
    assert action["verification"] == "pending"
    # a late trace (or a batch) from before the action arrives now: it says nothing about the fix
    site.violate(at=before - 10**9)
    assert site.heal()[0] == 0
    assert site.events("verify") == [] and site.events("escalate") == []
    assert AuditLog(site.db).action(action["id"])["verification"] == "pending"
    # a violation that happened after the action finished does fail it
    site.violate(at=AuditLog(site.db).action(action["id"])["verify_from_ns"] + 1)
    assert site.heal()[0] == 0
    [verify] = site.events("verify")
    assert verify.outcome == "failed" and verify.action_id == action["id"]
    assert verify.detail["violation_time_unix_nano"] == \
        AuditLog(site.db).action(action["id"])["verify_from_ns"] + 1
    assert len(site.events("escalate")) == 1


def test_a_late_violation_inside_a_window_already_recovered_fails_it(tmp_path, recorder):
    site = Site(tmp_path, recorder, config='[controller]\nverify_window = "1ms"\n')
    site.violate()
    assert site.heal()[0] == 0
    [action] = AuditLog(site.db).actions()
    while time.time_ns() <= action["verify_deadline_ns"]:  # let the 1 ms window pass
        time.sleep(0.001)
    assert site.heal()[0] == 0
    assert AuditLog(site.db).action(action["id"])["verification"] == "recovered"
    # the violation from inside the window arrives only now
    site.violate(at=action["verify_from_ns"])
    assert site.heal()[0] == 0
    outcomes = [e.outcome for e in site.events("verify")]
    assert outcomes == ["recovered", "failed"]
    [failed] = [e for e in site.events("verify") if e.outcome == "failed"]
    assert failed.detail["late"] is True and "arrived late" in failed.detail["reason"]
    assert len(site.events("escalate")) == 1


# ---------------------------------------------------------------- std.healing's new properties

def _violated(ctl) -> set[str]:
    return {v.prop.name for r in verify_audit(ctl.log, ctl.spec) for v in r.violations}


def test_std_healing_catches_a_failed_verification_that_was_not_escalated(tmp_path, clock):
    from .test_guards import fire, make

    ctl, _ = make(tmp_path, clock, 'heal trip on violated broken do circuit_breaker(name: "db")')
    [d] = fire(ctl, 1)
    assert d.outcome == "executed" and _violated(ctl) == set()
    with ctl.log.transaction() as conn:  # a controller that forgot to escalate
        ctl.log.record(conn, action_id=d.action_id, policy="trip", action="circuit_breaker",
                       target="db", event="verify", outcome="failed", dry_run=False)
    assert _violated(ctl) == {"escalation_after_failed_verification"}
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", ctl.store_path, "--verify"], out, err) == 1
    assert "escalation_after_failed_verification" in out.getvalue()
    for _ in range(2):  # ... or escalated twice
        with ctl.log.transaction() as conn:
            ctl.log.record(conn, action_id=d.action_id, policy="trip",
                           action="circuit_breaker", target="db", event="escalate",
                           outcome="logged", dry_run=False)
    assert _violated(ctl) == {"escalated_at_most_once"}


def test_std_healing_catches_a_risky_action_without_approval(tmp_path, clock):
    from .test_guards import fire, make

    # risk 0.8 and `approve when risk > 0.9`: nothing asks a human (check warns, item 3)
    ctl, _ = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: "db") risk 0.8 approve when risk > 0.9""")
    assert [d.outcome for d in fire(ctl, 1)] == ["executed"]
    assert _violated(ctl) == {"no_action_without_approval_above_risk"}
    # the same action at risk 0.8 with a human's approval holds
    (tmp_path / "ok").mkdir()
    ctl2, _ = make(tmp_path / "ok", clock, """
heal trip on violated broken do circuit_breaker(name: "db") risk 0.8 approve when risk > 0.5""")
    [d] = fire(ctl2, 1)
    assert d.outcome == "pending_approval"
    clock.advance(10**9)
    ctl2.approve(d.action_id, by="alice")
    clock.advance(10**9)
    assert [x.outcome for x in ctl2.run_pending()] == ["executed"]
    assert _violated(ctl2) == set()


# ---------------------------------------------------------------- item 4: approvals

RISKY = """
property broken: G (status != error)

heal fix
  on violated broken
  do command(argv: ["{prog}", "{out}", "--", service], target: service)
  risk 0.9
  approve when risk > 0.5
  cooldown 1m
  limit 2 per 1h
"""


def approvals(site) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["approve", "--store", site.db, "--format", "json"], out, err) == 0, err
    return json.loads(out.getvalue())


def test_a_dry_run_never_creates_an_approval_request(tmp_path, recorder):
    site = Site(tmp_path, recorder, RISKY)
    site.violate()
    code, out, err = site.heal(execute=False)
    assert code == 0, err
    assert "[dry-run] fix command checkout: dry_run — risk 0.9 needs approval" in out
    assert approvals(site) == []                                  # nobody is asked
    [row] = AuditLog(site.db).actions()
    assert (row["state"], row["dry_run"], row["needs_approval"]) == ("dry_run", True, True)
    assert [(e.event, e.outcome) for e in site.events()] == [("plan", "matched"),
                                                             ("dry_run", "needs_approval")]
    # the same violation in execute mode does ask
    assert site.heal()[0] == 0
    assert [(a["state"], a["dry_run"]) for a in approvals(site)] == [("pending_approval", False)]
    assert site.ran() == []


def test_approval_requests_do_not_pile_up_beyond_cooldown_and_limit(tmp_path, recorder):
    site = Site(tmp_path, recorder, RISKY)
    for _ in range(4):
        site.violate(service="checkout")
    code, out, err = site.heal()
    assert code == 0, err
    pending = approvals(site)
    assert [a["target"] for a in pending] == ["checkout"]         # one request, not four
    blocked = [line for line in out.splitlines() if ": blocked — " in line]
    assert len(blocked) == 3 and all("cooldown:" in line for line in blocked)
    # other targets: the open request counts toward `limit 2 per 1h`
    for service in ("search", "cart"):
        site.violate(service=service)
    code, out, err = site.heal()
    assert sorted(a["target"] for a in approvals(site)) == ["checkout", "search"]
    assert "cart: blocked — limit: 2 action(s) in the last 1h" in out
    # approving runs exactly the approved one
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["approve", "--store", site.db, pending[0]["id"][:12], "--by", "sre"],
                   out, err) == 0, err.getvalue()
    code, out, err = site.heal()
    assert code == 0 and site.ran() == [["--", "checkout"]]
    assert site.std_healing()["approved_before_high_risk"] == 0


PER_KEY = """
property broken: G (status != error)

heal fix
  on violated broken
  do command(argv: ["{prog}", "{out}", "--", key], target: key)
  risk 0.9
  approve when risk > 0.5
  limit 10 per 1h
"""


def test_an_approved_action_that_a_guard_stops_is_escalated(tmp_path, recorder, caplog):
    site = Site(tmp_path, recorder, PER_KEY, config='[blast_radius]\nmax_share = 0.5\n'
                'window = "1h"\ntargets = { checkout = 2 }\n')
    first, second = site.violate(), site.violate()
    assert site.heal()[0] == 0
    ids = {a["target"]: a["id"] for a in approvals(site)}
    assert set(ids) == {first.trace_id, second.trace_id}
    for target in (first.trace_id, second.trace_id):   # a human approves both
        assert cli.run(["approve", "--store", site.db, ids[target], "--by", "sre"],
                       io.StringIO(), io.StringIO()) == 0
    with caplog.at_level(logging.WARNING, logger="tracelogic.healing"):
        code, out, err = site.heal()
    assert code == 0, err
    # one runs; the other would touch a second of checkout's 2 targets (> max_share 0.5)
    assert site.ran() == [["--", first.trace_id]]
    assert f"{second.trace_id}: blocked — blast_radius:" in out
    [esc] = site.events("escalate")
    assert esc.action_id == ids[second.trace_id] and esc.detail["cause"] == "approved_but_blocked"
    assert esc.detail["reason"].startswith("approved by sre, but not executed: blast_radius:")
    assert any("approved by sre" in r.getMessage() for r in caplog.records)
    assert AuditLog(site.db).action(ids[second.trace_id])["state"] == "blocked"


# ---------------------------------------------------------------- item 5: a skip is not final

ORDER = """
property broken: G (status != error)

heal fix
  on violated broken
  do command(argv: ["{prog}", "{out}", "--", attr["order.id"]], target: service)
  cooldown 1m
"""


def test_a_rerun_with_the_traces_acts_on_what_was_skipped(tmp_path, recorder):
    site = Site(tmp_path, recorder, ORDER)
    sp = site.violate(attrs={"order.id": "o-42"})
    code, out, err = site.heal()                       # --traces forgotten
    assert code == 0, err
    assert "skipped" in out and "no value" in out and site.ran() == []
    # a rerun that still lacks the spans changes nothing and adds nothing to the trail
    before = len(site.events())
    code, out, err = site.heal()
    assert code == 0 and site.ran() == [] and len(site.events()) == before
    # the rerun with --traces acts on the skipped violation
    traces = tmp_path / "traces.json"
    traces.write_text(json.dumps(request_to_json(spans_to_request([sp]))))
    code, out, err = site.heal("--traces", str(traces))
    assert code == 0, err
    assert "executed" in out and "duplicate" not in out
    assert site.ran() == [["--", "o-42"]]
    [plan, _skip, retry, execute] = [e for e in site.events() if e.event != "duplicate"]
    assert retry.event == "plan" and "no value" in retry.detail["retry_of_skip"]
    assert (execute.event, execute.outcome) == ("execute", "ok")
    assert plan.action_id == execute.action_id           # the same action, decided again
    # and once it ran, a further rerun does not run it again
    code, out, err = site.heal("--traces", str(traces))
    assert code == 0 and site.ran() == [["--", "o-42"]]
    assert site.std_healing()["at_most_once"] == 0


def test_a_dry_run_first_does_not_hide_the_violations_from_execute(tmp_path, recorder):
    site = Site(tmp_path, recorder)
    site.violate()
    code, out, _ = site.heal(execute=False)
    assert code == 0 and "dry_run" in out and site.ran() == []
    code, out, _ = site.heal()
    assert code == 0 and "executed" in out and site.ran() == [["--", "checkout"]]
    code, out, _ = site.heal(execute=False)   # each mode reads each violation once
    assert code == 0 and out == ""


# ---------------------------------------------------------------- item 8: audit --action

def test_audit_action_takes_the_prefix_the_trail_prints(tmp_path, recorder):
    site = Site(tmp_path, recorder)
    site.violate()
    assert site.heal()[0] == 0
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", site.db], out, err) == 0
    short = out.getvalue().splitlines()[0].rsplit("(", 1)[1].rstrip(")")
    assert len(short) == 12
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", site.db, "--action", short, "--format", "json"],
                   out, err) == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    assert [e["event"] for e in doc["events"]] == ["plan", "execute"]
    assert [a["id"][:12] for a in doc["actions"]] == [short]
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["audit", "--store", site.db, "--action", "zzzz"], out, err) == 2
    assert "no action matches 'zzzz'" in err.getvalue()
