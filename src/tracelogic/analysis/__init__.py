"""Trace analyses on networkx: critical path and hotspots, happens-before and its checks,
wait-for cycles (deadlocks), race candidates, network partitions, metric trends, the
service dependency graph and root-cause ranking. See docs/analysis.md; ``tracelogic
analyze`` runs them.

Every analysis takes tracelogic :class:`~tracelogic.ingest.spans.Span` objects
(or an :class:`AnalysisInput`, which also holds span-event details and metric points).
"""
from __future__ import annotations

from ._input import AnalysisInput, SpanEvent, group_traces, read_inputs
from .causality import CausalityReport, HappensBefore, check_causality, happens_before
from .critical_path import CriticalPath, Hotspot, Segment, critical_path, hotspots
from .locks import (Deadlock, LockInterval, WaitEdge, find_deadlocks, lock_intervals,
                    wait_for_graph)
from .partitions import Partition, find_partitions
from .races import RaceCandidate, race_candidates
from .services import RootCause, ServiceGraph, blame_chain, root_cause, service_graph
from .trend import Fit, Trend, theil_sen, trends

__all__ = [
    "AnalysisInput", "CausalityReport", "CriticalPath", "Deadlock", "Fit", "HappensBefore",
    "Hotspot", "LockInterval", "Partition", "RaceCandidate", "RootCause", "Segment",
    "ServiceGraph", "SpanEvent", "Trend", "WaitEdge", "blame_chain", "check_causality",
    "critical_path", "find_deadlocks", "find_partitions", "group_traces", "happens_before",
    "hotspots", "lock_intervals", "race_candidates", "read_inputs", "root_cause",
    "service_graph", "theil_sen", "trends", "wait_for_graph",
]
