"""Hash-consed temporal formulas (LTLf + past + metric), pysmt style.

Every formula node is built by a :class:`FormulaManager`, which interns it:
two structurally equal formulas are *the same Python object*.  That is why
``__eq__`` is identity and ``__hash__`` is a small integer id: comparing and
hashing a formula is O(1) whatever its size, and every pass can memoize on
nodes in a plain dict (the walkers in :mod:`tracelogic.logic.walkers` do).

Nodes are immutable.  Sugar (``F G W M O H -> <-> xor``) is lowered to a small
core inside the manager, so later passes handle only these kinds:

=========  ==============================================================
kind       meaning at event *i* of a finite timed word (SPEC-LANGUAGE §3)
=========  ==============================================================
TRUE       true
FALSE      false
ATOM       the caller's ``key`` is in the letter at *i*
NOT/AND/OR boolean (AND/OR n-ary, flattened, deduplicated, sorted by id)
X          strong next: there is an event *i+1* and the operand holds there
WX         weak next: if there is an event *i+1*, the operand holds there
U[I]       some *j >= i* with ``t_j - t_i`` in I has ψ, and φ holds on [i, j)
R[I]       dual of U: ``φ R[I] ψ  ==  !(!φ U[I] !ψ)``
Y          strong yesterday: *i > 0* and the operand holds at *i-1*
Z          weak yesterday: *i == 0* or the operand holds at *i-1* (internal;
           it is the dual of Y, used by the NNF pass)
S[I]       some *j <= i* with ``t_i - t_j`` in I has ψ, and φ holds on (j, i]
T[I]       "trigger", the dual of S: ``φ T[I] ψ  ==  !(!φ S[I] !ψ)``
=========  ==============================================================

``UA`` and ``RA`` are internal kinds of the automata package: an until/release
whose window is anchored at a timestamp register (slot number in ``key``)
rather than at the current event.  They never appear in user formulas.

Intervals are ``(lo_ns, hi_ns)`` pairs, inclusive, in integer nanoseconds;
``hi_ns is None`` means unbounded and ``(0, None)`` is "untimed".

**The empty trace.**  A trace's verdict is the formula's truth at event 0.
The empty trace has no event 0; it satisfies a formula iff the formula's
*end-of-trace value* is true: atoms are false, the strong operators
``X U Y S`` are false, their duals ``WX R Z T`` are true, and booleans
compose.  So ``G p`` (= ``false R p``) holds on the empty trace and ``F p``
(= ``true U p``) does not; this is the standard LTLf convention.  Each node
caches that value (``node.empty_value``), and simplifications are only
applied when they preserve it: ``F true`` ("the trace is non-empty") and
``G false`` ("the trace is empty") are therefore *not* folded to constants.
"""
from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from typing import Any

from tracelogic.errors import SpecTypeError
from tracelogic.interning import Interned, Interner

__all__ = [
    "Kind", "Formula", "FormulaManager", "Interval", "UNTIMED",
    "get_manager", "interval", "within", "at_least",
]

Interval = tuple[int, "int | None"]
UNTIMED: Interval = (0, None)


class Kind(enum.IntEnum):
    TRUE = 0
    FALSE = 1
    ATOM = 2
    NOT = 3
    AND = 4
    OR = 5
    X = 6
    WX = 7
    U = 8
    R = 9
    Y = 10
    Z = 11
    S = 12
    T = 13
    UA = 14  # internal: until anchored at a timestamp register (automata)
    RA = 15  # internal: release anchored at a timestamp register (automata)


FUTURE_KINDS = frozenset({Kind.X, Kind.WX, Kind.U, Kind.R, Kind.UA, Kind.RA})
PAST_KINDS = frozenset({Kind.Y, Kind.Z, Kind.S, Kind.T})
INTERVAL_KINDS = frozenset({Kind.U, Kind.R, Kind.S, Kind.T, Kind.UA, Kind.RA})
BOOLEAN_KINDS = frozenset({Kind.TRUE, Kind.FALSE, Kind.ATOM, Kind.NOT, Kind.AND, Kind.OR})

# flag bits cached on every node (computed from the children at construction,
# so no pass ever has to recurse to learn them)
HAS_FUTURE = 1
HAS_PAST = 2
HAS_METRIC = 4
HAS_ANCHOR = 8
PAST_OVER_FUTURE = 16  # a past operator has a future operator below it

