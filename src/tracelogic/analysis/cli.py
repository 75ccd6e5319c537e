"""`tracelogic analyze`: trace analyses from the command line.

Exit codes (DESIGN.md): 0 nothing found; 1 a finding (a deadlock, a race
candidate, a causality problem, a hotspot over ``--threshold``, a series at or
heading to ``--limit``, symptoms to explain); 2 bad command line or input, which
takes precedence (the readable part of the input is still analysed and reported).
"""
from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from tracelogic.commands import EXIT_FAILED, EXIT_INPUT, EXIT_OK, add_spec_path, command

SCHEMA = "tracelogic.analysis/1"
ANALYSES = ("critical-path", "causality", "deadlocks", "races", "root-cause", "trend",
            "services", "partitions")

# which options belong to which analysis (for precise errors)
_OPTION_OWNERS = {
    "spec": ("--spec", ("root-cause",)),
    "limit": ("--limit", ("trend",)),
    "horizon": ("--horizon", ("trend",)),
    "metric": ("--metric", ("trend",)),
    "threshold": ("--threshold", ("critical-path", "root-cause")),
    "tolerance": ("--tolerance", ("causality",)),
    "trace": ("--trace", ("critical-path",)),
    "include_reads": ("--include-reads", ("races",)),
    "window": ("--window", ("partitions",)),
    "min_failed": ("--min-failed", ("partitions",)),
}


@command("analyze", "analyse traces: critical path and hotspots, causality, deadlocks, races, "
         "root cause, metric trends, service graph")
def _analyze_args(p: argparse.ArgumentParser) -> None:
    p.epilog = """\
examples:
  tracelogic analyze traces.jsonl --critical-path --threshold 100ms
  tracelogic analyze traces.jsonl --causality --tolerance 1ms
  tracelogic analyze traces.jsonl --deadlocks
  tracelogic analyze traces.jsonl --races
  tracelogic analyze traces.jsonl --root-cause --spec shop.spec
  tracelogic analyze metrics.jsonl --trend --metric process.memory.usage --limit 2Gi
  tracelogic analyze traces.jsonl --services --format dot | dot -Tsvg > services.svg
  tracelogic analyze traces.jsonl --partitions --window 5s

conventions (lock.*, resource.*, message events): docs/analysis.md
"""
    p.add_argument("traces", nargs="*", metavar="TRACES",
                   help="OTLP/JSON or protobuf trace files, or - for stdin; JSON metrics files "
                   "are recognised by their content (--trend needs only --metrics)")
    p.add_argument("--metrics", action="append", default=[], metavar="FILE",
                   help="an OTLP metrics file (needed for protobuf metrics; repeatable)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--critical-path", dest="analysis", action="store_const",
                   const="critical-path", help="critical path of each trace, and hotspots")
    g.add_argument("--causality", dest="analysis", action="store_const", const="causality",
                   help="happens-before checks: cycles, clock skew, broken causal chains")
    g.add_argument("--deadlocks", dest="analysis", action="store_const", const="deadlocks",
                   help="cycles in the wait-for graph of lock.* attributes and events")
    g.add_argument("--races", dest="analysis", action="store_const", const="races",
                   help="overlapping writes to one resource.name not ordered by happens-before")
    g.add_argument("--root-cause", dest="analysis", action="store_const", const="root-cause",
                   help="rank services as the cause of the violations (--spec) or failed traces")
    g.add_argument("--trend", dest="analysis", action="store_const", const="trend",
                   help="robust linear fit of each metric series; time to --limit")
    g.add_argument("--services", dest="analysis", action="store_const", const="services",
                   help="the service dependency graph with error rate and latency per edge")
    g.add_argument("--partitions", dest="analysis", action="store_const", const="partitions",
                   help="groups of services others could not reach, and when")
    p.add_argument("--spec", metavar="SPEC", help="root cause: explain this spec's violations")
    p.add_argument("--threshold", metavar="DURATION",
                   help="critical path: report operations whose average duration exceeds it; "
                   "root cause without --spec: traces slower than it are symptoms too")
    p.add_argument("--limit", metavar="VALUE",
                   help="trend: the limit to project to (a number, a byte quantity such as 2Gi, "
                   "or a duration)")
    p.add_argument("--horizon", metavar="DURATION",
                   help="trend: only a limit reached within this time is a finding "
                   "(default 7d)")
    p.add_argument("--metric", action="append", default=None, metavar="NAME",
                   help="trend: only this metric (repeatable)")
    p.add_argument("--tolerance", metavar="DURATION", default=None,
                   help="causality: clock skew up to this is not reported (default 0)")
    p.add_argument("--trace", metavar="TRACE_ID", help="critical path: only this trace")
    p.add_argument("--window", metavar="DURATION",
                   help="partitions: the time window calls are judged in (default 1s)")
    p.add_argument("--min-failed", type=int, default=None, metavar="N",
                   help="partitions: failed calls a window needs to call a service "
                   "unreachable (default 2)")
    p.add_argument("--include-reads", action="store_true",
                   help="races: read/write pairs are candidates too")
    p.add_argument("--top", type=int, default=3, metavar="N",
                   help="how many traces or entries to show in text (default 3)")
    p.add_argument("--format", choices=("text", "json", "dot"), default="text",
                   help="dot only with --services")
    add_spec_path(p)
    p.set_defaults(func=cmd_analyze)


