"""Monitoring engines behind one registry, and which one runs each property.

Two engines run a spec's runtime properties (docs/native.md):

* ``python``, the reference engine: it runs everything, and its semantics are the
  language's. It is the differential oracle of the other one.
* ``native``, the Rust core ``tracelogic._native``: available when that extension imports
  and speaks this boundary's version. It runs the property kinds it declares in its
  ``capabilities()``; every other property falls back to the Python engine, on the same
  input; the plan (``engine/plan.py``) narrows that to the properties whose atoms it
  holds, and says why for the others.

Like the automata backends (``tracelogic.automata.backends``), engines declare
capabilities and a preference, and an engine that is asked for but cannot be used raises
:class:`~tracelogic.errors.BackendUnavailable` naming what is missing. Unlike them, the
choice is made **per property**: :func:`assign` maps every compiled property to the engine
that runs it, with the reason when it is not the preferred one. The Monitor keeps that map
(``Monitor.engines``), ``monitor --verbose`` prints it, and the tests assert it.

The selection is ``engine=`` (``--engine python|native``), else the environment variable
``TRACELOGIC_ENGINE``, else the default: ``native`` when the core is importable (falling
back per property), ``python`` otherwise.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

from tracelogic.errors import BackendUnavailable, InputError

__all__ = ["MonitorEngine", "PythonEngine", "NativeEngine", "Assignment", "CAPABILITIES",
           "ENGINES", "ENV_VAR", "register_engine", "get_engine", "available_engines",
           "requested_engine", "required_capabilities", "assign"]

ENV_VAR = "TRACELOGIC_ENGINE"
ENGINES = ("python", "native")  # the values of --engine and TRACELOGIC_ENGINE

# What running one property can need from an engine. A property needs one `scope:` and one
# `kind:` capability, plus `timed` when its automaton has time bounds and `registers` when it
# reads prev()/last(). The core names the ones it covers with these same strings.
CAPABILITIES = frozenset({
    "scope:trace", "scope:cross-trace",
    "kind:formula", "kind:conforms", "kind:saga", "kind:follows", "kind:aggregate",
    "kind:metric",
    "timed", "registers",
})

# the version of the plan/result boundary this Python side speaks (native/src/capabilities.rs)
NATIVE_ABI_VERSION = 11  # 11: violations' text as bytes; 10: aggregate windows in the core; 9: results and verbatim JSON written by the core; 8: violations' text; 7: samples as rows; 6: bounded obligations' openers; 5: packed results


class MonitorEngine:
    """One engine: its name, the capabilities it covers, its preference (lower wins)."""

    name: str = "?"
    preference: int = 100

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset()

    def available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return ""

    def describe(self) -> str:
        """One line for `monitor --verbose`: what this engine is and what it covers."""
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {sorted(self.capabilities)}>"


class PythonEngine(MonitorEngine):
    """The reference engine (engine.monitor): covers every capability."""

    name = "python"
    preference = 10

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES

    def describe(self) -> str:
        return "python: the reference engine (runs every property)"


class NativeEngine(MonitorEngine):
    """The Rust core, ``tracelogic._native``, when it imports and its boundary matches."""

    name = "native"
    preference = 0

    def _module(self) -> Any | None:
        try:
            from tracelogic import _native
        except ImportError:
            return None
        if getattr(_native, "ABI_VERSION", None) != NATIVE_ABI_VERSION:
            return None
        return _native

    def available(self) -> bool:
        return self._module() is not None

    def unavailable_reason(self) -> str:
        try:
            from tracelogic import _native
        except ImportError as e:
            return (f"the extension module tracelogic._native is not importable ({e}); it is "
                    "built by `pip install -e .`, which needs cargo (docs/native.md)")
        return (f"tracelogic._native speaks boundary version "
                f"{getattr(_native, 'ABI_VERSION', None)!r}, this tracelogic speaks "
                f"{NATIVE_ABI_VERSION}; rebuild it with `pip install -e .`")

    @property
    def capabilities(self) -> frozenset[str]:
        mod = self._module()
        if mod is None:
            return frozenset()
        # a name this side does not know is a capability it cannot route to: ignore it
        return frozenset(mod.capabilities()) & CAPABILITIES

    def describe(self) -> str:
        mod = self._module()
        if mod is None:
            return f"native: unavailable: {self.unavailable_reason()}"
        caps = ", ".join(sorted(self.capabilities)) or "no property kind yet"
        return f"native: tracelogic._native {mod.__version__} (covers {caps})"


_REGISTRY: dict[str, MonitorEngine] = {}


def register_engine(engine: MonitorEngine) -> None:
    _REGISTRY[engine.name] = engine


register_engine(PythonEngine())
register_engine(NativeEngine())


def available_engines() -> list[str]:
    """The names of the engines that can run now, preferred first."""
    return [e.name for e in sorted(_REGISTRY.values(), key=lambda e: e.preference)
            if e.available()]


def requested_engine(name: str | None = None) -> str | None:
    """The engine asked for: ``name``, else ``$TRACELOGIC_ENGINE``, else None (default)."""
    source = "engine"
    if name is None:
        name = os.environ.get(ENV_VAR) or None
        source = ENV_VAR
    if name is not None and name not in _REGISTRY:
        raise InputError(f"{source}={name!r} names no monitoring engine", value=name,
                         hint=f"choose one of {', '.join(ENGINES)}")
    return name


def get_engine(name: str | None = None) -> MonitorEngine:
    """The engine that runs properties first: the requested one (see
    :func:`requested_engine`), which must be available, or the preferred available one."""
    name = requested_engine(name)
    if name is not None:
        engine = _REGISTRY[name]
        if not engine.available():
            raise BackendUnavailable(
                f"the {name} monitoring engine is not available: {engine.unavailable_reason()}",
                value=name, hint="use --engine python (or unset TRACELOGIC_ENGINE)")
        return engine
    for engine in sorted(_REGISTRY.values(), key=lambda e: e.preference):
        if engine.available():
            return engine
    raise BackendUnavailable("no monitoring engine is available")  # pragma: no cover


def required_capabilities(cp: Any) -> frozenset[str]:
    """What running the compiled property ``cp`` needs from an engine."""
    need = {"scope:trace" if cp.prop.scope == "trace" else "scope:cross-trace",
            f"kind:{cp.prop.kind}"}
    if cp.timed:
        need.add("timed")
    if cp.n_registers:
        need.add("registers")
    return frozenset(need)


@dataclass(frozen=True)
class Assignment:
    """Which engine runs one property, and why not the first choice if it fell back."""

    property: str
    engine: str
    needs: frozenset[str]
    fallback: str | None = None  # why the selected engine did not run it

    def describe(self) -> str:
        text = f"{self.property}: {self.engine}"
        return text + (f" (fallback: {self.fallback})" if self.fallback else "")


def assign(properties: Iterable[Any], engine: str | None = None) -> dict[str, Assignment]:
    """Property name -> the engine that runs it. ``properties`` are compiled properties.

    The selected engine (:func:`get_engine`) runs each property whose needs it covers;
    the rest fall back to the Python engine, with the missing capabilities as the reason.
    """
    first = get_engine(engine)
    reference = _REGISTRY["python"]
    out: dict[str, Assignment] = {}
    for cp in properties:
        needs = required_capabilities(cp)
        missing = needs - first.capabilities
        if not missing:
            out[cp.name] = Assignment(cp.name, first.name, needs)
        else:
            out[cp.name] = Assignment(
                cp.name, reference.name, needs,
                f"the {first.name} engine does not cover {', '.join(sorted(missing))} yet")
    return out
