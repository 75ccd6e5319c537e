"""Specification mining: propose the properties and the workflow every healthy trace satisfies.

``tracelogic mine TRACES...`` (docs/mining.md) reads OTLP files of healthy runs and writes a
`.spec` file, ready for ``tracelogic check`` and ``tracelogic monitor``, whose comments give
the evidence for each property. Mining proposes; the user accepts. Run ``monitor`` with the
mined spec on the traces of a faulty run to see which of the healthy behaviours it breaks.

What is mined (each module's docstring has the details and the literature):

- :mod:`.patterns`: Dwyer patterns between operations (response, precedence, bounded
  response with a learned duration, latency, existence, absence of failures), per trace;
- :mod:`.invariants`: attribute ranges and enums per operation, metric ranges;
- :mod:`.exclusion`: operations that never overlap for one attribute value, across traces;
- :mod:`.workflow`: a §6 workflow that accepts every trace.

Every count is made on the §3 event order the monitor uses, so a property mined with
confidence 1 holds on the data it was mined from. The output depends only on the set of
spans and points, never on the order of the input files (everything is sorted).
"""
from __future__ import annotations

from .model import MineOptions, Mined
from .render import MinedSpec, mine

__all__ = ["MineOptions", "Mined", "MinedSpec", "mine"]