class _BadArgs(Exception):
    pass


def _duration(opt: str, text: str | None, *, positive: bool = True) -> int | None:
    from tracelogic.values.units import parse_duration

    if text is None:
        return None
    try:
        v = parse_duration(text)
    except (ValueError, ArithmeticError):
        raise _BadArgs(f"{opt} takes a duration such as 100ms or 2s, got {text!r}") from None
    if positive and v <= 0 or v < 0:
        raise _BadArgs(f"{opt} must be {'positive' if positive else 'at least 0'}, got {text!r}")
    return v


def _limit(text: str | None) -> float | None:
    from tracelogic.values.units import parse_bytes, parse_duration

    if text is None:
        return None
    t = text.replace("_", "")
    try:
        return float(t)
    except ValueError:
        pass
    for parse in (parse_bytes, parse_duration):
        try:
            return float(parse(t))
        except (ValueError, ArithmeticError):
            continue
    raise _BadArgs(f"--limit takes a number (0.9), a byte quantity (2Gi, 512Mi) or a duration "
                   f"(1s), got {text!r}")


def cmd_analyze(args: Any, out: TextIO, err: TextIO) -> int:
    from tracelogic.analysis._input import read_inputs

    which = args.analysis
    try:
        for attr, (opt, owners) in _OPTION_OWNERS.items():
            v = getattr(args, attr)
            if v not in (None, False, []) and which not in owners:
                raise _BadArgs(f"{opt} applies only to "
                               + " and ".join(f"--{o}" for o in owners) + f", not --{which}")
        if args.format == "dot" and which != "services":
            raise _BadArgs(f"--format dot applies only to --services, not --{which}")
        if args.top < 1:
            raise _BadArgs(f"--top must be at least 1, got {args.top}")
        threshold = _duration("--threshold", args.threshold)
        horizon = _duration("--horizon", args.horizon)
        tolerance = _duration("--tolerance", args.tolerance, positive=False)
        limit = _limit(args.limit)
        window = _duration("--window", args.window)
        if args.min_failed is not None and args.min_failed < 1:
            raise _BadArgs(f"--min-failed must be at least 1, got {args.min_failed}")
        if horizon is not None and limit is None:
            raise _BadArgs("--horizon needs --limit: the time to which limit?")
    except _BadArgs as e:
        err.write(f"tracelogic analyze: {e}\n")
        return EXIT_INPUT
    if not args.traces and not (which == "trend" and args.metrics):
        err.write("tracelogic analyze: give the input files (TRACES)"
                  + (", or --metrics FILE" if which == "trend" else "") + "\n")
        return EXIT_INPUT
    if args.traces.count("-") > 1:
        err.write("tracelogic analyze: - (stdin) may be given only once\n")
        return EXIT_INPUT
    data = read_inputs(args.traces, args.metrics,
                       want_events=which in ("causality", "deadlocks", "races"))
    for e in data.errors:
        err.write(f"error: {e}\n")
    code = EXIT_INPUT if data.errors else EXIT_OK
    header: dict[str, Any] = {"schema": SCHEMA, "analysis": which,
                              "input": {"spans": len(data.spans), "points": len(data.points),
                                        "errors": data.errors}}
    if which == "trend":
        if not data.points:
            err.write("tracelogic analyze: --trend found no metric data points in the input; "
                      "pass OTLP metrics files (JSON is recognised; protobuf needs --metrics)\n")
            return EXIT_INPUT
    elif not data.spans:
        err.write(f"tracelogic analyze: --{which} found no spans in the input"
                  + (" (only metric points: did you mean --trend?)" if data.points else "")
                  + "\n")
        return EXIT_INPUT
    handler = {"critical-path": _critical_path, "causality": _causality,
               "deadlocks": _deadlocks, "races": _races, "root-cause": _root_cause,
               "trend": _trend, "services": _services, "partitions": _partitions}[which]
    result = handler(args, data, out, err, header, threshold=threshold, horizon=horizon,
                     tolerance=tolerance or 0, limit=limit, window=window)
    return EXIT_INPUT if code == EXIT_INPUT else result


