"""A seeded mutation fuzzer for the spec front end (``tracelogic.load`` and ``fmt``).

Seeds are the valid specs the project ships: ``examples/**.spec``, the standard
library ``src/tracelogic/properties/*.spec`` and every ```` ```spec ```` block of
``docs/*.md``. A case is a seed with a few token-level mutations; most
mutations keep the text close to the grammar (swapping names, splicing
declarations from other seeds, replacing literals by extreme ones), so that a
good share of the cases parses and reaches the checker, where the crashes hide.

Used by ``tests/spec/test_load_fuzz.py``; also runnable by hand::

    PYTHONPATH=src python -m tests.spec.loadfuzz 20000 --seed 1
"""
from __future__ import annotations

import random
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tracelogic.spec.lexicon import RESERVED

ROOT = Path(__file__).resolve().parents[2]

_TOKEN = re.compile(r'r?"(?:\\.|[^"\\\n])*"|#[^\n]*|\d[\w.]*|[A-Za-z_]\w*|\s+|'
                    r'<->|->|:=|==|!=|<=|>=|//|\|\||&&|\.\.|.', re.S)
_DECL = re.compile(r"^(?=(?:import|const|enum|pred|step|property|metric|config|invariant|"
                   r"theorem|workflow|check|model|heal|controller)\b)", re.M)


def seeds(root: Path = ROOT) -> dict[str, str]:
    """Every valid spec text the project ships, by a readable name."""
    out: dict[str, str] = {}
    for p in sorted(root.glob("examples/**/*.spec")) + sorted(
            root.glob("src/tracelogic/properties/*.spec")):
        out[str(p.relative_to(root))] = p.read_text(encoding="utf-8")
    for p in sorted(root.glob("docs/*.md")):
        text = p.read_text(encoding="utf-8")
        for i, m in enumerate(re.finditer(r"```spec\n(.*?)```", text, re.S)):
            out[f"{p.relative_to(root)}#{i}"] = m.group(1)
    return out


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


KEYWORDS = (
    "import as const enum pred step property metric invariant config from select theorem "
    "forall assuming workflow compensate with check model var action when do heal on violated "
    "cooldown limit approve risk per window sliding global severity owner runbook message "
    "conforms saga follows by optional default sound deadlock_free globally before after "
    "between after_until where within in matches contains startswith exists true false not "
    "and or implies iff xor next wnext eventually always until release since once "
    "historically previously weak strong X WX F G U W R M Y O H S name kind status duration "
    "service attr resource parent start end is_root trace_id scope count p99 fraction avg "
    "sum all any min max abs clamp prev last absence response precedence existence "
    "has_ancestor has_child linked has_event std int real string bool bytes cpu ratio").split()
PUNCT = ["(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "..", "=", "==", "!=", "<", "<=",
         ">", ">=", "+", "-", "*", "/", "//", "%", "!", "&", "|", "->", "<->", ":=", "||", "?",
         "F[", "G[", "U[", "S[", "O[", "H["]
LITERALS = ["0", "1", "-1", "42", "1_000", "0.5", "1e-3", "1e400", "0.0", "250ms", "0s",
            "1ns", "1.5ns", "2s", "1.5m", "90d", "512Mi", "0.5Ki", "1.5k", "4Gi", "1..50",
            "50..1", '"x"', '""', '"a\\"b"', '"\\\\"', 'r"^a\\d+$"', 'r"("', 'r"a{2,1}"',
            '"{x}"', '"{{"', '"{"', '"}"', '"{1 +}"', '"é"', '"\\n"', "true", "false",
            "9" * 40, "1" + "0" * 30 + "ns", "1" + "0" * 30 + "Ei", "1" * 4301, "9" * 5000,
            "1" * 4300, "0." + "1" * 5000, "1e" + "9" * 30, '"' + "a" * 300 + '"']
WEIRD = ["\ud800", "\x00", "\u202e", "\ufeff", "\t", "\r", "\r\n", "\x0b", "\x85", "\u2028",
         "é", "🙂", "'", "\\", "$", "@", "`", "#", '"']


@dataclass
class Outcome:
    cases: int = 0
    parsed: int = 0
    crashes: dict = field(default_factory=dict)  # kind -> (count, first text, traceback)


