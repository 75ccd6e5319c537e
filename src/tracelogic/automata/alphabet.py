"""Minterm alphabets over a fixed, ordered tuple of atoms.

A *letter* is an int bitmask: bit ``i`` is set when ``atoms[i]`` is true at
the event.  With ``n`` atoms there are ``2**n`` masks; the alphabet keeps only
the *feasible* ones.  Feasibility comes from an optional Z3 callback
``encode(atom_key) -> z3.BoolRef``: a mask whose conjunction of (negated)
atom encodings is unsatisfiable -- ``name == "a"`` together with
``name == "b"`` -- is removed.  The search is a depth-first enumeration on one
solver, so exclusive atoms cost O(n^2) checks, not 2^n.

Automata built over a pruned alphabet define transitions only for feasible
letters; their flat runtime tables send every infeasible mask to a dedicated
``infeasible`` sink (see :mod:`tracelogic.automata.monitor`).

**Symbolic alphabets.**  Up to ``EXPLICIT_ATOMS`` atoms the letters are listed
and automata are dense tables over them.  Past that the alphabet is *symbolic*:
``letters`` is None, no letter is enumerated, and Z3's verdict is kept as
*constraints*: the atoms are split into groups whose encodings share a Z3
constant (``name == "a"`` and ``name == "b"`` share ``span.name``; conditions on
attributes are fresh Booleans, each a group of its own), and each group's
feasible masks are enumerated on its own bits.  :meth:`Alphabet.care_in` turns
them into one BDD guard (the letters some span can produce), which the symbolic
translator conjoins with every transition guard (:mod:`tracelogic.automata.guarded`).
A group is as large as the atoms that really constrain each other (twenty span
names are one group of 21 feasible masks), never ``2**n``; a group past
``MAX_GROUP_ATOMS`` atoms or ``MAX_GROUP_CHECKS`` checks is left unconstrained.  This
is a choice of representation, not a limit: no formula is refused for its number of
atoms.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from tracelogic.errors import InputError, TracelogicError

__all__ = ["Alphabet", "AlphabetTooLarge", "EXPLICIT_ATOMS", "EXPLICIT_LETTERS",
           "feasible_masks"]

#: Alphabets with at most this many feasible letters list them; larger ones are
#: symbolic (``letters`` is None; BDD guards, see the module doc).
EXPLICIT_LETTERS = 1 << 16
#: ... which any alphabet over at most this many atoms is
EXPLICIT_ATOMS = 16
#: A group of atoms that share Z3 constants is enumerated when it has at most this many
#: atoms and needs at most ``MAX_GROUP_CHECKS`` checks (n exclusive atoms need n(n+1):
#: 32 of them 1,056); a larger one is left unconstrained -- a sound over-approximation
#: (letters no span produces are kept: more guard text, never a different verdict on a
#: real trace) that keeps a 30,000-term `or` of span names from 10^9 solver checks.
MAX_GROUP_ATOMS = 32
MAX_GROUP_CHECKS = 1_100
#: Z3's time for one feasibility check; an undecided letter is kept (see feasible_masks)
CHECK_TIMEOUT_MS = 2000


class AlphabetTooLarge(TracelogicError, ValueError):
    """A construction that reads explicit letters (past stages, past over future) met a
    symbolic alphabet: the message names the subformula responsible."""


def feasible_masks(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any], *,
                   max_checks: int | None = None) -> list[int] | None:
    """Masks over ``atoms`` whose Z3 encoding is satisfiable: a DFS that fixes one bit
    per level and prunes a branch as soon as its prefix is unsatisfiable.

    Each prefix is checked under *assumptions* on one solver, not with push/pop:
    Z3 4.x can take minutes in ``push`` after a satisfiable string-theory check
    (seventeen ``service == s and name == n`` atoms never finished), while the same
    checks under assumptions take milliseconds each.  A check Z3 cannot decide within
    ``CHECK_TIMEOUT_MS`` counts as satisfiable: keeping an infeasible letter only makes
    the automaton larger, never a verdict wrong.  With ``max_checks`` the search gives up
    (None) after that many checks: a count, so the outcome never depends on the load."""
    import z3

    n = len(atoms)
    encodings = []
    for a in atoms:
        e = encode(a)
        if not isinstance(e, z3.BoolRef):
            raise InputError(f"encode({a!r}) must return a z3.BoolRef, got {e!r}", value=e,
                             hint="return e.g. z3.String('name') == z3.StringVal('a')")
        encodings.append(e)
    known = _syntactic_masks(encodings)
    if known is not None:
        return known
    solver = z3.Solver()
    solver.set("timeout", CHECK_TIMEOUT_MS)
    lits = [(z3.Not(e), e) for e in encodings]
    out: list[int] = []
    # iterative DFS over (depth, mask): the item at depth d has fixed bits 0 .. d-1
    stack: list[tuple[int, int]] = [(0, 0)]
    checks = 0
    while stack:
        d, mask = stack.pop()
        if d > 0 and max_checks is not None:
            checks += 1
            if checks > max_checks:
                return None
        if d > 0:
            verdict = solver.check(*[lits[i][(mask >> i) & 1] for i in range(d)])
            if verdict == z3.unsat:
                continue
            if verdict != z3.sat:
                _UNDECIDED[0] += 1  # kept, as satisfiable; such a result is not cached
        if d == n:
            out.append(mask)
            continue
        stack.append((d + 1, mask | (1 << d)))
        stack.append((d + 1, mask))
    out.sort()
    return out


def _syntactic_masks(encodings: Sequence[Any]) -> list[int] | None:
    """The feasible masks of two families whose answer needs no solver, or None.

    Most atoms of a spec are one of them, and a string check costs Z3 about 5 ms (most of
    compiling bench_monitor's spec went there):

    - ``c == "v1"``, ``c == "v2"``, ... over one string constant ``c`` with distinct
      values (span names): at most one holds, and any one or none can (a string constant
      ranges over infinitely many values), so the masks are 0 and each single bit;
    - ``b`` and ``not b`` over one Boolean constant (``start``, a condition Z3 sees as a
      fresh Boolean): the atoms ``b`` all hold and the ``not b`` all fail, or the opposite.

    Exactly what the solver would answer (tests/automata/test_alphabet_z3.py checks it
    against the search); anything else goes to the solver."""
    import z3

    strings: dict[str, Any] = {}     # the constant, once
    values: set[str] = set()
    polarity: list[bool] = []        # per atom of a Boolean family: b (True) or not b
    boolean: set[str] = set()
    for e in encodings:
        if z3.is_eq(e):
            lhs, rhs = e.children()
            if z3.is_string_value(lhs):
                lhs, rhs = rhs, lhs
            if not (_is_constant(lhs) and z3.is_string_value(rhs)):
                return None
            strings[lhs.decl().name()] = lhs
            values.add(rhs.as_string())
        else:
            positive = not z3.is_not(e)
            b = e if positive else e.children()[0]
            if not (_is_constant(b) and z3.is_bool(b)):
                return None
            boolean.add(b.decl().name())
            polarity.append(positive)
    if strings and not boolean:
        if len(strings) != 1 or len(values) != len(encodings):
            return None
        return [0] + [1 << i for i in range(len(encodings))]
    if boolean and not strings and len(boolean) == 1:
        holds = sum(1 << i for i, positive in enumerate(polarity) if positive)
        fails = sum(1 << i for i, positive in enumerate(polarity) if not positive)
        return sorted({holds, fails})
    return None


def _is_constant(t: Any) -> bool:
    """An uninterpreted constant (a Z3 variable), not a literal or an application."""
    import z3

    return z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED


def _z3_groups(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any]
               ) -> list[list[int]]:
    """Atom positions grouped by shared Z3 constants (union-find over each encoding's
    free constants): atoms of different groups constrain each other in no way."""
    import z3

    parent = list(range(len(atoms)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Any, int] = {}
    for i, a in enumerate(atoms):
        e = encode(a)
        if not isinstance(e, z3.BoolRef):
            raise InputError(f"encode({a!r}) must return a z3.BoolRef, got {e!r}", value=e,
                             hint="return e.g. z3.String('name') == z3.StringVal('a')")
        for key in _symbols(e):
            j = owner.setdefault(key, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(len(atoms)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _symbols(e: Any) -> set[Any]:
    """The uninterpreted constants and functions of a Z3 term (iteratively)."""
    import z3

    out: set[Any] = set()
    seen: set[int] = set()
    stack = [e]
    while stack:
        t = stack.pop()
        tid = t.get_id()
        if tid in seen:
            continue
        seen.add(tid)
        if z3.is_app(t):
            d = t.decl()
            if d.kind() == z3.Z3_OP_UNINTERPRETED:
                out.add(d.name())
            stack.extend(t.children())
        elif z3.is_quantifier(t):
            stack.append(t.body())
    return out


def _group_masks(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any]
                 ) -> list[int] | None:
    """The feasible masks of one group, or None (the group left unconstrained) past the
    bounds: ``EXPLICIT_ATOMS`` atoms or fewer are always enumerated, as dense alphabets
    always were; up to ``MAX_GROUP_ATOMS`` within ``MAX_GROUP_CHECKS`` solver checks."""
    if len(atoms) <= EXPLICIT_ATOMS:
        return feasible_masks(atoms, encode)
    if len(atoms) > MAX_GROUP_ATOMS:
        return None
    return feasible_masks(atoms, encode, max_checks=MAX_GROUP_CHECKS)


#: checks Z3 could not decide (within CHECK_TIMEOUT_MS) in this process
_UNDECIDED = [0]

#: the files whose code decides an alphabet's constraints (relative to the package): this
#: module, the encoders (AtomEncoder, OpaqueEncoder), the typed nodes they read and what
#: names their Z3 constants (spec.walker.show, with the values' spellings)
CONSTRAINT_SOURCES = ("automata/alphabet.py", "semantics/lower.py", "engine/compiled.py",
                      "spec/typed.py", "spec/types.py", "spec/walker.py", "spec/lexicon.py",
                      "values/units.py", "values/arith.py", "interning.py", "disk_cache.py")


def _constraints(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any]) -> tuple:
    """``(bits, feasible local masks)`` of each group of atoms that has an infeasible mask."""
    cons = []
    for group in _z3_groups(atoms, encode):
        ok = _group_masks([atoms[i] for i in group], encode)
        if ok is not None and len(ok) != 1 << len(group):
            cons.append((tuple(group), frozenset(ok)))
    return tuple(cons)


def _cached_constraints(atoms: Sequence[Hashable], encode: Callable[[Hashable], Any]) -> tuple:
    """:func:`_constraints`, from tracelogic's disk cache (:mod:`tracelogic.disk_cache`) when
    the encoder can name its encoding of ``atoms`` as text (``encode.cache_key(atoms)``):
    a warm run then neither imports Z3 nor asks it anything. The key adds a fingerprint of
    the code involved and of Z3's installed files; a result with an undecided check (a
    timeout, which depends on the load) is not stored."""
    from tracelogic import disk_cache

    key = None
    key_of = getattr(encode, "cache_key", None)
    text = key_of(atoms) if key_of is not None else None
    if text is not None:
        fp = disk_cache.fingerprint(CONSTRAINT_SOURCES, ("z3",))
        if fp is not None:
            key = f"{fp}\n{text}"
            hit = disk_cache.load("alphabet", key)
            if _valid_constraints(hit, len(atoms)):
                return hit
    undecided = _UNDECIDED[0]
    cons = _constraints(atoms, encode)
    if key is not None and _UNDECIDED[0] == undecided:
        disk_cache.store("alphabet", key, cons)
    return cons


def _valid_constraints(value: Any, n: int) -> bool:
    """Whether ``value`` has the shape of :func:`_constraints`'s result over ``n`` atoms."""
    if type(value) is not tuple:
        return False
    for item in value:
        if type(item) is not tuple or len(item) != 2:
            return False
        bits, ok = item
        if (type(bits) is not tuple or type(ok) is not frozenset
                or not all(type(b) is int and 0 <= b < n for b in bits)
                or not all(type(m) is int and 0 <= m < 1 << len(bits) for m in ok)):
            return False
    return True


