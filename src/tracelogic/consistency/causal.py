"""Causal consistency over the happens-before order that traces give.

Happens-before between operations is the transitive closure of:

- **program order**: a client's operations, in invocation order;
- **parent/child**: an operation whose span is an ancestor of another's span;
- **links**: a span linking to an operation's span (or to a span below it in its trace
  whose ancestor is an operation) follows that operation;
- **reads-from**: a write precedes every read that returned its value.

A register history is causally consistent when no read breaks it (the "bad patterns" of
Bouajjani, Enea, Guerraoui and Hamza, "On verifying causal consistency", POPL 2017, for
registers with distinct written values): happens-before has no cycle (**cyclic**), no read
returns a value nobody wrote (**thin-air**), no read returns nil after a write to its key
happened before it (**initial-read**), and no read returns the value of ``w1`` when
another write ``w2`` to the key happened after ``w1`` and before the read
(**overwritten**). Values written twice make a key ``inconclusive``, as for the session
guarantees. Failed operations are left out; an indeterminate write may be a read's source
but is never assumed to have overwritten anything.
"""
from __future__ import annotations

from typing import Any, Iterable

from tracelogic.ingest.spans import Span

from .history import Operation, _show, usable
from .sessions import SessionResult, Violation, _READS, _WRITES

__all__ = ["causal"]


def causal(ops: Iterable[Operation], spans: Iterable[Span] = ()) -> SessionResult:
    """Causal consistency of a register history; ``spans`` give parent/child and link
    edges between the operations' spans (an operation without a span has only program
    order and reads-from)."""
    ops = usable(ops)
    n = len(ops)
    parent: dict[tuple[str, str], tuple[str, str]] = {}
    links: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    for s in spans:
        if s.parent_id:
            parent[s.key] = (s.trace_id, s.parent_id)
        if s.links:
            links[s.key] = s.links
    op_at = {o.span: i for i, o in enumerate(ops) if o.span is not None}
    preds: list[set[int]] = [set() for _ in ops]

    def op_ancestors(key: tuple[str, str], strict: bool) -> list[int]:
        out, seen = [], set()
        k = parent.get(key) if strict else key
        while k is not None and k not in seen:
            seen.add(k)
            if k in op_at:
                out.append(op_at[k])
            k = parent.get(k)
        return out

    by_client: dict[str, list[int]] = {}
    for i, o in enumerate(ops):
        by_client.setdefault(o.client, []).append(i)
    for idx in by_client.values():
        idx.sort(key=lambda i: (ops[i].call, ops[i].id))
        for a, b in zip(idx, idx[1:]):
            preds[b].add(a)
    writer: dict[tuple[Any, Any], int] = {}
    unsure: dict[Any, str] = {}
    for i, o in enumerate(ops):
        if o.f.lower() in _WRITES:
            if (o.key, o.input) in writer:
                unsure[o.key] = f"value {_show(o.input)} is written twice: a read cannot say " \
                                "which write it saw"
            writer[(o.key, o.input)] = i
    for i, o in enumerate(ops):
        if o.span is not None:
            preds[i].update(op_ancestors(o.span, strict=True))
            k: tuple[str, str] | None = o.span
            seen = set()
            while k is not None and k not in seen:  # links from the span or above it
                seen.add(k)
                for target in links.get(k, ()):
                    preds[i].update(op_ancestors(tuple(target), strict=False))
                k = parent.get(k)
        if o.f.lower() in _READS and not o.indeterminate and o.output is not None:
            w = writer.get((o.key, o.output))
            if w is not None:
                preds[i].add(w)
    for i in range(n):
        preds[i].discard(i)
    # Kahn's order; what is left over lies on a cycle
    succs: list[list[int]] = [[] for _ in ops]
    indeg = [len(p) for p in preds]
    for b, ps in enumerate(preds):
        for a in ps:
            succs[a].append(b)
    order = [i for i in range(n) if indeg[i] == 0]
    for i in order:
        for b in succs[i]:
            indeg[b] -= 1
            if indeg[b] == 0:
                order.append(b)
    found: list[Violation] = []
    if len(order) < n:
        cyc = tuple(ops[i] for i in range(n) if indeg[i] > 0)
        found.append(Violation("cyclic", None, "", cyc, f"happens-before has a cycle among "
                               f"{len(cyc)} operations"))
        return SessionResult(tuple(found), tuple(unsure.items()))
    reach = [0] * n  # bit a set in reach[b]: a happens before b
    for b in order:
        r = 0
        for a in preds[b]:
            r |= reach[a] | (1 << a)
        reach[b] = r
    writes_of: dict[Any, list[int]] = {}
    for (key, _), i in writer.items():
        writes_of.setdefault(key, []).append(i)
    for i, o in enumerate(ops):
        if o.f.lower() not in _READS or o.indeterminate or o.key in unsure:
            continue
        before = [w for w in writes_of.get(o.key, ()) if reach[i] >> w & 1]
        if o.output is None:
            sure = [w for w in before if not ops[w].indeterminate]
            if sure:
                w = ops[sure[0]]
                found.append(Violation("initial-read", o.key, o.client, (w, o),
                                       f"{o.describe()} after {w.describe()} happened "
                                       "before it"))
            continue
        src = writer.get((o.key, o.output))
        if src is None:
            found.append(Violation("thin-air", o.key, o.client, (o,),
                                   f"{o.describe()} returned a value nobody wrote"))
            continue
        for w in before:
            if w != src and not ops[w].indeterminate and reach[w] >> src & 1:
                found.append(Violation("overwritten", o.key, o.client,
                                       (ops[src], ops[w], o),
                                       f"{o.describe()} though {ops[w].describe()} "
                                       f"overwrote {ops[src].describe()} before it"))
                break
    return SessionResult(tuple(found), tuple(unsure.items()))
