"""The visual report: one self-contained HTML page (`monitor`/`violations --format html`).

Why a page: users look at traces as timelines (Jaeger, Tempo, Grafana), and a violation
as a block of text hides which span broke what. The page shows a summary per property
and, per violation, a Gantt chart of the trace's spans by service with the witness and
the trigger marked and the message beside them; for an aggregate, its window (shaded)
and its values.

It works from the JSON contract (``tracelogic.monitor/1`` violations, which is also what
the store keeps), so `monitor` and `violations` render the same page. `monitor` passes
the spans of the violating traces, read back from its inputs; the store keeps no spans
of decided traces, so its charts show the witness events' spans only.

Security: span names, attributes, messages and keys are untrusted (anyone who can send
spans writes them). Everything from the data is HTML-escaped here, in Python, and the
page carries no script at all: its Content-Security-Policy forbids scripts and every
fetch (``default-src 'none'``), so even an escaping bug could neither run code nor
reach the network. The CSS and SVG are written here; nothing is loaded from a CDN.
"""
from __future__ import annotations

import datetime
import json
from html import escape
from typing import Any, Iterable, Mapping, Sequence

#: spans drawn per violation; the witness and trigger spans are always among them
MAX_ROWS = 300
#: violations drawn with a timeline; the rest are counted in a note (the summary counts all)
MAX_VIOLATIONS = 1000
_LABEL_W = 230      # px: the service / span-name column
_CHART_W = 560      # px: the time axis
_ROW_H = 18
_AXIS_H = 24

