"""Hypothesis strategies for formulas and finite timed words (shared by the
logic, automata and oracle tests)."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tracelogic.logic import (
    FALSE, TRUE, And, Atom, F, G, H, Iff, Implies, M, Not, O, Or, R, S, Trigger, U, W, WX, X,
    Xor, Y, Z,
)

LONG = os.environ.get("TRACELOGIC_LONG") == "1"
ATOMS = ("p", "q", "r")


def examples(ci: int, long: int | None = None) -> settings:
    """Hypothesis settings: ``ci`` examples normally, ``long`` with TRACELOGIC_LONG=1."""
    return settings(max_examples=(long or ci * 10) if LONG else ci, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def intervals(metric: bool, max_bound: int = 4):
    if not metric:
        return st.just(None)

    def mk(lo, width):
        return (lo, None if width is None else lo + width)

    return st.one_of(
        st.just(None),
        st.builds(mk, st.integers(0, max_bound), st.one_of(st.none(), st.integers(0, max_bound))),
    )


def atoms_strategy(atoms=ATOMS, consts: bool = True):
    base = st.sampled_from(atoms).map(Atom)
    if consts:
        return st.one_of(base, base, base, st.sampled_from([TRUE(), FALSE()]))
    return base


def _applied(op, *parts):
    """``op`` over a tuple drawn from ``parts`` (children, then an interval if timed)."""
    return st.tuples(*parts).map(lambda t: op(*t))


def _boolean(children):
    return st.one_of(
        children.map(Not),
        *(_applied(op, children, children) for op in (And, Or, Implies, Iff, Xor)),
    )


def past_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 8):
    iv = intervals(metric)

    def extend(c):
        return st.one_of(
            _boolean(c), c.map(Y), c.map(Z),
            *(_applied(op, c, iv) for op in (O, H)),
            *(_applied(op, c, c, iv) for op in (S, Trigger)),
        )

    return st.recursive(atoms_strategy(atoms), extend, max_leaves=max_leaves)


def future_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 8, leaves=None):
    iv = intervals(metric)

    def extend(c):
        return st.one_of(
            _boolean(c), c.map(X), c.map(WX),
            *(_applied(op, c, iv) for op in (F, G)),
            *(_applied(op, c, c, iv) for op in (U, R, W, M)),
        )

    return st.recursive(leaves if leaves is not None else atoms_strategy(atoms), extend,
                        max_leaves=max_leaves)


def mixed_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 6):
    """Future operators over pure-past subformulas (for past over future too:
    :func:`nested_formulas`, :func:`past_over_future`)."""
    leaves = st.one_of(atoms_strategy(atoms), past_formulas(atoms, metric, max_leaves=4))
    return future_formulas(atoms, metric, max_leaves=max_leaves, leaves=leaves)


def words(atoms=ATOMS, min_size: int = 0, max_size: int = 8, max_gap: int = 3):
    """Finite timed words: (frozenset letter, t_ns) with non-decreasing timestamps
    (equal timestamps are frequent)."""
    letter = st.frozensets(st.sampled_from(atoms))
    gaps = st.integers(0, max_gap)

    def build(pairs, start):
        t = start
        out = []
        for lt, g in pairs:
            t += g
            out.append((lt, t))
        return out

    return st.builds(build, st.lists(st.tuples(letter, gaps), min_size=min_size,
                                     max_size=max_size), st.integers(0, 5))


def nested_formulas(atoms=ATOMS, metric: bool = False, depth: int = 4):
    """LTLf+past in any nesting: past over future (``H (F p)``, ``O[<= 2] (G p)``) and
    future over past (``G (p -> Y q)``), at most ``depth`` operators deep."""
    leaf = atoms_strategy(atoms)
    if depth == 0:
        return leaf
    c = st.deferred(lambda: nested_formulas(atoms, metric, depth - 1))
    iv = intervals(metric)
    return st.one_of(
        leaf,
        c.map(Not),
        st.tuples(c, c).map(lambda t: And(*t)),
        st.tuples(c, c).map(lambda t: Or(*t)),
        st.tuples(c, c).map(lambda t: Implies(*t)),
        st.sampled_from([X, WX, Y, Z]).flatmap(lambda op: c.map(op)),
        st.tuples(st.sampled_from([F, G, O, H]), c, iv).map(lambda t: t[0](t[1], t[2])),
        st.tuples(st.sampled_from([U, R, W, M, S, Trigger]), c, c, iv).map(
            lambda t: t[0](t[1], t[2], t[3])),
    )


def past_over_future(atoms=ATOMS, metric: bool = False, depth: int = 4):
    """A past operator over a future one, inside a context: ``G (a -> Y (F b))``,
    ``O[<= 2] (G p)``, ``(X p) S q``; at most ``depth`` operators deep."""
    from tracelogic.logic.formula import PAST_OVER_FUTURE

    iv = intervals(metric)
    sub = nested_formulas(atoms, metric, max(depth - 3, 0))
    fut = st.one_of(
        st.tuples(st.sampled_from([X, WX]), sub).map(lambda t: t[0](t[1])),
        st.tuples(st.sampled_from([F, G]), sub, iv).map(lambda t: t[0](t[1], t[2])),
        st.tuples(st.sampled_from([U, R]), sub, sub, iv).map(lambda t: t[0](t[1], t[2], t[3])))
    pof = st.one_of(
        st.tuples(st.sampled_from([Y, Z]), fut).map(lambda t: t[0](t[1])),
        st.tuples(st.sampled_from([O, H]), fut, iv).map(lambda t: t[0](t[1], t[2])),
        st.tuples(st.sampled_from([S, Trigger]), fut, sub, iv).map(
            lambda t: t[0](t[1], t[2], t[3])),
        st.tuples(st.sampled_from([S, Trigger]), sub, fut, iv).map(
            lambda t: t[0](t[1], t[2], t[3])))
    other = nested_formulas(atoms, metric, 1)
    ctx = st.one_of(
        pof,
        st.tuples(st.sampled_from([X, WX, Y, Z, Not]), pof).map(lambda t: t[0](t[1])),
        st.tuples(st.sampled_from([F, G, O, H]), pof, iv).map(lambda t: t[0](t[1], t[2])),
        st.tuples(st.sampled_from([U, R, S, Trigger]), pof, other, iv).map(
            lambda t: t[0](t[1], t[2], t[3])),
        st.tuples(st.sampled_from([U, R, S, Trigger]), other, pof, iv).map(
            lambda t: t[0](t[1], t[2], t[3])),
        st.tuples(other, pof).map(lambda t: Implies(*t)),
        st.tuples(st.sampled_from([F, G]), st.tuples(other, pof)).map(
            lambda t: t[0](Implies(*t[1]))))
    return ctx.filter(lambda f: f.flags & PAST_OVER_FUTURE)
