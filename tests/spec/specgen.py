"""Hypothesis strategies that write random .spec text.

Declarations are generated as token lists and joined with random whitespace,
line breaks and comments, so the formatter sees layouts no human would write.
Expressions respect the precedence table: an operand is parenthesised when
its precedence requires it, and sometimes when it does not.
"""
from __future__ import annotations

from hypothesis import strategies as st

NAMES = ["a", "b", "checkout", "order_id", "x1", "retry", "svc", "q", "nextval", "until_"]
ATTR_KEYS = ["http.route", "order.id", "db.system", "k"]

# precedence levels as in tracelogic.spec.formatter
P_IFF, P_IMPLIES, P_OR, P_XOR, P_AND, P_BTEMP, P_UTEMP, P_CMP, P_ADD, P_MUL, P_NEG, P_ATOM = \
    range(1, 13)

Tok = list[str]


def _wrap(expr: tuple[int, Tok], minimum: int, force: bool) -> Tok:
    prec, toks = expr
    if prec < minimum or force:
        return ["("] + toks + [")"]
    return list(toks)


atoms = st.one_of(
    st.sampled_from(NAMES).map(lambda n: (P_ATOM, [n])),
    st.integers(0, 10**6).map(lambda i: (P_ATOM, [str(i)])),
    st.sampled_from(["0.5", "1e-3", "1_000", "2.25"]).map(lambda t: (P_ATOM, [t])),
    st.sampled_from(["250ms", "2s", "1.5m", "10us", "1h"]).map(lambda t: (P_ATOM, [t])),
    st.sampled_from(["512Mi", "1k", "4Gi"]).map(lambda t: (P_ATOM, [t])),
    st.sampled_from(['"POST_/checkout"', '"x"', 'r"^GET_\\d+$"', '"a\\"b"']).map(
        lambda t: (P_ATOM, [t])),
    st.sampled_from(ATTR_KEYS).map(lambda k: (P_ATOM, ["attr", "[", f'"{k}"', "]"])),
    st.sampled_from(["true", "false"]).map(lambda t: (P_ATOM, [t])),
    st.just((P_ATOM, ["parent", ".", "name"])),
)

BINARY = [("<->", P_IFF, P_IFF, P_IMPLIES), ("iff", P_IFF, P_IFF, P_IMPLIES),
          ("->", P_IMPLIES, P_OR, P_IMPLIES), ("implies", P_IMPLIES, P_OR, P_IMPLIES),
          ("|", P_OR, P_OR, P_XOR), ("or", P_OR, P_OR, P_XOR), ("xor", P_XOR, P_XOR, P_AND),
          ("&", P_AND, P_AND, P_BTEMP), ("and", P_AND, P_AND, P_BTEMP),
          ("U", P_BTEMP, P_UTEMP, P_BTEMP), ("W", P_BTEMP, P_UTEMP, P_BTEMP),
          ("S", P_BTEMP, P_UTEMP, P_BTEMP), ("weak until", P_BTEMP, P_UTEMP, P_BTEMP),
          ("U[<= 1s]", P_BTEMP, P_UTEMP, P_BTEMP), ("S[100ms, 2s]", P_BTEMP, P_UTEMP, P_BTEMP),
          ("+", P_ADD, P_ADD, P_MUL), ("-", P_ADD, P_ADD, P_MUL), ("*", P_MUL, P_MUL, P_NEG),
          ("/", P_MUL, P_MUL, P_NEG), ("//", P_MUL, P_MUL, P_NEG), ("%", P_MUL, P_MUL, P_NEG)]
UNARY = ["!", "not", "X", "WX", "F", "G", "Y", "O", "H", "next", "eventually", "always",
         "once", "F[<= 2s]", "G[>= 10ms]", "O[1s, 5s]", "eventually within 2s"]
CMP = ["==", "!=", "<", "<=", ">", ">="]


