"""Run ltlf2dfa's MONA encoding through Debian's ``mona`` and read the DFA back.

``ltlf2dfa.to_dfa`` writes its MONA program into its own package directory,
which is unsafe with parallel tests; we only borrow its encoder
(``MonaProgram``), write the program to a private temporary file, run
``mona -q -u -w`` ourselves and parse MONA's textual DFA.

MONA's DFA has an extra initial state 0 whose only transition (on every
letter) leads to the state that stands for the empty word; we call that
state's successor the *effective initial* state and compare from there.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from tracelogic.automata.dfa import DFA, reachable_from
from tracelogic.logic import Formula, to_ltlf2dfa


class MonaTimeout(Exception):
    pass


@dataclass
class MonaDFA:
    dfa: DFA  # over our letters, initial = effective initial
    total_states: int  # as MONA reports them, including its state 0
    effective_states: int  # reachable from the effective initial state
    program: str


def mona_program(f: Formula, atoms: Sequence[Hashable], past: bool = False) -> str:
    """The MONA program of ``f``: LTLf at the first instant, or PPLTL at the last
    (``past=True``; ltlf2dfa decides by the parser it is given)."""
    from ltlf2dfa.base import MonaProgram
    from ltlf2dfa.parser.ltlf import LTLfParser
    from ltlf2dfa.parser.ppltl import PPLTLParser

    names = {a: f"a{i}" for i, a in enumerate(atoms)}
    text = to_ltlf2dfa(f, names)
    parser = PPLTLParser() if past else LTLfParser()
    return MonaProgram(parser(text)).mona_program()


def run_mona(program: str, timeout: float = 60.0) -> str:
    fd, path = tempfile.mkstemp(suffix=".mona", prefix="tracelogic-oracle-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(program)
        try:
            proc = subprocess.run(["mona", "-q", "-u", "-w", path], capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as e:
            raise MonaTimeout(program) from e
        return proc.stdout
    finally:
        os.unlink(path)


_STATE = re.compile(r"^State (\d+): ([01X]*) -> state (\d+)$")


def parse_mona(output: str, atoms: Sequence[Hashable]) -> tuple[int, set[int], list]:
    """(number of states, accepting states, [(src, pattern, dst)]) of MONA's DFA."""
    m = re.search(r"DFA for formula with free variables:[ \t]*(.*)", output)
    if not m:
        raise AssertionError("no DFA in MONA's output:\n" + output)
    free = m.group(1).split()
    acc = re.search(r"Accepting states:[ \t]*(.*)", output).group(1).split()
    rej = re.search(r"Rejecting states:[ \t]*(.*)", output).group(1).split()
    trans = []
    for line in output.splitlines():
        mm = _STATE.match(line.strip())
        if mm:
            trans.append((int(mm.group(1)), mm.group(2), int(mm.group(3))))
    n = len(set(acc) | set(rej))
    bit_of = {f"A{i}": i for i in range(len(atoms))}
    order = [bit_of[v] for v in free]
    table = [(s, [(order[k], c) for k, c in enumerate(pat) if c != "X"], d)
             for s, pat, d in trans]
    return n, {int(x) for x in acc}, table


def mona_dfa(f: Formula, atoms: Sequence[Hashable], letters: Sequence[int],
             timeout: float = 60.0, past: bool = False) -> MonaDFA:
    return program_dfa(mona_program(f, atoms, past), atoms, letters, timeout)


def program_dfa(program: str, atoms: Sequence[Hashable], letters: Sequence[int],
                timeout: float = 60.0) -> MonaDFA:
    """Run a MONA program whose free variables are ``A0, A1, ...`` (bit ``i`` of our
    letters is ``Ai``) and read its DFA back over ``letters``."""
    n, accepting, table = parse_mona(run_mona(program, timeout), atoms)
    delta = []
    for s in range(n):
        row = []
        for m in letters:
            dst = [d for src, lits, d in table
                   if src == s and all(((m >> b) & 1) == (c == "1") for b, c in lits)]
            assert len(dst) == 1, (s, m, dst)
            row.append(dst[0])
        delta.append(row)
    starts = set(delta[0])
    assert len(starts) == 1, "MONA's state 0 must go to one state on every letter"
    init = starts.pop()
    out = [s in accepting for s in range(n)]
    dfa = DFA(tuple(letters), delta, init, out, len(atoms))
    return MonaDFA(dfa, n, len(reachable_from(dfa)), program)


def symbolic_difference(sym, output: str) -> list[int] | None:
    """A word on which the symbolic DFA ``sym`` (:mod:`tracelogic.automata.symbolic`)
    and MONA's DFA in ``output`` (its free variables ``A0, A1, ...`` = ``sym.atoms``)
    disagree, or None when their languages are equal: a breadth-first search of the
    product, with MONA's transitions read as cube guards in ``sym``'s BDD manager, so
    the alphabet is never enumerated (any number of atoms)."""
    bdd = sym.bdd
    # MONA's guards join the translation's nodes: the check, not the translation, may
    # need more than the manager's limit
    limit, bdd.node_limit = bdd.node_limit, max(bdd.node_limit, 100_000_000)
    try:
        return _product_difference(sym, output)
    finally:
        bdd.node_limit = limit


def _product_difference(sym, output: str) -> list[int] | None:
    from collections import deque

    from tracelogic.automata.bdd import FALSE, TRUE

    bdd = sym.bdd
    n, accepting, table = parse_mona(output, sym.atoms)
    rows: list[dict[int, int]] = [{} for _ in range(n)]
    for src, lits, dst in table:
        g = TRUE  # the cube, built bottom-up (lowest bit nearest the terminals)
        for bit, c in sorted(lits):
            g = bdd.mk(bit, FALSE, g) if c == "1" else bdd.mk(bit, g, FALSE)
        rows[src][dst] = bdd.disj(rows[src].get(dst, FALSE), g)
    (init,) = rows[0]  # MONA's state 0 goes to its effective initial state on every letter
    start = (sym.initial, init)
    parent: dict[tuple[int, int], tuple | None] = {start: None}
    queue = deque([start])
    while queue:
        x, y = pair = queue.popleft()
        if bool(sym.output[x]) != (y in accepting):
            word = []
            while parent[pair] is not None:
                pair, m = parent[pair]
                word.append(m)
            return word[::-1]
        for ga, ta in sym.trans[x]:
            for tb, gb in rows[y].items():
                g = bdd.conj(ga, gb)
                if g != FALSE and (ta, tb) not in parent:
                    parent[(ta, tb)] = (pair, bdd.some_letter(g))
                    queue.append((ta, tb))
    return None
