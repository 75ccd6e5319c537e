"""Action plugins: one small interface, a registry fed by the ``tracelogic.actions`` entry points.

A plugin is a subclass of :class:`Action` that declares, as class attributes:

- ``name``: its dotted registry key (``"kubernetes.restart"``);
- ``params``: typed :class:`Param` s, bound from the policy's ``name: value`` or
  positional arguments;
- ``target``: the parameters whose values name what it acts on — the key for
  cooldowns, limits, the blast radius and conflicts (none: the violation's key);
- ``risk``: a default in ``0.0..1.0`` that ``risk R`` on a policy overrides;
- ``effect``: what it changes, and in which direction (used by the conflict
  guard at run time and by ``tracelogic check`` with Z3), or ``None``;
- ``has_undo``: whether :meth:`Action.undo` exists.

and implements :meth:`Action.validate` (refuse bad values before anything runs),
:meth:`Action.plan` (what would run, as JSON, no secrets — this is what dry-run
records) and :meth:`Action.execute`. Register a plugin in your package's
``pyproject.toml``::

    [project.entry-points."tracelogic.actions"]
    "pagerduty.trigger" = "mypkg.actions:PagerDutyTrigger"

Span values reach actions only as data: a value is one argv element, one JSON
field or one Kubernetes object name, never text spliced into a command line, a
URL or an option position.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, ClassVar

from tracelogic.errors import TracelogicError
from tracelogic.values.missing import MISSING

ENTRY_POINT_GROUP = "tracelogic.actions"

# Always available, even from a stale editable install whose entry points predate a plugin.
BUILTINS: dict[str, str] = {
    "log": "tracelogic.healing.actions.builtin:LogAction",
    "webhook": "tracelogic.healing.actions.builtin:WebhookAction",
    "command": "tracelogic.healing.actions.builtin:CommandAction",
    "circuit_breaker": "tracelogic.healing.actions.builtin:CircuitBreakerAction",
    "kubernetes.scale": "tracelogic.healing.actions.kubernetes:ScaleAction",
    "kubernetes.restart": "tracelogic.healing.actions.kubernetes:RestartAction",
    "kubernetes.rollback": "tracelogic.healing.actions.kubernetes:RollbackAction",
}


class ActionRefused(TracelogicError, ValueError):
    """The bound arguments are not acceptable: the action is not run (audit says why)."""


class ActionFailed(TracelogicError, RuntimeError):
    """The action ran and failed (after its own retries)."""


class UnknownAction(TracelogicError, LookupError):
    """No plugin of that name is registered."""


@dataclass(frozen=True)
class ConfigDefault:
    """A parameter default read from the controller configuration (e.g. the namespace)."""

    attr: str


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"   # string | int | number | bool | list | any
    required: bool = True
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Effect:
    """What an action changes, so that opposite actions on one target can be detected.

    The direction is +1 or -1 (0: none): the sign of parameter ``delta``; the sign
    of ``absolute`` minus the target's current level; or ``directions[state]``.
    """

    resource: str
    delta: str | None = None
    absolute: str | None = None
    state: str | None = None
    directions: tuple[tuple[str, int], ...] = ()

    def direction(self, args: dict, current: int | None = None) -> int | None:
        if self.delta is not None and isinstance(args.get(self.delta), int):
            d = args[self.delta]
            return (d > 0) - (d < 0)
        if self.absolute is not None and isinstance(args.get(self.absolute), int):
            if current is None:
                return None  # unknown without the current level; the checker models it
            d = args[self.absolute] - current
            return (d > 0) - (d < 0)
        if self.state is not None:
            return dict(self.directions).get(args.get(self.state))
        return None


@dataclass
class ActionResult:
    ok: bool
    detail: dict = field(default_factory=dict)
    undo: dict | None = None   # arguments that undo this action, when it has an undo


@dataclass
class ExecContext:
    """What an action may know about the decision that runs it."""

    policy: str
    idempotency_key: str
    violation: dict
    hooks: dict = field(default_factory=dict)


class Action:
    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    target: ClassVar[tuple[str, ...]] = ()
    risk: ClassVar[float] = 0.1
    extra_args: ClassVar[bool] = False
    effect: ClassVar[Effect | None] = None
    has_undo: ClassVar[bool] = False

    def __init__(self, config: Any, hooks: dict | None = None):
        self.config = config
        self.hooks = hooks or {}

    def __repr__(self) -> str:
        return f"<action {self.name}>"

    # ---------------------------------------------------------------- binding
    @classmethod
    def param(cls, name: str) -> Param | None:
        for p in cls.params:
            if p.name == name:
                return p
        return None

    @classmethod
    def bind_names(cls, args: list[tuple[str | None, Any]]) -> list[tuple[str, Any]]:
        """Positional arguments take the parameters in order; raises ActionRefused."""
        out, used = [], set()
        positional = [p.name for p in cls.params]
        i = 0
        for name, value in args:
            if name is None:
                if i >= len(positional):
                    raise ActionRefused(f"`{cls.name}` takes at most {len(positional)} "
                                        "positional argument(s)", value=value)
                name = positional[i]
                i += 1
            if name in used:
                raise ActionRefused(f"argument `{name}` of `{cls.name}` is given twice")
            if cls.param(name) is None and not cls.extra_args:
                raise ActionRefused(
                    f"`{cls.name}` has no parameter `{name}`", value=name,
                    hint="its parameters: " + ", ".join(p.name for p in cls.params))
            used.add(name)
            out.append((name, value))
        return out

    def bind(self, named: list[tuple[str, Any]]) -> dict:
        """Named values -> the argument dict, with defaults; type-checks scalar values.

        A value that is :data:`MISSING` (the witness span had no such attribute) raises
        :class:`MissingArgument`, which the controller records as a skip.
        """
        args: dict[str, Any] = {}
        for name, value in named:
            if value is MISSING or (isinstance(value, list) and any(v is MISSING for v in value)):
                raise MissingArgument(f"argument `{name}` of `{self.name}` has no value on the "
                                      "witness span", value=name)
            args[name] = value
        for p in self.params:
            if p.name not in args:
                default = p.default
                if isinstance(default, ConfigDefault):
                    default = getattr(self.config, default.attr)
                if default is None and p.required:
                    raise ActionRefused(f"`{self.name}` needs argument `{p.name}`", value=p.name)
                if default is not None:
                    args[p.name] = default
                continue
            args[p.name] = _coerce(self.name, p, args[p.name])
        return args

    def target_of(self, args: dict, violation: dict) -> str:
        values = [str(args[t]) for t in self.target if args.get(t) is not None]
        return "/".join(values) if values else f"{violation.get('property')}:{violation.get('key')}"

    # ---------------------------------------------------------------- the work
    def validate(self, args: dict, tainted: dict) -> None:
        """Refuse unacceptable values (raise ActionRefused). ``tainted[name]`` is True (or a
        list of booleans, for lists) where a value came from span or violation data."""

    def plan(self, args: dict) -> dict:
        return {"action": self.name, "args": _jsonable(args)}

    def execute(self, args: dict, ctx: ExecContext) -> ActionResult:  # pragma: no cover
        raise NotImplementedError

    def undo(self, args: dict, result: ActionResult, ctx: ExecContext) -> ActionResult:
        raise ActionRefused(f"`{self.name}` has no undo")

    def current_level(self, args: dict) -> int | None:
        """The target's current level for an ``absolute`` effect, when cheaply known."""
        return None


