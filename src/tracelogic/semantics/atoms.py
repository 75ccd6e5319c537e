"""Typed atoms -> the native core's atom program (``native/src/atoms.rs``).

The program is the other backend of :class:`~.codegen.CodeGen`: this module walks
each atom node by node exactly as ``CodeGen.expr``/``CodeGen.cond`` generate Python from
it (the same short-circuits, the same ``_truthy`` on conditions of type ``dyn``, the same
choice between a static and a dynamic comparison, the same mismatch sites), and the core
computes the same letters and the same mismatch counts; the generated Python is the
reference semantics (tests/native/test_atoms_native.py holds the two together).

What the core cannot compute exactly is :class:`Unsupported`, with the reason, and stays
in the Python engine:

- ``linked`` (it needs the input's link index), ``var``, and the built-in functions
  (``abs``, ``min``, ``max``, ``clamp``, ``ceil``, ``floor``: the Python engine calls
  ``values.arith.BUILTINS``); registers (``prev``/``last``) outside a property's own register
  program (:func:`register_program`), and a register of a value of any type used directly
  as a condition (Python's truthiness of a bytes or array value);
- an integer that may leave ``i128``: every integer an atom computes is bounded
  statically (literals, attributes within ``i64``, durations within ``u64``'s range, and
  through ``+ - * // % neg``); Python's integers are unbounded, the core's are not;
- a regular expression the ``regex`` crate would not match exactly like RE2 (see
  :func:`rust_pattern`);
- a condition whose value is neither a bool nor ``MISSING`` (the checker does not make
  one), and atoms nested deeper than :data:`MAX_DEPTH`;
- a comparison of an attribute of no declared type with a duration, bytes or cpu value,
  its sum or difference with one, or its lookup in a list or range of them
  (:func:`~.codegen.unit_reading`): the run's warning says which number was read and
  how, and the core reports counts and type names only.

Node shapes (JSON objects with ``"op"``; ``V`` a literal ``{"int": "123"}`` (decimal
string), ``{"float": 1.5}``, ``{"str": "x"}`` or ``{"bool": true}``)::

    {"op":"lit","v":V}   {"op":"field","hops":N,"name":F}   {"op":"attr","hops":N,"resource":B,"key":K}
    {"op":"has_event","name":K}   {"op":"has_ancestor"|"has_child","arg":E}
    {"op":"exists"|"not"|"truthy"|"neg","arg":E}
    {"op":"and"|"or"|"implies"|"iff"|"xor","args":[E,E]}
    {"op":"cmp","cmp":"=="|"!="|"<"|"<="|">"|">=","args":[E,E],"site":null|I}
    {"op":"arith","ar":"+"|"-"|"*"|"/"|"//"|"%","args":[E,E],"static":B}
    {"op":"in_list","arg":E,"items":[V...]}  {"op":"in_range","arg":E,"lo":V,"hi":V}
    {"op":"matches","arg":E,"pattern":P}  {"op":"contains"|"startswith","args":[E,E]}
    {"op":"or_missing","arg":E}   (Python's ``x or MISSING``)
    {"op":"reg","slot":I}   (the instance's register ``R[I]``: a ``prev``/``last``)

A program is ``{"atoms": [E...], "sites": [label...], "values": [E...]}``: ``values`` are
expressions evaluated to a value rather than a bit, the scope keys of cross-trace
properties (:func:`key_value`, ``CompiledSpec``'s ``key`` functions), and ``registers``
(optional) holds, per property with ``prev``/``last``, what ``CompiledSpec`` generates as its
``regs`` and ``update`` functions (:func:`register_program`). A ``cmp`` with a
``site`` is a dynamic comparison whose mismatches count under ``sites[site]``, the label
``show(cmp)`` that ``CodeGen._cmp_site`` counts under, so the core's counts merge into
``CodeGen.mismatches`` by label.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tracelogic.errors import UnhandledNode
from tracelogic.semantics.codegen import (ARITH_NAMES, STATIC_FIELDS, CodeGen, constant_value,
                                          unit_reading)
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import show
from tracelogic.values.arith import DIVISIONS

#: atoms nested deeper than this run in Python: the core's parser and evaluator recurse,
#: on any thread's stack (native/src/atoms.rs, `MAX_JSON_DEPTH`: a node takes at most two
#: levels of JSON)
MAX_DEPTH = 100
I128_MAX = 2 ** 127 - 1
#: every int an attribute holds (OTLP's int64), and every duration (end - start of two u64)
ATTR_BOUND = 2 ** 63
DURATION_BOUND = 2 ** 64

# the built-in fields of a span, as the core names them (CodeGen reads the same set)
FIELDS = frozenset(STATIC_FIELDS) | {"duration", "is_root", "start", "end"}


@dataclass(frozen=True)
class Unsupported:
    """Why the core cannot evaluate an atom exactly; the Python engine evaluates it."""

    reason: str


@dataclass(frozen=True)
class AtomProgram:
    """A whole program: ``program`` is the JSON document for ``Program::from_json``; an
    unsupported atom keeps its bit position with a constant-false placeholder and is listed
    in ``unsupported`` (atom index -> reason)."""

    program: dict
    unsupported: dict[int, str] = field(default_factory=dict)
    # per ``registers`` argument of :func:`program`: its index in ``program["registers"]``,
    # or why the core cannot run it
    registers: tuple[int | Unsupported, ...] = ()
    # the same per ``samples`` argument, for ``program["samples"]``
    samples: tuple[int | Unsupported, ...] = ()


class _Refuse(Exception):
    pass


def emit(atom: TExpr, sites: dict[str, int] | None = None) -> dict | Unsupported:
    """The program node of ``atom`` as a condition (``CodeGen.cond``), registering its
    comparison sites in ``sites`` (label -> index; left unchanged when unsupported)."""
    local = dict(sites) if sites is not None else {}
    try:
        node = _Emitter(local).cond(atom, 0)
    except _Refuse as e:
        return Unsupported(str(e))
    if sites is not None:
        sites.update(local)
    return node


def key_value(key: TExpr) -> dict | Unsupported:
    """The program node of a scope key (``per attr["k"]``, ``per service``, ``per name``):
    the value ``CompiledSpec``'s generated ``key(s)`` returns, which reads the span alone
    (no ``tr``, no ``st``): an attribute or built-in field of the span itself, with
    ``per service``'s ``or MISSING`` (no service: no instance, SPEC-LANGUAGE §3)."""
    if key.op == "attr" and not key.payload[0] and isinstance(key.payload[2], str):
        return {"op": "attr", "hops": 0, "resource": key.payload[1] != "attr",
                "key": key.payload[2]}
    if key.op == "field" and not key.payload[0] and key.payload[1] not in ("start", "end"):
        if key.payload[1] not in FIELDS:
            return Unsupported(f"the scope key field `{key.payload[1]}`")
        node = {"op": "field", "hops": 0, "name": key.payload[1]}
        if key.payload[1] == "service":
            return {"op": "or_missing", "arg": node}
        return node
    return Unsupported(f"the scope key `{show(key)}` (the core reads a key from the span's "
                       "own attributes and fields)")


