"""Which properties the core runs: the sets issue 17 names must run with zero fallbacks.

Steps 3 and 4 run temporal properties, untimed or with time bounds (timed ones with past
operators not yet), with or without `prev`/`last` registers, and aggregate properties (the
core samples, Python aggregates), per trace and across traces (`per attr[...]`, `per
service`, `global`). For every spec below,
each property of that class must run natively (no atom may push it back to Python), and
every other property must fall back with the plan's reason, which names the step that
brings it to the core. When a later step moves a class to the core, these assertions follow
`property_reason` and expect it native.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.plan import property_reason
from tracelogic.testing.stream_workload import bench_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SPECS = sorted(p for p in (ROOT / "examples").rglob("*.spec"))


def bench_monitor_spec() -> str:
    """bench/bench_monitor.py's SPEC, read without importing the benchmark."""
    tree = ast.parse((ROOT / "bench" / "bench_monitor.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SPEC":
            return ast.literal_eval(node.value)
    raise AssertionError("bench_monitor.py has no SPEC")


def assert_no_atom_fallbacks(mon: Monitor) -> list[str]:
    native = []
    for cp in mon.compiled.properties:
        a = mon.engine_plan[cp.name]
        why = property_reason(cp)
        if why is None:
            assert (a.engine, a.fallback) == ("native", None), a
            native.append(cp.name)
        else:  # the registry (a capability the core lacks) or the plan says why
            assert a.engine == "python" and a.fallback, a
            assert a.fallback == why or "does not cover" in a.fallback, a
    return native


def test_bench_monitor_properties(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    mon = Monitor(tracelogic.load(bench_monitor_spec()))
    native = assert_no_atom_fallbacks(mon)
    assert sorted(native) == ["answered", "audited", "auth_before_charge",
                              "authorized_in_time", "db_latency", "fast_queries",
                              "no_double_charge", "no_error", "replied", "rows_monotone"]


def test_bench_serve_properties(monkeypatch):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    mon = Monitor(tracelogic.load(bench_spec(20)))
    native = assert_no_atom_fallbacks(mon)
    assert len(native) >= 10, native


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_properties(monkeypatch, path):
    monkeypatch.delenv("TRACELOGIC_ENGINE", raising=False)
    try:
        spec = tracelogic.load(str(path))
    except tracelogic.errors.TracelogicError:
        pytest.fail(f"{path} does not load")
    assert_no_atom_fallbacks(Monitor(spec))
