"""Span predicates -> Python source: the compiled half of a spec's runtime monitor.

Each atomic predicate of a spec becomes one Python expression over
``s`` (the :class:`~.spans.Span`), ``st`` (True at the span's start event) and
``tr`` (its :class:`~.events.Trace`, for ``parent.*``, ``has_ancestor``, …).
The code is generated from the typed IR only: literals enter the source
through ``repr`` and regular expressions through pre-compiled RE2 objects in
the namespace, so no spec text and no span data is ever evaluated as code.

Comparisons follow SPEC-LANGUAGE.md §2: a missing attribute, or one of another
type, makes every comparison on it false. Statically typed fields (``name``,
``duration``, …) compare directly; dynamic ones go through the ``_cmp``
helpers, which refuse mixed types (``True == 1`` is false here).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

from tracelogic.errors import UnhandledNode
from tracelogic.semantics.lower import BOOLEAN_OPS
from tracelogic.semantics.spelling import PYTHON, spell
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.spec.walker import TExprWalker, chain, show
from tracelogic.values import dynamic
from tracelogic.values.arith import COMPARE, DIVISIONS
from tracelogic.values.dynamic import incomparable, kind
from tracelogic.values.missing import MISSING

def _cmp(op: str, label: str | None = None, mismatches: dict | None = None,
         readings: dict | None = None, side: int | None = None) -> Callable[[Any, Any], bool]:
    """A dynamic comparison. With ``mismatches``, a comparison that is false because a
    present value has another type (or is malformed) is counted under ``label``. With
    ``readings`` and ``side`` (0 or 1), the number on that side (an attribute of no
    declared type, compared with a duration, bytes or cpu value) is counted under
    ``label``, with the first one read (:meth:`CodeGen.reading_warnings`)."""
    fn = COMPARE[op]

    def compare(a: Any, b: Any) -> bool:
        ka = kind(a)
        if incomparable(op, ka, kind(b)):
            # missing, invalid, or of another type: false, even for `!=`
            if mismatches is not None and a is not MISSING and b is not MISSING:
                seen = mismatches.get(label)
                if seen is None:
                    mismatches[label] = [1, type(a).__name__, type(b).__name__]
                else:
                    seen[0] += 1
            return False
        if readings is not None and ka == "num":
            seen = readings.get(label)
            if seen is None:
                readings[label] = [1, (a, b)[side]]
            else:
                seen[0] += 1
        return fn(a, b)
    return compare


def _field(span: Any, name: str) -> Any:
    return MISSING if span is None else getattr(span, name)


def _linked(s: Any, st: bool, tr: Any, pred: Callable, index: dict) -> bool:
    """``linked(P)``: some link target present in the input satisfies P.

    ``index`` maps ``(trace_id, span_id)`` to ``(span, trace)`` for every span of the
    input (the monitor fills it); without an entry, targets in the span's own trace count.
    """
    for key in s.links:
        hit = index.get(key)
        if hit is None and key[0] == tr.trace_id:
            target = tr.get(key[1])
            hit = (target, tr) if target is not None else None
        if hit is not None and pred(hit[0], st, hit[1]):
            return True
    return False


_CMP_NAMES = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
ARITH_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "fdiv", "%": "mod"}
#: what generated code calls: the value semantics of values.dynamic, bound by name (a
#: static `+ - *` is Python's operator inline, which is values.arith's definition)
BASE_NAMESPACE: dict[str, Any] = {
    "MISSING": MISSING, "_in_list": dynamic.in_list, "_in_range": dynamic.in_range,
    "_contains": dynamic.contains, "_startswith": dynamic.startswith,
    "_truthy": dynamic.truthy, "_neg": dynamic.neg, "_field": _field, "_linked": _linked,
    **{f"_cmp_{n}": _cmp(op) for op, n in _CMP_NAMES.items()},
    **{f"_ar_{n}": dynamic.arith(op) for op, n in ARITH_NAMES.items()},
}
STATIC_FIELDS = {"name": "s.name", "kind": "s.kind", "status": "s.status",
           "status_message": "s.status_message", "service": "s.service",
           "trace_id": "s.trace_id", "span_id": "s.span_id", "parent_id": "s.parent_id",
           "scope.name": "s.scope_name"}


# the fields only a log record has (spec.checker.LOG_FIELDS), and the span fields a log
# record lacks: with logs (``CodeGen.logs``) a comparison on one must be false when missing
LOG_FIELDS = {"signal": "s.signal", "severity": "s.severity",
              "severity_text": "s.severity_text", "body": "s.body"}
MISSING_AT_LOGS = frozenset({"name", "kind", "status", "status_message", "duration",
                             "parent_id", "is_root", "trace_id", "span_id"})


class CodeGen:
    """Generates the source of predicate expressions, sharing one namespace per spec.

    ``registers`` maps a register node (``prev``/``last``) to its slot in the
    per-instance register list ``R``; register atoms read ``R`` and are
    generated only for properties that have an instance to hold it.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = dict(BASE_NAMESPACE)
        # (trace_id, span_id) -> (span, trace) for `linked`; filled by the monitor
        self.namespace["_LINKS"] = {}
        self.uses_links = False
        self._consts: dict[Any, str] = {}
        self._subpreds: dict[TExpr, str] = {}
        self._static_memo: dict[tuple[TExpr, bool], bool] = {}
        self._pending_subpreds: list[tuple[str, TExpr]] = []  # named, body not yet generated
        self._generating_subpreds = False
        self.registers: dict[TExpr, int] = {}
        # comparison text -> [count, first left type, first right type]: dynamic
        # comparisons that were false because a present value had another type
        self.mismatches: dict[str, list] = {}
        # comparison text -> [count, first number read]: an attribute of no declared type
        # read as a duration, bytes or cpu value (``reading_sites`` says which side and unit)
        self.readings: dict[str, list] = {}
        # comparison text -> the static type of each side, for the mismatch and reading
        # warnings (the native core counts by the same text)
        self.site_types: dict[str, tuple[T.Type, T.Type]] = {}
        self.reading_sites: dict[str, tuple[int, T.Type, str]] = {}
        self._cmp_sites: dict[tuple[str, str], str] = {}
        self.attr_keys: set[str] = set()   # every attribute key a predicate reads
        self.subfunctions: list[str] = []
        # some property sees log events (docs/language.md, "Log records"): span fields
        # may be missing, so comparisons on them go through the missing-aware helpers
        self.logs = False

    def const(self, value: Any) -> str:
        """A name in the namespace bound to ``value`` (regexes, tuples, Fractions)."""
        key = (type(value).__name__, repr(value))
        name = self._consts.get(key)
        if name is None:
            name = f"_k{len(self._consts)}"
            self._consts[key] = name
            self.namespace[name] = value
        return name

    def literal(self, node: TExpr) -> str:
        v = node.payload
        if isinstance(v, Fraction):
            v = float(v)
        if isinstance(v, (bool, int, float, str)):
            return repr(v)
        return self.const(v)

    def span_predicate(self, pred: TExpr) -> str:
        """A named function of one span (for has_ancestor/has_child/linked arguments).

        The name is given at once; the bodies are generated by the outermost call, one
        after another from a worklist: `has_ancestor(has_ancestor(…))` nests as deep as
        the spec does, and generating a nested body inside its parent's would recurse.
        The ``def``s are all executed before any is called, so their order is free."""
        name = self._subpreds.get(pred)
        if name is None:
            name = f"_p{len(self._subpreds)}"
            self._subpreds[pred] = name
            self._pending_subpreds.append((name, pred))
            if not self._generating_subpreds:
                self._generating_subpreds = True
                try:
                    while self._pending_subpreds:
                        sub, body_of = self._pending_subpreds.pop()
                        body = self.cond(body_of)
                        self.subfunctions.append(
                            f"def {sub}(s, st=True, tr=None):\n    return {body}\n")
                finally:
                    self._generating_subpreds = False
        return name

    def expr(self, e: TExpr) -> str:
        """Source for ``e``, built by an iterative walk (:class:`_SourceWalker`): chains
        of one boolean operator become one flat Python ``and``/``or``, and a subexpression
        nested deeper than ``HOIST_DEPTH`` is hoisted into a closure bound in place
        (``(_hN := (lambda: …))``), so no depth of input reaches the Python compiler's
        nesting limits or the recursion limit."""
        return _SourceWalker(self).source(e)

    def _source(self, e: TExpr, ex: Callable[[TExpr], str]) -> str:
        """Source for the node ``e``, its children's sources given by ``ex``."""
        op = e.op
        a = e.args
        if op == "lit":
            return self.literal(e)
        if op == "enum":
            return repr(e.payload[1])
        if op == "pred":
            return ex(a[0])
        if op == "field":
            hops, name = e.payload
            if name == "start":
                return "(st is True)" if self.logs else "st"
            if name == "end":
                return "(st is False)" if self.logs else "(not st)"
            if name in LOG_FIELDS and not hops:
                return LOG_FIELDS[name]
            target = "s"
            for _ in hops:
                target = f"tr.parent({target})" if target == "s" else \
                    f"(None if {target} is None else tr.parent({target}))"
            if not hops:
                if self.logs and name in ("duration", "is_root"):
                    return f"s.{name}"  # a property: MISSING at a log record
                if self.logs and name in ("trace_id", "span_id"):
                    return f"(s.{name} or MISSING)"  # a log without trace context
                if name == "duration":
                    return "(s.end_ns - s.start_ns)"
                if name == "is_root":
                    return "(not s.parent_id)"
                return STATIC_FIELDS[name]
            attr = {"duration": None, "is_root": None, "scope.name": "scope_name"}.get(name, name)
            if name == "duration":
                return f"(lambda p: MISSING if p is None else p.end_ns - p.start_ns)({target})"
            if name == "is_root":
                return f"(lambda p: MISSING if p is None else not p.parent_id)({target})"
            return f"_field({target}, {attr!r})"
        if op == "attr":
            hops, source, key = e.payload
            self.attr_keys.add(key)
            method = "attr" if source == "attr" else "resource_attr"
            target = "s"
            for _ in hops:
                target = f"tr.parent({target})" if target == "s" else \
                    f"(None if {target} is None else tr.parent({target}))"
            if not hops:
                return f"s.{method}({key!r})"
            return f"(lambda p: MISSING if p is None else p.{method}({key!r}))({target})"
        if op == "has_event":
            return f"s.has_event({e.payload!r})"
        if op in ("has_ancestor", "has_child"):
            # the argument may itself read structure (`has_ancestor(parent.name == "a")`),
            # so it gets the trace, and the current event's start/end flag
            call = f"tr.{op}(s, lambda a: {self.span_predicate(a[0])}(a, st, tr))"
            return f"(s.signal == 'span' and {call})" if self.logs else call
        if op == "linked":
            self.uses_links = True
            return f"_linked(s, st, tr, {self.span_predicate(a[0])}, _LINKS)"
        if op == "exists":
            return f"({ex(a[0])} is not MISSING)"
        if op in BOOLEAN_OPS:  # spelled over the conditions of their operands
            parts = chain(e) if op in ("and", "or") else a
            return spell(PYTHON, op, [self._cond_of(ex, c) for c in parts])
        if op == "cmp":
            if self._static_here(a[0]) and self._static_here(a[1]):
                return spell(PYTHON, "cmp", [ex(a[0]), ex(a[1])], e.payload)
            return f"{self._cmp_site(e)}({ex(a[0])}, {ex(a[1])})"
        if op in ARITH_NAMES and len(a) == 2:
            if self._static_here(a[0]) and self._static_here(a[1]) \
                    and op not in DIVISIONS:
                return spell(PYTHON, op, [ex(a[0]), ex(a[1])], op)
            sides = [ex(a[0]), ex(a[1])]
            reading = unit_reading(e)
            if reading is not None:  # `attr["t"] + 1s`: count the numbers read in the unit
                sides[reading[0]] = f"{self._reading_site(e)}({sides[reading[0]]})"
            return f"_ar_{ARITH_NAMES[op]}({sides[0]}, {sides[1]})"
        if op == "neg":
            return f"_neg({ex(a[0])})"
        if op == "in":
            target = a[1]
            value = ex(a[0])
            if unit_reading(e) is not None:  # count the numbers read in the unit
                value = f"{self._reading_site(e)}({value})"
            if target.op == "list":
                items = tuple(constant_value(i) for i in target.args)
                return f"_in_list({value}, {self.const(items)})"
            lo, hi = (constant_value(x) for x in target.args)
            return f"_in_range({value}, {lo!r}, {hi!r})"
        if op == "matches":
            import re2

            pattern = re2.compile(a[1].payload)
            name = self.const(pattern)
            return f"(lambda v: isinstance(v, str) and {name}.search(v) is not None)" \
                   f"({ex(a[0])})"
        if op == "contains":
            return f"_contains({ex(a[0])}, {ex(a[1])})"
        if op == "startswith":
            return f"_startswith({ex(a[0])}, {ex(a[1])})"
        if op in ("prev", "last"):
            slot = self.registers.setdefault(e, len(self.registers))
            return f"R[{slot}]"
        if op == "var" and e.payload[0] == "violation":
            return f"v_{e.payload[1]}"
        if op == "call" and isinstance(e.payload, str):
            name = f"_fn_{e.payload}"
            if name not in self.namespace:
                self.namespace[name] = dynamic.builtin(e.payload)
            return f"{name}({', '.join(ex(x) for x in a)})"
        raise UnhandledNode(f"`{op}` cannot be evaluated on a span", value=e)

    def _site(self, key: tuple, make: Callable[[], Any]) -> str:
        """The name of the counting function of one site (a comparison, or a number read in
        a unit), bound to ``make()`` the first time the site is met."""
        name = self._cmp_sites.get(key)
        if name is None:
            name = f"_c{len(self._cmp_sites)}"
            self._cmp_sites[key] = name
            self.namespace[name] = make()
        return name

    def _cmp_site(self, e: TExpr) -> str:
        """One comparison function per distinct comparison, counting type mismatches."""
        label = show(e)

        def make() -> Callable:
            self.site_types[label] = (e.args[0].type, e.args[1].type)
            reading = unit_reading(e)
            if reading is not None:
                self.reading_sites[label] = reading
            return _cmp(e.payload, label, self.mismatches, self.readings if reading else None,
                        reading[0] if reading else None)
        return self._site((e.payload, label), make)

    def _reading_site(self, e: TExpr) -> str:
        """For ``attr in 1s..2s`` or ``attr + 1s``: a function passing the value through,
        counting a number under the expression's text as :meth:`_cmp_site` counts a
        comparison's."""
        label = show(e)

        def make() -> Callable:
            self.reading_sites[label] = unit_reading(e)
            readings = self.readings

            def read(v: Any, label: str = label) -> Any:
                if kind(v) == "num":
                    seen = readings.get(label)
                    if seen is None:
                        readings[label] = [1, v]
                    else:
                        seen[0] += 1
                return v
            return read
        return self._site((e.op, label), make)

    def mismatch_warnings(self) -> list[str]:
        """The run's type mismatches in words, by comparison (both engines' counts are in
        :attr:`mismatches`). The other side is named by its declared type where it has one
        (`a duration`), else by the type of the first value met (`int`)."""
        out = []
        for label, (n, left, right) in sorted(self.mismatches.items()):
            types = self.site_types.get(label)
            if types is not None:
                left = _unit_name(types[0]) or left
                right = _unit_name(types[1]) or right
            text = (f"`{label}` was false {n} time(s) because a value had another type "
                    f"(e.g. {left} compared with {right}); attribute values of an "
                    "unexpected type make comparisons false")
            units = [u for u in (types or ()) if T.base(u) in _UNIT_WORDS]
            if units and "str" in (left, right):
                text += (f"; a string such as {_UNIT_WORDS[T.base(units[0])][2]} is never read "
                         f"as {_unit_name(units[0])}: the attribute must hold a number of "
                         f"{_UNIT_WORDS[T.base(units[0])][1]}")
            out.append(text)
        return out

    def reading_warnings(self) -> list[str]:
        """How attributes of no declared type were read at run time, by comparison: `
        `attr["payload.size"]` (int 12000) was read as 12000 nanoseconds (12us)`."""
        out = []
        for label, (n, value) in sorted(self.readings.items()):
            site = self.reading_sites.get(label)
            if site is None:
                continue
            _, unit, shown = site
            name, base_word, _ = _UNIT_WORDS[T.base(unit)]
            number = repr(value) if isinstance(value, float) else str(value)
            in_unit = _in_unit(value, unit)
            hint = {T.DURATION: f"; if it counts milliseconds, write `{shown} * 1ms`",
                    T.BYTES: f"; if it counts kibibytes, write `{shown} * 1Ki`",
                    T.CPU: ""}[T.base(unit)]
            out.append(f"`{shown}` ({type(value).__name__} {number}) was read as {number} "
                       f"{base_word} ({in_unit}) in `{label}`, {n} time(s): it has no "
                       f"declared type, and compared with {name} a number counts "
                       f"{base_word}{hint}")
        return out

    def cond(self, e: TExpr) -> str:
        """Source for ``e`` used as a condition: a bare dynamic attribute is true only
        when it is the boolean true (never Python truthiness: "yes" or 1 are not true)."""
        return self._cond_of(self.expr, e)

    @staticmethod
    def _cond_of(ex: Callable[[TExpr], str], e: TExpr) -> str:
        src = ex(e)
        return f"_truthy({src})" if e.type == T.DYN else src

    def _static_here(self, e: TExpr) -> bool:
        """:meth:`_static` with this generator's ``logs``, memoised: the walk asks it of
        every operand, children first, so a known subexpression is not walked again
        (a 10,000-term sum would otherwise take quadratic time)."""
        key = (e, self.logs)
        hit = self._static_memo.get(key)
        if hit is None:
            hit = self._static_memo[key] = self._static(e, self.logs, self._static_memo)
        return hit

    @staticmethod
    def _static(e: TExpr, logs: bool = False, memo: dict | None = None) -> bool:
        """Statically typed and never missing: plain Python operators are exact. A `/`,
        `//` or `%` is missing on a zero divisor, so it is static only over a non-zero
        literal divisor. A log record's fields are missing at span events, and with
        ``logs`` most span fields are missing at log events. Iterative: arithmetic can
        be deep."""
        stack = [e]
        while stack:
            n = stack.pop()
            if n.op == "lit" or n.op == "enum":
                continue
            if memo is not None and n is not e:
                known = memo.get((n, logs))
                if known is not None:
                    if not known:
                        return False
                    continue
            if n.op == "field":
                name = n.payload[1]
                if n.payload[0] or name in LOG_FIELDS or (logs and name in MISSING_AT_LOGS):
                    return False
                continue
            if n.op in ARITH_NAMES and len(n.args) == 2:
                if n.op in DIVISIONS:
                    d = n.args[1]
                    if d.op != "lit" or isinstance(d.payload, bool) or d.payload == 0:
                        return False
                stack.extend(n.args)
                continue
            return False
        return True


