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


def test_single_counter_has_its_minimal_51_states_from_the_command_line():
    """Issue 20: ten propositions, each one atom (`!inc` is a negation, not an atom), and
    the minimal DFA: 51 states, not the 85 of lumped atoms. Ten atoms take the symbolic
    translation; its HOA guards are the BDD's, and the HOA reads back deterministic."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
    import ltlf_families as fam

    text, props = fam.single_counter(3)
    code, out, err = call(text, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert sorted(doc["atoms"]) == sorted(props) and len(props) == 10
    assert len(doc["states"]) == 51
    code, out, err = call(text, "--format", "hoa")
    assert code == 0, err
    aut = parse_hoa(out)
    assert aut.n_states == 52 and "deterministic" in aut.properties  # + the !alive sink


def test_twenty_propositions_are_translated_not_refused():
    text = " & ".join(f"G (p{i} -> F q{i})" for i in range(3)) + " & " + " & ".join(
        f"G !(r{i} & s{i})" for i in range(7))
    code, out, err = call(text, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["atoms"]) == 20 and doc["symbolic"] is True and doc["letters"] is None
    # three responses pending or not, and the safety sink, are all the states there are
    assert len(doc["states"]) == 2 ** 3 + 1
