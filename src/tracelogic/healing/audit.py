"""The controller's Knowledge: actions, approvals and the audit trail, in the store's SQLite file.

Own tables (prefixed ``heal_``), own connection; the violations table belongs to
:mod:`tracelogic.sidecar.store`. Every write is a committed
transaction before the method returns.

- ``heal_actions``: one row per (policy, violation, mode), keyed by the
  idempotency key. Its ``state`` goes ``planned`` → (``pending_approval`` →
  ``approved`` | ``rejected`` | ``expired``) → ``running`` → ``executed`` |
  ``failed``; or ``dry_run`` (would have run; with ``needs_approval`` and no
  ``acted_ns``, would have waited for approval — a dry-run never asks),
  ``skipped`` (an argument had no value or was refused; decided again by the
  next run) or ``blocked`` (a guard said no). ``verify_from_ns`` ..
  ``verify_deadline_ns`` is the verification window; ``escalated_ns`` is set
  once, when an escalation is decided.
- ``heal_audit``: append-only events, one per decision, guard outcome,
  approval, execution, verification and escalation.
- ``heal_cursor``: how far ``tracelogic heal`` has read the violations table.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from tracelogic.sqlite_db import ThreadConnections, where

_SCHEMA = """
CREATE TABLE IF NOT EXISTS heal_actions (
    id TEXT PRIMARY KEY,              -- the idempotency key
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    policy TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    service TEXT NOT NULL DEFAULT '',
    violation_id INTEGER,
    violation TEXT NOT NULL,          -- JSON
    args TEXT NOT NULL,               -- JSON
    plan TEXT NOT NULL,               -- JSON
    risk REAL NOT NULL,
    needs_approval INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    resource TEXT,
    direction INTEGER,
    acted_ns INTEGER,                 -- when it ran (or, in dry-run, would have run)
    result TEXT,                      -- JSON
    approval_expires_ns INTEGER,
    approval_by TEXT,
    approval_ns INTEGER,
    approval_reason TEXT,
    verify_deadline_ns INTEGER,
    verification TEXT,                -- NULL | pending | recovered | failed
    verify_from_ns INTEGER,           -- when the verification window opened (action finished)
    escalated_ns INTEGER              -- set once, in the transaction that decides to escalate
);
CREATE INDEX IF NOT EXISTS heal_actions_limit ON heal_actions (policy, dry_run, acted_ns);
CREATE INDEX IF NOT EXISTS heal_actions_cooldown ON heal_actions (policy, target, dry_run, acted_ns);
CREATE INDEX IF NOT EXISTS heal_actions_state ON heal_actions (state);
CREATE TABLE IF NOT EXISTS heal_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL,
    action_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    detail TEXT NOT NULL              -- JSON
);
CREATE INDEX IF NOT EXISTS heal_audit_by_action ON heal_audit (action_id);
CREATE TABLE IF NOT EXISTS heal_cursor (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
-- the state of each `run controller` loop after its last period (docs/control.md §9), so a
-- restarted serve continues the run: written in the transaction that records the period
CREATE TABLE IF NOT EXISTS heal_controller_state (
    name TEXT PRIMARY KEY,          -- "<cursor name>/<policy>": dry-run and execute apart
    declaration TEXT NOT NULL,      -- the controller's fingerprint: another one starts afresh
    state TEXT NOT NULL,            -- JSON: run, period, missed, state, history (exact values)
    updated_ns INTEGER NOT NULL
);
"""

# Audit event names (the `heal.<event>` spans of std.healing; docs/healing.md).
EVENTS = ("plan", "skip", "guard", "duplicate", "approval_requested", "approved", "rejected",
          "expired", "dry_run", "execute", "verify", "escalate", "undo")

ACTED_STATES = ("running", "executed", "failed", "dry_run")


@dataclass(frozen=True)
class AuditEvent:
    id: int
    time_ns: int
    action_id: str
    policy: str
    action: str
    target: str
    event: str
    outcome: str
    dry_run: bool
    detail: dict

    def to_json(self) -> dict:
        return {"id": self.id, "time_unix_nano": self.time_ns, "action_id": self.action_id,
                "policy": self.policy, "action": self.action, "target": self.target,
                "event": self.event, "outcome": self.outcome, "dry_run": self.dry_run,
                "detail": self.detail}


def _create(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    _migrate(conn)


class AuditLog:
    """The heal_* tables of one SQLite file; thread-safe (a connection per thread)."""

    def __init__(self, path: str, *, clock=time.time_ns):
        self.path = path
        self.clock = clock
        self._conns = ThreadConnections(path, rows=True)
        self.lock = threading.RLock()
        self._conns.open_private(_create)  # the sidecar's store, or a new private file

    def conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def close(self) -> None:
        self._conns.close()

    # ------------------------------------------------------------ transactions
    def transaction(self):
        """``with log.transaction() as conn:`` — BEGIN IMMEDIATE … COMMIT, one writer at a time
        across processes too (the guards read and write in one transaction)."""
        return _Txn(self)

    # ------------------------------------------------------------ audit events
    def record(self, conn: sqlite3.Connection, *, action_id: str, policy: str, action: str,
               target: str, event: str, outcome: str, dry_run: bool, detail: dict | None = None,
               time_ns: int | None = None) -> None:
        assert event in EVENTS, event
        conn.execute("INSERT INTO heal_audit (time_ns, action_id, policy, action, target, event,"
                     " outcome, dry_run, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                     (self.clock() if time_ns is None else time_ns, action_id, policy, action,
                      target, event, outcome, int(dry_run),
                      json.dumps(detail or {}, sort_keys=True, default=str)))

    def events(self, *, action_id: str | None = None, after_id: int | None = None,
               policy: str | None = None) -> list[AuditEvent]:
        sql, args = where("SELECT * FROM heal_audit", [
            ("action_id = ?", action_id), ("id > ?", after_id), ("policy = ?", policy)])
        sql += " ORDER BY id"
        return [AuditEvent(r["id"], r["time_ns"], r["action_id"], r["policy"], r["action"],
                           r["target"], r["event"], r["outcome"], bool(r["dry_run"]),
                           json.loads(r["detail"]))
                for r in self.conn().execute(sql, args)]

    # ------------------------------------------------------------ actions
    def action(self, action_id: str, conn: sqlite3.Connection | None = None) -> dict | None:
        row = (conn or self.conn()).execute("SELECT * FROM heal_actions WHERE id = ?",
                                            (action_id,)).fetchone()
        return _row(row) if row is not None else None

    def actions(self, *, state: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM heal_actions", []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state)
        return [_row(r) for r in self.conn().execute(sql + " ORDER BY created_ns, id", args)]

    def pending_approvals(self) -> list[dict]:
        """Requests waiting for a human. A dry-run never asks (a store written by an older
        controller may hold dry-run requests: they are not listed and cannot be approved)."""
        return [r for r in self.actions(state="pending_approval") if not r["dry_run"]]

    # ------------------------------------------------------------ cursor
    def cursor(self, name: str) -> int:
        row = self.conn().execute("SELECT last_id FROM heal_cursor WHERE name = ?",
                                  (name,)).fetchone()
        return row[0] if row else 0

    def set_cursor(self, conn: sqlite3.Connection, name: str, last_id: int) -> None:
        conn.execute("INSERT INTO heal_cursor VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                     "last_id = MAX(last_id, excluded.last_id)", (name, last_id))

    # ------------------------------------------------------------ control loops
    def controller_state(self, name: str) -> tuple[str, dict] | None:
        """``(declaration fingerprint, state)`` saved for the control loop ``name``."""
        row = self.conn().execute("SELECT declaration, state FROM heal_controller_state "
                                  "WHERE name = ?", (name,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def save_controller_state(self, conn: sqlite3.Connection, name: str, declaration: str,
                              state: dict) -> None:
        """Keep a loop's state, in the caller's transaction (the period's own)."""
        conn.execute("INSERT INTO heal_controller_state VALUES (?,?,?,?) ON CONFLICT(name) "
                     "DO UPDATE SET declaration = excluded.declaration, state = "
                     "excluded.state, updated_ns = excluded.updated_ns",
                     (name, declaration, json.dumps(state, sort_keys=True), self.clock()))

    # ------------------------------------------------------------ approvals
    def decide(self, action_id: str, approve: bool, *, by: str = "", reason: str = "",
               now: int | None = None) -> tuple[bool, str]:
        """Approve or reject a pending action. Returns ``(done, state)``: a timed-out request
        is marked ``expired`` and can no longer be approved."""
        now = self.clock() if now is None else now
        with self.transaction() as conn:
            row = self.action(action_id, conn)
            if row is None:
                return False, "unknown"
            if row["state"] != "pending_approval":
                return False, row["state"]
            if row["dry_run"]:
                return False, "dry_run"
            if row["approval_expires_ns"] is not None and now >= row["approval_expires_ns"]:
                self._expire(conn, row, now)
                return False, "expired"
            state = "approved" if approve else "rejected"
            conn.execute("UPDATE heal_actions SET state = ?, approval_by = ?, approval_ns = ?, "
                         "approval_reason = ?, updated_ns = ? WHERE id = ? AND state = "
                         "'pending_approval'", (state, by, now, reason, now, action_id))
            self.record(conn, action_id=action_id, policy=row["policy"], action=row["action"],
                        target=row["target"], event=state, outcome=state,
                        dry_run=row["dry_run"], detail={"by": by, "reason": reason},
                        time_ns=now)
            return True, state

    def expire_due(self, now: int) -> list[dict]:
        """Mark every pending approval past its deadline ``expired`` (never executed)."""
        with self.transaction() as conn:
            rows = [_row(r) for r in conn.execute(
                "SELECT * FROM heal_actions WHERE state = 'pending_approval' AND "
                "approval_expires_ns <= ?", (now,))]
            for row in rows:
                self._expire(conn, row, now)
        return rows

    def _expire(self, conn: sqlite3.Connection, row: dict, now: int) -> None:
        conn.execute("UPDATE heal_actions SET state = 'expired', updated_ns = ? WHERE id = ? "
                     "AND state = 'pending_approval'", (now, row["id"]))
        self.record(conn, action_id=row["id"], policy=row["policy"], action=row["action"],
                    target=row["target"], event="expired", outcome="expired",
                    dry_run=row["dry_run"], detail={"reason": "approval timed out; not executed",
                                                    "expired_at": row["approval_expires_ns"]},
                    time_ns=now)


class _Txn:
    def __init__(self, log: AuditLog):
        self.log = log

    def __enter__(self) -> sqlite3.Connection:
        self.log.lock.acquire()
        self.conn = self.log.conn()
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.log.lock.release()


# Columns added after the first release: a store written by an older controller gains them.
_ADDED_COLUMNS = (("verify_from_ns", "INTEGER"), ("escalated_ns", "INTEGER"))


def _migrate(conn: sqlite3.Connection) -> None:
    have = {r[1] for r in conn.execute("PRAGMA table_info(heal_actions)")}
    for name, sql_type in _ADDED_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE heal_actions ADD COLUMN {name} {sql_type}")


def _row(r: sqlite3.Row) -> dict:
    d = dict(r)
    for key in ("violation", "args", "plan", "result"):
        if d.get(key) is not None:
            d[key] = json.loads(d[key])
    d["dry_run"] = bool(d["dry_run"])
    d["needs_approval"] = bool(d["needs_approval"])
    return d


def iter_rows(events: list[AuditEvent]) -> Iterator[dict]:
    for e in events:
        yield e.to_json()
