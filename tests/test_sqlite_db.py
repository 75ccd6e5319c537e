"""sqlite_db: a connection per thread, and optional SELECT filters bound as parameters, on
real SQLite files."""
from __future__ import annotations

import sqlite3
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from tracelogic.sqlite_db import ThreadConnections, where

ROWS = [(i, f"p{i % 3}", i * 10) for i in range(1, 13)]


def _table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, property TEXT, recorded_ns INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
    return conn


def test_no_filter_given_selects_everything():
    sql, args = where("SELECT id FROM t", [("id > ?", None), ("property = ?", None)])
    assert (sql, args) == ("SELECT id FROM t WHERE 1=1", [])


def test_values_are_parameters_never_text():
    sql, args = where("SELECT id FROM t", [("property = ?", "x' OR '1'='1"), ("id > ?", 0)])
    assert "OR '1'" not in sql
    assert args == ["x' OR '1'='1", 0]
    assert _table().execute(sql, args).fetchall() == []


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 13)), st.one_of(st.none(), st.sampled_from(
    ["p0", "p1", "p2", "p9"])), st.one_of(st.none(), st.integers(0, 130)))
def test_the_rows_are_those_every_given_filter_keeps(after_id, prop, since_ns):
    sql, args = where("SELECT id FROM t", [("id > ?", after_id), ("property = ?", prop),
                                           ("recorded_ns >= ?", since_ns)])
    got = [r[0] for r in _table().execute(sql + " ORDER BY id", args)]
    want = [i for i, p, t in ROWS if (after_id is None or i > after_id)
            and (prop is None or p == prop) and (since_ns is None or t >= since_ns)]
    assert got == want


def test_a_connection_per_thread_in_wal_mode_that_sees_committed_writes(tmp_path):
    conns = ThreadConnections(str(tmp_path / "db.sqlite"), rows=True)
    mine = conns.get()
    assert conns.get() is mine
    assert mine.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert mine.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    mine.execute("CREATE TABLE t (x INTEGER)")
    mine.execute("INSERT INTO t VALUES (7)")  # autocommit: no BEGIN, committed at once
    seen = {}

    def other():
        c = conns.get()
        seen["same"] = c is mine
        seen["row"] = dict(c.execute("SELECT x FROM t").fetchone())
        conns.close()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == {"same": False, "row": {"x": 7}}
    conns.close()
    again = conns.get()
    assert again is not mine
    assert [tuple(r) for r in again.execute("SELECT x FROM t")] == [(7,)]


def test_open_private_creates_a_new_file_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "new.sqlite"
    conns = ThreadConnections(str(path))
    conns.open_private(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    assert path.stat().st_mode & 0o777 == 0o600
    for side in ("-wal", "-shm"):
        p = tmp_path / f"new.sqlite{side}"
        assert not p.exists() or p.stat().st_mode & 0o077 == 0
    assert conns.get().execute("SELECT count(*) FROM t").fetchone() == (0,)
    conns.close()
