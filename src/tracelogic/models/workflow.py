"""The workflow algebra of SPEC-LANGUAGE.md §6 as languages of step events.

A trace is projected onto its step spans, and each step span contributes two
**events**, ``s.start`` and ``s.end``. An :class:`Event` also carries whether
its span failed (``status == error``); the forward language of a workflow
ignores that flag, the ``conforms`` and ``saga`` monitors use it.

The workflow expression is first lowered to a small immutable IR
(:class:`Step`, :class:`Skip`, :class:`Seq`, :class:`Par`, :class:`Alt`,
:class:`Star`, :class:`Opt`). Its language is built bottom-up, without
recursion, as epsilon-free NFAs:

- a step is ``s.start s.end``; ``skip`` is the empty word;
- ``;``, ``+``, ``*`` and ``?`` are concatenation, union, star and option;
- ``||`` is the **shuffle** (every interleaving, so overlapping steps too),
  built as the product of its operands, each determinised and minimised first
  so that nested parallel blocks stay small.

:func:`forward_dfa` determinises and minimises the result into an
:class:`~tracelogic.automata.dfa.DFA` whose letters are events and whose outputs say
which states accept: the automaton kernel's one subset construction
(:mod:`tracelogic.automata.subset`) and its one minimiser, as for formula automata.
It is complete over an explicit alphabet of events; :func:`~tracelogic.automata.dfa.live_states`
tells for each state whether acceptance is still reachable. :func:`conforms_dfa`
builds the ``conforms`` language (compensation suffixes after a failure) over events
with the failure flag; it is the table the runtime monitor steps.

The slow, obviously correct membership test that these automata are tested
against is :mod:`tracelogic.models.semantics`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

from tracelogic.automata.dfa import DFA, live_states, minimize
from tracelogic.automata.subset import determinise, explore, mask_of, run
from tracelogic.errors import UnhandledNode
from tracelogic.spec import ast as A

__all__ = ["Event", "Step", "Skip", "Seq", "Par", "Alt", "Star", "Opt", "Wf", "from_ast",
           "parse", "forward_dfa", "conforms_dfa", "accepts", "state_after", "dead_state",
           "steps_of", "sample_word", "show", "START", "END"]

START, END = "start", "end"


class Event(NamedTuple):
    """One event of a projected trace: ``step`` ``phase`` (start/end), and whether its span failed."""

    step: str
    phase: str
    failed: bool = False

    def __repr__(self) -> str:
        return f"{self.step}.{self.phase}{'!' if self.failed else ''}"

    def strip(self) -> "Event":
        return Event(self.step, self.phase, False) if self.failed else self


# ---------------------------------------------------------------- the IR


@dataclass(frozen=True, slots=True)
class Step:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Skip:
    def __str__(self) -> str:
        return "skip"


@dataclass(frozen=True, slots=True)
class _Nary:
    """An operator over ``items`` (two or more); the subclass is the operator. Equality
    compares the class too, so ``Seq((a, b)) != Par((a, b))``."""

    items: tuple


class Seq(_Nary):
    """``A ; B``: concatenation."""

    __slots__ = ()


class Par(_Nary):
    """``A || B``: shuffle (every interleaving)."""

    __slots__ = ()


class Alt(_Nary):
    """``A + B``: choice."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Unary:
    item: object


class Star(_Unary):
    """``A*``: zero or more."""

    __slots__ = ()


class Opt(_Unary):
    """``A?``: zero or one."""

    __slots__ = ()


Wf = Step | Skip | Seq | Par | Alt | Star | Opt
_NARY = {Seq: ";", Par: "||", Alt: "+"}
_PREC = {Alt: 1, Par: 2, Seq: 3}


def show(w: Wf) -> str:
    """The algebra text of ``w``, fully parenthesised where precedence needs it (iterative)."""
    out: dict[int, str] = {}
    for node in _postorder(w):
        if isinstance(node, (Step, Skip)):
            out[id(node)] = str(node)
        elif isinstance(node, (Star, Opt)):
            inner = out[id(node.item)]
            if not isinstance(node.item, (Step, Skip)):
                inner = f"({inner})"
            out[id(node)] = inner + ("*" if isinstance(node, Star) else "?")
        else:
            parts = []
            for c in node.items:
                s = out[id(c)]
                if type(c) in _PREC and _PREC[type(c)] <= _PREC[type(node)]:
                    s = f"({s})"
                parts.append(s)
            out[id(node)] = f" {_NARY[type(node)]} ".join(parts)
    return out[id(w)]


