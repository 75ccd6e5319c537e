"""Runtime monitors: the objects generated code steps millions of times.

Every monitor has the same small interface::

    state = mon.initial
    state = mon.step(state, mask, t_ns)     # one event: its letter mask and timestamp
    mon.verdict(state)   # RV-LTL verdict of the open trace (a Verdict)
    mon.final(state)     # LTLf verdict if the trace ends here (bool)
    mon.is_decided(state)  # the verdict can no longer change

``mask`` has bit ``i`` set when ``mon.atoms[i]`` holds at the event.

:class:`TableMonitor` (untimed formulas) is a plain minimal DFA.  Its state is
a small int and it exposes flat tables so that generated code can inline the
lookups instead of calling ``step``::

    s = table[s * n_letters + mask]       # step
    verdicts[s], accepting[s], decided[s]  # per-state answers

``decided[s]`` turns true at the first step whose verdict is final, which is
how the runtime finds the event that decided a verdict.

:class:`TimedMonitor` (metric formulas) is a DFA-with-registers: its state is
a tuple ``(past_state, sid, registers)`` of ints and small tuples of
timestamps; ``step`` allocates only when a register changes.

**Verdicts.**  ``satisfied``/``violated`` are final: every continuation of
the trace agrees.  For a table monitor this is exact, precomputed per state
by reachability over the feasible letters.  For a timed monitor a verdict is
final when the residual obligation has simplified to true or false, which is
sound but may come later than the earliest possible event for contrived
formulas.  Otherwise the verdict is ``presumably_satisfied`` /
``presumably_violated``: the LTLf verdict if the trace ended now.

**Infeasible letters.**  When the alphabet was pruned with Z3, a mask that
the encoding declared impossible leads to the absorbing ``infeasible_state``
whose verdict is ``inconclusive`` (it is decided, and never accepting).  It
means the predicates' encoding and their runtime evaluation disagree; the
checked helpers (:meth:`Monitor.run`) raise :class:`~tracelogic.errors.InputError` instead.
"""
from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from tracelogic.automata.dfa import co_reachable_in
from tracelogic.errors import InputError
from tracelogic.logic.formula import Formula

__all__ = ["Verdict", "Monitor", "TableMonitor", "TimedMonitor", "ValuationMonitor",
           "ReferenceMonitor", "INFEASIBLE"]


class Verdict(str, enum.Enum):
    SATISFIED = "satisfied"
    VIOLATED = "violated"
    PRESUMABLY_SATISFIED = "presumably_satisfied"
    PRESUMABLY_VIOLATED = "presumably_violated"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self in (Verdict.SATISFIED, Verdict.VIOLATED, Verdict.INCONCLUSIVE)


INFEASIBLE = ("infeasible",)  # the timed monitors' infeasible-letter state


class Monitor:
    """Common interface; see the module docstring."""

    formula: Formula
    atoms: tuple[Hashable, ...]
    timed: bool
    initial: Any

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.formula} over {len(self.atoms)} atoms>"

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    def mask(self, letter: Iterable[Hashable]) -> int:
        """The mask of a letter given as the set of true atom keys."""
        return self.alphabet.mask(letter)  # type: ignore[attr-defined]

    def step(self, state: Any, mask: int, t_ns: int = 0) -> Any:  # pragma: no cover
        raise NotImplementedError

    def verdict(self, state: Any) -> Verdict:  # pragma: no cover
        raise NotImplementedError

    def final(self, state: Any) -> bool:  # pragma: no cover
        raise NotImplementedError

    def is_decided(self, state: Any) -> bool:
        return self.verdict(state).is_final

    def run(self, word: Sequence[tuple[Iterable[Hashable], int]]) -> Any:
        """Feed a whole word of ``(letter, t_ns)`` events (checked); returns the state."""
        state = self.initial
        alph = self.alphabet  # type: ignore[attr-defined]
        prev = None
        for i, (letter, t) in enumerate(word):
            if prev is not None and t < prev:
                raise InputError(f"timestamps must be non-decreasing: event {i} has t={t} "
                                 f"after t={prev}", value=t, hint="sort events by timestamp")
            prev = t
            m = alph.mask(letter)
            if not alph.feasible[m]:
                raise InputError(f"event {i}: letter {sorted(map(str, letter))} is impossible "
                                 "according to the predicates' Z3 encoding", value=letter,
                                 hint="the encode() callback and the runtime predicates disagree")
            state = self.step(state, m, t)
        return state

    def accepts(self, word: Sequence[tuple[Iterable[Hashable], int]]) -> bool:
        """LTLf verdict of a complete word."""
        return self.final(self.run(word))


