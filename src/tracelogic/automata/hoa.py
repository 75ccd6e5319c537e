"""A small parser for the HOA v1 format (http://adl.github.io/hoaf/).

It reads what :mod:`tracelogic.automata.export` and Spot write: the header
items (``HOA States Start AP Acceptance acc-name properties name Alias`` and
any others, kept verbatim), and a body of ``State:`` lines with labelled or
implicitly labelled edges.  Label expressions (``t f ! & | ( )``, AP indices
and ``@aliases``) are parsed into small evaluable trees.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tracelogic.errors import InputError

__all__ = ["HoaAutomaton", "HoaEdge", "HoaState", "parse_hoa", "HoaSyntaxError"]


class HoaSyntaxError(InputError):
    """The text is not valid HOA v1."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+|/\*.*?\*/)
  | (?P<body>--BODY--) | (?P<end>--END--) | (?P<abort>--ABORT--)
  | (?P<header>[A-Za-z_][A-Za-z0-9_-]*:)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<int>\d+)
  | (?P<alias>@[A-Za-z0-9_-]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<punct>[!&|()\[\]{}])
""", re.VERBOSE | re.DOTALL)


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise HoaSyntaxError(f"HOA: unexpected character {text[pos]!r} on line {line}",
                                 value=text[pos:pos + 20])
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        out.append((kind, m.group()))
    return out


Label = Callable[[int], bool]  # evaluates on a valuation bitmask of the APs


@dataclass
class HoaEdge:
    label: Label | None
    label_text: str | None
    dst: list[int]
    acc: list[int]


@dataclass
class HoaState:
    id: int
    name: str | None = None
    label: Label | None = None
    acc: list[int] = field(default_factory=list)
    edges: list[HoaEdge] = field(default_factory=list)


@dataclass
class HoaAutomaton:
    version: str
    headers: dict[str, list[list[tuple[str, str]]]]
    n_states: int | None
    start: list[list[int]]
    aps: list[str]
    acceptance_sets: int
    acceptance: str
    acc_name: str | None
    properties: list[str]
    name: str | None
    states: dict[int, HoaState]

    def edge_count(self) -> int:
        return sum(len(s.edges) for s in self.states.values())


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise HoaSyntaxError("HOA: unexpected end of input", value=None)
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind: str, value: str | None = None) -> str:
        k, v = self.next()
        if k != kind or (value is not None and v != value):
            raise HoaSyntaxError(f"HOA: expected {value or kind}, got {v!r}", value=v)
        return v

    # label expressions: or > and > not/atom, no recursion (shunting-yard)
    def label(self, aliases: dict[str, list[tuple[str, str]]]) -> tuple[Label, str]:
        out: list = []
        ops: list[str] = []
        prec = {"|": 1, "&": 2, "!": 3}
        text: list[str] = []
        expect_operand = True
        pending = list(self._label_tokens(aliases))
        for k, v in pending:
            text.append(v)
            if expect_operand:
                if v == "!":
                    ops.append("!")
                elif v == "(":
                    ops.append("(")
                elif k == "int":
                    idx = int(v)
                    out.append(lambda m, idx=idx: bool((m >> idx) & 1))
                    expect_operand = False
                elif k == "ident" and v in ("t", "f"):
                    val = v == "t"
                    out.append(lambda m, val=val: val)
                    expect_operand = False
                else:
                    raise HoaSyntaxError(f"HOA: bad label token {v!r}", value=v)
            else:
                if v in ("&", "|"):
                    while ops and ops[-1] != "(" and prec[ops[-1]] >= prec[v]:
                        self._apply(out, ops.pop())
                    ops.append(v)
                    expect_operand = True
                elif v == ")":
                    while ops and ops[-1] != "(":
                        self._apply(out, ops.pop())
                    if not ops:
                        raise HoaSyntaxError("HOA: unbalanced ')' in a label", value=v)
                    ops.pop()
                    while ops and ops[-1] == "!":
                        self._apply(out, ops.pop())
                else:
                    raise HoaSyntaxError(f"HOA: bad label token {v!r}", value=v)
            if not expect_operand:
                while ops and ops[-1] == "!":
                    self._apply(out, ops.pop())
        if expect_operand:
            raise HoaSyntaxError("HOA: malformed label: it ends where an operand is expected",
                                 value=" ".join(text))
        while ops:
            op = ops.pop()
            if op == "(":
                raise HoaSyntaxError("HOA: unbalanced '(' in a label", value=op)
            self._apply(out, op)
        if len(out) != 1:
            raise HoaSyntaxError("HOA: malformed label", value=" ".join(text))
        return out[0], " ".join(text)

    @staticmethod
    def _apply(out: list, op: str) -> None:
        if op == "!":
            a = out.pop()
            out.append(lambda m, a=a: not a(m))
        else:
            b = out.pop()
            a = out.pop()
            if op == "&":
                out.append(lambda m, a=a, b=b: a(m) and b(m))
            else:
                out.append(lambda m, a=a, b=b: a(m) or b(m))

    def _label_tokens(self, aliases):
        # tokens up to the matching ']' with aliases expanded (parenthesised)
        res = []
        while True:
            k, v = self.next()
            if v == "]":
                return res
            if k == "alias":
                if v not in aliases:
                    raise HoaSyntaxError(f"HOA: undefined alias {v}", value=v)
                res.append(("punct", "("))
                res.extend(aliases[v])
                res.append(("punct", ")"))
            else:
                res.append((k, v))

    def int_list_in_braces(self) -> list[int]:
        self.expect("punct", "{")
        out = []
        while True:
            k, v = self.next()
            if v == "}":
                return out
            if k != "int":
                raise HoaSyntaxError(f"HOA: expected an acceptance set number, got {v!r}", value=v)
            out.append(int(v))


def parse_hoa(text: str) -> HoaAutomaton:
    """Parse one HOA v1 automaton."""
    p = _Parser(_tokens(text))
    if p.expect("header") != "HOA:":
        raise HoaSyntaxError("HOA: the text must start with 'HOA:'", value=text[:20])
    version = p.expect("ident")
    if version != "v1":
        raise HoaSyntaxError(f"HOA: unsupported version {version!r}", value=version)
    headers: dict[str, list[list[tuple[str, str]]]] = {}
    while True:
        tok = p.peek()
        if tok is None:
            raise HoaSyntaxError("HOA: missing --BODY--", value=None)
        if tok[0] == "body":
            p.next()
            break
        name = p.expect("header")[:-1]
        items = []
        while True:
            t = p.peek()
            if t is None or t[0] in ("header", "body"):
                break
            items.append(p.next())
        headers.setdefault(name, []).append(items)

    def one(name: str):
        return headers.get(name, [None])[0]

    st = one("States")
    n_states = int(st[0][1]) if st else None
    start = [[int(v) for k, v in items if k == "int"] for items in headers.get("Start", [])]
    ap_items = one("AP") or [("int", "0")]
    n_ap = int(ap_items[0][1])
    aps = [_unquote(v) for k, v in ap_items[1:] if k == "string"]
    if len(aps) != n_ap:
        raise HoaSyntaxError(f"HOA: AP declares {n_ap} propositions but names {len(aps)}",
                             value=aps)
    acc = one("Acceptance")
    if acc is None:
        raise HoaSyntaxError("HOA: missing Acceptance header", value=None)
    acc_sets = int(acc[0][1])
    acc_text = " ".join(v for _, v in acc[1:])
    acc_name_items = one("acc-name")
    acc_name = " ".join(v for _, v in acc_name_items) if acc_name_items else None
    props = [v for items in headers.get("properties", []) for _, v in items]
    nm = one("name")
    name = _unquote(nm[0][1]) if nm else None
    aliases = {}
    for items in headers.get("Alias", []):
        aliases[items[0][1]] = items[1:]
    states: dict[int, HoaState] = {}
    cur: HoaState | None = None
    while True:
        tok = p.next()
        if tok[0] == "end":
            break
        if tok[0] == "abort":
            raise HoaSyntaxError("HOA: the producer aborted (--ABORT--)", value=None)
        if tok == ("header", "State:"):
            label = None
            if p.peek() == ("punct", "["):
                p.next()
                label, _ = p.label(aliases)
            sid = int(p.expect("int"))
            cur = HoaState(sid, label=label)
            if p.peek() and p.peek()[0] == "string":
                cur.name = _unquote(p.next()[1])
            if p.peek() == ("punct", "{"):
                cur.acc = p.int_list_in_braces()
            if sid in states:
                raise HoaSyntaxError(f"HOA: state {sid} is defined twice", value=sid)
            states[sid] = cur
            continue
        if cur is None:
            raise HoaSyntaxError(f"HOA: edge before any State: line ({tok[1]!r})", value=tok[1])
        label = None
        label_text = None
        if tok == ("punct", "["):
            label, label_text = p.label(aliases)
            tok = p.next()
        if tok[0] != "int":
            raise HoaSyntaxError(f"HOA: expected a destination state, got {tok[1]!r}", value=tok[1])
        dst = [int(tok[1])]
        while p.peek() == ("punct", "&"):
            p.next()
            dst.append(int(p.expect("int")))
        eacc = p.int_list_in_braces() if p.peek() == ("punct", "{") else []
        cur.edges.append(HoaEdge(label, label_text, dst, eacc))
    if n_states is not None:
        for s in states:
            if not 0 <= s < n_states:
                raise HoaSyntaxError(f"HOA: state {s} outside 0..{n_states - 1}", value=s)
        for s in states.values():
            for e in s.edges:
                for d in e.dst:
                    if not 0 <= d < n_states:
                        raise HoaSyntaxError(f"HOA: edge to undeclared state {d}", value=d)
    return HoaAutomaton(version, headers, n_states, start, aps, acc_sets, acc_text, acc_name,
                        props, name, states)


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
