"""Text -> AST: the Lark LALR parser, the tree builder, and syntax diagnostics.

The grammar lives in ``grammar.lark``. One :class:`_Builder` turns Lark's tree
into :mod:`tracelogic.spec.ast` nodes, carrying source spans. Syntax errors are
translated into the user's terms; after an error the file is re-parsed one
declaration at a time so that independent mistakes are all reported in one run.
"""
from __future__ import annotations

import hashlib
import os
import re
from fractions import Fraction
from typing import Any
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
                             UnexpectedToken)

from tracelogic.disk_cache import cache_dir
from tracelogic.errors import SourceSpan
from tracelogic.spec import ast as A
from tracelogic.gc_pause import gc_paused
from tracelogic.spec.diagnostics import Diagnostic, SpecErrors, did_you_mean, source_lines
from tracelogic.spec.limits import MAX_NESTING, MAX_NUMBER_DIGITS, number_digits, too_large
from tracelogic.spec.lexicon import (BINARY_SPELLINGS, CONTEXTUAL, RESERVED, UNARY_SPELLINGS,
                                     parse_bytes, parse_duration, unit_suggestion)


@lru_cache(maxsize=None)
def grammar_text() -> str:
    return resources.files("tracelogic.spec").joinpath("grammar.lark").read_text()


class _SplitWord(UnexpectedInput):
    """A keyword glued to what follows it, such as `andb` read where only `and` fits."""

    def __init__(self, word: str, line: int, column: int, pos: int):
        super().__init__(f"unexpected `{word}`")
        self.word, self.line, self.column, self.pos_in_stream = word, line, column, pos


class _KeywordBoundary:
    """Post-lexer: a keyword must end where a word ends.

    Lark's contextual lexer matches a keyword as a prefix of a longer word when a
    name is not acceptable at that point, so `a andb` would read as `a and b`.
    Here a keyword token immediately followed by a name character is refused.
    """

    always_accept: tuple = ()

    def process(self, stream):
        prev = None
        for tok in stream:
            if prev is not None and prev.type != "NAME" and prev.end_pos == tok.start_pos \
                    and _IDENT.fullmatch(str(prev)) and _WORD_CHAR.match(str(tok)):
                raise _SplitWord(str(prev) + _IDENT_TAIL.match(str(tok)).group(0), prev.line,
                                prev.column, prev.start_pos)
            yield tok
            prev = tok


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_IDENT_TAIL = re.compile(r"[A-Za-z0-9_]*")


