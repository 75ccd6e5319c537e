"""Package re-exports that import their submodule on first use (PEP 562).

Why: a package's ``__init__`` runs whenever any of its submodules is imported. When
``tracelogic/analysis/__init__.py`` re-exported every analysis, importing the light
``tracelogic.analysis.cli`` (only ``analyze``'s argument parser) imported networkx, and
with it every command paid ~0.1 s at start-up (DESIGN.md: lazy start-up). With
:func:`lazy_exports` the package keeps its public names, ``from tracelogic.analysis
import critical_path`` still works, and the submodule is imported when a name from it
is first read.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, tuple[str, ...]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    ``exports`` maps a submodule (relative, without the dot: ``"causality"``) to the
    names the package re-exports from it. The submodules themselves are attributes too,
    as they were when ``__init__`` imported them eagerly.
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in where or name in exports:
                # `analysis.critical_path` is both a module and a function: importing the
                # module by another route would set the package attribute to the module,
                # and this __getattr__ would never run. Import such a module eagerly.
                raise ValueError(f"{package}: {name!r} names two things; import the "
                                 f"module defining it eagerly")
            where[name] = module

    def __getattr__(name: str) -> Any:
        if name in exports:  # a submodule: importing it also sets it on the package
            return importlib.import_module(f"{package}.{name}")
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later reads are plain lookups
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where) | set(exports))

    return __getattr__, __dir__, sorted(where)
