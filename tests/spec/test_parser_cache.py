"""The LALR table cache (spec/parser._table_cache): only in a private directory, and a
broken cache file costs a rebuild, never a wrong parse or a message."""
from __future__ import annotations

import os
import subprocess
import sys

from tracelogic.spec import parser

PROGRAM = ("from tracelogic.spec.loader import load; "
           "s = load('pred a = name == \"x\"\\nproperty p: G (a -> F a)'); "
           "print(sorted(s.properties))")


def _tables(cache) -> list[str]:
    """The LALR table files (the directory also holds tracelogic.disk_cache's entries)."""
    return sorted(n for n in os.listdir(cache) if n.endswith(".lark"))


def _run(cache_dir: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRACELOGIC_CACHE_DIR=cache_dir)
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_cache_is_written_once_and_read_back(tmp_path):
    cache = tmp_path / "cache"
    first = _run(str(cache))
    [table] = _tables(cache)
    assert (os.stat(cache).st_mode & 0o777) == 0o700
    second = _run(str(cache))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout and "p" in first.stdout
    assert _tables(cache) == [table]


def test_a_broken_cache_file_is_rebuilt_silently(tmp_path):
    cache = tmp_path / "cache"
    _run(str(cache))
    [table] = _tables(cache)
    for name in os.listdir(cache):  # parse the spec again, so the tables are read
        if name.startswith("spec-module-"):
            os.unlink(cache / name)
    good = (cache / table).read_bytes()
    (cache / table).write_bytes(good[: len(good) // 2])  # a writer interrupted half way
    r = _run(str(cache))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # rewritten whole (pickles of the same tables differ byte-wise between processes)
    assert len((cache / table).read_bytes()) > len(good) // 2
    assert _run(str(cache)).stdout == r.stdout


def test_no_cache_where_others_can_write(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", str(shared))
    assert parser._table_cache() is False
    os.chmod(shared, 0o700)
    assert str(parser._table_cache()).startswith(str(shared))


def test_an_empty_cache_dir_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", "")
    assert parser._table_cache() is False


def test_fresh_builds_never_use_the_cache(tmp_path, monkeypatch):
    """CI's conflict check must build the tables, not read them."""
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", str(tmp_path / "cache"))
    parser.lark_parser.cache_clear()
    try:
        parser.lark_parser(fresh=True)
        assert not (tmp_path / "cache").exists() or not os.listdir(tmp_path / "cache")
    finally:
        parser.lark_parser.cache_clear()
