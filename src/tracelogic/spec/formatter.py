"""`tracelogic fmt`: canonical formatting that keeps every comment.

The printer works from the AST, so layout is canonical: one declaration per
line group, clauses and members one per line, columns of config bindings and
model actions aligned, single spaces around operators, parentheses only where
the user wrote them or precedence needs them.

Comments are not in the AST; they are put back by line. Every printed line
that starts an AST item remembers the item's source line. A comment on a line
of its own goes before the first item that started after it (or before the
block's closing brace, or at the end of the file); a comment after code goes
at the end of the line of the last item that started on or before its line.
Both rules give the same answer on their own output, which is what makes
``fmt(fmt(s)) == fmt(s)`` hold. A blank line (at most one) is kept wherever the
source had one before an item or an own-line comment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from tracelogic.spec import ast as A
from tracelogic.spec.diagnostics import source_lines
from tracelogic.spec.parser import parse_module
from tracelogic.spec.walker import expand

INDENT = "  "

# Binding strength, loosest first; see the precedence table in SPEC-LANGUAGE.md §3.
P_IFF, P_IMPLIES, P_OR, P_XOR, P_AND, P_BTEMP, P_UTEMP, P_CMP, P_ADD, P_MUL, P_NEG, P_ATOM = \
    range(1, 13)
_BINARY = {  # op -> (precedence, left minimum, right minimum)
    "<->": (P_IFF, P_IFF, P_IMPLIES), "->": (P_IMPLIES, P_OR, P_IMPLIES),
    "|": (P_OR, P_OR, P_XOR), "xor": (P_XOR, P_XOR, P_AND), "&": (P_AND, P_AND, P_BTEMP),
    "U": (P_BTEMP, P_UTEMP, P_BTEMP), "W": (P_BTEMP, P_UTEMP, P_BTEMP),
    "R": (P_BTEMP, P_UTEMP, P_BTEMP), "M": (P_BTEMP, P_UTEMP, P_BTEMP),
    "S": (P_BTEMP, P_UTEMP, P_BTEMP),
    "+": (P_ADD, P_ADD, P_MUL), "-": (P_ADD, P_ADD, P_MUL),
    "*": (P_MUL, P_MUL, P_NEG), "/": (P_MUL, P_MUL, P_NEG), "//": (P_MUL, P_MUL, P_NEG),
    "%": (P_MUL, P_MUL, P_NEG),
}


def _prec(e: A.Expr) -> int:
    if isinstance(e, A.Binary):
        return _BINARY[e.op][0]
    if isinstance(e, A.Unary):
        return P_NEG if e.op == "-" else P_UTEMP
    if isinstance(e, (A.Compare, A.In, A.Match, A.Exists)):
        return P_CMP
    return P_ATOM


def expr(e: A.Expr, minimum: int = 0) -> str:
    """Print an expression, adding parentheses where precedence needs them.

    Iterative (:func:`~tracelogic.spec.walker.expand`): expressions nest as deep as the
    parser accepts (spec/limits.py). Each node gives its text as pieces: strings, and
    ``(subexpression, minimum precedence)`` pairs printed in their place."""
    return expand((e, minimum), _pieces)


def _pieces(item: tuple) -> list:
    e, minimum = item
    inner = _expr(e)
    return ["(", *inner, ")"] if _prec(e) < minimum else inner


def _text(pieces: list) -> str:
    return "".join(p if isinstance(p, str) else expr(*p) for p in pieces)


def _interval(iv: A.Interval) -> list:
    if iv.form == "within":
        return ["within ", (iv.hi, 0)]
    if iv.form == "<=":
        return ["[<= ", (iv.hi, 0), "]"]
    if iv.form == ">=":
        return ["[>= ", (iv.lo, 0), "]"]
    return ["[", (iv.lo, 0), ", ", (iv.hi, 0), "]"]


def _arg(a: A.Arg) -> list:
    if a.name is not None:
        return [f"{a.name}: ", (a.value, 0)]
    if a.within:
        return ["within ", (a.value, 0)]
    if a.where is not None:
        return [(a.value, 0), " where ", (a.where, 0)]
    return [(a.value, 0)]


def _arg_pieces(args) -> list:
    out: list = []
    for i, a in enumerate(args):
        if i:
            out.append(", ")
        out += _arg(a)
    return out


def _args(args) -> str:
    return _text(_arg_pieces(args))


def _expr(e) -> list:
    """The pieces of one node (see :func:`expr`)."""
    if isinstance(e, A.Name):
        return [e.id]
    if isinstance(e, A.Literal):
        return [e.text]
    if isinstance(e, A.Paren):
        return ["(", (e.expr, 0), ")"]
    if isinstance(e, A.ListExpr):
        out: list = ["["]
        for i, item in enumerate(e.items):
            if i:
                out.append(", ")
            out.append((item, 0))
        return out + ["]"]
    if isinstance(e, A.Unary):
        if e.op == "-":
            return ["-", (e.operand, P_NEG)]
        operand = (e.operand, P_UTEMP)
        if e.interval is not None:
            if e.interval.form == "within":
                return [f"{e.spelling} ", *_interval(e.interval), " ", operand]
            return [e.spelling, *_interval(e.interval), " ", operand]
        if e.spelling == "!":
            return ["!", operand]
        return [f"{e.spelling} ", operand]
    if isinstance(e, A.Binary):
        _, lmin, rmin = _BINARY[e.op]
        interval = _interval(e.interval) if e.interval is not None else []
        return [(e.left, lmin), f" {e.spelling}", *interval, " ", (e.right, rmin)]
    if isinstance(e, A.Compare):
        out = [(e.operands[0], P_ADD)]
        for op, operand in zip(e.ops, e.operands[1:]):
            out += [f" {op} ", (operand, P_ADD)]
        return out
    if isinstance(e, A.RangeExpr):
        return [(e.lo, P_ADD), "..", (e.hi, P_ADD)]
    if isinstance(e, A.In):
        return [(e.value, P_ADD), " in ", (e.target, P_ADD)]
    if isinstance(e, A.Match):
        return [(e.left, P_ADD), f" {e.op} ", (e.right, P_ADD)]
    if isinstance(e, A.Exists):
        return [(e.operand, P_ADD), " exists"]
    if isinstance(e, A.Field):
        return [(e.base, P_ATOM), f".{e.name}"]
    if isinstance(e, A.Index):
        return [(e.base, P_ATOM), "[", (e.index, 0), "]"]
    if isinstance(e, A.Call):
        out = [(e.func, P_ATOM), "(", *_arg_pieces(e.args), ")"]
        if e.scope is not None:
            out += [" globally"] if e.scope.kind == "globally" else \
                [f" {e.scope.kind}(", *_arg_pieces(e.scope.args), ")"]
        return out
    if isinstance(e, A.Conforms):
        return [f"conforms {e.workflow}"]
    if isinstance(e, A.Saga):
        return [f"saga {e.workflow}"]
    if isinstance(e, A.Follows):
        return [f"follows {e.model} on {e.var} by ", (e.expr, 0)]
    raise TypeError(f"cannot format {type(e).__name__}")


def _type(t: A.TypeRef) -> str:
    return t.name if isinstance(t, A.TypeName) else f"{expr(t.lo, P_ADD)}..{expr(t.hi, P_ADD)}"


_WF_PREC = {"+": 1, "||": 2, ";": 3}


def workflow_expr(w: A.WfExpr, minimum: int = 0) -> str:
    """A workflow expression, parenthesised where precedence needs it (iterative, as
    :func:`expr`)."""
    return expand((w, minimum), _wf_pieces)


def _wf_pieces(item: tuple) -> list:
    w, minimum = item
    if isinstance(w, A.WfStep):
        return [w.name]
    if isinstance(w, A.WfParen):
        return ["(", (w.item, 0), ")"]
    if isinstance(w, A.WfPost):
        return [(w.item, 4), w.op]
    p = _WF_PREC[w.op]
    out: list = []
    for i, x in enumerate(w.items):
        if i:
            out.append(f" {w.op} ")
        out.append((x, p + 1))
    return ["(", *out, ")"] if p < minimum else out


def _string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t") + '"'


# ------------------------------------------------------------------ layout


@dataclass
class _Line:
    depth: int
    text: str
    src: int | None  # the source line of the item this line starts, if any


def _lines(d: A.Decl) -> list[_Line]:
    s = d.span.line
    if isinstance(d, A.Import):
        target = _string(d.path) if d.path is not None else ".".join(d.module)
        return [_Line(0, f"import {target}" + (f" as {d.alias}" if d.alias else ""), s)]
    if isinstance(d, A.Const):
        return [_Line(0, f"const {d.name} = {expr(d.value)}", s)]
    if isinstance(d, A.Enum):
        return [_Line(0, f"enum {d.name} {{ {', '.join(d.members)} }}", s)]
    if isinstance(d, A.Pred):
        params = f"({', '.join(d.params)})" if d.params is not None else ""
        return [_Line(0, f"pred {d.name}{params} = {expr(d.body)}", s)]
    if isinstance(d, A.Step):
        return [_Line(0, f"step {d.name} = {expr(d.body)}", s)]
    if isinstance(d, A.MetricBinding):
        return [_Line(0, f"metric {d.name} = {_string(d.metric)} : {_type(d.type)}", s)]
    if isinstance(d, A.Property):
        return _property(d)
    if isinstance(d, A.Config):
        return _config(d)
    if isinstance(d, A.Invariant):
        head = f"invariant {d.name}" + (f" on {d.on}" if d.on else "") + \
            (f" severity {d.severity}" if d.severity else "")
        return [_Line(0, f"{head}: {expr(d.body)}", s)]
    if isinstance(d, A.Theorem):
        if not d.vars and d.assuming is None:
            return [_Line(0, f"theorem {d.name}: {expr(d.body)}", s)]
        out = [_Line(0, f"theorem {d.name}:", s),
               _Line(1, "forall " + ", ".join(f"{v.name}: {_type(v.type)}" for v in d.vars),
                     d.vars[0].span.line)]
        if d.assuming is not None:
            out.append(_Line(1, f"assuming {expr(d.assuming)}", d.assuming.span.line))
        out.append(_Line(1, f": {expr(d.body)}", d.body.span.line))
        return out
    if isinstance(d, A.Workflow):
        out = [_Line(0, f"workflow {d.name}:", s),
               _Line(1, workflow_expr(d.expr), d.expr.span.line)]
        out += [_Line(1, f"compensate {c.step} with {c.compensation}", c.span.line)
                for c in d.compensations]
        return out
    if isinstance(d, A.Check):
        body = {"sound": "sound", "deadlock_free": "deadlock_free"}.get(d.kind)
        if body is None:
            body = ("invariant " if d.kind == "invariant" else "") + expr(d.body)
        return [_Line(0, f"check {d.target}: {body}", s)]
    if isinstance(d, A.Model):
        return _model(d)
    if isinstance(d, A.Heal):
        return _heal(d)
    if isinstance(d, A.Controller):
        return _controller(d)
    if isinstance(d, A.OperationMap):
        text = f"operation {d.op} when {expr(d.when)}"
        for clause in ("key", "input", "output", "client", "indeterminate"):
            e = getattr(d, clause)
            if e is not None:
                text += f" {clause} {expr(e)}"
        return [_Line(0, text, s)]
    if isinstance(d, A.Consistency):
        return [_Line(0, f"consistency {d.name}: {d.checker} {d.model}", s)]
    raise TypeError(f"cannot format {type(d).__name__}")


def _property(d: A.Property) -> list[_Line]:
    head = ("metric invariant " if d.metric else "property ") + d.name
    if d.description is not None:
        head += " " + _string(d.description)
    if d.scope is not None:
        head += " global" if isinstance(d.scope, A.Name) and d.scope.id == "global" \
            else f" per {expr(d.scope, P_ATOM)}"
    if d.window is not None:
        head += f" window {expr(d.window.size)}" + (" sliding" if d.window.sliding else "")
    for key in ("severity", "owner", "runbook"):
        value = getattr(d, key)
        if value is not None:
            head += f" {key} " + (value if key == "severity" else _string(value))
    body = expr(d.body)
    body_line = d.body.span.line
    if d.message is None and body_line == d.span.line:
        return [_Line(0, f"{head}: {body}", d.span.line)]
    out = [_Line(0, head + ("" if d.message is not None else ":"), d.span.line)]
    if d.message is not None:
        out.append(_Line(1, f"message {_string(d.message)}:", None))
    out.append(_Line(1, body, body_line))
    return out


def _columns(rows: list[list[str]]) -> list[str]:
    """Align all but the last column of each row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)] if rows else []
    return [" ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in rows]


def _config(d: A.Config) -> list[_Line]:
    head = f"config {d.name} from " + ("optional " if d.optional else "") + _string(d.source)
    if d.select is not None:
        head += f" select {expr(d.select)}"
    out = [_Line(0, head + " {", d.span.line)]
    rows = []
    for b in d.bindings:
        path = b.path[0].value
        for seg in b.path[1:]:
            path += f".{seg.value}" if seg.kind == "field" else \
                f"[{seg.value}]" if seg.kind == "index" else f"[{_string(seg.value)}]"
        tail = f"= {path}" + (f" default {b.default.text}" if b.default is not None else "")
        rows.append([b.name, ":", _type(b.type), tail])
    out += [_Line(1, text, b.span.line) for text, b in zip(_columns(rows), d.bindings)]
    out.append(_Line(0, "}", d.span.end_line))
    return out


def _model(d: A.Model) -> list[_Line]:
    out = [_Line(0, f"model {d.name} {{", d.span.line)]
    actions = [m for m in d.members if isinstance(m, A.Action)]
    rows = {id(m): ["action", m.name, f"when {expr(m.guard)}" if m.guard else "",
                    "do " + "; ".join(f"{a.var} := {expr(a.value)}" for a in m.assigns)]
            for m in actions}
    aligned = dict(zip(rows, _columns(list(rows.values())))) if rows else {}
    for m in d.members:
        if isinstance(m, A.ModelConst):
            out.append(_Line(1, f"const {m.name} = {expr(m.value)}", m.span.line))
        elif isinstance(m, A.ModelVar):
            out.append(_Line(1, f"var {m.name} : {_type(m.type)} = {expr(m.init)}", m.span.line))
        else:
            out.append(_Line(1, " ".join(aligned[id(m)].split()) if not m.guard else
                             aligned[id(m)], m.span.line))
    out.append(_Line(0, "}", d.span.end_line))
    return out


def _controller(d: A.Controller) -> list[_Line]:
    out = [_Line(0, f"controller {d.name} {{", d.span.line)]
    for m in d.members:
        if isinstance(m, A.ModelConst):
            out.append(_Line(1, f"const {m.name} = {expr(m.value)}", m.span.line))
        elif isinstance(m, A.ModelVar):
            out.append(_Line(1, f"var {m.name} : {_type(m.type)} = {expr(m.init)}", m.span.line))
        elif isinstance(m, A.Claim):
            a = m.args
            body = {"always": lambda: f"always {expr(a[0])}",
                    "no_flap": lambda: f"no_flap {a[0]} within {expr(a[1])}",
                    "converges": lambda: f"converges {a[0]} to {expr(a[1])} within "
                                         f"{expr(a[2])} in {a[3]} periods",
                    "bounded": lambda: f"bounded {a[0]}"
                                       + (f" in {expr(a[1])}" if a[1] is not None else "")}
            text = f"claim {m.name}: {body[m.kind]()}"
            if m.assuming is not None:
                text += f" assuming {m.assuming[0]} in {expr(m.assuming[1])}"
            out.append(_Line(1, text, m.span.line))
        else:
            kind, span = m[0], m[-1]
            text = {"period": lambda: f"period {expr(m[1])}",
                    "metric": lambda: f"metric {m[1]} : {_type(m[2])}",
                    "let": lambda: f"let {m[1]} = {expr(m[2])}",
                    "next": lambda: "next " + "; ".join(f"{a.var} := {expr(a.value)}"
                                                        for a in m[1]),
                    "plant": lambda: f"plant {m[1]} = {expr(m[2])}",
                    "noise": lambda: f"noise {expr(m[1])}",
                    "step": lambda: f"step {m[1]} from {expr(m[2])} to {expr(m[3])}"}[kind]()
            out.append(_Line(1, text, span.line))
    out.append(_Line(0, "}", d.span.end_line))
    return out


def _heal(d: A.Heal) -> list[_Line]:
    out = [_Line(0, f"heal {d.name}", d.span.line)]
    if d.on is not None:
        out.append(_Line(1, f"on violated {d.on}", None))
    if d.run is not None:
        ctl, metric, every = d.run
        out.append(_Line(1, f"run controller {ctl} on metric {json.dumps(metric)}"
                         + (f" every {expr(every)}" if every is not None else ""), None))
    if d.action is not None:
        out.append(_Line(1, f"do {d.action}({_args(d.args)})", None))
    if d.cooldown is not None:
        out.append(_Line(1, f"cooldown {expr(d.cooldown)}", d.cooldown.span.line))
    if d.limit is not None:
        out.append(_Line(1, f"limit {expr(d.limit[0])} per {expr(d.limit[1])}",
                         d.limit[0].span.line))
    if d.approve is not None:
        out.append(_Line(1, f"approve when {expr(d.approve)}", d.approve.span.line))
    if d.risk is not None:
        out.append(_Line(1, f"risk {expr(d.risk)}", d.risk.span.line))
    return out


# ------------------------------------------------------------------ comments


def format_module(module: A.Module, source: str) -> str:
    lines: list[_Line] = []
    for d in module.decls:
        lines.extend(_lines(d))
    src_lines = source_lines(source)

    def blank_before(line_no: int) -> bool:
        return line_no >= 2 and line_no - 2 < len(src_lines) and not src_lines[line_no - 2].strip()

    items = [i for i, ln in enumerate(lines) if ln.src is not None]
    leading: dict[int, list[A.Comment]] = {}
    trailing: dict[int, list[A.Comment]] = {}
    footer: list[A.Comment] = []
    for c in module.comments:
        if c.own_line:
            target = next((i for i in items if lines[i].src > c.line), None)
            (leading.setdefault(target, []) if target is not None else footer).append(c)
        else:
            before = [i for i in items if lines[i].src <= c.line]
            if before:
                trailing.setdefault(before[-1], []).append(c)
            else:
                leading.setdefault(items[0] if items else None, []).append(c)
    # One line takes one trailing comment; the others (code that was spread over several
    # lines is printed on one) go before the next item, where a second run would put them.
    for pos, i in enumerate(items):
        extra = trailing.get(i, [])[1:]
        if extra:
            trailing[i] = trailing[i][:1]
            nxt = items[pos + 1] if pos + 1 < len(items) else None
            target = leading.setdefault(nxt, []) if nxt is not None else footer
            target.extend(extra)
            target.sort(key=lambda c: (c.line, c.column))
    out: list[str] = []

    def emit_blank() -> None:
        if out and out[-1] != "" and not out[-1].endswith("{"):
            out.append("")

    prev_src: int | None = None
    for i, ln in enumerate(lines):
        pad = INDENT * ln.depth
        for c in leading.get(i, []):
            if c.own_line and blank_before(c.line):
                emit_blank()
            out.append(pad + c.text)
        if ln.src is not None and ln.src != prev_src and blank_before(ln.src):
            emit_blank()
        text = pad + ln.text
        extra = trailing.get(i, [])
        if extra:
            text += "  " + extra[0].text
        out.append(text)
        if ln.src is not None:
            prev_src = ln.src
    for c in footer:
        if c.own_line and blank_before(c.line):
            emit_blank()
        out.append(c.text)
    return "\n".join(out) + "\n" if out else ""


def format_text(source: str, file: str = "<spec>") -> str:
    """Format spec text; raises :class:`SpecErrors` when it does not parse."""
    from tracelogic.gc_pause import gc_paused

    with gc_paused():
        module = parse_module(source, file)
    return format_module(module, source)
