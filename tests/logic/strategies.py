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


def _boolean(children):
    return st.one_of(
        children.map(Not),
        st.tuples(children, children).map(lambda t: And(*t)),
        st.tuples(children, children).map(lambda t: Or(*t)),
        st.tuples(children, children).map(lambda t: Implies(*t)),
        st.tuples(children, children).map(lambda t: Iff(*t)),
        st.tuples(children, children).map(lambda t: Xor(*t)),
    )


def past_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 8):
    iv = intervals(metric)

    def extend(c):
        return st.one_of(
            _boolean(c),
            c.map(Y), c.map(Z),
            st.tuples(c, iv).map(lambda t: O(*t)),
            st.tuples(c, iv).map(lambda t: H(*t)),
            st.tuples(c, c, iv).map(lambda t: S(*t)),
            st.tuples(c, c, iv).map(lambda t: Trigger(*t)),
        )

    return st.recursive(atoms_strategy(atoms), extend, max_leaves=max_leaves)


def future_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 8, leaves=None):
    iv = intervals(metric)

    def extend(c):
        return st.one_of(
            _boolean(c),
            c.map(X), c.map(WX),
            st.tuples(c, iv).map(lambda t: F(*t)),
            st.tuples(c, iv).map(lambda t: G(*t)),
            st.tuples(c, c, iv).map(lambda t: U(*t)),
            st.tuples(c, c, iv).map(lambda t: R(*t)),
            st.tuples(c, c, iv).map(lambda t: W(*t)),
            st.tuples(c, c, iv).map(lambda t: M(*t)),
        )

    return st.recursive(leaves if leaves is not None else atoms_strategy(atoms), extend,
                        max_leaves=max_leaves)


def mixed_formulas(atoms=ATOMS, metric: bool = False, max_leaves: int = 6):
    """Future operators over pure-past subformulas (past-over-future is not supported)."""
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