@lru_cache(maxsize=None)
def lark_parser(fresh: bool = False) -> Lark:
    """The LALR parser, always built with Lark's ``strict=True``: a shift/reduce or
    reduce/reduce conflict, or two terminals that can match the same text, is an error
    instead of a silent resolution (it costs nothing measurable at build time).

    Building the LALR tables takes about 0.6 s, more than the rest of a small command, so
    they are cached on disk (:func:`_table_cache`). A table read from the cache skips
    Lark's checks, so ``fresh=True`` (what CI's grammar test uses) always builds them."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True,
                start=["start", "expr_start"], propagate_positions=True,
                maybe_placeholders=True, cache=False if fresh else _table_cache(),
                postlex=_KeywordBoundary())


def _table_cache() -> str | bool:
    """The file for Lark's table cache, or False when there is no safe place for it.

    Lark's own default is a predictable name in the shared temporary directory, and the
    cache is a pickle: whoever can write it runs code in every tracelogic process. So the
    cache lives in ``$XDG_CACHE_HOME/tracelogic`` (``~/.cache/tracelogic``), used only if
    this user owns it and nobody else can write to it; ``TRACELOGIC_CACHE_DIR`` overrides
    the place, and an empty value turns the cache off. Lark checks the grammar, its options
    and its own version against the file; the name adds this module's source, whose
    post-lexer Lark does not hash."""
    d = cache_dir()  # the checks above, shared with tracelogic's other caches
    if d is None:
        return False
    try:
        with open(__file__, "rb") as f:
            key = hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        return False
    return os.path.join(d, f"spec-parser-{key}.lark")


# The syntax-tree nodes that count as one level of nesting (docs/language.md, "Limits"):
# every operator, parenthesis, list bracket, call, field access and index.
_NESTING = frozenset({"paren", "list", "binop", "btemporal", "utemporal", "compare", "in_",
                      "match", "exists", "neg", "field", "index", "call", "range"})


class _BuildError(Exception):
    def __init__(self, diag: Diagnostic):
        self.diag = diag


def _clip(text: str, width: int = 40) -> str:
    """A token short enough to quote in a message."""
    return text if len(text) <= width else text[:width] + "…"


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Builder:
    """Lark tree -> AST. Each method, named after a rule or alias of the grammar, is a
    one-liner into an AST constructor taking the node's ``meta`` and its children.

    :meth:`transform` walks the tree iteratively, bottom-up, and calls the methods
    directly: deep input cannot exhaust the stack, and the per-node cost stays small
    (Lark's own visitor re-wraps each method on every call).
    """

    def __init__(self, file: str, line_offset: int = 0):
        self.file = file
        self.line_offset = line_offset
        self.errors: list[Diagnostic] = []

    def transform(self, tree: Tree):
        """Build bottom-up; also measure nesting (spec/limits.py) and refuse it past the limit,
        so that the recursive passes after parsing never meet deeper input than they are
        sized for."""
        handlers: dict[str, Any] = {}
        results: dict[int, Any] = {}
        depths: dict[int, int] = {}
        stack: list[tuple[Tree, bool]] = [(tree, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                stack.append((node, True))
                stack.extend((c, False) for c in node.children if isinstance(c, Tree))
                continue
            name = node.data
            fn = handlers.get(name)
            if fn is None:
                fn = handlers[name] = getattr(self, name)
            args = []
            depth = 0
            for c in node.children:
                if isinstance(c, Tree):
                    key = id(c)
                    args.append(results.pop(key))
                    d = depths.pop(key)
                    if d > depth:
                        depth = d
                else:
                    args.append(c)
            if name in _NESTING:
                depth += 1
                if depth > MAX_NESTING:
                    raise _BuildError(Diagnostic(
                        "error", f"this expression nests more than {MAX_NESTING:,} levels deep",
                        self._span(node.meta), "name parts of it: split it into predicates or "
                        "constants"))
            depths[id(node)] = depth
            results[id(node)] = fn(node.meta, *args)
        return results[id(tree)]

    # -- positions
    def _span(self, meta) -> SourceSpan:
        if meta.empty:
            return SourceSpan(self.file, 0, 0, 0, 0)
        o = self.line_offset
        return SourceSpan(self.file, meta.line + o, meta.column, meta.end_line + o, meta.end_column)

    def _tok_span(self, tok: Token) -> SourceSpan:
        o = self.line_offset
        return SourceSpan(self.file, tok.line + o, tok.column, tok.end_line + o, tok.end_column)

    def _decl_name(self, tok: Token) -> str:
        """A name being defined: reserved words are refused, with a rename suggestion."""
        name = str(tok)
        if name in RESERVED:
            self.errors.append(Diagnostic(
                "error", f"`{name}` is a reserved word and cannot be used as a name",
                self._tok_span(tok), f"rename it, e.g. `{name.lower()}_`"))
        return name

    # -- top level
    def start(self, meta, *decls):
        return tuple(decls)

    def expr_start(self, meta, expr):
        return expr

    def import_file(self, meta, path, alias):
        return A.Import(_unescape(str(path)[1:-1]), None,
                        self._decl_name(alias) if alias else None, span=self._span(meta))

    def import_module(self, meta, *parts):
        *names, alias = parts
        return A.Import(None, tuple(str(n) for n in names),
                        self._decl_name(alias) if alias else None, span=self._span(meta))

    def const_decl(self, meta, name, value):
        return A.Const(self._decl_name(name), value, span=self._span(meta))

    def _distinct(self, toks, what: str) -> tuple[str, ...]:
        seen: set[str] = set()
        for t in toks:
            if str(t) in seen:
                self.errors.append(Diagnostic("error", f"{what} `{t}` is listed twice",
                                              self._tok_span(t), "remove one of them"))
            seen.add(str(t))
        return tuple(self._decl_name(t) for t in toks)

    def enum_decl(self, meta, name, *members):
        return A.Enum(self._decl_name(name), self._distinct(members, "enum member"),
                      span=self._span(meta))

    def pred_decl(self, meta, name, params, body):
        return A.Pred(self._decl_name(name), params, body, span=self._span(meta))

    def params(self, meta, *names):
        return self._distinct([n for n in names if n is not None], "parameter")

    def step_decl(self, meta, name, body):
        return A.Step(self._decl_name(name), body, span=self._span(meta))

    # -- properties
    def _clauses(self, clauses) -> tuple[dict, tuple]:
        fields: dict = {}
        spans = []
        for key, value, span in clauses:
            if key in fields:
                raise _BuildError(Diagnostic(
                    "error", f"the `{key}` clause is given twice", span, "keep one of them"))
            fields[key] = value
            spans.append((key, span))
        return fields, tuple(spans)

    def _property(self, meta, name, clauses, body, metric):
        fields, spans = self._clauses(clauses)
        return A.Property(self._decl_name(name), body, metric=metric, span=self._span(meta),
                          clause_spans=spans, **fields)

    def property_decl(self, meta, name, *rest):
        *clauses, body = rest
        return self._property(meta, name, clauses, body, False)

    def metric_invariant_decl(self, meta, name, *rest):
        *clauses, body = rest
        return self._property(meta, name, clauses, body, True)

    def clause_description(self, meta, s):
        return ("description", _unescape(str(s)[1:-1]), self._span(meta))

    def clause_severity(self, meta, level):
        return ("severity", str(level), self._span(meta))

    def clause_owner(self, meta, s):
        return ("owner", _unescape(str(s)[1:-1]), self._span(meta))

    def clause_runbook(self, meta, s):
        return ("runbook", _unescape(str(s)[1:-1]), self._span(meta))

    def clause_message(self, meta, s):
        return ("message", _unescape(str(s)[1:-1]), self._span(meta))

    def clause_per(self, meta, target):
        return ("scope", target, self._span(meta))

    def clause_global(self, meta):
        span = self._span(meta)
        return ("scope", A.Name("global", span=span), span)

    def clause_window(self, meta, size, sliding):
        return ("window", A.Window(size, sliding is not None, span=self._span(meta)),
                self._span(meta))

    def conforms(self, meta, name):
        return A.Conforms(name, span=self._span(meta))

    def saga(self, meta, name):
        return A.Saga(name, span=self._span(meta))

    def follows(self, meta, model, var, expr):
        return A.Follows(model, str(var), expr, span=self._span(meta))

    def metric_decl(self, meta, name, metric, typ):
        return A.MetricBinding(self._decl_name(name), _unescape(str(metric)[1:-1]), typ,
                               span=self._span(meta))

    # -- configs
    def config_decl(self, meta, name, optional, source, select, *bindings):
        return A.Config(self._decl_name(name), _unescape(str(source)[1:-1]), optional is not None,
                        select, tuple(bindings), span=self._span(meta))

    def binding(self, meta, name, typ, path, default):
        if isinstance(default, A.Unary) and isinstance(default.operand, A.Literal):
            lit = default.operand
            if lit.kind not in ("int", "real", "duration", "bytes"):
                raise _BuildError(Diagnostic(
                    "error", f"`-` cannot negate a {lit.kind}", default.span,
                    "only a number, duration or size takes a minus sign"))
            default = A.Literal(lit.kind, -lit.value, "-" + lit.text, span=default.span)
        return A.Binding(self._decl_name(name), typ, path, default, span=self._span(meta))

    def path(self, meta, first, *segs):
        return (A.PathSeg("field", str(first), span=self._tok_span(first)),) + tuple(segs)

    def seg_field(self, meta, name):
        return A.PathSeg("field", str(name), span=self._span(meta))

    def seg_index(self, meta, i):
        value = self._number(i, lambda t: int(t.replace("_", "")))
        return A.PathSeg("index", value, span=self._span(meta))

    def seg_key(self, meta, s):
        return A.PathSeg("key", _unescape(str(s)[1:-1]), span=self._span(meta))

    def invariant_decl(self, meta, name, on, severity, body):
        spans = tuple((k, self._tok_span(t)) for k, t in (("on", on), ("severity", severity))
                      if t is not None)
        return A.Invariant(self._decl_name(name), str(on) if on else None,
                           str(severity) if severity else None, body, clause_spans=spans,
                           span=self._span(meta))

    # -- theorems
    def theorem_decl(self, meta, name, variables, assuming, body):
        return A.Theorem(self._decl_name(name), variables, assuming, body, span=self._span(meta))

    def theorem_plain(self, meta, name, body):
        return A.Theorem(self._decl_name(name), (), None, body, span=self._span(meta))

    def forall(self, meta, *variables):
        return tuple(variables)

    def typed_var(self, meta, name, typ):
        return A.TypedVar(self._decl_name(name), typ, span=self._span(meta))

    def type_name(self, meta, name):
        return A.TypeName(str(name), span=self._span(meta))

    def type_range(self, meta, rng):
        return A.TypeRange(rng.lo, rng.hi, span=self._span(meta))

    # -- workflows
    def workflow_decl(self, meta, name, expr, *comps):
        return A.Workflow(self._decl_name(name), expr, tuple(comps), span=self._span(meta))

    def compensation(self, meta, step, comp):
        return A.Compensation(str(step), str(comp), span=self._span(meta))

    def _wf_nary(self, meta, op, items):
        return items[0] if len(items) == 1 else A.WfOp(op, tuple(items), span=self._span(meta))

    def wf_choice(self, meta, *items):
        return self._wf_nary(meta, "+", items)

    def wf_parallel(self, meta, *items):
        return self._wf_nary(meta, "||", items)

    def wf_sequence(self, meta, *items):
        return self._wf_nary(meta, ";", items)

    def wf_star(self, meta, item):
        return A.WfPost("*", item, span=self._span(meta))

    def wf_opt(self, meta, item):
        return A.WfPost("?", item, span=self._span(meta))

    def wf_step(self, meta, name):
        return A.WfStep(str(name), span=self._span(meta))

    def wf_paren(self, meta, item):
        return A.WfParen(item, span=self._span(meta))

    def check_decl(self, meta, target, body):
        kind, expr = body
        return A.Check(target, kind, expr, span=self._span(meta))

    def check_sound(self, meta):
        return ("sound", None)

    def check_deadlock_free(self, meta):
        return ("deadlock_free", None)

    def check_invariant(self, meta, expr):
        return ("invariant", expr)

    def check_ltl(self, meta, expr):
        return ("ltl", expr)

    # -- models
    def model_decl(self, meta, name, *members):
        return A.Model(self._decl_name(name), tuple(members), span=self._span(meta))

    def model_const(self, meta, name, value):
        return A.ModelConst(self._decl_name(name), value, span=self._span(meta))

    def model_var(self, meta, name, typ, init):
        return A.ModelVar(self._decl_name(name), typ, init, span=self._span(meta))

    def model_action(self, meta, name, guard, *assigns):
        return A.Action(self._decl_name(name), guard, tuple(assigns), span=self._span(meta))

    def assignment(self, meta, var, value):
        return A.Assign(str(var), value, span=self._span(meta))

    # -- controllers (docs/control.md)
    def controller_decl(self, meta, name, *members):
        return A.Controller(self._decl_name(name), tuple(members), span=self._span(meta))

    def ctl_period(self, meta, value):
        return ("period", value, self._span(meta))

    def ctl_metric(self, meta, name, typ):
        return ("metric", self._decl_name(name), typ, self._span(meta))

    def ctl_let(self, meta, name, value):
        return ("let", self._decl_name(name), value, self._span(meta))

    def ctl_next(self, meta, *assigns):
        return ("next", tuple(assigns), self._span(meta))

    def ctl_plant(self, meta, name, value):
        return ("plant", str(name), value, self._span(meta))

    def ctl_noise(self, meta, value):
        return ("noise", value, self._span(meta))

    def ctl_step(self, meta, name, lo, hi):
        return ("step", self._decl_name(name), lo, hi, self._span(meta))

    def ctl_claim_decl(self, meta, name, claim, metric, rng):
        assuming = (str(metric), rng) if metric is not None else None
        return A.Claim(self._decl_name(name), claim[0], claim[1:], assuming,
                       span=self._span(meta))

    def claim_always(self, meta, cond):
        return ("always", cond)

    def claim_no_flap(self, meta, var, window):
        return ("no_flap", str(var), window)

    def claim_converges(self, meta, var, target, k, periods):
        return ("converges", str(var), target, k, int(str(periods).replace("_", "")))

    def claim_bounded(self, meta, var, rng):
        return ("bounded", str(var), rng)

    # -- healing
    def heal_decl(self, meta, name, *clauses):
        fields, spans = self._clauses(clauses)
        action, args = fields.pop("do", (None, ()))
        return A.Heal(self._decl_name(name), fields.pop("on", None), action, args,
                      span=self._span(meta), clause_spans=spans, **fields)

    def heal_on(self, meta, prop):
        return ("on", prop, self._span(meta))

    def heal_do(self, meta, action, args):
        return ("do", (action, args or ()), self._span(meta))

    def heal_cooldown(self, meta, d):
        return ("cooldown", d, self._span(meta))

    def heal_limit(self, meta, n, per):
        return ("limit", (n, per), self._span(meta))

    def heal_approve(self, meta, cond):
        return ("approve", cond, self._span(meta))

    def heal_risk(self, meta, r):
        return ("risk", r, self._span(meta))

    # -- consistency
    def operation_decl(self, meta, name, when, *clauses):
        fields, spans = self._clauses(clauses)
        return A.OperationMap(str(name), when, span=self._span(meta), clause_spans=spans,
                              **fields)

    def op_key(self, meta, e):
        return ("key", e, self._span(meta))

    def op_input(self, meta, e):
        return ("input", e, self._span(meta))

    def op_output(self, meta, e):
        return ("output", e, self._span(meta))

    def op_client(self, meta, e):
        return ("client", e, self._span(meta))

    def op_indeterminate(self, meta, e):
        return ("indeterminate", e, self._span(meta))

    def consistency_decl(self, meta, name, checker, model):
        return A.Consistency(self._decl_name(name), str(checker), str(model),
                             span=self._span(meta))
    def heal_run(self, meta, ctl, metric, every):
        return ("run", (str(ctl), _unescape(str(metric)[1:-1]), every), self._span(meta))

    # -- operators
    def _op_text(self, meta, *toks):
        return " ".join(str(t) for t in toks)

    iff_op = implies_op = or_op = xor_op = and_op = not_op = _op_text
    unary_sym = unary_word = bin_sym = bin_word = cmp_op = match_op = add_op = mul_op = _op_text
    scope_kw = _op_text

    def op_plain(self, meta, spelling):
        return (spelling, None)

    def op_bounded(self, meta, tok, interval):
        return (str(tok)[0], interval)

    def op_within(self, meta, word, bound):
        return (word, A.Interval(None, bound, "within", span=self._span(meta)))

    def binop(self, meta, left, spelling, right):
        return A.Binary(BINARY_SPELLINGS[spelling], left, right, spelling, span=self._span(meta))

    def btemporal(self, meta, left, op, right):
        spelling, interval = op
        return A.Binary(BINARY_SPELLINGS[spelling], left, right, spelling, interval,
                        span=self._span(meta))

    def utemporal(self, meta, op, operand):
        spelling, interval = op
        return A.Unary(UNARY_SPELLINGS[spelling], operand, spelling, interval,
                       span=self._span(meta))

    def iv_le(self, meta, hi):
        return A.Interval(None, hi, "<=", span=self._span(meta))

    def iv_ge(self, meta, lo):
        return A.Interval(lo, None, ">=", span=self._span(meta))

    def iv_range(self, meta, lo, hi):
        return A.Interval(lo, hi, ",", span=self._span(meta))

    def compare(self, meta, first, *rest):
        return A.Compare((first,) + tuple(rest[1::2]), tuple(rest[0::2]), span=self._span(meta))

    def in_(self, meta, value, target):
        return A.In(value, target, span=self._span(meta))

    def match(self, meta, left, op, right):
        return A.Match(op, left, right, span=self._span(meta))

    def exists(self, meta, operand):
        return A.Exists(operand, span=self._span(meta))

    def range(self, meta, lo, hi):
        return A.RangeExpr(lo, hi, span=self._span(meta))

    def neg(self, meta, operand):
        return A.Unary("-", operand, "-", span=self._span(meta))

    def field(self, meta, base, name):
        return A.Field(base, str(name), span=self._span(meta))

    def index(self, meta, base, idx):
        return A.Index(base, idx, span=self._span(meta))

    def call(self, meta, func, args, scope):
        return A.Call(func, args or (), scope, span=self._span(meta))

    def args(self, meta, *items):
        return tuple(items)

    def arg_pos(self, meta, value):
        return A.Arg(value, span=self._span(meta))

    def arg_where(self, meta, value, where):
        return A.Arg(value, where=where, span=self._span(meta))

    def arg_kw(self, meta, name, value):
        return A.Arg(value, name=str(name), span=self._span(meta))

    def arg_within(self, meta, value):
        return A.Arg(value, within=True, span=self._span(meta))

    def scope_globally(self, meta):
        return A.PatternScope("globally", (), span=self._span(meta))

    def scope_call(self, meta, kind, args):
        return A.PatternScope(kind, args, span=self._span(meta))

    def qual_name(self, meta, *names):
        return ".".join(str(n) for n in names)

    def name(self, meta, tok):
        return A.Name(str(tok), span=self._tok_span(tok) if meta.empty else self._span(meta))

    def paren(self, meta, expr):
        return A.Paren(expr, span=self._span(meta))

    def list(self, meta, *items):
        return A.ListExpr(tuple(i for i in items if i is not None), span=self._span(meta))

    # -- literals
    def _number(self, tok: Token, read):
        """``read(text)`` for a number literal within the limits of spec/limits.py.

        The digits are counted before anything converts them: Python reads a long
        digit string in quadratic time (and refuses one over 4,300 digits)."""
        text = str(tok)
        digits = number_digits(text)
        if digits > MAX_NUMBER_DIGITS:
            raise _BuildError(Diagnostic(
                "error", f"this number has {digits:,} digits; numbers have at most "
                f"{MAX_NUMBER_DIGITS:,}", self._tok_span(tok),
                f"a spec's numbers are below 10^{MAX_NUMBER_DIGITS}; write larger values as "
                "strings"))
        m = re.search(r"[eE][+-]?(\d+)$", text)  # only a REAL ends in an exponent
        if m and (len(m.group(1).lstrip("0")) > 3 or int(m.group(1)) > 400):
            raise _BuildError(Diagnostic("error", f"`{_clip(text)}` is out of range",
                                         self._tok_span(tok), "exponents go from e-400 to e400"))
        value = read(text)
        if too_large(value):
            raise _BuildError(Diagnostic(
                "error", f"`{_clip(text)}` is out of range: numbers are below 10^"
                f"{MAX_NUMBER_DIGITS}", self._tok_span(tok), "write a smaller value"))
        return value

    def int_lit(self, meta, tok):
        value = self._number(tok, lambda t: int(t.replace("_", "")))
        return A.Literal("int", value, str(tok), span=self._span(meta))

    def real_lit(self, meta, tok):
        value = self._number(tok, lambda t: Fraction(t.replace("_", "")))
        return A.Literal("real", value, str(tok), span=self._span(meta))

    def duration(self, meta, tok):
        try:
            value = self._number(tok, parse_duration)
        except ValueError as e:
            hint = "durations are whole nanoseconds" if str(tok).endswith("ns") else \
                "use a smaller unit, e.g. `1500us` for `1.5ms`"
            raise _BuildError(Diagnostic("error", str(e), self._tok_span(tok), hint)) from e
        return A.Literal("duration", value, str(tok), span=self._tok_span(tok))

    def bytes_lit(self, meta, tok):
        try:
            value = self._number(tok, parse_bytes)
        except ValueError as e:
            raise _BuildError(Diagnostic("error", str(e), self._tok_span(tok),
                                         "use a smaller unit, e.g. `1536Ki`")) from e
        return A.Literal("bytes", value, str(tok), span=self._span(meta))

    def string(self, meta, tok):
        return A.Literal("string", _unescape(str(tok)[1:-1]), str(tok), span=self._span(meta))

    def raw_string(self, meta, tok):
        return A.Literal("string", str(tok)[2:-1], str(tok), span=self._span(meta))

    def true(self, meta):
        return A.Literal("bool", True, "true", span=self._span(meta))

    def false(self, meta):
        return A.Literal("bool", False, "false", span=self._span(meta))


# ------------------------------------------------------------- syntax errors

_TERMINAL_WORDS = {
    "NAME": "a name", "STRING": "a string", "RAW_STRING": "a raw string", "INT": "a number",
    "REAL": "a number", "DURATION": "a duration such as `1s`", "BYTES": "a size such as `512Mi`",
    "UN_BOUNDED": "a bounded operator such as `F[<= 2s]`",
    "BIN_BOUNDED": "a bounded operator such as `U[<= 1s]`", "$END": "the end of the file",
}
_NUMBER_THEN_UNIT = re.compile(r"(\d[\d_]*(?:\.\d[\d_]*)?)([A-Za-zµ]+)")
_DECL_START = ("import", "const", "enum", "pred", "step", "property", "metric", "config",
               "invariant", "theorem", "workflow", "check", "model", "heal",
               "controller")


_EXPR_START = {"NAME", "INT", "REAL", "DURATION", "BYTES", "STRING", "RAW_STRING", "UN_BOUNDED",
               "(", "[", "-", "!", "not", "true", "false", "X", "WX", "F", "G", "Y", "O", "H",
               "next", "wnext", "eventually", "always", "once", "historically", "previously"}
_OPERATORS = {"!=", "==", "<", "<=", ">", ">=", "&", "|", "->", "<->", "+", "-", "*", "/", "//",
              "%", "and", "or", "implies", "iff", "xor", "U", "W", "R", "M", "S", "until",
              "release", "since", "weak", "strong", "in", "matches", "contains", "startswith",
              "exists", ".", "[", "(", "BIN_BOUNDED", "where", "globally", "before", "after",
              "between", "after_until"}


def _describe_expected(expected: set[str]) -> list[str]:
    """Expected terminals in the user's terms, grouped: `an expression`, `an operator`, `:`."""
    parser = lark_parser()
    spelled = set()
    for name in expected:
        try:
            pattern = parser.get_terminal(name).pattern
            spelled.add(pattern.value if pattern.type == "str" else name)
        except KeyError:
            spelled.add(name)
    words: list[str] = []
    if len(spelled & _EXPR_START) >= 4:
        words.append("an expression")
        spelled -= _EXPR_START
    if len(spelled & _OPERATORS) >= 4:
        words.append("an operator")
        spelled -= _OPERATORS
    for item in sorted(spelled):
        if item in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[item])
        elif item.isupper() and item not in ("X", "WX", "F", "G", "Y", "O", "H", "U", "W", "R",
                                             "M", "S"):
            continue  # an internal terminal name: nothing the user can type
        else:
            words.append(f"`{item}`")
    return words


