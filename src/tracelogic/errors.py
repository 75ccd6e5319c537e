"""The one exception root of tracelogic.

Every error a user can cause derives from :class:`TracelogicError`. Leaf classes
also subclass the matching builtin (as Hypothesis does), so callers that only
know Python's exceptions still catch them sensibly, and they carry the offending
``value`` and, when it came from a spec, the source ``span`` so the CLI can point
at it instead of printing a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Where a piece of spec text came from: 1-based line/column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        if self.line <= 0:  # the whole file (it could not be read, or was not found)
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class TracelogicError(Exception):
    """Root of every error tracelogic raises on purpose."""

    def __init__(self, message: str, *, span: SourceSpan | None = None,
                 value: Any = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.value = value
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class SpecError(TracelogicError, ValueError):
    """The spec text is wrong: syntax, names, types or misplaced constructs."""


class SpecTypeError(SpecError, TypeError):
    """An expression has the wrong type or unit."""


class InputError(TracelogicError, ValueError):
    """A trace, config or request the user gave us is malformed."""


class UnknownName(TracelogicError, KeyError):
    """A caller asked for a name that does not exist (a property of a spec); the message
    says which names there are, or the closest one."""

    def __str__(self) -> str:  # KeyError's own would quote the message
        return TracelogicError.__str__(self)


class BackendUnavailable(TracelogicError, RuntimeError):
    """An optional backend (Spot, pynusmv) is not importable; names the capability."""


class UnsupportedFormula(TracelogicError, ValueError):
    """A formula uses an operator that a printer, an automaton backend, the monitor or a
    model check cannot express or decide (past in a model check, a metric bound over
    model runs); the message names the operator in spec syntax."""


class UnhandledNode(TracelogicError, TypeError):
    """A walker met a node kind it has no handler for: a bug, never user input."""
