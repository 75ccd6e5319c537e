"""Exports of models and workflows: Promela (spin), SMV (NuSMV/nuXmv), DOT and Mermaid.

**Promela.** One ``active proctype`` loops over the actions; each action is a
``d_step`` (one indivisible transition) whose guard comes first. Assignments are
simultaneous: a variable that another assignment of the same action reads is
computed into a temporary first, and temporaries are reset to 0 so that they
add no states. Enum members are ``mtype`` constants. The loop head carries an
``end`` label, so a deadlock is a valid end state and, for LTL, spin extends it by
stuttering, as tracelogic does. An assignment outside its variable's range
fails an ``assert``. ``check`` invariants become ``ltl { [] (…) }``,
``deadlock_free`` becomes ``ltl { [] (some guard) }``, and LTL formulas are
written with spin's operators; a formula that uses ``X`` is exported as a
comment, because Debian's spin 6.5.2 rejects ``X``. ``//`` and ``%`` are
written so that they keep floor semantics on negative numbers (the definition in
:mod:`tracelogic.values.arith`: C's truncating ``%`` is made floor by
``((a % b) + b) % b``, and ``a // b`` is ``(a - a mod b) / b``, exact).

**SMV.** Variables with their finite types, ``INIT``, and one ``TRANS`` with a
disjunct per action plus a stutter disjunct for deadlocked states (so every
state has a successor, as NuSMV's LTL semantics assumes). Invariants are
``INVARSPEC``, LTL checks ``LTLSPEC`` (``X`` included), and ``deadlock_free`` is the
``INVARSPEC`` "some guard holds". An extra ``INVARSPEC`` states that no enabled
action assigns a value outside its variable's range.

Unsupported in both: real-valued variables and real division (``/``). An
unbounded ``int`` becomes Promela's 32-bit ``int``, which wraps around where
tracelogic's integers do not: the Promela text then starts with a
``/* warning: … */`` line per such variable (a bound of its range, or a value,
outside -2^31..2^31-1 too), which ``tracelogic export`` repeats on stderr. SMV
has no unbounded integers, so such a model cannot be exported to SMV.

``export_command(spec_path, name, fmt)`` is what ``tracelogic export`` calls.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from tracelogic.errors import InputError, TracelogicError
from tracelogic.models.machine import Machine, UnsupportedModel, explore, show_value
from tracelogic.semantics.spelling import Joined, spell
from tracelogic.spec import types as T
from tracelogic.spec.typed import CheckT, ModelT, Spec, TExpr, WorkflowT
from tracelogic.spec.walker import walk_with

__all__ = ["to_promela", "to_smv", "promela_ltl", "smv_expr", "model_dot", "model_mermaid",
           "workflow_dot", "workflow_mermaid", "export_command", "ExportError", "FORMATS"]

FORMATS = ("promela", "smv", "dot", "mermaid")


class ExportError(TracelogicError, ValueError):
    """The model uses something the target language cannot express."""


PROMELA_RESERVED = frozenset("""
active assert atomic bit bool break byte chan d_step D_proctype do else empty enabled fi full
goto hidden if init int len mtype nempty never nfull od of pc_value printf printm priority
proctype provided run short skip timeout typedef unless unsigned xr xs c_code c_decl c_expr
c_state c_track eval false true ltl local notrace show trace select for in np_ _pid _nr_pr
_last STDIN print always eventually until weakuntil stronguntil implies equivalent release
U V X W R M main
""".split())

SMV_RESERVED = frozenset("""
MODULE DEFINE MDEFINE CONSTANTS VAR IVAR FROZENVAR INIT TRANS INVAR SPEC CTLSPEC LTLSPEC PSLSPEC
COMPUTE NAME INVARSPEC FAIRNESS JUSTICE COMPASSION ISA ASSIGN CONSTRAINT SIMPWFF CTLWFF LTLWFF
PSLWFF COMPWFF IN MIN MAX MIRROR PRED PREDICATES process array of boolean integer real word
word1 bool signed unsigned extend resize sizeof uwconst swconst EX AX EF AF EG AG E F O G H X Y
Z A U S V T BU EBF ABF EBG ABG case esac mod next init union in xor xnor self TRUE FALSE count
toint max min abs floor typeof set
""".split())


def _mangle(name: str, reserved: frozenset) -> str:
    """Names the target reserves (and our own ``tl_`` prefix) get a trailing underscore."""
    clash = name in reserved or name.startswith(("_", "tl_"))
    return name + "_" if clash else name


# ---------------------------------------------------------------- expressions


# op: (Promela, SMV). In Promela `->` separates statements (or makes a conditional
# expression `(c -> a : b)`), so `implies` is spelled out, as are `iff` and `xor`, which it
# lacks; spin spells F and G `<>` and `[]`; W and M are written with U in both
_SPELLINGS: dict[str, tuple] = {
    "true": ("true", "TRUE"), "false": ("false", "FALSE"), "==": ("==", "="),
    "mod": ("%", "mod"), "and": (Joined(" && "), Joined(" & ")),
    "or": (Joined(" || "), Joined(" | ")), "not": ("(!{0})",) * 2, "pred": ("{0}",) * 2,
    "neg": ("(-{0})",) * 2, "+": ("({0} {op} {1})",) * 2, "-": ("({0} {op} {1})",) * 2,
    "*": ("({0} {op} {1})",) * 2, "cmp": ("({0} {op} {1})",) * 2,
    "implies": ("((!{0}) || {1})", "({0} -> {1})"),
    "iff": ("(({0} && {1}) || ((!{0}) && (!{1})))", "({0} <-> {1})"),
    "xor": ("(({0} && (!{1})) || ((!{0}) && {1}))", "({0} xor {1})"),
    "abs": ("(({0} >= 0) -> ({0}) : (-{0}))", "(case {0} >= 0 : {0}; TRUE : -{0}; esac)"),
    "choose": ("(({0} {op} {1}) -> ({0}) : ({1}))",
               "(case {0} {op} {1} : {0}; TRUE : {1}; esac)"),
    "X": ("(X {0})",) * 2, "WX": ("(X {0})",) * 2, "F": ("(<> {0})", "(F {0})"),
    "G": ("([] {0})", "(G {0})"), "U": ("({0} U {1})",) * 2, "R": ("({0} V {1})",) * 2,
    "W": ("(({0} U {1}) || ([] {0}))", "(({0} U {1}) | (G {0}))"),
    "M": ("({1} U ({0} && {1}))", "({1} U ({0} & {1}))"),
}
_LANGS = ("promela", "smv")
#: the table of each target: op -> template (semantics.spelling)
SPELLINGS: dict[str, dict[str, Any]] = {
    lang: {op: forms[i] for op, forms in _SPELLINGS.items()} for i, lang in enumerate(_LANGS)}
#: the ops a table spells whole; the others need the printer
_TABLED = ("pred", "neg", "+", "-", "*", "and", "or", "not", "implies", "iff", "xor",
           "X", "WX", "F", "G", "U", "W", "R", "M")


class _Printer:
    """TExpr -> target text, fully parenthesised (iterative)."""

    def __init__(self, lang: str, names: dict[str, str], members: dict[str, str]):
        self.lang = lang
        self.names = names
        self.members = members
        self.table = SPELLINGS[lang]

    def word(self, key: str, args: Sequence[str] = (), op: str = "") -> str:
        """The text of ``key`` in this target's table, over ``args``."""
        return spell(self.table, key, args, op)

    def expr(self, e: TExpr) -> str:
        return walk_with(e, self._node)

    def _node(self, e: TExpr, a: list[str]) -> str:
        op = e.op
        if op in _TABLED:
            return self.word(op, a, op)
        if op == "lit":
            v = e.payload
            if isinstance(v, bool):
                return self.word("true" if v else "false")
            if isinstance(v, int):
                return str(v) if v >= 0 else f"(-{-v})"
            raise ExportError(f"the value {v!r} cannot be exported to {self.lang}", value=v)
        if op == "var":
            return self.names[e.payload[1]]
        if op == "enum":
            return self.members[e.payload[1]]
        if op in ("//", "%"):
            m = self.word("mod")
            floormod = f"((({a[0]} {m} {a[1]}) + {a[1]}) {m} {a[1]})"
            if op == "%":
                return floormod
            return f"(({a[0]} - {floormod}) / {a[1]})"
        if op == "/":
            raise ExportError("real division `/` cannot be exported; use `//`", value=e)
        if op == "cmp":
            return self.word("cmp", a, self.word("==") if e.payload == "==" else e.payload)
        if op == "in":
            target = e.args[1]
            if target.op == "range":
                lo, hi = [self.expr(x) for x in target.args]
                return self.word("and", [f"({lo} <= {a[0]})", f"({a[0]} <= {hi})"])
            if target.op == "list":
                items = [self.expr(x) for x in target.args]
                if not items:
                    return self.word("false")
                eq = self.word("==")
                return self.word("or", [f"({a[0]} {eq} {x})" for x in items])
        if op in ("list", "range"):
            return ""
        if op == "call" and e.payload in ("min", "max", "abs"):
            if e.payload == "abs":
                return self.word("abs", a)
            out = a[0]
            for y in a[1:]:
                out = self.word("choose", [out, y], "<=" if e.payload == "min" else ">=")
            return out
        raise ExportError(f"`{op}` cannot be exported to {self.lang}", value=e)


