"""Sequential specifications: what a correct store would answer, one operation at a time.

A model is deterministic: from a state, an operation and its input there is one next
state and one correct output. :meth:`Model.step` returns the next state, or
:data:`ILLEGAL` when the observed output is not the correct one (or the operation is not
allowed there). For an indeterminate operation the output is unknown, so only the effect
is applied (``known=False``).

Every built-in model describes one object; a store of many objects is checked per key
(P-compositionality), so the key-value map is the register (plus ``append``) per key.
States are hashable, so the linearizability search can memoise (linearized set, state).
"""
from __future__ import annotations

from typing import Any, Callable, Final, Mapping

from tracelogic.errors import TracelogicError
from tracelogic.errors import UnknownName

__all__ = ["ILLEGAL", "Model", "ModelError", "MODELS", "model", "ALIASES"]


class _Illegal:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ILLEGAL"


ILLEGAL: Final = _Illegal()
"""What :meth:`Model.step` returns when the operation cannot happen in that state."""


class ModelError(TracelogicError, ValueError):
    """An operation names something the model has not (``pop`` on a register)."""


#: Operation names users and conventions spell differently -> the model's own name.
ALIASES: Final[Mapping[str, str]] = {
    "get": "read", "select": "read", "load": "read", "r": "read",
    "put": "write", "set": "write", "store": "write", "update": "write", "w": "write",
    "compare_and_set": "cas", "compare-and-set": "cas", "compareandset": "cas",
    "incr": "add", "inc": "add", "increment": "add",
    "insert": "add_element", "sadd": "add_element",
    "push": "enqueue", "offer": "enqueue", "pop": "dequeue", "poll": "dequeue",
}


class Model:
    """A named sequential specification: ``init`` and a ``step`` per operation name."""

    __slots__ = ("name", "init", "_steps", "doc", "readonly")

    def __init__(self, name: str, init: Any, steps: Mapping[str, Callable[..., Any]],
                 doc: str = "", readonly: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.init = init
        self._steps = dict(steps)
        self.doc = doc
        # operations that never change the state: an indeterminate one constrains nothing
        # and is dropped before the search (each would otherwise double the linearized
        # sets the memo must tell apart)
        self.readonly = frozenset(readonly)

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(self._steps)

    def canonical(self, f: str) -> str:
        """The model's name for operation ``f`` (aliases resolved), or a ModelError."""
        g = f.lower()
        if g in self._steps:
            return g
        if g in _ELEMENT and _ELEMENT[g] in self._steps:
            return _ELEMENT[g]
        a = ALIASES.get(g)
        if a is not None and a in self._steps:
            return a
        raise ModelError(f"the {self.name} model has no operation `{f}`", value=f,
                         hint=f"its operations are {', '.join(self._steps)}")

    def step(self, state: Any, f: str, inp: Any, out: Any, known: bool = True) -> Any:
        """The next state after ``f(inp) -> out`` from ``state``, or :data:`ILLEGAL`.
        ``f`` must already be canonical (see :meth:`canonical`)."""
        return self._steps[f](state, inp, out, known)

    def step_function(self, f: str) -> Callable[[Any, Any, Any, bool], Any]:
        """:meth:`step` for one canonical operation name, looked up once (the search's
        inner loop calls it millions of times)."""
        return self._steps[f]

    def with_init(self, init: Any) -> Model:
        """The same operations from another initial state."""
        return Model(self.name, init, self._steps, self.doc, self.readonly)

    def __repr__(self) -> str:
        return f"tracelogic.consistency.model({self.name!r})"


# -- the built-in steps: (state, input, output, known) -> next state or ILLEGAL

def _read(state: Any, inp: Any, out: Any, known: bool) -> Any:
    return state if (not known or out == state) else ILLEGAL


def _write(state: Any, inp: Any, out: Any, known: bool) -> Any:
    return inp


def _cas(state: Any, inp: Any, out: Any, known: bool) -> Any:
    if not (isinstance(inp, tuple) and len(inp) == 2):
        raise ModelError(f"cas takes [expected, new], not {inp!r}", value=inp,
                         hint="give the input as a two-element array")
    hit = state == inp[0]
    if known and bool(out) != hit:
        return ILLEGAL
    return inp[1] if hit else state


def _append(state: Any, inp: Any, out: Any, known: bool) -> Any:
    return (state or "") + str(inp)


def _add(state: Any, inp: Any, out: Any, known: bool) -> Any:
    return state + (1 if inp is None else inp)


def _set_add(state: frozenset, inp: Any, out: Any, known: bool) -> Any:
    return state | {inp}


def _set_remove(state: frozenset, inp: Any, out: Any, known: bool) -> Any:
    return state - {inp}


def _set_read(state: frozenset, inp: Any, out: Any, known: bool) -> Any:
    if not known:
        return state
    seen = frozenset(out) if isinstance(out, (tuple, list, set, frozenset)) else None
    return state if seen == state else ILLEGAL


def _contains(state: frozenset, inp: Any, out: Any, known: bool) -> Any:
    return state if (not known or bool(out) == (inp in state)) else ILLEGAL


def _enqueue(state: tuple, inp: Any, out: Any, known: bool) -> Any:
    return state + (inp,)


def _dequeue(state: tuple, inp: Any, out: Any, known: bool) -> Any:
    head = state[0] if state else None
    if known and out != head:
        return ILLEGAL
    return state[1:]


# the set's `add` is an element, not a number: resolved before the generic aliases
_ELEMENT: Final = {"add": "add_element", "insert": "add_element", "sadd": "add_element",
                   "remove": "remove", "delete": "remove", "srem": "remove"}

_R: Final = frozenset({"read"})

MODELS: Final[dict[str, Model]] = {m.name: m for m in (
    Model("register", None, {"read": _read, "write": _write},
          "a read returns the last value written (nil before any write)", _R),
    Model("cas-register", None, {"read": _read, "write": _write, "cas": _cas},
          "a register with compare-and-set: cas([expected, new]) -> true iff it swapped",
          _R),
    Model("kv", None, {"read": _read, "write": _write, "cas": _cas, "append": _append},
          "a key-value map, checked per key: each key is a register with cas and "
          "string append (Porcupine's kv model; a missing key reads nil)", _R),
    Model("counter", 0, {"read": _read, "add": _add},
          "add(n) adds n (1 when no input); read returns the sum", _R),
    Model("set", frozenset(), {"add_element": _set_add, "remove": _set_remove,
                               "read": _set_read, "contains": _contains},
          "add(x), remove(x), contains(x) -> bool, read -> every element",
          frozenset({"read", "contains"})),
    Model("queue", (), {"enqueue": _enqueue, "dequeue": _dequeue},
          "FIFO: dequeue returns the oldest element not yet dequeued, nil when empty"),
)}


def model(name: str, *, init: Any = ...) -> Model:
    """The built-in model ``name`` (``register``, ``cas-register``, ``kv``, ``counter``,
    ``set``, ``queue``), optionally with another initial state (the kv model of
    Porcupine's tests starts each key at ``""``)."""
    m = MODELS.get(name) or MODELS.get(name.replace("_", "-"))
    if m is None:
        from tracelogic.spec.diagnostics import did_you_mean

        raise UnknownName(f"no consistency model `{name}`", value=name,
                          hint=did_you_mean(name, list(MODELS))
                          or f"the models are {', '.join(MODELS)}")
    if init is ...:
        return m
    return m.with_init(init)