# end-of-trace value of each temporal kind: strong operators are false
_STRONG_EMPTY = {Kind.X: False, Kind.WX: True, Kind.U: False, Kind.R: True,
                 Kind.Y: False, Kind.Z: True, Kind.S: False, Kind.T: True,
                 Kind.UA: False, Kind.RA: True}


def interval(lo: int = 0, hi: int | None = None) -> Interval:
    """Validate and return an interval ``(lo_ns, hi_ns)``; ``hi=None`` is unbounded."""
    if isinstance(lo, bool) or not isinstance(lo, int):
        raise SpecTypeError(f"an interval bound is an integer number of nanoseconds, got lo={lo!r}",
                            value=lo, hint="write durations with a unit, e.g. `F[<= 2s]`")
    if hi is not None and (isinstance(hi, bool) or not isinstance(hi, int)):
        raise SpecTypeError(f"an interval bound is an integer number of nanoseconds, got hi={hi!r}",
                            value=hi, hint="write durations with a unit, e.g. `F[<= 2s]`")
    if lo < 0:
        raise SpecTypeError(f"interval lower bound must be >= 0, got lo={lo!r}", value=lo,
                            hint="bounds are measured from the current event, e.g. `F[100ms, 2s]`")
    if hi is not None and hi < lo:
        raise SpecTypeError(f"empty interval [{lo}, {hi}]: the upper bound is below the lower bound",
                            value=(lo, hi), hint="swap the bounds, e.g. `F[100ms, 2s]`")
    return (lo, hi)


def within(hi_ns: int) -> Interval:
    """``[<= hi_ns]``"""
    return interval(0, hi_ns)


def at_least(lo_ns: int) -> Interval:
    """``[>= lo_ns]``"""
    return interval(lo_ns, None)


def _check_interval(iv: Any) -> Interval:
    if iv is None:
        return UNTIMED
    if isinstance(iv, tuple) and len(iv) == 2:
        return interval(iv[0], iv[1])
    raise SpecTypeError(f"an interval is a pair (lo_ns, hi_ns | None), got interval={iv!r}",
                        value=iv, hint="e.g. (0, 2_000_000_000) for `[<= 2s]`")


class Formula(Interned):
    """One interned formula node.  Build nodes only through a :class:`FormulaManager`.

    Identity is equality: the manager guarantees structural sharing (:class:`Interned`)."""

    __slots__ = ("id", "kind", "args", "key", "interval", "flags", "empty_value", "manager",
                 "__weakref__")
    _NOUN = "formula nodes"

    id: int
    kind: Kind
    args: tuple["Formula", ...]
    key: Hashable
    interval: Interval | None
    flags: int
    empty_value: bool

    def __init__(self, *a: Any, **k: Any) -> None:  # pragma: no cover - guarded
        raise TypeError("formulas are built by a FormulaManager, e.g. tracelogic.logic.Atom('p')")

    def __lt__(self, other: "Formula") -> bool:  # stable ordering for sorting
        return self.id < other.id

    def __reduce__(self):
        # Unpickling goes through the (default) manager, so identity is restored.
        return (_rebuild, (self.kind, self.args, self.key, self.interval))

    def __repr__(self) -> str:
        from tracelogic.logic.printers import to_repr
        return to_repr(self)

    def __str__(self) -> str:
        from tracelogic.logic.printers import to_tracelogic
        return to_tracelogic(self)

    # convenience
    def __and__(self, other: "Formula") -> "Formula":
        return self.manager.And(self, other)

    def __or__(self, other: "Formula") -> "Formula":
        return self.manager.Or(self, other)

    def __invert__(self) -> "Formula":
        return self.manager.Not(self)

    def __rshift__(self, other: "Formula") -> "Formula":
        return self.manager.Implies(self, other)

    @property
    def lo(self) -> int:
        return self.interval[0] if self.interval else 0

    @property
    def hi(self) -> int | None:
        return self.interval[1] if self.interval else None

    @property
    def is_untimed(self) -> bool:
        """True when this *node's* interval is ``[0, inf)`` (or it has none)."""
        return self.interval is None or self.interval == UNTIMED

    @property
    def has_future(self) -> bool:
        return bool(self.flags & HAS_FUTURE)

    @property
    def has_past(self) -> bool:
        return bool(self.flags & HAS_PAST)

    @property
    def is_metric(self) -> bool:
        """Some node below (or this one) has a bounded interval."""
        return bool(self.flags & HAS_METRIC)

    @property
    def is_pure_past(self) -> bool:
        return not (self.flags & HAS_FUTURE)

    @property
    def is_propositional(self) -> bool:
        return not (self.flags & (HAS_FUTURE | HAS_PAST))

    def arg(self, i: int) -> "Formula":
        return self.args[i]


