"""The history view of the HTML report: a consistency check's violated keys, drawn like
Porcupine's visualizer (docs/consistency.md §5).

Why a picture: a linearizability witness is about time. Which operations overlapped,
which one had returned before another was called, and where the search got stuck are
what a reader needs, and a list of numbers hides them. Per violated key the view draws
every operation of the key as a bar from its call to its return, in one lane per client
(an operation that never returned runs to the end, dashed); the longest partial
linearization the search built is numbered in its order and joined by a line; the
operations of the minimal witness are red; the operation it could not place is orange,
with the model state at that point beside the chart. Session and causal violations mark
the operations each involves.

It reads the JSON ``tracelogic.consistency.formats.html_json`` makes (each operation as
``Operation.to_json``, the witness as ``Witness.to_json``), and like the rest of the page
it treats every string as untrusted: escaped here, no script, nothing fetched.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any, Mapping, Sequence

_LABEL_W = 150      # px: the client column
_CHART_W = 640      # px: the time axis
_ROW_H = 22
_AXIS_H = 34        # the axis, and room for the numbers of the partial linearization

__all__ = ["clean", "summary_table", "sections"]


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _short(text: str, n: int) -> str:
    if n < 2:
        return ""
    return text if len(text) <= n else text[:n - 1] + "…"


def _ns(ns: float) -> str:
    if abs(ns) >= 1e9:
        return f"{ns / 1e9:.3g} s"
    if abs(ns) >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if abs(ns) >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.3g} ns"


def _value(v: Any) -> str:
    try:
        return json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        return str(v)


def _op(o: Any) -> dict[str, Any] | None:
    if not isinstance(o, Mapping) or _int(o.get("id")) is None:
        return None
    return {"id": o["id"], "text": str(o.get("text", o.get("op", ""))),
            "client": str(o.get("client", "")), "call": _int(o.get("call_ns")),
            "ret": _int(o.get("return_ns")), "status": str(o.get("status", "")),
            "span_id": str(o.get("span_id", "")), "trace_id": str(o.get("trace_id", ""))}


def _ops(x: Any) -> list[dict[str, Any]]:
    return [o for o in map(_op, x if isinstance(x, list) else []) if o]


def clean(checks: Any) -> list[dict[str, Any]]:
    """The checks in the shape the view reads, whatever JSON it was given (a page must
    render, not raise)."""
    out = []
    for c in checks if isinstance(checks, list) else []:
        if not isinstance(c, Mapping):
            continue
        keys = []
        for k in c.get("keys") if isinstance(c.get("keys"), list) else []:
            if not isinstance(k, Mapping):
                continue
            w = k.get("witness") if isinstance(k.get("witness"), Mapping) else None
            keys.append({
                "key": str(k.get("key_text", k.get("key", ""))),
                "verdict": str(k.get("verdict", "")), "reason": str(k.get("reason", "")),
                "history": _ops(k.get("history")),
                "history_total": _int(k.get("history_total")),
                "witness": None if w is None else {
                    "operations": _ops(w.get("operations")),
                    "partial": _ops(w.get("partial_linearization")),
                    "state": w.get("state"), "has_state": "state" in w,
                    "minimal": w.get("minimal") is True,
                    "blocked": _op(w.get("blocked"))},
                "violations": [{"guarantee": str(v.get("guarantee", "")),
                                "message": str(v.get("message", "")),
                                "operations": _ops(v.get("operations"))}
                               for v in (k.get("violations") if isinstance(
                                   k.get("violations"), list) else [])
                               if isinstance(v, Mapping)]})
        out.append({"name": str(c.get("name", "")), "checker": str(c.get("checker", "")),
                    "model": str(c.get("model", "")), "verdict": str(c.get("verdict", "")),
                    "reason": str(c.get("reason", "") or ""),
                    "operations": _int(c.get("operations")) or 0, "keys": keys})
    return out


def _violated(checks: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping, Mapping]]:
    """(section number, check, key) of every violated key, in order."""
    out = []
    for c in checks:
        for k in c["keys"]:
            if k["verdict"] == "violated":
                out.append((len(out), c, k))
    return out


def summary_table(checks: Sequence[Mapping[str, Any]]) -> str:
    """One row per check: its keys' verdicts, linked to its first violated key."""
    first: dict[int, int] = {}
    for n, c, _ in _violated(checks):
        first.setdefault(id(c), n)
    rows = []
    for c in checks:
        keys = c["keys"]
        bad = sum(1 for k in keys if k["verdict"] == "violated")
        unsure = sum(1 for k in keys if k["verdict"] == "inconclusive")
        if bad:
            status = '<span class="status-violated">✗ violated</span>'
        elif c["verdict"] == "inconclusive" or unsure:
            status = '<span class="status-undecided">? inconclusive' + \
                (f': {_e(c["reason"])}' if c["reason"] else "") + "</span>"
        else:
            status = '<span class="status-ok">✓ holds</span>'
        label = _e(c["name"])
        if id(c) in first:
            label = f'<a href="#c{first[id(c)]}">{label}</a>'
        rows.append(f'<tr data-consistency="{_e(c["name"])}"><td>{label}</td>'
                    f'<td>{_e(c["checker"])} {_e(c["model"])}</td>'
                    f'<td class="num">{c["operations"]}</td><td class="num">{len(keys)}</td>'
                    f'<td class="num">{bad}</td><td class="num">{unsure}</td>'
                    f"<td>{status}</td></tr>")
    return ('<table class="summary consistency"><tr><th>consistency</th><th>check</th>'
            "<th>operations</th><th>keys</th><th>violated</th><th>inconclusive</th>"
            "<th>status</th></tr>" + "".join(rows) + "</table>")


