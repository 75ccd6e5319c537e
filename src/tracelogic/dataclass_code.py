"""The compiled code of the methods ``dataclasses`` generates, kept in the disk cache.

``@dataclass`` writes the source of each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__``... and compiles it with ``exec``: about 0.5 ms a class, and the
~110 dataclasses a `tracelogic monitor` imports (the syntax tree alone has 55) were a third
of its start-up once the parse and Z3 were cached. The text depends only on the class's
fields and options, so the compiled code is a pure function of it.

:func:`installed` gives the ``dataclasses`` module an ``exec`` that compiles each text once
and keeps the code objects in tracelogic's private cache (:mod:`tracelogic.disk_cache`, one
file per interpreter version, ``marshal``), for the rest of the process; on exit new ones
are written back. ``exec(compile(text, "<string>", "exec", dont_inherit=True), g, ns)`` is
what ``exec(text, g, ns)`` does in ``dataclasses`` (no ``__future__`` flag there to
inherit): the classes are the same, only built faster. Only the one-shot command line
installs it (``cli.main``); a library import of tracelogic never touches ``dataclasses``.
"""
from __future__ import annotations

import builtins
import contextlib
import marshal
import os
import sys
from typing import Any, Iterator

from tracelogic import disk_cache

__all__ = ["installed", "MAX_TEXTS"]

#: texts kept in the file; past it, only those this process used are written
MAX_TEXTS = 4000

_memo: dict[str, Any] = {}   # text -> code: the file's, and what this process compiled
_used: set[str] = set()       # the texts this process asked for
_new = [0]                    # how many of them were compiled here


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    if type(source) is str:
        code = _memo.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            _memo[source] = code
            _new[0] += 1
        _used.add(source)
        source = code
    builtins.exec(source, globals, locals)


def _path() -> str | None:
    d = disk_cache.cache_dir()
    if d is None:
        return None
    tag = sys.implementation.cache_tag or sys.implementation.name
    version = disk_cache.sha256(sys.version.encode()).hexdigest()[:16]
    return os.path.join(d, f"dataclass-code-{tag}-{version}.marshal")


def _load(path: str) -> dict[str, Any]:
    """The stored texts and code, or {} (no file, not ours, broken)."""
    data = disk_cache.read_private(path)
    try:
        memo = marshal.loads(data) if data is not None else {}
    except Exception:  # truncated or from another interpreter: compile again
        return {}
    if type(memo) is not dict:
        return {}
    code_type = type(_load.__code__)
    return {k: v for k, v in memo.items() if type(k) is str and type(v) is code_type}


def _save(path: str, used: dict[str, Any]) -> None:
    """Add ``used`` to the file (re-read: another process may have added its own); nothing
    when the write fails (compiled again next time)."""
    memo = _load(path)
    memo.update(used)
    if len(memo) > MAX_TEXTS:
        memo = used
    disk_cache.write_private(path, marshal.dumps(memo))


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Within the block, ``dataclasses`` compiles through the cache; the code compiled
    anew is stored when the block ends. Nothing when there is no cache directory, or when
    ``dataclasses`` already has an ``exec`` of its own."""
    import dataclasses

    path = _path()
    if path is None or "exec" in vars(dataclasses):
        yield
        return
    _memo.clear()
    _memo.update(_load(path))
    _used.clear()
    _new[0] = 0
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
        if _new[0]:
            _save(path, {t: _memo[t] for t in _used})
        _memo.clear()
        _used.clear()