def _children(node) -> tuple:
    if isinstance(node, (Seq, Par, Alt)):
        return node.items
    if isinstance(node, (Star, Opt)):
        return (node.item,)
    return ()


def _postorder(root) -> list:
    """Every node, children before parents, without recursion (shared nodes once per use)."""
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(_children(node)))
    return order


def from_ast(expr: A.WfExpr) -> Wf:
    """Lower the parser's workflow expression (``skip`` included) to the IR."""
    built: dict[int, Wf] = {}
    stack: list[tuple[object, bool]] = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if isinstance(node, A.WfParen):
            kids: tuple = (node.item,)
        elif isinstance(node, A.WfOp):
            kids = node.items
        elif isinstance(node, A.WfPost):
            kids = (node.item,)
        elif isinstance(node, A.WfStep):
            kids = ()
        else:
            raise UnhandledNode(f"unknown workflow node {type(node).__name__}", value=node)
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        if isinstance(node, A.WfStep):
            built[id(node)] = Skip() if node.name == "skip" else Step(node.name)
        elif isinstance(node, A.WfParen):
            built[id(node)] = built[id(node.item)]
        elif isinstance(node, A.WfPost):
            inner = built[id(node.item)]
            built[id(node)] = Star(inner) if node.op == "*" else Opt(inner)
        else:
            cls = {";": Seq, "||": Par, "+": Alt}[node.op]
            built[id(node)] = cls(tuple(built[id(c)] for c in node.items))
    return built[id(expr)]


def parse(text: str) -> Wf:
    """The IR of workflow text such as ``"a ; (b || c)*"`` (through the spec front end)."""
    from tracelogic.spec.loader import load

    spec = load(f"workflow _w:\n  {text}\n", filename="<workflow>")
    return from_ast(spec.workflows["_w"].expr)


def steps_of(w: Wf) -> tuple[str, ...]:
    """The step names of ``w`` in order of first appearance."""
    seen: list[str] = []
    stack = [w]
    while stack:
        node = stack.pop()
        if isinstance(node, Step):
            if node.name not in seen:
                seen.append(node.name)
        else:
            stack.extend(reversed(_children(node)))
    return tuple(seen)


# ---------------------------------------------------------------- epsilon-free NFAs


class _NFA:
    """States ``0..n-1``; ``trans[p]`` maps a letter to a set of successors."""

    __slots__ = ("n", "init", "final", "trans")

    def __init__(self, n: int, init: set, final: set, trans: list[dict]):
        self.n, self.init, self.final, self.trans = n, init, final, trans

    @property
    def nullable(self) -> bool:
        return bool(self.init & self.final)


def _atom(name: str) -> _NFA:
    return _NFA(3, {0}, {2}, [{Event(name, START): {1}}, {Event(name, END): {2}}, {}])


def _skip() -> _NFA:
    return _NFA(1, {0}, {0}, [{}])


def _shift(a: _NFA, k: int) -> list[dict]:
    return [{x: {q + k for q in qs} for x, qs in row.items()} for row in a.trans]


def _union(a: _NFA, b: _NFA) -> _NFA:
    k = a.n
    return _NFA(a.n + b.n, a.init | {q + k for q in b.init}, a.final | {q + k for q in b.final},
                [dict((x, set(qs)) for x, qs in r.items()) for r in a.trans] + _shift(b, k))


def _concat(a: _NFA, b: _NFA) -> _NFA:
    k = a.n
    trans = [dict((x, set(qs)) for x, qs in r.items()) for r in a.trans] + _shift(b, k)
    b_init = {q + k for q in b.init}
    for p in range(a.n):
        for x, qs in a.trans[p].items():
            if qs & a.final:
                trans[p][x] |= b_init
    init = set(a.init) | (b_init if a.nullable else set())
    final = {q + k for q in b.final} | (set(a.final) if b.nullable else set())
    return _NFA(a.n + b.n, init, final, trans)


def _star(a: _NFA, optional_only: bool = False) -> _NFA:
    n = a.n
    trans = [dict((x, set(qs)) for x, qs in r.items()) for r in a.trans] + [{}]
    if not optional_only:
        for p in range(n):
            for x, qs in a.trans[p].items():
                if qs & a.final:
                    trans[p][x] |= a.init
    return _NFA(n + 1, set(a.init) | {n}, set(a.final) | {n}, trans)