def _members(machine: Machine) -> list[str]:
    out: list[str] = []
    for v in machine.vars:
        b = T.base(v.type)
        if isinstance(b, T.EnumType):
            out += [m for m in b.members if m not in out]
    return out


def _any_guard_text(p: _Printer, machine: Machine) -> str:
    guards = [p.expr(a.guard) if a.guard is not None else p.word("true")
              for a in machine.actions]
    return p.word("or", guards) if guards else p.word("false")


def _target_printer(machine: Machine, lang: str, reserved: frozenset) -> _Printer:
    """A printer naming the machine's variables, then its enum members, apart from the
    target's reserved words and from each other (a clash gets trailing underscores)."""
    taken: set[str] = set()
    names: dict[str, str] = {}
    members: dict[str, str] = {}
    for table, wanted in ((names, [v.name for v in machine.vars]), (members, _members(machine))):
        for w in wanted:
            n = _mangle(w, reserved)
            while n in taken:
                n += "_"
            taken.add(n)
            table[w] = n
    return _Printer(lang, names, members)


def _check_label(kind: str, i: int) -> str:
    return f"{kind}_{i}"


def uses_next(e: TExpr) -> bool:
    return any(n.op in ("X", "WX") for n in e.walk())


# ---------------------------------------------------------------- Promela


