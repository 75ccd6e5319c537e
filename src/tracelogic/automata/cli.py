"""`tracelogic automaton FORMULA | SPEC::PROPERTY [--format dot|hoa|json] [--backend native|spot]`.

A FORMULA is written in the spec language's syntax; the boolean connectives
(`!`, `&`, `|`, `->`, `<->`, `xor`) stay in the formula and every other
subexpression without a temporal operator is one atomic proposition, named by
its own text (`G (a -> F b)` has the propositions `a` and `b`;
`G (state != closed & !busy)` has `state != closed` and `busy`). So `!p` is the
negation of the atom `p`, never an atom of its own, and the automaton is the
minimal one over the propositions. A property of a spec is translated exactly as the runtime
monitor translates it: predicates as atoms, letters no span can produce pruned
with Z3, guards printed as the predicates they test.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from tracelogic.commands import EXIT_INPUT, EXIT_OK, add_spec_path, command
from tracelogic.errors import TracelogicError

# The spec AST, the logic IR and the automata are imported by the functions that use them:
# `tracelogic` imports this module to build its command line, for every command
# (DESIGN.md: lazy start-up).
if TYPE_CHECKING:
    from tracelogic.spec import ast as A


def _bound(iv: A.Interval | None):
    """Interval bounds in a bare formula must be duration literals."""
    from tracelogic.spec import ast as A

    if iv is None:
        return None

    def ns(e):
        if e is None:
            return None
        if isinstance(e, A.Literal) and e.kind == "duration":
            return e.value
        raise TracelogicError("a time bound in a formula must be a duration such as `2s`",
                              span=getattr(e, "span", None))
    lo = ns(iv.lo) or 0
    return (lo, ns(iv.hi))


def formula_of(expr: A.Expr):
    """A logic formula from a parsed expression, and the display name of each atom
    (atoms are literals, whatever their number: see automata.guarded)."""
    from tracelogic.logic import constructors as L
    from tracelogic.spec import ast as A
    from tracelogic.spec.formatter import expr as show
    from tracelogic.spec.lexicon import TEMPORAL_BINARY, TEMPORAL_UNARY

    unary = {"X": L.X, "WX": L.WX, "F": L.F, "G": L.G, "Y": L.Y, "O": L.O, "H": L.H}
    binary = {"U": L.U, "W": L.W, "R": L.R, "M": L.M, "S": L.S}
    boolean = {"&": L.And, "|": L.Or, "->": L.Implies, "<->": L.Iff, "xor": L.Xor}
    names: dict[str, str] = {}
    stack = [(expr, False)]
    done: dict[int, object] = {}
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if isinstance(node, A.Paren):
            if not expanded:
                stack += [(node, True), (node.expr, False)]
            else:
                done[id(node)] = done[id(node.expr)]
            continue
        if isinstance(node, A.Literal) and node.kind == "bool":
            done[id(node)] = L.TRUE() if node.value else L.FALSE()
            continue
        temporal_or_bool = (isinstance(node, A.Unary) and (node.op in TEMPORAL_UNARY or
                                                           node.op == "!")) or \
            (isinstance(node, A.Binary) and (node.op in TEMPORAL_BINARY or node.op in boolean))
        # atoms are literals: connectives stay in the formula
        if not temporal_or_bool:
            text = show(node)
            names[text] = guard_name(text)
            done[id(node)] = L.Atom(text)
            continue
        children = [node.operand] if isinstance(node, A.Unary) else [node.left, node.right]
        if not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in children)
            continue
        args = [done[id(c)] for c in children]
        if isinstance(node, A.Unary):
            if node.op == "!":
                done[id(node)] = L.Not(args[0])
            elif node.op in ("X", "WX", "Y"):
                done[id(node)] = unary[node.op](args[0])
            else:
                done[id(node)] = unary[node.op](args[0], _bound(node.interval))
        elif node.op in boolean:
            done[id(node)] = boolean[node.op](args[0], args[1])
        else:
            done[id(node)] = binary[node.op](args[0], args[1], _bound(node.interval))
    return done[id(expr)], names


@command("automaton", "the minimal automaton of a formula or of a spec's property "
         "(DOT, HOA v1, JSON)")
def _automaton_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FORMULA|SPEC::PROPERTY",
                   help="e.g. 'G (a -> F b)' or shop.spec::answered")
    p.add_argument("--format", choices=("dot", "hoa", "json"), default="dot")
    p.add_argument("--backend", choices=("native", "spot"), default="native",
                   help="spot only when `import spot` works")
    add_spec_path(p)
    p.set_defaults(func=cmd_automaton)


def cmd_automaton(args, out: TextIO, err: TextIO) -> int:
    from tracelogic.automata.export import automaton_text
    from tracelogic.spec.diagnostics import SpecErrors, render_all

    try:
        if "::" in args.target:
            formula, names, encode = _property(args.target, args.spec_path)
        else:
            from tracelogic.spec.parser import parse_expr

            formula, names = formula_of(parse_expr(args.target))
            encode = None
        out.write(automaton_text(formula, args.format, names, backend=args.backend,
                                 encode=encode))
        if not out_ends_with_newline(args.format):
            out.write("\n")
    except SpecErrors as e:
        err.write(render_all(e.diagnostics, e.sources) + "\n")
        return EXIT_INPUT
    except TracelogicError as e:
        err.write(f"tracelogic automaton: {e}\n")
        return EXIT_INPUT
    return EXIT_OK


def out_ends_with_newline(fmt: str) -> bool:
    return fmt in ("dot", "hoa")


def _property(target: str, spec_path: list[str] | tuple[str, ...] = ()):
    from tracelogic.semantics.lower import AtomEncoder, lower, show
    from tracelogic.spec.loader import load

    path, _, name = target.partition("::")
    spec = load(path, spec_path=spec_path)
    prop = spec.property(name)  # an unknown name is an UnknownName: exit 2, the closest name
    if prop.kind != "formula":
        raise TracelogicError(f"property `{name}` is a {prop.kind} property, not a temporal "
                              "formula; it has no automaton")
    lowered = lower(prop.body)
    return lowered.formula, {a: guard_name(show(a)) for a in lowered.atoms}, AtomEncoder()


def guard_name(text: str) -> str:
    """Parenthesised unless it is a name or a call, so that `!` and `&` read unambiguously."""
    import re

    if re.fullmatch(r"[A-Za-z_][\w.]*(\(.*\))?", text) and text.count("(") <= 1:
        return text
    return f"({text})"
