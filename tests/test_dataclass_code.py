"""tracelogic.dataclass_code: classes built through the cached code are the classes
dataclasses builds itself, the cache is private and a broken file is compiled again."""
from __future__ import annotations

import dataclasses
import inspect
import os
import pickle
import subprocess
import sys

import pytest

from tracelogic import dataclass_code

SOURCE = '''
from dataclasses import dataclass, field, KW_ONLY
from typing import ClassVar

@dataclass(frozen=True, slots=True)
class Node:
    name: str
    kids: tuple = ()
    span: object = field(default=None, compare=False, repr=False, kw_only=True)

@dataclass(order=True, unsafe_hash=True)
class Ordered:
    a: int
    b: "list[int]" = field(default_factory=list, hash=False)
    _: KW_ONLY
    c: float = 1.5
    K: ClassVar[int] = 3

@dataclass(eq=False)
class Plain:
    x: int
    def __post_init__(self):
        self.y = self.x + 1
'''

METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__",
           "__lt__", "__le__", "__gt__", "__ge__", "__getstate__", "__setstate__")


def _build() -> dict:
    ns: dict = {"__name__": "tracelogic_dataclass_code_test"}
    sys.modules["tracelogic_dataclass_code_test"] = type(sys)("tracelogic_dataclass_code_test")
    try:
        exec(compile(SOURCE, "<test>", "exec", dont_inherit=True), ns)
    finally:
        del sys.modules["tracelogic_dataclass_code_test"]
    return ns


def _describe(ns: dict) -> list:
    out = []
    for name in ("Node", "Ordered", "Plain"):
        cls = ns[name]
        out.append((name, str(inspect.signature(cls)), cls.__doc__, cls.__match_args__,
                    [f.name for f in dataclasses.fields(cls)],
                    dataclasses.is_dataclass(cls), hasattr(cls, "__slots__")))
        for m in METHODS:
            fn = cls.__dict__.get(m)
            code = getattr(fn, "__code__", None)
            out.append((name, m, code, getattr(fn, "__qualname__", None),
                        getattr(fn, "__annotations__", None), getattr(fn, "__defaults__", None),
                        getattr(fn, "__kwdefaults__", None) is not None))
    n = ns["Node"]("a", (1,), span=3)
    o = ns["Ordered"](2, [1], c=2.0)
    out += [repr(n), n == ns["Node"]("a", (1,), span=4), hash(n) == hash(ns["Node"]("a", (1,))),
            repr(o), o < ns["Ordered"](3), hash(o) == hash(ns["Ordered"](2, [9], c=2.0)),
            ns["Plain"](1).y, _copied(n)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.name = "b"
    return out


def _copied(node) -> str:
    """What pickling does with a frozen slots dataclass: its __getstate__/__setstate__."""
    copy = object.__new__(type(node))
    copy.__setstate__(pickle.loads(pickle.dumps(node.__getstate__())))
    return repr(copy)


def _file(cache) -> str:
    [name] = [n for n in os.listdir(cache) if n.startswith("dataclass-code-")]
    return os.path.join(cache, name)


def test_the_classes_are_the_ones_dataclasses_builds(cache):
    want = _describe(_build())
    with dataclass_code.installed():
        assert "exec" in vars(dataclasses)
        cold = _describe(_build())
    assert "exec" not in vars(dataclasses)
    assert cold == want
    path = _file(cache)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with dataclass_code.installed():
        warm = _describe(_build())
    assert warm == want
    assert not [n for n in os.listdir(cache) if n.endswith(".tmp")]


@pytest.mark.parametrize("bad", [b"", b"\x00garbage", "a list"])
def test_a_broken_file_is_compiled_again(cache, bad):
    with dataclass_code.installed():
        _build()
    path = _file(cache)
    import marshal

    with open(path, "wb") as f:
        f.write(marshal.dumps([1, 2]) if bad == "a list" else bad)
    with dataclass_code.installed():
        assert _describe(_build()) == _describe(_build())
    with open(path, "rb") as f:
        assert type(marshal.loads(f.read())) is dict


def test_a_file_others_can_write_is_not_read(cache):
    with dataclass_code.installed():
        _build()
    os.chmod(_file(cache), 0o666)
    assert dataclass_code._load(_file(cache)) == {}


def test_nothing_is_installed_without_a_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", "")
    with dataclass_code.installed():
        assert "exec" not in vars(dataclasses)
        _build()


def test_a_library_import_leaves_dataclasses_alone(tmp_path):
    env = dict(os.environ, TRACELOGIC_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", "import dataclasses, tracelogic.engine.monitor, "
                        "tracelogic.spec.loader; print('exec' in vars(dataclasses))"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout == "False\n", r.stderr
    assert not (tmp_path / "cache").exists() or not [
        n for n in os.listdir(tmp_path / "cache") if n.startswith("dataclass-code-")]
