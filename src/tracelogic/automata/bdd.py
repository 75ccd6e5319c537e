"""A small canonical ROBDD package: the guards of symbolic automata.

A guard is a Boolean function of the atom bits, represented as a reduced ordered
binary decision diagram (Bryant 1986) over the variable order of the atoms' bits,
highest bit at the root, so that the first satisfying path taken low-first
(:meth:`BDD.some_letter`) is the numerically smallest letter of a guard. Nodes are hash-consed ints in one :class:`BDD` manager, so two equal
functions are the same int: guards compare with ``==`` and key dictionaries, which is
what the symbolic constructions need (merging the successors of a state by target,
the signatures of symbolic Hopcroft).

Why our own and not ``dd`` or ``oxidd`` (docs/automata.md): the constructions only need
``&``, ``|``, ``!``, equality, evaluation on one letter and one satisfying letter, over
at most a few hundred variables and a few thousand nodes; an int-node manager of this
size is a hundred lines with no dependency to install or build, and its results are
plain ints that pickle and cache with the automata. The recursion of ``apply`` is at
most one level per variable (the number of atoms).

``node_limit`` bounds the manager: past it an operation raises :class:`BddTooLarge`,
the resource limit that replaces the old refusal by number of atoms.
"""
from __future__ import annotations

from tracelogic.errors import TracelogicError

__all__ = ["BDD", "BddTooLarge", "FALSE", "TRUE", "BOTTOM"]

FALSE = 0
TRUE = 1
#: the level of the terminals: below every variable. Variables may be negative (the
#: symbolic translator numbers its state variables ``-1, -2, ...`` so that they sit below
#: every atom bit ``0, 1, ...``); only atom bits may be read by :meth:`BDD.evaluate` and
#: :meth:`BDD.some_letter`.
BOTTOM = -(1 << 62)


class BddTooLarge(TracelogicError, RuntimeError):
    """A guard computation needed more BDD nodes than the manager's limit."""


