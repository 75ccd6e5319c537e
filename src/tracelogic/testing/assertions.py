"""`assert_spec`: check a test's spans against a spec, and fail in pytest's style.

The failure message says what a reader needs to fix the code or the spec:
the violated property, its description, its text in the spec (with file and
line), the instance key and the witness as a timeline of events.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Iterable

from tracelogic.errors import TracelogicError
from tracelogic.spec.typed import Spec


class SpecViolation(TracelogicError, AssertionError):
    """Some property of the spec does not hold on the spans; ``report`` has the details."""

    def __init__(self, message: str, report: Any):
        super().__init__(message)
        self.report = report


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float, spec_path: tuple[str, ...] = ()) -> Spec:
    from tracelogic.spec.loader import load

    return load(path, spec_path=spec_path)


def load_spec(spec_or_path: Spec | str, base_dir: str | None = None,
              spec_path: Iterable[str] = ()) -> Spec:
    """A Spec from a Spec, a path (relative to ``base_dir``, then the working dir) or text.

    ``spec_path``: directories imports may read besides the spec's own."""
    if isinstance(spec_or_path, Spec):
        return spec_or_path
    text = str(spec_or_path)
    if "\n" not in text:
        for candidate in ([os.path.join(base_dir, text)] if base_dir else []) + [text]:
            if os.path.isfile(candidate):
                return _load_cached(os.path.abspath(candidate), os.path.getmtime(candidate),
                                    tuple(os.fspath(d) for d in spec_path))
        if text.endswith(".spec"):
            raise FileNotFoundError(f"spec file {text!r} not found"
                                    + (f" (looked in {base_dir} and the working directory)"
                                       if base_dir else ""))
    from tracelogic.spec.loader import load

    return load(text, filename="<spec>", spec_path=spec_path)


def split_target(target: str) -> tuple[str, list[str] | None]:
    """`shop.spec::answered` -> ("shop.spec", ["answered"]); `shop.spec` -> (…, None)."""
    path, sep, prop = target.partition("::")
    return path, ([prop] if sep and prop else None)


def check_spans(spec: Spec, spans: Iterable[Any], properties: list[str] | None = None):
    """Run the monitor over spans; the report."""
    from tracelogic.engine.monitor import Monitor

    mon = Monitor(spec, properties=properties)
    mon.feed(spans)
    return mon.close()


def assert_spec(spec_or_path: Spec | str, spans: Iterable[Any],
                properties: list[str] | None = None, *, base_dir: str | None = None,
                allow_unknown: bool = False, spec_path: Iterable[str] = ()) -> Any:
    """Fail (a :class:`SpecViolation`) unless every property holds on ``spans``.

    ``spans`` are OpenTelemetry SDK ``ReadableSpan``s (as the ``otel_spans``
    fixture records them) or tracelogic ``Span``s. Returns the report.
    """
    __tracebackhide__ = True  # pytest: show the test's line, not ours
    spec = load_spec(spec_or_path, base_dir, spec_path)
    report = check_spans(spec, spans, properties)
    failing = [v for v in report.violations if v.prop.severity in ("critical", "error")]
    undecided = [] if allow_unknown else [
        (p.name, k, v) for p in report.properties for k, v in p.results
        if v in ("inconclusive", "incomplete")] + [
        (p.name, None, p.reason) for p in report.properties if not p.monitored]
    if failing or undecided or report.input_errors:
        raise SpecViolation(explain(spec, report, failing, undecided), report)
    return report


def explain(spec: Spec, report: Any, violations: list, undecided: list) -> str:
    """The failure text, in the order a reader needs it."""
    lines = []
    n = len({v.prop.name for v in violations})
    if violations:
        lines.append(f"tracelogic: {n} propert{'y' if n == 1 else 'ies'} violated "
                     f"({os.path.basename(spec.file)})")
    for v in violations:
        p = v.prop
        head = f"  {p.name} [{p.severity}]"
        if p.description:
            head += f": {p.description}"
        lines.append(head)
        lines.extend(f"    | {row}" for row in _source(spec, p))
        lines.append(f"    {p.span.file}:{p.span.line}")
        lines.append(f"    key {v.key}: {v.message}")
        if v.witness:
            from tracelogic.engine.report import timeline

            lines.extend(f"    {row}" for row in timeline(v.witness, header=True))
        elif v.span_ids:
            lines.append(f"    spans: {', '.join(v.span_ids)}")
        if p.runbook:
            lines.append(f"    runbook: {p.runbook}")
    for name, key, verdict in undecided:
        if key is None:  # refused by the engine: `verdict` is the reason
            lines.append(f"tracelogic: property {name} was not monitored: {verdict} "
                         "(pass allow_unknown=True to accept)")
            continue
        lines.append(f"tracelogic: property {name} is {verdict} for {key} "
                     "(pass allow_unknown=True to accept)")
    for e in report.input_errors:
        lines.append(f"tracelogic: input error: {e}")
    return "\n".join(lines)


def _source(spec: Spec, prop: Any) -> list[str]:
    """The property's own text in the spec file."""
    span = prop.span
    if not span.line or not spec.source:
        return []
    src = spec.source.splitlines()
    return [line.rstrip() for line in src[span.line - 1:span.end_line] if line.strip()]