def _promela_printer(machine: Machine) -> _Printer:
    return _target_printer(machine, "promela", PROMELA_RESERVED)


def promela_ltl(machine: Machine, check: CheckT) -> str | None:
    """The spin formula of a check (None when it uses ``X``, which spin 6.5.2 rejects)."""
    p = _promela_printer(machine)
    if check.kind == "invariant":
        return f"[] {p.expr(check.body)}"
    if check.kind == "deadlock_free":
        return f"[] {_any_guard_text(p, machine)}"
    if uses_next(check.body):
        return None
    return p.expr(check.body)


INT32 = (-2**31, 2**31 - 1)
WARNING_PREFIX = "/* warning: "


def promela_warnings(machine: Machine) -> list[str]:
    """Where spin's 32-bit ``int`` may not mean what the model means (unbounded integers)."""
    out = []
    for v, init in zip(machine.vars, machine.init):
        if T.base(v.type) not in (T.INT, T.DURATION, T.BYTES):
            continue
        bounds = [b for b in (v.lo, v.hi, init) if isinstance(b, int)]
        if v.lo is None or v.hi is None:
            out.append(f"variable `{v.name}` is an unbounded integer in tracelogic, but spin's "
                       "`int` is 32-bit and wraps around past 2147483647; give it a range "
                       f"(e.g. `var {v.name}: 0..1000`) so both mean the same")
        elif any(not INT32[0] <= b <= INT32[1] for b in bounds):
            out.append(f"variable `{v.name}` can hold values outside spin's 32-bit `int` "
                       f"({v.lo}..{v.hi}); spin wraps around where tracelogic does not")
    return out


def warnings_in(text: str) -> list[str]:
    """The warnings a Promela text carries (its leading ``/* warning: … */`` lines)."""
    return [line[len(WARNING_PREFIX):-3] for line in text.splitlines()
            if line.startswith(WARNING_PREFIX) and line.endswith(" */")]