def _shuffle(a: _NFA, b: _NFA) -> _NFA:
    index: dict[tuple[int, int], int] = {}
    trans: list[dict] = []
    queue: deque = deque()

    def get(pair):
        i = index.get(pair)
        if i is None:
            i = index[pair] = len(trans)
            trans.append({})
            queue.append(pair)
        return i

    init = {get((p, q)) for p in a.init for q in b.init}
    while queue:
        p, q = queue.popleft()
        i = index[(p, q)]
        row = trans[i]
        for x, ps in a.trans[p].items():
            row.setdefault(x, set()).update(get((p2, q)) for p2 in ps)
        for x, qs in b.trans[q].items():
            row.setdefault(x, set()).update(get((p, q2)) for q2 in qs)
    final = {i for (p, q), i in index.items() if p in a.final and q in b.final}
    return _NFA(len(trans), init, final, trans)


def _nfa_of_dfa(d: DFA) -> _NFA:
    """A trimmed (live states only) DFA seen as an NFA, to keep products small."""
    live = live_states(d)
    keep = [s for s in range(d.n_states) if live[s]]
    ren = {s: i for i, s in enumerate(keep)}
    trans = []
    for s in keep:
        row = {}
        for k, t in enumerate(d.delta[s]):
            if t in ren:
                row[d.letters[k]] = {ren[t]}
        trans.append(row)
    init = {ren[d.initial]} if d.initial in ren else set()
    return _NFA(len(keep), init, {ren[s] for s in keep if d.output[s]}, trans)


def nfa(w: Wf) -> _NFA:
    """The epsilon-free NFA of ``w``'s forward language (letters are unflagged events)."""
    built: dict[int, _NFA] = {}
    for node in _postorder(w):
        if isinstance(node, Step):
            r = _atom(node.name)
        elif isinstance(node, Skip):
            r = _skip()
        elif isinstance(node, Star):
            r = _star(built[id(node.item)])
        elif isinstance(node, Opt):
            r = _star(built[id(node.item)], optional_only=True)
        else:
            parts = [built[id(c)] for c in node.items]
            r = parts[0]
            for p in parts[1:]:
                if isinstance(node, Seq):
                    r = _concat(r, p)
                elif isinstance(node, Alt):
                    r = _union(r, p)
                else:
                    alph = _letters_of(r) | _letters_of(p)
                    r = _shuffle(_nfa_of_dfa(_determinise(r, alph)),
                                 _nfa_of_dfa(_determinise(p, alph)))
        built[id(node)] = r
    return built[id(w)]


def _letters_of(a: _NFA) -> set:
    return {x for row in a.trans for x in row}


# ---------------------------------------------------------------- DFAs
#
# A workflow language is an automata.dfa.DFA whose letters are events and whose
# outputs are booleans (accepting): built by the kernel's subset construction and
# minimised by its Hopcroft minimiser, like every other automaton (the minimal DFA
# with its canonical BFS numbering is unique, so the tables are the same whichever
# minimiser made them).


def _determinise(a: _NFA, alphabet: Iterable[Event]) -> DFA:
    """The minimal complete DFA of ``a`` over ``alphabet`` (sorted by :func:`_event_key`)."""
    alph = tuple(sorted(set(alphabet), key=_event_key))
    post = [[mask_of(a.trans[p].get(x, ())) for p in range(a.n)] for x in alph]
    final = mask_of(a.final)
    return determinise(mask_of(a.init), post, alph, lambda x: bool(x & final))


def _event_key(e: Event):
    return (e.step, e.phase != START, e.failed)


def state_after(d: DFA, events: Iterable[Event]) -> int | None:
    """The state of ``d`` after ``events``; None once an event is outside its alphabet
    (the implicit rejecting sink: such a word and all its extensions are rejected)."""
    idx = d.letter_index()
    s = d.initial
    for e in events:
        k = idx.get(e)
        if k is None:
            return None
        s = d.delta[s][k]
    return s


def accepts(d: DFA, events: Iterable[Event]) -> bool:
    """Is ``events`` a word of the language of ``d``?"""
    s = state_after(d, events)
    return s is not None and bool(d.output[s])


def dead_state(d: DFA, live: Sequence[bool] | None = None) -> int | None:
    """The rejecting sink of a minimal DFA (the one state that cannot accept), or None."""
    live = live_states(d) if live is None else live
    return next((s for s, ok in enumerate(live) if not ok), None)


def forward_alphabet(steps: Iterable[str]) -> tuple[Event, ...]:
    return tuple(Event(s, ph) for s in steps for ph in (START, END))


