"""A spec's consistency results in `monitor`'s other formats: JUnit, SARIF and the HTML
report, like every other property (docs/consistency.md §5, docs/cli.md).

Each format reads one uniform view, a verdict per key (:func:`findings`), whatever the
checker: linearizability and sequential consistency give a witness per violated key
(the operations that cannot be ordered, the longest partial linearization, the model
state after it); the session and causal checkers give their violations, each with the
operations involved.

- JUnit: one case per declaration; a violated key, or an inconclusive one without
  ``--allow-unknown``, fails it, and its one failure holds each such key with its
  witness (as a property's failure holds each violated instance).
- SARIF: one result per violated key (or session/causal violation), at the declaration
  in the spec, with the operations as related logical locations (their spans) and the
  witness in the result's properties; inconclusive keys are warnings.
- HTML: the JSON the history view draws (engine/report_history.py): each violated key's
  whole history, capped at :data:`MAX_HISTORY` operations (the witness's always among
  them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Iterable, Sequence

from tracelogic.engine.report import JUnitCase

from .history import Operation, _plain, _show, by_key, usable
from .linearizability import KeyResult, Result, _line
from .report import ConsistencyResult
from .sessions import Violation

__all__ = ["KeyFinding", "findings", "junit_cases", "sarif_results", "html_json",
           "MAX_HISTORY"]

#: operations drawn per key in the HTML history view; the rest are counted
MAX_HISTORY: Final = 400
RULE_PREFIX: Final = "tracelogic/consistency/"


@dataclass(frozen=True)
class KeyFinding:
    """One key's verdict, and what explains it: a linearizability witness, or the session
    and causal violations found on the key."""

    key: Any
    verdict: str
    reason: str = ""
    result: KeyResult | None = None
    violations: tuple[Violation, ...] = field(default=())

    @property
    def operations(self) -> tuple[Operation, ...]:
        """The operations that make the violation: the witness's, or every violation's."""
        if self.result is not None and self.result.witness is not None:
            return self.result.witness.operations
        seen: dict[int, Operation] = {}
        for v in self.violations:
            for o in v.operations:
                seen.setdefault(o.id, o)
        return tuple(seen.values())

    def text(self) -> str:
        """The key's lines in a report: its verdict, then the witness or violations."""
        head = f"key {_show(self.key)}: {self.verdict}" + (f" ({self.reason})"
                                                           if self.reason else "")
        lines = [head]
        if self.result is not None and self.result.witness is not None:
            lines.append(self.result.witness.text())
        for v in self.violations:
            lines.append(f"  {v.guarantee}: {v.message}")
            lines += [f"    {_line(o)}" for o in v.operations]
        return "\n".join(lines)


def findings(cr: ConsistencyResult) -> list[KeyFinding]:
    """Every key's verdict, in the order keys first appear (none when the whole check
    could not run: ``cr.reason`` says why)."""
    if cr.reason:
        return []
    r = cr.result
    if isinstance(r, Result):
        return [KeyFinding(k.key, k.verdict, k.reason, k) for k in r.keys]
    bad: dict[Any, list[Violation]] = {}
    for v in r.violations:
        bad.setdefault(v.key, []).append(v)
    unsure = dict(r.inconclusive)
    keys = list(by_key(usable(cr.history)))
    keys += [k for k in list(bad) + list(unsure) if k not in keys]
    out = []
    for k in keys:
        if k in bad:
            out.append(KeyFinding(k, "violated", violations=tuple(bad[k])))
        elif k in unsure:
            out.append(KeyFinding(k, "inconclusive", unsure[k]))
        else:
            out.append(KeyFinding(k, "satisfied"))
    return out


def _what(cr: ConsistencyResult) -> str:
    return f"{cr.decl.checker} {cr.decl.model}"


def _counts(found: Sequence[KeyFinding]) -> str:
    n = {v: sum(1 for f in found if f.verdict == v)
         for v in ("satisfied", "violated", "inconclusive")}
    return ", ".join(f"{c} {v}" for v, c in n.items())


# ----------------------------------------------------------------------------- JUnit

def junit_cases(results: Iterable[ConsistencyResult], *,
                allow_unknown: bool = False) -> list[JUnitCase]:
    """One case per declaration, failing exactly when :func:`.report.exit_code` would."""
    cases = []
    for cr in results:
        found = findings(cr)
        about = f"{_what(cr)} over {cr.operations} operation(s), {len(found)} key(s): " \
                + _counts(found)
        if cr.reason:
            fails = not allow_unknown
            cases.append(JUnitCase(
                cr.decl.name, "tracelogic.consistency",
                failure=f"{cr.decl.name}: inconclusive: {cr.reason}" if fails else None,
                type="inconclusive", body=cr.reason if fails else "",
                system_out=f"{_what(cr)}: inconclusive: {cr.reason}" if not fails else ""))
            continue
        bad = [f for f in found if f.verdict == "violated"]
        unsure = [f for f in found if f.verdict == "inconclusive"]
        failing = bad + ([] if allow_unknown else unsure)
        message = None
        if failing:
            parts = [f"{len(bad)} violated key(s)"] if bad else []
            if unsure and not allow_unknown:
                parts.append(f"{len(unsure)} inconclusive key(s)")
            message = f"{cr.decl.name}: " + ", ".join(parts) + f" of {len(found)}"
        out = about
        if unsure and allow_unknown:
            out += "\n\ninconclusive (--allow-unknown accepts them):\n" + \
                "\n".join(f.text() for f in unsure)
        cases.append(JUnitCase(cr.decl.name, "tracelogic.consistency", failure=message,
                               type="violated" if bad else "inconclusive",
                               body="\n\n".join(f.text() for f in failing),
                               system_out=out))
    return cases


