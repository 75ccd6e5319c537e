"""Printers: our syntax, Spot's LTLf syntax, ltlf2dfa's LTLf/PPLTL syntax, reprs.

All printers fully parenthesise and never recurse (they are
:class:`~tracelogic.logic.walkers.TreeEmitter` subclasses).

Next operators, the one place the syntaxes disagree:

============  ===============  ============  ==============
meaning       ours (§3)        Spot (LTLf)   ltlf2dfa
============  ===============  ============  ==============
strong next   ``X f``          ``X[!] f``    ``X f``
weak next     ``WX f``         ``X f``       ``WX f``
yesterday     ``Y f``          (no past)     ``Y f``
weak yest.    ``!Y !f``        (no past)     ``WY f``
trigger       ``!(!a S !b)``   (no past)     ``a P b``
============  ===============  ============  ==============

Spot and ltlf2dfa have no metric operators (Spot's ``F[n..m]`` counts steps,
not time), so printing a metric formula for them raises
:class:`UnsupportedFormula`.  ``true U f`` prints as ``F f`` and
``false R f`` as ``G f`` (also ``O``/``H`` for the past).
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Mapping

from tracelogic.errors import UnsupportedFormula
from tracelogic.logic.formula import Formula, Kind, UNTIMED

from tracelogic.logic.walkers import TreeEmitter

__all__ = [
    "UnsupportedFormula", "format_duration", "to_tracelogic", "to_spot", "to_ltlf2dfa",
    "to_repr",
]


_UNITS = [("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000),
          ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)]


def format_duration(ns: int) -> str:
    """``2_000_000_000 -> '2s'``, ``1500 -> '1500ns'``: the largest unit that divides exactly."""
    if ns == 0:
        return "0s"
    for name, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size}{name}"
    return f"{ns}ns"  # pragma: no cover - ns always divides


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _fmt_interval(f: Formula) -> str:
    iv = f.interval
    if iv is None or iv == UNTIMED:
        return ""
    lo, hi = iv
    if hi is None:
        return f"[>= {format_duration(lo)}]"
    if lo == 0:
        return f"[<= {format_duration(hi)}]"
    return f"[{format_duration(lo)}, {format_duration(hi)}]"


#: the argument that turns an infix operator into its one-argument sugar: ``true U f`` is
#: ``F f``, ``false R f`` is ``G f``, ``true S f`` is ``O f``, ``false T f`` is ``H f``
_UNIT = {Kind.U: Kind.TRUE, Kind.R: Kind.FALSE, Kind.S: Kind.TRUE, Kind.T: Kind.FALSE}


class _Base(TreeEmitter):
    """The text printers: one syntax differs from another in its spelling tables and in
    the operators it cannot express (a subclass overrides those ``walk_`` methods)."""

    #: ``(OP f)`` operators: kind -> OP
    PREFIX: dict[Kind, str] = {}
    #: ``(a OP b)`` operators, with their sugar: kind -> (OP, sugar)
    INFIX: dict[Kind, tuple[str | None, str]] = {}

    def __init__(self, names: Mapping[Hashable, str] | None = None) -> None:
        super().__init__()
        self.names = names or {}

    def name(self, key: Hashable) -> str:
        n = self.names.get(key)
        return n if n is not None else str(key)

    def _nary(self, n: Formula, op: str) -> list:
        pieces: list = ["("]
        for i, a in enumerate(n.args):
            if i:
                pieces.append(op)
            pieces.append(a)
        pieces.append(")")
        return pieces

    def _interval(self, n: Formula) -> str:
        """The interval's text after an operator (a syntax without metric operators refuses
        a timed one)."""
        return _fmt_interval(n)

    def walk_true(self, n):
        return ["true"]

    def walk_false(self, n):
        return ["false"]

    def walk_and(self, n):
        return self._nary(n, " & ")

    def walk_or(self, n):
        return self._nary(n, " | ")

    def walk_not(self, n):
        return ["(!", n.args[0], ")"]

    def _prefix(self, n):
        return [f"({self.PREFIX[n.kind]} ", n.args[0], ")"]

    walk_x = walk_wx = walk_y = walk_z = _prefix

    def _infix(self, n):
        word, sugar = self.INFIX[n.kind]
        iv = self._interval(n)
        if n.args[0].kind is _UNIT[n.kind]:
            return [f"({sugar}{iv} ", n.args[1], ")"]
        return ["(", n.args[0], f" {word}{iv} ", n.args[1], ")"]

    walk_u = walk_r = walk_s = walk_t = _infix


class TracelogicPrinter(_Base):
    """Our own syntax (SPEC-LANGUAGE §3): strong ``X``, weak ``WX``, ``F[<= 2s]``."""

    PREFIX = {Kind.X: "X", Kind.WX: "WX", Kind.Y: "Y"}
    # no trigger operator: ``a T b`` is written ``!(!a S !b)`` (walk_t)
    INFIX = {Kind.U: ("U", "F"), Kind.R: ("R", "G"), Kind.S: ("S", "O"), Kind.T: (None, "H")}

    def walk_atom(self, n):
        s = self.name(n.key)
        return [s if _IDENT.match(s) else f"({s})"]

    def walk_z(self, n):
        return ["(!(Y (!", n.args[0], ")))"]

    def walk_t(self, n):
        if n.args[0].kind is Kind.FALSE:
            return self._infix(n)
        return ["(!((!", n.args[0], f") S{_fmt_interval(n)} (!", n.args[1], ")))"]

    def walk_ua(self, n):  # internal, for debugging automaton states
        return ["(", n.args[0], f" U@r{n.key}{_fmt_interval(n)} ", n.args[1], ")"]

    def walk_ra(self, n):
        return ["(", n.args[0], f" R@r{n.key}{_fmt_interval(n)} ", n.args[1], ")"]


_SPOT_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_SPOT_RESERVED = {"true", "false", "xor", "alive"}


class SpotPrinter(_Base):
    """Spot's LTLf syntax: strong next ``X[!]``, weak next ``X``; no past, no metric."""

    PREFIX = {Kind.X: "X[!]", Kind.WX: "X"}
    INFIX = {Kind.U: ("U", "F"), Kind.R: ("R", "G")}

    def walk_atom(self, n):
        s = self.name(n.key)
        if _SPOT_PLAIN.match(s) and s not in _SPOT_RESERVED:
            return [s]
        return ['"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"']

    def _interval(self, n: Formula) -> str:
        if not n.is_untimed:
            raise UnsupportedFormula(
                f"Spot has no metric operators; cannot print the interval of {n!r}",
                value=n, hint="Spot's F[n..m] counts steps, not time; use the native backend")
        return ""

    def _past(self, n):
        raise UnsupportedFormula(
            f"Spot has no past operators; cannot print {n!r}", value=n,
            hint="use the native backend, which handles Y O H S")

    walk_y = walk_z = walk_s = walk_t = _past


