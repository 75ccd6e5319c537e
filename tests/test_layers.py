"""Packages import downward only (DESIGN.md, "Package layout"; docs/architecture.md).

The whole import graph, read from the source with ``ast``: an import inside a function
(the lazy imports that keep start-up fast) counts as much as one at the top, one under
``if TYPE_CHECKING:`` does not, and a module no test imports is still checked. Packages of
one layer may import each other in one direction only. No exception is listed.

The runtime path is ingest (OTLP decoding, spans, assembly) < engine (monitors, stepping,
verdicts) < sidecar (receivers, store, server).

The sidecar drives the engine through its public API only: it reads no private
attribute of another object (``sm._heap``, ``assembler._open_spans``) and imports no
private module or name of another package. Private names stay inside their package.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import tracelogic

SRC = Path(tracelogic.__file__).resolve().parent

def modules(package: str) -> list[tuple[str, Path]]:
    paths = sorted((SRC / package).glob("*.py"))
    assert paths, f"no modules under {SRC / package}"
    return [(f"tracelogic.{package}.{p.stem}" if p.stem != "__init__"
             else f"tracelogic.{package}", p) for p in paths]


def imports(module: str, source: str) -> list[tuple[int, str]]:
    """Every module or name ``module`` imports, absolute and dotted, with its line:
    ``from a.b import c`` gives ``a.b.c`` (c may be a module or a name), relative
    imports are resolved, and ``importlib.import_module("x")`` counts as ``import x``."""
    package = module if module.count(".") == 1 else module.rsplit(".", 1)[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("import_module", "__import__")))):
            out.append((node.lineno, node.args[0].value))
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_foreign_imports(module: str, source: str) -> list[tuple[int, str]]:
    """Imports of a private module or name that lives in another tracelogic package.
    ``tracelogic._native`` is the compiled core, private by its name only: allowed."""
    own = ".".join(module.split(".")[:2])
    found = []
    for line, name in imports(module, source):
        parts = name.split(".")
        if parts[0] != "tracelogic" or name.startswith("tracelogic._native"):
            continue
        if ".".join(parts[:2]) != own and any(is_private(p) for p in parts[1:]):
            found.append((line, name))
    return found


def foreign_private_attributes(source: str) -> list[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self`` or ``cls``: reaching into another object."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and is_private(node.attr)
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.append((node.lineno, ast.unparse(node)))
    return found


# DESIGN.md's layers, lowest first. Two readings of it, both stated here:
# - each package's ``cli.py`` is that package's part of the command layer (it registers
#   subcommands in the leaf ``tracelogic.commands`` and never imports ``tracelogic.cli``,
#   which lists it by name);
# - the compiled core ``_native`` imports nothing of ours and is imported from ``ingest``
#   (its OTLP decoders) as well as ``engine`` (stepping), so it sits with ``ingest``.
LAYER_ORDER: tuple[tuple[str, ...], ...] = (
    ("errors", "commands", "lazy", "private_files", "gc_pause", "interning", "json_text",
     "sqlite_db", "byte_streams", "disk_cache", "dataclass_code"),
    ("values",),  # units, arithmetic, comparisons, MISSING: one definition
    ("spec",),
    ("logic",),
    ("semantics",),
    ("automata",),
    ("checkers", "models"),
    ("properties",),
    ("ingest", "_native"),
    ("engine",),
    ("sidecar", "healing", "analysis", "testing", "consistency"),
    ("api", "cli", "__main__", "__init__"),
)
RANK = {name: i for i, layer in enumerate(LAYER_ORDER) for name in layer}
COMMAND_LAYER = RANK["cli"]


def all_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(("tracelogic",) + parts), path))
    return out


def unit(module: str) -> str:
    """The package (or top-level module) a dotted name belongs to: ``tracelogic.engine.x``
    -> ``engine``; a name ``tracelogic`` itself exports -> ``__init__``."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in RANK:
        return "__init__"
    return parts[1]


def rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) >= 3 and parts[2] == "cli":
        return COMMAND_LAYER
    return RANK[unit(module)]


def type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines.update(n.lineno for b in node.body for n in ast.walk(b) if hasattr(n, "lineno"))
    return lines


def import_edges() -> list[tuple[str, int, str]]:
    """(module, line, imported name) for every import of our own code, but TYPE_CHECKING's."""
    edges = []
    for module, path in all_modules():
        source = path.read_text()
        skip = type_checking_lines(ast.parse(source))
        edges += [(module, line, name) for line, name in imports(module, source)
                  if line not in skip and (name == "tracelogic" or name.startswith("tracelogic."))]
    return edges


# ------------------------------------------------------------------ the checks themselves

def test_the_checker_sees_lazy_relative_and_dynamic_imports():
    src = ("import os\n"
           "from ..sidecar import store\n"
           "from . import monitor\n"
           "def f():\n"
           "    from tracelogic.sidecar.server import Sidecar\n"
           "    importlib.import_module('tracelogic.sidecar.cli')\n")
    got = [name for _, name in imports("tracelogic.engine.stream", src)]
    assert got == ["os", "tracelogic.sidecar.store", "tracelogic.engine.monitor",
                   "tracelogic.sidecar.server.Sidecar", "tracelogic.sidecar.cli"]
    assert [name for _, name in imports("tracelogic.engine", "from .monitor import M\n")] == [
        "tracelogic.engine.monitor.M"]


