"""Past-time formulas as state bits, Moore machines and timestamp registers.

**Past as state bits.**  The value of a pure-past formula at event *i* is a
function of the letter at *i* and of a few bits remembered from event *i-1*:
one bit per ``Y``/``Z`` node (its operand's previous value) and one per
untimed ``S``/``T`` node (its own previous value)::

    (a S b)(i) = b(i) | (a(i) & (a S b)(i-1))      (a S b)(-1) = false
    (a T b)(i) = b(i) & (a(i) | (a T b)(i-1))      (a T b)(-1) = true
    (Y a)(i)   = a(i-1)                            a(-1) = false  (Z: true)

:class:`PastEvaluator` compiles that update into one straight-line Python
function ``(bits, mask) -> (bits', outputs)``.  Exploring it over the
letters gives a deterministic **Moore machine** whose state after reading
``w[0..i]`` carries the outputs' values at *i*; :func:`moore_dfa` minimises
it (initial partition by output vector).

**Metric past operators** (``S[a,b]``, ``T[a,b]`` and so ``O[..]``,
``H[..]``) are not finite-state.  Each becomes a *timed bit* computed from a
register unit (:class:`SinceUnit`), and the formulas above it read that bit
as an extra atom.  A unit for ``a S[lo,hi] b`` keeps the timestamps of the
candidate events *j* (``b`` held at *j* and ``a`` at every later event):

* ``[0, hi]``: only the newest candidate matters -- 1 register;
* ``[lo, inf)``: only the oldest candidate matters -- 1 register;
* ``[lo, hi]``, ``0 < lo <= hi``: a sorted queue.  Candidates older than
  ``hi`` are dropped, and of three consecutive candidates ``c1 < c2 < c3``
  with ``c3 - c1 <= hi - lo`` the middle one is redundant (any window of
  length ``hi - lo`` that contains ``c2`` contains ``c1`` or ``c3``).  So the
  queue holds at most ``2 * ceil(hi / (hi - lo)) + 2`` timestamps when
  ``lo < hi``, and at most the number of distinct timestamps in a window of
  length ``hi`` when ``lo == hi``.

``T[I]`` is computed as ``!(!a S[I] !b)``.  Units are stacked in *layers*:
the operands of a layer-L unit are pure-past formulas over the atoms and the
timed bits of layers < L, computed by that layer's own Moore machine.
:class:`PastStage` puts it together, both as a per-event ``step`` and as a
whole-trace column evaluation (:meth:`PastStage.columns`) that runs almost
entirely inside C-level iterators.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
from operator import getitem, gt, itemgetter, lshift, mul, not_, or_, sub, xor

from tracelogic.errors import TracelogicError, UnhandledNode
from tracelogic.logic.formula import Formula, FormulaManager, Kind, UNTIMED
from tracelogic.logic.walkers import substitute, topological
from tracelogic.automata.dfa import DFA, minimize
from tracelogic.automata.subset import explore, run

# "No candidate" in a newest-candidate ([0, hi]) and an oldest-candidate ([lo, inf))
# register: infinities, so ``t - r <= hi`` and ``t - r >= lo`` are false for every time and
# every bound (a finite sentinel such as -2**62 reads as a candidate under a bound of 2**62).
_NEG = float("-inf")
_POS = float("inf")

__all__ = ["PastBit", "TimedBit", "PastEvaluator", "moore_dfa", "SinceUnit", "PastStage",
           "MooreTable"]


@dataclass(frozen=True)
class PastBit:
    """Atom key standing for a pure-past subformula read by the future part."""

    formula: Formula

    def __str__(self) -> str:
        return f"[{self.formula}]"


@dataclass(frozen=True)
class TimedBit:
    """Atom key standing for a metric past node, computed by a register unit."""

    formula: Formula

    def __str__(self) -> str:
        return f"[{self.formula}]"


class PastEvaluator:
    """Straight-line code for one event of a set of untimed pure-past formulas.

    ``fn(bits, mask) -> (bits', out)``: ``out`` bit *j* is ``outputs[j]`` at
    this event.  ``index`` maps atom keys to mask bit positions.
    """

    def __init__(self, outputs: Sequence[Formula], index: dict[Hashable, int]) -> None:
        self.outputs = tuple(outputs)
        nodes = topological(list(self.outputs))
        var: dict[Formula, str] = {}
        lines: list[str] = []
        state_nodes: list[Formula] = []
        updates: list[str] = []
        init = 0
        for node in nodes:
            k = node.kind
            v = f"v{len(var)}"
            var[node] = v
            a = [var[c] for c in node.args]
            if k is Kind.TRUE:
                lines.append(f"{v} = 1")
            elif k is Kind.FALSE:
                lines.append(f"{v} = 0")
            elif k is Kind.ATOM:
                if node.key not in index:
                    raise TracelogicError(f"atom {node.key!r} has no bit in the alphabet",
                                          value=node.key)
                lines.append(f"{v} = (m >> {index[node.key]}) & 1")
            elif k is Kind.NOT:
                lines.append(f"{v} = {a[0]} ^ 1")
            elif k is Kind.AND:
                lines.extend(_chain(v, "&", a))
            elif k is Kind.OR:
                lines.extend(_chain(v, "|", a))
            elif k in (Kind.Y, Kind.Z):
                b = len(state_nodes)
                state_nodes.append(node)
                lines.append(f"{v} = (s >> {b}) & 1")
                updates.append(f"({a[0]} << {b})")
                if k is Kind.Z:
                    init |= 1 << b
            elif k in (Kind.S, Kind.T):
                if node.interval != UNTIMED:
                    raise TracelogicError(f"metric node {node!r} must be a timed bit here",
                                          value=node)
                b = len(state_nodes)
                state_nodes.append(node)
                prev = f"((s >> {b}) & 1)"
                if k is Kind.S:
                    lines.append(f"{v} = {a[1]} | ({a[0]} & {prev})")
                else:
                    lines.append(f"{v} = {a[1]} & ({a[0]} | {prev})")
                    init |= 1 << b
                updates.append(f"({v} << {b})")
            else:
                raise UnhandledNode(f"PastEvaluator: {k.name} is not a past-time operator in "
                                    f"{node!r}", value=node,
                                    hint="only pure-past formulas become state bits")
        outs = [f"({var[o]} << {j})" for j, o in enumerate(self.outputs)]
        src = ["def _ev(s, m):"]
        src += ["    " + ln for ln in lines] or ["    pass"]
        src += ["    " + ln for ln in _chain("_s", "|", updates or ["0"])]
        src += ["    " + ln for ln in _chain("_o", "|", outs or ["0"])]
        src.append("    return _s, _o")
        ns: dict = {}
        exec(compile("\n".join(src), "<tracelogic past evaluator>", "exec"), ns)  # noqa: S102
        self.fn = ns["_ev"]
        self.initial = init
        self.n_state_bits = len(state_nodes)


def _chain(var: str, op: str, terms: Sequence[str], width: int = 64) -> list[str]:
    """``var = t0 op t1 op ...`` split into statements (long chains nest deeply
    in Python's AST and overflow the compiler's recursion limit)."""
    out = [f"{var} = " + f" {op} ".join(terms[:width])]
    for i in range(width, len(terms), width):
        out.append(f"{var} {op}= " + f" {op} ".join(terms[i:i + width]))
    return out


def moore_rows(ev: PastEvaluator, letters: Sequence[int], initial_output: int = 0):
    """Breadth-first over the evaluator's reachable states: a generator that yields once
    per state (so a caller can bound the work) and returns ``(delta, outputs)`` of the
    Moore DFA whose state after ``w[0..i]`` outputs the values at *i*.

    A state is ``(bits, outputs)``; the initial one is the marker ``INIT`` (it has read
    nothing, so it outputs ``initial_output`` whatever its bits)."""
    fn = ev.fn
    rows_by_bits: dict[int, list[tuple[int, int]]] = {}  # successors depend on the bits only

    def row(key) -> list[tuple[int, int]]:
        b = ev.initial if key is _INIT else key[0]
        out = rows_by_bits.get(b)
        if out is None:
            out = rows_by_bits[b] = [fn(b, m) for m in letters]
        return out

    keys, delta = yield from explore(_INIT, row)
    return delta, [initial_output if k is _INIT else k[1] for k in keys]


_INIT = ("init",)


def moore_dfa(ev: PastEvaluator, letters: Sequence[int], n_bits: int,
              initial_output: int = 0) -> DFA:
    """Minimal Moore DFA whose state after ``w[0..i]`` outputs the values at *i*."""
    delta, outputs = run(moore_rows(ev, letters, initial_output))
    return minimize(DFA(tuple(letters), delta, 0, outputs, n_bits))


class MooreTable:
    """A Moore DFA as flat runtime tables over every mask below ``2**width``.

    ``table[s * size + mask]`` is the successor; ``out[s]`` the output bits.
    Infeasible masks lead to the absorbing state ``sink`` (output 0).
    ``rows`` is the same machine for C-level stepping with
    ``itertools.accumulate(masks, operator.getitem, initial=rows[0])``: row
    ``s`` is a list whose item ``mask`` is the successor's row and whose items
    ``size + j`` are the output bits.
    """

    def __init__(self, dfa: DFA, width: int, n_outputs: int) -> None:
        self.dfa = dfa
        self.width = width
        self.size = size = 1 << width
        self.n_outputs = n_outputs
        n = dfa.n_states
        self.sink = n
        table = [n] * ((n + 1) * size)
        for s, row in enumerate(dfa.delta):
            base = s * size
            for k, m in enumerate(dfa.letters):
                table[base + m] = row[k]
        self.table = table
        self.out = [int(o) for o in dfa.output] + [0]
        self.initial = dfa.initial
        rows: list[list] = [[None] * (size + n_outputs) for _ in range(n + 1)]
        for s in range(n + 1):
            r = rows[s]
            base = s * size
            for m in range(size):
                r[m] = rows[table[base + m]]
            o = self.out[s]
            for j in range(n_outputs):
                r[size + j] = (o >> j) & 1
        self.rows = rows

    def output_columns(self, masks: Sequence[int]) -> list[list[int]]:
        """Run over ``masks``; column *j* is output *j* after each event (0/1 ints)."""
        seq = list(islice(accumulate(masks, getitem, initial=self.rows[self.initial]), 1, None))
        size = self.size
        return [list(map(itemgetter(size + j), seq)) for j in range(self.n_outputs)]


class SinceUnit:
    """Register unit for ``a S[lo,hi] b`` (or ``!(!a S !b)`` with ``negate``).

    The register state is a tuple of candidate timestamps, ascending (see the
    module docstring for the bound on its length).
    """

    __slots__ = ("lo", "hi", "negate", "node", "pos")

    def __init__(self, node: Formula, lo: int, hi: int | None, negate: bool, pos: int) -> None:
        self.node = node
        self.lo = lo
        self.hi = hi
        self.negate = negate
        self.pos = pos  # bit position of this unit's value in the extended mask

    def bound(self) -> int | None:
        """Largest queue length for integer timestamps (None: depends on event density)."""
        lo, hi = self.lo, self.hi
        if hi is None or lo == 0:
            return 1
        if hi == lo:
            return None
        return 2 * (-(-hi // (hi - lo))) + 2

    def update(self, q: tuple, v1: int, v2: int, t: int) -> tuple[tuple, int]:
        lo, hi = self.lo, self.hi
        if not v1:
            q = ()
        if v2 and not (q and q[-1] == t):
            if hi is None:
                if not q:
                    q = (t,)
            elif lo == 0:
                q = (t,)
            elif len(q) >= 2 and t - q[-2] <= hi - lo:
                q = q[:-1] + (t,)
            else:
                q = q + (t,)
        if hi is not None and q and q[0] < t - hi:
            lim = t - hi
            i = 0
            while i < len(q) and q[i] < lim:
                i += 1
            q = q[i:]
        bit = 1 if (q and q[0] <= t - lo) else 0
        return q, bit ^ self.negate

    def column(self, c1: Sequence[int], c2: Sequence[int], times: Sequence[int]) -> list[int]:
        """The unit's value at every event, from whole operand columns (C-level maps)."""
        n = len(times)
        lo, hi = self.lo, self.hi
        # the latest event k <= i where the left operand failed bounds the candidates
        reset = list(accumulate(map(mul, map(xor, c1, repeat(1)), range(n)), max))
        prefix = [0]
        prefix.extend(accumulate(c2))
        if lo == 0:
            top = range(1, n + 1)
        else:
            top = map(bisect_right, repeat(times), map(sub, times, repeat(lo)), repeat(0),
                      range(1, n + 1))
        if hi is None:
            start: object = reset
        else:
            start = map(max, reset, map(bisect_left, repeat(times), map(sub, times, repeat(hi))))
        cnt = map(sub, map(prefix.__getitem__, top), map(prefix.__getitem__, start))
        if self.negate:
            return list(map(not_, map(gt, cnt, repeat(0))))
        return list(map(gt, cnt, repeat(0)))


class PastStage:
    """Per-event values of pure-past formulas, metric or not.

    ``outputs`` are pure-past formulas over the atoms of ``atom_index`` (bit
    positions ``0 .. n_atoms-1``), whose feasible masks are ``letters``.
    """

    def __init__(self, outputs: Sequence[Formula], atom_index: dict[Hashable, int], n_atoms: int,
                 letters: Sequence[int], mgr: FormulaManager) -> None:
        self.outputs = tuple(outputs)
        self.n_atoms = n_atoms
        m = mgr
        nodes = topological(list(self.outputs))
        timed = [x for x in nodes if x.kind in (Kind.S, Kind.T) and x.interval != UNTIMED]
        for x in nodes:
            if x.has_future:
                raise TracelogicError(f"PastStage needs pure-past formulas, got {x!r}", value=x)
        # bottom-up replacement of metric nodes by timed-bit atoms
        mapping: dict[Formula, Formula] = {}
        operands: dict[Formula, tuple[Formula, Formula, bool]] = {}
        for x in timed:
            a = substitute(x.args[0], mapping) if mapping else x.args[0]
            b = substitute(x.args[1], mapping) if mapping else x.args[1]
            if x.kind is Kind.T:
                operands[x] = (m.Not(a), m.Not(b), True)
            else:
                operands[x] = (a, b, False)
            mapping[x] = m.Atom(TimedBit(x))
        # layers
        level: dict[Formula, int] = {}
        for x in timed:
            lv = 0
            a, b, _ = operands[x]
            for sub_ in topological([a, b]):
                if sub_.kind is Kind.ATOM and isinstance(sub_.key, TimedBit):
                    lv = max(lv, level[sub_.key.formula] + 1)
            level[x] = lv
        n_levels = (max(level.values()) + 1) if level else 0
        ordered = sorted(timed, key=lambda x: level[x])  # stable: bottom-up within a level
        index = dict(atom_index)
        for i, x in enumerate(ordered):
            index[TimedBit(x)] = n_atoms + i
        self.index = index
        self.width = n_atoms + len(ordered)
        self.units: list[SinceUnit] = []
        self.layers: list[tuple[MooreTable, list[SinceUnit]]] = []
        self._operands: list[list[Formula]] = []
        self._runner = None
        base_letters = list(letters)
        done = 0
        for lv in range(n_levels):
            members = [x for x in ordered if level[x] == lv]
            outs: list[Formula] = []
            units: list[SinceUnit] = []
            for x in members:
                a, b, neg = operands[x]
                outs.extend((a, b))
                lo, hi = x.interval  # type: ignore[misc]
                units.append(SinceUnit(x, lo, hi, neg, index[TimedBit(x)]))
            width = n_atoms + done
            lt = _extend_letters(base_letters, n_atoms, done)
            ev = PastEvaluator(outs, index)
            table = MooreTable(moore_dfa(ev, lt, width), width, len(outs))
            self.layers.append((table, units))
            self._operands.append(outs)
            self.units.extend(units)
            done += len(members)
        top_outputs = [substitute(o, mapping) if mapping else o for o in self.outputs]
        self.top_formulas = top_outputs
        ev = PastEvaluator(top_outputs, index)
        lt = _extend_letters(base_letters, n_atoms, done)
        self.top = MooreTable(moore_dfa(ev, lt, self.width), self.width, len(top_outputs))
        self.timed = bool(self.units)
        #: state of the generic (interpreted) step, an independent implementation
        self.initial_generic = (tuple(t.initial for t, _ in self.layers),
                                tuple(() for _ in self.units), self.top.initial)
        self._step = None
        self._units_code = None
        self.initial = self._flat_initial()

    # -- streaming ----------------------------------------------------------------------
    def step(self, state: tuple, mask: int, t: int) -> tuple[tuple, int]:
        """One event: returns ``(state', outputs)`` (output bit *j* = ``outputs[j]``).

        Generated code; the state is a flat tuple: the top machine's state
        (premultiplied), each layer machine's state, then each unit's register
        (an int, or a tuple of timestamps for ``[lo, hi]`` windows)."""
        fn = self._step
        if fn is None:
            fn = self._step = self._compile("step")
        return fn(state, mask, t)

    def step_generic(self, state: tuple, mask: int, t: int) -> tuple[tuple, int]:
        """Interpreted version of :meth:`step` over :attr:`initial_generic` states."""
        lstates, queues, top = state
        if self.layers:
            lstates = list(lstates)
            queues = list(queues)
            u = 0
            for li, (table, units) in enumerate(self.layers):
                s = table.table[lstates[li] * table.size + mask]
                lstates[li] = s
                o = table.out[s]
                for j, unit in enumerate(units):
                    q, bit = unit.update(queues[u], (o >> (2 * j)) & 1, (o >> (2 * j + 1)) & 1, t)
                    queues[u] = q
                    mask |= bit << unit.pos
                    u += 1
            lstates = tuple(lstates)
            queues = tuple(queues)
        top = self.top.table[top * self.top.size + mask]
        return (lstates, queues, top), self.top.out[top]

    # -- whole trace ----------------------------------------------------------------------
    def columns_cbased(self, masks: Sequence[int], times: Sequence[int]) -> list[list[int]]:
        """Each output's value (0/1) at every event, computed column by column with
        C-level iterators (an independent implementation of :meth:`columns`)."""
        ext = list(masks)
        for table, units in self.layers:
            cols = table.output_columns(ext)
            for j, unit in enumerate(units):
                bits = unit.column(cols[2 * j], cols[2 * j + 1], times)
                ext = list(map(or_, ext, map(lshift, bits, repeat(unit.pos))))
        return self.top.output_columns(ext)

    def register_count_generic(self, state: tuple) -> int:
        return sum(len(q) for q in state[1])

    def register_count(self, state: tuple) -> int:
        """Timestamps held in the registers of a (flat) state."""
        n = 0
        base = 1 + sum(1 for _ in self._layer_dfas())
        for i, unit in enumerate(self.units):
            r = state[base + i]
            if isinstance(r, tuple):
                n += len(r)
            elif r not in (_NEG, _POS):
                n += 1
        return n

    def value_bits(self, state: tuple) -> int:
        """The outputs (bit *j* = ``outputs[j]``) at the event that led to ``state``."""
        return self.top.out[state[0] // self.top.size]

    def _layer_dfas(self) -> list[int]:
        return [li for li in range(len(self.layers)) if self._layer_is_temporal(li)]

    def _layer_is_temporal(self, li: int) -> bool:
        return any(not f.is_propositional for f in self._operands[li])

    def _flat_initial(self) -> tuple:
        vals: list = [self.top.initial * self.top.size]
        for li in self._layer_dfas():
            table = self.layers[li][0]
            vals.append(table.initial * table.size)
        for unit in self.units:
            if unit.hi is not None and unit.lo == 0:
                vals.append(_NEG)
            elif unit.hi is None:
                vals.append(_POS)
            else:
                vals.append(())
        return tuple(vals)

    # -- generated stepping loop --------------------------------------------------------
    def run(self, masks: Sequence[int], times: Sequence[int]) -> list[int]:
        """The top machine's state after every event (premultiplied: ``s * size``),
        by a stepping loop generated for this stage.  Map the states through
        :attr:`top_outputs_pm` (bit masks) or :meth:`columns`."""
        if self._runner is None:
            self._runner = self._compile_runner()
        return self._runner(masks, times)

    def columns(self, masks: Sequence[int], times: Sequence[int]) -> list[list[int]]:
        """Each output's value (0/1) at every event."""
        states = self.run(masks, times)
        return [list(map(self._top_bits(j).__getitem__, states))
                for j in range(len(self.outputs))]

    def _top_bits(self, j: int) -> list[int]:
        size = self.top.size
        pm = [0] * (len(self.top.out) * size)
        for s, o in enumerate(self.top.out):
            pm[s * size] = (o >> j) & 1
        return pm

    def _compile_runner(self):
        return self._compile("run")

    def _compile(self, kind: str):
        """Generate the per-event code (``kind='run'``: a loop over a whole trace
        with deque queues; ``kind='step'``: one event on a flat state tuple with
        tuple queues).  Local variables, premultiplied tables, inline register
        units, no allocation per event except queue updates."""
        ns: dict = {"_deque": deque, "NEG": _NEG, "POS": _POS}
        lines: list[str] = []
        init: list[str] = []
        layer_names: list[str] = []
        unit_names: list[str] = []
        NEG, POS = "NEG", "POS"  # names in the generated code's globals
        step = kind == "step"
        width_done = self.n_atoms
        for li, (table, units) in enumerate(self.layers):
            operands = self._operands[li]
            if self._layer_is_temporal(li):
                size = table.size
                ns[f"T{li}"] = [x * size for x in table.table]
                outpm = [0] * (len(table.out) * size)
                for st_, o in enumerate(table.out):
                    outpm[st_ * size] = o
                ns[f"O{li}"] = outpm
                init.append(f"s{li} = {table.initial * size}")
                layer_names.append(f"s{li}")
                lines.append(f"s{li} = T{li}[s{li} + m]")
                lines.append(f"o{li} = O{li}[s{li}]")
            for j, unit in enumerate(units):
                u = unit.pos
                exprs = []
                for k in (0, 1):
                    f = operands[2 * j + k]
                    if f.kind is Kind.TRUE:
                        exprs.append("1")
                    elif f.kind is Kind.FALSE:
                        exprs.append("0")
                    elif f.kind is Kind.ATOM:
                        exprs.append(f"(m & {1 << self.index[f.key]})")
                    elif f.is_propositional:
                        ev = PastEvaluator([f], self.index)
                        ns[f"P{u}_{k}"] = [ev.fn(0, mm)[1] for mm in range(1 << width_done)]
                        # same-layer units may already have set their bits in m
                        exprs.append(f"P{u}_{k}[m & {(1 << width_done) - 1}]")
                    else:
                        exprs.append(f"(o{li} & {1 << (2 * j + k)})")
                stay, cand = exprs
                lo, hi = unit.lo, unit.hi
                bitv = 1 << u
                if hi is None or lo == 0:
                    # one timestamp register, cleared when ``stay`` fails: the latest
                    # candidate for a window [0, hi], the earliest for [lo, inf)
                    empty = POS if hi is None else NEG
                    init.append(f"r{u} = {empty}")
                    unit_names.append(f"r{u}")
                    if stay != "1":
                        lines.append(f"if not {stay}: r{u} = {empty}")
                    if cand != "0":
                        first = f" and r{u} == {POS}" if hi is None else ""
                        lines.append(f"if {cand}{first}: r{u} = t")
                    cond = f"t - r{u} >= {lo}" if hi is None else f"t - r{u} <= {hi}"
                else:
                    # the candidates' timestamps that may still enter the window: a
                    # tuple in ``step``'s flat state, a deque among ``run``'s locals
                    q = f"q{u}"
                    if step:
                        unit_names.append(q)
                        clear = f"{q} = ()"
                        last, push = f"{q} = {q}[:-1] + (t,)", f"{q} = {q} + (t,)"
                        expire = [f"if {q} and {q}[0] < t - {hi}:",
                                  "    _i = 1",
                                  f"    while _i < len({q}) and {q}[_i] < t - {hi}:",
                                  "        _i += 1",
                                  f"    {q} = {q}[_i:]"]
                    else:
                        init.append(f"{q} = _deque()")
                        clear, last, push = f"{q}.clear()", f"{q}[-1] = t", f"{q}.append(t)"
                        expire = [f"while {q} and {q}[0] < t - {hi}:", f"    {q}.popleft()"]
                    if stay != "1":
                        lines.append(f"if not {stay}: {clear}")
                    if cand != "0":
                        lines.append(f"if {cand} and (not {q} or {q}[-1] != t):")
                        lines.append(f"    if len({q}) >= 2 and t - {q}[-2] <= {hi - lo}:")
                        lines.append(f"        {last}")
                        lines.append("    else:")
                        lines.append(f"        {push}")
                    lines += expire
                    cond = f"{q} and {q}[0] <= t - {lo}"
                if unit.negate:
                    lines.append(f"if not ({cond}): m |= {bitv}")
                else:
                    lines.append(f"if {cond}: m |= {bitv}")
            width_done += len(units)
        top = self.top
        ns["TT"] = [x * top.size for x in top.table]
        lines.append("s = TT[s + m]")
        names = ["s", *layer_names, *unit_names]  # the layout of _flat_initial
        if step:
            outpm = [0] * (len(top.out) * top.size)
            for st_, o in enumerate(top.out):
                outpm[st_ * top.size] = o
            ns["OUT"] = outpm
            src = ["def _step(state, m, t):",
                   f"    {', '.join(names)}{',' if len(names) == 1 else ''} = state"]
            src += ["    " + x for x in lines]
            src.append(f"    return ({', '.join(names)}{',' if len(names) == 1 else ''}), OUT[s]")
            name = "_step"
        else:
            init.append(f"s = {top.initial * top.size}")
            lines.append("ap(s)")
            src = ["def _run(masks, times):"]
            src += ["    " + x for x in init]
            src += ["    states = []", "    ap = states.append",
                    "    for m, t in zip(masks, times):"]
            src += ["        " + x for x in lines]
            src.append("    return states")
            name = "_run"
        text = "\n".join(src)
        if step:
            self.step_source = text
        else:
            self.runner_source = text
        exec(compile(text, f"<tracelogic past {kind}>", "exec"), ns)  # noqa: S102
        return ns[name]


def _extend_letters(letters: Sequence[int], n_atoms: int, extra: int) -> list[int]:
    """Feasible atom letters combined with every value of ``extra`` free bits above them."""
    if extra == 0:
        return list(letters)
    return [m | (e << n_atoms) for e in range(1 << extra) for m in letters]
