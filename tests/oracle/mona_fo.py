"""LTLf with past, in any nesting, as a MONA WS1S program (the first-order translation).

ltlf2dfa reads future-only LTLf or pure-past PPLTL, never both, so for past over future
we write MONA's program ourselves, by the standard translation of LTLf into first-order
logic over finite linear orders (De Giacomo & Vardi 2013, "Linear temporal logic and
linear dynamic logic on finite traces", IJCAI, Section 3: ``fol(f, x)``), which is also
what ltlf2dfa emits for each fragment. Past operators translate as the dual
quantifications over the positions before ``x`` (Kamp 1968; Gabbay, Pnueli, Shelah &
Stavi 1980 for the past-time operators)::

    fol(p, x)       = x in Ap
    fol(X f, x)     = ex1 y: y in $ & y = x+1 & fol(f, y)
    fol(WX f, x)    = all1 y: (y in $ & y = x+1) => fol(f, y)
    fol(f U g, x)   = ex1 y: y in $ & x <= y & fol(g, y) & all1 z: x <= z & z < y => fol(f, z)
    fol(f R g, x)   = all1 y: y in $ & x <= y => fol(g, y) | ex1 z: x <= z & z < y & fol(f, z)
    fol(Y f, x)     = ex1 y: x = y+1 & fol(f, y)
    fol(Z f, x)     = x = 0 | ex1 y: x = y+1 & fol(f, y)
    fol(f S g, x)   = ex1 y: y <= x & fol(g, y) & all1 z: y < z & z <= x => fol(f, z)
    fol(f T g, x)   = all1 y: y <= x => fol(g, y) | ex1 z: y < z & z <= x & fol(f, z)

``$`` is the set of the trace's positions, an initial segment (ltlf2dfa's header); every
past quantifier stays inside it because ``x`` does. The formula is evaluated at position
0, and on the empty trace it is its end-of-trace value (our convention, also MONA's).
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

from tracelogic.logic import Formula
from tracelogic.logic.formula import Kind, UNTIMED

HEADER = ("var2 $ where ~ex1 p where true: p notin $ & p+1 in $;\n"
          "allpos $;\n")


def fo_program(f: Formula, atoms: Sequence[Hashable]) -> str:
    """The WS1S program of untimed ``f`` (LTLf with past in any nesting) at position 0;
    atom ``atoms[i]`` is the free variable ``Ai``."""
    bit = {a: i for i, a in enumerate(atoms)}
    counter = [0]

    def fresh() -> str:
        counter[0] += 1
        return f"v{counter[0]}"

    def fol(g: Formula, x: str) -> str:
        k = g.kind
        if k in (Kind.U, Kind.R, Kind.S, Kind.T) and g.interval != UNTIMED:
            raise ValueError(f"no time bounds in MONA's programs: {g}")
        if k is Kind.TRUE:
            return "true"
        if k is Kind.FALSE:
            return "false"
        if k is Kind.ATOM:
            return f"({x} in A{bit[g.key]})"
        if k is Kind.NOT:
            return f"~{fol(g.args[0], x)}"
        if k in (Kind.AND, Kind.OR):
            op = " & " if k is Kind.AND else " | "
            return "(" + op.join(fol(c, x) for c in g.args) + ")"
        y = fresh()
        if k is Kind.X:
            return f"(ex1 {y}: {y} in $ & {y} = {x}+1 & {fol(g.args[0], y)})"
        if k is Kind.WX:
            return f"(all1 {y}: ({y} in $ & {y} = {x}+1) => {fol(g.args[0], y)})"
        if k is Kind.Y:
            return f"(ex1 {y}: {x} = {y}+1 & {fol(g.args[0], y)})"
        if k is Kind.Z:
            return f"({x} = 0 | (ex1 {y}: {x} = {y}+1 & {fol(g.args[0], y)}))"
        a, b = g.args
        z = fresh()
        if k is Kind.U:
            return (f"(ex1 {y}: {y} in $ & {x} <= {y} & {fol(b, y)} & "
                    f"(all1 {z}: ({x} <= {z} & {z} < {y}) => {fol(a, z)}))")
        if k is Kind.R:
            return (f"(all1 {y}: ({y} in $ & {x} <= {y}) => ({fol(b, y)} | "
                    f"(ex1 {z}: {x} <= {z} & {z} < {y} & {fol(a, z)})))")
        if k is Kind.S:
            return (f"(ex1 {y}: {y} <= {x} & {fol(b, y)} & "
                    f"(all1 {z}: ({y} < {z} & {z} <= {x}) => {fol(a, z)}))")
        if k is Kind.T:
            return (f"(all1 {y}: {y} <= {x} => ({fol(b, y)} | "
                    f"(ex1 {z}: {y} < {z} & {z} <= {x} & {fol(a, z)})))")
        raise ValueError(f"no first-order translation for {k.name} in {g!r}")

    decl = f"var2 {', '.join(f'A{i}' for i in range(len(atoms)))};\n" if atoms else ""
    empty = "true" if f.empty_value else "false"
    return (f"#{f}\n" + HEADER + decl
            + f"(0 notin $ & {empty}) | (0 in $ & {fol(f, '0')});\n")
