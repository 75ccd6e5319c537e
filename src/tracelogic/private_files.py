"""Files that hold span data or secrets: created private, and checked when given.

The store holds span values (violations, evidence) and, with ``--journal``, the
raw payloads of every acknowledged request; an audit trail written as OTLP holds
the controller's targets and arguments. Such a file is created readable by its
owner only (0600), whatever the umask, because a 0644 default would hand the
data to every local user. A file that already exists keeps its mode: the
operator may have chosen a group on purpose, so the sidecar warns instead of
changing it (:func:`exposed`).

SQLite creates its side files (``-wal``, ``-shm``, ``-journal``) with the mode of
the database file, so creating the database 0600 *before* SQLite opens it is
what keeps them private; :func:`tighten_sqlite_side_files` checks it after the
first open, in case a VFS does otherwise. No umask is changed: the umask is
per process and the sidecar has threads.
"""
from __future__ import annotations

import os
import stat
from typing import IO

PRIVATE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

__all__ = ["PRIVATE_MODE", "create_private", "exposed", "on_disk", "open_private",
           "tighten_sqlite_side_files"]


def create_private(path: str) -> bool:
    """Create ``path`` empty and 0600 if nothing is there; True when this call created it.

    A symbolic link is followed (a store linked to another disk is common), so the
    file it points to is the one created private; ``O_EXCL`` makes this call the one
    that creates it, or not touch it.
    """
    try:
        fd = os.open(os.path.realpath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     PRIVATE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private(path: str, *, encoding: str = "utf-8") -> IO[str]:
    """Open ``path`` for writing text: a new file is created 0600; an existing one is
    truncated and keeps its mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    return os.fdopen(fd, "w", encoding=encoding)


def exposed(path: str) -> int:
    """The permission bits of ``path`` that let its group or others read or write it
    (0 when the file is private, or cannot be examined)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return 0
    return stat.S_IMODE(mode) & 0o066


def on_disk(path: str) -> bool:
    """Whether a SQLite path names a file (not ``:memory:``, ``""`` or a ``file:`` URI)."""
    return path not in ("", ":memory:") and not path.startswith("file:")


def tighten_sqlite_side_files(db_path: str) -> None:
    """Make SQLite's side files of a private database private too (they normally are)."""
    if exposed(db_path):
        return  # the operator chose this mode for the database; its side files follow it
    for suffix in SQLITE_SIDE_FILES:
        side = db_path + suffix
        if exposed(side):
            try:
                os.chmod(side, PRIVATE_MODE)
            except OSError:  # owned by another user: nothing we may do
                pass