def program(atoms: list[TExpr] | tuple[TExpr, ...],
            values: list[dict] | tuple[dict, ...] = (),
            registers: list[tuple[list[tuple[int, TExpr]], tuple[TExpr, ...]]] | None = None,
            samples: list[list[TExpr]] | None = None) -> AtomProgram:
    """The program of ``atoms`` in bit order, with the reasons for those it cannot run;
    ``values`` are value nodes (:func:`key_value`) the program evaluates too; ``registers``
    are :func:`register_program`'s arguments per property with registers, whose results
    (a program index, or :class:`Unsupported`) are ``AtomProgram.registers``; ``samples``
    the same for :func:`sample_program` (per aggregate property, its ``agg`` nodes)."""
    sites: dict[str, int] = {}
    nodes, unsupported = [], {}
    for i, atom in enumerate(atoms):
        node = emit(atom, sites)
        if isinstance(node, Unsupported):
            unsupported[i] = node.reason
            node = {"op": "lit", "v": {"bool": False}}
        nodes.append(node)
    regs: list[dict] = []
    indexes: list[int | Unsupported] = []
    for reg_atoms, slots in registers or ():
        built = register_program(reg_atoms, slots, sites)
        if not isinstance(built, Unsupported):
            regs.append(built)
            built = len(regs) - 1
        indexes.append(built)
    sampled: list[dict] = []
    sample_indexes: list[int | Unsupported] = []
    for aggs in samples or ():
        built = sample_program(aggs, sites)
        if not isinstance(built, Unsupported):
            sampled.append(built)
            built = len(sampled) - 1
        sample_indexes.append(built)
    labels = sorted(sites, key=sites.__getitem__)
    doc = {"atoms": nodes, "sites": labels, "values": list(values)}
    if regs:
        doc["registers"] = regs
    if sampled:
        doc["samples"] = sampled
    return AtomProgram(doc, unsupported, tuple(indexes), tuple(sample_indexes))


