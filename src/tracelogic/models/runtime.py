"""What the runtime monitor calls for ``conforms W``, ``saga W`` and ``follows M on VAR by EXPR``.

Everything here is pure: built once per property from the typed Spec, then
stepped per event. Full contracts are in docs/workflows.md and docs/models.md.

**Events and letters** (``conforms`` and ``saga``). The runtime projects an
assembled trace onto its step spans, in the event order of SPEC-LANGUAGE.md §3.
A span is classified by the **first** entry of ``automaton.steps`` whose
predicate (``automaton.predicates[name]``) holds for it: forward steps in order
of first appearance in the workflow, then compensations. A span matching none is
not projected. Each projected span gives two events, at its start and at its
end; both carry ``failed = (status == error)`` (the status is final at both
events, §2). The letter of an event is::

    letter = 4 * automaton.steps.index(step) + 2 * failed + (phase == "end")

(:meth:`ConformsAutomaton.letter` computes it).

**conforms** — :func:`conforms_automaton` returns a complete minimal DFA over
those letters: ``state = a.initial``; ``state = a.delta[state][letter]``;
``state in a.accepting`` is the verdict of a trace that ends there;
``a.live[state]`` tells whether acceptance is still reachable (False: violated,
final); ``a.verdict(state)`` maps that to a :class:`~tracelogic.automata.monitor.Verdict`.

**saga** — :func:`saga_monitor` returns a :class:`SagaMonitor` with the same
interface over the same letters, but its state is a small immutable tuple (the
stack of completed steps is unbounded with ``*``), so it is not a table:
``state = m.step(state, letter)``; ``m.verdict(state)``; ``m.final(state)``;
``m.reason(state)`` explains a violation. ``m.start()`` gives a mutable
:class:`SagaRun` with ``run.step(event) -> state`` and ``run.verdict``.

**follows** — :func:`follows_monitor` returns a :class:`FollowsMonitor` over the
observed values of ``EXPR`` (one per span that carries it, in event order):
``state = f.initial``; ``state = f.step(state, value)``; ``f.verdict(state)``;
``f.final(state)``. States are ints; the subset construction is done lazily and
cached, or all at once with :meth:`FollowsMonitor.table`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from tracelogic.automata.dfa import DFA, live_states
from tracelogic.automata.monitor import Verdict
from tracelogic.errors import InputError
from tracelogic.models.machine import (DEFAULT_STATE_BOUND, Machine, UnsupportedModel, explore,
                                       show_value)
from tracelogic.models.workflow import (END, START, Event, Wf, conforms_dfa, from_ast,
                                        full_alphabet, steps_of)
from tracelogic.spec import types as T
from tracelogic.spec.typed import ModelT, WorkflowT

__all__ = ["ConformsAutomaton", "conforms_automaton", "SagaMonitor", "SagaRun", "saga_monitor",
           "FollowsMonitor", "follows_monitor", "Verdict", "Event", "letter_of", "resolve_model",
           "resolve_workflow", "for_property"]


def _resolve(spec, name: str, table: str):
    """``name`` or ``alias.name`` (through ``spec.imports``) in ``spec.<table>``."""
    here = getattr(spec, table)
    if name in here:
        return here[name]
    alias, dot, rest = name.partition(".")
    if dot and alias in spec.imports:
        return _resolve(spec.imports[alias], rest, table)
    raise KeyError(name)


def resolve_model(spec, name: str) -> ModelT:
    """The model a ``follows`` property names, following import aliases."""
    return _resolve(spec, name, "models")


def resolve_workflow(spec, name: str) -> WorkflowT:
    """The workflow a ``conforms``/``saga`` property names, following import aliases."""
    return _resolve(spec, name, "workflows")


def for_property(spec, prop, *, bound: int = DEFAULT_STATE_BOUND):
    """The automaton or monitor of a ``conforms``, ``saga`` or ``follows`` property."""
    if prop.kind == "conforms":
        return conforms_automaton(resolve_workflow(spec, prop.target))
    if prop.kind == "saga":
        return saga_monitor(resolve_workflow(spec, prop.target))
    if prop.kind == "follows":
        return follows_monitor(resolve_model(spec, prop.target), prop.follows_var, bound=bound)
    raise ValueError(f"property `{prop.name}` is a {prop.kind} property, not conforms/saga/follows")


def letter_of(steps: Sequence[str], step: str, phase: str, failed: bool) -> int:
    """``4 * steps.index(step) + 2 * failed + (phase == "end")``."""
    if phase not in (START, END):
        raise ValueError(f"phase must be 'start' or 'end', not {phase!r}")
    return 4 * steps.index(step) + 2 * bool(failed) + (phase == END)


def _step_order(wf: WorkflowT) -> tuple[tuple[str, ...], Wf]:
    w = from_ast(wf.expr)
    forward = steps_of(w)
    comps = tuple(c for _, c in wf.compensations if c not in forward)
    return tuple(forward) + tuple(dict.fromkeys(comps)), w


# ---------------------------------------------------------------- conforms


@dataclass(frozen=True)
class ConformsAutomaton:
    """The ``conforms W`` DFA and what the runtime needs to feed it (see the module docstring).

    The runtime tables (``delta``, ``accepting``, ``live``, ``always``) are read off the
    kernel's :class:`~tracelogic.automata.dfa.DFA` once, when the automaton is made, so
    stepping a trace never recomputes them."""

    workflow: str
    steps: tuple[str, ...]
    forward: tuple[str, ...]
    compensations: tuple[tuple[str, str], ...]
    predicates: dict = field(repr=False)
    dfa: DFA = field(repr=False)
    # the table, flat
    delta: tuple[tuple[int, ...], ...] = field(init=False, repr=False)
    accepting: frozenset = field(init=False, repr=False)
    live: tuple[bool, ...] = field(init=False, repr=False)
    always: tuple[bool, ...] = field(init=False, repr=False)  # every continuation accepted

    def __post_init__(self) -> None:
        d = self.dfa
        tables = {"delta": tuple(tuple(row) for row in d.delta),
                  "accepting": frozenset(s for s, o in enumerate(d.output) if o),
                  "live": tuple(live_states(d)), "always": _always(d)}
        for name, value in tables.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    @property
    def initial(self) -> int:
        return self.dfa.initial

    @property
    def n_states(self) -> int:
        return self.dfa.n_states

    @property
    def accepts_empty(self) -> bool:
        """Whether a trace without any step span conforms (it does iff ``W`` accepts ε)."""
        return bool(self.dfa.output[self.dfa.initial])

    def letter(self, step: str, phase: str, failed: bool = False) -> int:
        return letter_of(self.steps, step, phase, failed)

    def event(self, letter: int) -> Event:
        return self.dfa.letters[letter]

    def step(self, state: int, letter: int) -> int:
        return self.delta[state][letter]

    def run(self, events: Iterable[Event | int]) -> int:
        s = self.dfa.initial
        for e in events:
            k = e if isinstance(e, int) else self.letter(e.step, e.phase, e.failed)
            s = self.delta[s][k]
        return s

    def final(self, state: int) -> bool:
        return state in self.accepting

    def verdict(self, state: int) -> Verdict:
        if not self.live[state]:
            return Verdict.VIOLATED
        if self.always[state]:
            return Verdict.SATISFIED
        return Verdict.PRESUMABLY_SATISFIED if state in self.accepting \
            else Verdict.PRESUMABLY_VIOLATED

    def is_decided(self, state: int) -> bool:
        return not self.live[state] or self.always[state]


def conforms_automaton(wf: WorkflowT) -> ConformsAutomaton:
    """The ``conforms`` automaton of a typed workflow (letters as in the module docstring)."""
    steps, w = _step_order(wf)
    forward = steps_of(w)
    dfa = conforms_dfa(w, steps[len(forward):])
    assert dfa.letters == full_alphabet(steps)
    return ConformsAutomaton(wf.name, steps, tuple(forward), tuple(wf.compensations),
                             dict(wf.steps), dfa)


def _always(d: DFA) -> tuple[bool, ...]:
    """States from which every reachable state accepts (greatest fixpoint, iterative)."""
    ok = [bool(o) for o in d.output]
    changed = True
    while changed:
        changed = False
        for s in range(d.n_states):
            if ok[s] and not all(ok[t] for t in d.delta[s]):
                ok[s] = False
                changed = True
    return tuple(ok)


# ---------------------------------------------------------------- saga

# state: (phase, running, stack, reason)
#   phase 0 before the failure, 1 after it, 2 violated
#   running[i]: spans of forward step i started and not ended
#   stack: forward step indexes completed successfully and not yet compensated, latest last
_BEFORE, _AFTER, _VIOLATED = 0, 1, 2


@dataclass(frozen=True)
class SagaMonitor:
    """The ``saga W`` monitor (§6). Letters and events as for :class:`ConformsAutomaton`.

    - Before the failure (the end of the first failed forward span) compensations
      are not allowed; completions of steps that have a compensation are pushed.
    - After it: a forward ``start`` violates; a forward ``end`` must belong to a span
      running at the failure (a parallel branch finishing), and if it succeeded and
      the step has a compensation it is pushed too.
    - A successful compensation ``end`` must undo the top of the stack (the latest
      completed step not yet compensated), which it pops; failed compensation spans
      are retries and are ignored.
    - At the end of the trace the stack must be empty.
    """

    workflow: str
    steps: tuple[str, ...]
    forward: tuple[str, ...]
    compensations: tuple[tuple[str, str], ...]
    predicates: dict = field(repr=False)

    @property
    def initial(self) -> tuple:
        return (_BEFORE, (0,) * len(self.forward), (), None)

    def letter(self, step: str, phase: str, failed: bool = False) -> int:
        return letter_of(self.steps, step, phase, failed)

    def event(self, letter: int) -> Event:
        i, rest = divmod(letter, 4)
        return Event(self.steps[i], END if rest & 1 else START, bool(rest & 2))

    def _comp_index(self) -> tuple[dict, dict]:
        cache = self.__dict__.get("_ci")
        if cache is None:
            fidx = {s: i for i, s in enumerate(self.forward)}
            comp_of = {fidx[s]: c for s, c in self.compensations}
            undoes = {c: fidx[s] for s, c in self.compensations}
            cache = (comp_of, undoes)
            object.__setattr__(self, "_ci", cache)
        return cache

    def step(self, state: tuple, event: Event | int) -> tuple:
        if isinstance(event, int):
            event = self.event(event)
        phase, running, stack, reason = state
        if phase == _VIOLATED:
            return state
        comp_of, undoes = self._comp_index()
        if event.step in undoes:
            if phase == _BEFORE:
                return (_VIOLATED, running, stack,
                        f"compensation `{event.step}` ran before any step failed")
            if event.phase == START or event.failed:
                return state  # a start, or a failed attempt that will be retried
            target = undoes[event.step]
            if not stack:
                return (_VIOLATED, running, stack,
                        f"`{event.step}` compensates `{self.forward[target]}`, but no completed "
                        f"`{self.forward[target]}` is waiting for compensation")
            if stack[-1] != target:
                waiting = [self.forward[i] for i in stack]
                if target in stack:
                    why = (f"`{event.step}` compensates `{self.forward[target]}` before "
                           f"`{self.forward[stack[-1]]}`, which completed later "
                           f"(reverse completion order is {', '.join(reversed(waiting))})")
                else:
                    why = (f"`{event.step}` compensates `{self.forward[target]}`, which has no "
                           "completed occurrence waiting (compensated twice?)")
                return (_VIOLATED, running, stack, why)
            return (phase, running, stack[:-1], None)
        i = self.forward.index(event.step)
        if event.phase == START:
            if phase == _AFTER:
                return (_VIOLATED, running, stack,
                        f"forward step `{event.step}` started after the failure")
            running = running[:i] + (running[i] + 1,) + running[i + 1:]
            return (phase, running, stack, None)
        # an end event
        if running[i] <= 0:
            return (_VIOLATED, running, stack,
                    f"`{event.step}` ended without having started"
                    + (" before the failure" if phase == _AFTER else ""))
        running = running[:i] + (running[i] - 1,) + running[i + 1:]
        if not event.failed and i in comp_of:
            stack = stack + (i,)
        if phase == _BEFORE and event.failed:
            phase = _AFTER
        return (phase, running, stack, None)

    def run(self, events: Iterable[Event | int]) -> tuple:
        s = self.initial
        for e in events:
            s = self.step(s, e)
        return s

    def final(self, state: tuple) -> bool:
        """The verdict of a trace that ends in ``state``: satisfied?"""
        return state[0] == _BEFORE or (state[0] == _AFTER and not state[2])

    def verdict(self, state: tuple) -> Verdict:
        if state[0] == _VIOLATED:
            return Verdict.VIOLATED
        return Verdict.PRESUMABLY_SATISFIED if self.final(state) else Verdict.PRESUMABLY_VIOLATED

    def is_decided(self, state: tuple) -> bool:
        return state[0] == _VIOLATED

    def reason(self, state: tuple) -> str | None:
        """Why the trace violates (or would, if it ended now); None when it is fine."""
        if state[0] == _VIOLATED:
            return state[3]
        if state[0] == _AFTER and state[2]:
            waiting = [self.forward[i] for i in reversed(state[2])]
            comp = dict(self.compensations)
            return ("not compensated after the failure: "
                    + ", ".join(f"`{s}` (by `{comp[s]}`)" for s in waiting))
        return None

    def start(self) -> "SagaRun":
        return SagaRun(self)


class SagaRun:
    """A mutable convenience wrapper: ``run.step(event) -> state``, ``run.verdict``."""

    def __init__(self, monitor: SagaMonitor):
        self.monitor = monitor
        self.state = monitor.initial
        self.events = 0
        self.decided_at: int | None = None

    def step(self, event: Event | int) -> tuple:
        self.state = self.monitor.step(self.state, event)
        if self.decided_at is None and self.monitor.is_decided(self.state):
            self.decided_at = self.events
        self.events += 1
        return self.state

    @property
    def verdict(self) -> Verdict:
        return self.monitor.verdict(self.state)

    @property
    def satisfied(self) -> bool:
        return self.monitor.final(self.state)

    @property
    def reason(self) -> str | None:
        return self.monitor.reason(self.state)


def saga_monitor(wf: WorkflowT) -> SagaMonitor:
    steps, w = _step_order(wf)
    return SagaMonitor(wf.name, steps, tuple(steps_of(w)), tuple(wf.compensations),
                       dict(wf.steps))


# ---------------------------------------------------------------- follows


class FollowsMonitor:
    """``follows M on VAR by EXPR``: observed values follow ``VAR`` along some run of ``M``.

    State ``s`` stands for (the set of model states the run can be in, the last
    observed value). An observation equal to the last one is stuttering and
    keeps the state. A new value ``v`` moves to every model state with
    ``VAR == v`` reachable by one step that sets ``VAR`` to ``v`` from the current
    set, followed by any steps that keep ``VAR == v`` (the other variables are
    existentially quantified). The set becoming empty is a violation.

    ``anchored`` (default, the §7 reading): the run starts in the model's initial
    state, so the first observation must be the initial value of ``VAR``. With
    ``anchored=False`` the run may start in any reachable state, for monitoring
    that joins a running system.
    """

    DEAD = 1  # the violated sink; state 0 is "nothing observed yet"

    def __init__(self, model: ModelT, var: str, *, bound: int = DEFAULT_STATE_BOUND,
                 anchored: bool = True):
        self.model_name = model.name
        self.var = var
        self.anchored = anchored
        machine = Machine(model)
        if var not in machine.var_index:
            raise InputError(f"model `{model.name}` has no variable `{var}`", value=var)
        self.machine = machine
        vinfo = machine.vars[machine.var_index[var]]
        if vinfo.values is None:
            raise UnsupportedModel(f"`follows` needs a variable with finitely many values; "
                                   f"`{var}` has type {vinfo.type}", value=vinfo.type,
                                   hint="give the variable a range or an enum type")
        self.values: tuple = vinfo.values
        self._vtype = T.base(vinfo.type)
        res = explore(machine, bound=bound, keep_edges=True, stop_on_error=False)
        if not res.complete:
            raise UnsupportedModel(f"model `{model.name}` has more than {bound} reachable states; "
                                   "`follows` needs them all", value=bound,
                                   hint="raise the state bound or make the model smaller")
        vi = machine.var_index[var]
        self._val = [self.values.index(s[vi]) for s in res.states]
        self._succ = [[j for _, j in row] for row in res.edges]
        self._n_model = len(res.states)
        # lazily determinised: key (frozenset of model states, last value index)
        self._keys: list = [None, None]
        self._index: dict = {}
        self._delta: list[dict[int, int]] = [{}, {}]

    def __repr__(self) -> str:
        return (f"<FollowsMonitor {self.model_name}.{self.var} over {len(self.values)} values, "
                f"{len(self._keys)} states so far>")

    @property
    def initial(self) -> int:
        return 0

    def value_index(self, raw: Any) -> int | None:
        """The index of an observed value in ``values``, or None when it is not one of them."""
        b = self._vtype
        if isinstance(b, T.EnumType):
            return self.values.index(raw) if isinstance(raw, str) and raw in self.values else None
        if b == T.BOOL:
            return self.values.index(raw) if isinstance(raw, bool) else None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None
        if isinstance(raw, float):
            if not raw.is_integer():
                return None
            raw = int(raw)
        lo = self.values[0]
        k = raw - lo
        return k if 0 <= k < len(self.values) else None

    def _close(self, seeds: Iterable[int], v: int) -> frozenset:
        seen = set(seeds)
        stack = list(seen)
        while stack:
            i = stack.pop()
            for j in self._succ[i]:
                if j not in seen and self._val[j] == v:
                    seen.add(j)
                    stack.append(j)
        return frozenset(seen)

    def _state(self, key) -> int:
        if not key[0]:
            return self.DEAD
        s = self._index.get(key)
        if s is None:
            s = self._index[key] = len(self._keys)
            self._keys.append(key)
            self._delta.append({})
        return s

    def step_index(self, state: int, v: int | None) -> int:
        """Step on a value given by its index in ``values`` (None: not a value of VAR)."""
        if state == self.DEAD or v is None:
            return self.DEAD
        cached = self._delta[state].get(v)
        if cached is not None:
            return cached
        if state == 0:
            if self.anchored:
                seeds = [0] if self._val[0] == v else []
            else:
                seeds = [i for i in range(self._n_model) if self._val[i] == v]
            nxt = self._state((self._close(seeds, v), v))
        else:
            cur, last = self._keys[state]
            if v == last:
                nxt = state
            else:
                seeds = {j for i in cur for j in self._succ[i] if self._val[j] == v}
                nxt = self._state((self._close(seeds, v), v))
        self._delta[state][v] = nxt
        return nxt

    def step(self, state: int, raw: Any) -> int:
        return self.step_index(state, self.value_index(raw))

    def run(self, values: Iterable[Any]) -> int:
        s = self.initial
        for v in values:
            s = self.step(s, v)
        return s

    def final(self, state: int) -> bool:
        return state != self.DEAD

    def verdict(self, state: int) -> Verdict:
        return Verdict.VIOLATED if state == self.DEAD else Verdict.PRESUMABLY_SATISFIED

    def is_decided(self, state: int) -> bool:
        return state == self.DEAD

    def last_value(self, state: int) -> Any:
        if state in (0, self.DEAD):
            return None
        return self.values[self._keys[state][1]]

    def expected(self, state: int) -> list:
        """The values that may be observed next (besides repeating the last one)."""
        if state == self.DEAD:
            return []
        if state == 0:
            if self.anchored:
                return [self.values[self._val[0]]]
            return sorted({self.values[v] for v in self._val}, key=self.values.index)
        cur, last = self._keys[state]
        nxt = {self._val[j] for i in cur for j in self._succ[i] if self._val[j] != last}
        return [self.values[v] for v in sorted(nxt)]

    def explain(self, state: int, raw: Any) -> str:
        """Why observing ``raw`` in ``state`` violates (for messages)."""
        show = self._show
        if self.value_index(raw) is None:
            values = self.values
            listed = ", ".join(map(show, values)) if len(values) <= 32 else \
                f"{show(values[0])}..{show(values[-1])}"  # `0s..10s`: never all of them
            return (f"{show(raw) if not isinstance(raw, str) else repr(raw)} is not a value "
                    f"of `{self.var}` ({listed})")
        exp = self.expected(state)
        last = self.last_value(state)
        where = f"after `{self.var}` = {show(last)}" if last is not None else "first"
        return (f"`{self.var}` = {show(raw)} cannot come {where} in model "
                f"`{self.model_name}`; expected "
                + (" or ".join(show(v) for v in exp) if exp else "no change"))

    def _show(self, v: Any) -> str:
        """A value of the variable, in its type's unit (`2s`, `96Mi`)."""
        return show_value(v, self._vtype)

    def table(self, max_states: int = 100_000) -> tuple[int, list[list[int]], list[int | None]]:
        """The whole DFA: ``(initial, delta, last)`` with ``delta[s][value index]``.

        ``delta[DEAD]`` loops; ``last[s]`` is the value index a state was entered by
        (None for the initial and dead states). Raises when more than ``max_states``
        states would be needed.
        """
        i = 0
        while i < len(self._keys):
            if len(self._keys) > max_states:
                raise UnsupportedModel(f"the follows DFA needs more than {max_states} states",
                                       value=max_states)
            for v in range(len(self.values)):
                self.step_index(i, v)
            i += 1
        delta = [[self._delta[s].get(v, self.DEAD) if s != self.DEAD else self.DEAD
                  for v in range(len(self.values))] for s in range(len(self._keys))]
        last = [None if k is None else k[1] for k in self._keys]
        return 0, delta, last


def follows_monitor(model: ModelT, var: str, *, bound: int = DEFAULT_STATE_BOUND,
                    anchored: bool = True) -> FollowsMonitor:
    return FollowsMonitor(model, var, bound=bound, anchored=anchored)
