"""The healing controller's files are private: its audit store and `audit --otlp`."""
from __future__ import annotations

import io
import json
import os
import stat

from tracelogic import cli
from tracelogic.healing.audit import AuditLog


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_audit_store_and_the_otlp_trail_are_0600(tmp_path):
    old = os.umask(0o022)
    try:
        db = tmp_path / "heal.db"
        log = AuditLog(str(db))
        assert mode(db) == 0o600
        assert all(mode(f"{db}{s}") == 0o600 for s in ("-wal", "-shm"))
        log.close()
        trail = tmp_path / "trail.json"
        out, err = io.StringIO(), io.StringIO()
        assert cli.run(["audit", "--store", str(db), "--otlp", str(trail)], out, err) == 0, \
            err.getvalue()
        assert isinstance(json.loads(trail.read_text()), dict)  # OTLP/JSON (empty trail)
        assert mode(trail) == 0o600
        # an existing output keeps the mode its owner gave it; its content is replaced
        trail.write_text("old content that is longer than the new trail" * 100)
        os.chmod(trail, 0o640)
        assert cli.run(["audit", "--store", str(db), "--otlp", str(trail)], out, err) == 0
        assert mode(trail) == 0o640
        assert "old content" not in trail.read_text()
    finally:
        os.umask(old)
