"""One exception root: every public exception class of tracelogic derives from
``TracelogicError`` (and, for its leaves, a fitting builtin), as Hypothesis does.

Private classes (a leading underscore) are control flow inside one module and never
reach a caller. The classes are found by importing every module, so a new one that
forgets the root fails here.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import tracelogic
from tracelogic.errors import TracelogicError


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(tracelogic.__path__, "tracelogic."):
        if info.name.endswith("__main__"):  # running it is the command itself
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__ and not name.startswith("_")):
                found.append(obj)
    return found


def test_every_public_exception_derives_from_the_root() -> None:
    classes = _exception_classes()
    assert TracelogicError in classes and len(classes) > 10
    stray = [f"{c.__module__}.{c.__qualname__}" for c in classes
             if not issubclass(c, TracelogicError)]
    assert not stray, f"exceptions outside the TracelogicError root: {stray}"


def test_every_leaf_also_subclasses_a_builtin() -> None:
    for c in _exception_classes():
        if c is TracelogicError:
            continue
        builtins = [b for b in c.__mro__ if b.__module__ == "builtins"
                    and b not in (Exception, BaseException, object)]
        assert builtins, f"{c.__module__}.{c.__qualname__} subclasses no fitting builtin"


def test_each_exception_class_is_defined_once() -> None:
    # two unrelated classes of one name (there were two UnsupportedFormula) make
    # `except` clauses catch one and miss the other
    by_name: dict[str, list[str]] = {}
    for c in _exception_classes():
        by_name.setdefault(c.__qualname__, []).append(c.__module__)
    twice = {name: mods for name, mods in by_name.items() if len(mods) > 1}
    assert not twice, f"exception classes defined more than once: {twice}"
