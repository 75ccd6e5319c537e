"""tracelogic: formal verification for systems observed through OpenTelemetry.

One ``.spec`` language states invariants, temporal properties, workflows,
models and healing policies; ``load`` turns a file or text into a typed
:class:`~tracelogic.api.Spec`: the typed spec every backend consumes, with ``check()`` and
``monitor()``.
"""
from __future__ import annotations

from typing import Any

from tracelogic.errors import (
    BackendUnavailable,
    InputError,
    SpecError,
    SpecTypeError,
    TracelogicError,
)


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed metadata on first use: importing
    importlib.metadata costs ~20 ms, which every command paid at start-up (PEP 562)."""
    if name != "__version__":
        raise AttributeError(f"module 'tracelogic' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("tracelogic")
    except PackageNotFoundError:  # running from a source tree without install
        value = "0.0.0+local"
    globals()["__version__"] = value
    return value


def load(path_or_text: str, *, filename: str | None = None, spec_path=()):
    """Parse, resolve and type-check a spec; raise :class:`SpecError` listing every problem.

    Returns a :class:`tracelogic.api.Spec` (the typed spec, with ``check()`` and
    ``monitor()``). Imports read ``.spec`` files under the spec's own directory (the
    working directory for text) and under ``spec_path``: one directory or several."""
    from tracelogic.api import load as _load

    return _load(path_or_text, filename=filename, spec_path=spec_path)


__all__ = [
    "BackendUnavailable",
    "InputError",
    "SpecError",
    "SpecTypeError",
    "TracelogicError",
    "__version__",
    "load",
]