def forward_dfa(w: Wf, extra_steps: Iterable[str] = ()) -> DFA:
    """The minimal complete DFA of ``w``'s forward language over unflagged events.

    ``extra_steps`` widen the alphabet (their events lead to the rejecting sink).
    """
    steps = list(steps_of(w)) + [s for s in extra_steps if s not in steps_of(w)]
    return _determinise(nfa(w), forward_alphabet(steps))


def full_alphabet(steps: Sequence[str]) -> tuple[Event, ...]:
    """Letter ``4*i + 2*failed + (phase == "end")`` is step ``steps[i]``'s event."""
    return tuple(Event(s, ph, f) for s in steps for f in (False, True) for ph in (START, END))


def conforms_dfa(w: Wf, compensations: Iterable[str] = ()) -> DFA:
    """The minimal DFA of ``conforms W`` over flagged events of forward and compensation steps.

    A word is accepted when (a) its events, flags ignored, form a word of ``W``; or
    (b) it splits at the end event of the first failed forward span into a prefix
    and a suffix, where the forward events of the whole word (flags ignored) are
    a prefix of a word of ``W``, and the suffix holds only compensation events and
    end events of forward steps still running at the failure (a parallel branch
    that finishes, §6 `saga`). Compensation events before the failure reject.

    The states are ``(a, mode, b)``: ``a`` runs ``W``'s forward DFA on the whole word
    (-1 once it is dead), ``b`` runs it on the forward events up to the failure and
    the in-flight ends after it; ``mode`` is before/after the failure, or dead.
    """
    forward = steps_of(w)
    comps = [c for c in dict.fromkeys(compensations) if c not in forward]
    d = forward_dfa(w)
    live = live_states(d)
    dead = dead_state(d, live)
    alphabet = full_alphabet(list(forward) + comps)
    fidx = d.letter_index()
    comp_set = set(comps)
    PRE, POST, DEAD = 0, 1, 2

    def move(state, e: Event):
        da, mode, db = state
        if e.step in comp_set:
            da2 = dead if dead is not None else -1
            if mode == POST:
                return (da2, POST, db)
            return (da2, DEAD, -1)
        k = fidx[e.strip()]
        da2 = d.delta[da][k] if da >= 0 else -1
        if mode == DEAD:
            return (da2, DEAD, -1)
        if mode == POST and e.phase == START:
            return (da2, DEAD, -1)
        db2 = d.delta[db][k]
        if not live[db2]:
            return (da2, DEAD, -1)
        if mode == PRE and e.phase == END and e.failed:
            return (da2, POST, db2)
        return (da2, mode, db2)

    def row(state):
        out = []
        for e in alphabet:
            t = move(state, e)
            if t[0] >= 0 and not live[t[0]]:
                t = (-1,) + t[1:]  # every dead `a` component is the same
            out.append(t)
        return out

    states, delta = run(explore((d.initial, PRE, d.initial), row))
    output = [(da >= 0 and bool(d.output[da])) or mode == POST for da, mode, _ in states]
    return minimize(DFA(alphabet, delta, 0, output))


# ---------------------------------------------------------------- sampling


def sample_word(w: Wf, rnd, max_star: int = 2) -> list[Event]:
    """A random word of ``w``'s forward language (for tests): ``rnd`` is a ``random.Random``."""
    words: dict[int, list] = {}
    for node in _postorder(w):
        if isinstance(node, Step):
            words[id(node)] = [Event(node.name, START), Event(node.name, END)]
        elif isinstance(node, Skip):
            words[id(node)] = []
        elif isinstance(node, (Star, Opt)):
            # each occurrence needs its own sample: re-sample the subtree
            n = rnd.randint(0, max_star) if isinstance(node, Star) else rnd.randint(0, 1)
            out = []
            for _ in range(n):
                out += sample_word(node.item, rnd, max_star)
            words[id(node)] = out
        elif isinstance(node, Alt):
            words[id(node)] = list(words[id(rnd.choice(node.items))])
        elif isinstance(node, Seq):
            out = []
            for c in node.items:
                out += words[id(c)]
            words[id(node)] = out
        else:
            out = []
            for c in node.items:
                out = _random_shuffle(out, words[id(c)], rnd)
            words[id(node)] = out
    return words[id(w)]


def _random_shuffle(u: list, v: list, rnd) -> list:
    out, i, j = [], 0, 0
    while i < len(u) or j < len(v):
        if j >= len(v) or (i < len(u) and rnd.random() < 0.5):
            out.append(u[i])
            i += 1
        else:
            out.append(v[j])
            j += 1
    return out
