"""A spec compiled for runtime monitoring: one generated module, stepped per event.

:class:`CompiledSpec` generates, from the typed Spec,

- ``letter(s, st, tr) -> int``: every shared atomic predicate evaluated once,
  packed into a bit mask (bit i = global atom i);
- per property, ``mask(g, r) -> int``: that property's letter, gathered from
  the global mask ``g`` and the bits ``r`` of its register atoms;
- per property with registers (``prev``/``last``), ``regs(s, st, tr, R) -> int``
  and ``update(s, st, tr, R, first)``, which read and write the instance's
  register list ``R``.

Temporal properties then step a :class:`~tracelogic.automata.monitor.TableMonitor`
(a table lookup) or a ``TimedMonitor``; aggregate and metric properties are
evaluated over samples. Everything here is pure computation over spans; files,
sockets and stores are the callers' business.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from tracelogic.automata import compile_monitor
from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.semantics.lower import AtomEncoder, Lowered, lower, show
from tracelogic.semantics.codegen import CodeGen, constant_value, uses_registers
from tracelogic.values.missing import MISSING
from tracelogic.errors import TracelogicError
from tracelogic.logic.formula import Formula
from tracelogic.spec.typed import PropertyT, Spec, TExpr

# properties stepped by a model's own monitor over observations (not letters of atoms)
STEP_KINDS = ("conforms", "saga", "follows")


@dataclass
class CompiledProperty:
    prop: PropertyT
    index: int
    lowered: Lowered | None = None
    monitor: Any = None
    mask: Callable | None = None          # (g, r) -> local mask
    regs: Callable | None = None          # (s, st, tr, R) -> register-atom bits
    update: Callable | None = None        # (s, st, tr, R, first) -> None
    n_registers: int = 0
    register_defaults: tuple = ()
    register_nodes: tuple = ()           # the `prev`/`last` node of each slot of ``R``
    key: Callable | None = None           # span -> scope key (or MISSING)
    triggers: tuple[int, ...] = ()        # global atom bits whose absence makes success vacuous
    trigger_mask: int = 0                 # the same, as one mask over the global letter
    local: dict = field(default_factory=dict)  # memo: global letter -> local mask (no registers)
    aggregates: list = field(default_factory=list)  # (node, value_fn, where_fn)
    body_fn: Callable | None = None       # aggregate/metric body over computed values
    message_fns: list = field(default_factory=list)
    # conforms/saga/follows: (span, is_start, trace) -> the observation the model's monitor
    # steps on (a step letter, or EXPR's value), or MISSING when the event is not one
    observe: Callable | None = None
    # per-trace verdicts depend only on the trace's letters when the property has no
    # registers and, if timed, when the whole trace fits in every bound: `memo_ns` is
    # that bound (None: untimed; -1: never, an interval starts above 0)
    memoizable: bool = False
    memo_ns: int | None = None
    untimed: "CompiledProperty | None" = None  # the same property without time bounds
    # the property has time bounds (it, or its unbounded twin): a violation decided by an
    # event names the event that opened the obligation it broke (Monitor._opened)
    bounded: bool = False
    # the property reads a log field, so its instances see log events (docs/language.md,
    # "Log records"); it runs in the Python engine
    sees_logs: bool = False

    @property
    def name(self) -> str:
        return self.prop.name

    def by_letters(self, duration_ns: int) -> "CompiledProperty | None":
        """The property to step on a trace lasting ``duration_ns`` when its letters alone
        decide (itself, or its unbounded twin when the trace fits in every time bound);
        None when time or registers matter."""
        if self.memoizable and (self.memo_ns is None or self.memo_ns >= duration_ns):
            return self.untimed or self
        return None

    @property
    def timed(self) -> bool:
        return self.monitor is not None and not hasattr(self.monitor, "table")


@dataclass(frozen=True)
class Refusal:
    """A property the engine cannot monitor, and why (in spec syntax, for people)."""

    prop: PropertyT
    reason: str

    @property
    def name(self) -> str:
        return self.prop.name


def is_refusal(e: TracelogicError) -> bool:
    """Whether compiling a property raised ``e`` because the engine cannot monitor it (an
    unsupported formula or model): the property is then reported as not monitored
    (:class:`Refusal`) and the others run. The classes are imported only when an error
    happened, so start-up does not load the model checker."""
    from tracelogic.automata.alphabet import AlphabetTooLarge
    from tracelogic.automata.symbolic import SymbolicTooLarge
    from tracelogic.errors import UnsupportedFormula
    from tracelogic.models.machine import UnsupportedModel

    # a translation past its resource limit (issue 20) names its subformula: refused
    return isinstance(e, (UnsupportedFormula, UnsupportedModel, SymbolicTooLarge,
                          AlphabetTooLarge))


def refusal_reason(e: TracelogicError) -> str:
    """The refusal's message with any formula in it printed in spec syntax (never the
    internal representation of its predicates), and its hint."""
    message = e.message
    value = e.value
    if isinstance(value, Formula):
        from tracelogic.logic.printers import to_tracelogic
        from tracelogic.logic.walkers import atoms as atoms_of

        names = {a: show(a) for a in atoms_of(value) if isinstance(a, TExpr)}
        message = message.replace(str(value), f"`{to_tracelogic(value, names)}`")
    if e.hint:
        message += f" ({e.hint})"
    return message


def reads_logs(prop: PropertyT) -> bool:
    """Whether ``prop`` reads a log record field, directly or through a predicate: then its
    instances see log events (docs/language.md, "Log records")."""
    from tracelogic.spec.checker import LOG_FIELDS

    nodes = [n for n in (prop.body, prop.scope_key) if n is not None]
    return any(n.op == "field" and not n.payload[0] and n.payload[1] in LOG_FIELDS
               for root in nodes for n in root.walk())


class OpaqueEncoder(AtomEncoder):
    """Every atom a fresh Boolean: no letter is pruned. For properties that see log
    events, where span fields may be missing, so `kind == server` and `kind != server`
    can both be false (AtomEncoder's encoding assumes every field has a value)."""

    def __call__(self, atom: TExpr) -> Any:
        import z3

        return self._var(("cond", atom), z3.BoolSort())


class CompiledSpec:
    """Every runtime property of a spec, compiled together so predicates are shared."""

    def __init__(self, spec: Spec, properties: list[str] | None = None):
        self.spec = spec
        self.gen = CodeGen()
        self.atoms: dict[TExpr, int] = {}
        self.properties: list[CompiledProperty] = []
        wanted = [p for p in spec.properties if properties is None or p.name in properties]
        if properties is not None:
            missing = set(properties) - {p.name for p in spec.properties}
            if missing:
                from tracelogic.errors import SpecError
                from tracelogic.spec.diagnostics import did_you_mean
                names = ", ".join(sorted(missing))
                known = [p.name for p in spec.properties]
                raise SpecError(f"no property named {names} in {spec.file}",
                                hint=did_you_mean(min(missing), known)
                                or "properties: " + ", ".join(known))
        self._sources: list[str] = []
        #: the properties the engine refuses to monitor, with the reason: the others are
        #: monitored all the same (issue 15; docs/monitor.md, "Properties not monitored")
        self.refused: list[Refusal] = []
        #: every wanted property in spec order: its CompiledProperty, or its Refusal
        self.order: list[CompiledProperty | Refusal] = []
        encoder = AtomEncoder()
        self.gen.logs = any(reads_logs(p) for p in wanted)
        for prop in wanted:
            atoms = dict(self.atoms)
            try:
                cp = self._compile(prop, len(self.properties), encoder)
            except TracelogicError as e:
                if not is_refusal(e):
                    raise
                self.atoms = atoms  # the refused property's atoms are not evaluated
                self.gen.subfunctions.clear()
                refusal = Refusal(prop, refusal_reason(e))
                self.refused.append(refusal)
                self.order.append(refusal)
                continue
            self.properties.append(cp)
            self.order.append(cp)
        self.letter = self._letter_function()

    def _compile(self, prop: PropertyT, i: int, encoder: AtomEncoder) -> CompiledProperty:
        """One property, as property ``i`` of the compiled spec; raises an error that
        :func:`is_refusal` accepts when the engine cannot monitor it."""
        cp = CompiledProperty(prop, i)
        cp.sees_logs = reads_logs(prop)
        if cp.sees_logs and prop.kind != "formula":
            from tracelogic.errors import UnsupportedFormula

            raise UnsupportedFormula(
                f"a {prop.kind} property sees span events only, and this one reads a log "
                "field (signal, severity, severity_text or body)",
                hint="state it as a temporal property (docs/language.md, \"Log records\")")
        if cp.sees_logs:
            encoder = OpaqueEncoder()  # span fields may be missing: no letter is impossible
        if prop.kind == "formula":
            self._formula(cp, encoder)
        elif prop.kind in ("aggregate", "metric"):
            self._aggregate(cp)
        elif prop.kind in STEP_KINDS:
            self._stepped(cp)
        else:
            raise AssertionError(f"property kind {prop.kind!r}")  # the checker's kinds
        if prop.scope == "key" and prop.scope_key is not None and prop.kind != "metric":
            key = self.gen.expr(prop.scope_key)
            if prop.scope_key.op == "field" and prop.scope_key.payload[1] == "service":
                key = f"({key} or MISSING)"  # no service.name: no instance (§3)
            cp.key = self._function(f"key{i}", key, "s")
        self._messages(cp)
        return cp

    # ------------------------------------------------------------- codegen
    def _exec(self, source: str) -> dict:
        self._sources.append(source)
        ns = self.gen.namespace
        code = compile(source, f"<tracelogic {self.spec.file}>", "exec")
        exec(code, ns)  # generated from the typed IR only; see semantics/codegen.py
        return ns

    def _function(self, name: str, body: str, params: str) -> Callable:
        subs = "".join(self.gen.subfunctions)
        self.gen.subfunctions.clear()
        ns = self._exec(f"{subs}def {name}({params}):\n    return {body}\n")
        return ns[name]

    def _global_atom(self, atom: TExpr) -> int:
        idx = self.atoms.get(atom)
        if idx is None:
            idx = self.atoms[atom] = len(self.atoms)
        return idx

    def _formula(self, cp: CompiledProperty, encoder: AtomEncoder) -> None:
        lowered = lower(cp.prop.body)
        cp.lowered = lowered
        if cp.prop.scope != "trace":
            refusal = cross_trace_refusal(cp.prop, lowered.formula)
            if refusal is not None:
                raise refusal
        reg_atoms = self._automaton(cp, lowered.formula, encoder, f"mask{cp.index}")
        cp.triggers = tuple(self._global_atom(t) for t in lowered.triggers
                            if not uses_registers(t))
        for t in cp.triggers:
            cp.trigger_mask |= 1 << t
        if reg_atoms:
            self._registers(cp, [a for _, a in reg_atoms])
        cp.memoizable = not reg_atoms
        if cp.timed:
            cp.bounded = True
            cp.memo_ns = _fitting_span(lowered.formula)
            if cp.memo_ns >= 0 and cp.memoizable:
                # on a trace no longer than memo_ns the bounds cannot matter: step the
                # unbounded formula's table instead of the timed monitor
                twin = CompiledProperty(cp.prop, cp.index, lowered=lowered,
                                        triggers=cp.triggers, trigger_mask=cp.trigger_mask,
                                        message_fns=cp.message_fns, memoizable=True,
                                        bounded=True)
                self._automaton(twin, lowered.formula.manager.without_bounds(
                    lowered.formula), encoder, f"mask{cp.index}_untimed")
                cp.untimed = twin

    def _automaton(self, cp: CompiledProperty, formula: Any, encoder: AtomEncoder,
                   name: str) -> list:
        """The monitor of ``formula`` and the mask function that gathers its letter; returns
        the (bit, atom) pairs of atoms that read registers."""
        # The automata choose the bit order (atom creation order) and we read it back:
        # one formula always gets one order, so translations cached by formula agree.
        cp.monitor = compile_monitor(formula, encode=encoder)
        parts, reg_atoms = [], []
        for bit, atom in enumerate(cp.monitor.atoms):
            if uses_registers(atom):
                reg_atoms.append((bit, atom))
            else:
                g = self._global_atom(atom)
                parts.append(f"(((g >> {g}) & 1) << {bit})")
        for j, (bit, _) in enumerate(reg_atoms):
            parts.append(f"(((r >> {j}) & 1) << {bit})")
        cp.mask = self._function(name, " | ".join(parts) or "0", "g, r")
        return reg_atoms

    def _stepped(self, cp: CompiledProperty) -> None:
        """`conforms W` / `saga W` / `follows M on VAR by EXPR`: the model's own monitor
        (models.runtime) and a generated observer.

        A workflow observes step events: a span is the first step whose predicate it
        satisfies, and its start and end are the letters of models.runtime. `follows`
        observes EXPR's value once per span that carries it, at the span's start (§7).
        """
        from tracelogic.models.runtime import for_property

        aut = for_property(self.spec, cp.prop)
        cp.monitor = aut
        i = cp.index
        if cp.prop.kind == "follows":
            body = f"    return {self.gen.expr(cp.prop.body)} if st else MISSING\n"
        else:
            # letter = 4 * step + 2 * failed + (phase == end); the status is final at both
            # events (§2), and a failed start is not a distinct letter in models.runtime
            lines = [f"    {'elif' if k else 'if'} {self.gen.expr(aut.predicates[name])}: "
                     f"k = {4 * k}" for k, name in enumerate(aut.steps)]
            body = ("\n".join(lines + ["    else: return MISSING"]) + "\n"
                    "    return k if st else k + 1 + 2 * (s.status == 'error')\n"
                    if lines else "    return MISSING\n")  # a workflow without steps
        subs = "".join(self.gen.subfunctions)
        self.gen.subfunctions.clear()
        ns = self._exec(f"{subs}def observe{i}(s, st, tr):\n{body}")
        cp.observe = ns[f"observe{i}"]

    def _registers(self, cp: CompiledProperty, atoms: list[TExpr]) -> None:
        gen = self.gen
        gen.registers = {}
        checks = [f"    if {gen.cond(a)}: m |= {1 << j}" for j, a in enumerate(atoms)]
        slots = sorted(gen.registers.items(), key=lambda kv: kv[1])
        pre, post, defaults = [], [], []
        for node, slot in slots:
            value = gen.expr(node.args[0])
            if node.op == "prev":
                pre.append(f"    if first: R[{slot}] = {value}")
                post.append(f"    R[{slot}] = {value}")
                defaults.append(None)
            else:
                where = gen.cond(node.args[1])
                post.append(f"    if {where}: R[{slot}] = {value}")
                defaults.append(constant_value(node.args[2]))  # a constant: `0`, `-1`, `2.5`, `"x"`
        subs = "".join(gen.subfunctions)
        gen.subfunctions.clear()
        i = cp.index
        src = (f"{subs}def regs{i}(s, st, tr, R, first):\n" + ("\n".join(pre) + "\n" if pre else "")
               + "    m = 0\n" + "\n".join(checks) + "\n    return m\n"
               f"def update{i}(s, st, tr, R):\n" + ("\n".join(post) or "    pass") + "\n")
        ns = self._exec(src)
        cp.regs, cp.update = ns[f"regs{i}"], ns[f"update{i}"]
        cp.n_registers = len(slots)
        cp.register_defaults = tuple(defaults)
        cp.register_nodes = tuple(node for node, _ in slots)
        gen.registers = {}

    def _aggregate(self, cp: CompiledProperty) -> None:
        prop = cp.prop
        aggs = [n for n in prop.body.walk() if n.op == "agg"]
        for node in aggs:
            value = self._function(f"aggv{cp.index}_{len(cp.aggregates)}",
                                   self.gen.expr(node.args[0]), "s, st=False, tr=None")
            where = self._function(f"aggw{cp.index}_{len(cp.aggregates)}",
                                   self.gen.cond(node.args[1]), "s, st=False, tr=None")
            cp.aggregates.append((node, value, where))
        if prop.kind == "metric":
            cp.body_fn = compile_expr(prop.body, _runtime_literal)
            return
        ids = {id(n): i for i, (n, _, _) in enumerate(cp.aggregates)}

        def resolve(node: TExpr):
            if node.op == "agg":
                i = ids[id(node)]
                return lambda env: env[("agg", i)]
            return _runtime_literal(node)
        cp.body_fn = compile_expr(prop.body, resolve)

    def _messages(self, cp: CompiledProperty) -> None:
        for part in cp.prop.message_parts:
            if isinstance(part, str):
                cp.message_fns.append(part)
            elif part.op == "agg":
                value = self._function(f"msgv{cp.index}_{len(cp.message_fns)}",
                                       self.gen.expr(part.args[0]), "s, st=False, tr=None")
                where = self._function(f"msgw{cp.index}_{len(cp.message_fns)}",
                                       self.gen.cond(part.args[1]), "s, st=False, tr=None")
                cp.message_fns.append(("agg", part.payload, value, where, part.type))
            elif part.op == "var":
                cp.message_fns.append(("metric", part.payload[1], part.type))
            else:
                fn = self._function(f"msg{cp.index}_{len(cp.message_fns)}",
                                    self.gen.expr(part), "s, st=False, tr=None")
                cp.message_fns.append(("span", fn, part.type))

    def _letter_function(self) -> Callable:
        gen = self.gen
        lines = [f"    if {gen.cond(a)}: m |= {1 << i}" for a, i in self.atoms.items()]
        subs = "".join(gen.subfunctions)
        gen.subfunctions.clear()
        ns = self._exec(f"{subs}def letter(s, st, tr):\n    m = 0\n" + "\n".join(lines)
                        + "\n    return m\n")
        return ns["letter"]

    @property
    def wanted_attrs(self) -> frozenset[str]:
        """The attribute keys any predicate or healing argument reads: all that decoding
        needs to extract (a policy's `attr["order.id"]` must survive decoding too)."""
        keys = {k for k in self.gen.attr_keys if k is not None}
        for heal in self.spec.heals:
            for _, arg in heal.args:
                keys.update(n.payload[2] for n in arg.walk()
                            if n.op == "attr" and n.payload[2] is not None)
        return frozenset(keys)

    @property
    def source(self) -> str:
        """The generated module, for `--debug` and for the curious."""
        return "\n".join(self._sources)


def spec_text(formula: Any) -> str:
    """A lowered formula in spec syntax (atoms as the spec writes them), without the
    outermost parentheses: `O[<= 25ms] (G (name == "a"))`."""
    from tracelogic.logic.printers import to_tracelogic
    from tracelogic.logic.walkers import atoms

    names = {}
    for a in atoms(formula):
        try:
            names[a] = show(a) if isinstance(a, TExpr) else str(a)
        except Exception:  # noqa: BLE001 - a name for a message only
            names[a] = str(a)
    text = to_tracelogic(formula, names)
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                break
        else:
            text = text[1:-1]
    return text


def cross_trace_refusal(prop: PropertyT, formula: Any) -> Exception | None:
    """Why a cross-trace property cannot be monitored, or None.

    A past operator over a future one with time bounds in the formula has no automaton
    yet (docs/automata.md): a per-trace property evaluates it over the assembled trace,
    but a cross-trace instance is an unbounded stream (`serve` steps it event by event),
    so it is refused there, in `monitor` and `serve` alike."""
    from tracelogic.logic.formula import PAST_OVER_FUTURE, UNTIMED, Kind
    from tracelogic.logic.printers import UnsupportedFormula
    from tracelogic.logic.walkers import topological
    from tracelogic.spec.scopes import scope_text

    if not (formula.is_metric and formula.flags & PAST_OVER_FUTURE):
        return None
    past_kinds = (Kind.Y, Kind.Z, Kind.S, Kind.T)
    nodes = list(reversed(topological(formula)))  # parents first
    pof = next(n for n in nodes if n.kind in past_kinds and n.args
               and any(c.has_future for c in n.args))
    bounded = next((n for n in topological(pof) if n.interval not in (None, UNTIMED)),
                   None) or next(n for n in nodes if n.interval not in (None, UNTIMED))
    what = f"`{spec_text(pof)}` puts a past operator over a future formula"
    if bounded is pof:
        what = f"`{spec_text(pof)}` puts a past operator with a time bound over a future formula"
    else:
        what += f", and `{spec_text(bounded)}` has a time bound"
    scope = "global" if prop.scope == "global" else f"per {scope_text(prop)}"
    return UnsupportedFormula(
        f"property `{prop.name}`: {what}. A `{scope}` instance is an unbounded stream, and "
        "with time bounds a past operator over a future one has no monitor there yet "
        "(per trace, the assembled trace is evaluated whole)",
        value=formula, span=getattr(prop, "span", None),
        hint="monitor it per trace (without the scope), or drop the time bounds (untimed, "
             "every formula has a DFA in every scope), or keep the future operators outside "
             "the past ones, e.g. `G (a -> O[<= 25ms] b)`")


def _fitting_span(formula: Any) -> int:
    """The longest trace on which every time bound of ``formula`` holds for any two of
    its events, so the timed monitor's verdict depends on the letters alone: the least
    upper bound, when every interval starts at 0; else -1."""
    best, todo, seen = None, [formula], set()
    while todo:
        f = todo.pop()
        if f.id in seen:
            continue
        seen.add(f.id)
        if not f.is_untimed:
            if f.lo != 0 or f.hi is None:
                return -1
            best = f.hi if best is None else min(best, f.hi)
        todo.extend(a for a in f.args if hasattr(a, "interval"))
    return -1 if best is None else best


def _runtime_literal(node: TExpr):
    """A real literal is a float at runtime (SPEC-LANGUAGE.md §1), as in the generated
    predicates: `fraction(...) >= 0.6` holds for 3 of 5 (0.6 == 3/5 as floats), which
    an exact Fraction(3, 5) compared with the float 3/5 would not."""
    if node.op == "lit" and isinstance(node.payload, Fraction):
        v = float(node.payload)
        return lambda env: v
    return None


def _distinct(values: Any) -> list:
    """The distinct ``values`` (equal ones once, as a set keeps them); a key-value list
    attribute (a mapping) is not hashable, so those are compared one by one."""
    seen: set = set()
    unhashable: list = []
    for v in values:
        try:
            seen.add(v)
        except TypeError:
            if v not in unhashable:
                unhashable.append(v)
    return list(seen) + unhashable


_NOT_NUMBERS = frozenset({bool, str, type(None), type(MISSING)})


def aggregate_value(name: str, samples: list[tuple[Any, Any]], window_ns: int | None):
    """The value of one aggregate over (value, where) samples, or None for no sample."""
    if name in ("count", "fraction", "per_second"):
        hits = sum(1 for v, w in samples if w and v is True)
        if name == "count":
            return hits
        if name == "fraction":  # the share among the samples that satisfy `where`
            considered = sum(1 for _, w in samples if w)
            return hits / considered if considered else None
        return hits / (window_ns / 1e9) if window_ns else None
    if name in ("count_distinct", "distinct"):
        distinct = sorted(_distinct(v for v, w in samples
                                    if w and v is not MISSING and v is not None), key=str)
        return len(distinct) if name == "count_distinct" else ", ".join(map(str, distinct))
    # the numbers among the samples that satisfy `where` (not bools): one pass, plain ints
    # and floats told by their type (a window holds hundreds of thousands of samples)
    nums = [v for v, w in samples if w and (
        type(v) is int or type(v) is float or (
            v.__class__ not in _NOT_NUMBERS and isinstance(v, (int, float))
            and not isinstance(v, bool)))]
    if not nums:
        return None
    if name == "avg":
        return sum(nums) / len(nums)
    if name == "min":
        return min(nums)
    if name == "max":
        return max(nums)
    if name.startswith("p"):
        q = int(name[1:]) / 100
        ordered = sorted(nums)
        # nearest-rank percentile: the smallest value with at least q of the samples at or below
        import math
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    raise ValueError(name)



__all__ = ["CompiledSpec", "CompiledProperty", "Refusal", "is_refusal", "refusal_reason", "aggregate_value", "EvalError", "show"]
