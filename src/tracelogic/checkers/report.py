"""The report of `tracelogic check`, and the registry of static checkers that fill it.

Each static checker (config invariants, theorems, workflows, models, policies)
is a function ``(spec, report, options) -> None`` registered with
:func:`checker`; :func:`run_checks` runs all of them on a typed Spec. The
report renders as text, as JSON (schema ``tracelogic.check/1``, see
docs/check-json.md) and as SARIF 2.1.0.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tracelogic.errors import SourceSpan
from tracelogic.spec.diagnostics import Diagnostic

OK_STATUSES = frozenset({"proved", "holds", "sound", "satisfied", "ok"})
FAILED_STATUSES = frozenset({"refuted", "fails", "violated", "unsound", "error", "inconsistent"})
UNKNOWN_STATUSES = frozenset({"unknown", "inconclusive", "incomplete"})
WARNING_STATUSES = frozenset({"warning"})

# The checkers' own modules, which register checkers when imported. Checkers of higher
# layers (healing's policy checks) register the same way; tracelogic.api.CHECK_MODULES
# lists them all, in report order.
CHECKER_MODULES: tuple[str, ...] = (
    "tracelogic.checkers.config",
    "tracelogic.checkers.theorems",
    "tracelogic.checkers.workflows",
    "tracelogic.checkers.models",
    "tracelogic.checkers.control",
    "tracelogic.checkers.routing",
)

_CHECKERS: list[Callable] = []


def checker(fn: Callable) -> Callable:
    """Register a static checker ``fn(spec, report, options)``."""
    _CHECKERS.append(fn)
    return fn


@dataclass
class Location:
    """A place in a file that a result points at: the spec, or a config file line."""

    file: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    @classmethod
    def of(cls, span: SourceSpan) -> "Location":
        return cls(span.file, span.line, span.column, span.end_line, span.end_column)

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column,
                "end_line": self.end_line or self.line, "end_column": self.end_column}


@dataclass
class CheckResult:
    kind: str          # "invariant" | "theorem" | "workflow" | "model" | "policy" | …
    name: str
    status: str        # proved, refuted, holds, fails, unknown, warning, …
    message: str
    severity: str = "error"
    location: Location | None = None
    related: list[Location] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rule_id(self) -> str:
        return f"tracelogic/{self.kind}/{self.name}"

    def to_json(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "status": self.status,
               "severity": self.severity, "message": self.message, "rule": self.rule_id,
               "details": self.details}
        if self.location:
            out["location"] = self.location.to_json()
        if self.related:
            out["related"] = [r.to_json() for r in self.related]
        return out


@dataclass
class CheckReport:
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult) -> None:
        self.results.append(result)

    # -- verdict
    def exit_code(self, *, strict: bool = False, allow_unknown: bool = False) -> int:
        if any(d.severity == "error" for d in self.diagnostics) or \
                any(r.status == "input-error" for r in self.results):
            return 2
        for r in self.results:
            if r.status in FAILED_STATUSES and r.severity not in ("warning", "info"):
                return 1
            if r.status in UNKNOWN_STATUSES and not allow_unknown:
                return 1
            if strict and (r.status in WARNING_STATUSES or
                           (r.status in FAILED_STATUSES and r.severity == "warning")):
                return 1
        if strict and any(d.severity == "warning" for d in self.diagnostics):
            return 1
        return 0

    def summary(self) -> dict:
        count = lambda pred: sum(1 for r in self.results if pred(r))  # noqa: E731
        return {
            "files": len(self.files),
            "errors": sum(1 for d in self.diagnostics if d.severity == "error"),
            "warnings": sum(1 for d in self.diagnostics if d.severity == "warning")
            + count(lambda r: r.status in WARNING_STATUSES),
            "checks": len(self.results),
            "passed": count(lambda r: r.status in OK_STATUSES),
            "failed": count(lambda r: r.status in FAILED_STATUSES),
            "unknown": count(lambda r: r.status in UNKNOWN_STATUSES),
        }

    # -- renderings
    def to_json(self) -> dict:
        return {"schema": "tracelogic.check/1", "files": list(self.files),
                "diagnostics": [d.to_json() for d in self.diagnostics],
                "results": [r.to_json() for r in self.results], "summary": self.summary()}

    def to_text(self) -> str:
        lines = []
        for r in self.results:
            where = f"{r.location.file}:{r.location.line}: " if r.location else ""
            lines.append(f"{where}{r.kind} {r.name}: {r.status} — {r.message}")
            for key, value in r.details.items():
                if key in ("values", "core", "run", "implied_by"):
                    lines.append(f"    {key}: {_short(value)}")
                elif isinstance(value, dict) and "top" in value and "of" in value:
                    lines += _aggregate_lines(value)
        s = self.summary()
        lines.append("")
        lines.append(f"{s['files']} file(s), {s['checks']} check(s): {s['passed']} passed, "
                     f"{s['failed']} failed, {s['unknown']} unknown; {s['errors']} error(s), "
                     f"{s['warnings']} warning(s)")
        return "\n".join(lines) + "\n"

    def to_sarif(self, version: str) -> dict:
        rules: dict[str, dict] = {}
        results = []
        level = {"error": "error", "critical": "error", "warning": "warning", "info": "note",
                 "note": "note"}
        for d in self.diagnostics:
            rule = f"tracelogic/spec/{d.severity}"
            rules.setdefault(rule, sarif_rule(rule, "spec", "spec diagnostics"))
            res = {"ruleId": rule, "level": level.get(d.severity, "error"),
                   "message": {"text": d.message + (f" ({d.hint})" if d.hint else "")}}
            if d.span is not None:
                res["locations"] = [sarif_location(Location.of(d.span))]
            results.append(res)
        for r in self.results:
            if r.status in OK_STATUSES:
                continue
            rules.setdefault(r.rule_id, sarif_rule(r.rule_id, r.kind, f"{r.kind} {r.name}"))
            res = {"ruleId": r.rule_id,
                   "level": "warning" if r.status in UNKNOWN_STATUSES | WARNING_STATUSES
                   else level.get(r.severity, "error"),
                   "message": {"text": f"{r.kind} {r.name}: {r.status} — {r.message}"}}
            # The first location is what code scanning annotates: the config line that broke
            # the invariant when there is one, else the spec; the rest are related places.
            locs = r.related[:1] + ([r.location] if r.location else []) + r.related[1:]
            if locs:
                res["locations"] = [sarif_location(locs[0])]
            if len(locs) > 1:
                res["relatedLocations"] = [dict(sarif_location(loc), id=i)
                                           for i, loc in enumerate(locs[1:])]
            results.append(res)
        return {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{"tool": {"driver": sarif_driver(version, list(rules.values()))},
                      "results": results}],
        }


#: the environment variable with the base URL where the project's docs/ folder is published
#: (e.g. a repository's `…/blob/main/docs`): SARIF's informationUri and each rule's helpUri
DOCS_URL_ENV = "TRACELOGIC_DOCS_URL"

#: the docs page (under docs/) that explains each kind of SARIF rule: `check`'s result kinds,
#: `spec` for load diagnostics and `property` for `monitor`'s properties
DOC_PAGES = {
    "spec": ("language.md", "the .spec language reference"),
    "theorem": ("static-checks.md#theorems", "theorems, proved with Z3"),
    "invariant": ("static-checks.md#configuration-invariants",
                  "configuration invariants, checked with Z3 over the config files"),
    "config": ("static-checks.md#configuration-invariants",
               "configuration invariants and the config files they read"),
    "model": ("models.md#2-checks-and-results", "model checks"),
    "controller": ("control.md#4-claims", "claims about control loops"),
    "workflow": ("workflows.md#4-static-checks", "workflow checks"),
    "policy": ("healing.md#what-tracelogic-check-proves-about-policies",
               "what `tracelogic check` proves about healing policies"),
    "audit": ("healing.md#the-audit-trail-and-stdhealing",
              "the healing audit trail and the std.healing properties"),
    "routing": ("serve.md#scale-out-sharding-behind-the-collectors-load-balancing-exporter",
                "routing keys and sharding"),
    "property": ("monitor.md", "runtime properties, monitored over traces"),
    "consistency": ("consistency.md#5-reading-a-witness",
                    "consistency checks over traces, and how to read a witness"),
}


def docs_url() -> str | None:
    """The published docs' base URL from ``TRACELOGIC_DOCS_URL`` (no trailing slash), or None.

    tracelogic has no public site of its own: SARIF's URIs are absent unless this says
    where the docs are, so that no placeholder address ever reaches a code-scanning UI."""
    import os

    base = os.environ.get(DOCS_URL_ENV, "").strip().rstrip("/")
    return base or None


def sarif_rule(rule_id: str, kind: str, short: str) -> dict:
    """A SARIF reportingDescriptor with help: the docs page of its kind, as text, and as
    helpUri when the docs' URL is known (:func:`docs_url`)."""
    page, what = DOC_PAGES.get(kind, ("cli.md", f"{kind} checks"))
    rule: dict[str, Any] = {"id": rule_id, "shortDescription": {"text": short},
                            "help": {"text": f"{short}: see {what} in tracelogic's docs/"
                                             f"{page}."}}
    base = docs_url()
    if base:
        rule["helpUri"] = f"{base}/{page}"
    return rule