def to_promela(machine: Machine, checks: Sequence[CheckT] = (), *, assertions: bool = True
               ) -> str:
    """Promela text of the model and its checks (see the module docstring)."""
    p = _promela_printer(machine)
    lines = [f"/* model {machine.name}, generated by tracelogic */"]
    lines += [f"{WARNING_PREFIX}{w.replace('*/', '* /')} */" for w in promela_warnings(machine)]
    members = _members(machine)
    if members:
        lines.append("mtype = { " + ", ".join(p.members[m] for m in members) + " };")
    for v, init in zip(machine.vars, machine.init):
        b = T.base(v.type)
        if isinstance(b, T.EnumType):
            typ, val = "mtype", p.members[init]
        elif b == T.BOOL:
            typ, val = "bool", "true" if init else "false"
        elif b in (T.INT, T.DURATION, T.BYTES):
            typ, val = "int", str(init)
        else:
            raise ExportError(f"variable `{v.name}` has type {v.type}, which Promela cannot "
                              "express", value=v.type)
        lines.append(f"{typ} {p.names[v.name]} = {val};")
    temps = sorted({var for a in machine.actions for var in _needs_temp(a)})
    for var in temps:
        v = machine.vars[machine.var_index[var]]
        typ = "mtype" if isinstance(T.base(v.type), T.EnumType) else \
            "bool" if T.base(v.type) == T.BOOL else "int"
        lines.append(f"{typ} t_{p.names[var]};")
    lines.append("")
    lines.append("active proctype main_" + _mangle(machine.name, PROMELA_RESERVED) + "() {")
    lines.append("end:")
    lines.append("  do")
    for action in machine.actions:
        guard = p.expr(action.guard) if action.guard is not None else "true"
        body = []
        tmp = _needs_temp(action)
        for var, value in action.assigns:
            target = f"t_{p.names[var]}" if var in tmp else p.names[var]
            body.append(f"{target} = {p.expr(value)}")
        for var in tmp:
            body.append(f"{p.names[var]} = t_{p.names[var]}")
        if assertions:
            for var, _ in action.assigns:
                v = machine.vars[machine.var_index[var]]
                check = _range_text(v, p.names[var], "&&")
                if check:
                    body.append(f"assert({check})")
        for var in tmp:
            body.append(f"t_{p.names[var]} = {_zero(machine, var, p)}")
        stmts = "; ".join(body) if body else "skip"
        lines.append(f"  :: d_step {{ {guard} -> {stmts} }}  /* {action.name} */")
    lines.append("  od")
    lines.append("}")
    counter: dict[str, int] = {}
    for check in checks:
        counter[check.kind] = counter.get(check.kind, 0) + 1
        name = _check_label(check.kind, counter[check.kind])
        f = promela_ltl(machine, check)
        if f is None:
            lines.append(f"/* {name}: not exported, spin 6.5.2 rejects X */")
        else:
            lines.append(f"ltl {name} {{ {f} }}")
    return "\n".join(lines) + "\n"


def _needs_temp(action) -> list[str]:
    """Assigned variables that another right-hand side of the same action reads."""
    assigned = [v for v, _ in action.assigns]
    out = []
    for var in assigned:
        for other, value in action.assigns:
            if other != var and any(n.op == "var" and n.payload == ("model", var)
                                    for n in value.walk()):
                out.append(var)
                break
    return out


def _zero(machine: Machine, var: str, p: _Printer) -> str:
    v = machine.vars[machine.var_index[var]]
    b = T.base(v.type)
    if isinstance(b, T.EnumType):
        return p.members[b.members[0]]
    return "false" if b == T.BOOL else "0"


def _range_text(v, name: str, conj: str) -> str | None:
    b = T.base(v.type)
    if isinstance(b, T.EnumType) or b == T.BOOL:
        return None
    parts = []
    if v.lo is not None:
        parts.append(f"{show_value(v.lo)} <= {name}")
    if v.hi is not None:
        parts.append(f"{name} <= {show_value(v.hi)}")
    return f" {conj} ".join(parts) or None


# ---------------------------------------------------------------- SMV


def smv_printer(machine: Machine) -> _Printer:
    """The SMV names of a machine's variables and enum members, as one printer: `to_smv` and
    the NuSMV engine (models/nusmv.py) must name them alike."""
    return _target_printer(machine, "smv", SMV_RESERVED)


