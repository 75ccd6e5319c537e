"""Load a spec: read files, follow imports, and check each file once.

Imports are resolved relative to the importing file, then in each directory of
the spec path; ``std.NAME`` comes from the package's ``properties/`` folder. One
file reached through several paths (a diamond) is loaded once; a cycle is an
error that shows the whole cycle.

A spec's text is untrusted (it may come from a pull request, or a spec given as
text), so an import reads only ``.spec`` files, and only under the directory of
the spec being loaded (the working directory for a spec given as text), the
importing file's directory, or a directory of the spec path that the user named
(``--spec-path``, ``spec_path=``). Containment is checked on real paths, so a
symbolic link cannot lead out. A refused file is never opened, so no diagnostic
can show its content (``import "/proc/self/environ"`` once did).
"""
from __future__ import annotations

import os
import re
from importlib import resources
from typing import Iterable, Union

from tracelogic.errors import SourceSpan
from tracelogic.spec import ast as A
from tracelogic.spec.checker import Checker
from tracelogic.spec.diagnostics import Diagnostic, SpecErrors
from tracelogic.gc_pause import gc_paused
from tracelogic.spec.parsed import parse_module_partial  # the parser itself only on a cache miss
from tracelogic.spec.typed import Spec

SPEC_SUFFIX = ".spec"


def spec_path_hint(directory: str) -> str:
    """How to let imports read under ``directory``, in each place a spec is loaded."""
    return (f"to allow it, add --spec-path {directory} (or spec_path= in tracelogic.load, or "
            "the tracelogic_spec_path option in pytest's ini file)")


def std_path(name: str) -> str | None:
    """The file of `std.NAME`, or None when the standard library has no such module."""
    ref = resources.files("tracelogic.properties").joinpath(f"{name}.spec")
    return str(ref) if ref.is_file() else None


def spec_file(path: str) -> str | None:
    """The file a command line's SPEC names: ``path`` itself, or for ``std.NAME`` when no
    such file exists, the standard library's module (None when it has no such module)."""
    std = re.fullmatch(r"std\.([A-Za-z_]\w*)", path)
    if std is None or os.path.exists(path):
        return path
    return std_path(std.group(1))


def std_modules() -> list[str]:
    root = resources.files("tracelogic.properties")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".spec"))


# One directory, or several; None or () for none.
SpecPath = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]], None]


def spec_path_dirs(spec_path: SpecPath) -> tuple[str, ...]:
    """The directories of a spec path: one directory, or an iterable of them (None: none)."""
    if spec_path is None:
        return ()
    if isinstance(spec_path, (str, os.PathLike)):
        spec_path = [spec_path]
    return tuple(os.fspath(d) for d in spec_path)


def _within(real: str, root: str) -> bool:
    """Whether the real path ``real`` is ``root`` or lies under it (both absolute)."""
    try:
        return os.path.commonpath([real, root]) == root
    except ValueError:  # different drives
        return False


