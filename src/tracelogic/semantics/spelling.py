"""How a text target spells the operators of a typed expression.

The printers that turn a ``TExpr`` into text (generated Python in :mod:`.codegen` and
``models.machine``, Promela and SMV in ``models.export``) differ in their spellings, not in
their logic: each node becomes its operator's template with the children's text filled in.
So each target is a table, op -> template, and :func:`spell` is the one place that fills
one in; the printers keep only what a table cannot say (literals, names, calls, the ``in``
forms). Templates are ``str.format`` strings over the children (``{0}``, ``{1}``) and the
node's operator symbol (``{op}``); :class:`Joined` spells an n-ary ``and``/``or``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence, Union

__all__ = ["Joined", "Spelling", "spell", "PYTHON"]


@dataclass(frozen=True, slots=True)
class Joined:
    """An n-ary operator: the children joined by ``sep``, in one pair of parentheses."""

    sep: str


Spelling = Mapping[str, Union[str, Joined]]


def spell(table: Spelling, key: str, args: Sequence[str], op: str = "") -> str | None:
    """The text of a node whose template in ``table`` is ``key`` (None when the table has
    no such entry: the printer decides what that means). ``op`` fills ``{op}``."""
    template = table.get(key)
    if template is None:
        return None
    if isinstance(template, Joined):
        return "(" + template.sep.join(args) + ")"
    return template.format(*args, op=op)


# Python over values that are already conditions (booleans): the generated span predicates
# of :mod:`.codegen`; ``models.machine`` overrides ``iff``/``xor`` to compare bool() of each
PYTHON: Spelling = {
    "pred": "{0}", "neg": "(-{0})", "+": "({0} {op} {1})", "-": "({0} {op} {1})",
    "*": "({0} {op} {1})", "cmp": "({0} {op} {1})", "and": Joined(" and "),
    "or": Joined(" or "), "not": "(not {0})", "implies": "((not {0}) or {1})",
    "iff": "({0} == {1})", "xor": "({0} != {1})", "range": "({0}, {1})",
}