class MissingArgument(ActionRefused):
    """An argument expression had no value on the witness span: the action is skipped."""


def _coerce(action: str, p: Param, v: Any) -> Any:
    t = p.type
    ok = {"string": lambda x: isinstance(x, str),
          "int": lambda x: isinstance(x, int) and not isinstance(x, bool),
          "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
          "bool": lambda x: isinstance(x, bool),
          "list": lambda x: isinstance(x, (list, tuple)),
          "any": lambda x: True}[t]
    if t == "int" and isinstance(v, float) and v.is_integer():
        v = int(v)
    if hasattr(v, "numerator") and not isinstance(v, (int, bool)):  # a Fraction literal
        v = float(v)
    if not ok(v):
        raise ActionRefused(f"argument `{p.name}` of `{action}` must be {t}, got "
                            f"{type(v).__name__} {_short(v)}", value=v)
    return list(v) if t == "list" else v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "numerator"):
        return float(v)
    return str(v)


# ------------------------------------------------------------------ registry

_REGISTRY: dict[str, type[Action]] | None = None
_EXTRA: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    """Register a plugin class in-process (tests, notebooks); entry points are the normal way."""
    _EXTRA[cls.name] = cls
    return cls


def _load(ref: str) -> type[Action]:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def registry(refresh: bool = False) -> dict[str, type[Action]]:
    """Every action plugin by its dotted name: entry points, then built-ins, then register()."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        found: dict[str, type[Action]] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
            except Exception as e:  # a broken plugin must not take the controller down
                found[ep.name] = _broken(ep.name, e)
                continue
            found[ep.name] = cls
        for name, ref in BUILTINS.items():
            found.setdefault(name, _load(ref))
        _REGISTRY = found
    return {**_REGISTRY, **_EXTRA}


def get_action(name: str) -> type[Action]:
    reg = registry()
    try:
        return reg[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(reg), n=1)
        raise UnknownAction(f"no action `{name}` in the plugin registry", value=name,
                            hint=f"did you mean `{close[0]}`?" if close else
                            "known actions: " + ", ".join(sorted(reg))) from None


def _broken(name: str, error: Exception) -> type[Action]:
    class Broken(Action):
        def validate(self, args: dict, tainted: dict) -> None:
            raise ActionRefused(f"plugin `{name}` failed to load: {error}")
    Broken.name = name
    Broken.extra_args = True
    return Broken


HookFn = Callable[..., Any]

__all__ = ["Action", "ActionFailed", "ActionRefused", "ActionResult", "ConfigDefault", "Effect",
           "ENTRY_POINT_GROUP", "ExecContext", "MissingArgument", "Param", "UnknownAction",
           "get_action", "register", "registry"]