def _hint_for(token_text: str, expected: set[str], line_text: str) -> str | None:
    """Hand-written hints for the mistakes people actually make (tested in the catalogue)."""
    if token_text in ("<=", ">=", "[") and re.search(r"\b[FGOHUWRMS]\s+\[", line_text):
        return "write the bound right after the operator, without a space: `F[<= 2s]`"
    if token_text == "=" and any(lark_parser().get_terminal(e).pattern.value == ":="
                                 for e in expected if e != "$END"):
        return "assign with `:=`"
    if token_text == "=":
        return "use `==` to compare; `=` only names a definition"
    if token_text in ("&", "|") and ("&&" in line_text or "||" in line_text):
        return "write `&` or `and`, `|` or `or`"
    if token_text == "'" or token_text.startswith("'"):
        return "strings use double quotes: \"...\""
    if token_text in RESERVED and "NAME" in expected:
        return f"`{token_text}` is a reserved word; rename it, e.g. `{token_text.lower()}_`"
    if token_text.isidentifier():
        return did_you_mean(token_text, RESERVED | CONTEXTUAL)
    return None


def _syntax_diagnostic(err: UnexpectedInput, file: str, text: str, line_offset: int) -> Diagnostic:
    lines = source_lines(text)
    if isinstance(err, _SplitWord):
        span = SourceSpan(file, err.line + line_offset, err.column, err.line + line_offset,
                          err.column + len(err.word))
        return Diagnostic("error", f"unexpected `{err.word}`", span,
                          did_you_mean(err.word, RESERVED | CONTEXTUAL))
    line = max(getattr(err, "line", 1) or 1, 1)
    col = max(getattr(err, "column", 1) or 1, 1)
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else "?"
        hint = None
        if ch == "'":
            hint = "strings use double quotes: \"...\""
        elif ch == '"':
            bad = re.search(r'\\[^"\\nt]', line_text[col:])
            if bad:  # point at the escape the string does not take
                col = col + 1 + bad.start()
                ch = line_text[col - 1:col + 1]
                hint = ("strings take only the escapes \\\" \\\\ \\n \\t; "
                        "write regular expressions as raw strings: r\"^\\d+$\"")
            else:
                hint = "a string must close on the same line"
        elif ch == "\\":
            hint = "strings take only the escapes \\\" \\\\ \\n \\t; use r\"...\" for regexes"
        what = f"escape `{ch}` in a string" if ch.startswith("\\") and len(ch) == 2 else \
            f"character `{ch}`"
        span = SourceSpan(file, line + line_offset, col, line + line_offset, col + len(ch))
        return Diagnostic("error", f"unexpected {what}", span, hint)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken)
                                          and err.token.type == "$END"):
        expected = set(getattr(err, "expected", ()) or ())
        last = len(lines)
        span = SourceSpan(file, last + line_offset, len(lines[-1]) + 1 if lines else 1,
                          last + line_offset, len(lines[-1]) + 2 if lines else 2)
        want = ", ".join(_describe_expected(expected)[:6])
        return Diagnostic("error", "the input ended in the middle of a declaration"
                          + (f"; expected {want}" if want else ""), span)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = set(err.expected)
    text_tok = str(tok)
    start = getattr(tok, "start_pos", None)
    if start and _WORD_CHAR.match(text_tok) and _WORD_CHAR.match(text[start - 1]):
        # The lexer split one word after a keyword prefix (`globally` as `global` `ly`).
        begin = start
        while begin > 0 and _WORD_CHAR.match(text[begin - 1]):
            begin -= 1
        if text[begin].isdigit():  # a number with a fraction: `1.5min` is one word here
            while begin > 0 and (text[begin - 1].isdigit() or text[begin - 1] in "._"):
                begin -= 1
        word = text[begin:start] + text_tok
        column = tok.column - (start - begin)
        span = SourceSpan(file, tok.line + line_offset, column, tok.line + line_offset,
                          column + len(word))
        number = _NUMBER_THEN_UNIT.fullmatch(word)
        unit = number and unit_suggestion(number.group(1), number.group(2))
        if unit:
            return Diagnostic("error", f"unexpected `{word}`", span, f"did you mean {unit}?")
        close = did_you_mean(word, RESERVED | CONTEXTUAL)
        return Diagnostic("error", f"unexpected `{word}`", span,
                          None if close == f"did you mean `{word}`?" else close)
    span = SourceSpan(file, tok.line + line_offset, tok.column, tok.end_line + line_offset,
                      tok.end_column)
    want = _describe_expected(expected)
    shown = " or ".join(want) if len(want) <= 3 else ", ".join(want[:6]) + (
        ", …" if len(want) > 6 else "")
    if text_tok in _DECL_START and text_tok not in ("const",):
        message = f"unexpected `{text_tok}`: the previous declaration is not finished"
        return Diagnostic("error", message + (f"; expected {shown}" if shown else ""), span)
    message = f"unexpected `{text_tok}`" + (f"; expected {shown}" if shown else "")
    hint = _hint_for(text_tok, expected, line_text)
    number = re.search(r"(?<![\w.])(\d[\d_]*(?:\.\d[\d_]*)?)\s+$", line_text[: tok.column - 1])
    unit = number and tok.type == "NAME" and unit_suggestion(number.group(1), text_tok)
    if unit:
        hint = f"write the unit right after the number, without a space: {unit}"
    before = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", line_text[: tok.column - 1])
    if hint is None and before and before.group(1) not in RESERVED | CONTEXTUAL:
        close = did_you_mean(before.group(1), RESERVED | CONTEXTUAL)
        if close:
            hint = f"`{before.group(1)}` is not a keyword; {close}"
    return Diagnostic("error", message, span, hint)