class TableMonitor(Monitor):
    """A minimal DFA with flat tables (untimed formulas)."""

    timed = False
    #: a :class:`~tracelogic.automata.guarded.GuardedMonitor` (BDD guards, lazy table)
    guarded = False

    def __init__(self, automaton: Any) -> None:
        dfa = automaton.dfa
        alph = automaton.alphabet
        self.automaton = automaton
        self.formula = automaton.formula
        self.alphabet = alph
        self.atoms = alph.atoms
        self.n_states = n = dfa.n_states
        self.n_letters = size = 1 << alph.n
        self.initial = dfa.initial
        sink = self._answer([set(row) for row in dfa.delta], [bool(o) for o in dfa.output],
                            alph.pruned)
        total = n if self.infeasible_state is None else n + 1
        table = [sink] * (total * size)
        for s, row in enumerate(dfa.delta):
            base = s * size
            for k, m in enumerate(dfa.letters):
                table[base + m] = row[k]
        if self.infeasible_state is not None:
            base = self.infeasible_state * size
            for m in range(size):
                table[base + m] = self.infeasible_state
        #: ``table[state * n_letters + mask]`` is the successor state
        self.table = table

    def _answer(self, succ: Sequence[Iterable[int]], acc: list[bool], pruned: bool) -> int:
        """Set the per-state answers of the automaton whose states have the successors
        ``succ`` and the LTLf verdicts ``acc``.  A verdict is final where only accepting
        (or only rejecting) states stay reachable, so it is exact over the feasible
        letters.  A ``pruned`` alphabet adds the absorbing ``infeasible_state`` after the
        others.  Returns where the table sends an infeasible letter (-1: nowhere).

        Explicit and guarded automata alike: they differ only in how a letter finds its
        successor."""
        n = len(succ)
        can_acc = co_reachable_in(succ, [s for s in range(n) if acc[s]])
        can_rej = co_reachable_in(succ, [s for s in range(n) if not acc[s]])
        verdicts = []
        for s in range(n):
            if not can_rej[s]:
                verdicts.append(Verdict.SATISFIED)
            elif not can_acc[s]:
                verdicts.append(Verdict.VIOLATED)
            else:
                verdicts.append(Verdict.PRESUMABLY_SATISFIED if acc[s]
                                else Verdict.PRESUMABLY_VIOLATED)
        self.infeasible_state: int | None = None
        if pruned:
            self.infeasible_state = n
            acc.append(False)
            verdicts.append(Verdict.INCONCLUSIVE)
        #: LTLf verdict if the trace ended in this state
        self.accepting = acc
        #: RV-LTL verdict per state
        self.verdicts = verdicts
        #: the verdict of this state is final
        self.decided = [v.is_final for v in verdicts]
        return -1 if self.infeasible_state is None else self.infeasible_state

    def step(self, state: int, mask: int, t_ns: int = 0) -> int:
        return self.table[state * self.n_letters + mask]

    def verdict(self, state: int) -> Verdict:
        return self.verdicts[state]

    def final(self, state: int) -> bool:
        return self.accepting[state]

    def is_decided(self, state: int) -> bool:
        return self.decided[state]


class TimedMonitor(Monitor):
    """A DFA over atoms and timed bits, plus timestamp registers (metric formulas).

    ``past`` (a :class:`~tracelogic.automata.past.PastStage`, or None) computes
    the pure-past subformulas the future part reads as extra atoms; ``future``
    (a :class:`~tracelogic.automata.progression.Progression`) tracks the
    pending obligations and their anchors.
    """

    timed = True

    def __init__(self, formula: Formula, alphabet: Any, past: Any, future: Any) -> None:
        self.formula = formula
        self.alphabet = alphabet
        self.atoms = alphabet.atoms
        self.past = past
        self.future = future
        self.n = alphabet.n
        self.initial = (past.initial if past is not None else None, 0, ())
        self.infeasible_state = INFEASIBLE
        self._feasible = alphabet.feasible

    def step(self, state: tuple, mask: int, t_ns: int = 0) -> tuple:
        if not self._feasible[mask] or state is INFEASIBLE:
            return INFEASIBLE
        ps, sid, regs = state
        if self.past is not None:
            ps, outs = self.past.step(ps, mask, t_ns)
            mask |= outs << self.n
        sid, regs = self.future.step(sid, regs, mask, t_ns)
        return (ps, sid, regs)

    def verdict(self, state: tuple) -> Verdict:
        if state is INFEASIBLE:
            return Verdict.INCONCLUSIVE
        info = self.future.states[state[1]]
        if info.is_true:
            return Verdict.SATISFIED
        if info.is_false:
            return Verdict.VIOLATED
        return Verdict.PRESUMABLY_SATISFIED if info.accepting else Verdict.PRESUMABLY_VIOLATED

    def final(self, state: tuple) -> bool:
        if state is INFEASIBLE:
            return False
        return self.future.states[state[1]].accepting

    def register_count(self, state: tuple) -> int:
        """Timestamps held by this state (past queues and future anchors)."""
        if state is INFEASIBLE:
            return 0
        n = len(state[2])
        if self.past is not None:
            n += self.past.register_count(state[0])
        return n


