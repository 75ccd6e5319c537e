"""private_files: create 0600 whatever the umask, never clobber, report exposed modes."""
from __future__ import annotations

import os
import stat

import pytest

from tracelogic.private_files import (create_private, exposed, on_disk, open_private,
                                      tighten_sqlite_side_files)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    old = os.umask(0)  # the most permissive umask: 0600 must come from us
    yield
    os.umask(old)


def test_create_private_creates_once_and_never_touches_an_existing_file(tmp_path):
    p = tmp_path / "f"
    assert create_private(str(p)) is True
    assert mode(p) == 0o600 and p.read_bytes() == b""
    p.write_text("data")
    os.chmod(p, 0o644)
    assert create_private(str(p)) is False
    assert p.read_text() == "data" and mode(p) == 0o644


def test_open_private_writes_a_new_file_0600(tmp_path):
    p = tmp_path / "out.json"
    with open_private(str(p)) as f:
        f.write("{}")
    assert mode(p) == 0o600 and p.read_text() == "{}"


@pytest.mark.parametrize("bits,expected", [(0o600, 0), (0o400, 0), (0o700, 0), (0o640, 0o040),
                                           (0o644, 0o044), (0o602, 0o002), (0o660, 0o060)])
def test_exposed_reports_group_and_other_read_write_bits(tmp_path, bits, expected):
    p = tmp_path / "f"
    p.write_text("x")
    os.chmod(p, bits)
    assert exposed(str(p)) == expected


def test_exposed_is_zero_for_a_missing_file(tmp_path):
    assert exposed(str(tmp_path / "missing")) == 0


def test_side_files_of_a_private_database_are_tightened_and_of_a_shared_one_left(tmp_path):
    db, wal = tmp_path / "s.db", tmp_path / "s.db-wal"
    db.write_text("")
    wal.write_text("")
    os.chmod(db, 0o600)
    os.chmod(wal, 0o644)
    tighten_sqlite_side_files(str(db))
    assert mode(wal) == 0o600
    os.chmod(db, 0o640)
    os.chmod(wal, 0o640)
    tighten_sqlite_side_files(str(db))
    assert mode(wal) == 0o640


def test_on_disk():
    assert on_disk("x.db") and on_disk("/var/lib/x.db")
    assert not on_disk(":memory:") and not on_disk("") and not on_disk("file:x?mode=ro")