def sample_program(aggs: list[TExpr], sites: dict[str, int]) -> dict | Unsupported:
    """One aggregate property's samples as ``CompiledSpec._aggregate`` generates them (per
    ``agg`` node a value function, ``CodeGen.expr`` of its value, and a where function,
    ``CodeGen.cond`` of its ``where``), which ``Monitor.sample`` calls at each span's end
    event: ``{"aggs": [{"value": E, "where": E, "raw": B}...]}``. The core returns the
    values and the where's truth per sample; Python computes the aggregates.

    ``count_distinct`` counts any value by its text (``str``), a bytes or array attribute
    too: with ``raw``, the core returns such a value as the attribute itself (its value
    is then an ``attr`` node). Refused: ``count_distinct`` of another expression of any
    type (``a or b`` passes such a value through)."""
    local = dict(sites)
    em = _Emitter(local)
    out = []
    try:
        for node in aggs:
            value = node.args[0]
            while value.op == "pred":
                value = value.args[0]
            raw = node.payload in ("count_distinct", "distinct") and value.type == T.DYN
            if raw and value.op != "attr":
                raise _Refuse(f"`{node.payload}` of a value of any type that is not an "
                              "attribute")
            out.append({"value": em.expr(value, 1)[0], "where": em.cond(node.args[1], 1),
                        "raw": raw})
    except _Refuse as e:
        return Unsupported(str(e))
    sites.update(local)
    return {"aggs": out}


def register_program(reg_atoms: list[tuple[int, TExpr]], slots: tuple[TExpr, ...],
                     sites: dict[str, int]) -> dict | Unsupported:
    """One property's registers as ``CompiledSpec._registers`` generates its ``regs`` and
    ``update`` functions: ``{"atoms": [[bit, E]...], "slots": [{"value": E, "where": E |
    null, "default": V | null}...]}``. ``slots`` is the property's ``register_nodes`` (the
    ``prev``/``last`` node of each slot of its register list ``R``), ``reg_atoms`` its
    letter's (bit, atom) pairs that read them (``regs``'s checks, in bit order).

    The core runs them as the generated code does, per event of an instance: on its first
    event every ``prev`` slot first takes the event's value; then each atom is evaluated
    (reading ``R``), then every slot is updated in slot order (``prev``: the value;
    ``last``: the value when ``where`` holds). ``last`` starts at its default constant.
    Comparison sites are registered in ``sites`` only when the whole property is
    supported.
    """
    local = dict(sites)
    em = _Emitter(local, {n: i for i, n in enumerate(slots)})
    out_slots = []
    try:
        for i, node in enumerate(slots):
            value, bound = em.expr(node.args[0], 1)
            slot = {"value": value, "where": None, "default": None}
            if node.op == "last":
                slot["where"] = em.cond(node.args[1], 1)
                try:
                    default = constant_value(node.args[2])
                except UnhandledNode as exc:
                    raise _Refuse(str(exc)) from None
                slot["default"], dbound = _literal(default)
                bound = max(bound, dbound)
            em.bounds[i] = bound
            out_slots.append(slot)
        atoms = [[bit, em.cond(atom, 0)] for bit, atom in reg_atoms]
    except _Refuse as e:
        return Unsupported(str(e))
    sites.update(local)
    return {"atoms": atoms, "slots": out_slots}


