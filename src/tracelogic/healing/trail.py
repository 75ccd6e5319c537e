"""The audit trail as spans, so the controller is monitored with the same operators (§3).

Conventions (std.healing reads these; docs/healing.md):
- one span per audit event, named ``heal.<event>`` (``heal.plan``,
  ``heal.execute``, ``heal.approved``, …), zero-length at the event's time; an
  execution's span is at the time it started, so a sliding window counts
  exactly what the limit guard counted;
- one trace per action: the trace id is derived from the action id, and the
  action's first event is the root of the others;
- service ``tracelogic-healing``; attributes ``heal.action_id``,
  ``heal.policy``, ``heal.action``, ``heal.target``, ``heal.outcome`` (strings),
  ``heal.dry_run``, ``heal.needs_approval`` (booleans), ``heal.risk`` (a number).
"""
from __future__ import annotations

import hashlib
import os
from typing import Iterable

from tracelogic.healing.audit import AuditEvent, AuditLog
from tracelogic.ingest.spans import Span
from tracelogic.spec.lexicon import format_duration
from tracelogic.spec.typed import Spec

SERVICE = "tracelogic-healing"


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def audit_spans(events: Iterable[AuditEvent], needs_approval: dict[str, bool] | None = None,
                risk: dict[str, float] | None = None) -> list[Span]:
    """Spans for audit events; ``needs_approval`` and ``risk`` map action ids to those."""
    needs = needs_approval or {}
    risks = risk or {}
    roots: dict[str, str] = {}
    out = []
    for e in events:
        trace_id = _hex(e.action_id, 32)
        span_id = _hex(f"{e.action_id}/{e.id}", 16)
        parent = roots.setdefault(e.action_id, span_id)
        out.append(Span(
            name=f"heal.{e.event}", trace_id=trace_id, span_id=span_id,
            parent_id="" if parent == span_id else parent, start_ns=e.time_ns, end_ns=e.time_ns,
            kind="internal", service=SERVICE, resource={"service.name": SERVICE},
            attrs={"heal.action_id": e.action_id, "heal.policy": e.policy,
                   "heal.action": e.action, "heal.target": e.target, "heal.outcome": e.outcome,
                   "heal.dry_run": e.dry_run,
                   "heal.needs_approval": bool(needs.get(e.action_id, False)),
                   **({"heal.risk": float(risks[e.action_id])} if e.action_id in risks
                      else {})}))
    return out


def log_spans(log: AuditLog) -> list[Span]:
    rows = log.actions()
    return audit_spans(log.events(), {r["id"]: r["needs_approval"] for r in rows},
                       {r["id"]: r["risk"] for r in rows})


def std_healing_path() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "properties", "healing.spec")


def healing_spec_text(spec: Spec) -> str:
    """Per-policy `limit N per D` as runtime properties over the audit spans."""
    lines = ["import std.healing", ""]
    for h in spec.heals:
        if h.limit is None:
            continue
        n, per = h.limit
        lines.append(f'property limit_{h.name} "policy {h.name}: at most {n} per '
                     f'{format_duration(per)}" global window {format_duration(per)} sliding:')
        lines.append(f'  count(healing.executed and attr["heal.policy"] == "{h.name}") <= {n}')
        lines.append("")
    return "\n".join(lines)


def verify_audit(log: AuditLog, spec: Spec | None = None) -> list:
    """Monitor std.healing (and, with a spec, its per-policy limits) over the audit trail.

    Returns the monitor reports (one per spec monitored).
    """
    from tracelogic.engine.monitor import Monitor
    from tracelogic.spec.loader import load

    spans = log_spans(log)
    specs = [load(std_healing_path())]
    if spec is not None and any(h.limit for h in spec.heals):
        specs.append(load(healing_spec_text(spec), filename="<healing limits>"))
    reports = []
    for s in specs:
        mon = Monitor(s)
        mon.feed(spans)
        reports.append(mon.close())
    return reports