def smv_expr(machine: Machine, e: TExpr) -> str:
    return smv_printer(machine).expr(e)


def to_smv(machine: Machine, checks: Sequence[CheckT] = (), *, invariants_as_ltl: bool = False
           ) -> str:
    """SMV text of the model and its checks (see the module docstring)."""
    p = smv_printer(machine)
    lines = [f"-- model {machine.name}, generated by tracelogic", "MODULE main", "VAR"]
    for v in machine.vars:
        b = T.base(v.type)
        if isinstance(b, T.EnumType):
            typ = "{" + ", ".join(p.members[m] for m in b.members) + "}"
        elif b == T.BOOL:
            typ = "boolean"
        elif v.values is not None:
            typ = f"{v.lo}..{v.hi}"
        else:
            raise ExportError(f"variable `{v.name}` has type {v.type}; SMV needs a finite type "
                              "(a range, an enum or bool)", value=v.type)
        lines.append(f"  {p.names[v.name]} : {typ};")
    lines.append("DEFINE")
    for i, action in enumerate(machine.actions):
        guard = p.expr(action.guard) if action.guard is not None else "TRUE"
        lines.append(f"  tl_en_{i}_{action.name} := {guard};")
    lines.append(f"  tl_deadlocked := !{_any_guard_text(p, machine)};")
    init = " & ".join(f"{p.names[v.name]} = {_smv_value(p, v, x)}"
                      for v, x in zip(machine.vars, machine.init)) or "TRUE"
    lines.append("INIT")
    lines.append(f"  {init}")
    lines.append("TRANS")
    disjuncts = []
    for i, action in enumerate(machine.actions):
        assigned = dict(action.assigns)
        eqs = [f"tl_en_{i}_{action.name}"]
        for v in machine.vars:
            rhs = p.expr(assigned[v.name]) if v.name in assigned else p.names[v.name]
            eqs.append(f"next({p.names[v.name]}) = {rhs}")
        disjuncts.append("(" + " & ".join(eqs) + ")")
    stutter = ["tl_deadlocked"] + [f"next({p.names[v.name]}) = {p.names[v.name]}"
                                for v in machine.vars]
    disjuncts.append("(" + " & ".join(stutter) + ")")
    lines.append("     " + "\n   | ".join(disjuncts))
    safety = []
    for i, action in enumerate(machine.actions):
        for var, value in action.assigns:
            v = machine.vars[machine.var_index[var]]
            rng = _range_text(v, p.expr(value), "&")
            if rng:
                safety.append(f"(tl_en_{i}_{action.name} -> ({rng}))")
    if safety:
        lines.append("-- no enabled action assigns a value outside its variable's range")
        text = " & ".join(safety)
        lines.append(f"LTLSPEC NAME no_runtime_error := G ({text});" if invariants_as_ltl
                     else f"INVARSPEC NAME no_runtime_error := {text};")
    counter: dict[str, int] = {}
    for check in checks:
        counter[check.kind] = counter.get(check.kind, 0) + 1
        name = _check_label(check.kind, counter[check.kind])
        spec = "LTLSPEC" if invariants_as_ltl else "INVARSPEC"
        g = "G " if invariants_as_ltl else ""
        if check.kind == "invariant":
            lines.append(f"{spec} NAME {name} := {g}{p.expr(check.body)};")
        elif check.kind == "deadlock_free":
            lines.append(f"{spec} NAME {name} := {g}(!tl_deadlocked);")
        else:
            lines.append(f"LTLSPEC NAME {name} := {p.expr(check.body)};")
    return "\n".join(lines) + "\n"


def _smv_value(p: _Printer, v, x) -> str:
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if isinstance(x, str):
        return p.members[x]
    return str(x)


