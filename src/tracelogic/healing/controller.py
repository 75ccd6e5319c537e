"""The self-healing controller: a MAPE-K loop over violations, with guarded actions.

- **Monitor**: violations arrive from the sidecar (:meth:`Controller.handle`) or
  from a store (:meth:`Controller.poll`, what ``tracelogic heal`` runs).
- **Analyze**: each violation is matched to the policies ``on violated`` its
  property; the policy's arguments are evaluated on the witness span, which
  gives the action's **target**. Redeliveries are recognised by an
  idempotency key (policy, the violation's identity, dry-run or not).
- **Plan**: the guards, in order — cooldown per (policy, target); limit N per
  window per policy; blast radius per service; no opposite action on the same
  target in the same tick; approval when the risk calls for it; the global
  concurrency limit.
- **Execute**: in dry-run (the default) nothing runs and the audit trail records
  the plan; with ``execute=True`` the action runs, its outcome is recorded, and
  a verification window opens: a new violation of the same policy on the same
  target inside it fails the verification and escalates.
- **Knowledge**: the audit trail and action history in the store's SQLite file
  (:mod:`.audit`), which the guards read.

In-process API for the sidecar::

    ctl = Controller(spec, "tracelogic.db", load_config(path), execute=False)
    decisions = ctl.handle(ViolationRecord.of(violation))   # one tick
    ctl.run_pending()   # expire/execute approvals, close verification windows

Both are thread-safe; every decision is committed to the store before they return.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from tracelogic.errors import TracelogicError
from tracelogic.healing.actions import (Action, ActionFailed, ActionRefused, ActionResult,
                                        ExecContext, MissingArgument, get_action)
from tracelogic.healing.audit import AuditLog
from tracelogic.healing.control_loop import ControlLoop
from tracelogic.healing.config import ControllerConfig, load_config
from tracelogic.engine.record import ViolationRecord, dedup_key, witness_of
from tracelogic.healing.evaluate import CompiledPolicy
from tracelogic.spec.lexicon import approx_duration, format_duration
from tracelogic.spec.typed import HealT, Spec

log = logging.getLogger("tracelogic.healing")


@dataclass
class Decision:
    """What the controller did with one (policy, violation)."""

    policy: str
    action: str
    action_id: str
    target: str
    outcome: str    # dry_run executed failed pending_approval skipped blocked duplicate ...
    reason: str = ""
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"policy": self.policy, "action": self.action, "action_id": self.action_id,
                "target": self.target, "outcome": self.outcome, "reason": self.reason,
                "detail": self.detail}


@dataclass
class _Policy:
    heal: HealT
    compiled: CompiledPolicy
    action: Action | None
    error: str = ""


def idempotency_key(policy: str, violation: dict, dry_run: bool) -> str:
    """Stable across redeliveries: the policy, the violation's identity (property, key,
    witness spans, window — the store's dedup key) and the mode."""
    ident = json.dumps([policy, dedup_key(violation), "dry-run" if dry_run else "execute"])
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


