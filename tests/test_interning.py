"""Hash-consing shared by the two interned IRs (tracelogic/interning.py).

A tiny node type stands for either: one node a structure, built once even by racing
threads, numbered in build order, immutable, and freed with its entry from a weak table.
Then the two real IRs keep their own messages and identities through the shared base.
"""
from __future__ import annotations

import gc
import threading

import pytest

from tracelogic.interning import Interned, Interner
from tracelogic.logic.formula import FormulaManager
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr


class Leaf(Interned):
    __slots__ = ("id", "name", "__weakref__")
    _NOUN = "leaves"


class Leaves(Interner[Leaf]):
    def __init__(self, weak: bool = False) -> None:
        super().__init__(weak=weak)
        self.built: list[str] = []

    def leaf(self, name: str) -> Leaf:
        return self._intern(name, name)

    def _build(self, id: int, name: str) -> Leaf:
        self.built.append(name)
        return Leaf._new(id, name)


def test_one_node_per_structure_numbered_in_build_order():
    m = Leaves()
    a, b, a2 = m.leaf("a"), m.leaf("b"), m.leaf("a")
    assert a is a2 and a == a2 and a != b and len(m) == 2
    assert (a.id, b.id) == (0, 1) and hash(b) == 1 and m.built == ["a", "b"]
    assert repr(m) == "<Leaves with 2 nodes>"


def test_nodes_are_immutable_and_say_what_they_are():
    leaf = Leaves().leaf("a")
    with pytest.raises(AttributeError, match=r"leaves are immutable \(tried to set 'name'\)"):
        leaf.name = "b"
    with pytest.raises(AttributeError, match=r"leaves are immutable \(tried to delete 'id'\)"):
        del leaf.id
    with pytest.raises(ValueError):  # a field left unset would be an unreadable slot
        Leaf._new(7)


def test_racing_threads_build_a_structure_once():
    m = Leaves()
    names = [f"n{i % 50}" for i in range(2000)]
    out: list[list[Leaf]] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        out.append([m.leaf(n) for n in names])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.built) == sorted(set(names))
    assert all(r[i] is out[0][i] for r in out for i in range(len(names)))


def test_a_weak_table_frees_unreferenced_nodes():
    m = Leaves(weak=True)
    kept = m.leaf("kept")
    m.leaf("dropped")
    gc.collect()
    assert len(m) == 1 and m.leaf("kept") is kept
    assert m.leaf("dropped").id == 2  # built again, with a new number


def test_the_two_irs_keep_their_messages_and_identities():
    fm = FormulaManager()
    p = fm.Atom("p")
    assert (fm.TRUE().id, fm.FALSE().id, p.id) == (0, 1, 2) and fm.Atom("p") is p
    assert fm.Atom(1) is not fm.Atom(True)  # a key's type is part of its identity
    with pytest.raises(AttributeError, match="formula nodes are immutable"):
        p.key = "q"
    e = TExpr("lit", (), T.INT, 1)
    assert TExpr("lit", (), T.INT, 1) is e and TExpr("lit", (), T.BOOL, True) is not e
    with pytest.raises(AttributeError, match="typed expressions are immutable"):
        e.payload = 2
    assert repr(fm) == "<FormulaManager with 5 nodes>"  # true, false, p, 1, True