_LTLF2DFA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LTLF2DFA_RESERVED = {"true", "false", "last", "start", "end"}


class Ltlf2dfaPrinter(_Base):
    """ltlf2dfa's syntax: LTLf (``X`` strong, ``WX`` weak) or PPLTL (``Y WY S P O H``).

    ltlf2dfa parses a formula either as future-only LTLf or as pure-past PPLTL;
    mixing raises :class:`UnsupportedFormula`.
    """

    PREFIX = {Kind.X: "X", Kind.WX: "WX", Kind.Y: "Y", Kind.Z: "WY"}
    INFIX = {Kind.U: ("U", "F"), Kind.R: ("R", "G"), Kind.S: ("S", "O"), Kind.T: ("P", "H")}

    def walk_atom(self, n):
        s = self.name(n.key)
        if not _LTLF2DFA_NAME.match(s) or s in _LTLF2DFA_RESERVED:
            raise UnsupportedFormula(
                f"ltlf2dfa atom names are lower-case identifiers, got {s!r}", value=s,
                hint="pass names={key: 'a0', ...}")
        return [s]

    def _interval(self, n: Formula) -> str:
        if not n.is_untimed:
            raise UnsupportedFormula(f"ltlf2dfa has no metric operators: {n!r}", value=n,
                                     hint="only untimed formulas can be cross-checked with MONA")
        return ""


class ReprPrinter(TreeEmitter):
    """Constructor syntax that rebuilds the node with ``from tracelogic.logic import *``."""

    def _iv(self, n: Formula) -> str:
        return "" if n.is_untimed else f", {n.interval!r}"

    def walk_true(self, n):
        return ["TRUE()"]

    def walk_false(self, n):
        return ["FALSE()"]

    def walk_atom(self, n):
        return [f"Atom({n.key!r})"]

    def _call(self, name: str, n: Formula, suffix: str = "") -> list:
        pieces: list = [f"{name}("]
        for i, a in enumerate(n.args):
            if i:
                pieces.append(", ")
            pieces.append(a)
        pieces.append(suffix + ")")
        return pieces

    #: the constructor of each kind; the interval kinds also have their sugar's
    NAMES = {Kind.NOT: "Not", Kind.AND: "And", Kind.OR: "Or", Kind.X: "X", Kind.WX: "WX",
             Kind.Y: "Y", Kind.Z: "Z", Kind.U: ("U", "F"), Kind.R: ("R", "G"),
             Kind.S: ("S", "O"), Kind.T: ("Trigger", "H")}

    def _named(self, n):
        return self._call(self.NAMES[n.kind], n)

    walk_not = walk_and = walk_or = walk_x = walk_wx = walk_y = walk_z = _named

    def _sugared(self, n):
        name, sugar = self.NAMES[n.kind]
        if n.args[0].kind is _UNIT[n.kind]:
            return [f"{sugar}(", n.args[1], self._iv(n) + ")"]
        return self._call(name, n, self._iv(n))

    walk_u = walk_r = walk_s = walk_t = _sugared

    def walk_ua(self, n):
        return self._call(f"_UA[r{n.key}]", n, self._iv(n))

    def walk_ra(self, n):
        return self._call(f"_RA[r{n.key}]", n, self._iv(n))


_REPR = ReprPrinter()


def to_repr(f: Formula) -> str:
    return _REPR.emit(f)


def to_tracelogic(f: Formula, names: Mapping[Hashable, str] | None = None) -> str:
    """Our own syntax, fully parenthesised (paste-able into a ``.spec`` property)."""
    return TracelogicPrinter(names).emit(f)


def to_spot(f: Formula, names: Mapping[Hashable, str] | None = None) -> str:
    """Spot's LTLf syntax (``X[!]`` strong next, ``X`` weak next); future-only, untimed."""
    return SpotPrinter(names).emit(f)


def to_ltlf2dfa(f: Formula, names: Mapping[Hashable, str] | None = None) -> str:
    """ltlf2dfa syntax: future-only LTLf or pure-past PPLTL, untimed."""
    if f.has_future and f.has_past:
        raise UnsupportedFormula(
            f"ltlf2dfa reads either future-only LTLf or pure-past PPLTL, not both: {f!r}",
            value=f, hint="cross-check the future and past parts separately")
    return Ltlf2dfaPrinter(names).emit(f)