class Controller:
    """See the module docstring. ``config`` is a :class:`ControllerConfig`, a TOML path or
    None (defaults); ``execute`` overrides the configuration's ``execute`` (dry-run)."""

    def __init__(self, spec: Spec, store_path: str, config: ControllerConfig | str | None = None,
                 *, execute: bool | None = None, hooks: dict | None = None,
                 clock=time.time_ns, name: str = "default"):
        self.spec = spec
        self.config = config if isinstance(config, ControllerConfig) else load_config(config)
        self.execute = self.config.execute if execute is None else bool(execute)
        self.dry_run = not self.execute
        self.hooks = dict(hooks or {})
        self.clock = clock
        self.name = name
        self.store_path = store_path
        self.log = AuditLog(store_path, clock=clock)
        self._inflight = 0
        self._retried_skips = False
        # dry-run and execute decide independently (the idempotency key holds the mode), so
        # each keeps its own position: a dry-run first must not hide violations from --execute
        self._cursor_name = name if self.execute else f"{name}/dry-run"
        self._inflight_lock = threading.Lock()
        self.policies: list[_Policy] = []
        for heal in spec.heals:
            compiled = CompiledPolicy(heal)
            try:
                action = get_action(heal.action)(self.config, self.hooks)
                self.policies.append(_Policy(heal, compiled, action))
            except TracelogicError as e:
                self.policies.append(_Policy(heal, compiled, None, str(e)))
        # `run controller` policies (docs/control.md §9): stepped by tick_controllers()
        self.loops: dict[str, ControlLoop] = {}
        start = clock()
        for pol in self.policies:
            if pol.heal.run is not None and pol.heal.run[0] in spec.controllers:
                loop = ControlLoop(pol.heal, spec.controllers[pol.heal.run[0]], start)
                self.loops[pol.heal.name] = loop
                self._resume(loop)

    def _loop_key(self, loop: ControlLoop) -> str:
        """Where a loop's state is kept: dry-run and execute keep their own (as cursors)."""
        return f"{self._cursor_name}/{loop.heal.name}"

    def _resume(self, loop: ControlLoop) -> None:
        """Continue the run saved by the previous process (docs/control.md §9), unless the
        declaration changed or the saved state does not fit it: then a new run starts
        from the initial state, and the log says why."""
        saved = self.log.controller_state(self._loop_key(loop))
        if saved is None:
            return
        decl, state = saved
        fields = {"policy": loop.heal.name, "controller": loop.ctl.name}
        if decl != loop.declaration:
            log.warning("controller declaration changed: a new run starts from the initial "
                        "state", extra={"fields": dict(fields, previous_run=state.get("run"))})
            return
        try:
            loop.restore(state)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError) as e:
            log.error("saved controller state unreadable: a new run starts from the initial "
                      "state", extra={"fields": dict(fields, error=f"{type(e).__name__}: {e}")})
            return
        log.info("controller run resumed", extra={"fields": dict(
            fields, run=loop.run_id, period=loop.sim.n)})

    def _save_loop(self, conn: Any, loop: ControlLoop) -> None:
        self.log.save_controller_state(conn, self._loop_key(loop), loop.declaration,
                                       loop.snapshot())

    def __repr__(self) -> str:
        return (f"Controller({self.spec!r}, {self.store_path!r}, {self.config!r}, "
                f"execute={self.execute})")

    def close(self) -> None:
        self.log.close()

    def __enter__(self) -> "Controller":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ================================================================ Monitor
    def handle(self, record: ViolationRecord, *, trace: Any = None) -> list[Decision]:
        """One committed violation is one tick. ``trace``, when at hand, is the witness's
        trace, for arguments that read other spans of it."""
        return self.handle_many([record], trace=trace)

    def handle_many(self, records: Iterable[ViolationRecord], *, trace: Any = None,
                    _quiet: bool = False) -> list[Decision]:
        """Several committed violations in one tick (the guards see them together)."""
        tick: list[tuple] = []
        decisions: list[Decision] = []
        for r in records:
            if not isinstance(r, ViolationRecord):
                raise TypeError(f"the controller takes a ViolationRecord, not "
                                f"{type(r).__name__}: ViolationRecord.of(violation) builds one "
                                f"from a report Violation or its JSON")
            for pol in self.policies:
                if pol.heal.on != r.body.get("property") or pol.heal.run is not None:
                    continue
                d = self._decide(pol, r.body, r.witness, trace, r.id, tick, quiet=_quiet)
                if d is not None:
                    decisions.append(d)
        return decisions

    def poll(self, spans: dict | None = None, limit: int | None = None) -> list[Decision]:
        """Consume the store's violations not seen yet (one tick), then :meth:`run_pending`.

        ``spans`` maps ``(trace_id, span_id)`` to full spans, for witness attributes; without
        them the witness is rebuilt from the violation's events (name, service, ids).

        The first poll of a controller also retries the violations whose actions were
        **skipped** (in this mode): a skip says an argument had no value or was refused,
        not that the violation was dealt with, so a rerun that brings the missing spans
        (``tracelogic heal --traces``) acts on them. A retry that would skip for the same
        reason again records nothing.
        """
        from tracelogic.sidecar.store import Store

        store = Store(self.store_path)
        try:
            after = self.log.cursor(self._cursor_name)
            rows = store.violations(after_id=after, limit=limit)
        finally:
            store.close()
        retries = []
        if not self._retried_skips:
            self._retried_skips = True
            names = {p.heal.name for p in self.policies}
            seen: set = set()
            for a in self.log.actions(state="skipped"):
                key = (a["violation_id"], json.dumps(a["violation"], sort_keys=True))
                if a["policy"] in names and a["dry_run"] == self.dry_run and key not in seen \
                        and (a["violation_id"] is None or a["violation_id"] <= after):
                    seen.add(key)
                    retries.append(ViolationRecord(a["violation_id"], a["violation"],
                                                   witness_of(a["violation"], spans)))
        decisions = self.handle_many(retries, _quiet=True) if retries else []
        decisions += self.handle_many([ViolationRecord(r.id, r.body, witness_of(r.body, spans))
                                       for r in rows])
        if rows:
            with self.log.transaction() as conn:
                self.log.set_cursor(conn, self._cursor_name, rows[-1].id)
        return decisions + self.run_pending()

    # ================================================================ Control loops
    @property
    def wanted_metrics(self) -> frozenset[str]:
        """The OTLP metric names the `run controller` policies read."""
        return frozenset(loop.metric for loop in self.loops.values())

    def observe_points(self, points: Iterable[Any]) -> None:
        """Metric data points received by serve: each control loop keeps its metric's latest
        value of the current period."""
        points = list(points)
        for loop in self.loops.values():
            loop.observe(points)

    def tick_controllers(self) -> list[Decision]:
        """Close every control loop's period that is due: step the declared controller on
        the period's metric and decide its action through the same guards as a violation's
        (one tick). A period without a data point is recorded as a `skip` event."""
        now = self.clock()
        tick: list[tuple] = []
        decisions: list[Decision] = []
        by_name = {p.heal.name: p for p in self.policies}
        for name, loop in self.loops.items():
            while loop.due(now):
                body, why = loop.step(now)
                pol = by_name[name]
                if body is None:
                    n = loop.sim.n
                    aid = idempotency_key(name, {"property": f"controller:{loop.ctl.name}",
                                                 "key": f"{name}/{loop.run_id}/{n}/missed"
                                                        f"/{loop.missed}"}, self.dry_run)
                    with self.log.transaction() as conn:
                        self.log.record(conn, action_id=aid, policy=name,
                                        action=pol.heal.action, target="", event="skip",
                                        outcome="no_metric", dry_run=self.dry_run,
                                        detail={"reason": why, "period": n,
                                                "run": loop.run_id}, time_ns=now)
                        self._save_loop(conn, loop)
                    decisions.append(Decision(name, pol.heal.action, aid, "", "skipped", why))
                    continue
                # the state the period led to is saved with its decision, in one transaction
                d = self._decide(pol, body, None, None, None, tick,
                                 persist=lambda conn, loop=loop: self._save_loop(conn, loop))
                if d is not None:
                    decisions.append(d)
        return decisions

    # ================================================================ Analyze + Plan
    def _decide(self, pol: _Policy, v: dict, witness: Any, trace: Any, vid: int | None,
                tick: list, *, quiet: bool = False,
                persist: Any = None) -> Decision | None:
        """One (policy, violation). ``quiet`` (a retry of skips): None instead of recording a
        duplicate, so a retry that changes nothing leaves no trace. ``persist(conn)`` runs
        in the decision's transaction (a control loop's state)."""
        heal = pol.heal
        now = self.clock()
        aid = idempotency_key(heal.name, v, self.dry_run)
        d = Decision(heal.name, heal.action, aid, "", "")
        args: dict = {}
        plan: dict = {}
        skip = pol.error
        action = pol.action
        target = f"{v.get('property')}:{v.get('key')}"
        if not skip and action is not None:
            try:
                raw, taint = pol.compiled.arguments(witness, trace, v)
                named = type(action).bind_names(raw)
                marks = {}
                for (name, _), (raw_name, _), t in zip(named, raw, taint):
                    marks[name] = t
                args = action.bind(named)
                action.validate(args, marks)
                target = action.target_of(args, v)
                plan = action.plan(args)
            except MissingArgument as e:
                skip = str(e)
            except TracelogicError as e:  # refused values, configuration problems
                skip = str(e)
        d.target = target
        risk = heal.risk if heal.risk is not None else (type(action).risk if action else 1.0)
        needs = pol.compiled.needs_approval(risk, witness, trace, v)
        if needs is None:
            needs = self.config.approve_above is not None and risk > self.config.approve_above
        service = getattr(witness, "service", "") if witness is not None else ""
        service = service if isinstance(service, str) else ""
        effect = type(action).effect if action is not None else None
        direction = effect.direction(args) if effect is not None and not skip else None
        escalations: list[dict] = []
        with self.log.transaction() as conn:
            if persist is not None:
                persist(conn)
            existing = self.log.action(aid, conn)
            retry = existing is not None and existing["state"] == "skipped" and \
                not (skip and skip == existing["reason"])
            if existing is not None and not retry:
                if quiet:
                    return None
                self.log.record(conn, action_id=aid, policy=heal.name, action=heal.action,
                                target=existing["target"], event="duplicate",
                                outcome=existing["state"], dry_run=self.dry_run,
                                detail={"violation_id": vid}, time_ns=now)
                d.target, d.outcome = existing["target"], "duplicate"
                d.reason = f"already decided: {existing['state']}"
                return d
            if not self.dry_run and heal.run is None:
                # before the guards: a failed verification escalates whatever they decide
                # (a control loop's next period is its next decision, not a failed fix)
                escalations = self._failed_verifications(conn, heal.name, target, v, now, aid)
            values = (now, heal.name, heal.action, target, service, vid,
                      json.dumps(v, sort_keys=True, default=str),
                      json.dumps(args, sort_keys=True, default=str),
                      json.dumps(plan, sort_keys=True, default=str), risk, int(needs),
                      int(self.dry_run), "planned", effect.resource if effect else None,
                      direction)
            if retry:
                conn.execute(
                    "UPDATE heal_actions SET updated_ns = ?, policy = ?, action = ?, target = ?,"
                    " service = ?, violation_id = ?, violation = ?, args = ?, plan = ?, risk = ?,"
                    " needs_approval = ?, dry_run = ?, state = ?, resource = ?, direction = ?,"
                    " reason = '' WHERE id = ?", (*values, aid))
            else:
                conn.execute(
                    "INSERT INTO heal_actions (created_ns, updated_ns, policy, action, target,"
                    " service, violation_id, violation, args, plan, risk, needs_approval,"
                    " dry_run, state, resource, direction, id)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (now, *values, aid))
            rec = dict(action_id=aid, policy=heal.name, action=heal.action, target=target,
                       dry_run=self.dry_run, time_ns=now)
            detail = {"violation": _brief(v), "violation_id": vid, "args": args, "plan": plan,
                      "risk": risk, "needs_approval": needs, "service": service}
            if retry:
                detail["retry_of_skip"] = existing["reason"]
            self.log.record(conn, event="plan", outcome="matched", detail=detail, **rec)
            run = self._plan(conn, heal, aid, target, service, now, effect, direction, tick,
                             skip, needs, risk, plan, rec, d)
        for row in escalations:
            self._escalate(row, row["_why"], cause="verification_failed",
                           follow_up={"action_id": aid, "outcome": "running" if run
                                      else d.outcome, "reason": d.reason})
        if not run:
            return d
        return self._run(pol.action, heal, aid, target, args, v, now, d)

    def _plan(self, conn, heal: HealT, aid: str, target: str, service: str, now: int, effect,
              direction: int | None, tick: list, skip: str, needs: bool, risk: float,
              plan: dict, rec: dict, d: Decision) -> bool:
        """Skip, guards, approval, dry-run, concurrency: fills ``d``; True when it runs now."""
        if skip:
            self._set(conn, aid, now, state="skipped", reason=skip)
            self.log.record(conn, event="skip", outcome="skipped", detail={"reason": skip},
                            **rec)
            d.outcome, d.reason = "skipped", skip
            return False
        blocked = self._guards(conn, heal, target, service, now, effect, direction, tick)
        if blocked is None and needs:
            blocked = self._pending_request(conn, heal, target, now, aid)
        if blocked is not None:
            guard, reason = blocked
            self._set(conn, aid, now, state="blocked", reason=f"{guard}: {reason}")
            self.log.record(conn, event="guard", outcome=guard, detail={"reason": reason},
                            **rec)
            d.outcome, d.reason = "blocked", f"{guard}: {reason}"
            d.detail = {"guard": guard}
            return False
        if needs and self.dry_run:
            # a dry-run never asks a human: it records that the action would wait for one
            self._set(conn, aid, now, state="dry_run")
            self.log.record(conn, event="dry_run", outcome="needs_approval",
                            detail={"plan": plan, "risk": risk,
                                    "reason": f"risk {risk} needs approval; in execute mode "
                                    "the action would wait for it"}, **rec)
            d.outcome, d.reason = "dry_run", f"risk {risk} needs approval (not requested in " \
                                             "dry-run)"
            d.detail = {"plan": plan, "needs_approval": True}
            return False
        if needs:
            expires = now + self.config.approval_timeout_ns
            self._set(conn, aid, now, state="pending_approval", approval_expires_ns=expires)
            self.log.record(conn, event="approval_requested", outcome="pending",
                            detail={"risk": risk, "expires_unix_nano": expires}, **rec)
            d.outcome, d.reason = "pending_approval", f"risk {risk} needs approval"
            d.detail = {"expires_unix_nano": expires}
            return False
        if effect is not None:
            tick.append((effect.resource, target, direction, heal.name))
        if self.dry_run:
            self._set(conn, aid, now, state="dry_run", acted_ns=now)
            self.log.record(conn, event="dry_run", outcome="planned", detail={"plan": plan},
                            **rec)
            d.outcome, d.detail = "dry_run", {"plan": plan}
            return False
        if not self._claim_slot():
            self._set(conn, aid, now, state="blocked", reason="concurrency")
            self.log.record(conn, event="guard", outcome="concurrency",
                            detail={"reason": f"{self.config.concurrency} action(s) already "
                                    "running"}, **rec)
            d.outcome, d.reason = "blocked", "concurrency"
            return False
        self._set(conn, aid, now, state="running", acted_ns=now)
        return True

    # An approval request reserves its target: it counts for the cooldown (from when it was
    # made, also once decided) and the limit (while it may still run), so requests cannot pile
    # up; in dry-run, a plan that would have asked counts the same until it would have expired.
    _REQUESTED = ("(needs_approval = 1 AND acted_ns IS NULL AND (state IN ('pending_approval', "
                  "'approved') OR (state = 'dry_run' AND created_ns > ?)))")
    _ASKED = ("(needs_approval = 1 AND acted_ns IS NULL AND state IN ('pending_approval', "
              "'approved', 'rejected', 'expired', 'dry_run'))")

    def _guards(self, conn, heal: HealT, target: str, service: str, now: int, effect,
                direction: int | None, tick: list, exclude: str = "") -> tuple[str, str] | None:
        mode = int(self.dry_run)
        asked_since = now - self.config.approval_timeout_ns
        if heal.cooldown_ns:
            row = conn.execute(
                "SELECT MAX(COALESCE(acted_ns, CASE WHEN " + self._ASKED + " THEN created_ns "
                "END)) FROM heal_actions WHERE policy = ? AND target = ? AND dry_run = ? AND "
                "id != ?", (heal.name, target, mode, exclude)).fetchone()
            last = row[0]
            if last is not None and now - last < heal.cooldown_ns:
                return "cooldown", (f"acted on {target} {approx_duration(now - last)} ago; "
                                    f"cooldown {format_duration(heal.cooldown_ns)}")
        if heal.limit is not None:
            n, per = heal.limit
            count = conn.execute(
                "SELECT COUNT(*) FROM heal_actions WHERE policy = ? AND dry_run = ? AND id != ? "
                "AND (acted_ns > ? OR " + self._REQUESTED + ")",
                (heal.name, mode, exclude, now - per, asked_since)).fetchone()[0]
            if count >= n:
                return "limit", f"{count} action(s) in the last {format_duration(per)}; " \
                                f"limit {n} per {format_duration(per)}"
        share = self.config.blast_max_share
        if share is not None and service:
            total = self.config.blast_targets.get(service)
            if total:
                hit = {r[0] for r in conn.execute(
                    "SELECT DISTINCT target FROM heal_actions WHERE service = ? AND dry_run = ? "
                    "AND acted_ns > ? AND id != ?",
                    (service, mode, now - self.config.blast_window_ns, exclude))}
                if target not in hit and (len(hit) + 1) / total > share:
                    return "blast_radius", (
                        f"{len(hit)} of {total} target(s) of service {service} acted on in the "
                        f"last {format_duration(self.config.blast_window_ns)}; one more exceeds "
                        f"max_share {share}")
        if effect is not None and direction:
            for resource, other_target, other_dir, other_policy in tick:
                if resource == effect.resource and other_target == target and other_dir and \
                        other_dir * direction < 0:
                    return "conflict", (f"policy {other_policy} acts on {target} in the opposite "
                                        "direction in this tick")
        return None

    def _pending_request(self, conn, heal: HealT, target: str, now: int,
                         aid: str) -> tuple[str, str] | None:
        """One open approval request per (policy, target): more would only pile up."""
        row = conn.execute(
            "SELECT id, state FROM heal_actions WHERE policy = ? AND target = ? AND dry_run = ? "
            "AND id != ? AND " + self._REQUESTED + " ORDER BY created_ns LIMIT 1",
            (heal.name, target, int(self.dry_run), aid,
             now - self.config.approval_timeout_ns)).fetchone()
        if row is None:
            return None
        state = "pending" if row["state"] == "pending_approval" else \
            "planned (dry-run)" if row["state"] == "dry_run" else row["state"]
        return "approval_pending", (f"request {row['id'][:12]} for {target} is already {state}; "
                                    "decide it with `tracelogic approve`")

    def _failed_verifications(self, conn, policy: str, target: str, v: dict, now: int,
                              aid: str) -> list[dict]:
        """Actions on ``target`` whose verification this violation fails, claimed for
        escalation in the caller's transaction (so each escalates exactly once).

        The violation's own time (its latest witness event) is compared with the window
        ``[finished, finished + verify_window)``: a late trace or a batch from before the
        action does not fail it, and a late violation from inside a window already closed as
        ``recovered`` does. Without event times, the time it is processed is used.
        """
        t = violation_time(v)
        if t is None:
            rows = [dict(r) for r in conn.execute(
                "SELECT * FROM heal_actions WHERE policy = ? AND target = ? AND dry_run = 0 AND "
                "verification = 'pending' AND verify_deadline_ns > ? AND id != ? AND "
                "escalated_ns IS NULL", (policy, target, now, aid))]
            when = now
        else:
            rows = [dict(r) for r in conn.execute(
                "SELECT * FROM heal_actions WHERE policy = ? AND target = ? AND dry_run = 0 AND "
                "verification IN ('pending', 'recovered') AND "
                "COALESCE(verify_from_ns, acted_ns) <= ? AND ? < verify_deadline_ns AND "
                "id != ? AND escalated_ns IS NULL", (policy, target, t, t, aid))]
            when = t
        for row in rows:
            opened = row["verify_from_ns"] if row["verify_from_ns"] is not None \
                else row["acted_ns"]
            window = row["verify_deadline_ns"] - opened
            late = row["verification"] == "recovered"
            why = (f"`{v.get('property')}` was violated again on {target} "
                   f"{approx_duration(max(when - opened, 0))} after the action finished, within "
                   f"its {format_duration(window)} verification window"
                   + ("; the violation arrived late, after the window had been closed as "
                      "recovered" if late else ""))
            conn.execute("UPDATE heal_actions SET verification = 'failed', escalated_ns = ?, "
                         "updated_ns = ? WHERE id = ?", (now, now, row["id"]))
            self.log.record(conn, action_id=row["id"], policy=policy, action=row["action"],
                            target=target, event="verify", outcome="failed", dry_run=False,
                            detail={"reason": why, "by_action": aid,
                                    "violation_time_unix_nano": t, "late": late}, time_ns=now)
            row["_why"] = "verification failed: " + why
        return rows

    def _set(self, conn, aid: str, now: int, **cols: Any) -> None:
        cols["updated_ns"] = now
        sets = ", ".join(f"{k} = ?" for k in cols)
        conn.execute(f"UPDATE heal_actions SET {sets} WHERE id = ?", (*cols.values(), aid))

    def _claim_slot(self) -> bool:
        with self._inflight_lock:
            if self._inflight >= self.config.concurrency:
                return False
            self._inflight += 1
            return True

    # ================================================================ Execute
    def _run(self, action: Action, heal: HealT, aid: str, target: str, args: dict, v: dict,
             acted: int, d: Decision) -> Decision:
        ctx = ExecContext(heal.name, aid, v, self.hooks)
        error = None
        try:
            result = action.execute(dict(args), ctx)
        except ActionFailed as e:
            result, error = ActionResult(False, {"error": e.message, "value": e.value}), e.message
        except ActionRefused as e:
            result, error = ActionResult(False, {"error": str(e)}), str(e)
        except Exception as e:  # a plugin bug must not take the loop down; it is recorded
            result = ActionResult(False, {"error": f"{type(e).__name__}: {e}"})
            error = f"plugin raised {type(e).__name__}: {e}"
        finally:
            with self._inflight_lock:
                self._inflight -= 1
        now = self.clock()
        payload = {"detail": result.detail, "undo": result.undo}
        with self.log.transaction() as conn:
            if error is None:
                self._set(conn, aid, now, state="executed",
                          result=json.dumps(payload, sort_keys=True, default=str),
                          verify_from_ns=now,
                          verify_deadline_ns=now + self.config.verify_window(heal.name),
                          verification="pending")
            else:
                self._set(conn, aid, now, state="failed", reason=error, escalated_ns=now,
                          result=json.dumps(payload, sort_keys=True, default=str))
            self.log.record(conn, action_id=aid, policy=heal.name, action=heal.action,
                            target=target, event="execute",
                            outcome="ok" if error is None else "failed", dry_run=False,
                            detail={"result": result.detail, "finished_unix_nano": now,
                                    "error": error}, time_ns=acted)
        d.outcome = "executed" if error is None else "failed"
        d.reason = error or ""
        d.detail = {"result": result.detail}
        if error is not None:
            row = self.log.action(aid)
            if row is not None:
                self._escalate(row, f"the action failed: {error}", cause="action_failed")
        return d

    def _escalate(self, row: dict, reason: str, *, cause: str,
                  follow_up: dict | None = None) -> None:
        """Tell a human: a log line, an ``escalate`` audit event and the escalation webhook.

        Callers claim the row (``escalated_ns``) in the transaction that decided to
        escalate, so each cause escalates once, whatever the guards said.
        """
        if follow_up is not None:
            what = follow_up["outcome"] + (f" ({follow_up['reason']})" if follow_up["reason"]
                                           else "")
            reason += f"; the follow-up action was {what}"
        log.warning("heal escalation: policy %s on %s: %s", row["policy"], row["target"], reason)
        detail: dict = {"reason": reason, "cause": cause}
        if follow_up is not None:
            detail["follow_up"] = follow_up
        outcome = "logged"
        name = self.config.escalation_webhook
        if name is not None and not self.dry_run:
            from tracelogic.healing.actions.builtin import post_json

            body = json.dumps({"escalation": True, "policy": row["policy"],
                               "action": row["action"], "action_id": row["id"],
                               "target": row["target"], "reason": reason, "cause": cause},
                              sort_keys=True).encode()
            try:
                res = post_json(self.config.webhook(name), body, row["id"] + "-escalation")
                detail["webhook"] = res.detail
                outcome = "notified"
            except TracelogicError as e:
                detail["webhook_error"] = str(e)
                outcome = "notify_failed"
        with self.log.transaction() as conn:
            self.log.record(conn, action_id=row["id"], policy=row["policy"],
                            action=row["action"], target=row["target"], event="escalate",
                            outcome=outcome, dry_run=bool(row["dry_run"]), detail=detail)

    # ================================================================ approvals, verification
    def approve(self, action_id: str, *, by: str = "", reason: str = "") -> tuple[bool, str]:
        return self.log.decide(action_id, True, by=by, reason=reason)

    def reject(self, action_id: str, *, by: str = "", reason: str = "") -> tuple[bool, str]:
        return self.log.decide(action_id, False, by=by, reason=reason)

    def run_pending(self) -> list[Decision]:
        """Expire timed-out approvals, run approved actions (through the guards again), and
        close verification windows that passed without a new violation."""
        now = self.clock()
        out = []
        for row in self.log.expire_due(now):
            out.append(Decision(row["policy"], row["action"], row["id"], row["target"],
                                "expired", "approval timed out; not executed"))
        by_name = {p.heal.name: p for p in self.policies}
        for row in self.log.actions(state="approved"):
            pol = by_name.get(row["policy"])
            if pol is None or pol.action is None or bool(row["dry_run"]) != self.dry_run:
                continue
            out.append(self._run_approved(pol, row))
        with self.log.transaction() as conn:
            due = [dict(r) for r in conn.execute(
                "SELECT * FROM heal_actions WHERE verification = 'pending' AND "
                "verify_deadline_ns <= ?", (now,))]
            for row in due:
                conn.execute("UPDATE heal_actions SET verification = 'recovered', updated_ns = ?"
                             " WHERE id = ?", (now, row["id"]))
                self.log.record(conn, action_id=row["id"], policy=row["policy"],
                                action=row["action"], target=row["target"], event="verify",
                                outcome="recovered", dry_run=False,
                                detail={"reason": "no violation on the target within the "
                                        "verification window"}, time_ns=now)
                out.append(Decision(row["policy"], row["action"], row["id"], row["target"],
                                    "recovered"))
        return out

    def _run_approved(self, pol: _Policy, row: dict) -> Decision:
        now = self.clock()
        heal = pol.heal
        d = Decision(heal.name, heal.action, row["id"], row["target"], "")
        effect = type(pol.action).effect
        with self.log.transaction() as conn:
            fresh = self.log.action(row["id"], conn)
            if fresh is None or fresh["state"] != "approved":
                d.outcome, d.reason = "duplicate", "already taken"
                return d
            blocked = self._guards(conn, heal, row["target"], row["service"], now, effect,
                                   row["direction"], [], exclude=row["id"])
            rec = dict(action_id=row["id"], policy=heal.name, action=heal.action,
                       target=row["target"], dry_run=self.dry_run, time_ns=now)
            if blocked is None and not self.dry_run and not self._claim_slot():
                blocked = ("concurrency", f"{self.config.concurrency} action(s) already running")
            if blocked is not None:
                self._set(conn, row["id"], now, state="blocked", escalated_ns=now,
                          reason=f"{blocked[0]}: {blocked[1]}")
                self.log.record(conn, event="guard", outcome=blocked[0],
                                detail={"reason": blocked[1], "after_approval": True}, **rec)
                d.outcome, d.reason = "blocked", f"{blocked[0]}: {blocked[1]}"
            elif self.dry_run:
                self._set(conn, row["id"], now, state="dry_run", acted_ns=now)
                self.log.record(conn, event="dry_run", outcome="planned",
                                detail={"plan": row["plan"]}, **rec)
                d.outcome = "dry_run"
            else:
                self._set(conn, row["id"], now, state="running", acted_ns=now)
        if d.outcome == "blocked":
            # someone approved it and is waiting for it: never let it die silently
            by = fresh["approval_by"] or "?"
            self._escalate(fresh, f"approved by {by}, but not executed: {d.reason}",
                           cause="approved_but_blocked")
        if d.outcome:
            return d
        return self._run(pol.action, heal, row["id"], row["target"], row["args"],
                         row["violation"], now, d)

    def undo(self, action_id: str) -> Decision:
        """Run the undo of an executed action (scale back, close the breaker, roll forward)."""
        row = self.log.action(action_id)
        if row is None:
            raise KeyError(action_id)
        pol = next((p for p in self.policies if p.heal.name == row["policy"]), None)
        d = Decision(row["policy"], row["action"], action_id, row["target"], "")
        if pol is None or pol.action is None or not type(pol.action).has_undo or \
                row["state"] != "executed" or not (row["result"] or {}).get("undo"):
            d.outcome, d.reason = "skipped", "nothing to undo"
            return d
        result = ActionResult(True, row["result"].get("detail", {}), row["result"]["undo"])
        ctx = ExecContext(row["policy"], action_id + "-undo", row["violation"], self.hooks)
        try:
            res = pol.action.undo(dict(row["args"]), result, ctx)
            d.outcome, d.detail = "executed", {"result": res.detail}
        except TracelogicError as e:
            d.outcome, d.reason = "failed", str(e)
        with self.log.transaction() as conn:
            self.log.record(conn, action_id=action_id, policy=row["policy"],
                            action=row["action"], target=row["target"], event="undo",
                            outcome="ok" if d.outcome == "executed" else "failed",
                            dry_run=False, detail={"reason": d.reason, **d.detail})
        return d

    def serve_approvals(self, host: str | None = None, port: int | None = None):
        """Start the approval endpoint (loopback by default); see :mod:`.approvals`."""
        from tracelogic.healing.approvals import ApprovalServer

        listen = self.config.approval_listen or ("127.0.0.1", 0)
        return ApprovalServer(self.log, self.config.approval_token,
                              host=host or listen[0],
                              port=listen[1] if port is None else port).start()


def violation_time(v: dict) -> int | None:
    """When a violation happened: its latest witness event, else its window's end (unix ns)."""
    times = [e.get("time_unix_nano") for e in v.get("events") or [] if isinstance(e, dict)]
    times = [t for t in times if isinstance(t, int) and not isinstance(t, bool)]
    if times:
        return max(times)
    end = (v.get("window") or {}).get("end_unix_nano")
    return end if isinstance(end, int) and not isinstance(end, bool) else None


def _brief(v: dict) -> dict:
    return {k: v[k] for k in ("property", "key", "trace_ids", "span_ids", "severity")
            if k in v}
