"""LTLf -> minimal DFA on published scalable families: our translator vs MONA alone.

    python bench/bench_ltlf_mona.py [--max-props 20] [--budget 60] [--random 12] [--record]

Families (``bench/ltlf_families.py``, each written from its published definition):
GF-and and U-right (Rozier & Vardi 2007), single counter, double counter and Nim
(Tabajara & Vardi 2019, SYNTCOMP ``tlsf-fin``), each up to ``--max-props``
propositions; random conjunctions of basic patterns (Zhu et al. 2017) are reported
separately.

For each formula, in one run: our time with the explicit construction and with the
symbolic one (``translate_symbolic``, BDD guards, no limit on atoms), and (``translate``, caches cleared; the formula as
``tracelogic automaton`` reads it, one atom per proposition) and MONA's time alone
(``mona -q -u -w`` on the program ltlf2dfa generates for the same formula, wall clock
of the process; the program is generated outside the timing). State counts are compared
(ours vs MONA's minus its extra initial state), and languages by the product search: the
explicit DFA where the alphabet is small enough to enumerate (<= 12 propositions), the
symbolic DFA at every size (``oracle.mona.symbolic_difference``: MONA's transitions read
as BDD guards, the product searched without enumerating letters). A translation that
takes longer than ``--budget`` seconds, or that is refused (``AlphabetTooLarge``), counts
as unsolved; the geometric mean of MONA time / our time is taken over the formulas both
solved, and the unsolved are listed. ``--record`` appends a section to bench/RESULTS.md.

Times of the symbolic translation and of MONA are the best of ``--repeat`` runs, each
both as wall clock and as CPU time (ours: ``time.process_time``; MONA's: the child's user
+ system time from ``getrusage``, process start-up included). The machine this runs on
is shared (2 cores, several concurrent jobs), where wall clock measures the load as much
as the tools, so the symbolic summary gives both ratios.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)

import ltlf_families as fam  # noqa: E402
from oracle.mona import mona_program, parse_mona, program_dfa, symbolic_difference  # noqa: E402

from tracelogic.automata import clear_cache, translate  # noqa: E402
from tracelogic.automata.cli import formula_of  # noqa: E402
from tracelogic.automata.dfa import find_difference  # noqa: E402
from tracelogic.automata.symbolic import SymbolicTooLarge, translate_symbolic  # noqa: E402
from tracelogic.errors import TracelogicError  # noqa: E402
from tracelogic.logic.walkers import atoms as atoms_of  # noqa: E402
from tracelogic.spec.parser import parse_expr  # noqa: E402


class _Budget(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Budget()


def ours(f, atoms, budget: float):
    """(seconds, automaton) or (None, reason)."""
    clear_cache()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    t0 = time.perf_counter()
    try:
        aut = translate(f, atoms=atoms)
    except _Budget:
        return None, f"> {budget:g} s"
    except TracelogicError as e:
        return None, type(e).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return time.perf_counter() - t0, aut


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def mona(program: str, budget: float, repeat: int = 1):
    """(wall seconds, CPU seconds, stdout) of MONA alone on ``program``, the best of
    ``repeat`` runs, or (None, None, reason)."""
    fd, path = tempfile.mkstemp(suffix=".mona", prefix="tracelogic-bench-")
    with os.fdopen(fd, "w") as fh:
        fh.write(program)
    best_wall = best_cpu = None
    try:
        for _ in range(repeat):
            c0, t0 = _children_cpu(), time.perf_counter()
            try:
                proc = subprocess.run(["mona", "-q", "-u", "-w", path], capture_output=True,
                                      text=True, timeout=budget, check=False)
            except subprocess.TimeoutExpired:
                return None, None, f"> {budget:g} s"
            wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
            if "DFA for formula" not in proc.stdout:
                return None, None, "no DFA: " + (proc.stderr or proc.stdout)[-200:]
            best_wall = wall if best_wall is None else min(best_wall, wall)
            best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    finally:
        os.unlink(path)
    return best_wall, best_cpu, proc.stdout


def symbolic(f, atoms, budget: float, repeat: int):
    """(wall, CPU, automaton) of ``translate_symbolic``, the best of ``repeat`` runs (a
    fresh BDD manager and cleared caches each time), or (None, None, reason)."""
    best_wall = best_cpu = sym = None
    for _ in range(repeat):
        clear_cache()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            sym = translate_symbolic(f, atoms=atoms, budget_s=budget)
        except SymbolicTooLarge:
            return None, None, f"> {budget:g} s"
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best_wall, best_cpu, sym


def instances(max_props: int):
    for name, (gen, props_of) in fam.FAMILIES.items():
        n = 1 if name not in ("gf-and", "u-right") else 2
        while props_of(n) <= max_props:
            yield name, n, gen(n)
            n += 1


def measure(name: str, n: int, text: str, props: list[str], budget: float,
            repeat: int = 3, explicit: bool = True) -> dict:
    f, _ = formula_of(parse_expr(text))
    atoms = sorted(atoms_of(f))  # one bit order for both tools
    row = {"family": name, "n": n, "props": len(atoms)}
    program = mona_program(f, atoms)
    mt, mcpu, mout = mona(program, budget, repeat)
    row["mona_s"], row["mona_cpu"] = mt, mcpu
    if mt is not None:
        total, _, _ = parse_mona(mout, atoms)
        # MONA's extra initial state, except in its one-state DFA (true or false)
        row["mona_states"] = max(total - 1, 1)
    else:
        row["mona_why"] = mout
    row["ours_s"], row["ours_why"] = None, "not run"
    if explicit:
        clear_cache()
        ot, aut = ours(f, atoms, budget)
        row["ours_s"] = ot
        if ot is None:
            row["ours_why"] = aut
        else:
            row["ours_states"] = aut.n_states
            if mt is not None and len(props) <= 12:
                md = program_dfa(program, aut.alphabet.atoms, aut.alphabet.letters, budget)
                row["equivalent"] = find_difference(aut.dfa, md.dfa) is None
    st, scpu, sym = symbolic(f, atoms, budget, repeat)
    row["sym_s"], row["sym_cpu"] = st, scpu
    if st is None:
        row["sym_why"] = sym
    else:
        row["sym_states"] = sym.n_states
        if mt is not None:
            row["sym_equivalent"] = symbolic_difference(sym, mout) is None
    return row


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def summarise(rows: list[dict], key: str = "ours") -> list[str]:
    cpu = key == "sym"
    out = [f"[{'explicit (translate)' if key == 'ours' else 'symbolic (translate_symbolic)'}]"]
    fams = list(dict.fromkeys(r["family"] for r in rows))
    out.append(f"{'family':<16} {'solved/all':>10} {'geomean MONA/ours':>18} "
               + (f"{'(CPU time)':>11} " if cpu else "")
               + f"{'max props solved':>17}  unsolved by us")
    for fname in fams:
        rs = [r for r in rows if r["family"] == fname]
        both = [r for r in rs if r[f"{key}_s"] is not None and r["mona_s"] is not None]
        ratios = [r["mona_s"] / r[f"{key}_s"] for r in both]
        unsolved = [f"{r['props']}p ({r[f'{key}_why']})" for r in rs if r[f"{key}_s"] is None]
        mx = max((r["props"] for r in rs if r[f"{key}_s"] is not None), default=0)
        cpu_col = ""
        if cpu:
            cpu_col = f"{geomean([r['mona_cpu'] / max(r['sym_cpu'], 1e-6) for r in both]):>11.2f} "
        out.append(f"{fname:<16} {len([r for r in rs if r[f'{key}_s'] is not None]):>4}/{len(rs):<5} "
                   f"{geomean(ratios):>18.2f} {cpu_col}{mx:>17}  {', '.join(unsolved) or '-'}")
    return out


def table(rows: list[dict]) -> list[str]:
    out = [f"{'family':<16} {'n':>3} {'props':>5} {'ours ms':>10} {'MONA ms':>9} {'ratio':>7} "
           f"{'states':>13} equiv {'sym ms':>10} {'sym ratio':>9} {'MONA cpu':>9} "
           f"{'sym cpu':>9} {'cpu ratio':>9} sym states equiv"]
    for r in rows:
        o = f"{r['ours_s'] * 1e3:10.1f}" if r["ours_s"] is not None else f"{r['ours_why']:>10}"
        m = f"{r['mona_s'] * 1e3:9.1f}" if r["mona_s"] is not None else f"{r['mona_why'][:9]:>9}"
        ratio = (f"{r['mona_s'] / r['ours_s']:7.2f}" if r["ours_s"] is not None
                 and r["mona_s"] is not None else "      -")
        st = f"{r.get('ours_states', '-')}/{r.get('mona_states', '-')}"
        eq = {True: "yes", False: "NO"}.get(r.get("equivalent"), "-")
        so = f"{r['sym_s'] * 1e3:10.1f}" if r["sym_s"] is not None else f"{r['sym_why']:>10}"
        sr = (f"{r['mona_s'] / r['sym_s']:9.2f}" if r["sym_s"] is not None
              and r["mona_s"] is not None else "        -")
        mc = f"{r['mona_cpu'] * 1e3:9.1f}" if r.get("mona_cpu") is not None else "        -"
        sc = f"{r['sym_cpu'] * 1e3:9.1f}" if r.get("sym_cpu") is not None else "        -"
        cr = (f"{r['mona_cpu'] / max(r['sym_cpu'], 1e-6):9.2f}" if r.get("sym_cpu") is not None
              and r.get("mona_cpu") is not None else "        -")
        seq = {True: "yes", False: "NO"}.get(r.get("sym_equivalent"), "-")
        out.append(f"{r['family']:<16} {r['n']:>3} {r['props']:>5} {o} {m} {ratio} {st:>13} {eq:>5} "
                   f"{so} {sr} {mc} {sc} {cr} {str(r.get('sym_states', '-')):>10} {seq:>5}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-props", type=int, default=20)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per tool and formula")
    ap.add_argument("--random", type=int, default=12, help="random conjunctions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of MONA and of the symbolic translation; the best counts")
    ap.add_argument("--no-explicit", action="store_true",
                    help="skip the explicit construction (translate)")
    ap.add_argument("--families", default=",".join(fam.FAMILIES) + ",random",
                    help="comma-separated families to run")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)

    rows = []
    wanted = set(args.families.split(","))
    explicit = not args.no_explicit
    for name, n, (text, props) in instances(args.max_props):
        if name not in wanted:
            continue
        rows.append(measure(name, n, text, props, args.budget, args.repeat,
                            not args.no_explicit))
        print(table([rows[-1]])[-1], flush=True)
    rand = []
    for k in range(args.random if "random" in wanted else 0):
        conj, m = 3 + k % 4, 5 + 5 * (k % 4)  # 3-6 conjuncts over 5-20 propositions
        text, props = fam.random_conjunction(conj, m, args.seed + k)
        rand.append(measure("random", k, text, props, args.budget, args.repeat,
                            not args.no_explicit))
        print(table([rand[-1]])[-1], flush=True)
    bad = [r for r in rows + rand if False in (r.get("equivalent"), r.get("sym_equivalent")) or any(
        f"{k}_states" in r and "mona_states" in r and r[f"{k}_states"] != r["mona_states"]
        for k in ("ours", "sym"))]
    lines = (["families (geometric mean over the formulas both tools solved):"]
             + (summarise(rows) if explicit else []) + summarise(rows, "sym")
             + ["", "random conjunctions (Zhu et al. 2017):"]
             + (summarise(rand) if explicit else []) + summarise(rand, "sym")
             + ["", "per formula:"] + table(rows + rand))
    if bad:
        lines.append(f"DISAGREEMENTS: {bad}")
    print("\n".join(lines))
    if args.record:
        head = (f"\n## LTLf on published families vs MONA alone "
                f"({datetime.date.today().isoformat()})\n\n"
                f"`python bench/bench_ltlf_mona.py {' '.join(sys.argv[1:] if argv is None else argv)}`, "
                f"CPython {platform.python_version()}, "
                f"{platform.machine()}.\n\n```\n")
        with open(os.path.join(HERE, "RESULTS.md"), "a") as fh:
            fh.write(head + "\n".join(lines) + "\n```\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
