"""How our SQLite files are opened and queried: the sidecar's store and the healing audit
log (which may share one file) open a connection per thread the same way, and answer
queries whose filters are each optional.

A connection is in autocommit mode (``isolation_level=None``: each writer says BEGIN
IMMEDIATE itself), in WAL mode, durable at commit also on power loss
(``synchronous=FULL``), and waits up to 30 s for another writer, in this process or
another. Filters are always ``?`` parameters, never a value in the SQL text.
"""
from __future__ import annotations

import sqlite3
import threading
from typing import Any, Callable, Iterable

from tracelogic.private_files import create_private, on_disk, tighten_sqlite_side_files

__all__ = ["ThreadConnections", "where"]


class ThreadConnections:
    """One connection to ``path`` per thread, opened on first use (a sqlite3 connection
    must not be shared between threads that use it at once)."""

    def __init__(self, path: str, *, rows: bool = False) -> None:
        self.path = path
        self.rows = rows  # rows as sqlite3.Row (by column name) instead of tuples
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            if self.rows:
                conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def open_private(self, setup: Callable[[sqlite3.Connection], Any]) -> None:
        """Creates the file private (0600) when it is new, runs ``setup`` (the schema) on
        this thread's connection, then checks that SQLite's side files are private too
        (private_files.py: they take the database's mode). An existing file keeps its
        mode; ``:memory:`` has no file."""
        if on_disk(self.path):
            create_private(self.path)
        setup(self.get())
        if on_disk(self.path):
            tighten_sqlite_side_files(self.path)

    def close(self) -> None:
        """Closes this thread's connection (the next :meth:`get` opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def where(select: str, filters: Iterable[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """``select`` narrowed by each ``(condition, value)`` whose value is not None: the
    condition holds one ``?``, bound to the value. Returns the SQL and its parameters."""
    sql = select + " WHERE 1=1"
    args: list[Any] = []
    for condition, value in filters:
        if value is not None:
            sql += " AND " + condition
            args.append(value)
    return sql, args