def _split(op: str) -> Tok:
    """`F[<= 2s]` is the tokens `F[`, `<=`, `2s`, `]`; `weak until` is two words."""
    if "[" in op:
        head, rest = op.split("[", 1)
        return [head + "["] + rest[:-1].replace(",", " ,").split() + ["]"]
    return op.split()


def _extend(children):
    binary = st.tuples(st.sampled_from(BINARY), children, children, st.booleans(),
                       st.booleans()).map(
        lambda t: (t[0][1], _wrap(t[1], t[0][2], t[3]) + _split(t[0][0]) +
                   _wrap(t[2], t[0][3], t[4])))
    unary = st.tuples(st.sampled_from(UNARY), children, st.booleans()).map(
        lambda t: (P_UTEMP, _split(t[0]) + _wrap(t[1], P_UTEMP, t[2])))
    neg = st.tuples(children, st.booleans()).map(
        lambda t: (P_NEG, ["-"] + _wrap(t[0], P_NEG, t[1])))
    compare = st.tuples(st.lists(children, min_size=2, max_size=3),
                        st.lists(st.sampled_from(CMP), min_size=2, max_size=2)).map(
        lambda t: (P_CMP, _chain(t[0], t[1])))
    tests = st.tuples(children, st.sampled_from(["exists", "matches", "in", "contains"]),
                      children).map(lambda t: (P_CMP, _test(t[0], t[1], t[2])))
    call = st.tuples(st.sampled_from(["op", "count", "p99", "response", "has_ancestor"]),
                     st.lists(children, min_size=1, max_size=3), st.booleans()).map(
        lambda t: (P_ATOM, _call(t[0], t[1], t[2])))
    paren = children.map(lambda c: (P_ATOM, ["("] + c[1] + [")"]))
    return st.one_of(binary, unary, neg, compare, tests, call, paren)


def _chain(operands, ops) -> Tok:
    out = _wrap(operands[0], P_ADD, False)
    for op, operand in zip(ops, operands[1:]):
        out += [op] + _wrap(operand, P_ADD, False)
    return out


def _test(left, word, right) -> Tok:
    if word == "exists":
        return _wrap(left, P_ADD, False) + ["exists"]
    if word == "in":
        return _wrap(left, P_ADD, False) + ["in", "[", "1", ",", "2", "]"]
    return _wrap(left, P_ADD, False) + [word] + _wrap(right, P_ADD, False)


def _call(name, args, where) -> Tok:
    out = [name, "("]
    for i, a in enumerate(args):
        if i:
            out.append(",")
        out += a[1]
    if where:
        out += ["where", "b"]
    return out + [")"]


expressions = st.recursive(atoms, _extend, max_leaves=12)
expr_tokens = expressions.map(lambda e: e[1])
names = st.sampled_from(NAMES)


def _clauses():
    return st.lists(st.sampled_from([
        ['"a description"'], ["severity", "warning"], ["owner", '"payments"'],
        ["runbook", '"https://x.example/r"'], ["message", '"order {attr[\\"k\\"]} late"'],
        ["per", "attr", "[", '"order.id"', "]"], ["per", "service"], ["global"],
        ["window", "1m"], ["window", "5m", "sliding"]]), max_size=4, unique_by=lambda c: c[0])


def _decl_property(draw) -> Tok:
    clauses = draw(_clauses())
    seen, kept = set(), []
    for c in clauses:  # one scope clause at most
        key = "scope" if c[0] in ("per", "global") else c[0]
        if key not in seen:
            seen.add(key)
            kept += c
    body = draw(st.one_of(expr_tokens, names.map(lambda n: ["conforms", n]),
                          names.map(lambda n: ["follows", n, "on", "s", "by", "attr", "[",
                                               '"k"', "]"])))
    return ["property", draw(names)] + kept + [":"] + body