_OPAQUE = frozenset({"prev", "last", "has_ancestor", "has_child", "linked"})
HOIST_DEPTH = 40  # generated nesting beyond which a subexpression becomes a closure


class _SourceWalker(TExprWalker):
    """One top-level :meth:`CodeGen.expr`: each node's source and generated nesting depth.
    Hoisted closures are named per walk, so the memo is per call, not per spec."""

    def __init__(self, gen: CodeGen) -> None:
        super().__init__()
        self.gen = gen
        self.hoisted: list[str] = []

    def children(self, node: TExpr) -> tuple[TExpr, ...]:
        op = node.op
        if op in ("and", "or"):
            return tuple(chain(node))
        if op == "in":  # the list or range is read as constants
            return node.args[:1]
        if op in _OPAQUE:  # registers read a slot; structure compiles its own predicate
            return ()
        return node.args

    def dispatch(self, node: TExpr, args: list) -> tuple[str, int]:
        memo = self.memo
        src = self.gen._source(node, lambda c: memo[c][0])
        depth = 1 + max((d for _, d in args), default=0)
        if depth > HOIST_DEPTH:
            name = f"_h{len(self.hoisted)}"
            self.hoisted.append(f"({name} := (lambda: {src}))")
            return f"{name}()", 1
        return src, depth

    def source(self, e: TExpr) -> str:
        src = self.walk(e)[0]
        if not self.hoisted:
            return src
        return "(" + ", ".join(self.hoisted) + f", {src})[-1]"