def _emit(args: Any, out: TextIO, header: dict, body: dict, text: list[str]) -> None:
    if args.format == "json":
        out.write(json.dumps({**header, **body}, indent=2, default=str) + "\n")
    else:
        out.write("\n".join(text) + "\n")


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms"


def _ts(ns: int | None) -> str:
    import datetime

    if ns is None:
        return "-"
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------ critical path

def _critical_path(args, data, out, err, header, *, threshold, **_) -> int:
    from tracelogic.analysis.critical_path import critical_path, hotspots, operation_of

    traces = data.traces()
    if args.trace:
        traces = [t for t in traces if t.trace_id == args.trace.lower()]
        if not traces:
            err.write(f"tracelogic analyze: --trace {args.trace}: no such trace in the input\n")
            return EXIT_INPUT
    paths = []
    skipped = []
    for t in traces:
        if not t.roots:
            skipped.append(t.trace_id)
            continue
        paths.append(critical_path(t))
    hs_all = hotspots(traces, paths=paths)
    crit_total = sum(p.total_ns for p in paths)
    # over the threshold, by own (self) time first: a parent that only waited comes last
    over = sorted((h for h in hs_all if threshold is not None and h.avg_ns > threshold),
                  key=lambda h: (-h.avg_self_ns, -h.avg_ns, h.operation))
    shown = sorted(paths, key=lambda p: (-p.total_ns, p.trace_id))[:args.top]
    text = [f"{len(paths)} trace(s) analysed"
            + (f"; {len(skipped)} without a root span skipped" if skipped else "")]
    for p in shown:
        text.append("")
        text.append(f"trace {p.trace_id}: {p.root.service or '?'}:{p.root.name} "
                    f"{_ms(p.total_ns)}, critical path of {len(p.segments)} segment(s)")
        text.append(f"  {'offset ms':>11} {'ms':>11} {'share':>6}  span")
        for s in p.segments:
            text.append(f"  {(s.start_ns - p.root.start_ns) / 1e6:>11.3f} "
                        f"{s.duration_ns / 1e6:>11.3f} {s.duration_ns / (p.total_ns or 1):>6.1%}"
                        f"  {operation_of(s.span)} ({s.span.span_id})")
    text.append("")
    text.append("hotspots by time on critical paths:")
    text.append(f"  {'share':>6} {'count':>6} {'avg ms':>10} {'p95 ms':>10} {'self ms':>10}  "
                "operation")
    for h in hs_all[:max(args.top, 10)]:
        text.append(f"  {h.critical_ns / (crit_total or 1):>6.1%} {h.count:>6} "
                    f"{h.avg_ns / 1e6:>10.3f} {h.quantile(0.95) / 1e6:>10.3f} "
                    f"{h.avg_self_ns / 1e6:>10.3f}  {h.operation}")
    if threshold is not None:
        text.append("")
        if over:
            text.append(f"operations over the {args.threshold} average (by own time):")
            for h in over:
                text.append(f"  {h.operation}: avg {h.avg_ns / 1e6:.3f} ms (own "
                            f"{h.avg_self_ns / 1e6:.3f} ms) over {h.count} span(s); slowest "
                            f"{', '.join(h.span_ids[:3])}")
        else:
            text.append(f"no operation averages more than {args.threshold}")
    body = {"traces": [p.to_json() for p in paths], "skipped": skipped,
            "hotspots": [h.to_json(crit_total) for h in hs_all],
            "threshold_ns": threshold,
            "over_threshold": [h.to_json(crit_total) for h in over]}
    _emit(args, out, header, body, text)
    return EXIT_FAILED if over else EXIT_OK


