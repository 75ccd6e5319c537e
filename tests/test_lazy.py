"""tracelogic.lazy: packages whose re-exports import their submodule on first use.

The oracle for every lazily exported name is the submodule that defines it: reading the
name from the package gives the very same object. Import order is checked in fresh
interpreters, where nothing has been imported yet.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

from tracelogic.lazy import lazy_exports

LAZY_PACKAGES = ("tracelogic.analysis", "tracelogic.automata", "tracelogic.healing")

# analysis's public names before it became lazy: none may go missing
ANALYSIS_ALL = {
    "AnalysisInput", "CausalityReport", "CriticalPath", "Deadlock", "Fit", "HappensBefore",
    "Hotspot", "LockInterval", "Partition", "RaceCandidate", "RootCause", "Segment",
    "ServiceGraph", "SpanEvent", "Trend", "WaitEdge", "blame_chain", "check_causality",
    "critical_path", "find_deadlocks", "find_partitions", "group_traces", "happens_before",
    "hotspots", "lock_intervals", "race_candidates", "read_inputs", "root_cause",
    "service_graph", "theil_sen", "trends", "wait_for_graph",
}


def fresh(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_exported_name_is_the_defining_modules_object(package):
    pkg = importlib.import_module(package)
    assert pkg.__all__ and len(set(pkg.__all__)) == len(pkg.__all__)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        home = getattr(value, "__module__", None)  # classes and functions know their module
        if isinstance(home, str) and home.startswith(package + "."):
            assert getattr(importlib.import_module(home), name) is value, f"{package}.{name}"
        assert name in dir(pkg)
    star: dict = {}
    exec(f"from {package} import *", star)
    assert set(star) - {"__builtins__"} == set(pkg.__all__)


def test_analysis_keeps_its_public_names():
    import tracelogic.analysis as analysis

    assert set(analysis.__all__) == ANALYSIS_ALL


def test_a_submodule_is_an_attribute_and_a_function_keeps_its_name():
    out = fresh("import tracelogic.analysis as a, types\n"
                "print(isinstance(a.causality, types.ModuleType), callable(a.critical_path),"
                " isinstance(a.critical_path, types.ModuleType))")
    assert out == "True True False"
    # importing the submodule by its own name first must not turn the name into the module
    out = fresh("import tracelogic.analysis.critical_path\n"
                "from tracelogic.analysis import critical_path\n"
                "print(callable(critical_path), type(critical_path).__name__)")
    assert out == "True function"


def test_importing_the_package_imports_no_lazy_submodule():
    out = fresh("import sys, tracelogic.analysis, tracelogic.healing, tracelogic.automata\n"
                "print(sorted(m for m in ('tracelogic.analysis.causality', "
                "'tracelogic.healing.controller', 'tracelogic.automata.construction', "
                "'networkx', 'z3') if m in sys.modules))")
    assert out == "[]"


def test_an_unknown_name_is_an_attribute_error_naming_the_package():
    import tracelogic.healing as healing

    with pytest.raises(AttributeError, match="'tracelogic.healing' has no attribute 'Nope'"):
        healing.Nope  # noqa: B018
    with pytest.raises(ImportError):
        exec("from tracelogic.healing import Nope", {})


def test_a_name_defined_twice_is_refused():
    with pytest.raises(ValueError, match="'x' names two things"):
        lazy_exports("pkg", {"a": ("x",), "b": ("x",)})
    with pytest.raises(ValueError, match="'b' names two things"):
        lazy_exports("pkg", {"a": ("b",), "b": ("y",)})


def test_a_lazy_name_is_cached_on_the_package():
    mod = types.ModuleType("tl_lazy_probe")
    sys.modules["tl_lazy_probe"] = mod
    sys.modules["tl_lazy_probe.sub"] = sub = types.ModuleType("tl_lazy_probe.sub")
    sub.value = object()
    try:
        mod.__getattr__, mod.__dir__, mod.__all__ = lazy_exports("tl_lazy_probe",
                                                                 {"sub": ("value",)})
        assert mod.value is sub.value
        assert vars(mod)["value"] is sub.value  # the next read is a plain lookup
        assert mod.__all__ == ["value"] and "value" in dir(mod) and "sub" in dir(mod)
    finally:
        del sys.modules["tl_lazy_probe"], sys.modules["tl_lazy_probe.sub"]
