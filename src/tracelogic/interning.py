"""Hash-consing, once, for both interned IRs: the logic formula (``logic.Formula``) and the
typed expression (``spec.TExpr``).

A node class derives from :class:`Interned`: equality is identity, the hash is the node's
small ``id``, and the node is immutable. Its manager derives from :class:`Interner`, which
keeps the table (structure key -> node), numbers nodes in the order they are built, and
builds a node at most once even when two threads ask for the same structure at once (the
double-checked lock). The manager says what a key is and how a node is built
(``_build``); the flags a node caches are the manager's business.

It is a leaf: ``spec`` may not import ``logic`` (tests/test_layers.py), so the mechanism
both share lives below both and imports nothing of ours.
"""
from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Hashable, MutableMapping
from typing import Any, Generic, TypeVar

__all__ = ["Interned", "Interner"]

N = TypeVar("N", bound="Interned")


class Interned:
    """An interned, immutable node: two structurally equal nodes are one object, so ``==``
    is ``is`` and the hash is ``id``, O(1) whatever the node's size. A subclass declares
    its ``__slots__`` (with ``id``) and names itself in ``_NOUN`` for the messages; its
    manager builds nodes with :meth:`_new`."""

    __slots__ = ()
    _NOUN = "interned nodes"
    _SETTERS: tuple = ()
    id: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slots = cls.__dict__.get("__slots__", ())
        slots = (slots,) if isinstance(slots, str) else slots
        # the slots' own setters: they pass the guard below, as fast as plain assignment
        cls._SETTERS = tuple(getattr(cls, name).__set__ for name in slots
                             if name != "__weakref__")

    @classmethod
    def _new(cls: type[N], *values: Any) -> N:
        """A node with its fields set, in ``__slots__`` order (managers only: a node is
        complete before anyone else can see it)."""
        node = object.__new__(cls)
        for set_field, value in zip(cls._SETTERS, values, strict=True):
            set_field(node, value)
        return node

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._NOUN} are immutable (tried to set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self._NOUN} are immutable (tried to delete {name!r})")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return self.id


class Interner(Generic[N]):
    """The table of one manager. ``weak=True`` holds nodes weakly: a node nobody refers to
    is freed with its entry (the typed expressions of many loaded specs); otherwise nodes
    live as long as the manager (formulas: their ids stay dense and ordered)."""

    def __init__(self, *, weak: bool = False) -> None:
        self._table: MutableMapping[Hashable, N] = (
            weakref.WeakValueDictionary() if weak else {})
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} with {len(self._table)} nodes>"

    def _build(self, id: int, *parts: Any) -> N:
        """The new node numbered ``id`` from the parts given to :meth:`_intern`."""
        raise NotImplementedError

    def _intern(self, key: Hashable, *parts: Any) -> N:
        """The node stored under ``key``; built by ``_build(next id, *parts)`` and stored
        if there is none. The lock is taken only to build."""
        node = self._table.get(key)
        if node is not None:
            return node
        with self._lock:
            node = self._table.get(key)
            if node is None:
                node = self._build(next(self._ids), *parts)
                self._table[key] = node
            return node
