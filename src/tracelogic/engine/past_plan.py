"""The past stage as plan data for the native core, and ValuationMonitor's native path.

A :class:`~tracelogic.automata.past.PastStage` computes pure-past formulas per event:
layers of Moore machines whose outputs feed metric *since units* (timestamp registers),
then a top Moore machine (see its module docstring). :func:`past_document` writes it as
plain data that ``native/src/past.rs`` (``PastPlan``) reads and steps exactly as
``PastStage.step`` does:

* per Moore machine its minimal DFA: ``width`` (mask bits), ``initial``, ``letters``,
  ``delta`` (row *s*: the successor for each letter) and ``output`` (bit *j*: output *j*);
  the core builds the same dense tables the Python stage holds, with the same sink for
  masks outside the letters;
* per layer its units in order, each ``lo``, ``hi`` (None: unbounded), ``negate`` (a
  ``T[lo,hi]``, computed as ``!(!a S !b)``) and ``pos`` (its bit); unit *j* reads bits
  ``2j`` and ``2j+1`` of its layer's output. A bound that does not fit an int64 is written
  as its decimal digits (the core reads it exactly; none is ever rounded).

:class:`NativeValuation` is the native path of a :class:`ValuationMonitor`: a batch API
(columns in, valuations out) and a streaming one (one row per call), both with the atoms
evaluated in the core. Its atoms are the minimal *column* form: the atom with key ``"p"``
holds at a row whose column ``p`` is true. That is what the Timescales patterns (and
``Monitor.valuations`` comparisons with other monitors) read; the span atom program
(:mod:`tracelogic.semantics.atoms`) reads spans, not rows. It lives here, not on the automata-layer
class, because the automata layer sits below the engine and does not import it.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracelogic.errors import BackendUnavailable, InputError
from tracelogic.errors import UnsupportedFormula

if TYPE_CHECKING:
    from tracelogic.automata.monitor import ValuationMonitor
    from tracelogic.automata.past import MooreTable, PastStage

__all__ = ["PAST_VERSION", "MAX_WIDTH", "past_document", "valuation_columns",
           "NativeValuation"]

PAST_VERSION = 1  # the document format (PAST_VERSION in native/src/past.rs)
MAX_WIDTH = 20  # mask bits of the widest Moore table the core builds (MAX_WIDTH in past.rs)
MAX_OUTPUTS = 64  # the core's outputs are one machine word
_INT64_MAX = (1 << 63) - 1


def _moore(table: MooreTable) -> dict[str, Any]:
    dfa = table.dfa
    return {"width": table.width, "initial": dfa.initial, "letters": list(dfa.letters),
            "delta": [list(row) for row in dfa.delta], "output": [int(o) for o in dfa.output]}


def _bound(b: int) -> int | str:
    # JSON numbers above int64 would reach the core as floats; digits stay exact
    return b if b <= _INT64_MAX else str(b)


def past_document(stage: PastStage) -> dict[str, Any] | str:
    """The plan document of a PastStage (JSON-serialisable), or why it cannot be one."""
    widest = max([stage.top.width, *(t.width for t, _ in stage.layers)])
    if widest > MAX_WIDTH:
        return (f"the past stage reads {widest} atoms and timed bits; the core's dense "
                f"tables take at most {MAX_WIDTH}")
    if len(stage.outputs) > MAX_OUTPUTS or stage.n_atoms > MAX_OUTPUTS:
        return f"more than {MAX_OUTPUTS} atoms or outputs in one past stage"
    layers = []
    for table, units in stage.layers:
        layers.append({"table": _moore(table),
                       "units": [{"lo": _bound(u.lo),
                                  "hi": None if u.hi is None else _bound(u.hi),
                                  "negate": bool(u.negate), "pos": u.pos} for u in units]})
    return {"version": PAST_VERSION, "n_atoms": stage.n_atoms,
            "n_outputs": len(stage.outputs), "layers": layers, "top": _moore(stage.top)}


def valuation_columns(mon: ValuationMonitor) -> list[str] | str:
    """The column each atom of ``mon`` reads (its key), or why its atoms are not columns."""
    if mon.alphabet.pruned:
        return ("the alphabet was pruned with Z3: a row the encoding calls impossible must "
                "be refused, which the core's column atoms do not check")
    bad = [a for a in mon.atoms if not isinstance(a, str)]
    if bad:
        return f"the atom {bad[0]!r} is not a column name (a str)"
    return list(mon.atoms)


def _core() -> Any:
    from tracelogic.engine.registry import NativeEngine

    engine = NativeEngine()
    if not engine.available():
        raise BackendUnavailable(engine.unavailable_reason(), value="native")
    from tracelogic import _native

    if not hasattr(_native, "PastMonitor"):
        raise BackendUnavailable("the built core has no past stage (PastMonitor); rebuild it "
                                 "with `pip install -e .`", value="native")
    return _native


class NativeValuation:
    """The per-event truth of a pure-past formula, computed by the core from columns.

    ``values(times, columns)`` evaluates a whole trace (batch); :meth:`stream` gives a
    core object whose ``step(t, row)`` takes one row at a time. ``times`` are ns,
    non-decreasing; a column is a buffer (bytes, ``array.array``, a numpy array of ints or
    floats) or a sequence of values read with Python's truth test, as Reelay reads
    ``bool(v)``. Results equal ``ValuationMonitor.values`` on the masks those rows give.
    """

    def __init__(self, mon: ValuationMonitor) -> None:
        cols = valuation_columns(mon)
        doc = past_document(mon.stage)
        for reason in (cols, doc):
            if isinstance(reason, str):
                raise UnsupportedFormula(f"the core cannot run {mon.formula}: {reason}",
                                         value=mon.formula)
        self.monitor = mon
        self.columns: tuple[str, ...] = tuple(cols)  # type: ignore[arg-type]
        self._native = _core()
        self._document = json.dumps(doc, separators=(",", ":"))
        self._batch = self.stream()

    def __repr__(self) -> str:
        return f"NativeValuation({self.monitor!r})"

    def stream(self) -> Any:
        """A fresh streaming monitor: ``step(t, row) -> bool`` with ``row`` a dict by column
        name or a tuple in the order of :attr:`columns`; ``step_mask(mask, t)``, ``reset()``.
        It raises ``ValueError`` for a decreasing time or a missing column."""
        return self._native.PastMonitor(self._document, list(self.columns))

    def values(self, times: Sequence[int] | Any,
               columns: Mapping[str, Any] | Sequence[Any]) -> bytes:
        """The formula's value (0/1 bytes) at every row: ``columns`` by name (unused keys
        are ignored) or in the order of :attr:`columns`."""
        try:
            return self._batch.values(times, columns)
        except ValueError as e:
            raise InputError(str(e), value=None) from e