def test_the_checker_flags_private_reaches():
    src = ("from tracelogic.engine.stream import _Instance, StreamingMonitor\n"
           "from tracelogic import _native\n"
           "from tracelogic.sidecar._x import y\n"
           "n = sm._heap + len(self._open) + sm.assembler._open_spans + sm.__class__.x\n")
    assert private_foreign_imports("tracelogic.sidecar.server", src) == [
        (1, "tracelogic.engine.stream._Instance")]
    assert sorted(foreign_private_attributes(src)) == [(4, "sm._heap"), (4, "sm.assembler._open_spans")]


def test_the_graph_reader_ranks_command_modules_and_skips_type_checking_imports():
    assert rank("tracelogic.automata.cli") == COMMAND_LAYER > rank("tracelogic.semantics.lower")
    assert rank("tracelogic.__version__") == COMMAND_LAYER and rank("tracelogic") == COMMAND_LAYER
    src = ("from typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n"
           "    from tracelogic.engine.monitor import Monitor\n"
           "import tracelogic.spec\n")
    assert type_checking_lines(ast.parse(src)) == {3}


# ------------------------------------------------------------------ the tree

def test_every_package_has_a_layer():
    missing = sorted({unit(m) for m, _ in all_modules() if m.count(".") >= 1
                      and m.split(".")[1] not in RANK})
    assert not missing, f"put these in LAYER_ORDER (and DESIGN.md's table): {missing}"


def test_packages_import_downward_only():
    bad = [f"{module}:{line} imports {name}" for module, line, name in import_edges()
           if unit(name) != unit(module) and rank(name) > rank(module)]
    assert not bad, ("an import reaches up the layers (DESIGN.md, Package layout; "
                     "docs/architecture.md); move the code down or pass it in:\n"
                     + "\n".join(bad))


def test_packages_of_one_layer_import_each_other_one_way():
    pairs: dict[tuple[str, str], str] = {}
    for module, line, name in import_edges():
        a, b = unit(module), unit(name)
        if a != b and rank(module) == rank(name) and rank(module) != COMMAND_LAYER:
            pairs.setdefault((a, b), f"{module}:{line} imports {name}")
    both = sorted(f"{pairs[(a, b)]}  <->  {pairs[(b, a)]}" for a, b in pairs
                  if (b, a) in pairs and a < b)
    assert not both, "packages of one layer import each other both ways:\n" + "\n".join(both)


def test_the_value_semantics_are_pure_python():
    # values/ defines the language's arithmetic once for every back-end (issue 14, item 2):
    # it imports the standard library and itself only, never a solver or the core, so the
    # back-ends that cannot call it (Z3 terms, native/src/value.rs) cite it instead
    import sys

    bad = [f"{module}:{line} imports {name}" for module, path in modules("values")
           for line, name in imports(module, path.read_text())
           if name.split(".")[0] not in sys.stdlib_module_names
           and not name.startswith(("tracelogic.values.", "__future__"))]
    assert not bad, "values/ imports outside the standard library:\n" + "\n".join(bad)


def test_command_modules_never_import_the_cli():
    bad = [f"{module}:{line} imports {name}" for module, line, name in import_edges()
           if module.endswith(".cli") and module != "tracelogic.cli"
           and (name == "tracelogic.cli" or name.startswith("tracelogic.cli."))]
    assert not bad, ("tracelogic.cli lists the command modules; they register in "
                     "tracelogic.commands instead:\n" + "\n".join(bad))


def test_no_private_name_crosses_a_package():
    found = [f"{module}:{line} imports {name}"
             for module, path in all_modules()
             for line, name in private_foreign_imports(module, path.read_text())]
    assert not found, ("a private name is used outside its package; make it public in "
                       "its own package (a property, a function) first:\n" + "\n".join(found))


def test_the_sidecar_reads_no_private_attribute_of_the_engine():
    bad = [f"{module}:{line} {expr}"
           for module, path in modules("sidecar")
           for line, expr in foreign_private_attributes(path.read_text())]
    assert not bad, ("the sidecar uses the engine's public API only (issue 17); add a "
                     "property to the engine instead of reading:\n" + "\n".join(bad))


def test_runtime_monitor_is_gone_without_an_alias():
    # the split keeps no compatibility package: an old import fails loudly
    assert importlib.util.find_spec("tracelogic.runtime_monitor") is None
    assert not (SRC / "runtime_monitor").exists()


def test_every_module_the_core_imports_by_name_exists():
    # the Rust core imports Python modules by name (PyModule::import), which the graph
    # above cannot see: a renamed module must fail here, not in a rare decoder branch
    import re

    native = SRC.parents[1] / "native" / "src"
    names = sorted({m for path in native.glob("*.rs")
                    for m in re.findall(r'"(tracelogic\.[A-Za-z_.]+)"', path.read_text())})
    assert names, f"no module names found under {native}"
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    assert not missing, f"the core imports modules that do not exist: {missing}"