def _literal(v: Any) -> tuple[dict, int]:
    """A constant as the generated code holds it (``CodeGen.literal``: a real is a float),
    and the magnitude of the integer it is (0 for other values)."""
    if isinstance(v, Fraction):
        try:
            v = float(v)
        except OverflowError:
            raise _Refuse("a real literal too large for a float") from None
    if isinstance(v, bool):
        return {"bool": v}, 0
    if isinstance(v, int):
        if abs(v) > I128_MAX:
            raise _Refuse(f"an integer literal of {v.bit_length()} bits (the core has 128)")
        return {"int": str(v)}, abs(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _Refuse(f"the float {v} has no JSON literal")
        return {"float": v}, 0
    if isinstance(v, str):
        return {"str": v}, 0
    raise _Refuse(f"a constant of type {type(v).__name__}")


class _Emitter:
    """``CodeGen.expr`` and ``CodeGen.cond``, returning (node, integer magnitude bound)."""

    def __init__(self, sites: dict[str, int], slots: dict[TExpr, int] | None = None) -> None:
        self.sites = sites
        self.slots = slots  # a register node -> its slot (None: no registers to read)
        self.bounds: dict[int, int] = {}  # slot -> the magnitude bound of the ints it holds

    def cond(self, e: TExpr, depth: int) -> dict:
        inner = e
        while inner.op == "pred":
            inner = inner.args[0]
        if inner.op in ("prev", "last") and e.type != T.DYN and inner.args[0].type == T.DYN:
            # `if R[i]:` is Python's truthiness of whatever attribute value it holds; the
            # core does not carry a bytes' or an array's length
            raise _Refuse(f"`{inner.op}` of a value of any type used as a condition")
        node, _ = self.expr(e, depth)
        if e.type == T.DYN:
            return {"op": "truthy", "arg": node}
        if e.type != T.BOOL:
            raise _Refuse(f"a condition of type {e.type}")
        return node

    def expr(self, e: TExpr, depth: int) -> tuple[dict, int]:
        if depth > MAX_DEPTH:
            raise _Refuse(f"nested deeper than {MAX_DEPTH}")
        d = depth + 1
        op, a = e.op, e.args
        if op == "lit":
            v, bound = _literal(e.payload)
            return {"op": "lit", "v": v}, bound
        if op == "enum":
            return {"op": "lit", "v": {"str": e.payload[1]}}, 0
        if op == "pred":
            return self.expr(a[0], d)
        if op == "field":
            hops, name = e.payload
            if name not in FIELDS:
                raise _Refuse(f"the field `{name}`")
            bound = DURATION_BOUND if name == "duration" else 0
            return {"op": "field", "hops": len(hops), "name": name}, bound
        if op == "attr":
            hops, source, key = e.payload
            if not isinstance(key, str):
                raise _Refuse("an attribute key that is not a constant")
            return {"op": "attr", "hops": len(hops), "resource": source != "attr",
                    "key": key}, ATTR_BOUND
        if op == "has_event":
            if not isinstance(e.payload, str):
                raise _Refuse("an event name that is not a constant")
            return {"op": "has_event", "name": e.payload}, 0
        if op in ("has_ancestor", "has_child"):
            return {"op": op, "arg": self.cond(a[0], d)}, 0
        if op == "exists":
            return {"op": "exists", "arg": self.expr(a[0], d)[0]}, 0
        if op == "not":
            return {"op": "not", "arg": self.cond(a[0], d)}, 0
        if op in ("and", "or", "implies", "iff", "xor"):
            return {"op": op, "args": [self.cond(a[0], d), self.cond(a[1], d)]}, 0
        if op == "cmp":
            args = [self.expr(a[0], d)[0], self.expr(a[1], d)[0]]
            site = None
            static = CodeGen._static(a[0]) and CodeGen._static(a[1])
            if not static:
                if unit_reading(e) is not None:
                    raise _Refuse("an attribute of no declared type compared with a duration, "
                                  "bytes or cpu value (the Python engine reports how it read "
                                  "the number)")
                site = self.sites.setdefault(show(e), len(self.sites))
            return {"op": "cmp", "cmp": e.payload, "args": args, "site": site}, 0
        if op in ARITH_NAMES and len(a) == 2:
            return self._arith(e, d)
        if op == "neg":
            node, bound = self.expr(a[0], d)
            return {"op": "neg", "arg": node}, bound
        if op == "in":
            return self._in(e, d), 0
        if op == "matches":
            if a[1].op != "lit" or not isinstance(a[1].payload, str):
                raise _Refuse("a pattern that is not a constant")
            pattern = rust_pattern(a[1].payload)
            if isinstance(pattern, Unsupported):
                raise _Refuse(pattern.reason)
            return {"op": "matches", "arg": self.expr(a[0], d)[0], "pattern": pattern}, 0
        if op in ("contains", "startswith"):
            return {"op": op, "args": [self.expr(a[0], d)[0], self.expr(a[1], d)[0]]}, 0
        if op == "linked":
            raise _Refuse("`linked` reads the whole input's link index")
        if op == "call":
            raise _Refuse(f"the built-in function `{e.payload}` (the core has no built-ins "
                          "yet; the Python engine evaluates it)")
        if op in ("prev", "last"):
            slot = None if self.slots is None else self.slots.get(e)
            if slot is None or slot not in self.bounds:
                raise _Refuse(f"`{op}` reads a register")
            return {"op": "reg", "slot": slot}, self.bounds[slot]
        raise _Refuse(f"`{op}` is not an atom the core evaluates")

    def _arith(self, e: TExpr, d: int) -> tuple[dict, int]:
        if unit_reading(e) is not None:
            raise _Refuse("an attribute of no declared type added to a duration, bytes or "
                          "cpu value (the Python engine reports how it read the number)")
        op, a = e.op, e.args
        (x, bx), (y, by) = self.expr(a[0], d), self.expr(a[1], d)
        static = CodeGen._static(a[0]) and CodeGen._static(a[1]) and op not in DIVISIONS
        if op == "/":
            bound = 0  # a float, correctly rounded from any two i128s (value.rs)
        else:
            bound = {"+": bx + by, "-": bx + by, "*": bx * by, "//": bx, "%": by}[op]
            if bound > I128_MAX:
                raise _Refuse(f"`{op}` may compute an integer beyond 128 bits")
        return {"op": "arith", "ar": op, "args": [x, y], "static": static}, bound

    def _in(self, e: TExpr, d: int) -> dict:
        if unit_reading(e) is not None:
            raise _Refuse("an attribute of no declared type looked up in a list or range of "
                          "durations, bytes or cpu values (the Python engine reports how it "
                          "read the number)")
        value, target = e.args
        arg = self.expr(value, d)[0]
        try:
            consts = [constant_value(x) for x in target.args]
        except UnhandledNode as exc:
            raise _Refuse(str(exc)) from None
        if target.op == "list":
            return {"op": "in_list", "arg": arg, "items": [_literal(c)[0] for c in consts]}
        if target.op != "range" or any(isinstance(c, bool) or not isinstance(c, (int, float))
                                       for c in consts):
            raise _Refuse("`in` takes a list or a range of numbers")
        lo, hi = (_literal(c)[0] for c in consts)
        return {"op": "in_range", "arg": arg, "lo": lo, "hi": hi}


# ------------------------------------------------------------------ regular expressions

# RE2's Perl classes are ASCII; the regex crate's are Unicode: spell out RE2's sets (a
# bracketed class also works inside a class, where the crate nests it)
_PERL = {"d": "[0-9]", "D": "[^0-9]", "w": "[0-9A-Za-z_]", "W": "[^0-9A-Za-z_]",
         "s": "[\\t\\n\\f\\r ]", "S": "[^\\t\\n\\f\\r ]"}
_SIMPLE_ESCAPES = set("aftnrvAz")
_POSIX = re.compile(r"\[:\^?(alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|"
                    r"space|upper|word|xdigit):\]")
_REPEAT = re.compile(r"\{[0-9]+(,[0-9]*)?\}")
_HEX = re.compile(r"x(\{[0-9A-Fa-f]+\}|[0-9A-Fa-f]{2})")
_FLAGS = re.compile(r"\(\?([a-zA-Z-]*)[:)]")


def _range_after(pattern: str, i: int) -> bool:
    """Whether a `-` at ``i`` would continue a range inside a class (not end the class)."""
    return pattern.startswith("-", i) and not pattern.startswith("-]", i)


def rust_pattern(pattern: str) -> str | Unsupported:
    """``pattern`` (RE2 syntax, already accepted by RE2) rewritten so the ``regex`` crate
    finds a match in exactly the strings RE2's ``search`` does, or why it cannot be.

    Only whether a match exists matters (``matches`` is ``search(v) is not None``), so
    greedy and lazy repetition agree. The differences handled:

    - ``\\d \\D \\w \\W \\s \\S`` are ASCII in RE2 (``\\s`` is ``[\\t\\n\\f\\r ]``, no ``\\v``),
      Unicode in the crate: spelled out as ASCII classes;
    - ``\\b`` is an ASCII word boundary in RE2: ``(?-u:\\b)``;
    - ``{`` and ``}`` that do not form a repetition are literals in RE2, errors or (``{,n}``)
      repetitions in the crate: escaped;
    - inside a class, ``[`` (other than ``[:alpha:]``), ``&`` and ``~`` are literals in RE2
      and set syntax in the crate (nesting, ``&&``, ``~~``): escaped; ``--`` is refused;
    - ``\\<`` and ``\\>`` are literals in RE2, word boundaries in the crate: unescaped.

    Refused: case-insensitive matching (the two case-folding tables may differ),
    Unicode classes ``\\p``/``\\P`` (the two Unicode versions may differ), ``\\C``, ``\\Q``,
    ``\\b`` inside a class, ``\\B`` (the crate's ASCII ``\\B`` also holds inside a
    multi-byte character), octal and other escapes of letters and digits, ``\\x`` escapes of
    surrogates, a class such as ``\\d`` or ``[:alpha:]`` followed by ``-`` inside a class,
    and a repeated flag group such as ``(?m)*``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return Unsupported("a pattern ending in `\\`")
            d = pattern[i + 1]
            if d in _PERL:
                if in_class and _range_after(pattern, i + 2):
                    return Unsupported("a range from a class such as `\\d-`")
                out.append(_PERL[d])
            elif d == "b":
                if in_class:
                    return Unsupported("`\\b` inside a character class")
                out.append("(?-u:\\b)")
            elif d == "B":
                # the crate's ASCII `\B` also holds between the bytes of one character
                return Unsupported("`\\B` (the regex crate's ASCII form matches inside a "
                                   "multi-byte character)")
            elif d in "<>":
                out.append(d)
            elif d == "x":
                m = _HEX.match(pattern, i + 1)
                if m is None:
                    return Unsupported("a malformed `\\x` escape")
                code = int(m.group(1).strip("{}"), 16)
                if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                    return Unsupported("a `\\x` escape that is not a Unicode scalar value")
                out.append("\\" + m.group(0))
                i = m.end()
                continue
            elif d in _SIMPLE_ESCAPES:
                out.append("\\" + d)
            elif d.isascii() and not d.isalnum() and d != "_":
                out.append("\\" + d)  # escaped punctuation: a literal in both
            else:
                return Unsupported(f"the escape `\\{d}` (RE2 and the regex crate may differ)")
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c == "[":
                m = _POSIX.match(pattern, i)
                if m is not None:
                    if _range_after(pattern, m.end()):
                        return Unsupported("a range from a class such as `[:alpha:]-`")
                    out.append(m.group(0))
                    i = m.end()
                    continue
                out.append("\\[")
            elif c in "&~":
                out.append("\\" + c)
            elif c == "-" and pattern.startswith("--", i):
                return Unsupported("`--` inside a character class")
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            out.append(c)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):  # a leading `]` is a literal
                out.append("\\]")
                i += 1
            in_class = True
            continue
        if c == "(":
            m = _FLAGS.match(pattern, i)
            if m is not None and "i" in m.group(1):
                return Unsupported("case-insensitive matching (the case-folding tables of "
                                   "RE2 and the regex crate may differ)")
            if m is not None and m.group(0).endswith(")") and \
                    pattern.startswith(("*", "+", "?", "{"), m.end()):
                return Unsupported("a repeated flag group (RE2 repeats the empty string, the "
                                   "regex crate refuses)")
            out.append(c)
        elif c == "{":
            m = _REPEAT.match(pattern, i)
            if m is not None:
                out.append(m.group(0))
                i = m.end()
                continue
            out.append("\\{")
        elif c == "}":
            out.append("\\}")
        else:
            out.append(c)
        i += 1
    if in_class:
        return Unsupported("an unterminated character class")
    return "".join(out)
