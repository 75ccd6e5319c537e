"""The durable store: violations (and, with ``--journal``, acknowledged spans) in SQLite.

One SQLite file in WAL mode, shared by the sidecar, `tracelogic violations`,
and the healing controller (which keeps its audit trail in tables of its own
in the same file). Every write is a transaction that is committed before the
method returns: the sidecar acknowledges a request only after
:meth:`Store.add_violations` returned, which is what makes an acknowledged
violation durable.

Violations are deduplicated by ``(property, key, decided event)``, so a
redelivered request or a replayed journal never records one twice.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from tracelogic.engine.record import ViolationRecord, dedup_key, encoded, json_strings
from tracelogic.sqlite_db import ThreadConnections, where

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS violations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_ns INTEGER NOT NULL,
    property TEXT NOT NULL,
    key TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    trace_ids TEXT NOT NULL,      -- JSON list
    span_ids TEXT NOT NULL,       -- JSON list
    body TEXT NOT NULL,           -- the whole violation object (monitor JSON contract)
    dedup TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS violations_by_time ON violations (recorded_ns);
CREATE INDEX IF NOT EXISTS violations_by_property ON violations (property, recorded_ns);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ns INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    payload BLOB NOT NULL          -- one serialized ExportTraceServiceRequest
);
CREATE INDEX IF NOT EXISTS journal_by_trace ON journal (trace_id);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ns INTEGER NOT NULL,
    format TEXT NOT NULL,          -- "protobuf" | "json", or "logs-" before either (after gzip is undone)
    payload BLOB NOT NULL          -- one acknowledged ExportTraceServiceRequest, as received
);
CREATE TABLE IF NOT EXISTS request_traces (
    trace_id TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    PRIMARY KEY (trace_id, request_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS request_traces_by_request ON request_traces (request_id);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,         -- the request's id in the journal
    received_ns INTEGER NOT NULL,
    quarantined_ns INTEGER NOT NULL,
    format TEXT NOT NULL,
    payload BLOB NOT NULL,          -- kept as received, for a human to look at
    reason TEXT NOT NULL
);
"""


def _json_list(values: Any) -> str:
    """``json.dumps(values)``: a list of ids written without an encoder when it can be."""
    text = json_strings(values)
    return json.dumps(values) if text is None else text


