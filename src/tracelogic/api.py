"""The facade: ``tracelogic.load`` returns an :class:`Spec` that can check and monitor itself.

Why a separate class: the typed spec (:class:`tracelogic.spec.typed.Spec`) is the one IR
every back-end reads, and ``spec`` sits below the checkers and the engine, so it must not
import them (tests/test_layers.py). This module sits above everything; its ``Spec`` is the
typed spec (a subclass, so every back-end still takes it) with the two entry points users
call: :meth:`Spec.check` and :meth:`Spec.monitor`.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from tracelogic.errors import InputError
from tracelogic.spec import typed

# Every module that registers static checks, in the order their results are reported: the
# checkers' own, then healing's policy checks, then routing.
CHECK_MODULES: tuple[str, ...] = (
    "tracelogic.checkers.config",
    "tracelogic.checkers.theorems",
    "tracelogic.checkers.workflows",
    "tracelogic.checkers.models",
    "tracelogic.checkers.control",
    "tracelogic.healing.policy_checks",
    "tracelogic.checkers.routing",
    "tracelogic.consistency.checks",
)


class Spec(typed.Spec):
    """A loaded spec: the typed spec, plus :meth:`check` and :meth:`monitor`."""

    @classmethod
    def of(cls, spec: typed.Spec) -> "Spec":
        """The facade over a typed spec (itself when it already is one)."""
        if isinstance(spec, cls):
            return spec
        return cls(**{f.name: getattr(spec, f.name) for f in fields(spec)})

    def check(self, *, overrides: Mapping[str, str] | None = None, timeout: float = 10.0,
              store: str | None = None, state_bound: int | None = None,
              engine: str = "auto"):
        """Run every static check (configs, theorems, workflows, models, policies, routing)
        and return the :class:`~tracelogic.checkers.report.CheckReport`. The options are
        :func:`check`'s."""
        return check(self, overrides=overrides, timeout=timeout, store=store,
                     state_bound=state_bound, engine=engine)

    def monitor(self, **options: Any):
        """A :class:`~tracelogic.engine.monitor.Monitor` for this spec's runtime properties."""
        from tracelogic.engine.monitor import Monitor

        return Monitor(self, **options)


def check(spec: typed.Spec, report: Any = None, *, overrides: Mapping[str, str] | None = None,
          timeout: float = 10.0, store: str | None = None, state_bound: int | None = None,
          engine: str = "auto"):
    """Every static check of ``spec``, into ``report`` (a new one by default).

    ``overrides`` maps a config's name to the file to check instead of the one the spec
    names; ``timeout`` is the solver's, in seconds per check; ``store`` a SQLite store
    whose audit trail std.healing is checked over; ``state_bound`` and ``engine`` (one of
    ``auto explicit kind pdr nusmv``) are the model checks'. A wrong value raises
    :class:`~tracelogic.errors.InputError` naming it (``timeout=-1``)."""
    from tracelogic.checkers.report import CheckReport, run_checks
    from tracelogic.models.engines import get_engine

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InputError(f"timeout={timeout!r}: expected a positive number of seconds")
    if state_bound is not None and (isinstance(state_bound, bool)
                                    or not isinstance(state_bound, int) or state_bound < 1):
        raise InputError(f"state_bound={state_bound!r}: expected None or an int >= 1")
    get_engine(engine)  # an unknown one is an InputError naming the choices
    if overrides is not None and not (isinstance(overrides, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in overrides.items())):
        raise InputError(f"overrides={overrides!r}: expected a mapping of config names to "
                         f"file paths, e.g. overrides={{'deploy': 'prod.yaml'}}")
    if report is None:
        report = CheckReport(files=[spec.file], diagnostics=list(spec.warnings))
    run_checks(spec, report, modules=CHECK_MODULES, overrides=dict(overrides or {}),
               timeout=timeout, store=store, state_bound=state_bound, engine=engine)
    return report


def load(path_or_text: str, *, filename: str | None = None, spec_path: Any = ()) -> Spec:
    """Parse, resolve and type-check a spec; raise :class:`~tracelogic.errors.SpecError`
    listing every problem.

    Imports read ``.spec`` files under the spec's own directory (the working directory
    for text) and under ``spec_path``: one directory or several."""
    from tracelogic.spec.loader import load as load_typed

    return Spec.of(load_typed(path_or_text, filename=filename, spec_path=spec_path))
