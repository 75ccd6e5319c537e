"""A spec's ``operation`` declarations, compiled to :class:`~.spans.Mapping` objects.

The expressions are the spec's own typed span expressions, turned into Python by the
engine's code generator (:class:`~tracelogic.semantics.codegen.CodeGen`): literals enter
through ``repr``, no span data is ever evaluated as code, and a comparison on a missing
attribute is false, exactly as in properties.
"""
from __future__ import annotations

from typing import Any, Callable

from tracelogic.semantics.codegen import CodeGen
from tracelogic.spec.typed import OperationT, TExpr

from .spans import Mapping

__all__ = ["compile_mappings", "wanted_attrs"]


def compile_mappings(operations: tuple[OperationT, ...]) -> list[Mapping]:
    """One :class:`Mapping` per declaration, in the spec's order (the first that matches a
    span decides)."""
    gen = CodeGen()
    out = []
    for k, op in enumerate(operations):
        fns: dict[str, Callable[[Any, Any], Any] | None] = {}
        for field in ("when", "key", "input", "output", "client", "indeterminate"):
            e: TExpr | None = getattr(op, field)
            if e is None:
                fns[field] = None
                continue
            body = gen.cond(e) if field in ("when", "indeterminate") else gen.expr(e)
            name = f"_op{k}_{field}"
            source = "".join(gen.subfunctions) + \
                f"def {name}(s, tr=None, st=True):\n    return {body}\n"
            gen.subfunctions.clear()
            exec(compile(source, "<tracelogic operation>", "exec"), gen.namespace)  # noqa: S102
            fns[field] = gen.namespace[name]
        out.append(Mapping(op.op, **fns))  # type: ignore[arg-type]
    return out


def wanted_attrs(operations: tuple[OperationT, ...]) -> frozenset[str]:
    """Every attribute key the consistency checks read from a span: the convention's, and
    those the ``operation`` declarations' expressions read. A decoder asked for these
    keeps what the checks need and skips the rest (ingest/otlp.py: touch only what the
    spec reads)."""
    from .spans import ATTRIBUTES

    gen = CodeGen()
    for op in operations:
        for field in ("when", "key", "input", "output", "client", "indeterminate"):
            e: TExpr | None = getattr(op, field)
            if e is not None:
                gen.cond(e) if field in ("when", "indeterminate") else gen.expr(e)
    return ATTRIBUTES | frozenset(k for k in gen.attr_keys if k is not None)
