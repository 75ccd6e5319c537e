"""Automata backends behind one small interface, chosen by a registry (pysmt style).

* ``native`` (default, always available): LTLf + past + metric, Z3 alphabet
  pruning, export.
* ``spot``: future-only untimed LTLf through Spot's ``from_ltlf`` ->
  ``translate`` -> ``to_finite``; available only when ``import spot`` works.

``get_backend(name=None, require=())`` returns the preferred available
backend that declares every required capability; asking for a backend that
is not importable raises :class:`~tracelogic.errors.BackendUnavailable`
naming the capability.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from tracelogic.errors import BackendUnavailable, InputError
from tracelogic.logic.formula import Formula

__all__ = ["AutomataBackend", "NativeBackend", "SpotBackend", "register_backend", "get_backend",
           "available_backends", "CAPABILITIES"]

CAPABILITIES = frozenset({"ltlf", "past", "metric", "alphabet-pruning", "export"})


class AutomataBackend:
    name: str = "?"
    capabilities: frozenset[str] = frozenset()
    preference: int = 100  # lower is preferred

    def available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return ""

    def translate(self, formula: Formula, *, atoms: Sequence[Hashable] | None = None,
                  encode: Callable[[Hashable], Any] | None = None):  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {sorted(self.capabilities)}>"


class NativeBackend(AutomataBackend):
    name = "native"
    capabilities = CAPABILITIES
    preference = 0

    def translate(self, formula, *, atoms=None, encode=None):
        from tracelogic.automata.construction import translate
        return translate(formula, atoms=atoms, encode=encode)


class SpotBackend(AutomataBackend):
    """Spot's LTLf -> DFA (future-only, untimed).  Used as a cross-check."""

    name = "spot"
    capabilities = frozenset({"ltlf", "export"})
    preference = 10

    def available(self) -> bool:
        try:
            import spot  # noqa: F401
        except ImportError:
            return False
        return True

    def unavailable_reason(self) -> str:
        return "the Python module 'spot' is not importable (install Spot with its Python bindings)"

    def translate(self, formula, *, atoms=None, encode=None):
        if not self.available():
            raise BackendUnavailable(
                "the 'spot' backend cannot translate LTLf to a DFA: " + self.unavailable_reason(),
                value="spot", hint="use backend='native'")
        import spot

        from tracelogic.automata.alphabet import Alphabet
        from tracelogic.automata.dfa import DFA, minimize
        from tracelogic.automata.hoa import parse_hoa
        from tracelogic.automata.construction import Automaton, _alphabet
        from tracelogic.logic.printers import to_spot

        alph: Alphabet = _alphabet(formula, atoms, encode)
        if alph.symbolic:  # the cross-check lists every letter
            from tracelogic.automata.guarded import explicit_only

            raise explicit_only(formula, alph, "the spot backend's letter-by-letter import")
        names = {a: f"a{i}" for i, a in enumerate(alph.atoms)}
        text = to_spot(formula, names)
        ltl = spot.from_ltlf(spot.formula(text), "alive")
        aut = spot.translate(ltl, "deterministic", "sbacc")
        fin = spot.to_finite(aut, "alive")
        hoa = parse_hoa(fin.to_str("hoa"))
        # map Spot's AP order onto ours
        pos = {nm: i for i, nm in enumerate(hoa.aps)}
        perm = [pos.get(f"a{i}") for i in range(alph.n)]

        def spot_val(mask: int) -> int:
            v = 0
            for i, j in enumerate(perm):
                if j is not None and (mask >> i) & 1:
                    v |= 1 << j
            return v

        # subset construction over our letters (Spot's automaton may be incomplete)
        start = frozenset(s for group in hoa.start for s in group)
        accepting_states = {s.id for s in hoa.states.values() if 0 in s.acc}
        ids = {start: 0}
        keys = [start]
        delta = []
        i = 0
        while i < len(keys):
            cur = keys[i]
            row = []
            for m in alph.letters:
                v = spot_val(m)
                nxt = set()
                for s in cur:
                    for e in hoa.states[s].edges:
                        if e.label is None or e.label(v):
                            nxt.update(e.dst)
                key = frozenset(nxt)
                if key not in ids:
                    ids[key] = len(keys)
                    keys.append(key)
                row.append(ids[key])
            delta.append(row)
            i += 1
        output = [bool(k & accepting_states) for k in keys]
        output[0] = formula.empty_value  # Spot's LTLf excludes the empty word
        return Automaton(formula, alph, minimize(DFA(alph.letters, delta, 0, output, alph.n)))


_REGISTRY: dict[str, AutomataBackend] = {}


def register_backend(backend: AutomataBackend) -> None:
    _REGISTRY[backend.name] = backend


register_backend(NativeBackend())
register_backend(SpotBackend())


def available_backends() -> list[str]:
    return [b.name for b in sorted(_REGISTRY.values(), key=lambda b: b.preference)
            if b.available()]


def get_backend(name: str | None = None, require: Iterable[str] = ()) -> AutomataBackend:
    """The named backend, or the preferred available one with every required capability."""
    need = frozenset(require)
    unknown = need - CAPABILITIES
    if unknown:
        raise InputError(f"unknown automata capabilities {sorted(unknown)}", value=sorted(unknown),
                         hint=f"capabilities are {sorted(CAPABILITIES)}")
    if name is not None:
        be = _REGISTRY.get(name)
        if be is None:
            raise InputError(f"unknown automata backend {name!r}", value=name,
                             hint=f"choose one of {sorted(_REGISTRY)}")
        if not be.available():
            raise BackendUnavailable(
                f"the automata backend {name!r} is not available for capability "
                f"{'/'.join(sorted(need or be.capabilities))}: {be.unavailable_reason()}",
                value=name, hint="use --backend native")
        missing = need - be.capabilities
        if missing:
            raise BackendUnavailable(
                f"the automata backend {name!r} does not support {sorted(missing)}",
                value=name, hint="use --backend native")
        return be
    for be in sorted(_REGISTRY.values(), key=lambda b: b.preference):
        if need <= be.capabilities and be.available():
            return be
    raise BackendUnavailable(f"no available automata backend supports {sorted(need)}",
                             value=sorted(need))