def _create(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    conn.commit()


@dataclass(frozen=True)
class StoredViolation:
    id: int
    recorded_ns: int
    body: dict

    def to_json(self) -> dict:
        return dict(self.body, id=self.id, recorded_unix_nano=self.recorded_ns)


class Store:
    """A SQLite file. Thread-safe: one connection per thread, writes serialized."""

    def __init__(self, path: str, *, clock=time.time_ns):
        self.path = path
        self.clock = clock
        self._conns = ThreadConnections(path)
        self._write = threading.Lock()
        # The store holds span values and journaled payloads: a new one is private (0600),
        # and SQLite gives its -wal and -shm files the database's mode (private_files.py).
        # An existing store keeps its mode; `tracelogic serve` warns when it is exposed.
        with self._write:
            self._conns.open_private(_create)

    def _conn(self) -> sqlite3.Connection:
        return self._conns.get()

    def close(self) -> None:
        self._conns.close()

    # ------------------------------------------------------------ violations
    def add_violations(self, violations: Iterable[Any]) -> list[tuple[ViolationRecord, bool]]:
        """Record violations (report ``Violation`` objects, or their JSON) in one committed
        transaction.

        Returns, in order, each violation's :class:`ViolationRecord` and whether it was
        new. A duplicate (the same dedup key: a redelivered request, a replayed journal,
        or an earlier violation of the same call) is not stored again; its record carries
        the id of the row that holds it. Each body is encoded to JSON once (the record
        keeps the text), and the rows go in with one ``executemany``.
        """
        items = [encoded(v) for v in violations]
        if not items:
            return []
        now = self.clock()
        rows = [(now, body["property"], body["key"], body.get("severity", "error"),
                 body.get("message", ""), _json_list(body.get("trace_ids", [])),
                 _json_list(body.get("span_ids", [])), text, dedup_key(body))
                for body, _, text in items]
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                # ids are AUTOINCREMENT and this transaction is the only writer, so the rows
                # it inserts are exactly those with an id above the largest one before it
                (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM violations").fetchone()
                conn.executemany(
                    "INSERT OR IGNORE INTO violations (recorded_ns, property, key, severity,"
                    " message, trace_ids, span_ids, body, dedup) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows)
                inserted = dict((d, i) for i, d in conn.execute(
                    "SELECT id, dedup FROM violations WHERE id > ?", (top,)))
                out = []
                for (body, witness, text), row in zip(items, rows):
                    key = row[-1]
                    rid = inserted.pop(key, None)  # the first of a key in this call is new
                    new = rid is not None
                    if not new:
                        rid = conn.execute("SELECT id FROM violations WHERE dedup = ?",
                                           (key,)).fetchone()[0]
                    out.append((ViolationRecord(rid, body, witness, text), new))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return out

    def violations(self, *, since_ns: int | None = None, after_id: int | None = None,
                   prop: str | None = None, limit: int | None = None) -> list[StoredViolation]:
        """Stored violations, oldest first, filtered by time, id and property."""
        sql, args = where("SELECT id, recorded_ns, body FROM violations", [
            ("recorded_ns >= ?", since_ns), ("id > ?", after_id), ("property = ?", prop)])
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [StoredViolation(i, t, json.loads(b))
                for i, t, b in self._conn().execute(sql, args)]

    def count_violations(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM violations").fetchone()[0]

    def retain(self, *, max_age_ns: int | None = None, max_rows: int | None = None) -> int:
        """Apply retention limits; returns how many violations were deleted."""
        deleted = 0
        with self._write:
            conn = self._conn()
            if max_age_ns is not None:
                deleted += conn.execute("DELETE FROM violations WHERE recorded_ns < ?",
                                        (self.clock() - max_age_ns,)).rowcount
            if max_rows is not None:
                deleted += conn.execute(
                    "DELETE FROM violations WHERE id NOT IN "
                    "(SELECT id FROM violations ORDER BY id DESC LIMIT ?)", (max_rows,)).rowcount
        return deleted

    # ------------------------------------------------------------ journal
    def journal(self, entries: Iterable[tuple[str, bytes]]) -> None:
        """Write acknowledged input first: (trace id, request bytes) pairs, one transaction."""
        rows = [(self.clock(), tid, payload) for tid, payload in entries]
        if not rows:
            return
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT INTO journal (received_ns, trace_id, payload) "
                                 "VALUES (?,?,?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def replay(self) -> Iterator[tuple[str, bytes]]:
        """The journaled input, in arrival order (for a restart)."""
        for tid, payload in self._conn().execute(
                "SELECT trace_id, payload FROM journal ORDER BY id"):
            yield tid, payload

    def forget(self, trace_ids: Iterable[str]) -> None:
        """Drop journal entries of traces whose verdicts are recorded."""
        ids = [(t,) for t in trace_ids]
        if not ids:
            return
        with self._write:
            self._conn().executemany("DELETE FROM journal WHERE trace_id = ?", ids)

    def journal_size(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM journal").fetchone()[0]

    # ------------------------------------------------------------ request journal
    # The sidecar journals whole requests once (not once per trace) and maps trace ids to
    # them; a request row goes when the last of its traces is forgotten.
    def journal_requests(self, entries: Iterable[tuple[str, bytes, Iterable[str]]]) -> None:
        """Write acknowledged requests first, in one committed transaction:
        ``(format, payload, trace ids)`` triples, format ``"protobuf"`` or ``"json"``."""
        rows = list(entries)
        if not rows:
            return
        now = self.clock()
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for fmt, payload, tids in rows:
                    rid = conn.execute("INSERT INTO requests (received_ns, format, payload) "
                                       "VALUES (?,?,?)", (now, fmt, payload)).lastrowid
                    conn.executemany("INSERT OR IGNORE INTO request_traces VALUES (?,?)",
                                     [(t, rid) for t in dict.fromkeys(tids)])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def replay_requests(self) -> Iterator[tuple[str, bytes, frozenset[str]]]:
        """Journaled requests in arrival order, each with the trace ids still open in it
        (spans of other traces in the request were decided already: skip them)."""
        for _, fmt, payload, tids in self.replay_requests_with_ids():
            yield fmt, payload, tids

    def replay_requests_with_ids(self) -> Iterator[tuple[int, str, bytes, frozenset[str]]]:
        """As :meth:`replay_requests`, with each request's id (for :meth:`quarantine`)."""
        conn = self._conn()
        for rid, fmt, payload in conn.execute(
                "SELECT id, format, payload FROM requests ORDER BY id").fetchall():
            tids = frozenset(t for (t,) in conn.execute(
                "SELECT trace_id FROM request_traces WHERE request_id = ?", (rid,)))
            if tids:
                yield rid, fmt, payload, tids

    def quarantine(self, request_id: int, reason: str) -> None:
        """Move a journaled request that cannot be replayed out of the journal, into the
        ``quarantine`` table with the reason: it is kept for a human, never replayed
        (and so never retried) again."""
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT OR REPLACE INTO quarantine (id, received_ns, "
                             "quarantined_ns, format, payload, reason) SELECT id, received_ns, "
                             "?, format, payload, ? FROM requests WHERE id = ?",
                             (self.clock(), reason, request_id))
                conn.execute("DELETE FROM request_traces WHERE request_id = ?", (request_id,))
                conn.execute("DELETE FROM requests WHERE id = ?", (request_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def quarantined(self) -> list[tuple[int, str, str]]:
        """``(request id, format, reason)`` of every quarantined journal entry."""
        return list(self._conn().execute(
            "SELECT id, format, reason FROM quarantine ORDER BY id"))

    def forget_traces(self, trace_ids: Iterable[str]) -> None:
        """Drop traces whose verdicts are recorded; requests left with none go too."""
        ids = [(t,) for t in dict.fromkeys(trace_ids)]
        if not ids:
            return
        with self._write:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS _gone (trace_id TEXT PRIMARY KEY)")
                conn.execute("DELETE FROM _gone")
                conn.executemany("INSERT OR IGNORE INTO _gone VALUES (?)", ids)
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS _touched (id INTEGER PRIMARY KEY)")
                conn.execute("DELETE FROM _touched")
                conn.execute("INSERT OR IGNORE INTO _touched SELECT request_id FROM "
                             "request_traces WHERE trace_id IN (SELECT trace_id FROM _gone)")
                conn.execute("DELETE FROM request_traces WHERE trace_id IN "
                             "(SELECT trace_id FROM _gone)")
                conn.execute("DELETE FROM requests WHERE id IN (SELECT id FROM _touched) AND "
                             "NOT EXISTS (SELECT 1 FROM request_traces r WHERE "
                             "r.request_id = requests.id)")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def journaled_requests(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM requests").fetchone()[0]

    def journaled_traces(self) -> int:
        return self._conn().execute(
            "SELECT COUNT(DISTINCT trace_id) FROM request_traces").fetchone()[0]