# ------------------------------------------------------------- entry points

_DECL_LINE = re.compile(r"^[ \t]*(" + "|".join(_DECL_START) + r")\b", re.M)


# A string (raw or not), or a comment, on one line. An unterminated string runs to the end of
# the line: were it not matched there, every quote inside it would start a new attempt that
# scans to the end again, and a line of 50,000 `\"` would take quadratic time.
_STRING_OR_COMMENT = re.compile(r'r"[^"\n]*+(?:"|$)|"(?:\\.?|[^"\\\n])*+(?:"|$)|(#.*)', re.M)


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split a file at lines that start a top-level declaration: (0-based first line, text).

    Used only after a syntax error, to carry on with the next declaration. Lines
    inside `{ … }` (model and config bodies) never start a chunk.
    """
    starts = []
    depth = 0
    line_no = 0
    for line in source_lines(text, keepends=True):
        code = _STRING_OR_COMMENT.sub("", line)
        if depth == 0 and _DECL_LINE.match(line):
            starts.append(line_no)
        depth = max(0, depth + code.count("{") - code.count("}"))
        line_no += 1
    all_lines = source_lines(text, keepends=True)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(all_lines)
        out.append((s, "".join(all_lines[s:e])))
    return out


def _collect_comments(text: str) -> tuple[A.Comment, ...]:
    """Comments with positions, found by the lexer's own rule (strings are skipped)."""
    out = []
    for i, line in enumerate(source_lines(text), 1):
        if "#" not in line:
            continue
        for m in _STRING_OR_COMMENT.finditer(line):
            if m.group(1) is not None:
                col = m.start(1)
                out.append(A.Comment(m.group(1).rstrip(), i, col + 1,
                                     own_line=not line[:col].strip()))
                break
    return tuple(out)