def _lanes(ops: Sequence[Mapping[str, Any]], t_end: int) -> list[tuple[str, list[list]]]:
    """Per client (in order of first call), rows of operations that do not overlap: a
    client's operations share one row unless they ran at once."""
    clients: dict[str, list[list]] = {}
    for o in sorted(ops, key=lambda o: (o["call"], o["id"])):
        rows = clients.setdefault(o["client"] or "(no client)", [])
        end = o["ret"] if o["ret"] is not None else t_end
        for row in rows:
            if row[-1][1] < o["call"]:
                row.append((o, end))
                break
        else:
            rows.append([(o, end)])
    return [(c, [[o for o, _ in row] for row in rows]) for c, rows in clients.items()]


def _chart(k: Mapping[str, Any]) -> str:
    ops = [o for o in k["history"] if o["call"] is not None]
    w = k["witness"] or {}
    witness = {o["id"] for o in w.get("operations", [])}
    for v in k["violations"]:
        witness |= {o["id"] for o in v["operations"]}
    order = {o["id"]: i + 1 for i, o in enumerate(w.get("partial", []))}
    blocked = (w.get("blocked") or {}).get("id")
    known = {o["id"] for o in ops}
    for o in list(w.get("operations", [])) + list(w.get("partial", [])) + \
            [b for b in [w.get("blocked")] if b] + \
            [x for v in k["violations"] for x in v["operations"]]:
        if o["id"] not in known and o["call"] is not None:  # drawn even if the history
            ops.append(o)                                   # was cut or left out
            known.add(o["id"])
    if not ops:
        return '<p class="note">no operation of this key has a known time</p>'
    times = [t for o in ops for t in (o["call"], o["ret"]) if t is not None]
    t0, t1 = min(times), max(times)
    t_end = t1 + max((t1 - t0) // 20, 1)  # where a never-returned operation's bar stops
    span_ns = max(t_end - t0, 1)

    def x(t: int) -> float:
        return _LABEL_W + (t - t0) / span_ns * _CHART_W

    rows, centres = [], {}
    y = _AXIS_H
    for client, lanes in _lanes(ops, t_end):
        rows.append(f'<g class="lane" data-client="{_e(client)}">'
                    f'<line class="grid" x1="0" x2="{_LABEL_W + _CHART_W}" y1="{y}" '
                    f'y2="{y}"/><text class="service" x="4" y="{y + 15}">'
                    f'{_e(_short(client, 18))}<title>client {_e(client)}</title></text>')
        for lane in lanes:
            for o in lane:
                role = ("witness" if o["id"] in witness else
                        "linearized" if o["id"] in order else
                        "blocked" if o["id"] == blocked else "op")
                never = o["ret"] is None
                x0 = x(o["call"])
                x1 = x(o["ret"] if o["ret"] is not None else t_end)
                width = max(x1 - x0, 3.0)
                cls = "op" + "".join(f" {c}" for c, on in (
                    ("witness", o["id"] in witness), ("linearized", o["id"] in order),
                    ("blocked", o["id"] == blocked), ("indeterminate", never)) if on)
                n = order.get(o["id"])
                tip = (f'#{o["id"]} {o["text"]} [{o["call"]} .. '
                       f'{"never returned" if never else o["ret"]}] client {o["client"]}'
                       + (f", step {n} of the partial linearization" if n else "")
                       + (f', span {o["span_id"]}' if o["span_id"] else ""))
                pad = 11 if n else 3  # room for the number of its step
                attrs = f'data-op-id="{o["id"]}" data-role="{role}"' + \
                    (f' data-order="{n}"' if n else "") + \
                    (' data-blocked="true"' if o["id"] == blocked else "")
                rows.append(f'<g class="row" {attrs}><rect class="{cls}" x="{x0:.1f}" '
                            f'y="{y + 4}" width="{width:.1f}" height="{_ROW_H - 8}" rx="3">'
                            f'<title>{_e(tip)}</title></rect>'
                            f'<text class="label" x="{x0 + pad:.1f}" y="{y + 15}">'
                            f'{_e(_short(o["text"], int((width - pad) / 7)))}</text></g>')
                centres[o["id"]] = (x0, y + _ROW_H / 2)  # a step's number sits there
            y += _ROW_H
        rows.append("</g>")
    marks, under = [], ""  # the line through the steps goes under the bars
    path = [centres[o["id"]] for o in w.get("partial", []) if o["id"] in centres]
    if len(path) > 1:
        under = ('<path class="lin-path" d="M' + " L".join(f"{a:.1f} {b:.1f}"
                                                           for a, b in path)
                 + '"><title>the longest partial linearization, in order</title></path>')
    for o in w.get("partial", []):
        if o["id"] in centres:
            cx, cy = centres[o["id"]]
            marks.append(f'<g class="step" data-order="{order[o["id"]]}">'
                         f'<rect class="badge" x="{cx - 8:.1f}" y="{cy - 8:.1f}" width="16" '
                         f'height="16" rx="8"/><text class="badge" x="{cx:.1f}" '
                         f'y="{cy + 4:.1f}" text-anchor="middle">{order[o["id"]]}</text></g>')
    b = w.get("blocked")
    if b and b["id"] in centres and b["ret"] is not None:
        bx = x(b["ret"])
        state = _value(w.get("state")) if w.get("has_state") else "?"
        right = bx > _LABEL_W + _CHART_W * 0.6  # then the words go left of the line
        marks.append(f'<g class="stuck"><line class="stuck" x1="{bx:.1f}" x2="{bx:.1f}" '
                     f'y1="{_AXIS_H - 12}" y2="{y}"/><text class="stuck" '
                     f'x="{bx - 3 if right else bx + 3:.1f}" y="{_AXIS_H - 4}" '
                     f'text-anchor="{"end" if right else "start"}">'
                     f'stuck: state {_e(_short(state, 24))}'
                     f'<title>the search could not place #{b["id"]} {_e(b["text"])} by its '
                     f'return; the model state then: {_e(state)}</title></text></g>')
    axis = []
    for i in range(5):
        tx = _LABEL_W + i * _CHART_W / 4
        axis.append(f'<line class="grid" x1="{tx:.1f}" x2="{tx:.1f}" y1="{_AXIS_H - 30}" '
                    f'y2="{y}"/><text class="axis" x="{tx:.1f}" y="10" text-anchor='
                    f'"{"start" if i == 0 else "end" if i == 4 else "middle"}">'
                    f"{_e(_ns(span_ns * i / 4))}</text>")
    height = y + 6
    return (f'<svg class="history" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{_LABEL_W + _CHART_W + 12}" height="{height}" '
            f'viewBox="0 0 {_LABEL_W + _CHART_W + 12} {height}">'
            f"<title>history of key {_e(k['key'])}: operations by client, time from the "
            f"left</title>" + "".join(axis) + under + "".join(rows) + "".join(marks) + "</svg>")


def _ops_table(cls: str, ops: Sequence[Mapping[str, Any]], numbered: bool) -> str:
    rows = "".join(f'<tr data-op-id="{o["id"]}"><td class="num">'
                   f'{i + 1 if numbered else "#" + str(o["id"])}</td>'
                   f'<td><code>{_e(o["text"])}</code></td><td>{_e(o["client"])}</td></tr>'
                   for i, o in enumerate(ops))
    head = "step" if numbered else "op"
    return (f'<table class="{cls}"><tr><th>{head}</th><th>operation</th><th>client</th></tr>'
            f"{rows}</table>")


def _why(k: Mapping[str, Any]) -> str:
    parts = [f'<p class="message">key {_e(k["key"])}: violated</p>']
    w = k["witness"]
    if w is not None:
        parts.append(f'<p class="witness">▲ {len(w["operations"])} operation(s) cannot be '
                     "linearized together" + (", minimal" if w["minimal"] else
                                              ", not shrunk to minimal")
                     + "; any other may take effect after its call, or never:</p>")
        parts.append(_ops_table("witness", w["operations"], False))
        parts.append(f'<p class="partial">longest partial linearization '
                     f'({len(w["partial"])} operation(s)), in order:</p>')
        parts.append(_ops_table("partial", w["partial"], True) if w["partial"] else
                     '<p class="note">(none)</p>')
        if w["has_state"]:
            parts.append(f'<p class="state">model state after it: '
                         f'<code>{_e(_value(w["state"]))}</code></p>')
        if w["blocked"]:
            parts.append(f'<p class="blocked">then <code>{_e(w["blocked"]["text"])}</code> '
                         "returned and could not be placed</p>")
    for v in k["violations"]:
        parts.append(f'<p class="violation-line">▲ {_e(v["guarantee"])}: '
                     f'{_e(v["message"])}</p>')
        parts.append(_ops_table("witness", v["operations"], False))
    total = k["history_total"]
    if total is not None and total > len(k["history"]):
        parts.append(f'<p class="note">{total - len(k["history"])} more operation(s) of '
                     "this key not drawn</p>")
    return '<aside class="why">' + "".join(parts) + "</aside>"


def sections(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """One section per violated key: the chart and, beside it, the witness in words."""
    out = []
    for n, c, k in _violated(checks):
        out.append(f'<section class="violation consistency" id="c{n}" '
                   f'data-consistency="{_e(c["name"])}" data-key="{_e(k["key"])}">'
                   f'<div class="vhead"><h3>✗ {_e(c["name"])}</h3>'
                   f'<span class="sev">{_e(c["checker"])} {_e(c["model"])}</span>'
                   f'<span class="key">key {_e(k["key"])}</span></div><div class="body">'
                   f'<div class="chart">{_chart(k)}</div>{_why(k)}</div></section>')
    return out


#: the view's styles, added to the page's
CSS = """
svg rect.op{fill:#b8c4d8;stroke:#6b7a93}svg rect.op.linearized{fill:#7fa7e0;stroke:#2f5a9e}
svg rect.op.witness{fill:var(--witness);stroke:#8b1111}
svg rect.op.blocked{stroke:var(--trigger);stroke-width:3}
svg rect.op.blocked:not(.witness){fill:var(--trigger)}
svg rect.op.indeterminate{fill-opacity:.45;stroke-dasharray:4 3}
svg text.label{font-size:11px;pointer-events:none}
svg path.lin-path{fill:none;stroke:#1a3f7a;stroke-width:1.5;stroke-dasharray:5 3}
svg rect.badge{fill:#1a3f7a}svg text.badge{fill:#fff;font-size:10px;font-weight:700}
svg line.stuck{stroke:var(--trigger);stroke-width:2;stroke-dasharray:3 2}
svg text.stuck{fill:#7a4700;font-size:11px;font-weight:700}
section.consistency aside.why{max-width:420px}
section.consistency aside.why td{overflow-wrap:anywhere}
"""