def mutate(rng: random.Random, corpus: list[str], text: str) -> str:
    """A few edits of ``text``, most of them the kind that still parses."""
    toks = tokens(text)
    names = [t for t in toks if (t[:1].isalpha() or t[:1] == "_") and t not in RESERVED] or ["x"]
    for _ in range(rng.choice((1, 1, 1, 1, 1, 2, 2, 3))):
        significant = [k for k, t in enumerate(toks) if t.strip() and t[0] != "#"] or [0]
        if not toks:
            toks = [""]
        i = rng.choice(significant)
        op = rng.random()
        if op < 0.30:  # a name of this file in another place: clashes, wrong kinds
            spots = [k for k in significant if toks[k] in names]
            toks[rng.choice(spots) if spots else i] = rng.choice(names)
        elif op < 0.52:  # literals: extreme numbers, units, strings, patterns
            lit = [k for k in significant if toks[k][:1].isdigit() or toks[k][:1] == '"'
                   or toks[k][:2] == 'r"']
            toks[rng.choice(lit) if lit and rng.random() < 0.9 else i] = rng.choice(LITERALS)
        elif op < 0.64:  # splice a declaration from another seed
            decls = [d for d in _DECL.split(rng.choice(corpus)) if d.strip()]
            starts = [k for k, t in enumerate(toks) if k == 0 or "\n" in toks[k - 1]]
            if decls:
                toks.insert(rng.choice(starts), rng.choice(decls) + "\n")
        elif op < 0.72:  # nest an operand
            n = rng.choice((2, 5, 40))
            open_, close = rng.choice((("(", ")"), ("[", "]"), ("!", ""), ("-", ""),
                                       ("F ", ""), ("X ", ""), ("not ", "")))
            toks[i] = open_ * n + toks[i] + close * n
        elif op < 0.78:
            toks[i] = rng.choice(KEYWORDS)
        elif op < 0.84:
            del toks[i]
        elif op < 0.86:
            del toks[i:i + rng.randint(2, 12)]
        elif op < 0.90:
            toks.insert(i, toks[i] + " ")
        elif op < 0.93:
            j = rng.choice(significant)
            toks[i], toks[j] = toks[j], toks[i]
        elif op < 0.96:
            toks[i] = rng.choice(PUNCT)
        elif op < 0.98:
            toks.insert(i, rng.choice(WEIRD))
        elif op < 0.99:
            toks = toks[:i]
        else:
            toks.insert(i, "".join(rng.choice(PUNCT + KEYWORDS + LITERALS) + " "
                                   for _ in range(rng.randint(1, 6))))
    return "".join(toks)


def run_case(text: str) -> bool:
    """Load and format ``text``; True when it parsed. Raises whatever escapes (a crash)."""
    from tracelogic.errors import SpecError
    from tracelogic.spec.formatter import format_text
    from tracelogic.spec.loader import load
    from tracelogic.spec.parser import parse_module_partial

    try:
        load(text, filename="fuzz.spec")
        parsed = True
    except SpecError as e:
        assert str(e), "a SpecError without a message"
        parsed = not parse_module_partial(text, "fuzz.spec")[1]
    if parsed:  # text that does not parse takes the parse path just taken, in `fmt` too
        try:
            format_text(text, "fuzz.spec")
        except SpecError as e:
            assert str(e), "a SpecError without a message"
    return parsed


def crash_kind(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(tb) if "/tracelogic/" in f.filename), tb[-1] if tb else None)
    loc = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    return f"{type(exc).__name__} at {loc}"


def fuzz(cases: int, seed: int, corpus: dict[str, str] | None = None,
         progress: int = 0) -> Outcome:
    corpus = corpus or seeds()
    texts = list(corpus.values())
    rng = random.Random(seed)
    out = Outcome()
    for k in range(cases):
        if progress and k and k % progress == 0:
            print(f"{k} cases, {out.parsed} parsed, {sum(c for c, _, _ in out.crashes.values())} "
                  f"crashes", file=sys.stderr, flush=True)
        text = mutate(rng, texts, rng.choice(texts))
        out.cases += 1
        try:
            out.parsed += run_case(text)
        except Exception as e:  # a crash: anything but SpecError
            kind = crash_kind(e)
            n, first, tb = out.crashes.get(kind, (0, text, traceback.format_exc()))
            out.crashes[kind] = (n + 1, first, tb)
    return out


if __name__ == "__main__":  # pragma: no cover - a manual fuzzing session
    import os
    import shutil
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    corpus = seeds()
    with tempfile.TemporaryDirectory() as ws:
        shutil.copytree(ROOT / "examples" / "language", ws, dirs_exist_ok=True)
        os.chdir(ws)
        result = fuzz(n, seed, corpus, progress=1000)
    print(f"{result.cases} cases, {result.parsed} parsed "
          f"({100 * result.parsed / max(result.cases, 1):.0f}%), {len(result.crashes)} crash kinds")
    for kind, (count, text, tb) in sorted(result.crashes.items(), key=lambda kv: -kv[1][0]):
        print(f"--- {count} x {kind}\n{text[:1500]!r}\n{tb[-1500:]}")