# ------------------------------------------------------------------ causality

def _causality(args, data, out, err, header, *, tolerance, **_) -> int:
    from tracelogic.analysis.causality import check_causality

    rep = check_causality(data.spans, data.events, tolerance_ns=tolerance)
    text = [f"{rep.spans} span(s): "
            + ("acyclic" if not rep.cycles else f"{len(rep.cycles)} happens-before cycle(s)")
            + f", {len(rep.skews)} clock-skew finding(s), {len(rep.broken)} broken causal "
            "chain(s)"]
    for c in rep.cycles[:args.top * 5]:
        text.append(f"  cycle: {c.describe()}")
    if rep.skews:
        text.append("clock skew by service pair (source -> target: count, worst):")
        for a, b, n, m in rep.skew_by_services():
            text.append(f"  {a or '?'} -> {b or '?'}: {n}, {_ms(m)}")
        for s in rep.skews[:args.top * 5]:
            text.append(f"  {s.describe()}")
        if len(rep.skews) > args.top * 5:
            text.append(f"  ... and {len(rep.skews) - args.top * 5} more")
    for b in rep.broken[:args.top * 5]:
        text.append(f"  {b.describe()}")
    if len(rep.broken) > args.top * 5:
        text.append(f"  ... and {len(rep.broken) - args.top * 5} more broken chain(s)")
    _emit(args, out, header, rep.to_json(), text)
    return EXIT_OK if rep.ok else EXIT_FAILED


# ------------------------------------------------------------------ deadlocks

def _deadlocks(args, data, out, err, header, **_) -> int:
    from tracelogic.analysis.locks import find_deadlocks, lock_intervals

    ivs = lock_intervals(data.spans, data.events)
    found = find_deadlocks(data.spans, data.events)
    text = [f"{len(ivs)} lock interval(s) over {len({i.lock for i in ivs})} lock(s): "
            f"{len(found)} deadlock(s)"]
    if not ivs:
        text.append("  no span carries lock.name with lock.op, and no lock.wait/lock.acquired "
                    "events were found; see docs/analysis.md for the conventions")
    for d in found:
        text.append(f"  {d.describe()}")
        text.append(f"    blocked from {_ts(d.at_ns)} until {_ts(d.until_ns)}")
        for e in d.edges:
            text.append(f"    {d._label(e.waiter)} waits ({e.wait.span.name} "
                        f"{e.wait.span.span_id}) for {e.lock!r} held by {d._label(e.holder)} "
                        f"({e.hold.span.name} {e.hold.span.span_id})")
    _emit(args, out, header, {"lock_intervals": len(ivs),
                              "deadlocks": [d.to_json() for d in found]}, text)
    return EXIT_FAILED if found else EXIT_OK


# ------------------------------------------------------------------ races

def _races(args, data, out, err, header, **_) -> int:
    from tracelogic.analysis.races import accesses, race_candidates

    acc = accesses(data.spans)
    found = race_candidates(data.spans, data.events, include_reads=args.include_reads)
    text = [f"{len(acc)} access(es) to {len({a.resource for a in acc})} resource(s): "
            f"{len(found)} race candidate(s)"]
    if not acc:
        text.append("  no span carries resource.name with resource.access; see "
                    "docs/analysis.md for the convention")
    for r in found:
        text.append(f"  {r.describe()}")
    _emit(args, out, header, {"accesses": len(acc),
                              "race_candidates": [r.to_json() for r in found]}, text)
    return EXIT_FAILED if found else EXIT_OK


# ------------------------------------------------------------------ root cause