def _parse_chunk(text: str, file: str, line_offset: int) -> tuple[tuple, list[Diagnostic]]:
    builder = _Builder(file, line_offset)
    tree = lark_parser().parse(text, start="start")
    try:
        decls = builder.transform(tree)
    except _BuildError as e:
        return (), builder.errors + [e.diag]
    return decls, builder.errors


_DECL_NAME = re.compile(r"^[ \t]*(?:" + "|".join(_DECL_START) + r")\s+(?:invariant\s+)?"
                        r"([A-Za-z_][A-Za-z0-9_]*)")


def _reserved_name_before(err: UnexpectedInput, chunk: str, file: str,
                          line_offset: int) -> Diagnostic | None:
    """A reserved word read as a name before a syntax error is usually its cause
    (`forall G: …` makes `G > 0` unparseable): report that instead."""
    seen = []
    try:
        for tok in lark_parser().parse_interactive(chunk, start="start").iter_parse():
            seen.append(tok)
    except UnexpectedInput:
        pass
    for tok in seen:
        if tok.type == "NAME" and str(tok) in RESERVED:
            span = SourceSpan(file, tok.line + line_offset, tok.column,
                              tok.end_line + line_offset, tok.end_column)
            return Diagnostic("error", f"`{tok}` is a reserved word and cannot be used as a name",
                              span, f"rename it, e.g. `{str(tok).lower()}_`")
    return None