def _rebuild(kind: Kind, args: tuple, key: Any, iv: Any) -> Formula:
    return get_manager()._make(kind, args, key, iv)


class FormulaManager(Interner[Formula]):
    """Builds and interns every formula node, simplifying as it goes.

    Constructors are named after the operators: ``Atom Not And Or Implies Iff
    Xor X WX U R W M F G Y Z O H S Trigger`` and the constants ``TRUE()`` /
    ``FALSE()``.  Binary temporal constructors take an optional ``interval``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._true = self._make(Kind.TRUE, (), None, None)
        self._false = self._make(Kind.FALSE, (), None, None)

    # -- interning --------------------------------------------------------------
    def _make(self, kind: Kind, args: tuple, key: Any, iv: Interval | None) -> Formula:
        # the atom key's type is part of the identity so that Atom(1) and Atom(True)
        # (equal and hash-equal in Python) stay different atoms
        return self._intern((kind, args, type(key), key, iv), kind, args, key, iv)

    def _build(self, id: int, kind: Kind, args: tuple, key: Any,
               iv: Interval | None) -> Formula:
        flags = 0
        for a in args:
            flags |= a.flags
        if kind in FUTURE_KINDS:
            flags |= HAS_FUTURE
        elif kind in PAST_KINDS:
            if flags & HAS_FUTURE:
                flags |= PAST_OVER_FUTURE
            flags |= HAS_PAST
        if iv is not None and iv != UNTIMED:
            flags |= HAS_METRIC
        if kind in (Kind.UA, Kind.RA):
            flags |= HAS_ANCHOR | HAS_METRIC
        if kind is Kind.TRUE:
            ev = True
        elif kind in (Kind.FALSE, Kind.ATOM):
            ev = False
        elif kind is Kind.NOT:
            ev = not args[0].empty_value
        elif kind is Kind.AND:
            ev = all(a.empty_value for a in args)
        elif kind is Kind.OR:
            ev = any(a.empty_value for a in args)
        else:
            ev = _STRONG_EMPTY[kind]
        return Formula._new(id, kind, args, key, iv, flags, ev, self)

    def _check(self, f: Any, what: str) -> Formula:
        if not isinstance(f, Formula):
            raise SpecTypeError(f"{what} expects a formula, got {f!r} of type {type(f).__name__}",
                                value=f, hint="build formulas with the manager, e.g. Atom('p')")
        if f.manager is not self:
            raise SpecTypeError(f"{what}: formula {f!r} belongs to another FormulaManager",
                                value=f, hint="build every formula of one property with one manager")
        return f

    # -- constants and atoms -----------------------------------------------------
    def TRUE(self) -> Formula:
        return self._true

    def FALSE(self) -> Formula:
        return self._false

    def Bool(self, value: bool) -> Formula:
        return self._true if value else self._false

    def Atom(self, key: Hashable) -> Formula:
        try:
            hash(key)
        except TypeError as e:
            raise SpecTypeError(f"an atom key must be hashable, got key={key!r}", value=key,
                                hint="use a string, a tuple or a frozen dataclass") from e
        if isinstance(key, Formula):
            raise SpecTypeError(f"an atom key must not be a formula, got key={key!r}", value=key,
                                hint="use the formula itself instead of Atom(formula)")
        return self._make(Kind.ATOM, (), key, None)

    # -- boolean -----------------------------------------------------------------
    def Not(self, f: Formula) -> Formula:
        f = self._check(f, "Not")
        k = f.kind
        if k is Kind.TRUE:
            return self._false
        if k is Kind.FALSE:
            return self._true
        if k is Kind.NOT:
            return f.args[0]
        return self._make(Kind.NOT, (f,), None, None)

    def _nary(self, kind: Kind, args: Iterable[Any], name: str) -> Formula:
        unit, zero = (self._true, self._false) if kind is Kind.AND else (self._false, self._true)
        seen: set[Formula] = set()
        flat: list[Formula] = []
        stack = list(args)
        stack.reverse()
        while stack:
            a = stack.pop()
            if isinstance(a, (list, tuple)) and not isinstance(a, Formula):
                stack.extend(reversed(a))
                continue
            a = self._check(a, name)
            if a.kind is kind:
                stack.extend(reversed(a.args))
                continue
            if a is unit:
                continue
            if a is zero:
                return zero
            if a not in seen:
                seen.add(a)
                flat.append(a)
        if not flat:
            return unit
        # complementary pair: p & !p -> false, p | !p -> true
        for a in flat:
            if a.kind is Kind.NOT and a.args[0] in seen:
                return zero
        # absorption: p & (p | q) -> p, p | (p & q) -> p
        dual = Kind.OR if kind is Kind.AND else Kind.AND
        if len(flat) > 1:
            flat = [a for a in flat
                    if not (a.kind is dual and any(b in seen for b in a.args))]
        if len(flat) == 1:
            return flat[0]
        flat.sort(key=lambda n: n.id)
        return self._make(kind, tuple(flat), None, None)

    def And(self, *args: Formula | Iterable[Formula]) -> Formula:
        return self._nary(Kind.AND, args, "And")

    def Or(self, *args: Formula | Iterable[Formula]) -> Formula:
        return self._nary(Kind.OR, args, "Or")

    def Implies(self, a: Formula, b: Formula) -> Formula:
        return self.Or(self.Not(a), b)

    def Iff(self, a: Formula, b: Formula) -> Formula:
        a = self._check(a, "Iff")
        b = self._check(b, "Iff")
        if a is b:
            return self._true
        return self.And(self.Or(self.Not(a), b), self.Or(a, self.Not(b)))

    def Xor(self, a: Formula, b: Formula) -> Formula:
        a = self._check(a, "Xor")
        b = self._check(b, "Xor")
        if a is b:
            return self._false
        return self.Or(self.And(a, self.Not(b)), self.And(self.Not(a), b))

    # -- next / yesterday ----------------------------------------------------------
    def X(self, f: Formula) -> Formula:
        f = self._check(f, "X")
        if f is self._false:
            return self._false
        return self._make(Kind.X, (f,), None, None)

    def WX(self, f: Formula) -> Formula:
        f = self._check(f, "WX")
        if f is self._true:
            return self._true
        return self._make(Kind.WX, (f,), None, None)

    def Y(self, f: Formula) -> Formula:
        f = self._check(f, "Y")
        if f is self._false:
            return self._false
        return self._make(Kind.Y, (f,), None, None)

    def Z(self, f: Formula) -> Formula:
        f = self._check(f, "Z")
        if f is self._true:
            return self._true
        return self._make(Kind.Z, (f,), None, None)

    # -- until / release / since / trigger ------------------------------------------
    def _binary(self, kind: Kind, a: Formula, b: Formula, iv: Any, name: str) -> Formula:
        a = self._check(a, name)
        b = self._check(b, name)
        iv = _check_interval(iv)
        strong = kind in (Kind.U, Kind.S)  # U/S are "exists", R/T are "forall"
        T, F = self._true, self._false
        zero_in = iv[0] == 0
        # The unit/zero of the existential operators and their duals.  Each rule
        # below is valid at every event of every non-empty trace; it is applied
        # only when it also keeps the end-of-trace value (see module doc).
        want = not strong  # end-of-trace value of this node
        cand: Formula | None = None
        if strong:
            if b is F:
                cand = F
            elif a is F:
                cand = b if zero_in else F
            elif b is T and zero_in:
                cand = T
            elif a is b and zero_in:
                cand = b
            elif (iv == UNTIMED and a is T and b.kind is kind and b.args[0] is T
                  and b.interval == UNTIMED):
                cand = b  # F F p -> F p, O O p -> O p
        else:
            if b is T:
                cand = T
            elif a is T:
                cand = b if zero_in else T
            elif b is F and zero_in:
                cand = F
            elif a is b and zero_in:
                cand = b
            elif (iv == UNTIMED and a is F and b.kind is kind and b.args[0] is F
                  and b.interval == UNTIMED):
                cand = b  # G G p -> G p, H H p -> H p
        if cand is not None and cand.empty_value is want:
            return cand
        return self._make(kind, (a, b), None, iv)

    def U(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """``a U[I] b`` (strong until)."""
        return self._binary(Kind.U, a, b, interval, "U")

    def R(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """``a R[I] b == !(!a U[I] !b)`` (release)."""
        return self._binary(Kind.R, a, b, interval, "R")

    def S(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """``a S[I] b`` (strong since)."""
        return self._binary(Kind.S, a, b, interval, "S")

    def Trigger(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """``a T[I] b == !(!a S[I] !b)``, the dual of since."""
        return self._binary(Kind.T, a, b, interval, "Trigger")

    # -- sugar ------------------------------------------------------------------------
    def F(self, f: Formula, interval: Any = None) -> Formula:
        """``F[I] f == true U[I] f``"""
        return self.U(self._true, f, interval)

    def G(self, f: Formula, interval: Any = None) -> Formula:
        """``G[I] f == false R[I] f``"""
        return self.R(self._false, f, interval)

    def O(self, f: Formula, interval: Any = None) -> Formula:  # noqa: E743
        """``O[I] f == true S[I] f``"""
        return self.S(self._true, f, interval)

    def H(self, f: Formula, interval: Any = None) -> Formula:
        """``H[I] f == false T[I] f``"""
        return self.Trigger(self._false, f, interval)

    def W(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """Weak until, SPEC §3: ``a W[I] b == (a U[I] b) | G[I] a``.

        Untimed, this is lowered to the equivalent single node ``b R (a | b)``.
        """
        iv = _check_interval(interval)
        if iv == UNTIMED:
            return self.R(b, self.Or(a, b))
        return self.Or(self.U(a, b, iv), self.G(a, iv))

    def M(self, a: Formula, b: Formula, interval: Any = None) -> Formula:
        """Strong release, SPEC §3: ``a M[I] b == !(!a W[I] !b) == (a R[I] b) & F[I] a``.

        Untimed, this is lowered to the equivalent single node ``b U (a & b)``.
        """
        iv = _check_interval(interval)
        if iv == UNTIMED:
            return self.U(b, self.And(a, b))
        return self.And(self.R(a, b, iv), self.F(a, iv))

    # -- internal: anchored windows (automata package) ---------------------------------
    def _anchored(self, kind: Kind, a: Formula, b: Formula, iv: Interval, slot: int) -> Formula:
        return self._make(kind, (a, b), slot, iv)

    def without_bounds(self, f: Formula) -> Formula:
        """``f`` with every time bound dropped (``F[<= 2s] a`` becomes ``F a``).

        Where every interval of ``f`` starts at 0, both have the same truth value at
        every position of a trace that lasts no longer than the least upper bound: every
        distance between two of its events lies inside every interval.
        """
        unbounded = {Kind.U: self.U, Kind.R: self.R, Kind.S: self.S, Kind.T: self.Trigger}
        done: dict[int, Formula] = {}
        stack = [f]
        while stack:  # post-order without recursion: formulas can be deep
            node = stack[-1]
            if node.id in done:
                stack.pop()
                continue
            kids = [a for a in node.args if isinstance(a, Formula)]
            todo = [a for a in kids if a.id not in done]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            args = tuple(done[a.id] for a in kids)
            if node.kind in unbounded:
                done[node.id] = unbounded[node.kind](*args)
            else:
                done[node.id] = self.rebuild(node, args) if kids else node
        return done[f.id]

    def rebuild(self, f: Formula, args: tuple[Formula, ...]) -> Formula:
        """Rebuild ``f`` with new children through the simplifying constructors."""
        k = f.kind
        if k is Kind.NOT:
            return self.Not(args[0])
        if k is Kind.AND:
            return self.And(*args)
        if k is Kind.OR:
            return self.Or(*args)
        if k is Kind.X:
            return self.X(args[0])
        if k is Kind.WX:
            return self.WX(args[0])
        if k is Kind.Y:
            return self.Y(args[0])
        if k is Kind.Z:
            return self.Z(args[0])
        if k is Kind.U:
            return self.U(args[0], args[1], f.interval)
        if k is Kind.R:
            return self.R(args[0], args[1], f.interval)
        if k is Kind.S:
            return self.S(args[0], args[1], f.interval)
        if k is Kind.T:
            return self.Trigger(args[0], args[1], f.interval)
        if k in (Kind.UA, Kind.RA):
            return self._anchored(k, args[0], args[1], f.interval, f.key)  # type: ignore[arg-type]
        return f


_DEFAULT = FormulaManager()


def get_manager() -> FormulaManager:
    """The process-wide default manager used by the module-level constructors."""
    return _DEFAULT
