"""Backend registry: native always, spot only when importable."""
from __future__ import annotations

import importlib.util

import pytest
from hypothesis import given

from logic.strategies import examples, future_formulas
from tracelogic.automata import available_backends, get_backend, translate
from tracelogic.automata.dfa import find_difference
from tracelogic.errors import BackendUnavailable, InputError
from tracelogic.logic import Atom, F, G, Implies

HAVE_SPOT = importlib.util.find_spec("spot") is not None


def test_native_is_the_default_and_supports_everything():
    be = get_backend()
    assert be.name == "native"
    assert get_backend(require=["metric", "past"]).name == "native"
    assert "native" in available_backends()
    aut = be.translate(G(Implies(Atom("p"), F(Atom("q")))))
    assert aut.n_states == 2


@pytest.mark.skipif(HAVE_SPOT, reason="spot is importable here; the unavailable path is moot")
def test_spot_unavailable_names_the_capability():
    with pytest.raises(BackendUnavailable) as e:
        get_backend("spot")
    assert "spot" in str(e.value) and "ltlf" in str(e.value)
    with pytest.raises(BackendUnavailable):
        get_backend("spot").translate  # noqa: B018 - never reached
    assert "spot" not in available_backends()


def test_unknown_backend_and_capability():
    with pytest.raises(InputError, match="unknown automata backend"):
        get_backend("mona")
    with pytest.raises(InputError, match="capabilities"):
        get_backend(require=["teleport"])


@pytest.mark.skipif(not HAVE_SPOT, reason="Spot's Python module `spot` is not importable, so "
                                          "the native-vs-spot cross-check cannot run")
@examples(100)
@given(future_formulas(max_leaves=6))
def test_native_and_spot_agree(f):
    ours = translate(f)
    theirs = get_backend("spot").translate(f, atoms=ours.alphabet.atoms)
    assert find_difference(ours.dfa, theirs.dfa) is None
    assert ours.n_states == theirs.n_states
