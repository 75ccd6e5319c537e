"""The store (and its journal, and SQLite's -wal/-shm) is private: created 0600.

It holds span values and, with --journal, raw payloads, so a 0644 default handed
them to every local user. An existing store keeps its mode, and `serve` warns.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tracelogic.sidecar.store import Store

from .serve_helpers import http_exporter, start_serve, wait_for

SIDE = ("-wal", "-shm")


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request):
    """The process umask while a test creates files: the common one and the most open."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_a_new_store_and_its_side_files_are_0600(tmp_path: Path, umask):
    path = tmp_path / "v.db"
    store = Store(str(path))
    store.add_violations([{"property": "p", "key": "k", "span_ids": ["s"], "message": "m"}])
    store.journal_requests([("json", b'{"resourceSpans": []}', ["t1"])])
    for f in [path] + [Path(f"{path}{s}") for s in SIDE]:
        assert f.exists(), f"{f.name} should exist while the store is open (WAL mode)"
        assert mode(f) == 0o600, f"{f.name} is {mode(f):04o}"
    store.close()
    assert mode(path) == 0o600


def test_an_existing_store_keeps_its_mode(tmp_path: Path):
    path = tmp_path / "v.db"
    Store(str(path)).close()
    os.chmod(path, 0o640)  # the operator shares it with a group on purpose
    store = Store(str(path))
    store.add_violations([{"property": "p", "key": "k", "span_ids": ["s"], "message": "m"}])
    assert mode(path) == 0o640
    assert all(mode(f"{path}{s}") == 0o640 for s in SIDE)  # SQLite's side files follow it
    store.close()


def test_an_empty_file_given_as_store_becomes_a_store(tmp_path: Path):
    path = tmp_path / "v.db"
    path.touch(mode=0o600)
    store = Store(str(path))
    assert store.count_violations() == 0
    store.close()


def test_a_store_behind_a_link_is_created_private_where_the_link_points(tmp_path: Path):
    (tmp_path / "disk").mkdir()
    link = tmp_path / "v.db"
    link.symlink_to(tmp_path / "disk" / "v.db")
    store = Store(str(link))
    store.add_violations([{"property": "p", "key": "k", "span_ids": ["s"], "message": "m"}])
    assert mode(tmp_path / "disk" / "v.db") == 0o600
    store.close()


LIB = 'pred boom = name == "boom"\n'
SPEC = 'import "../shared/lib.spec"\nproperty no_boom: G !lib.boom\n'


def serve_with_journal(tmp_path: Path, name: str = "serve"):
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "shared").mkdir(exist_ok=True)
    (tmp_path / "shared" / "lib.spec").write_text(LIB)
    spec = tmp_path / "app" / "shop.spec"
    spec.write_text(SPEC)
    return start_serve(tmp_path, "--journal", "--idle", "60s", "--spec-path",
                       str(tmp_path / "shared"), spec=spec, name=name)


def send_boom(sp) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(http_exporter(sp)))
    with provider.get_tracer("t").start_as_current_span("boom"):
        pass
    provider.shutdown()


def journaled(store: Path) -> int:
    conn = sqlite3.connect(str(store), timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    finally:
        conn.close()


def test_serve_with_journal_creates_a_private_store_and_warns_about_an_exposed_one(
        tmp_path: Path):
    # a real sidecar: the spec's import needs --spec-path, the request is journaled
    sp = serve_with_journal(tmp_path)
    send_boom(sp)
    wait_for(lambda: journaled(sp.store) >= 1, 20, "the request in the journal")
    files = [sp.store] + [Path(f"{sp.store}{s}") for s in SIDE]
    for f in files:
        assert f.exists(), f.name
        assert mode(f) == 0o600, f"{f.name} is {mode(f):04o}"
    assert sp.terminate() == 0
    assert mode(sp.store) == 0o600
    assert not [r for r in sp.logs() if "chmod 600" in str(r.get("msg", ""))]

    # an operator made it world-readable: the next start keeps the mode and says so
    os.chmod(sp.store, 0o644)
    sp2 = serve_with_journal(tmp_path, name="serve2")
    assert sp2.terminate() == 0
    warnings = [r for r in sp2.logs() if "chmod 600" in str(r.get("msg", ""))]
    assert len(warnings) == 1, sp2.logs()
    w = warnings[0]
    assert w["level"] == "warning" and w["mode"] == "0644" and w["file"] == str(sp.store)
    assert "--journal, every acknowledged request" in w["msg"]
    assert mode(sp.store) == 0o644
