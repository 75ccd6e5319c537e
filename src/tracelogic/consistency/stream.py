"""A spec's ``consistency`` checks over a live span stream: what ``tracelogic serve`` runs
beside its properties (docs/consistency.md §11, docs/serve.md).

    cs = ConsistencyStream(spec, lateness_ns=30 * SECOND)
    cs.ingest(spans)                   # decoded spans, in arrival order
    cs.poll()                          # check every window the watermark closed
    for body in cs.take_violations():  # violation objects (monitor JSON), each once
        store.add_violations([body])

Each span that is an operation (the convention, or the spec's ``operation`` mappings)
joins the open window of its key, in every ``linearizable`` check. The **watermark** is
the wall clock minus ``lateness_ns``: an operation invoked before it is assumed to have
completed and arrived (spans are exported once they end, so ``lateness_ns`` must cover an
operation's duration, the exporter's delay and clock skew). :meth:`poll` cuts each key's
window at the latest quiescent point before the watermark and checks the prefix
(:mod:`.incremental`); :meth:`finish` (shutdown) checks everything.

Nothing is dropped silently: a key beyond ``max_window`` open operations, or beyond
``max_keys`` open keys (the least recently active goes), is ``incomplete`` with the count
of operations dropped; an operation arriving behind its key's checked window is ``late``
and makes the key ``incomplete``; a search beyond its budget makes the key
``inconclusive`` with the reason. Each is counted (:meth:`status`), and a violated key
is one violation object carrying its witness.

Only ``linearizable`` checks run here: sequential consistency is not local (no key can be
checked alone), and the session and causal checkers read whole histories; they are
listed in :attr:`ConsistencyStream.refused` with the reason, as are all checks when an
``operation`` mapping reads trace structure (``parent``, ancestors), which a span seen
on its own does not have.
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tracelogic.semantics.codegen import CodeGen
from tracelogic.ingest.spans import Span
from tracelogic.spec.typed import ConsistencyT

from .history import Operation, _plain, _show
from .incremental import FINAL, KeyState, WindowResult
from .linearizability import Budget
from .mapping import compile_mappings
from .models import Model, model
from .spans import ATTRIBUTES, from_span
from .usermodel import from_spec_model

__all__ = ["ConsistencyStream", "key_text", "DEFAULT_WINDOW", "DEFAULT_KEYS",
           "DEFAULT_STEPS", "OUTCOMES"]

DEFAULT_WINDOW = 10_000    # open operations per key
DEFAULT_KEYS = 100_000     # open keys per check
DEFAULT_STEPS = 200_000    # search steps per window (about a second in Python)
_REMEMBER = 200_000        # span keys remembered to drop an exporter's retries
_POLL_NS = 100_000_000     # the watermark moves windows on at most every 0.1 s
#: what happened to each operation: checked in a window; dropped (failed, or an
#: indeterminate read: they constrain nothing); late; unchecked (its key had a final
#: verdict already); evicted (its key went beyond a limit)
OUTCOMES = ("checked", "dropped", "late", "unchecked", "evicted")


def key_text(key: Any) -> str:
    """A key as the violation JSON's ``key`` string: the text itself, ``*`` for the
    store as one object, JSON for a ``(namespace, key)`` pair."""
    if key is None:
        return "*"
    if isinstance(key, str):
        return key
    return json.dumps(_plain(key))


@dataclass
class _Check:
    decl: ConsistencyT
    model: Model
    keys: OrderedDict = field(default_factory=OrderedDict)   # key -> KeyState (open)
    final: dict = field(default_factory=dict)                # key -> final verdict
    dirty: set = field(default_factory=set)                  # keys with open windows


class ConsistencyStream:
    """Incremental ``consistency`` checks of one spec; see the module docstring. One
    thread (the sidecar's engine thread) calls every method but :meth:`published`,
    which other threads (``/metrics``, ``/status``) call: it returns the snapshot the
    engine thread took with :meth:`publish` once the violations it counts were
    committed, so nothing is counted before it is in the store."""

    def __init__(self, spec: Any, *, lateness_ns: int = 30 * 10**9,
                 max_window: int = DEFAULT_WINDOW, max_keys: int = DEFAULT_KEYS,
                 budget: Budget = Budget(steps=DEFAULT_STEPS), max_configs: int = 64,
                 wall: Callable[[], int] = time.time_ns, poll_ns: int = _POLL_NS) -> None:
        for name, v in (("max_window", max_window), ("max_keys", max_keys),
                        ("max_configs", max_configs)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive int")
        self.lateness_ns = lateness_ns
        self.max_window = max_window
        self.max_keys = max_keys
        self.budget = budget
        self.max_configs = max_configs
        self.wall = wall
        self.poll_ns = poll_ns
        self.refused: dict[str, str] = {}
        self.checks: list[_Check] = []
        self.mappings = compile_mappings(spec.operations)
        structural = _reads_structure(spec.operations)
        for d in spec.consistency:
            if structural:
                self.refused[d.name] = (f"the `operation {structural}` mapping reads trace "
                                        "structure, which serve does not have span by span")
            elif d.checker != "linearizable":
                self.refused[d.name] = (
                    f"serve checks `linearizable` only, key by key; `{d.checker}` needs the "
                    "whole history: run `tracelogic monitor` over the recorded spans")
            else:
                user = spec.models.get(d.model)
                self.checks.append(_Check(d, from_spec_model(user) if user is not None
                                          else model(d.model)))
        self.wanted_attrs: frozenset[str] | None = _wanted(spec.operations)
        self.operations = defaultdict(int)      # by outcome (OUTCOMES), all checks
        self.received = 0                       # operation spans
        self.windows = 0
        self.steps = 0
        self._next = 0
        self._violations: list[dict] = []
        self._notices: list[dict] = []
        self._final_counts: dict[tuple[str, str], int] = defaultdict(int)
        self._open_ops = 0
        self._seen: OrderedDict = OrderedDict()  # span keys of recent operations (retries)
        self.duplicates = 0
        self._last_poll: int | None = None
        self.finished = False
        self._published: dict[str, Any] = self.status()

    @property
    def active(self) -> bool:
        return bool(self.checks)

    # ------------------------------------------------------------------ input
    def ingest(self, spans: Iterable[Span]) -> None:
        """Take decoded spans; those that are operations join their keys' windows."""
        if not self.checks:
            return
        for span in spans:
            op = self._operation(span)
            if op is None:
                continue
            self.received += 1
            for c in self.checks:
                self._add(c, op)

    def _operation(self, span: Span) -> Operation | None:
        if span.key in self._seen:  # an exporter's retry: the same operation again
            self.duplicates += 1
            return None
        if self.mappings:
            for m in self.mappings:
                op = m.apply(span, self._next)
                if op is not None:
                    break
            else:
                return None
        else:
            op = from_span(span, self._next)
            if op is None:
                return None
        self._next += 1
        self._seen[span.key] = None
        if len(self._seen) > _REMEMBER:
            self._seen.popitem(last=False)
        return op

    def _add(self, c: _Check, op: Operation) -> None:
        k = op.key
        if k in c.final:
            self.operations["unchecked"] += 1
            return
        ks = c.keys.get(k)
        if ks is None:
            ks = c.keys[k] = KeyState(k, c.model)
            if len(c.keys) > self.max_keys:
                old, oks = next(iter(c.keys.items()))
                self._final(c, oks, "incomplete", f"evicted: more than {self.max_keys} open "
                            "keys (the least recently active goes first)", evicted=True)
        else:
            c.keys.move_to_end(k)
        outcome = ks.add(op)
        if outcome == "late":
            self.operations["late"] += 1
            self._final(c, ks, "incomplete", ks.reason, done=True)
            return
        if outcome != "ok":
            self.operations[outcome] += 1
            return
        self._open_ops += 1
        c.dirty.add(k)
        if len(ks.window) > self.max_window:
            self._final(c, ks, "incomplete", f"evicted: more than {self.max_window} "
                        "operations open at once (no quiescent point before the watermark)",
                        evicted=True)

    def _final(self, c: _Check, ks: KeyState, verdict: str, reason: str, *,
               evicted: bool = False, done: bool = False) -> None:
        """A key leaves the open set with a final verdict; counted and noticed."""
        if not done:
            ks.finish(verdict, reason)  # type: ignore[arg-type]
        dropped = ks.dropped
        self.operations["evicted" if evicted or verdict == "incomplete" else "unchecked"] \
            += dropped
        self._open_ops -= dropped
        self._final_counts[(c.decl.name, verdict)] += 1
        c.keys.pop(ks.key, None)
        c.dirty.discard(ks.key)
        c.final[ks.key] = verdict
        self._notices.append({"consistency": c.decl.name, "key": key_text(ks.key),
                              "verdict": verdict, "reason": reason,
                              "operations_dropped": dropped,
                              "operations_checked": ks.checked})

    # ------------------------------------------------------------------ deciding
    def watermark(self) -> int:
        return self.wall() - self.lateness_ns

    def poll(self, watermark: int | None = None) -> None:
        """Check every window the watermark (default: the wall clock minus the lateness)
        has closed."""
        if watermark is None:
            t = self.watermark()
            if self._last_poll is not None and t - self._last_poll < self.poll_ns:
                return  # the engine polls every batch; windows move on a coarser clock
            self._last_poll = t
        else:
            t = watermark
        for c in self.checks:
            for k in list(c.dirty):
                ks = c.keys.get(k)
                if ks is None:
                    c.dirty.discard(k)
                    continue
                before = ks.checked
                r = ks.advance(t, budget=self.budget, max_configs=self.max_configs)
                if r is None:
                    continue
                self.windows += 1
                self.steps += r.steps
                self.operations["checked"] += ks.checked - before
                self._open_ops -= ks.checked - before
                if not ks.window:
                    c.dirty.discard(k)
                if r.verdict == "violated":
                    self._violations.append(self._body(c, ks, r, before))
                if ks.verdict in FINAL:
                    self._final(c, ks, ks.verdict, ks.reason, done=True)

    def finish(self) -> None:
        """End of input (shutdown): check every open window; the keys that survive are
        ``satisfied``."""
        self.poll(1 << 62)
        for c in self.checks:
            self._final_counts[(c.decl.name, "satisfied")] += len(c.keys)
            c.keys.clear()
        self.finished = True

    def take_violations(self) -> list[dict]:
        out, self._violations = self._violations, []
        return out

    def take_notices(self) -> list[dict]:
        """Keys that got a final verdict other than violated since the last call (their
        ``reason`` and the operations dropped), and violated ones: for the log."""
        out, self._notices = self._notices, []
        return out

    # ------------------------------------------------------------------ reporting
    def _body(self, c: _Check, ks: KeyState, r: WindowResult, before: int) -> dict:
        kr = r.result
        assert kr is not None and kr.witness is not None
        w = kr.witness
        ops = w.operations
        # the operation that could not be placed first: the store's witness span
        first = [o for o in ops if w.blocked is not None and o.id == w.blocked.id]
        spans = [o.span for o in first + [o for o in ops if o not in first]
                 if o.span is not None]
        blocked = "" if w.blocked is None else \
            f": {w.blocked.describe()} returned and could not be placed"
        start = "" if r.initial_state == c.model.init else \
            f" (from state {_show(r.initial_state)}, left by the key's earlier operations)"
        d = c.decl
        return {
            "property": d.name, "kind": "consistency", "key": key_text(ks.key),
            "trace_ids": list(dict.fromkeys(t for t, _ in spans)),
            "span_ids": list(dict.fromkeys(s for _, s in spans)),
            "message": f"key {key_text(ks.key)} is not {d.checker} ({d.model}){blocked}; "
                       f"{len(ops)} operations cannot be ordered{start}",
            "severity": "error", "verdict": "violated",
            "consistency": {
                "checker": d.checker, "model": d.model, "key": _plain(ks.key),
                "initial_state": _plain(r.initial_state),
                "operations": kr.operations, "steps": kr.steps,
                "checked_before": before,
                "witness": w.to_json(), "witness_text": w.text()}}

    def verdict_counts(self) -> dict[tuple[str, str], int]:
        """(check, verdict) -> keys: ``presumably_satisfied`` for open keys (checked
        so far), ``satisfied`` after :meth:`finish`, and the final verdicts."""
        out = {k: n for k, n in dict(self._final_counts).items() if n}
        for c in self.checks:
            if c.keys:
                out[(c.decl.name, "presumably_satisfied")] = len(c.keys)
        return out

    @property
    def open_operations(self) -> int:
        return self._open_ops

    def publish(self) -> None:
        """Take the snapshot :meth:`published` returns (the sidecar calls it after each
        commit)."""
        self._published = self.status()

    def published(self) -> dict[str, Any]:
        """The last published :meth:`status`; safe from any thread."""
        return self._published

    def status(self) -> dict[str, Any]:
        """The JSON status (the `stopped` log line, ``GET /status``)."""
        counts = self.verdict_counts()
        return {
            "checks": [{"name": c.decl.name, "checker": c.decl.checker, "model": c.decl.model,
                        "keys": {v: n for (name, v), n in counts.items()
                                 if name == c.decl.name}} for c in self.checks],
            "not_checked": dict(self.refused),
            "operations_received": self.received, "open_operations": self._open_ops,
            "duplicates": self.duplicates,
            "operations": {o: self.operations.get(o, 0) for o in OUTCOMES},
            "windows": self.windows, "steps": self.steps,
            "incomplete": sum(n for (_, v), n in counts.items() if v == "incomplete"),
            "lateness_ns": self.lateness_ns, "max_window": self.max_window,
            "max_keys": self.max_keys, "steps_per_window": self.budget.steps}


def _reads_structure(operations: tuple) -> str:
    """The first ``operation`` mapping whose clauses read trace structure, or ""."""
    for op in operations:
        gen = CodeGen()
        for name in ("when", "key", "input", "output", "client", "indeterminate"):
            e = getattr(op, name)
            if e is None:
                continue
            body = gen.cond(e) if name in ("when", "indeterminate") else gen.expr(e)
            if "tr." in body + "".join(gen.subfunctions):
                return op.op
    return ""


def _wanted(operations: tuple) -> frozenset[str] | None:
    """The attributes the operations read (None: every one, when a key is computed)."""
    keys = set(ATTRIBUTES)
    for op in operations:
        gen = CodeGen()
        for name in ("when", "key", "input", "output", "client", "indeterminate"):
            e = getattr(op, name)
            if e is not None:
                gen.cond(e) if name in ("when", "indeterminate") else gen.expr(e)
        if None in gen.attr_keys:
            return None
        keys |= gen.attr_keys
    return frozenset(keys)
