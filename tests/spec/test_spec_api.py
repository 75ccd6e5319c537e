"""The `Spec` object's edges: asking for what is not there says what is."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.errors import TracelogicError, UnknownName

SPEC = """
pred charge = name == "charge"
property answered: G (charge -> F charge)
property audited: G !charge
"""


def test_a_misspelt_property_names_the_closest() -> None:
    spec = tracelogic.load(SPEC, filename="shop.spec")
    assert spec.property("answered").name == "answered"
    with pytest.raises(UnknownName) as info:
        spec.property("answred")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, TracelogicError)
    assert str(err) == "shop.spec: no property `answred` (did you mean `answered`?)"
    assert err.value == "answred"


def test_an_unrelated_name_lists_the_properties() -> None:
    spec = tracelogic.load(SPEC, filename="shop.spec")
    with pytest.raises(UnknownName, match="its properties are `answered`, `audited`"):
        spec.property("zzz")
    empty = tracelogic.load("const a = 1\n", filename="e.spec")
    with pytest.raises(UnknownName, match="it has no runtime properties"):
        empty.property("answered")