class ReferenceMonitor(Monitor):
    """A formula no automaton construction covers yet (time bounds and a past operator
    over a future one, ``O[<= 25ms] (G a)``), evaluated over the whole trace.

    The state is the trace read so far, as nested ``(previous, mask, t)`` tuples (``()``
    is the empty trace); :meth:`final` evaluates the formula on it with the reference
    evaluator (:mod:`tracelogic.logic.reference`). The state grows with the trace, so
    this monitor suits per-trace scopes only, where the trace is finite and assembled:
    a cross-trace scope runs over an unbounded stream and refuses such a formula.
    Its verdicts are never final before the end (``presumably_*`` by the trace so far).
    """

    timed = True
    #: the engine steps it without asking for a verdict per event (each costs a whole
    #: evaluation), and asks once at the end
    whole_trace = True

    def __init__(self, formula: Formula, alphabet: Any) -> None:
        self.formula = formula
        self.alphabet = alphabet
        self.atoms = alphabet.atoms
        self.initial: tuple = ()
        self.infeasible_state = INFEASIBLE
        self._feasible = alphabet.feasible
        self._last: tuple[Any, bool] | None = None  # (state, final) of the last evaluation

    def step(self, state: tuple, mask: int, t_ns: int = 0) -> tuple:
        if state is INFEASIBLE or not self._feasible[mask]:
            return INFEASIBLE
        return (state, mask, t_ns)

    def word(self, state: tuple) -> list[tuple[frozenset, int]]:
        """The trace a state stands for, as the reference evaluator reads it."""
        atoms = self.atoms
        out = []
        while state:
            state, mask, t = state
            out.append((frozenset(a for i, a in enumerate(atoms) if (mask >> i) & 1), t))
        out.reverse()
        return out

    def final(self, state: tuple) -> bool:
        if state is INFEASIBLE:
            return False
        last = self._last
        if last is not None and last[0] is state:
            return last[1]
        from tracelogic.logic.reference import verdict

        value = verdict(self.formula, self.word(state))
        self._last = (state, value)
        return value

    def verdict(self, state: tuple) -> Verdict:
        if state is INFEASIBLE:
            return Verdict.INCONCLUSIVE
        return Verdict.PRESUMABLY_SATISFIED if self.final(state) else \
            Verdict.PRESUMABLY_VIOLATED

    def is_decided(self, state: tuple) -> bool:
        return state is INFEASIBLE

    def reason(self, state: tuple) -> str:
        """A violation in words: no single event decided it, the whole trace did."""
        return ("the finished trace violates it (time bounds and a past operator over a "
                "future one: evaluated over the whole trace)")


class ValuationMonitor:
    """Per-event truth of a pure-past formula (``Monitor.valuations`` in the runtime).

    Streaming: ``state = step(state, mask, t)`` then ``value(state)``.  For an
    untimed formula ``table``/``outputs`` are the flat Moore tables
    (``s = table[s * n_letters + mask]; outputs[s]``).  Whole traces:
    :meth:`values` evaluates column-wise in C-level iterators.  The native core runs the
    same stage from rows of columns, atoms included, in batch and one row at a time:
    ``tracelogic.engine.past_plan.NativeValuation(monitor)`` (in the engine layer, which
    this layer does not import).
    """

    def __init__(self, formula: Formula, alphabet: Any, stage: Any) -> None:
        self.formula = formula
        self.alphabet = alphabet
        self.atoms = alphabet.atoms
        self.stage = stage
        self.timed = stage.timed
        self.initial = stage.initial
        self._values_pm: list[bool] | None = None
        if not stage.timed:
            self.table = stage.top.table
            self.outputs = stage.top.out
            self.n_letters = stage.top.size
            self.n_states = stage.top.dfa.n_states

    def __repr__(self) -> str:
        return f"<ValuationMonitor for {self.formula}>"

    def mask(self, letter: Iterable[Hashable]) -> int:
        """The mask of a letter given as the set of true atom keys."""
        return self.alphabet.mask(letter)

    def step(self, state: tuple, mask: int, t_ns: int = 0) -> tuple:
        return self.stage.step(state, mask, t_ns)[0]

    def value(self, state: tuple) -> bool:
        return bool(self.stage.value_bits(state) & 1)

    def values(self, masks: Sequence[int], times: Sequence[int]) -> list[bool]:
        """The formula's value at every event (masks and non-decreasing timestamps)."""
        if len(masks) != len(times):
            raise InputError(f"masks and times differ in length ({len(masks)} != {len(times)})",
                             value=(len(masks), len(times)))
        if self._values_pm is None:
            top = self.stage.top
            pm = [False] * (len(top.out) * top.size)
            for st, o in enumerate(top.out):
                pm[st * top.size] = bool(o & 1)
            self._values_pm = pm
        return list(map(self._values_pm.__getitem__, self.stage.run(masks, times)))
