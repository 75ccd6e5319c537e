"""Non-recursive walkers over typed expressions (:class:`~tracelogic.spec.typed.TExpr`).

The typed IR's counterpart of :mod:`tracelogic.logic.walkers`. Expressions are as deep
as users write them (a 10,000-deep `&` chain, a 30,000-term `or`), so no pass over them
may recurse in Python: every pass is one of these walkers, which keep an explicit stack.

- :class:`TExprWalker` visits each distinct node once, children before parents, and
  memoises the results (nodes are interned, so the memo is a plain dict). Subclasses
  implement ``walk_<op>(node, args)``, with ``args`` the children's results; an operator
  without a handler raises :class:`~tracelogic.errors.UnhandledNode`. ``pre(node)`` may
  answer for a node before its children are visited (a leaf for this pass).
- :func:`drive` runs a pass written as generators (a step yields its substeps), for
  passes whose arguments flow down and so cannot be memoised per node.
- :class:`TExprEmitter` expands an expression into text: ``emit_<op>(node)`` returns
  strings and child nodes, expanded in order.

Operator names that are not identifiers map to words (:data:`OP_NAMES`): ``walk_add``
for ``+``, ``walk_floordiv`` for ``//``.
"""
from __future__ import annotations

from fractions import Fraction
from types import GeneratorType
from typing import Any, Callable

from tracelogic.errors import UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr
from tracelogic.values.arith import EXACT

__all__ = ["TExprWalker", "TExprEmitter", "OP_NAMES", "method_name", "show", "fold_constant",
           "chain", "walk_with", "expand", "drive"]

OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod"}
_PASS = object()  # pre(): no answer, walk the children


def method_name(prefix: str, op: str) -> str:
    """``walk_add`` for ``+``, ``walk_cmp`` for ``cmp``."""
    return prefix + OP_NAMES.get(op, op)


def chain(e: TExpr) -> list[TExpr]:
    """The operands of a chain of one associative boolean operator (`a & b & c`, however
    it is bracketed), left to right, without recursion; ``[e]`` for any other node."""
    if e.op not in ("and", "or"):
        return [e]
    out: list[TExpr] = []
    stack = [e]
    while stack:
        n = stack.pop()
        if n.op == e.op:
            stack.extend(reversed(n.args))
        else:
            out.append(n)
    return out


def drive(step: Any) -> Any:
    """Run a recursive pass written as generators to its result, without recursion.

    For passes that do not fit :class:`TExprWalker`: the checker's syntax-tree pass
    (its context and hints flow down, and constants and predicates defined by each
    other form chains as long as a file), and evaluations that short-circuit or carry
    a path condition down. A step *yields* the step of a subexpression
    (``t = yield self._expr(e, ctx)``) and *returns* its own result.
    This loop keeps the pending steps on an explicit stack and sends each result to
    the step that asked for it; an exception travels up the same way, through the
    steps' ``finally`` blocks. A yielded value that is not a generator is a result
    already (a step that needs no subexpression can be a plain method)."""
    if not isinstance(step, GeneratorType):
        return step
    stack = [step]
    value: Any = None
    error: BaseException | None = None
    while True:
        top = stack[-1]
        try:
            if error is None:
                request = top.send(value)
            else:
                request, error = top.throw(error), None
        except StopIteration as done:
            stack.pop()
            if not stack:
                return done.value
            value = done.value
            continue
        except BaseException as e:  # raised in a step: the step that asked for it sees it
            stack.pop()
            if not stack:
                raise
            error = e
            continue
        if isinstance(request, GeneratorType):
            stack.append(request)
            value = None
        else:
            value = request