@st.composite
def declarations(draw) -> Tok:
    kind = draw(st.sampled_from(["const", "enum", "pred", "ppred", "property", "config",
                                 "invariant", "theorem", "workflow", "check", "model", "heal",
                                 "metric", "minv", "import", "step"]))
    n = draw(names)
    e = draw(expr_tokens)
    if kind == "const":
        return ["const", n, "="] + e
    if kind == "enum":
        members = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        return ["enum", n, "{"] + sum(([m, ","] for m in members), [])[:-1] + ["}"]
    if kind == "pred":
        return ["pred", n, "="] + e
    if kind == "ppred":
        return ["pred", n, "(", "p", ",", "q", ")", "="] + e
    if kind == "step":
        return ["step", n, "="] + e
    if kind == "property":
        return _decl_property(draw)
    if kind == "metric":
        return ["metric", n, "=", '"system.cpu"', ":", "ratio"]
    if kind == "minv":
        return ["metric", "invariant", n, "per", "service", ":"] + e
    if kind == "config":
        return ["config", n, "from", "optional", '"deploy/*.yaml"', "select", "kind", "==",
                '"Deployment"', "{", "replicas", ":", "1", "..", "1000", "=", "spec", ".",
                "replicas", "mem", ":", "bytes", "=", "spec", ".", "c", "[", "0", "]", ".",
                "m", "default", "512Mi", "t", ":", "duration", "=", "metadata", "[", '"t"',
                "]", "default", "30s", "}"]
    if kind == "invariant":
        return ["invariant", n, "on", "deployment", "severity", "warning", ":"] + e
    if kind == "theorem":
        return ["theorem", n, ":", "forall", "x", ":", "1", "..", "9", ",", "y", ":", "0.0",
                "..", "1.0", "assuming", "x", ">", "1", ":"] + e
    if kind == "workflow":
        w = draw(st.sampled_from([
            ["validate", ";", "(", "reserve", "||", "charge", ")", ";", "(", "ship", "+",
             "cancel", ")", ";", "notify", "*"],
            ["a", "?", "+", "b", ";", "c", "||", "d"], ["(", "(", "a", ")", ")", "*", "?"]]))
        return ["workflow", n, ":"] + w + ["compensate", "reserve", "with", "release"]
    if kind == "check":
        return ["check", n, ":"] + draw(st.sampled_from(
            [["sound"], ["deadlock_free"], ["invariant"] + e, e]))
    if kind == "model":
        return ["model", n, "{", "const", "t", "=", "5", "var", "s", ":", "0", "..", "3", "=",
                "0", "action", "inc", "when", "s", "<", "3", "do", "s", ":=", "s", "+", "1",
                ";", "b", ":=", "true", "action", "reset", "do", "s", ":=", "0", "}"]
    if kind == "heal":
        return ["heal", n, "on", "violated", "answered", "do", "kubernetes", ".", "restart",
                "(", "deployment", ":", "service", ",", "namespace", ":", '"shop"', ")",
                "cooldown", "5m", "limit", "3", "per", "1h", "approve", "when", "risk", ">",
                "0.7"]
    return ["import", "std", ".", "saga", "as", n]


SEPARATORS = [" ", " ", " ", " ", "  ", "\n", "\n    ", "\t"]


@st.composite
def spec_texts(draw) -> str:
    """Random spec text: declarations, random layout, comments on own lines and after code."""
    decls = draw(st.lists(declarations(), min_size=1, max_size=5))
    out: list[str] = []
    counter = 0
    for d in decls:
        if draw(st.booleans()):
            counter += 1
            out.append(f"# leading {counter}\n")
        if draw(st.booleans()):
            out.append("\n")
        for i, tok in enumerate(d):
            out.append(tok)
            if i + 1 < len(d):
                if draw(st.integers(0, 14)) == 0:
                    counter += 1
                    out.append(f"  # inside {counter}\n")
                else:
                    out.append(draw(st.sampled_from(SEPARATORS)))
        if draw(st.booleans()):
            counter += 1
            out.append(f"  # trailing {counter}")
        out.append("\n")
    if draw(st.booleans()):
        counter += 1
        out.append(f"\n# footer {counter}\n")
    return "".join(out)