def _root_cause(args, data, out, err, header, *, threshold, **_) -> int:
    from tracelogic.analysis.services import root_cause

    traces = data.traces()
    symptoms: list[str] = []
    service_symptoms: dict[str, float] = {}
    violated: dict[str, int] = {}
    if args.spec:
        from tracelogic.errors import TracelogicError
        from tracelogic.engine.monitor import Monitor
        from tracelogic.spec.diagnostics import render_all
        from tracelogic.spec.loader import load_with_diagnostics

        spec, diags, sources = load_with_diagnostics(args.spec, args.spec_path)
        if diags:
            err.write(render_all(diags, sources) + "\n")
        if spec is None:
            return EXIT_INPUT
        try:
            mon = Monitor(spec)
        except TracelogicError as e:
            err.write(f"tracelogic analyze: {e}\n")
            return EXIT_INPUT
        mon.feed(data.spans)
        mon.feed_points(data.points)
        report = mon.close()
        for v in report.violations:
            violated[v.prop.name] = violated.get(v.prop.name, 0) + 1
            symptoms.extend(v.span_ids)
            if not v.span_ids and v.key not in ("*", ""):
                service_symptoms[v.key] = service_symptoms.get(v.key, 0.0) + 1.0
        source = f"{sum(violated.values())} violation(s) of {args.spec}"
    else:
        for t in traces:
            for r in t.roots:
                if r.status == "error" or (threshold is not None
                                           and r.end_ns - r.start_ns > threshold):
                    symptoms.append(r.span_id)
        source = ("failed" + (f" or slower than {args.threshold}" if threshold else "")
                  + " root spans")
    rc = root_cause(traces, symptoms, service_symptoms=service_symptoms)
    text = [f"symptoms: {len(rc.symptoms)} span(s) from {source}"]
    for name, n in sorted(violated.items()):
        text.append(f"  violated {name}: {n}")
    if not rc.ranking:
        text.append("nothing to explain")
    else:
        text.append("ranking:")
        for i, r in enumerate(rc.ranking[:max(args.top, 5)], 1):
            text.append(f"  {i}. {r.service:<24} score {r.score:.3f}  (blame stopped here "
                        f"{r.stops}x, passed on {r.passes}x, symptoms {r.symptoms})")
        text.append(f"explanation chain for {rc.top.service}:")
        text.extend(f"  {'-> ' if i else ''}{line}" for i, line in enumerate(rc.explain()))
    if rc.unexplained:
        text.append(f"{len(rc.unexplained)} witness span(s) not found among the traces")
    body = {"source": source, "violated": violated, **rc.to_json()}
    _emit(args, out, header, body, text)
    return EXIT_FAILED if rc.ranking else EXIT_OK


# ------------------------------------------------------------------ trend

def _format_value(v: float, unit: str) -> str:
    if unit in ("By", "bytes", "By/s"):
        for name, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(v) >= size:
                return f"{v / size:.2f} {name}"
        return f"{v:.0f} B"
    return f"{v:.6g}{' ' + unit if unit and unit != '1' else ''}"


def _format_span(ns: int) -> str:
    s = ns / 1e9
    for name, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {name}"
    return f"{s:.1f} s"


