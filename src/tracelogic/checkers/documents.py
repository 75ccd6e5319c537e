"""Config documents: YAML (multi-document), JSON and TOML, with the line of every value.

Values are read through the typed bindings of a ``config`` block: Kubernetes
quantities (``512Mi``, ``500m`` of CPU), durations (``30s``, ``1h30m``), ranges
and enums. A value of the wrong shape is an :class:`InputError` that names the
file and the line, never a silent pass.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml

from tracelogic.errors import InputError
from tracelogic.spec import types as T
from tracelogic.values.missing import MISSING  # a path the document does not have
from tracelogic.values.units import BYTE_UNITS, CPU_MILLI, DURATION_UNITS

# libyaml, when PyYAML was built with it, composes the same node tree (with marks) 10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Document:
    file: str
    index: int          # 0-based position in a multi-document file
    data: Any
    node: Any = None    # the YAML node tree, for line numbers (None: lines unknown)
    lines: list[str] | None = None  # TOML: the text, for a best-effort line search

    @property
    def where(self) -> str:
        return f"{self.file} document {self.index}"


def load_documents(path: str) -> list[Document]:
    """Every document of one file; raises InputError naming the file and line on bad syntax."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}", value=path) from e
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text", value=path) from e
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}",
                             value=path) from e
        try:
            node = yaml.compose(text, Loader=_YAML_LOADER)
        except yaml.YAMLError:
            node = None
        docs = data if isinstance(data, list) and path.endswith(".list.json") else [data]
        return [Document(path, i, d, node if len(docs) == 1 else None)
                for i, d in enumerate(docs)]
    if ext == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"line (\d+), column (\d+)", str(e))
            where = f"{path}:{m.group(1)}:{m.group(2)}" if m else path
            raise InputError(f"{where}: invalid TOML: {str(e).split(' (at')[0]}",
                             value=path) from e
        return [Document(path, 0, data, None, text.splitlines())]
    try:
        nodes = list(yaml.compose_all(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(e, "problem", None) or str(e)
        raise InputError(f"{where}: invalid YAML: {problem}", value=path) from e
    constructor = yaml.SafeLoader("")
    docs = []
    for i, node in enumerate(n for n in nodes if n is not None):
        try:
            data = constructor.construct_document(node)
        except yaml.YAMLError as e:
            raise InputError(f"{path}: invalid YAML in document {i}: {e}", value=path) from e
        docs.append(Document(path, i, data, node))
    return docs


def lookup(doc: Document, path: tuple) -> tuple[Any, int | None]:
    """(value, 1-based line) at a path of ("field", name) / ("index", i) / ("key", k) steps."""
    value, node = doc.data, doc.node
    line = None
    for kind, key in path:
        if kind == "index":
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return MISSING, _line(node)
            value = value[key]
            node = node.value[key] if isinstance(node, yaml.SequenceNode) else None
        else:
            if not isinstance(value, dict) or key not in value:
                return MISSING, _line(node)
            value = value[key]
            node = _child(node, key)
        line = _line(node)
    if line is None and doc.lines is not None and path:
        line = _toml_line(doc.lines, str(path[-1][1]))
    return value, line


def _child(node, key):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    return None


def _line(node) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _toml_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(r'^\s*("?)' + re.escape(key) + r'\1\s*=')
    for i, line in enumerate(lines, 1):
        if pattern.match(line):
            return i
    return None


# ------------------------------------------------------------ typed values

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


def parse_duration_value(text: str) -> int:
    """`30s`, `1m`, `1h30m`, `250ms` -> nanoseconds (Go/Kubernetes style, concatenated)."""
    s = text.strip()
    if not s or _DURATION_PART.sub("", s) != "":
        raise ValueError
    total = Fraction(0)
    for number, unit in _DURATION_PART.findall(s):
        total += Fraction(number) * DURATION_UNITS["us" if unit == "µs" else unit]
    if total.denominator != 1:
        raise ValueError
    return int(total)


def parse_quantity(text: str) -> Fraction:
    """A Kubernetes quantity: `512Mi`, `1G`, `500m` (milli), `1e3`, `2`."""
    s = text.strip()
    m = re.fullmatch(r"([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([A-Za-z]*)", s)
    if not m:
        raise ValueError
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix == "":
        return number
    if suffix == "m":
        return number * CPU_MILLI
    if suffix in BYTE_UNITS:
        return number * BYTE_UNITS[suffix]
    raise ValueError


def coerce(value: Any, typ: T.Type) -> Any:
    """A document value as a value of the binding's type; ValueError says what was expected."""
    b = T.base(typ)
    if isinstance(value, bool) and b != T.BOOL:
        raise ValueError(f"expected {_expect(typ)}")
    if b == T.BOOL:
        if isinstance(value, bool):
            return value
    elif b == T.STRING:
        if isinstance(value, str):
            return value
    elif isinstance(b, T.EnumType):
        if isinstance(value, str) and value in b.members:
            return value
    elif b == T.INT:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
    elif b in (T.REAL, T.CPU):
        if isinstance(value, (int, float)):
            return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
        if isinstance(value, str):
            try:
                q = parse_quantity(value) if b == T.CPU else Fraction(value.strip())
            except (ValueError, ZeroDivisionError):
                pass
            else:
                if b == T.CPU and re.search(r"[KMGTPE]i?$|k$", value.strip()):
                    raise ValueError(f"expected {_expect(typ)}")
                return q
    elif b == T.BYTES:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                q = parse_quantity(value)
            except ValueError:
                pass
            else:
                if q.denominator == 1 and not value.strip().endswith("m"):
                    return int(q)
    elif b == T.DURATION:
        if isinstance(value, str):
            try:
                return parse_duration_value(value)
            except ValueError:
                pass
    raise ValueError(f"expected {_expect(typ)}")


def _expect(typ: T.Type) -> str:
    b = T.base(typ)
    return {T.BYTES: "a size such as 512Mi", T.DURATION: "a duration such as 30s",
            T.CPU: "a CPU amount such as 0.5 or 500m", T.INT: "an integer",
            T.REAL: "a number", T.BOOL: "true or false", T.STRING: "a string"}.get(
        b, f"one of {', '.join(b.members)}" if isinstance(b, T.EnumType) else str(typ))


def in_type(value: Any, typ: T.Type) -> bool:
    if isinstance(typ, T.RangeType):
        return typ.lo <= value <= typ.hi
    if typ == T.RATIO:
        return 0 <= value <= 1
    return True