class Loader:
    """Loads a root spec and everything it imports, collecting every diagnostic.

    ``spec_path``: directories whose ``.spec`` files imports may read, besides the
    root spec's directory (see the module docstring)."""

    def __init__(self, spec_path: SpecPath = ()) -> None:
        self.specs: dict[str, Spec | None] = {}  # realpath -> Spec (None: failed)
        self.sources: dict[str, str] = {}
        self.diags: list[Diagnostic] = []
        self._stack: list[str] = []
        self.spec_path = spec_path_dirs(spec_path)
        self._roots: list[str] = []  # real paths imports may read under
        for d in self.spec_path:
            if os.path.isdir(d):
                self._roots.append(os.path.realpath(d))
            else:
                self.diags.append(Diagnostic(
                    "error", f"spec path `{d}` is not a directory", None,
                    "--spec-path and spec_path= name directories whose .spec files imports "
                    "may read"))

    def load_text(self, text: str, file: str, base_dir: str) -> Spec | None:
        """Load a root spec: imports may read under ``base_dir`` and the spec path."""
        root = os.path.realpath(base_dir)
        if root not in self._roots:
            self._roots.insert(0, root)
        with gc_paused():
            return self._load_text(text, file, base_dir)

    def _load_text(self, text: str, file: str, base_dir: str) -> Spec | None:
        text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the spec
        self.sources[file] = text
        module, errors, broken = parse_module_partial(text, file)
        self.diags.extend(errors)
        imports: dict[str, Spec] = {}
        for decl in module.decls:
            if isinstance(decl, A.Import):
                self._import(decl, base_dir, imports)
        # Declarations that parsed are still checked when others did not, so that one
        # run reports every independent error.
        checker = Checker(module, text, imports, base_dir, broken=broken)
        spec = checker.run()
        self.diags.extend(checker.diags)
        return None if errors else spec

    def load_file(self, path: str, display: str | None = None) -> Spec | None:
        """Load an imported file. OSError and UnicodeDecodeError reach the caller, which
        reports them at the import that names the file (never with the file's content)."""
        real = os.path.realpath(path)
        if real in self.specs:
            return self.specs[real]
        with open(real, encoding="utf-8") as f:  # the checked file, not a link swapped since
            text = f.read()
        self._stack.append(real)
        spec = self._load_text(text, display or path, os.path.dirname(os.path.abspath(path)))
        self._stack.pop()
        self.specs[real] = spec
        return spec

    def _import(self, decl: A.Import, base_dir: str, imports: dict[str, Spec]) -> None:
        if decl.module is not None:
            if decl.module[0] != "std" or len(decl.module) != 2:
                self.diags.append(Diagnostic(
                    "error", f"cannot import `{'.'.join(decl.module)}`", decl.span,
                    'import a file with `import "path.spec"`, or the standard library with '
                    "`import std.NAME`"))
                return
            path = std_path(decl.module[1])
            alias = decl.alias or decl.module[1]
            if path is None:
                from tracelogic.spec.diagnostics import did_you_mean

                mods = std_modules()
                self.diags.append(Diagnostic(
                    "error", f"the standard library has no module `{decl.module[1]}`", decl.span,
                    did_you_mean(decl.module[1], mods) or f"available: {', '.join(mods)}"))
                return
            display = f"std/{decl.module[1]}.spec"
        else:
            stem = os.path.splitext(os.path.basename(decl.path))[0]
            alias = decl.alias or stem
            path = self._find_import(decl, base_dir)
            if path is None:
                return
            display = os.path.relpath(path) if not os.path.isabs(decl.path) else path
            if not alias.isidentifier():
                self.diags.append(Diagnostic(
                    "error", f"`{stem}` is not a valid name for the import", decl.span,
                    f'add an alias: import "{decl.path}" as NAME'))
                return
        real = os.path.realpath(path)
        if real in self._stack:
            cycle = self._stack[self._stack.index(real):] + [real]
            shown = " -> ".join(os.path.basename(p) for p in cycle)
            self.diags.append(Diagnostic("error", f"import cycle: {shown}", decl.span,
                                         "move the shared declarations into a third file"))
            return
        if alias in imports:
            self.diags.append(Diagnostic("error", f"two imports use the name `{alias}`",
                                         decl.span, "give one of them an alias with `as`"))
            return
        try:
            spec = self.load_file(path, display)
        except UnicodeDecodeError as e:  # name the imported file, never show its bytes
            self.diags.append(Diagnostic(
                "error", f"imported file `{decl.path}` is not UTF-8 text (byte {e.start} of "
                f"{display})", decl.span, "save it as UTF-8"))
            return
        except OSError as e:
            self.diags.append(Diagnostic(
                "error", f"cannot read imported file `{decl.path}`: {e.strerror}", decl.span,
                f"looked at {path}"))
            return
        if spec is not None:
            imports[alias] = spec

    def _find_import(self, decl: A.Import, base_dir: str) -> str | None:
        """The file an ``import "PATH"`` may read, or None after a diagnostic.

        Refusals come before any read, so a refused file's content is never shown."""
        if not decl.path.endswith(SPEC_SUFFIX):
            self.diags.append(Diagnostic(
                "error", f"cannot import `{decl.path}`: imports read only `.spec` files",
                decl.span, "import a spec file (NAME.spec); tracelogic does not open other "
                "files named in an import"))
            return None
        if os.path.isabs(decl.path):
            candidates = [decl.path]
        else:
            candidates = [os.path.join(base_dir, decl.path)] + [
                os.path.join(d, decl.path) for d in self.spec_path]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            self.diags.append(Diagnostic(
                "error", f"imported file `{decl.path}` not found", decl.span,
                "looked for " + ", ".join(candidates)))
            return None
        real = os.path.realpath(path)
        linked = real != os.path.abspath(path)
        if not real.endswith(SPEC_SUFFIX):
            self.diags.append(Diagnostic(
                "error", f"cannot import `{decl.path}`: it resolves to `{real}`, which is not "
                "a `.spec` file", decl.span, "imports read only `.spec` files"))
            return None
        roots = [os.path.realpath(base_dir)] + self._roots
        if not any(_within(real, r) for r in roots):
            where = f"resolves to `{real}`, " if linked else "is "
            self.diags.append(Diagnostic(
                "error", f"cannot import `{decl.path}`: it {where}outside the directories "
                "imports may read", decl.span,
                f"imports read under {', '.join(dict.fromkeys(roots))}; "
                + spec_path_hint(os.path.dirname(real))))
            return None
        return path

    def fail_if_errors(self) -> None:
        errors = [d for d in self.diags if d.severity == "error"]
        if errors:
            raise SpecErrors(sort_diagnostics(self.diags), self.sources)