def _trend(args, data, out, err, header, *, limit, horizon, **_) -> int:
    from tracelogic.analysis.trend import DEFAULT_HORIZON_NS, trends

    if horizon is None:
        horizon = DEFAULT_HORIZON_NS
    trs = trends(data.points, limit=limit, metrics=args.metric)
    if args.metric:
        have = {t.metric for t in trs}
        missing = [m for m in args.metric if m not in have]
        if missing:
            names = sorted({p.metric for p in data.points})
            err.write(f"tracelogic analyze: --metric {', '.join(missing)}: no series with at "
                      f"least 3 points; metrics in the input: {', '.join(names[:10]) or 'none'}\n")
            return EXIT_INPUT
    finding = []
    text = [f"{len(trs)} series"]
    for t in trs:
        per_min = t.slope_per_s * 60
        lo, hi = t.fit.slope_low * 6e10, t.fit.slope_high * 6e10
        text.append(f"  {t.series}: {t.fit.n} points, last {_format_value(t.last_value, t.unit)}"
                    f", growth {_format_value(per_min, t.unit)}/min "
                    f"(95% {_format_value(lo, t.unit)} .. {_format_value(hi, t.unit)})")
        if t.status == "above":
            text.append(f"    already at or above the limit {_format_value(limit, t.unit)} "
                        f"(fitted {_format_value(t.fitted_last, t.unit)}; crossed about "
                        f"{_ts(t.limit_at_ns)})")
        elif t.status == "reaches":
            beyond = t.time_to_limit_ns > horizon
            text.append(f"    reaches the limit {_format_value(limit, t.unit)} in "
                        f"{_format_span(t.time_to_limit_ns)} (about {_ts(t.limit_at_ns)})"
                        + (f", beyond the {_format_span(horizon)} horizon: not a finding"
                           if beyond else ""))
        elif t.status == "never" and t.fit.slope_high >= 0 and t.fit.slope > 0:
            text.append(f"    not growing: the 95% interval of the slope includes 0; no "
                        f"crossing of {_format_value(limit, t.unit)} is projected")
        elif t.status == "never":
            text.append(f"    not growing: never reaches {_format_value(limit, t.unit)}")
        if t.status == "above" or (t.status == "reaches" and t.time_to_limit_ns <= horizon):
            finding.append(t)
    body = {"limit": limit, "horizon_ns": horizon, "series": [t.to_json() for t in trs],
            "findings": [t.series for t in finding]}
    _emit(args, out, header, body, text)
    return EXIT_FAILED if finding else EXIT_OK


# ------------------------------------------------------------------ services

def _services(args, data, out, err, header, **_) -> int:
    from tracelogic.analysis.services import service_graph

    g = service_graph(data.traces())
    if args.format == "dot":
        out.write(g.to_dot())
        return EXIT_OK
    text = [f"{g.graph.number_of_nodes()} service(s), {g.graph.number_of_edges()} edge(s)"]
    for e in g.edges:
        text.append(f"  {e.describe()}" + (" (async)" if e.asynchronous else "")
                    + ("" if g.graph.nodes[e.callee].get("instrumented", True)
                       else " [uninstrumented]"))
    _emit(args, out, header, g.to_json(), text)
    return EXIT_OK


# ------------------------------------------------------------------ partitions

def _partitions(args, data, out, err, header, *, window, **_) -> int:
    from tracelogic.analysis.partitions import calls, find_partitions

    traces = data.traces()
    eps = find_partitions(traces, window_ns=window or 10**9,
                          min_failed=args.min_failed if args.min_failed is not None else 2)
    n_calls = len(calls(traces))
    text = [f"{n_calls} call(s) between services: {len(eps)} partition episode(s)"]
    for ep in eps:
        text.append(f"  {_ts(ep.start_ns)} .. {_ts(ep.end_ns)}: {ep.describe()}")
        for (a, b), n in sorted(ep.edges.items()):
            text.append(f"    {a} -> {b}: {n} failed call(s)")
    _emit(args, out, header, {"calls": n_calls, "window_ns": window or 10**9,
                              "partitions": [e.to_json() for e in eps]}, text)
    return EXIT_FAILED if eps else EXIT_OK


# ------------------------------------------------------------------ mine

@command("mine", "propose a spec from the traces of healthy runs: Dwyer patterns, a workflow, "
         "attribute invariants (docs/mining.md)")