def sarif_driver(version: str, rules: list[dict]) -> dict:
    """The SARIF tool.driver: informationUri only when the docs' URL is known."""
    driver: dict[str, Any] = {"name": "tracelogic", "version": version}
    base = docs_url()
    if base:
        driver["informationUri"] = f"{base}/cli.md"
    driver["rules"] = rules
    return driver


def _uri(path: str) -> str:
    """Relative to the working directory when under it (what code scanning expects), else file://."""
    import os
    from pathlib import Path

    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd or absolute.startswith(cwd + os.sep):
        return Path(os.path.relpath(absolute, cwd)).as_posix()
    return Path(absolute).as_uri()


def sarif_location(loc: Location) -> dict:
    region = {"startLine": max(loc.line, 1), "startColumn": max(loc.column, 1)}
    if loc.end_line:
        region["endLine"] = loc.end_line
    if loc.end_column:
        region["endColumn"] = loc.end_column
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(loc.file)}, "region": region}}


def _aggregate_lines(agg: dict) -> list[str]:
    """The documents that contributed most to a cross-document aggregate of a failed invariant
    (docs/static-checks.md), one a line; the result's message gives the aggregate's value."""
    top = agg["top"]
    head = f"    {agg['of']} over {agg['documents']} document(s)"
    if not top:
        return [head]
    lines = [head + f"; {agg['order']}:"]
    lines += [f"      {t['file']} document {t['document']}: {t['value']}" for t in top]
    more = agg["documents"] - len(top)
    if more > 0 and not agg["order"].startswith("where"):
        lines.append(f"      … and {more} more")
    return lines


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def run_checks(spec, report: CheckReport, *, modules: Sequence[str] = CHECKER_MODULES,
               **options: Any) -> None:
    """Run the static checkers that ``modules`` register on a typed spec, module by module.

    Checkers walk expressions iteratively, so any depth the parser accepts (spec/limits.py)
    is checked with the default recursion limit."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    for fn in sorted((f for f in _CHECKERS if f.__module__ in modules),
                     key=lambda f: list(modules).index(f.__module__)):
        fn(spec, report, options)
