"""Scalable LTLf benchmark families, written from their published definitions.

Each generator returns ``(text, props)``: the formula in tracelogic's formula syntax
(``X`` strong next, ``WX`` weak next, ``& | -> <-> !``, ``G F U``) and its
propositions in order. ``tracelogic automaton TEXT`` reads the text as it is; each
proposition is one atom (issue 20: atoms are literals).

* **GF-and** -- Rozier & Vardi, "LTL satisfiability checking", SPIN 2007, family C1:
  ``G F p1 & ... & G F pn``; SYNTCOMP's ``tlsf-fin/Patterns/GFand`` is the same pattern
  read over finite traces (``G F p``: ``p`` holds at the last event).
* **U-right** -- Rozier & Vardi 2007, family U2: ``p1 U (p2 U (... U pn))``; SYNTCOMP's
  ``tlsf-fin/Patterns/Uright``.
* **single counter**, **double counter**, **Nim** -- Tabajara & Vardi, "Partitioning
  techniques in LTLf synthesis", IJCAI 2019 (the counter games) and the Nim games of the
  same finite-synthesis data sets that SYNTCOMP's ``tlsf-fin`` README lists. Each is a
  game ``preset & (G assume -> (X G assert & guarantee))`` over environment and system
  propositions; the shapes below follow the papers' descriptions: an ``n``-bit binary
  counter incremented on request (carry chain), a second counter that must catch up with
  the first, and Nim with ``n`` heaps of ``m`` tokens.
* **random conjunctions** -- Zhu, Tabajara, Li, Pu & Vardi, "Symbolic LTLf synthesis",
  IJCAI 2017: a conjunction of ``L`` basic LTL patterns (Dwyer-style response, precedence,
  existence, absence, universality, and chains of them) whose propositions are drawn at
  random from ``m``; seeded, so a run is reproducible.

The single counter with ``n`` bits has ``3n + 1`` propositions (``init_counter_i``,
``inc``, ``counter_i``, ``carry_i``); with 3 bits, 10 propositions, its minimal DFA has
51 states (issue 20; checked against MONA in ``tests/automata/test_families.py``).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence


def _and(parts: Sequence[str]) -> str:
    parts = list(parts)
    return "true" if not parts else "(" + " & ".join(parts) + ")"


def _or(parts: Sequence[str]) -> str:
    parts = list(parts)
    return "false" if not parts else "(" + " | ".join(parts) + ")"


def _imp(a: str, b: str) -> str:
    return f"({a} -> {b})"


def _iff(a: str, b: str) -> str:
    return f"({a} <-> {b})"


def _x(a: str) -> str:   # strong next: there is a next event and it satisfies a
    return f"(X {a})"


def _wx(a: str) -> str:  # weak next: if there is a next event it satisfies a
    return f"(WX {a})"


def _not(a: str) -> str:
    return f"(!{a})"


def gf_and(n: int) -> tuple[str, list[str]]:
    """Rozier-Vardi C1: every proposition holds infinitely often (finitely: at the end)."""
    props = [f"p{i}" for i in range(n)]
    return _and(f"(G (F {p}))" for p in props), props


def u_right(n: int) -> tuple[str, list[str]]:
    """Rozier-Vardi U2: ``p0 U (p1 U (... U p{n-1}))``."""
    props = [f"p{i}" for i in range(n)]
    text = props[-1]
    for p in reversed(props[:-1]):
        text = f"({p} U {text})"
    return text, props


def single_counter(n: int) -> tuple[str, list[str]]:
    """Tabajara-Vardi 2019 counter game with ``n`` bits (``3n + 1`` propositions).

    The environment sets the initial value (``init_counter_i``) and requests increments
    (``inc``), never two idle events in a row; the system keeps ``counter_i`` the binary
    value, incremented through the carry bits ``carry_i``, and must eventually reach 0.
    """
    init = [f"init_counter_{i}" for i in range(n)]
    cnt = [f"counter_{i}" for i in range(n)]
    car = [f"carry_{i}" for i in range(n)]
    inc = "inc"
    # the counter starts (at the second event) at the environment's initial value
    preset = [_and([_imp(_x(cnt[i]), init[i]), _imp(init[i], _wx(cnt[i]))]) for i in range(n)]
    assume = [_imp(_not(inc), _x(inc))]
    step = [_imp(_x(car[0]), inc), _imp(inc, _wx(car[0]))]
    step += [_imp(_x(car[i]), _and([cnt[i - 1], _x(car[i - 1])])) for i in range(1, n)]
    step += [_imp(_and([cnt[i - 1], _wx(car[i - 1])]), _wx(car[i])) for i in range(1, n)]
    # next counter bit = current bit xor next carry bit
    step += [_and([_imp(_x(cnt[i]), _not(_iff(cnt[i], _x(car[i])))),
                   _imp(_not(_iff(cnt[i], _wx(car[i]))), _wx(cnt[i]))]) for i in range(n)]
    goal = _x(f"(F {_and(_not(c) for c in cnt)})")
    text = _and([_and(preset),
                 _imp(f"(G {_and(assume)})", _and([_x(f'(G {_and(step)})'), goal]))])
    return text, init + [inc] + cnt + car


def double_counter(n: int) -> tuple[str, list[str]]:
    """Tabajara-Vardi 2019: two ``n``-bit counters; the system's (starting at 0, counting
    its own increments) must eventually equal the environment's (``5n + 2``
    propositions)."""
    init = [f"init_counter_{i}" for i in range(n)]
    players = ("env", "sys")
    cnt = {p: [f"counter_{p}_{i}" for i in range(n)] for p in players}
    car = {p: [f"carry_{p}_{i}" for i in range(n)] for p in players}
    inc = {p: f"inc_{p}" for p in players}
    preset = [_and([_imp(_x(cnt["env"][i]), init[i]), _imp(init[i], _wx(cnt["env"][i]))])
              for i in range(n)]
    preset += [_not(c) for c in cnt["sys"]] + [_not(inc["sys"])]
    assume = [_imp(inc["env"], _not(_x(inc["env"])))]
    step = [_imp(_x(car["env"][0]), inc["env"]), _imp(inc["env"], _wx(car["env"][0])),
            _iff(car["sys"][0], inc["sys"])]
    for p in players:
        step += [_imp(_x(car[p][i]), _and([cnt[p][i - 1], _x(car[p][i - 1])]))
                 for i in range(1, n)]
        step += [_imp(_and([cnt[p][i - 1], _wx(car[p][i - 1])]), _wx(car[p][i]))
                 for i in range(1, n)]
        step += [_and([_imp(_x(cnt[p][i]), _not(_iff(cnt[p][i], _x(car[p][i])))),
                       _imp(_not(_iff(cnt[p][i], _wx(car[p][i]))), _wx(cnt[p][i]))])
                 for i in range(n)]
    goal = _x(f"(F {_and(_iff(a, b) for a, b in zip(cnt['env'], cnt['sys']))})")
    text = _and([_and(preset),
                 _imp(f"(G {_and(assume)})", _and([_x(f'(G {_and(step)})'), goal]))])
    props = init + [inc["env"]] + [c for i in range(n) for c in (cnt["env"][i], cnt["sys"][i])]
    props += [c for i in range(n) for c in (car["env"][i], car["sys"][i])] + [inc["sys"]]
    return text, props


def nim(heaps: int, tokens: int) -> tuple[str, list[str]]:
    """Nim with ``heaps`` heaps of ``tokens`` tokens (finite-synthesis data sets, after
    Tabajara-Vardi 2019): players alternate, a move selects one non-empty heap and the
    amount left on it; the system wins when the environment faces empty heaps."""
    players = ("env", "sys")
    sel = {p: [f"select_{p}_{i}" for i in range(heaps)] for p in players}
    chg = {p: [f"change_{p}_{s}" for s in range(tokens)] for p in players}
    turn = {p: f"turn_{p}" for p in players}
    heap = [[f"heap_{i}_{s}" for s in range(tokens + 1)] for i in range(heaps)]

    def rules(p: str) -> list[str]:
        r = [_imp(turn[p], _or(sel[p]))]
        r += [_imp(sel[p][i], _not(sel[p][j])) for i in range(heaps) for j in range(i)]
        r += [_imp(chg[p][s], _not(chg[p][t])) for s in range(tokens) for t in range(s)]
        some_left = _or(_not(heap[j][0]) for j in range(heaps))
        # a selected heap with s tokens must drop to fewer than s
        r += [_imp(_and([some_left, heap[i][s], _x(sel[p][i])]),
                   _or(_x(chg[p][t]) for t in range(s)))
              for i in range(heaps) for s in range(tokens + 1)]
        return r

    preset = [turn["sys"], _not(turn["env"])]
    preset += [_imp(_not(sel["sys"][i]), heap[i][tokens]) for i in range(heaps)]
    preset += [_imp(sel["sys"][i], _or(chg["sys"])) for i in range(heaps)]
    rule = rules("sys") + [_iff(turn["sys"], _not(turn["env"])),
                           _imp(_x(turn["sys"]), turn["env"]),
                           _imp(_x(turn["env"]), turn["sys"])]
    rule += [_imp(heap[i][s], _not(heap[i][t]))
             for i in range(heaps) for s in range(tokens + 1) for t in range(s)]
    rule += [_imp(_and([turn[p], sel[p][i], chg[p][s]]), heap[i][s])
             for p in players for i in range(heaps) for s in range(tokens)]
    rule += [_imp(_and([_x(turn[p]), _x(_not(sel[p][i])), heap[i][s]]), _x(heap[i][s]))
             for p in players for i in range(heaps) for s in range(tokens + 1)]
    goal = f"({_or(_not(heap[i][0]) for i in range(heaps))} U " \
           f"{_and([turn['env']] + [heap[i][0] for i in range(heaps)])})"
    text = _and([_and(preset), _imp(f"(G {_and(rules('env'))})",
                                    _and([f"(G {_and(rule)})", goal]))])
    props = sel["env"] + chg["env"] + sel["sys"] + chg["sys"] + [turn["sys"], turn["env"]]
    props += [h for row in heap for h in row]
    return text, props


#: Zhu et al. 2017 draw conjuncts from basic LTL patterns; these are Dwyer's (absence,
#: existence, universality, precedence, response) and two chains, over 1-3 propositions.
BASIS: tuple[tuple[str, int], ...] = (
    ("(G (!{0}))", 1),
    ("(F {0})", 1),
    ("(G {0})", 1),
    ("(G ({0} -> (F {1})))", 2),
    ("(((!{1}) W {0}) | (G (!{1})))", 2),
    ("(G ({0} -> (X {1})))", 2),
    ("(F ({0} & (X (F {1}))))", 2),
    ("(G ({0} -> (F ({1} & (X (F {2}))))))", 3),
    ("({0} U ({1} U {2}))", 3),
    ("(G (F {0}))", 1),
)


def random_conjunction(conjuncts: int, m: int, seed: int) -> tuple[str, list[str]]:
    """Zhu et al. 2017: ``conjuncts`` random basic patterns over ``m`` propositions."""
    rng = random.Random(seed)
    props = [f"a{i}" for i in range(m)]
    parts = []
    for _ in range(conjuncts):
        pat, k = rng.choice(BASIS)
        parts.append(pat.format(*rng.sample(props, k)))
    text = _and(parts)
    return text, [p for p in props if re.search(rf"\b{p}\b", text)]


#: family name -> (generator of one size parameter, its number of propositions)
FAMILIES: dict[str, tuple[Callable[[int], tuple[str, list[str]]], Callable[[int], int]]] = {
    "gf-and": (gf_and, lambda n: n),
    "u-right": (u_right, lambda n: n),
    "single-counter": (single_counter, lambda n: 3 * n + 1),
    "double-counter": (double_counter, lambda n: 5 * n + 2),
    "nim": (lambda n: nim(n, 1), lambda n: 4 * n + 4),
}
