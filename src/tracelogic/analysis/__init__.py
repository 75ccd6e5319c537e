"""Trace analyses on networkx: critical path and hotspots, happens-before and its checks,
wait-for cycles (deadlocks), race candidates, network partitions, metric trends, the
service dependency graph and root-cause ranking. See docs/analysis.md; ``tracelogic
analyze`` runs them.

Every analysis takes tracelogic :class:`~tracelogic.ingest.spans.Span` objects
(or an :class:`AnalysisInput`, which also holds span-event details and metric points).

The names below are imported on first use (tracelogic.lazy), so that importing
``tracelogic.analysis.cli`` to build the command line does not import networkx.
"""
from __future__ import annotations

from tracelogic.lazy import lazy_exports

# `critical_path` is both a submodule and its function; the module is light (no networkx),
# so it is imported eagerly and the package attribute is the function, as it always was.
from .critical_path import CriticalPath, Hotspot, Segment, critical_path, hotspots

__getattr__, __dir__, _lazy_all = lazy_exports(__name__, {
    "_input": ("AnalysisInput", "SpanEvent", "group_traces", "read_inputs"),
    "causality": ("CausalityReport", "HappensBefore", "check_causality", "happens_before"),
    "locks": ("Deadlock", "LockInterval", "WaitEdge", "find_deadlocks", "lock_intervals",
              "wait_for_graph"),
    "partitions": ("Partition", "find_partitions"),
    "races": ("RaceCandidate", "race_candidates"),
    "services": ("RootCause", "ServiceGraph", "blame_chain", "root_cause", "service_graph"),
    "trend": ("Fit", "Trend", "theil_sen", "trends"),
})

__all__ = sorted([*_lazy_all, "CriticalPath", "Hotspot", "Segment", "critical_path",
                  "hotspots"])
