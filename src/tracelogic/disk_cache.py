"""A private on-disk cache of pure, deterministic steps (start-up, issue 17).

A leaf module (it imports nothing of tracelogic), so the steps it saves are the ones a warm
run never imports: parsing a spec file (the spec parser and Lark) and pruning alphabets
(Z3). Each entry is a pickle, and whoever can write a pickle runs code in every process
that reads it, so the cache lives only in a directory that this user owns and nobody else
can write to:

- ``$TRACELOGIC_CACHE_DIR`` when set (empty: no cache at all), else
  ``$XDG_CACHE_HOME/tracelogic`` (``~/.cache/tracelogic``): the place of the parser's LALR
  table cache (spec/parser.py) too;
- created 0700; not used when another user owns it or its group or others may write to it;
- every file is created 0600 under a temporary name and renamed into place (a reader never
  sees half a file), and read only when this user owns it and nobody else can write to it.

An entry is keyed by a text that names everything its value depends on: the input (a spec's
text and file name, an alphabet's atoms) and a *fingerprint* of the code that computes it
(the bytes of its source files and the versions of the libraries it calls). The file name
is the key's SHA-256 and the file holds the key itself, compared on reading. A missing,
stale, truncated or corrupt entry is a miss: the caller computes the value (and stores it
again); the cache never makes a run fail or print anything.
"""
from __future__ import annotations

import os
import pickle
import sys
from typing import Any

try:  # CPython's own SHA-256 (3.11: _sha256, 3.12+: _sha2): hashlib loads OpenSSL, ~3 ms
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other versions and implementations
    try:
        from _sha2 import sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256  # type: ignore[no-redef]

__all__ = ["cache_dir", "fingerprint", "load", "store", "read_private", "write_private",
           "sha256", "MAX_ENTRIES"]

#: entries of one kind kept; past it a store removes the oldest half (a spec edited many
#: times leaves an entry per version)
MAX_ENTRIES = 512
_FORMAT = b"tracelogic-cache-1\n"

#: a process looks for entries past MAX_ENTRIES at its first store of a kind, then at
#: every PRUNE_EVERY-th
PRUNE_EVERY = 64

_HERE = os.path.dirname(os.path.abspath(__file__))
_fingerprints: dict[tuple, str] = {}
_stores: dict[str, int] = {}  # stores of each kind in this process


def cache_dir() -> str | None:
    """The cache directory, created if need be, or None when there is no safe place (or
    ``TRACELOGIC_CACHE_DIR`` is empty)."""
    d = os.environ.get("TRACELOGIC_CACHE_DIR")
    if d is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        d = os.path.join(base, "tracelogic")
    if not d:
        return None
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.stat(d)
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return d


def fingerprint(sources: tuple[str, ...], libraries: tuple[str, ...] = ()) -> str | None:
    """A digest of the code a cached step runs: the bytes of ``sources`` (paths relative to
    the tracelogic package), this interpreter's version, and for each of ``libraries`` (an
    importable name, not imported here) the size and modification time of its files. None
    when one cannot be read (then nothing is cached). Computed once per process."""
    key = (sources, libraries)
    fp = _fingerprints.get(key)
    if fp is not None:
        return fp
    h = sha256(_FORMAT + sys.version.encode())
    try:
        for rel in sources:
            with open(os.path.join(_HERE, rel), "rb") as f:
                data = f.read()
            h.update(b"\0%s\0%d\0" % (rel.encode(), len(data)))
            h.update(data)
        for name in libraries:
            h.update(b"\0lib\0" + name.encode() + b"\0" + _library_stamp(name).encode())
    except (OSError, ImportError, ValueError):
        return None
    fp = _fingerprints[key] = h.hexdigest()
    return fp


def _library_stamp(name: str) -> str:
    """Size and modification time of each file of an installed package's directory and of
    its ``lib/`` folder (a shared library), without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise ImportError(name)
    root = os.path.dirname(spec.origin)
    parts = []
    for d in (root, os.path.join(root, "lib")):
        if not os.path.isdir(d):
            continue
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            if entry.is_file():
                st = entry.stat()
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return f"{root}|{'|'.join(parts)}"


def _path(d: str, kind: str, key: str) -> str:
    digest = sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return os.path.join(d, f"{kind}-{digest[:32]}.pickle")


def read_private(path: str) -> bytes | None:
    """The bytes of file ``path`` if this user owns it and nobody else may write to it
    (whoever can write a cache file runs code in the processes that read it), else None;
    a symbolic link is not followed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return None
            return f.read()
    except OSError:
        return None


def write_private(path: str, data: bytes) -> bool:
    """Write ``data`` as file ``path``, private (0600): a new temporary file renamed into
    place, so a reader never sees half of it. False when the write fails (a full disk)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def load(kind: str, key: str) -> Any:
    """The value stored under ``key``, or None (no cache, no entry, or a bad one)."""
    d = cache_dir()
    data = None if d is None else read_private(_path(d, kind, key))
    if data is None or not data.startswith(_FORMAT):
        return None
    try:
        stored_key, value = pickle.loads(memoryview(data)[len(_FORMAT):])
    except Exception:  # truncated, corrupt or from other code: a miss, never an error
        return None
    return value if stored_key == key else None


def store(kind: str, key: str, value: Any) -> None:
    """Store ``value`` under ``key`` (silently nothing when there is no cache or the write
    fails): a private temporary file, renamed into place."""
    d = cache_dir()
    if d is None:
        return
    try:
        data = _FORMAT + pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a value that does not pickle: no entry
        return
    if not write_private(_path(d, kind, key), data):
        return
    n = _stores[kind] = _stores.get(kind, 0) + 1
    if (n - 1) % PRUNE_EVERY == 0:  # a directory scan per store would tax bulk loads (fuzzing)
        _prune(d, kind)


def _prune(d: str, kind: str) -> None:
    """Past ``MAX_ENTRIES`` entries of ``kind``, remove the oldest half."""
    try:
        entries = [e for e in os.scandir(d)
                   if e.name.startswith(kind + "-") and e.name.endswith(".pickle")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for e in entries[:len(entries) // 2]:
            os.unlink(e.path)
    except OSError:
        return
