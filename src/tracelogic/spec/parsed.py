"""The spec parser's results, read from the disk cache when they are there (issue 17).

Parsing is a pure function of a text and the file name its spans carry, so its result is
kept in tracelogic's private cache (:mod:`tracelogic.disk_cache`), keyed by both and by a
fingerprint of the parser's code: the sources of everything that shapes its output and
Lark's installed files. A warm run neither imports Lark nor builds the parser (about
0.08 s of a `tracelogic monitor`'s 0.3); a miss parses, and stores the result.

What is cached is exactly what the parser returns, its diagnostics included, so a spec
with syntax errors reports the same errors, at the same places, from the cache.
"""
from __future__ import annotations

from tracelogic import disk_cache
from tracelogic.spec import ast as A
from tracelogic.spec.diagnostics import Diagnostic, SpecErrors

__all__ = ["parse_module_partial", "parse_expr", "PARSER_SOURCES"]

#: the files whose code decides what the parser returns (relative to the package): the
#: parser and every module of ours it imports (tests/spec/test_parsed.py checks the list)
PARSER_SOURCES = ("spec/parsed.py", "spec/parser.py", "spec/grammar.lark", "spec/ast.py",
                  "spec/lexicon.py", "spec/limits.py", "spec/diagnostics.py", "errors.py",
                  "spec/types.py", "values/units.py", "gc_pause.py", "disk_cache.py")


def _key(what: str, text: str, file: str) -> str | None:
    fp = disk_cache.fingerprint(PARSER_SOURCES, ("lark",))
    if fp is None:
        return None
    digest = disk_cache.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{what}\0{fp}\0{digest}\0{file}"


def parse_module_partial(text: str, file: str = "<spec>"
                         ) -> tuple[A.Module, list[Diagnostic], set[str]]:
    """:func:`tracelogic.spec.parser.parse_module_partial`, from the cache when it can."""
    key = _key("module", text, file)
    if key is not None:
        hit = disk_cache.load("spec-module", key)
        if (isinstance(hit, tuple) and len(hit) == 3 and isinstance(hit[0], A.Module)
                and isinstance(hit[1], list) and isinstance(hit[2], set)):
            return hit
    from tracelogic.spec import parser

    result = parser.parse_module_partial(text, file)
    if key is not None:
        disk_cache.store("spec-module", key, result)
    return result


def parse_expr(text: str, file: str = "<formula>") -> A.Expr:
    """:func:`tracelogic.spec.parser.parse_expr`, from the cache when it can: the expression,
    or the same :class:`SpecErrors` (its diagnostics were cached)."""
    key = _key("expr", text, file)
    if key is not None:
        hit = disk_cache.load("spec-expr", key)
        if isinstance(hit, tuple) and len(hit) == 2 and hit[0] in ("ok", "errors"):
            if hit[0] == "ok":
                return hit[1]
            if isinstance(hit[1], list) and hit[1]:
                raise SpecErrors(hit[1], {file: text})
    from tracelogic.spec import parser

    try:
        expr = parser.parse_expr(text, file)
    except SpecErrors as e:
        if key is not None:
            disk_cache.store("spec-expr", key, ("errors", list(e.diagnostics)))
        raise
    if key is not None:
        disk_cache.store("spec-expr", key, ("ok", expr))
    return expr