def parse_module_partial(text: str, file: str = "<spec>"
                         ) -> tuple[A.Module, list[Diagnostic], set[str]]:
    """Parse what can be parsed: the module of the good declarations, the syntax errors, and
    the names the broken declarations would have defined (so that uses of them are not
    reported again as unknown names)."""
    with gc_paused():
        return _parse_module_partial(text, file)


def _parse_module_partial(text: str, file: str) -> tuple[A.Module, list[Diagnostic], set[str]]:
    try:
        decls, errors = _parse_chunk(text, file, 0)
        broken: set[str] = set()
    except UnexpectedInput:
        decls, errors, broken = [], [], set()
        for first_line, chunk in _chunks(text):
            try:
                d, errs = _parse_chunk(chunk, file, first_line)
                decls.extend(d)
                errors.extend(errs)
            except UnexpectedInput as err:
                errors.append(_reserved_name_before(err, chunk, file, first_line)
                              or _syntax_diagnostic(err, file, chunk, first_line))
                m = _DECL_NAME.match(chunk)
                if m:
                    broken.add(m.group(1))
        if not errors:  # the whole failed but every chunk parsed: report the whole's error
            try:
                _parse_chunk(text, file, 0)
            except UnexpectedInput as err:
                errors.append(_syntax_diagnostic(err, file, text, 0))
    span = SourceSpan(file, 1, 1, text.count("\n") + 1, 1)
    return A.Module(file, tuple(decls), _collect_comments(text), span=span), errors, broken


def parse_module(text: str, file: str = "<spec>") -> A.Module:
    """Parse a whole file. Raises :class:`SpecErrors` listing every syntax error found."""
    module, errors, _ = parse_module_partial(text, file)
    if errors:
        raise SpecErrors(errors, {file: text})
    return module


def parse_expr(text: str, file: str = "<formula>") -> A.Expr:
    """Parse one expression (used by `tracelogic automaton FORMULA` and message placeholders)."""
    builder = _Builder(file)
    try:
        expr = builder.transform(lark_parser().parse(text, start="expr_start"))
    except UnexpectedInput as err:
        raise SpecErrors([_syntax_diagnostic(err, file, text, 0)], {file: text}) from None
    except _BuildError as e:
        raise SpecErrors([e.diag], {file: text}) from None
    if builder.errors:
        raise SpecErrors(builder.errors, {file: text})
    return expr
