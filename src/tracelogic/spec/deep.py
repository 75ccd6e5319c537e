"""Run a recursive pass over user input without risking Python's recursion limit.

Parsing is iterative (Lark's LALR parser, and the AST builder's own loop), but the
checker, constant folding and the formatter recurse as deep as expressions nest,
and the checker also follows chains of predicates and constants. ``deep`` runs
such a pass on a worker thread with a large stack and a high recursion limit.

The sizes follow from the nesting limit (spec/limits.py, ``MAX_NESTING`` =
100,000, which the builder enforces with a diagnostic): the deepest pass
measured takes 6 Python frames per level (the formatter on nested calls; the
checker takes at most 5, for temporal operators), so ``RECURSION_LIMIT`` allows
20 per level. Python 3.11 frames live on the heap; the C stack is used only
where a pass goes through C (``tuple(generator)``, ``getattr``), and 1 GiB of
reserved address space (pages are committed only when touched) holds 100,000
such levels with room to spare. Input that still recurses too deep (a chain of
a million predicates, each defined by the next) is refused with
:class:`TooDeep`, which the entry points turn into an ordinary diagnostic.

Entry points (``load``, ``format_text``, ``parse_module_partial``) call ``deep``
once around all of their work; calls inside are direct.
"""
from __future__ import annotations

import contextlib
import gc
import sys
import threading
from typing import Any, Callable, Iterator

from tracelogic.errors import TracelogicError
from tracelogic.spec.limits import MAX_NESTING

STACK_BYTES = 1024 * 1024 * 1024  # reserved address space; pages are used only as needed
RECURSION_LIMIT = 20 * MAX_NESTING
_lock = threading.Lock()


class TooDeep(TracelogicError, RecursionError):
    """The input nests deeper than even the big-stack thread can process."""

    def __init__(self) -> None:
        super().__init__("the input is nested too deeply to process",
                         hint="split the expression, or the chain of definitions, e.g. "
                              "into several predicates")


def deep(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on a big-stack thread; its exception is re-raised here.

    Re-entrant: called on that thread already, it calls ``fn`` directly, so an entry
    point wraps a whole load once and the stages inside it cost no extra thread."""
    if getattr(_local, "inside", False):
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise TooDeep() from None
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
            worker = None
            for size in (STACK_BYTES, STACK_BYTES // 4):  # a smaller one where address
                try:                                       # space is limited (ulimit -v)
                    threading.stack_size(size)
                    worker = threading.Thread(target=target, name="tracelogic-deep",
                                              daemon=True)  # Ctrl-C must not wait for it
                    worker.start()
                    break
                except (RuntimeError, ValueError, MemoryError):
                    worker = None
                finally:
                    threading.stack_size(old_size)
            if worker is None:  # no thread at all: run here, on this thread's own stack
                sys.setrecursionlimit(old_limit)
                try:
                    box["value"] = fn(*args, **kwargs)
                except RecursionError:
                    box["error"] = TooDeep()
                except BaseException as e:
                    box["error"] = e
            else:
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
