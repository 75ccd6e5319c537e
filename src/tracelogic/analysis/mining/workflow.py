"""A workflow of the §6 algebra that accepts every trace: a direct algebraic generalisation.

State-machine miners (k-tails: Biermann & Feldman, IEEE Trans. Computers 1972; Synoptic:
Beschastnikh et al., ESEC/FSE 2011) merge the states of a prefix tree and then need a
conversion back to an expression, which cannot express the overlap of spans. Spans are
intervals, and the workflow algebra already has the two ways intervals combine, so each
trace is read directly as a term:

1. a trace's step spans, by the index of their start event, fall into **groups** that do
   not overlap: every event of a group comes before the first start of the next, so the
   groups are a sequence ``G1 ; G2 ; ...``;
2. within a group, its first span overlaps the rest: ``first || (the rest, read again by 1)``;
3. a run of two or more equal terms in a sequence becomes ``X ; X*`` (the k-tails step of
   this miner: repetition seen twice is taken as a loop);
4. the distinct terms of all traces are joined by ``+``, with common prefixes factored out
   (``a ; b + a ; c`` is ``a ; (b + c)``, and an alternative that ends early gives ``?``).

Every trace's projection is then a word of the workflow, by construction: step 1's sequence
puts every event of a group before the next group, step 2's interleaving admits any order
of the first span's two events among the others', steps 3 and 4 only add words. The tests
check this against the real `conforms` monitor on generated traces.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from .model import Operation

__all__ = ["Term", "term_of_intervals", "generalise", "render_term", "steps_of", "size"]

# ("step", op) | ("seq", (terms)) | ("par", (terms)) | ("alt", (terms)) | ("star", term)
# | ("opt", term) | ("skip",)
Term = tuple


def term_of_intervals(ivs: list[tuple[int, int, Operation]]) -> Term:
    """The term of one trace (steps 1-3) from its step spans as ``(start event index, end
    event index, operation)``, sorted."""
    return _sequence(ivs)


def _sequence(ivs: list[tuple[int, int, Operation]]) -> Term:
    groups: list[list[tuple[int, int, Operation]]] = []
    end = -1
    for iv in ivs:
        if not groups or iv[0] > end:
            groups.append([])
        groups[-1].append(iv)
        end = max(end, iv[1])
    items = []
    for g in groups:
        head: Term = ("step", g[0][2])
        items.append(head if len(g) == 1 else _par(head, _sequence(g[1:])))
    return _seq(_collapse(items))


def _collapse(items: list[Term]) -> list[Term]:
    out: list[Term] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[i]:
            j += 1
        out.append(items[i])
        if j > i:
            out.append(("star", items[i]))
        i = j + 1
    return out


def _seq(items: list[Term]) -> Term:
    flat: list[Term] = []
    for t in items:
        flat.extend(t[1] if t[0] == "seq" else (t,))
    if not flat:
        return ("skip",)
    return flat[0] if len(flat) == 1 else ("seq", tuple(flat))


def _par(a: Term, b: Term) -> Term:
    parts = [p for t in (a, b) for p in (t[1] if t[0] == "par" else (t,))]
    return ("par", tuple(parts))


def generalise(terms: Iterable[Term]) -> Term:
    """Step 4: the distinct terms joined by ``+``, common prefixes factored out."""
    distinct = sorted(set(terms), key=render_term)
    return _factor([list(t[1]) if t[0] == "seq" else ([] if t[0] == "skip" else [t])
                    for t in distinct])


def _factor(alts: list[list[Term]]) -> Term:
    empty = any(not a for a in alts)
    heads: dict[Term, list[list[Term]]] = {}
    for a in alts:
        if a:
            heads.setdefault(a[0], []).append(a[1:])
    options: list[Term] = []
    for head in sorted(heads, key=render_term):
        tails = heads[head]
        if len(tails) == 1:
            options.append(_seq([head] + tails[0]))
        else:
            options.append(_seq([head, _factor(tails)]))
    if not options:
        return ("skip",)
    body = options[0] if len(options) == 1 else ("alt", tuple(options))
    return ("opt", body) if empty else body


_LEVEL = {"alt": 1, "par": 2, "seq": 3, "star": 4, "opt": 4, "step": 5, "skip": 5}


def render_term(t: Term, name_of: Callable[[Operation], str] | None = None,
                ctx: int = 0) -> str:
    """The term in `.spec` syntax, parenthesised only where §6's precedence needs it."""
    kind = t[0]
    if kind == "step":
        text = name_of(t[1]) if name_of else f"{t[1][0]}:{t[1][1]}"
    elif kind == "skip":
        text = "skip"
    elif kind == "alt":
        text = " + ".join(render_term(c, name_of, 2) for c in t[1])
    elif kind == "par":
        text = " || ".join(render_term(c, name_of, 3) for c in t[1])
    elif kind == "seq":
        text = " ; ".join(render_term(c, name_of, 4) for c in t[1])
    else:
        text = render_term(t[1], name_of, 5) + ("*" if kind == "star" else "?")
    return f"({text})" if _LEVEL[kind] < ctx else text


def steps_of(t: Term) -> set[Operation]:
    out: set[Operation] = set()
    stack = [t]
    while stack:
        x = stack.pop()
        if x[0] == "step":
            out.add(x[1])
        elif x[0] in ("seq", "par", "alt"):
            stack.extend(x[1])
        elif x[0] in ("star", "opt"):
            stack.append(x[1])
    return out


def size(t: Term) -> int:
    """Step occurrences in the term: how big the expression is."""
    n = 0
    stack: list[Term] = [t]
    while stack:
        x = stack.pop()
        if x[0] == "step":
            n += 1
        elif x[0] in ("seq", "par", "alt"):
            stack.extend(x[1])
        elif x[0] in ("star", "opt"):
            stack.append(x[1])
    return n