class BDD:
    """Hash-consed ROBDD nodes over variables ``0, 1, 2, ...`` (the atom bits)."""

    __slots__ = ("var", "lo", "hi", "_unique", "_and", "_or", "_not", "_ite", "_simplify",
                 "node_limit")

    def __init__(self, node_limit: int = 2_000_000) -> None:
        self.var: list[int] = [BOTTOM, BOTTOM]  # the terminals sit below every variable
        self.lo: list[int] = [0, 1]
        self.hi: list[int] = [0, 1]
        self._unique: dict[tuple[int, int, int], int] = {}
        self._and: dict[tuple[int, int], int] = {}
        self._or: dict[tuple[int, int], int] = {}
        self._not: dict[int, int] = {0: 1, 1: 0}
        self._ite: dict[tuple[int, int, int], int] = {}
        self._simplify: dict[tuple[int, int], int] = {}
        self.node_limit = node_limit

    def __len__(self) -> int:
        return len(self.var)

    def mk(self, v: int, lo: int, hi: int) -> int:
        if lo == hi:
            return lo
        key = (v, lo, hi)
        n = self._unique.get(key)
        if n is None:
            var = self.var
            n = len(var)
            if n >= self.node_limit:
                raise BddTooLarge(f"guards need more than {self.node_limit} BDD nodes",
                                  value=self.node_limit)
            var.append(v)
            self.lo.append(lo)
            self.hi.append(hi)
            self._unique[key] = n
        return n

    def atom(self, bit: int) -> int:
        """The guard ``bit is set``."""
        return self.mk(bit, FALSE, TRUE)

    def neg(self, a: int) -> int:
        r = self._not.get(a)
        if r is None:
            r = self.mk(self.var[a], self.neg(self.lo[a]), self.neg(self.hi[a]))
            self._not[a] = r
        return r

    def conj(self, a: int, b: int) -> int:
        if a == FALSE or b == FALSE:
            return FALSE
        if a == TRUE:
            return b
        if b == TRUE or a == b:
            return a
        if a > b:
            a, b = b, a
        key = (a, b)
        r = self._and.get(key)
        if r is None:
            var, lo, hi = self.var, self.lo, self.hi
            va, vb = var[a], var[b]
            if va > vb:
                r = self.mk(va, self.conj(lo[a], b), self.conj(hi[a], b))
            elif vb > va:
                r = self.mk(vb, self.conj(a, lo[b]), self.conj(a, hi[b]))
            else:
                r = self.mk(va, self.conj(lo[a], lo[b]), self.conj(hi[a], hi[b]))
            self._and[key] = r
        return r

    def disj(self, a: int, b: int) -> int:
        if a == TRUE or b == TRUE:
            return TRUE
        if a == FALSE:
            return b
        if b == FALSE or a == b:
            return a
        if a > b:
            a, b = b, a
        key = (a, b)
        r = self._or.get(key)
        if r is None:
            var, lo, hi = self.var, self.lo, self.hi
            va, vb = var[a], var[b]
            if va > vb:
                r = self.mk(va, self.disj(lo[a], b), self.disj(hi[a], b))
            elif vb > va:
                r = self.mk(vb, self.disj(a, lo[b]), self.disj(a, hi[b]))
            else:
                r = self.mk(va, self.disj(lo[a], lo[b]), self.disj(hi[a], hi[b]))
            self._or[key] = r
        return r

    def ite(self, f: int, g: int, h: int) -> int:
        """``if f then g else h`` (Brace, Rudell & Bryant 1990): one pass instead of the
        three of ``(f & g) | (!f & h)``; the substitution of the symbolic translator is a
        chain of these."""
        if f == TRUE or g == h:
            return g
        if f == FALSE:
            return h
        if g == TRUE:
            return f if h == FALSE else self.disj(f, h)
        if g == FALSE:
            return self.neg(f) if h == TRUE else self.conj(self.neg(f), h)
        if h == FALSE:
            return self.conj(f, g)
        if h == TRUE:
            return self.disj(self.neg(f), g)
        key = (f, g, h)
        r = self._ite.get(key)
        if r is None:
            var, lo, hi = self.var, self.lo, self.hi
            vf, vg, vh = var[f], var[g], var[h]
            v = vf if vf > vg else vg
            if vh > v:
                v = vh
            f0, f1 = (lo[f], hi[f]) if vf == v else (f, f)
            g0, g1 = (lo[g], hi[g]) if vg == v else (g, g)
            h0, h1 = (lo[h], hi[h]) if vh == v else (h, h)
            r = self.mk(v, self.ite(f0, g0, h0), self.ite(f1, g1, h1))
            self._ite[key] = r
        return r

    def simplify(self, f: int, care: int) -> int:
        """A function equal to ``f`` wherever ``care`` holds, usually smaller: Coudert &
        Madre's *restrict* (1990). Where ``care`` is false the result is anything."""
        if care == TRUE or f <= TRUE:
            return f
        if care == FALSE:
            return FALSE
        if f == care:
            return TRUE
        key = (f, care)
        r = self._simplify.get(key)
        if r is None:
            var, lo, hi = self.var, self.lo, self.hi
            vf, vc = var[f], var[care]
            if vc > vf:  # f does not read care's top variable: quantify it out of care
                r = self.simplify(f, self.disj(lo[care], hi[care]))
            elif vc < vf:
                r = self.mk(vf, self.simplify(lo[f], care), self.simplify(hi[f], care))
            elif lo[care] == FALSE:
                r = self.simplify(hi[f], hi[care])
            elif hi[care] == FALSE:
                r = self.simplify(lo[f], lo[care])
            else:
                r = self.mk(vf, self.simplify(lo[f], lo[care]), self.simplify(hi[f], hi[care]))
            self._simplify[key] = r
        return r

    def evaluate(self, a: int, mask: int) -> bool:
        """The guard's value on the letter ``mask`` (bit ``v`` = variable ``v``)."""
        var, lo, hi = self.var, self.lo, self.hi
        while a > TRUE:
            a = hi[a] if (mask >> var[a]) & 1 else lo[a]
        return a == TRUE

    def some_letter(self, a: int) -> int | None:
        """The smallest mask satisfying ``a``, or None when ``a`` is false."""
        if a == FALSE:
            return None
        m = 0
        while a > TRUE:
            if self.lo[a] != FALSE:
                a = self.lo[a]
            else:
                m |= 1 << self.var[a]
                a = self.hi[a]
        return m

    def support(self, a: int) -> set[int]:
        """The variables ``a`` depends on."""
        seen, out, stack = set(), set(), [a]
        while stack:
            n = stack.pop()
            if n <= TRUE or n in seen:
                continue
            seen.add(n)
            out.add(self.var[n])
            stack += [self.lo[n], self.hi[n]]
        return out

    def cubes(self, a: int) -> list[list[tuple[int, bool]]]:
        """Disjoint cubes (paths to TRUE) of ``a``: each a list of (variable, value)."""
        out: list[list[tuple[int, bool]]] = []
        stack: list[tuple[int, list[tuple[int, bool]]]] = [(a, [])]
        while stack:
            n, path = stack.pop()
            if n == FALSE:
                continue
            if n == TRUE:
                out.append(path)
                continue
            v = self.var[n]
            stack.append((self.hi[n], path + [(v, True)]))
            stack.append((self.lo[n], path + [(v, False)]))
        return out
