"""The facade: ``tracelogic.load`` returns an ``api.Spec`` whose ``check()`` and ``monitor()``
take typed keyword options and reject wrong ones with a message that echoes ``name=value``."""
from __future__ import annotations

import pytest

import tracelogic
from tracelogic.api import Spec
from tracelogic.errors import InputError, SpecError
from tracelogic.spec import typed
from tracelogic.spec.loader import load as load_typed

TEXT = 'property answered: G (name == "a" -> F name == "b")\n'


def test_load_returns_the_facade_over_the_typed_spec():
    spec = tracelogic.load(TEXT)
    assert type(spec) is Spec and isinstance(spec, typed.Spec)
    assert Spec.of(spec) is spec
    plain = load_typed(TEXT)
    assert type(plain) is typed.Spec and not hasattr(plain, "monitor")
    assert Spec.of(plain).properties == plain.properties
    assert spec.check().files == ["<spec>"]
    assert [p.name for p in spec.monitor().close().properties] == ["answered"]


@pytest.mark.parametrize("options, echoed", [
    ({"timeout": -1}, "timeout=-1"),
    ({"timeout": True}, "timeout=True"),
    ({"state_bound": 0}, "state_bound=0"),
    ({"engine": "fast"}, "engine='fast': expected one of auto, explicit, kind, pdr, nusmv"),
    ({"overrides": {"deploy": 3}}, "overrides={'deploy': 3}"),
])
def test_check_options_are_validated_by_name(options, echoed):
    with pytest.raises(InputError) as e:
        tracelogic.load(TEXT).check(**options)
    assert echoed in str(e.value)


def test_an_unknown_check_option_is_a_type_error():
    with pytest.raises(TypeError, match="timout"):
        tracelogic.load(TEXT).check(timout=3)


@pytest.mark.parametrize("options, echoed", [
    ({"properties": "answered"}, "properties='answered': expected a list of property names, "
                                 "e.g. properties=['answered']"),
    ({"properties": [1]}, "properties=[1]"),
    ({"lateness_ns": -1}, "lateness_ns=-1"),
    ({"lateness_ns": 1.5}, "lateness_ns=1.5"),
    ({"idle_ns": -1}, "idle_ns=-1"),
    ({"engine": "rust"}, "engine='rust'"),
])
def test_monitor_options_are_validated_by_name(options, echoed):
    with pytest.raises(ValueError) as e:  # InputError is a ValueError too
        tracelogic.load(TEXT).monitor(**options)
    assert echoed in str(e.value)


def test_a_misspelt_property_gets_the_closest_name():
    with pytest.raises(SpecError) as e:
        tracelogic.load(TEXT).monitor(properties=["answred"])
    assert "no property named answred" in str(e.value) and "answered" in e.value.hint