_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee8;--bg:#f7f8fb;--bad:#c62828;
--warn:#b26a00;--ok:#2e7d32;--span:#8da4c7;--witness:#d32f2f;--trigger:#ef8f00;
--window:rgba(255,193,7,.18)}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0;padding:24px 32px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:var(--muted);margin-bottom:16px}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
th{background:#eef1f6;font-weight:600}td.num{text-align:right;font-variant-numeric:
tabular-nums}
.status-violated{color:var(--bad);font-weight:600}.status-ok{color:var(--ok)}
.status-undecided{color:var(--warn)}
section.violation{background:#fff;border:1px solid var(--line);border-left:4px solid
var(--bad);border-radius:4px;margin:16px 0;padding:12px 16px}
section.violation.sev-warning,section.violation.sev-info{border-left-color:var(--warn)}
.vhead{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.vhead h3{margin:0;font-size:16px}.sev{font-size:12px;padding:1px 6px;border-radius:3px;
background:#fde0e0;color:var(--bad)}.sev-warning .sev,.sev-info .sev{background:#fff1d6;
color:var(--warn)}
.key{color:var(--muted);font-family:ui-monospace,monospace;font-size:12px}
.body{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap;margin-top:8px}
.chart{overflow-x:auto;max-width:100%}
aside.why{flex:1 1 260px;min-width:240px;border-left:3px solid var(--witness);
padding:4px 10px;background:#fff8f8}
aside.why p{margin:4px 0}.message{font-weight:600}
aside.why table{margin-top:6px;font-size:13px}
svg text{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;fill:var(--fg)}
svg .service{font-weight:700;fill:#24324a}svg .axis{fill:var(--muted);font-size:11px}
svg .grid{stroke:var(--line)}svg rect.span{fill:var(--span)}
svg rect.span.error{fill:#9c6b6b}
svg rect.span.witness{fill:var(--witness)}svg rect.span.trigger{fill:var(--trigger)}
svg rect.window{fill:var(--window);stroke:#e0a800;stroke-dasharray:4 3}
svg .event{fill:#000}svg .trigger-mark{fill:var(--trigger);stroke:#7a4700}
svg .mark{font-weight:700}svg .mark.witness{fill:var(--witness)}
svg .mark.trigger{fill:var(--trigger)}
.legend{font-size:12px;color:var(--muted);margin:4px 0}
.legend i{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;
vertical-align:middle}
a{color:#1a5fb4}.note{color:var(--muted);font-size:12px}
"""

# no script, no network: an escaping mistake could not run code or fetch anything
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


def _e(value: Any) -> str:
    """Escaped text for an element's content or a quoted attribute."""
    return escape(str(value), quote=True)


def _time(ns: int | None) -> str:
    if ns is None:
        return "-"
    try:
        dt = datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond datetime's years
        return f"{ns} ns"
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(ns: float) -> str:
    ms = ns / 1e6
    if abs(ms) >= 1000:
        return f"{ms / 1000:.3g} s"
    return f"{ms:.3g} ms"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _strs(x: Any) -> list[str]:
    return [str(i) for i in x] if isinstance(x, list) else []


def _web_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(
        c.isspace() or ord(c) < 0x20 for c in url)


def _event(e: Any) -> dict | None:
    if not isinstance(e, dict):
        return None
    out: dict[str, Any] = {k: str(e.get(k, "")) for k in ("trace_id", "span_id", "event",
                                                            "name", "service")}
    out["time_unix_nano"] = _int(e.get("time_unix_nano"))
    return out


def _clean(v: Any) -> dict:
    """A violation object in the shape the page reads, whatever a (hand-edited) store
    holds: the page must render, not raise, on any JSON."""
    v = v if isinstance(v, dict) else {}
    out: dict[str, Any] = {k: str(v[k]) for k in ("property", "key", "message", "severity",
                                                  "description", "runbook", "owner", "id")
                           if v.get(k) is not None}
    for k in ("trace_ids", "span_ids"):
        out[k] = _strs(v.get(k))
    # links become hrefs: only http(s) ones, whatever a store holds (no javascript: URLs)
    # ("" keeps each link beside its trace id)
    out["trace_urls"] = [u if _web_url(u) else "" for u in _strs(v.get("trace_urls"))]
    out["events"] = [e for e in map(_event, v.get("events") or []
                                    if isinstance(v.get("events"), list) else []) if e]
    trig = _event(v.get("trigger"))
    if trig:
        out["trigger"] = trig
    w = v.get("window")
    if isinstance(w, dict):
        out["window"] = {k: _int(w.get(k)) for k in ("start_unix_nano", "end_unix_nano")}
    if isinstance(v.get("values"), dict) and v["values"]:
        out["values"] = {str(k): val for k, val in v["values"].items()}
    if isinstance(v.get("points"), list) and v["points"]:
        out["points"] = v["points"]
    if _int(v.get("recorded_unix_nano")) is not None:
        out["recorded_unix_nano"] = v["recorded_unix_nano"]
    return out


def _clean_spans(spans: Any) -> dict[str, list[dict]]:
    if not isinstance(spans, Mapping):
        return {}
    out: dict[str, list[dict]] = {}
    for tid, rows in spans.items():
        for s in rows if isinstance(rows, (list, tuple)) else []:
            if isinstance(s, Mapping):
                out.setdefault(str(tid), []).append(
                    {"span_id": str(s.get("span_id", "")), "name": str(s.get("name", "")),
                     "service": str(s.get("service", "")), "start": _int(s.get("start")),
                     "end": _int(s.get("end")), "status": str(s.get("status", ""))})
    return out


def _clean_property(p: Any) -> dict:
    p = p if isinstance(p, dict) else {}
    results = p.get("results") if isinstance(p.get("results"), list) else []
    return {"name": str(p.get("name", "")), "scope": str(p.get("scope", "")),
            "instances": str(p.get("instances", 0)), "vacuous": str(p.get("vacuous", 0)),
            "monitored": p.get("monitored") is not False, "reason": str(p.get("reason", "")),
            "results": [r for r in results if isinstance(r, dict)]}


class _Bar:
    """One row of the chart: a span (or, from a store, what the witness events tell of
    one). ``start``/``end`` may be None when only the other event is known."""

    __slots__ = ("span_id", "trace_id", "name", "service", "start", "end", "status")

    def __init__(self, span_id: str, trace_id: str, name: str, service: str,
                 start: int | None, end: int | None, status: str = "") -> None:
        self.span_id, self.trace_id, self.name, self.service = span_id, trace_id, name, service
        self.start, self.end, self.status = start, end, status


def _bars(v: Mapping[str, Any], spans: Mapping[str, Sequence[Mapping[str, Any]]]
          ) -> tuple[list[_Bar], bool]:
    """The rows of one violation's chart, and whether they are the whole traces."""
    bars: dict[str, _Bar] = {}
    full = False
    for tid in v.get("trace_ids") or []:
        for s in spans.get(tid, ()):
            full = True
            bars.setdefault(s["span_id"], _Bar(s["span_id"], tid, s.get("name", ""),
                                               s.get("service", ""), s.get("start"),
                                               s.get("end"), s.get("status", "")))
    # witness events not among the spans (a store, or an aggregate's other traces)
    evs = list(v.get("events") or [])
    if v.get("trigger"):
        evs.append(v["trigger"])
    for ev in evs:
        sid = ev.get("span_id", "")
        b = bars.get(sid)
        if b is None:
            b = bars[sid] = _Bar(sid, ev.get("trace_id", ""), ev.get("name", ""),
                                 ev.get("service", ""), None, None)
        t = ev.get("time_unix_nano")
        if not isinstance(t, int):
            continue
        if ev.get("event") == "start" and b.start is None:
            b.start = t
        elif ev.get("event") == "end" and b.end is None:
            b.end = t
        elif b.start is None and b.end is None:
            b.start = t
    for sid in v.get("span_ids") or []:  # a witness span with no event: listed, untimed
        bars.setdefault(sid, _Bar(sid, "", "", "", None, None))
    return list(bars.values()), full


def _chart(v: Mapping[str, Any], bars: list[_Bar], full: bool) -> str:
    witness = set(v.get("span_ids") or [])
    trigger = v.get("trigger") or {}
    trigger_id = trigger.get("span_id")
    window = v.get("window") or {}
    times = [t for b in bars for t in (b.start, b.end) if t is not None]
    times += [e["time_unix_nano"] for e in (v.get("events") or [])
              if isinstance(e.get("time_unix_nano"), int)]
    for k in ("start_unix_nano", "end_unix_nano"):
        if isinstance(window.get(k), int):
            times.append(window[k])
    if not times:
        return '<p class="note">no span of this violation has a known time</p>'
    t0, t1 = min(times), max(times)
    span_ns = max(t1 - t0, 1_000_000)  # at least 1 ms: one instant still gets an axis

    def x(t: int) -> float:
        return _LABEL_W + (t - t0) / span_ns * _CHART_W

    # keep the marked spans, then the earliest others, up to MAX_ROWS
    def order(b: _Bar) -> tuple:
        return (b.start if b.start is not None else b.end if b.end is not None else t1,
                b.span_id)
    marked = [b for b in bars if b.span_id in witness or b.span_id == trigger_id]
    rest = sorted((b for b in bars if b not in marked), key=order)
    keep = marked + rest[:max(0, MAX_ROWS - len(marked))]
    hidden = len(bars) - len(keep)
    by_service: dict[str, list[_Bar]] = {}
    for b in sorted(keep, key=order):
        by_service.setdefault(b.service or "(no service)", []).append(b)

    rows: list[str] = []
    y = _AXIS_H
    for service, group in by_service.items():
        rows.append(f'<g class="lane" data-service="{_e(service)}">'
                    f'<text class="service" x="4" y="{y + 13}">{_e(_short(service, 28))}'
                    f'<title>{_e(service)}</title></text>')
        rows.append(f'<line class="grid" x1="0" x2="{_LABEL_W + _CHART_W}" y1="{y}" '
                    f'y2="{y}"/>')
        y += _ROW_H
        for b in group:
            role = ("trigger" if b.span_id == trigger_id else
                    "witness" if b.span_id in witness else "span")
            cls = "span" + (f" {role}" if role != "span" else "") + \
                (" error" if b.status == "error" else "")
            start = b.start if b.start is not None else b.end
            end = b.end if b.end is not None else b.start
            dur = (f"{_ms(b.end - b.start)}" if b.start is not None and b.end is not None
                   else "one event seen")
            tip = f"{b.name or b.span_id} ({b.service or '-'}) span {b.span_id}, {dur}" + \
                (f", status {b.status}" if b.status else "")
            mark = {"witness": "▲ ", "trigger": "◆ "}.get(role, "")
            rows.append(f'<g class="row" data-span-id="{_e(b.span_id)}" '
                        f'data-role="{role}">')
            rows.append(f'<text x="16" y="{y + 13}"><tspan class="mark {role}">{mark}</tspan>'
                        f'{_e(_short(b.name or b.span_id, 26))}<title>{_e(tip)}</title></text>')
            if start is not None:
                x0 = x(start)
                w = max(x(end) - x0, 2.0)
                rows.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" '
                            f'height="{_ROW_H - 6}" rx="2"><title>{_e(tip)}</title></rect>')
            rows.append("</g>")
            y += _ROW_H
        rows.append("</g>")
    # the witness events as ticks, the trigger as a diamond
    marks = []
    row_y = _row_positions(by_service)
    for ev in v.get("events") or []:
        t, sid = ev.get("time_unix_nano"), ev.get("span_id")
        if isinstance(t, int) and sid in row_y:
            ey = row_y[sid]
            marks.append(f'<line class="event" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{ey + 1}" '
                         f'y2="{ey + _ROW_H - 1}" stroke="#000" stroke-width="2">'
                         f'<title>{_e(ev.get("event", ""))} of {_e(ev.get("name", ""))} at '
                         f'{_e(_time(t))}</title></line>')
    if trigger_id in row_y and isinstance(trigger.get("time_unix_nano"), int):
        tx, ty = x(trigger["time_unix_nano"]), row_y[trigger_id] + _ROW_H / 2
        marks.append(f'<path class="trigger-mark" d="M{tx:.1f} {ty - 6:.1f} l6 6 l-6 6 '
                     f'l-6 -6 z"><title>trigger: the obligation opened here</title></path>')
    band = ""
    if isinstance(window.get("start_unix_nano"), int) and \
            isinstance(window.get("end_unix_nano"), int):
        wx0, wx1 = x(window["start_unix_nano"]), x(window["end_unix_nano"])
        band = (f'<rect class="window" x="{wx0:.1f}" y="{_AXIS_H}" '
                f'width="{max(wx1 - wx0, 2):.1f}" height="{y - _AXIS_H}">'
                f'<title>window {_e(_time(window["start_unix_nano"]))} to '
                f'{_e(_time(window["end_unix_nano"]))}</title></rect>')
    axis = []
    for i in range(5):
        tx = _LABEL_W + i * _CHART_W / 4
        axis.append(f'<line class="grid" x1="{tx:.1f}" x2="{tx:.1f}" y1="{_AXIS_H - 4}" '
                    f'y2="{y}"/><text class="axis" x="{tx:.1f}" y="{_AXIS_H - 8}" '
                    f'text-anchor="{"start" if i == 0 else "end" if i == 4 else "middle"}">'
                    f'{_e(_ms(span_ns * i / 4))}</text>')
    height = y + 4
    svg = (f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" role="img" '
           f'width="{_LABEL_W + _CHART_W + 12}" height="{height}" '
           f'viewBox="0 0 {_LABEL_W + _CHART_W + 12} {height}">'
           f'<title>timeline from {_e(_time(t0))}</title>'
           + "".join(axis) + band + "".join(rows) + "".join(marks) + "</svg>")
    note = ""
    if not full:
        note = ('<p class="note">the witness spans only (a store keeps no spans of decided '
                'traces; `tracelogic monitor --format html` draws whole traces)</p>')
    if hidden:
        note += f'<p class="note">{hidden} more span(s) not drawn</p>'
    return svg + note


def _row_positions(by_service: Mapping[str, list[_Bar]]) -> dict[str, float]:
    out, y = {}, _AXIS_H
    for group in by_service.values():
        y += _ROW_H
        for b in group:
            out.setdefault(b.span_id, y)
            y += _ROW_H
    return out


def _why(v: Mapping[str, Any]) -> str:
    """The aside beside the chart: message, trigger, aggregate window and values, links."""
    parts = [f'<p class="message">{_e(v.get("message", ""))}</p>']
    if v.get("description"):
        parts.append(f'<p>{_e(v["description"])}</p>')
    trig = v.get("trigger")
    if trig:
        parts.append(f'<p class="trigger">◆ bounded obligation opened by '
                     f'<code>{_e(trig.get("name", ""))}</code> {_e(trig.get("event", ""))} '
                     f'(span <code>{_e(trig.get("span_id", ""))}</code>'
                     + (f', service {_e(trig["service"])}' if trig.get("service") else "")
                     + f') at {_e(_time(trig.get("time_unix_nano")))}</p>')
    sids = v.get("span_ids") or []
    if sids:
        parts.append('<p class="witness">▲ witness span(s): '
                     + ", ".join(f"<code>{_e(s)}</code>" for s in sids) + "</p>")
    window = v.get("window")
    if window:
        a, b = window.get("start_unix_nano"), window.get("end_unix_nano")
        size = f" ({_e(_ms(b - a))})" if isinstance(a, int) and isinstance(b, int) else ""
        parts.append(f'<p class="window">window {_e(_time(a))} to {_e(_time(b))}{size}</p>')
    values = v.get("values")
    if values:
        parts.append('<table class="values"><tr><th>value</th><th>at the violation</th></tr>'
                     + "".join(f"<tr><td><code>{_e(k)}</code></td><td class=\"num\">"
                               f"{_e(val)}</td></tr>" for k, val in values.items())
                     + "</table>")
    points = v.get("points")
    if points:
        parts.append('<table class="points"><tr><th>metric point</th></tr>'
                     + "".join(f"<tr><td><code>{_e(json.dumps(p, sort_keys=True))}</code>"
                               "</td></tr>" for p in points[:20]) + "</table>")
    for tid, url in zip(v.get("trace_ids") or [], v.get("trace_urls") or []):
        if not url:
            continue
        parts.append(f'<p><a class="trace-link" href="{_e(url)}" rel="noopener noreferrer" '
                     f'target="_blank">open trace {_e(tid)}</a></p>')
    if v.get("runbook"):
        parts.append(f'<p>runbook: {_e(v["runbook"])}</p>')
    if v.get("owner"):
        parts.append(f'<p>owner: {_e(v["owner"])}</p>')
    return '<aside class="why">' + "".join(parts) + "</aside>"


def _summary_rows(violations: Sequence[Mapping[str, Any]],
                  properties: Sequence[Mapping[str, Any]] | None) -> str:
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    severity: dict[str, str] = {}
    for i, v in enumerate(violations):
        name = str(v.get("property", ""))
        first.setdefault(name, i)
        counts[name] = counts.get(name, 0) + 1
        severity.setdefault(name, str(v.get("severity", "error")))
    rows = []
    if properties is not None:
        head = ("<tr><th>property</th><th>scope</th><th>instances</th><th>violated</th>"
                "<th>undecided</th><th>vacuous</th><th>status</th></tr>")
        for p in properties:
            name = str(p.get("name", ""))
            results = p.get("results") or []
            bad = sum(1 for r in results if r.get("verdict") == "violated")
            undecided = sum(1 for r in results if r.get("verdict") in ("inconclusive",
                                                                      "incomplete"))
            if not p["monitored"]:
                status = f'<span class="status-undecided">not monitored: ' \
                         f'{_e(p.get("reason", ""))}</span>'
            elif bad:
                status = '<span class="status-violated">✗ violated</span>'
            elif undecided:
                status = '<span class="status-undecided">? undecided</span>'
            else:
                status = '<span class="status-ok">✓ holds</span>'
            label = _e(name)
            if name in first:
                label = f'<a href="#v{first[name]}">{label}</a>'
            rows.append(f'<tr data-property="{_e(name)}"><td>{label}</td>'
                        f'<td>{_e(p.get("scope", ""))}</td>'
                        f'<td class="num">{_e(p.get("instances", 0))}</td>'
                        f'<td class="num">{bad}</td><td class="num">{undecided}</td>'
                        f'<td class="num">{_e(p.get("vacuous", 0))}</td><td>{status}</td></tr>')
    else:
        head = "<tr><th>property</th><th>severity</th><th>violations</th></tr>"
        for name in sorted(counts):
            rows.append(f'<tr data-property="{_e(name)}"><td><a href="#v{first[name]}">'
                        f'{_e(name)}</a></td><td>{_e(severity[name])}</td>'
                        f'<td class="num">{counts[name]}</td></tr>')
    return '<table class="summary">' + head + "".join(rows) + "</table>"


def render(violations: Sequence[Mapping[str, Any]], *,
           properties: Sequence[Mapping[str, Any]] | None = None,
           summary: Mapping[str, Any] | None = None,
           spans: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
           title: str = "tracelogic report", subtitle: str = "",
           notes: Iterable[str] = (), consistency: Any = None) -> str:
    """The page for ``violations`` (violation JSON objects, as `monitor --format json` and
    the store hold them, with ``trace_urls`` when links were asked for).

    ``properties`` (the report's per-property JSON) gives the summary table its verdict
    counts; without it (a store) the table counts violations per property. ``spans`` maps
    a trace id to its spans (``span_id``, ``name``, ``service``, ``start``, ``end``,
    ``status``), drawn whole; a trace without spans is drawn from its witness events.
    ``consistency`` (``tracelogic.consistency.formats.html_json``) adds a table of the
    spec's consistency checks and a history per violated key (engine/report_history.py).
    """
    from tracelogic.engine import report_history

    violations = [_clean(v) for v in violations]
    spans = _clean_spans(spans or {})
    if properties is not None:
        properties = [_clean_property(p) for p in properties]
    summary = summary if isinstance(summary, Mapping) else None
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f"<title>{_e(title)}</title><style>{_CSS}"
           + (report_history.CSS if consistency is not None else "")
           + "</style></head><body>",
           f"<h1>{_e(title)}</h1>"]
    meta = [subtitle] if subtitle else []
    if summary:
        meta.append(f'{summary.get("spans", 0)} span(s), {summary.get("properties", 0)} '
                    f'propert(y/ies), {summary.get("instances", 0)} instance(s), '
                    f'{summary.get("violated", 0)} violated')
    meta.append(f"{len(violations)} violation(s)")
    checks = report_history.clean(consistency) if consistency is not None else []
    if consistency is not None:
        meta.append(f"{len(checks)} consistency check(s), "
                    f"{sum(1 for c in checks for k in c['keys'] if k['verdict'] == 'violated')}"
                    " key(s) violated")
    out.append(f'<p class="meta" id="meta">{_e(" · ".join(meta))}</p>')
    for n in notes:
        out.append(f'<p class="note">{_e(n)}</p>')
    out.append("<h2>Properties</h2>" + _summary_rows(violations, properties))
    out.append("<h2>Violations</h2>")
    if not violations:
        out.append('<p class="status-ok" id="no-violations">no violations</p>')
    else:
        out.append('<p class="legend">bars: spans by service, time from the left<i '
                   'style="background:#d32f2f"></i>▲ witness<i style="background:#ef8f00">'
                   '</i>◆ trigger<i style="background:rgba(255,193,7,.4)"></i>aggregate '
                   'window</p>')
    for i, v in enumerate(violations[:MAX_VIOLATIONS]):
        sev = str(v.get("severity", "error"))
        bars, full = _bars(v, spans)
        where = ", ".join(str(t) for t in (v.get("trace_ids") or [])) or "-"
        out.append(f'<section class="violation sev-{_e(sev)}" id="v{i}" '
                   f'data-property="{_e(v.get("property", ""))}">'
                   f'<div class="vhead"><h3>✗ {_e(v.get("property", ""))}</h3>'
                   f'<span class="sev">{_e(sev)}</span>'
                   f'<span class="key">key {_e(v.get("key", ""))} · trace {_e(where)}'
                   + (f' · #{_e(v["id"])}' if "id" in v else "")
                   + (f' · recorded {_e(_time(v["recorded_unix_nano"]))}'
                      if isinstance(v.get("recorded_unix_nano"), int) else "")
                   + '</span></div><div class="body">'
                   f'<div class="chart">{_chart(v, bars, full)}</div>{_why(v)}</div>'
                   "</section>")
    if len(violations) > MAX_VIOLATIONS:
        out.append(f'<p class="note" id="more">{len(violations) - MAX_VIOLATIONS} more '
                   'violation(s) not drawn; --format json lists them all</p>')
    if consistency is not None:
        out.append('<h2 id="consistency">Consistency</h2>' + report_history.summary_table(checks))
        drawn = report_history.sections(checks)
        if drawn:
            out.append('<p class="legend">bars: each key\'s operations by client, call to '
                       'return<i style="background:#d32f2f"></i>▲ minimal witness<i '
                       'style="background:#7fa7e0"></i>numbered: the longest partial '
                       'linearization, in order<i style="background:#ef8f00"></i>outlined: '
                       'could not be placed (the model state there beside it); dashed: '
                       'never returned</p>')
        out += drawn
    out.append('<p class="note">generated by tracelogic; self-contained, no scripts, no '
               'network</p></body></html>\n')
    return "".join(out)


def span_rows(spans: Iterable[Any], trace_ids: Iterable[str]) -> dict[str, list[dict]]:
    """The spans of ``trace_ids`` (span-model objects) as :func:`render` takes them."""
    wanted = set(trace_ids)
    out: dict[str, list[dict]] = {}
    for s in spans:
        if s.trace_id in wanted:
            out.setdefault(s.trace_id, []).append(
                {"span_id": s.span_id, "name": s.name, "service": s.service,
                 "start": s.start_ns, "end": s.end_ns, "status": s.status})
    return out