def _mine_args(p: argparse.ArgumentParser) -> None:
    p.epilog = """\
examples:
  tracelogic mine healthy/*.jsonl > mined.spec             propose; review; then:
  tracelogic check mined.spec
  tracelogic monitor mined.spec faulty.jsonl               which healthy behaviour broke?
  tracelogic mine healthy.jsonl --metrics m.jsonl --max-properties 20 -o mined.spec

docs: docs/mining.md
"""
    p.add_argument("traces", nargs="+", metavar="TRACES",
                   help="OTLP/JSON or protobuf trace files of healthy runs, or - for stdin; "
                   "JSON metrics files are recognised by their content")
    p.add_argument("--metrics", action="append", default=[], metavar="FILE",
                   help="an OTLP metrics file (needed for protobuf metrics; repeatable)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the spec to FILE (created private, 0600) instead of stdout")
    p.add_argument("--max-properties", type=int, default=100, metavar="N",
                   help="propose at most N properties, the strongest kinds first (default 100)")
    p.add_argument("--max-pattern-length", type=int, default=2, metavar="N",
                   help="the most operations one pattern relates: 1 keeps single-operation "
                   "patterns (latency, existence, attributes, exclusion), 2 adds pairs "
                   "(response, precedence, bounded response) (default 2)")
    p.add_argument("--min-support", type=int, default=2, metavar="N",
                   help="a property needs its trigger in at least N traces (or key values) "
                   "(default 2)")
    p.add_argument("--min-confidence", type=float, default=1.0, metavar="C",
                   help="a property must hold in at least this share of the traces whose "
                   "trigger occurred; below 1 it is proposed with severity warning (default 1)")
    p.add_argument("--margin", type=float, default=1.0, metavar="M",
                   help="learned time bounds and metric ranges are widened by this fraction "
                   "of what was observed (default 1.0: twice the slowest delay seen)")
    p.add_argument("--max-enum", type=int, default=8, metavar="N",
                   help="an attribute with at most N distinct values becomes an enum "
                   "(default 8)")
    p.add_argument("--max-workflow-steps", type=int, default=64, metavar="N",
                   help="propose the workflow only if it has at most N steps (default 64)")
    p.add_argument("--max-workflow-size", type=int, default=200, metavar="N",
                   help="propose the workflow only if its expression has at most N step "
                   "occurrences (default 200)")
    p.add_argument("--no-workflow", action="store_true", help="do not propose a workflow")
    p.set_defaults(func=cmd_mine)


def cmd_mine(args: Any, out: TextIO, err: TextIO) -> int:
    import math

    from tracelogic.analysis._input import read_inputs
    from tracelogic.analysis.mining import MineOptions, mine

    if args.traces.count("-") > 1:
        err.write("tracelogic mine: - (stdin) may be given only once\n")
        return EXIT_INPUT
    if not math.isfinite(args.min_confidence) or not math.isfinite(args.margin):
        err.write("tracelogic mine: --min-confidence and --margin take finite numbers\n")
        return EXIT_INPUT
    try:
        options = MineOptions(max_properties=args.max_properties,
                              max_pattern_length=args.max_pattern_length,
                              min_support=args.min_support,
                              min_confidence=args.min_confidence, margin=args.margin,
                              max_enum=args.max_enum,
                              max_workflow_steps=args.max_workflow_steps,
                              max_workflow_size=args.max_workflow_size,
                              workflow=not args.no_workflow)
    except ValueError as e:
        flag = "--" + str(e).split("=", 1)[0].replace("_", "-")
        err.write(f"tracelogic mine: {flag}: {str(e).split(': ', 1)[-1]}, got "
                  f"{str(e).split('=', 1)[1].split(':', 1)[0]}\n")
        return EXIT_INPUT
    data = read_inputs(args.traces, args.metrics, want_events=False)
    for e in data.errors:
        err.write(f"error: {e}\n")
    if data.errors:
        err.write("tracelogic mine: the input has errors (above); mining from part of the "
                  "healthy runs would propose properties they do not support, so nothing was "
                  "mined. Fix or leave out the broken files.\n")
        return EXIT_INPUT
    if not data.spans:
        err.write("tracelogic mine: the input holds no spans"
                  + (" (only metric points)" if data.points else "")
                  + "; give OTLP trace files of healthy runs\n")
        return EXIT_INPUT
    spec = mine(data.spans, data.points, options)
    text = spec.text()
    if args.output:
        from tracelogic.private_files import open_private

        try:
            with open_private(args.output) as f:
                f.write(text)
        except OSError as e:
            err.write(f"tracelogic mine: cannot write {args.output}: {e.strerror or e}\n")
            return EXIT_INPUT
        err.write(f"tracelogic mine: {len(spec.properties)} propert(ies) from "
                  f"{spec.traces} trace(s) written to {args.output}\n")
    else:
        out.write(text)
    return EXIT_OK
