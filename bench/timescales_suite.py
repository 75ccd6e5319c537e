"""The Timescales small suite (shared, read-only) and its translation to our formulas.

The data lives in ../shared/benchmarks/timescales-smallsuite, beside the checkout
(never copied into the project; ``TIMESCALES_DIR`` overrides the place).  Each
``NAME.yaml`` holds a past-time MTL pattern in Reelay's old syntax; each ``NAME.csv``
a trace with an integer ``time`` column and 0/1 columns ``p q r s``.

Translation: one time unit is 1 ms, so ``once[:10]`` is ``O[<= 10ms]``,
``since[10:]`` is ``S[>= 10ms]`` and the timestamp of a row is ``time`` ms.
The parser follows Reelay's precedence: unary operators (``historically``,
``once[..]``, ``not``, ``!``) bind tightest and apply to the next operand,
then ``since[..]`` (right associative), ``and``/``&&``, ``or``/``||`` and
``->`` (right associative).  So ``historically(a) -> (b)`` is an implication
whose left side only is under ``historically`` -- exactly as Reelay reads it.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass

from tracelogic.logic import And, Atom, H, Implies, Not, O, Or, S
from tracelogic.logic.formula import Formula

def _default_suite() -> str:
    """`shared/` lies beside the checkout (here, and in CI's fresh clone); nothing else is
    searched, so a run never reads a path of one particular machine."""
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                          "benchmarks", "timescales-smallsuite")
    return os.path.normpath(beside)


SUITE = os.environ.get("TIMESCALES_DIR") or _default_suite()
MS = 1_000_000
NAMES = ["AbsentAQ", "AbsentBQR", "AbsentBR", "AlwaysAQ", "AlwaysBQR", "AlwaysBR",
         "RecurBQR", "RecurGLB", "RespondBQR", "RespondGLB"]


@dataclass
class Case:
    name: str
    pattern: str
    columns: list[str]  # atom columns in file order
    times: list[int]  # in time units (ms)
    rows: list[dict[str, int]]  # {column: 0/1}


def available() -> bool:
    return os.path.isdir(SUITE) and all(
        os.path.exists(os.path.join(SUITE, n + ".csv")) for n in NAMES)


def load(name: str) -> Case:
    with open(os.path.join(SUITE, name + ".yaml"), encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(r'pattern\s*:\s*"(.*)"', text)
    if not m:
        raise ValueError(f"{name}.yaml has no pattern")
    with open(os.path.join(SUITE, name + ".csv"), encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols = header[1:]
        times: list[int] = []
        rows: list[dict[str, int]] = []
        for rec in reader:
            if not rec:
                continue
            times.append(int(rec[0]))
            rows.append({c: int(v) for c, v in zip(cols, rec[1:])})
    return Case(name, m.group(1), cols, times, rows)


_TOK = re.compile(r"\s*(?:(historically|once|since|and|or|not)\b|(\[\s*\d*\s*:\s*\d*\s*\])"
                  r"|(&&|\|\||->|!|\(|\))|([a-z_][a-z0-9_]*))")


def _tokens(pattern: str) -> list[str]:
    out, pos = [], 0
    pattern = pattern.strip()
    while pos < len(pattern):
        m = _TOK.match(pattern, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read {pattern[pos:]!r}")
        out.append(next(g for g in m.groups() if g is not None).replace(" ", ""))
        pos = m.end()
    return out


def _bounds(tok: str) -> tuple[int, int | None]:
    lo, hi = tok[1:-1].split(":")
    return (int(lo) * MS if lo else 0, int(hi) * MS if hi else None)


def parse_reelay(pattern: str) -> Formula:
    """A Reelay (old syntax) past-time MTL pattern as one of our formulas."""
    toks = _tokens(pattern)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def unary() -> Formula:
        t = take()
        if t in ("not", "!"):
            return Not(unary())
        if t in ("historically", "once"):
            iv = _bounds(take()) if peek() and peek().startswith("[") else None
            arg = unary()
            return H(arg, iv) if t == "historically" else O(arg, iv)
        if t == "(":
            e = implication()
            if take() != ")":
                raise ValueError(f"missing ')' in {pattern!r}")
            return e
        if re.fullmatch(r"[a-z_][a-z0-9_]*", t):
            return Atom(t)
        raise ValueError(f"unexpected {t!r} in {pattern!r}")

    def since() -> Formula:
        left = unary()
        if peek() == "since":
            take()
            iv = _bounds(take()) if peek() and peek().startswith("[") else None
            return S(left, since(), iv)
        return left

    def conj() -> Formula:
        parts = [since()]
        while peek() in ("and", "&&"):
            take()
            parts.append(since())
        return And(*parts)

    def disj() -> Formula:
        parts = [conj()]
        while peek() in ("or", "||"):
            take()
            parts.append(conj())
        return Or(*parts)

    def implication() -> Formula:
        left = disj()
        if peek() == "->":
            take()
            return Implies(left, implication())
        return left

    f = implication()
    if pos != len(toks):
        raise ValueError(f"trailing input {toks[pos:]} in {pattern!r}")
    return f


def reelay_pattern(pattern: str) -> str:
    """The pattern with atoms written ``{p}`` as Reelay 25 expects."""
    return re.sub(r"\b([pqrs])\b", r"{\1}", pattern)


def rtamt_pattern(pattern: str, horizon: int) -> str:
    """The pattern in RTAMT's STL syntax: signals ``v_p``... compared with 0.5 (``s`` is
    a time unit in RTAMT).  An unbounded window ``[a:]`` becomes ``[a:horizon]``,
    equivalent on a trace whose timestamps span less than ``horizon`` units."""
    s = re.sub(r"\b([pqrs])\b", r"(v_\1>0.5)", pattern)
    s = s.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    s = re.sub(r"\[\s*:\s*(\d+)\s*\]", r"[0:\1]", s)
    s = re.sub(r"\[\s*(\d+)\s*:\s*\]", rf"[\1:{horizon}]", s)
    return s


def masks_and_times(case: Case, atoms: tuple) -> tuple[list[int], list[int]]:
    """Rows as letter masks over ``atoms`` (keys are column names) and ns timestamps."""
    bit = {a: i for i, a in enumerate(atoms)}
    masks = []
    for row in case.rows:
        m = 0
        for c, v in row.items():
            if v and c in bit:
                m |= 1 << bit[c]
        masks.append(m)
    return masks, [t * MS for t in case.times]


def mutate(case: Case, seed: int) -> tuple[Case, int, str]:
    """A copy with one bit flipped at a random row (and which)."""
    import random
    rng = random.Random(seed)
    i = rng.randrange(len(case.rows))
    col = rng.choice(case.columns)
    rows = [dict(r) for r in case.rows]
    rows[i][col] ^= 1
    return Case(case.name, case.pattern, case.columns, case.times, rows), i, col