# ---------------------------------------------------------------- pictures


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def model_dot(machine: Machine, run=None, *, bound: int = 2000) -> str:
    """The reachable state graph in DOT; the states and steps of ``run`` are drawn red."""
    res = explore(machine, bound=bound, keep_edges=True, stop_on_error=False)
    on_path: set[int] = set()
    path_edges: set[tuple[int, int]] = set()
    if run is not None:
        idx = [res.index.get(tuple(s)) for s in run.states]
        on_path = {i for i in idx if i is not None}
        path_edges = {(a, b) for a, b in zip(idx, idx[1:]) if a is not None and b is not None}
        if run.loop_start is not None and idx and idx[-1] is not None:
            path_edges.add((idx[-1], idx[run.loop_start]))
    lines = [f'digraph "{_esc(machine.name)}" {{', "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="monospace"];']
    for i, s in enumerate(res.states):
        label = "\\n".join(f"{v.name} = {_esc(show_value(x, v.type))}" for v, x in zip(machine.vars, s))
        attrs = [f'label="{label}"']
        if i == 0:
            attrs.append("penwidth=2")
        if i in on_path:
            attrs.append('color=red, fontcolor=red')
        if i in res.deadlocks:
            attrs.append("peripheries=2")
        lines.append(f"  s{i} [{', '.join(attrs)}];")
    lines.append('  init [shape=point]; init -> s0;')
    for i, row in enumerate(res.edges or []):
        for a, j in row:
            attrs = [f'label="{_esc(machine.action_names[a])}"']
            if (i, j) in path_edges:
                attrs.append("color=red, fontcolor=red, penwidth=2")
            lines.append(f"  s{i} -> s{j} [{', '.join(attrs)}];")
    if not res.complete:
        lines.append(f'  more [shape=plaintext, label="… more than {bound} states"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def model_mermaid(machine: Machine, run=None, *, bound: int = 500) -> str:
    """The reachable state graph as a Mermaid flowchart; ``run`` is highlighted."""
    res = explore(machine, bound=bound, keep_edges=True, stop_on_error=False)
    lines = ["flowchart LR"]
    on_path: list[int] = []
    if run is not None:
        on_path = [res.index[tuple(s)] for s in run.states if tuple(s) in res.index]
    for i, s in enumerate(res.states):
        label = "<br/>".join(f"{v.name} = {show_value(x, v.type)}" for v, x in zip(machine.vars, s))
        lines.append(f'  s{i}["{_mermaid_text(label, keep_br=True)}"]')
    k = 0
    path_links = []
    pairs = set(zip(on_path, on_path[1:]))
    if run is not None and run.loop_start is not None and on_path:
        pairs.add((on_path[-1], on_path[run.loop_start]))
    for i, row in enumerate(res.edges or []):
        for a, j in row:
            lines.append(f"  s{i} -->|{machine.action_names[a]}| s{j}")
            if (i, j) in pairs:
                path_links.append(k)
            k += 1
    lines.append("  style s0 stroke-width:3px")
    for i in dict.fromkeys(on_path):
        lines.append(f"  style s{i} stroke:#d00,color:#d00")
    if path_links:
        lines.append(f"  linkStyle {','.join(map(str, path_links))} stroke:#d00,stroke-width:3px")
    return "\n".join(lines) + "\n"


def workflow_dot(wf: WorkflowT) -> str:
    """The workflow's Petri net in DOT: places are circles, transitions boxes (τ: bars)."""
    from tracelogic.models.petri import petri_net
    from tracelogic.models.workflow import from_ast

    net = petri_net(from_ast(wf.expr))
    g = net.graph
    lines = [f'digraph "{_esc(wf.name)}" {{', "  rankdir=LR;"]
    for n, data in g.nodes(data=True):
        nid = f"{n[0]}{n[1]}"
        if data["kind"] == "place":
            tokens = "●" if n == net.source else ""
            lines.append(f'  {nid} [shape=circle, label="{tokens}", xlabel="{_esc(data["name"])}"];')
        elif data["label"] is None:
            lines.append(f'  {nid} [shape=box, style=filled, fillcolor=black, label="", '
                         f'width=0.1, height=0.4, xlabel="{data["role"]}"];')
        else:
            lines.append(f'  {nid} [shape=box, label="{_esc(repr(data["label"]))}"];')
    for u, v in g.edges():
        lines.append(f"  {u[0]}{u[1]} -> {v[0]}{v[1]};")
    lines.append(f'  p{net.sink[1]} [peripheries=2];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str, *, keep_br: bool = False) -> str:
    """Text for inside a Mermaid node's double quotes: `"` and the characters Mermaid reads
    as markup become entity codes (``#quot;``), so a label never ends the string early."""
    out = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;") \
        .replace(">", "#gt;")
    return out.replace("#lt;br/#gt;", "<br/>") if keep_br else out


def workflow_mermaid(wf: WorkflowT) -> str:
    """The workflow's Petri net as a Mermaid flowchart: places are circles (the source
    `start`, the sink `end`), transitions boxes labelled with their step or role."""
    from tracelogic.models.petri import petri_net
    from tracelogic.models.workflow import from_ast

    net = petri_net(from_ast(wf.expr))
    lines = ["flowchart LR"]
    for n, data in net.graph.nodes(data=True):
        nid = f"{n[0]}{n[1]}"
        if data["kind"] == "place":
            # Mermaid 11 rejects an empty string as a node's text (`(("")`): an unlabelled
            # place is a circle around one space
            text = "start" if n == net.source else "end" if n == net.sink else " "
            lines.append(f'  {nid}(("{text}"))')
        else:
            label = data["role"] if data["label"] is None else repr(data["label"])
            lines.append(f'  {nid}["{_mermaid_text(label)}"]')
    for u, v in net.graph.edges():
        lines.append(f"  {u[0]}{u[1]} --> {v[0]}{v[1]}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the command


def _find(spec: Spec, name: str) -> ModelT | WorkflowT:
    if name in spec.models:
        return spec.models[name]
    if name in spec.workflows:
        return spec.workflows[name]
    if "." in name:
        alias, rest = name.split(".", 1)
        if alias in spec.imports:
            return _find(spec.imports[alias], rest)
    from tracelogic.spec.diagnostics import did_you_mean

    candidates = list(spec.models) + list(spec.workflows)
    raise InputError(f"`{spec.file}` has no model or workflow named `{name}`", value=name,
                     hint=did_you_mean(name, candidates) or
                     (f"it declares {', '.join(candidates)}" if candidates
                      else "it declares no model or workflow"))


def export_command(spec_path: str, model: str, fmt: str, *,
                   search_path: list[str] | tuple[str, ...] = ()) -> str:
    """The text of ``tracelogic export SPEC::MODEL --FMT``.

    ``fmt`` is ``promela``, ``smv``, ``dot`` or ``mermaid``; ``model`` names a model
    (all four formats; DOT and Mermaid mark the counterexample of the first
    failing check of that model) or a workflow (``dot``/``mermaid``: its Petri net).
    Raises :class:`~tracelogic.spec.diagnostics.SpecErrors` for a bad spec, and
    :class:`InputError`/:class:`ExportError` (both ``ValueError``) for a bad name or
    something the format cannot express; the CLI maps these to exit code 2.
    ``search_path``: directories imports may read (``--spec-path``).
    """
    from tracelogic.spec.loader import load

    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}", value=fmt,
                         hint=f"choose one of {', '.join(FORMATS)}")
    spec = load(spec_path, spec_path=search_path)
    target = _find(spec, model)
    if isinstance(target, WorkflowT):
        if fmt == "dot":
            return workflow_dot(target)
        if fmt == "mermaid":
            return workflow_mermaid(target)
        raise InputError(f"`{model}` is a workflow; export it with --dot or --mermaid", value=fmt)
    try:
        machine = Machine(target)
    except UnsupportedModel as e:
        raise ExportError(e.message, value=e.value, hint=e.hint) from e
    checks = [c for c in spec.checks if c.target_kind == "model" and c.target == target.name]
    if fmt == "promela":
        return to_promela(machine, checks)
    if fmt == "smv":
        return to_smv(machine, checks)
    run = _first_counterexample(machine, checks)
    return model_dot(machine, run) if fmt == "dot" else model_mermaid(machine, run)


def _first_counterexample(machine: Machine, checks: Iterable[CheckT]):
    from tracelogic.models.check import (check_deadlock_free, check_invariant,
                                         check_ltl_formula)

    for c in checks:
        try:
            if c.kind == "invariant":
                o = check_invariant(machine, c.body, engine="explicit", bound=20_000)
            elif c.kind == "deadlock_free":
                o = check_deadlock_free(machine, engine="explicit", bound=20_000)
            else:
                o = check_ltl_formula(machine, c.body, bound=20_000)
        except TracelogicError:
            continue
        if o.run is not None:
            return o.run
    return None