# per unit type: how the other side is named, what a plain number counts, a string that
# looks like one but is never read as one
_UNIT_WORDS = {T.DURATION: ("a duration", "nanoseconds", '"20m"'),
               T.BYTES: ("a size in bytes", "bytes", '"10Mi"'),
               T.CPU: ("a cpu value", "cores", '"500m"')}


def _unit_name(t: T.Type) -> str | None:
    words = _UNIT_WORDS.get(T.base(t))
    return None if words is None else words[0]


def _in_unit(value: Any, unit: T.Type) -> str:
    """A number read in ``unit``, as the violation messages show values."""
    from tracelogic.spec.lexicon import show_runtime

    return show_runtime(value, unit)


def unit_reading(e: TExpr) -> tuple[int, T.Type, str] | None:
    """For a comparison (``cmp``) of an attribute of no declared type with a duration, bytes
    or cpu value, its sum or difference (``+``, ``-``) with one, or its lookup (``in``) in a
    list or range of them (the check-time warning's cases, ``Checker._dyn_meets_unit``): the
    attribute's side, the unit, and the attribute as written; else None."""
    if e.op not in ("cmp", "in", "+", "-") or len(e.args) != 2:
        return None
    for side in ((0,) if e.op == "in" else (0, 1)):
        attr, other = e.args[side], e.args[1 - side]
        while attr.op == "pred":
            attr = attr.args[0]
        if e.op == "in":
            if not other.args:
                return None
            other = other.args[0]
        unit = T.base(other.type)
        if attr.op == "attr" and attr.type == T.DYN and isinstance(attr.payload[2], str) \
                and unit in _UNIT_WORDS:
            hops, source, key = attr.payload
            return side, unit, "".join(f"{h}." for h in hops) + f'{source}["{key}"]'
    return None


def constant_value(node: TExpr) -> Any:
    """The value of a constant list, range or default item (a literal, an enum member, a
    negated literal), as the generated code compares it."""
    if node.op == "lit":
        v = node.payload
        return float(v) if isinstance(v, Fraction) else v
    if node.op == "enum":
        return node.payload[1]
    if node.op == "neg":
        return -constant_value(node.args[0])
    raise UnhandledNode("a list or range item must be a constant", value=node)


def uses_registers(e: TExpr) -> bool:
    return any(n.op in ("prev", "last") for n in e.walk())
