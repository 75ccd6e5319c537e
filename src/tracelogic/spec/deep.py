"""Run a recursive pass over user input without risking Python's recursion limit.

The parser's tree builder is iterative, but the resolver and the formatter
walk expressions recursively, and a generated spec can hold a conjunction of
thousands of terms. ``deep`` runs such a pass on a worker thread with a large
stack and a high recursion limit; input nested beyond even that is refused
with :class:`TooDeep`, which the callers turn into an ordinary diagnostic.
"""
from __future__ import annotations

import contextlib
import gc
import sys
import threading
from typing import Any, Callable, Iterator

STACK_BYTES = 512 * 1024 * 1024  # reserved address space; pages are used only as needed
RECURSION_LIMIT = 200_000
_lock = threading.Lock()


class TooDeep(Exception):
    hint = "split the expression, e.g. into several predicates"

    def __init__(self) -> None:
        super().__init__("the input is nested too deeply to process")


def deep(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on a big-stack thread; its exception is re-raised here."""
    if getattr(_local, "inside", False):
        return fn(*args, **kwargs)
    box: dict[str, Any] = {}

    def target() -> None:
        _local.inside = True
        try:
            box["value"] = fn(*args, **kwargs)
        except RecursionError:
            box["error"] = TooDeep()
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    with _lock:
        old_size = threading.stack_size()
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
        try:
            threading.stack_size(STACK_BYTES)
            try:
                worker = threading.Thread(target=target, name="tracelogic-deep")
                worker.start()
            finally:
                threading.stack_size(old_size)
            worker.join()
        finally:
            sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]
    return box["value"]


_local = threading.local()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large acyclic structure.

    Parsing allocates hundreds of thousands of small objects (tokens, trees, AST
    nodes) that hold no reference cycles; the collector would rescan them again
    and again (measured: 40% of the time of a 10,000-line spec). Reference
    counting still frees everything; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
