"""Random small models and formulas, as spec text (so they go through the real front end)."""
from __future__ import annotations

import random

ENUM = "enum Color { red, green, blue }\n"
MEMBERS = ("red", "green", "blue")


class ModelGen:
    def __init__(self, seed: int, *, n_vars: int | None = None, in_range: bool = True,
                 max_actions: int = 4):
        self.r = random.Random(seed)
        r = self.r
        n = n_vars or r.randint(1, 3)
        kinds = [r.choice(["bool", "enum", "range"]) for _ in range(n)]
        self.vars = [(f"{k[0]}{i}", k) for i, k in enumerate(kinds)]
        self.in_range = in_range
        self.max_actions = max_actions

    # -- expressions
    def atom(self) -> str:
        r = self.r
        name, kind = r.choice(self.vars)
        if kind == "bool":
            return name if r.random() < 0.7 else f"!{name}"
        if kind == "enum":
            return f"{name} {r.choice(['==', '!='])} {r.choice(MEMBERS)}"
        return f"{name} {r.choice(['==', '!=', '<', '<=', '>', '>='])} {r.randint(0, 3)}"

    def cond(self, depth: int = 2) -> str:
        r = self.r
        if depth == 0 or r.random() < 0.4:
            return self.atom()
        op = r.choice(["&", "|", "->"])
        return f"({self.cond(depth - 1)} {op} {self.cond(depth - 1)})"

    def value(self, name: str, kind: str) -> str:
        r = self.r
        if kind == "bool":
            other = [n for n, k in self.vars if k == "bool"]
            return r.choice(["true", "false", f"!{name}", r.choice(other)])
        if kind == "enum":
            return r.choice(MEMBERS)
        if self.in_range:
            return r.choice([str(r.randint(0, 3)), f"({name} + 1) % 4", f"({name} + 3) % 4",
                             f"max({name} - 1, 0)", f"min({name} + 1, 3)"])
        return r.choice([f"{name} + 1", f"{name} - 1", f"{name} * 2", str(r.randint(0, 3))])

    def model(self, name: str = "m") -> str:
        r = self.r
        lines = [f"model {name} {{"]
        for v, kind in self.vars:
            typ = {"bool": "bool", "enum": "Color", "range": "0..3"}[kind]
            init = {"bool": r.choice(["true", "false"]), "enum": r.choice(MEMBERS),
                    "range": str(r.randint(0, 3))}[kind]
            lines.append(f"  var {v} : {typ} = {init}")
        for i in range(r.randint(1, self.max_actions)):
            targets = r.sample(self.vars, r.randint(1, len(self.vars)))
            assigns = "; ".join(f"{v} := {self.value(v, k)}" for v, k in targets)
            guard = f" when {self.cond()}" if r.random() < 0.85 else ""
            lines.append(f"  action a{i}{guard} do {assigns}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    # -- LTL
    def ltl(self, depth: int = 3, allow_next: bool = True) -> str:
        r = self.r
        if depth == 0 or r.random() < 0.25:
            return f"({self.atom()})"
        unary = ["G", "F", "!"] + (["X"] if allow_next else [])
        binary = ["U", "W", "R", "M", "&", "|", "->"]
        if r.random() < 0.5:
            return f"({r.choice(unary)} {self.ltl(depth - 1, allow_next)})"
        return f"({self.ltl(depth - 1, allow_next)} {r.choice(binary)} " \
               f"{self.ltl(depth - 1, allow_next)})"


def random_spec(seed: int, *, n_formulas: int = 4, allow_next: bool = True,
                in_range: bool = True, invariants: int = 1, ltl_depth: int = 3) -> str:
    g = ModelGen(seed, in_range=in_range)
    out = ENUM + g.model()
    for _ in range(invariants):
        out += f"check m: invariant {g.cond()}\n"
    out += "check m: deadlock_free\n"
    for _ in range(n_formulas):
        out += f"check m: {g.ltl(ltl_depth, allow_next=allow_next)}\n"
    return out