class _Feasible:
    """``feasible[mask]`` of a symbolic alphabet: every group's bits form a feasible
    mask of that group (memoised per mask: only letters that occur are asked)."""

    __slots__ = ("constraints", "memo")

    def __init__(self, constraints: tuple) -> None:
        self.constraints = constraints
        self.memo: dict[int, bool] = {}

    def __getitem__(self, mask: int) -> bool:
        r = self.memo.get(mask)
        if r is None:
            r = all(_local(mask, bits) in ok for bits, ok in self.constraints)
            self.memo[mask] = r
        return r


def _local(mask: int, bits: Sequence[int]) -> int:
    out = 0
    for j, b in enumerate(bits):
        out |= ((mask >> b) & 1) << j
    return out


class Alphabet:
    """Ordered atoms and the feasible letters (bitmasks) over them.

    ``symbolic`` (default: more than ``EXPLICIT_ATOMS`` atoms) keeps the letters
    unlisted (``letters`` is None) and Z3's verdict as per-group ``constraints``:
    ``(bits, feasible local masks)`` for each group of atoms that constrain each
    other (only groups with an infeasible mask are kept)."""

    __slots__ = ("atoms", "n", "letters", "index", "feasible", "pruned", "constraints")

    def __init__(self, atoms: Iterable[Hashable], encode: Callable[[Hashable], Any] | None = None,
                 *, letters: Iterable[int] | None = None, symbolic: bool | None = None) -> None:
        self.atoms = tuple(atoms)
        self.n = len(self.atoms)
        if len(set(self.atoms)) != self.n:
            raise InputError(f"atoms must be distinct, got atoms={self.atoms!r}", value=self.atoms)
        self.index = {a: i for i, a in enumerate(self.atoms)}
        self.constraints: tuple = ()
        if letters is None and encode is not None:
            self.constraints = _cached_constraints(self.atoms, encode)
        if symbolic is None:
            symbolic = letters is None and self.count() > EXPLICIT_LETTERS
        if symbolic:
            if letters is not None:
                raise InputError("a symbolic alphabet lists no letters", value=letters)
            self.letters = None
            self.pruned = bool(self.constraints)
            self.feasible = _Feasible(self.constraints)
            return
        if letters is not None:
            self.letters = tuple(sorted(set(letters)))
        elif self.constraints:
            self.letters = tuple(self._product())
        else:
            self.letters = tuple(range(1 << self.n))
        self.pruned = len(self.letters) != (1 << self.n)
        feas = bytearray(1 << self.n)
        for m in self.letters:
            feas[m] = 1
        self.feasible = bytes(feas)

    @property
    def symbolic(self) -> bool:
        return self.letters is None

    def count(self) -> int:
        """The number of feasible letters (without listing them): the product of the
        groups' feasible masks, times 2 per unconstrained atom."""
        total, bound = 1, 0
        for bits, ok in self.constraints:
            total *= len(ok)
            bound += len(bits)
        return total << (self.n - bound)

    def _product(self) -> list[int]:
        """Every feasible letter, sorted: each group's feasible masks combined with the
        others' and with any value of the unconstrained atoms (the set the one DFS over
        all atoms finds, without its ``2**n`` cost on independent atoms)."""
        letters = [0]
        bound = 0
        for bits, ok in self.constraints:
            spread = [sum(((m >> j) & 1) << b for j, b in enumerate(bits)) for m in ok]
            letters = [x | y for x in letters for y in spread]
            for b in bits:
                bound |= 1 << b
        for i in range(self.n):
            if not (bound >> i) & 1:
                letters = letters + [x | (1 << i) for x in letters]
        return sorted(letters)

    def care_in(self, bdd: Any) -> int:
        """The feasible letters as one guard in ``bdd`` (an :class:`~.bdd.BDD`): the
        conjunction over the constraint groups of the disjunction of their feasible
        local minterms. TRUE for an unpruned alphabet."""
        from tracelogic.automata.bdd import FALSE, TRUE

        care = TRUE
        for bits, ok in self.constraints:
            lits = [(bdd.atom(b), bdd.neg(bdd.atom(b))) for b in bits]
            g = FALSE
            for m in sorted(ok):
                term = TRUE
                for j, (pos, neg) in enumerate(lits):
                    term = bdd.conj(term, pos if (m >> j) & 1 else neg)
                g = bdd.disj(g, term)
            care = bdd.conj(care, g)
        return care

    def __repr__(self) -> str:
        if self.letters is None:
            return f"Alphabet({self.atoms!r}, symbolic, {len(self.constraints)} constraints)"
        return f"Alphabet({self.atoms!r}, letters={len(self.letters)}/{1 << self.n})"

    def mask(self, letter: Iterable[Hashable]) -> int:
        """The mask of a letter given as the set of true atom keys (unknown keys ignored)."""
        idx = self.index
        m = 0
        for k in letter:
            i = idx.get(k)
            if i is not None:
                m |= 1 << i
        return m

    def letter(self, mask: int) -> frozenset:
        return frozenset(a for i, a in enumerate(self.atoms) if mask >> i & 1)
