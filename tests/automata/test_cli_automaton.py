"""`tracelogic automaton`: formulas and spec properties, exported and parsed back."""
from __future__ import annotations

import io
import json

from tracelogic.automata.hoa import parse_hoa
from tracelogic.cli import run


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    return run(["automaton", *argv], out, err), out.getvalue(), err.getvalue()


def test_hoa_of_a_formula_parses_and_names_its_propositions():
    code, out, _ = call("G(a -> F b)", "--format", "hoa")
    assert code == 0
    aut = parse_hoa(out)
    text = out
    assert '"a"' in text and '"b"' in text and '"alive"' in text
    assert aut is not None


def test_dot_guards_read_as_predicates():
    code, out, _ = call("G (state == open -> X state != closed)")
    assert code == 0
    assert '(state == open)' in out and '(state != closed)' in out
    assert "!state" not in out  # never the ambiguous `!state == open`


def test_a_spec_property_is_translated_as_the_monitor_does():
    code, out, _ = call("examples/language/properties.spec::auth_before_charge", "--format",
                        "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc["atoms"]) == {'op("charge")', 'op("authorize")'}
    # name == "charge" and name == "authorize" cannot both hold: Z3 pruned that letter
    assert doc["pruned"] is True and 3 not in doc["letters"]


def test_bad_input_exits_2_with_a_message():
    code, _, err = call("G (a ->")
    assert code == 2 and "<formula>:1:" in err
    code, _, err = call("examples/language/properties.spec::nope")
    assert code == 2 and "no property `nope`" in err
    code, _, err = call("F[<= 2s] a", "--format", "hoa")
    assert code == 2 and "metric bounds" in err
    code, _, err = call("examples/language/properties.spec::error_budget")
    assert code == 2 and "aggregate" in err
