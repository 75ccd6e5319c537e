"""Diagnostics: what went wrong, where, and what to do about it.

Every message a user sees about a spec goes through :class:`Diagnostic` and
:func:`render`, so that all of them share one shape::

    checkout.spec:3:14: error: unknown predicate `chekout`
      pred x = chekout and failed
               ^^^^^^^
      hint: did you mean `checkout`?
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

from tracelogic.errors import SourceSpan, SpecError


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str  # "error" | "warning" | "note"
    message: str
    span: SourceSpan | None = None
    hint: str | None = None

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "message": self.message}
        if self.span is not None:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column,
                       end_line=self.span.end_line, end_column=self.span.end_column)
        if self.hint:
            out["hint"] = self.hint
        return out


class SpecErrors(SpecError):
    """One or more errors in spec text; ``diagnostics`` holds each of them."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        first = diagnostics[0]
        super().__init__(first.message, span=first.span, hint=first.hint)
        self.diagnostics = diagnostics
        self.sources = sources or {}

    def __str__(self) -> str:
        return render_all(self.diagnostics, self.sources)


def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of spec text as the lexer counts them: split at ``\n`` only.

    ``str.splitlines`` also splits at ``\r``, ``\x0c``, ``\u2028`` and others, which
    the lexer reads as ordinary characters (inside comments and strings, or as an
    error): line numbers, carets and comments would then land on the wrong line."""
    lines = text.split("\n")
    if keepends:
        return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    if lines[-1] == "":
        lines.pop()
    return lines


def render(diag: Diagnostic, source: str | None) -> str:
    """``file:line:col: severity: message``, the source line, a caret run, the hint."""
    head = f"{diag.span}: " if diag.span else ""
    lines = [f"{head}{diag.severity}: {diag.message}"]
    if diag.span is not None and source is not None and diag.span.line >= 1:
        src_lines = source_lines(source)
        if diag.span.line <= len(src_lines):
            text = src_lines[diag.span.line - 1].rstrip("\r").expandtabs(1)
            col = max(diag.span.column, 1)
            if diag.span.end_line == diag.span.line and diag.span.end_column > col:
                width = diag.span.end_column - col
            else:
                width = max(len(text) - col + 1, 1)
            lines.append(f"  {text}")
            lines.append("  " + " " * (col - 1) + "^" * max(1, width))
    if diag.hint:
        lines.append(f"  hint: {diag.hint}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    return "\n".join(render(d, sources.get(d.span.file) if d.span else None) for d in diags)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean` hint for the closest candidate, or None when nothing is close."""
    options = set(candidates)
    if word in options:  # the word is right; it is the place that is wrong
        return None
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.7)
    return f"did you mean `{close[0]}`?" if close else None
