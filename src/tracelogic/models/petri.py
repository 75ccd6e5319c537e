"""Workflows as Petri nets (networkx) and their reachability graph (the workflow's LTS).

The net is the classic block-structured translation, built top-down with an
explicit stack (no recursion). Every block is placed between an input and an
output place:

- a step ``s`` is two transitions ``s.start`` (input -> running) and ``s.end``
  (running -> output), so overlapping steps of ``||`` are visible;
- ``skip`` is one silent transition (τ);
- ``A ; B`` shares a fresh middle place; ``A + B`` shares both places (a
  choice is a place with two consumers);
- ``A || B`` has a silent split (input -> both branches) and join (both
  branches -> output);
- ``A*`` is entered and left by silent transitions around a loop place on which
  ``A`` runs from the loop place back to itself; ``A?`` is ``A + skip``.

The result is 1-safe. Its reachability graph, with τ moves removed by closure,
accepts exactly the forward language of :mod:`tracelogic.models.workflow`
(tested). :func:`analyse` decides soundness on it: option to complete, proper
completion and no dead transitions, after removing the ``start`` transitions of
steps whose predicate can never hold.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

import networkx as nx

from tracelogic.automata.dfa import DFA
from tracelogic.automata.subset import bits, determinise
from tracelogic.models.workflow import (END, START, Alt, Event, Opt, Par, Seq, Skip, Star, Step,
                                        Wf, _event_key, forward_alphabet, steps_of)

__all__ = ["PetriNet", "petri_net", "reachability_graph", "lts_dfa", "Soundness", "analyse"]

Marking = tuple  # sorted tuple of marked places (the net is 1-safe; counts kept for safety)


@dataclass
class PetriNet:
    """``graph`` is bipartite: place nodes ``("p", i)`` and transition nodes ``("t", i)``.

    Transition nodes carry ``label`` (an :class:`Event`, or None for τ) and ``role``
    (``start``, ``end``, ``split``, ``join``, ``enter``, ``exit``, ``skip``).
    """

    graph: nx.DiGraph
    source: tuple
    sink: tuple
    transitions: list = field(default_factory=list)

    @property
    def initial(self) -> Marking:
        return ((self.source, 1),)

    @property
    def final(self) -> Marking:
        return ((self.sink, 1),)

    def pre(self, t) -> list:
        return list(self.graph.predecessors(t))

    def post(self, t) -> list:
        return list(self.graph.successors(t))

    def label(self, t) -> Event | None:
        return self.graph.nodes[t]["label"]

    def enabled(self, m: Marking) -> list:
        marked = dict(m)
        return [t for t in self.transitions if all(marked.get(p, 0) >= 1 for p in self.pre(t))]

    def fire(self, m: Marking, t) -> Marking:
        marked = dict(m)
        for p in self.pre(t):
            marked[p] -= 1
        for p in self.post(t):
            marked[p] = marked.get(p, 0) + 1
        return tuple(sorted((p, n) for p, n in marked.items() if n))


def petri_net(w: Wf) -> PetriNet:
    g = nx.DiGraph()
    counter = {"p": 0, "t": 0}

    def place(name: str = "") -> tuple:
        p = ("p", counter["p"])
        counter["p"] += 1
        g.add_node(p, kind="place", name=name)
        return p

    transitions = []

    def trans(label: Event | None, role: str, pre: Iterable, post: Iterable, step=None) -> tuple:
        t = ("t", counter["t"])
        counter["t"] += 1
        g.add_node(t, kind="transition", label=label, role=role, step=step)
        transitions.append(t)
        for p in pre:
            g.add_edge(p, t)
        for p in post:
            g.add_edge(t, p)
        return t

    source, sink = place("start"), place("end")
    stack: list[tuple[Wf, tuple, tuple]] = [(w, source, sink)]
    while stack:
        node, pin, pout = stack.pop()
        if isinstance(node, Step):
            run = place(f"{node.name} running")
            trans(Event(node.name, START), "start", [pin], [run], node.name)
            trans(Event(node.name, END), "end", [run], [pout], node.name)
        elif isinstance(node, Skip):
            trans(None, "skip", [pin], [pout])
        elif isinstance(node, Seq):
            places = [pin] + [place() for _ in node.items[1:]] + [pout]
            for i, item in reversed(list(enumerate(node.items))):
                stack.append((item, places[i], places[i + 1]))
        elif isinstance(node, Alt):
            for item in reversed(node.items):
                stack.append((item, pin, pout))
        elif isinstance(node, Opt):
            stack.append((Alt((node.item, Skip())), pin, pout))
        elif isinstance(node, Par):
            ins = [place() for _ in node.items]
            outs = [place() for _ in node.items]
            trans(None, "split", [pin], ins)
            trans(None, "join", outs, [pout])
            for item, a, b in reversed(list(zip(node.items, ins, outs))):
                stack.append((item, a, b))
        elif isinstance(node, Star):
            loop = place("loop")
            trans(None, "enter", [pin], [loop])
            trans(None, "exit", [loop], [pout])
            stack.append((node.item, loop, loop))
        else:
            raise TypeError(node)
    return PetriNet(g, source, sink, transitions)


def reachability_graph(net: PetriNet, disabled: Iterable = (), bound: int = 1_000_000
                       ) -> tuple[nx.MultiDiGraph, dict]:
    """The LTS: markings reachable without firing the transitions in ``disabled``.

    Returns the graph (edges carry ``transition`` and ``label``) and, for each
    marking, its BFS parent ``(marking, transition)`` for shortest paths.
    """
    disabled = set(disabled)
    lts = nx.MultiDiGraph()
    parent: dict = {net.initial: None}
    lts.add_node(net.initial)
    queue = deque([net.initial])
    while queue:
        m = queue.popleft()
        for t in net.enabled(m):
            if t in disabled:
                continue
            m2 = net.fire(m, t)
            if m2 not in parent:
                if len(parent) >= bound:
                    raise OverflowError(f"more than {bound} markings")
                parent[m2] = (m, t)
                lts.add_node(m2)
                queue.append(m2)
            lts.add_edge(m, m2, transition=t, label=net.label(t))
    return lts, parent


def lts_dfa(w: Wf) -> DFA:
    """The minimal DFA of the net's language (τ removed by closure), for cross-checking.

    The reachability graph is an NFA over events with τ moves; folding the τ-closure
    into its transition masks lets the kernel's one subset construction determinise it.
    """
    net = petri_net(w)
    lts, _ = reachability_graph(net)
    alphabet = tuple(sorted(forward_alphabet(steps_of(w)), key=_event_key))
    number = {m: i for i, m in enumerate(lts.nodes)}
    tau = [0] * len(number)
    moves: dict[Event, list[int]] = {x: [0] * len(number) for x in alphabet}
    for m, m2, label in lts.edges(data="label"):
        if label is None:
            tau[number[m]] |= 1 << number[m2]
        else:
            moves[label][number[m]] |= 1 << number[m2]
    closure = _closures(tau)

    def closed(x: int) -> int:
        out = 0
        for q in bits(x):
            out |= closure[q]
        return out

    post = [[closed(row[q]) for q in range(len(number))] for row in moves.values()]
    final = 1 << number[net.final] if net.final in number else 0
    return determinise(closure[number[net.initial]], post, alphabet, lambda x: bool(x & final))


def _closures(tau: list[int]) -> list[int]:
    """For each state, the mask of the states its τ moves reach (itself included)."""
    out = []
    for q in range(len(tau)):
        seen = 1 << q
        stack = [q]
        while stack:
            new = tau[stack.pop()] & ~seen
            seen |= new
            stack.extend(bits(new))
        out.append(seen)
    return out


@dataclass
class Soundness:
    """What :func:`analyse` found; ``sound`` is the verdict of ``check W: sound``."""

    markings: int
    dead_predicates: list[str]           # steps whose predicate can never hold
    never_started: list[str]             # steps that can never start (dead, or only after one)
    stuck: list[tuple[list[Event], list[str]]]       # (path, steps it waits for): no option to complete
    deadlocks: list[tuple[list[Event], list[str]]]   # (path, steps it waits for): nothing enabled
    improper: list[list[Event]]          # completion with tokens left behind

    @property
    def sound(self) -> bool:
        return not (self.dead_predicates or self.never_started or self.stuck or self.improper
                    or self.deadlocks)

    @property
    def deadlock_free(self) -> bool:
        return not self.deadlocks


def _path(parent: dict, m) -> list[Event]:
    out = []
    while parent[m] is not None:
        prev, t = parent[m]
        out.append(t)
        m = prev
    return [t for t in reversed(out)]


def analyse(w: Wf, dead_steps: Iterable[str] = (), bound: int = 1_000_000) -> Soundness:
    """Soundness of ``w`` when the steps in ``dead_steps`` can never occur."""
    net = petri_net(w)
    dead_steps = list(dict.fromkeys(dead_steps))
    disabled = {t for t in net.transitions
                if net.graph.nodes[t]["role"] == "start" and net.graph.nodes[t]["step"] in dead_steps}
    lts, parent = reachability_graph(net, disabled, bound)

    def events(m) -> list[Event]:
        return [net.label(t) for t in _path(parent, m) if net.label(t) is not None]

    def waiting(m) -> list[str]:
        """Dead steps whose start is enabled here: what the marking waits for."""
        return sorted({net.graph.nodes[t]["step"] for t in net.enabled(m) if t in disabled})

    # option to complete: backward reachability from the final marking
    can_finish = set()
    if net.final in lts:
        can_finish = {net.final} | nx.ancestors(lts, net.final)
    order = list(parent)  # BFS order: shortest paths first
    stuck = [(events(m), waiting(m)) for m in order if m not in can_finish]
    deadlocks = [(events(m), waiting(m)) for m in order
                 if m != net.final and lts.out_degree(m) == 0]
    improper = [events(m) for m in order
                if dict(m).get(net.sink, 0) >= 1 and m != net.final]
    fired = {net.graph.nodes[t]["step"] for _, _, t in lts.edges(data="transition")
             if net.graph.nodes[t]["role"] == "start"}
    never = [s for s in steps_of(w) if s not in fired]
    # keep the shortest few of each, plus the first stuck marking that waits for a dead step
    waiting_stuck = [x for x in stuck if x[1]][:1]
    stuck = stuck[:3] + [x for x in waiting_stuck if x not in stuck[:3]]
    return Soundness(len(parent), [s for s in dead_steps if s in steps_of(w)], never,
                     stuck, deadlocks[:3], improper[:3])