# ----------------------------------------------------------------------------- SARIF

def _related(ops: Sequence[Operation]) -> list[dict[str, Any]]:
    """The operations as SARIF related locations: each names its span (a logical location,
    as a property's trigger does), or only the operation when it came from no span."""
    out = []
    for i, o in enumerate(ops):
        logical: dict[str, Any] = {"name": o.describe(), "kind": "span"}
        if o.span is not None:
            logical["fullyQualifiedName"] = f"trace/{o.span[0]}/span/{o.span[1]}"
        out.append({"id": i, "message": {"text": _line(o)}, "logicalLocations": [logical]})
    return out


def sarif_results(results: Iterable[ConsistencyResult]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules and results to add to a SARIF run: a violated key (a session or causal
    violation) is an error at its declaration, an inconclusive one a warning."""
    from tracelogic.checkers.report import Location, sarif_location, sarif_rule

    rules: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for cr in results:
        rule = RULE_PREFIX + cr.decl.name
        rules.setdefault(rule, sarif_rule(rule, "consistency",
                                          f"consistency {cr.decl.name}: {_what(cr)}"))
        where = {}
        if cr.decl.span is not None and cr.decl.span.line:
            where = {"locations": [sarif_location(Location.of(cr.decl.span))]}

        def add(level: str, text: str, ops: Sequence[Operation] = (),
                props: dict[str, Any] | None = None) -> None:
            res: dict[str, Any] = {"ruleId": rule, "level": level,
                                   "message": {"text": f"consistency {cr.decl.name} "
                                                       f"({_what(cr)}): {text}"}, **where}
            if ops:
                res["relatedLocations"] = _related(ops)
            if props:
                res["properties"] = props
            out.append(res)

        if cr.reason:
            add("warning", f"inconclusive: {cr.reason}")
            continue
        for f in findings(cr):
            key = _show(f.key)
            if f.verdict == "inconclusive":
                add("warning", f"key {key} inconclusive: {f.reason}")
            elif f.result is not None and f.result.witness is not None:
                w = f.result.witness
                text = (f"key {key} violated: {len(w.operations)} operation(s) cannot be "
                        "linearized together: " + "; ".join(o.describe() for o in w.operations)
                        + f" (longest partial linearization: "
                        + (" ; ".join(o.describe() for o in w.partial) or "none")
                        + f"; model state after it: {_show(w.state)})")
                add("error", text, w.operations,
                    {"key": _plain(f.key), "witness": w.to_json()})
            elif f.verdict == "violated":
                for v in f.violations:
                    add("error", f"key {key} violated: {v.guarantee}: {v.message}",
                        v.operations, {"key": _plain(f.key), "violation": v.to_json()})
    return list(rules.values()), out


def add_to_sarif(doc: dict[str, Any], results: Iterable[ConsistencyResult]) -> dict[str, Any]:
    """``doc`` (`monitor`'s SARIF log) with the consistency rules and results appended to
    its run."""
    rules, res = sarif_results(results)
    run = doc["runs"][0]
    run["tool"]["driver"].setdefault("rules", []).extend(rules)
    run.setdefault("results", []).extend(res)
    return doc


# ----------------------------------------------------------------------------- HTML

def html_json(results: Iterable[ConsistencyResult], *,
              max_history: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """What the HTML history view draws: per declaration its verdict and keys, and per
    violated key its witness (or violations) and its history, every operation of the
    key up to ``max_history`` (the ones the witness names first, then by call)."""
    out = []
    for cr in results:
        per_key = by_key(cr.history)
        keys = []
        for f in findings(cr):
            d: dict[str, Any] = {"key": _plain(f.key), "key_text": _show(f.key),
                                 "verdict": f.verdict}
            if f.reason:
                d["reason"] = f.reason
            if f.verdict == "violated":
                if f.result is not None and f.result.witness is not None:
                    d["witness"] = f.result.witness.to_json()
                d["violations"] = [v.to_json() for v in f.violations]
                marked = {o.id for o in f.operations}
                if f.result is not None and f.result.witness is not None:
                    w = f.result.witness
                    marked |= {o.id for o in w.partial}
                    if w.blocked is not None:
                        marked.add(w.blocked.id)
                ops = sorted(per_key.get(f.key, ()), key=lambda o: (o.id not in marked,
                                                                    o.call, o.id))
                d["history"] = [o.to_json() for o in ops[:max_history]]
                d["history_total"] = len(ops)
            keys.append(d)
        out.append({"name": cr.decl.name, "checker": cr.decl.checker, "model": cr.decl.model,
                    "verdict": cr.verdict, "reason": cr.reason, "operations": cr.operations,
                    "keys": keys})
    return out