def load(path_or_text: str, *, filename: str | None = None, spec_path: SpecPath = ()) -> Spec:
    """Load a spec from a path or from text; raise :class:`SpecErrors` listing every error.

    ``spec_path``: a directory, or several, whose ``.spec`` files imports may read
    besides the spec's own directory (the working directory for text).

    Every pass is iterative, so input of any depth the parser accepts (docs/language.md,
    "Limits") loads with Python's default stack and recursion limit."""
    loader = Loader(spec_path)
    looks_like_path = "\n" not in path_or_text and path_or_text.endswith(".spec")
    if looks_like_path or (filename is None and os.path.isfile(path_or_text)):
        if not os.path.isfile(path_or_text):
            span = SourceSpan(path_or_text, 0, 0, 0, 0)
            raise SpecErrors([Diagnostic("error", f"spec file `{path_or_text}` not found", span)])
        real = os.path.realpath(path_or_text)
        loader._stack.append(real)
        try:
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            why = "is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else \
                f"cannot be read: {e.strerror}"
            span = SourceSpan(path_or_text, 0, 0, 0, 0)
            raise SpecErrors([Diagnostic("error", f"spec file `{path_or_text}` {why}",
                                         span)]) from None
        spec = loader.load_text(text, path_or_text, os.path.dirname(os.path.abspath(path_or_text)))
        loader._stack.pop()
    else:
        spec = loader.load_text(path_or_text, filename or "<spec>", os.getcwd())
    loader.fail_if_errors()
    assert spec is not None
    return spec


def load_with_diagnostics(path: str, spec_path: SpecPath = ()
                          ) -> tuple[Spec | None, list[Diagnostic], dict[str, str]]:
    """For the CLI: the spec (None on errors), every diagnostic, and the sources to render.

    ``std.NAME``, when no such file exists, is the standard library's module NAME.
    ``spec_path``: as for :func:`load` (``--spec-path``)."""
    loader = Loader(spec_path)
    spec = None
    file = spec_file(path)
    if file is None:
        span = SourceSpan(path, 0, 0, 0, 0)
        return None, [Diagnostic(
            "error", f"no file `{path}`, and the standard library has no module "
            f"`{path[4:]}`; it has " + ", ".join(f"std.{m}" for m in std_modules()), span)], {}
    path = file
    try:
        real = os.path.realpath(path)
        loader._stack.append(real)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        spec = loader.load_text(text, path, os.path.dirname(os.path.abspath(path)))
        loader._stack.pop()
    except OSError as e:
        span = SourceSpan(path, 0, 0, 0, 0)
        return None, [Diagnostic("error", f"cannot read `{path}`: {e.strerror}", span)], {}
    except UnicodeDecodeError:
        span = SourceSpan(path, 0, 0, 0, 0)
        return None, [Diagnostic("error", f"`{path}` is not UTF-8 text", span)], {}
    has_error = any(d.severity == "error" for d in loader.diags)
    return (None if has_error else spec), sort_diagnostics(loader.diags), loader.sources


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Errors in source order, file by file, as a reader goes through them."""
    return sorted(diags, key=lambda d: (d.span.file, d.span.line, d.span.column) if d.span
                  else ("", 0, 0))
