"""tracelogic.disk_cache: entries only in a private directory, written whole and private,
and a missing, stale, corrupt or foreign entry is a miss, never an error."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tracelogic import disk_cache


def _entry(cache) -> str:
    [name] = [n for n in os.listdir(cache) if n.startswith("k-")]
    return os.path.join(cache, name)


def test_a_value_is_stored_private_and_read_back(cache):
    assert disk_cache.load("k", "key") is None
    disk_cache.store("k", "key", {"a": (1, 2.5, "x")})
    assert disk_cache.load("k", "key") == {"a": (1, 2.5, "x")}
    assert os.stat(cache).st_mode & 0o777 == 0o700
    assert os.stat(_entry(cache)).st_mode & 0o777 == 0o600
    assert not [n for n in os.listdir(cache) if n.endswith(".tmp")]
    assert disk_cache.load("k", "other key") is None
    assert disk_cache.load("j", "key") is None


def test_the_stored_key_must_match(cache):
    """Two keys that land on one file name (a truncated digest) never mix."""
    disk_cache.store("k", "key", 1)
    path = _entry(cache)
    with open(path, "wb") as f:
        f.write(disk_cache._FORMAT + pickle.dumps(("another key", 2)))
    assert disk_cache.load("k", "key") is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "no header",
                                    "not a pair", "missing class"])
def test_a_broken_entry_is_a_miss_and_is_replaced(cache, damage):
    disk_cache.store("k", "key", list(range(100)))
    path = _entry(cache)
    good = open(path, "rb").read()
    bad = {"truncate": good[: len(good) // 2],
           "garbage": disk_cache._FORMAT + os.urandom(64),
           "empty": b"",
           "no header": good[len(disk_cache._FORMAT):],
           "not a pair": disk_cache._FORMAT + pickle.dumps(42),
           "missing class": disk_cache._FORMAT + b"cno_such_module_xx\nC\n."}[damage]
    with open(path, "wb") as f:
        f.write(bad)
    assert disk_cache.load("k", "key") is None
    disk_cache.store("k", "key", list(range(100)))
    assert disk_cache.load("k", "key") == list(range(100))


def test_no_cache_where_others_can_write(cache):
    disk_cache.store("k", "key", 1)
    os.chmod(cache, 0o770)
    assert disk_cache.cache_dir() is None
    assert disk_cache.load("k", "key") is None
    disk_cache.store("k", "key2", 2)
    assert len(os.listdir(cache)) == 1
    os.chmod(cache, 0o700)
    assert disk_cache.load("k", "key") == 1


def test_no_entry_others_can_write(cache):
    disk_cache.store("k", "key", 1)
    os.chmod(_entry(cache), 0o666)
    assert disk_cache.load("k", "key") is None


def test_no_cache_in_a_directory_of_another_user(cache, monkeypatch):
    disk_cache.store("k", "key", 1)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache).st_uid + 1)
    assert disk_cache.cache_dir() is None
    assert disk_cache.load("k", "key") is None


def test_no_entry_of_another_user(cache, monkeypatch):
    """A file another user put there (possible only with the directory's owner's help, but
    still not read): the directory is checked first, so it is made to pass."""
    disk_cache.store("k", "key", 1)
    real = os.getuid()
    monkeypatch.setattr(disk_cache, "cache_dir", lambda: str(cache))
    monkeypatch.setattr(os, "getuid", lambda: real + 1)
    assert disk_cache.load("k", "key") is None


def test_an_empty_setting_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert disk_cache.cache_dir() is None
    disk_cache.store("k", "key", 1)
    assert disk_cache.load("k", "key") is None
    assert os.listdir(tmp_path) == []


def test_the_default_place_is_under_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("TRACELOGIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert disk_cache.cache_dir() == str(tmp_path / "tracelogic")


def test_a_symbolic_link_is_not_followed(cache, tmp_path):
    disk_cache.store("k", "key", 1)
    path = _entry(cache)
    elsewhere = tmp_path / "elsewhere"
    os.replace(path, elsewhere)
    os.symlink(elsewhere, path)
    assert disk_cache.load("k", "key") is None


def test_a_value_that_does_not_pickle_is_not_stored(cache):
    disk_cache.store("k", "key", lambda: 1)
    assert disk_cache.load("k", "key") is None
    assert not os.path.exists(cache) or os.listdir(cache) == []


def test_old_entries_are_pruned(cache, monkeypatch):
    monkeypatch.setattr(disk_cache, "MAX_ENTRIES", 4)
    monkeypatch.setattr(disk_cache, "PRUNE_EVERY", 1)
    for i in range(5):
        disk_cache.store("k", f"key{i}", i)
        os.utime(_path_of(cache, f"key{i}"), ns=(i * 10**9, i * 10**9))
    disk_cache.store("j", "other", 0)  # another kind: not counted, not removed
    disk_cache.store("k", "key5", 5)
    kept = sorted(n for n in os.listdir(cache) if n.startswith("k-"))
    assert len(kept) == 4  # at key4 the two oldest went; key5 makes four again
    assert disk_cache.load("k", "key0") is None and disk_cache.load("k", "key1") is None
    assert disk_cache.load("k", "key5") == 5 and disk_cache.load("k", "key2") == 2
    assert disk_cache.load("j", "other") == 0


def _path_of(cache, key: str) -> str:
    return disk_cache._path(str(cache), "k", key)


def test_a_process_prunes_at_its_first_store_then_every_so_often(cache, monkeypatch):
    monkeypatch.setattr(disk_cache, "MAX_ENTRIES", 4)
    monkeypatch.setattr(disk_cache, "PRUNE_EVERY", 3)
    monkeypatch.setattr(disk_cache, "_stores", {})
    for i in range(7):
        disk_cache.store("k", f"key{i}", i)
        os.utime(_path_of(cache, f"key{i}"), ns=(i * 10**9, i * 10**9))
    # stores 1, 4 and 7 looked: at 7 there were 7 > 4 entries, the oldest 3 went
    assert sorted(disk_cache.load("k", f"key{i}") for i in range(7)
                  if disk_cache.load("k", f"key{i}") is not None) == [3, 4, 5, 6]


def test_the_fingerprint_follows_the_sources(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(disk_cache, "_HERE", str(tmp_path))
    monkeypatch.setattr(disk_cache, "_fingerprints", {})
    first = disk_cache.fingerprint(("a.py",))
    assert first is not None and disk_cache.fingerprint(("a.py",)) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    monkeypatch.setattr(disk_cache, "_fingerprints", {})
    assert disk_cache.fingerprint(("a.py",)) not in (None, first)
    assert disk_cache.fingerprint(("missing.py",)) is None
    assert disk_cache.fingerprint(("a.py",), ("no_such_library_anywhere",)) is None


def test_the_fingerprint_covers_a_library_without_importing_it(monkeypatch):
    import sys

    monkeypatch.setattr(disk_cache, "_fingerprints", {})
    before = "lark" in sys.modules
    assert disk_cache.fingerprint(("disk_cache.py",), ("lark",)) != \
        disk_cache.fingerprint(("disk_cache.py",))
    assert ("lark" in sys.modules) == before


def test_a_test_run_leaves_the_home_cache_alone(tmp_path):
    """The suite's own caches go to a temporary directory (the root conftest), so running
    the tests does not fill the developer's ~/.cache/tracelogic: a run of one test that
    loads a spec, with HOME pointing at an empty directory, creates no cache there."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRACELOGIC_CACHE_DIR", "XDG_CACHE_HOME", "PYTEST_XDIST_WORKER")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(root / "src"))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
         "tests/test_api.py::test_load_returns_the_facade_over_the_typed_spec"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    assert not (tmp_path / ".cache").exists(), sorted(p.name for p in tmp_path.rglob("*"))