class TExprWalker:
    """Memoised post-order walk over the expression DAG, with an explicit stack.

    Results stay in ``self.memo`` across calls to :meth:`walk`, so one walker over the
    properties of a spec handles a subexpression they share once."""

    def __init__(self) -> None:
        self.memo: dict[TExpr, Any] = {}
        self._handlers: dict[str, Any] = {}

    def pre(self, node: TExpr) -> Any:
        """A result for ``node`` without visiting its children, or ``self.PASS`` (the
        default) to walk them and call ``walk_<op>``."""
        return _PASS

    PASS = _PASS

    def children(self, node: TExpr) -> tuple[TExpr, ...]:
        return node.args

    def walk(self, root: TExpr) -> Any:
        memo = self.memo
        if root in memo:
            return memo[root]
        pre, children = self.pre, self.children
        stack: list[tuple[TExpr, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in memo:
                continue
            if not expanded:
                early = pre(node)
                if early is not _PASS:
                    memo[node] = early
                    continue
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(children(node)) if c not in memo)
                continue
            memo[node] = self.dispatch(node, [memo[c] for c in children(node)])
        return memo[root]

    def dispatch(self, node: TExpr, args: list[Any]) -> Any:
        fn = self._handlers.get(node.op)
        if fn is None:
            fn = getattr(self, method_name("walk_", node.op), None)
            if fn is None:
                fn = self.walk_default
            self._handlers[node.op] = fn
        return fn(node, args)

    def walk_default(self, node: TExpr, args: list[Any]) -> Any:
        raise UnhandledNode(
            f"{type(self).__name__} has no handler {method_name('walk_', node.op)} for "
            f"`{show(node)}`", value=node,
            hint="add the handler, or lower the node before this pass")


class _FnWalker(TExprWalker):
    def __init__(self, combine, pre, children) -> None:
        super().__init__()
        self.combine = combine
        if pre is not None:
            self.pre = pre  # type: ignore[method-assign]
        if children is not None:
            self.children = children  # type: ignore[method-assign]

    def dispatch(self, node: TExpr, args: list[Any]) -> Any:
        return self.combine(node, args)


def walk_with(root: TExpr, combine, *, pre=None, children=None) -> Any:
    """A one-off :class:`TExprWalker`: ``combine(node, child_results)`` children first;
    ``pre(node)`` may answer for a node (``TExprWalker.PASS`` to walk it), ``children(node)``
    chooses what is walked (default ``node.args``)."""
    return _FnWalker(combine, pre, children).walk(root)


def expand(root: Any, pieces: Callable[[Any], list]) -> str:
    """Text from a tree without recursion: ``pieces(node)`` gives strings (emitted as they
    are) and nodes (expanded in their place, in order). Shared by the typed-expression and
    the formula printers."""
    out: list[str] = []
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        stack.extend(reversed(pieces(item)))
    return "".join(out)


class TExprEmitter:
    """Expands an expression into text without recursion: ``emit_<op>(node)`` returns a
    list of strings (emitted as they are) and nodes (expanded in their place). Not
    memoised: text is tree-shaped."""

    def __init__(self) -> None:
        self._handlers: dict[str, Any] = {}

    def emit(self, root: TExpr) -> str:
        return expand(root, self._pieces)

    def _pieces(self, item: TExpr) -> list:
        fn = self._handlers.get(item.op)
        if fn is None:
            fn = getattr(self, method_name("emit_", item.op), None) or self.emit_default
            self._handlers[item.op] = fn
        return fn(item)

    def emit_default(self, node: TExpr) -> list:
        raise UnhandledNode(f"{type(self).__name__} cannot print `{node.op}`", value=node)


class _Show(TExprEmitter):
    """Spec syntax for messages, guards and atom labels (``show``)."""

    def emit_pred(self, e):
        return [e.payload]

    def emit_lit(self, e):
        v = e.payload
        if isinstance(v, bool):
            return ["true" if v else "false"]
        if isinstance(v, str):
            return ['"' + v.replace('"', '\\"') + '"']
        if T.base(e.type) in (T.DURATION, T.BYTES) and isinstance(v, int):
            from tracelogic.spec.lexicon import show_value

            return [show_value(v, e.type)]  # `10m`, `96Mi`, as written in a spec
        return [str(float(v)) if hasattr(v, "denominator") and v.denominator != 1 else str(v)]

    def emit_enum(self, e):
        return [e.payload[1]]

    def emit_field(self, e):
        return [".".join(list(e.payload[0]) + [e.payload[1]])]

    def emit_attr(self, e):
        return [".".join(list(e.payload[0]) + [f'{e.payload[1]}["{e.payload[2]}"]'])]

    def emit_cmp(self, e):
        return [e.args[0], f" {e.payload} ", e.args[1]]

    def _infix(self, e, word):
        return ["(", e.args[0], f" {word} ", e.args[1], ")"]

    def emit_and(self, e):
        return self._infix(e, "&")

    def emit_or(self, e):
        return self._infix(e, "|")

    def emit_implies(self, e):
        return self._infix(e, "->")

    def emit_iff(self, e):
        return self._infix(e, "<->")

    def emit_xor(self, e):
        return self._infix(e, "xor")

    def emit_not(self, e):
        return ["!", e.args[0]]

    def _arith(self, e):
        return self._infix(e, e.op)

    emit_add = emit_sub = emit_mul = emit_div = emit_floordiv = emit_mod = _arith

    def emit_exists(self, e):
        return [e.args[0], " exists"]

    def _word(self, e):
        return [e.args[0], f" {e.op} ", e.args[1]]

    emit_matches = emit_contains = emit_startswith = emit_in = _word

    def _items(self, args, sep=", "):
        out: list[Any] = []
        for i, a in enumerate(args):
            if i:
                out.append(sep)
            out.append(a)
        return out

    def emit_list(self, e):
        return ["[", *self._items(e.args), "]"]

    def emit_range(self, e):
        return [e.args[0], "..", e.args[1]]

    def _structural(self, e):
        return [f"{e.op}(", e.args[0], ")"]

    emit_has_ancestor = emit_has_child = emit_linked = _structural

    def emit_has_event(self, e):
        return [f'has_event("{e.payload}")']

    def emit_prev(self, e):
        return ["prev(", e.args[0], ")"]

    def emit_last(self, e):
        return ["last(", e.args[0], " where ", e.args[1], ", ", e.args[2], ")"]

    def emit_neg(self, e):
        return ["-", e.args[0]]

    def emit_agg(self, e):
        name = e.payload if isinstance(e.payload, str) else e.payload[0]
        return [f"{name}(", e.args[0], " where ", e.args[1], ")"]

    def emit_call(self, e):
        if isinstance(e.payload, str):
            return [f"{e.payload}(", *self._items(e.args), ")"]
        return [e.op]

    def _bound(self, iv) -> str:
        if iv is None:
            return ""
        from tracelogic.spec.lexicon import show_value

        lo, hi = iv
        if hi is None:
            return f"[>= {show_value(lo, T.DURATION)}]" if lo else ""
        if not lo:
            return f"[<= {show_value(hi, T.DURATION)}]"
        return f"[{show_value(lo, T.DURATION)}, {show_value(hi, T.DURATION)}]"

    def _unary_temporal(self, e):
        return [f"{e.op}{self._bound(e.payload)} ", e.args[0]]

    emit_X = emit_WX = emit_F = emit_G = emit_Y = emit_O = emit_H = _unary_temporal

    def _binary_temporal(self, e):
        return ["(", e.args[0], f" {e.op}{self._bound(e.payload)} ", e.args[1], ")"]

    emit_U = emit_W = emit_R = emit_M = emit_S = _binary_temporal

    def emit_pattern(self, e):
        name, scope, within = e.payload
        n = len(e.args) - ({"globally": 0, "before": 1, "after": 1, "between": 2,
                            "after_until": 2}.get(scope, 0))
        out: list[Any] = [f"{name}(", *self._items(e.args[:n])]
        if within is not None:
            from tracelogic.spec.lexicon import show_value

            out.append(f", within {show_value(within, T.DURATION)}")
        out.append(")")
        if scope != "globally":
            out += [f" {scope}(", *self._items(e.args[n:]), ")"]
        return out

    def emit_default(self, e):
        return [e.op]


_SHOW = _Show()


def show(e: TExpr) -> str:
    """A readable rendering of a typed expression in spec syntax, for guards and messages
    (iterative: any depth)."""
    return _SHOW.emit(e)


class _Fold(TExprWalker):
    """Constant folding of numbers; ``problem`` says why a fold failed (`it divides by
    zero`). ``None`` for anything that is not a constant number."""

    def __init__(self, too_large, max_digits: int) -> None:
        super().__init__()
        self.problem: str | None = None
        self._too_large = too_large
        self._max_digits = max_digits

    def pre(self, node):
        if node.op == "lit":
            return node.payload
        if node.op == "neg" or (node.op in OP_NAMES and len(node.args) == 2):
            return self.PASS
        return None

    def walk_neg(self, node, args):
        v = args[0]
        return None if v is None else -v

    def _binary(self, node, args):
        a, b = args
        if a is None or b is None or isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
            return None
        try:
            r = EXACT[node.op](a, b)  # the language's arithmetic (values.arith)
        except ZeroDivisionError:
            self.problem = "it divides by zero"
            return None
        if self._too_large(r):
            self.problem = f"its value is beyond 10^{self._max_digits}"
            return None
        if T.base(node.type) in (T.DURATION, T.BYTES, T.INT) and isinstance(r, Fraction):
            if r.denominator != 1:
                unit = {T.DURATION: "nanoseconds", T.BYTES: "bytes"}.get(
                    T.base(node.type), "an integer")
                self.problem = f"its value {r} is not a whole number of {unit}"
                return None
            return int(r)
        return r

    walk_add = walk_sub = walk_mul = walk_div = walk_floordiv = walk_mod = _binary


def fold_constant(e: TExpr) -> tuple[Any, str | None]:
    """``(value, problem)``: the value of a constant number expression (None when it is
    not one), and why folding failed where it did (a zero divisor, a value too large)."""
    from tracelogic.spec.limits import MAX_NUMBER_DIGITS, too_large

    folder = _Fold(too_large, MAX_NUMBER_DIGITS)
    return folder.walk(e), folder.problem
