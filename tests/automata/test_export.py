"""DOT, HOA and JSON export; the HOA parser."""
from __future__ import annotations

import json
import re

import pytest
import z3
from hypothesis import given

from logic.strategies import examples, future_formulas, mixed_formulas
from tracelogic.automata import automaton_text, compile_monitor, parse_hoa, to_dot, to_hoa, to_json
from tracelogic.automata.hoa import HoaSyntaxError
from tracelogic.logic import Atom, F, G, Implies, UnsupportedFormula


def eval_guard(text: str, names: list[str], mask: int) -> bool:
    """Evaluate a text guard (``a & !b | c``) on a letter (independent of the exporter)."""
    if text == "true":
        return True
    if text == "false":
        return False
    val = {n: bool(mask >> i & 1) for i, n in enumerate(names)}
    for term in text.split(" | "):
        ok = True
        for lit in term.split(" & "):
            neg = lit.startswith("!")
            name = lit[1:] if neg else lit
            if val[name] == neg:
                ok = False
        if ok:
            return True
    return False


@examples(150)
@given(mixed_formulas(max_leaves=6))
def test_hoa_parses_and_matches_the_dfa_exactly(f):
    mon = compile_monitor(f)
    text = to_hoa(mon)
    aut = parse_hoa(text)
    n = len(mon.atoms)
    assert aut.n_states == mon.n_states + 1
    assert len(aut.aps) == n + 1 and aut.aps[-1] == "alive"
    assert aut.start == [[mon.initial]]
    assert aut.acceptance_sets == 1 and aut.acceptance == "Inf ( 0 )"
    assert "deterministic" in aut.properties
    alive = 1 << n
    sink = mon.n_states
    assert aut.states[sink].acc == [0]
    assert [e.dst for e in aut.states[sink].edges] == [[sink]]
    edges = 0
    for s in range(mon.n_states):
        st = aut.states[s]
        edges += len(st.edges)
        for m in range(1 << n):
            live = [e.dst[0] for e in st.edges if e.label(m | alive)]
            assert live == [mon.step(s, m)], (s, m)
            dead = [e.dst[0] for e in st.edges if e.label(m)]
            assert dead == ([sink] if mon.accepting[s] else [])
    assert aut.edge_count() == edges + 1


@examples(100)
@given(future_formulas(max_leaves=6))
def test_dot_and_json_guards_denote_the_transitions(f):
    mon = compile_monitor(f)
    names = [str(a) for a in mon.atoms]
    doc = json.loads(to_json(mon))
    assert doc["atoms"] == names and doc["initial"] == mon.initial
    assert len(doc["states"]) == mon.n_states
    for t in doc["transitions"]:
        for m in range(1 << len(names)):
            assert eval_guard(t["guard"], names, m) == (m in t["letters"])
            assert (mon.step(t["from"], m) == t["to"]) == (m in t["letters"])
    dot = to_dot(mon)
    assert dot.count("doublecircle") == sum(mon.accepting)
    labels = re.findall(r'(\d+) -> (\d+) \[label="([^"]*)"\]', dot)
    assert len(labels) == len(doc["transitions"])
    for s, t, g in labels:
        for m in range(1 << len(names)):
            assert eval_guard(g, names, m) == (mon.step(int(s), m) == int(t))


def test_dot_guards_use_dont_cares_from_pruning():
    enc = {"a": z3.Int("x") == 1, "b": z3.Int("x") == 2}
    mon = compile_monitor(G(Implies(Atom("a"), F(Atom("b")))), encode=enc.__getitem__)
    dot = to_dot(mon, {"a": "x_is_1", "b": "x_is_2"})
    assert "x_is_1 & !x_is_2" not in dot and "x_is_1" in dot
    hoa = parse_hoa(to_hoa(mon))
    # exact guards in HOA: the infeasible letter a & b has no edge anywhere
    for st in hoa.states.values():
        assert not any(e.label(0b111) for e in st.edges)


def test_automaton_text_formats_and_metric_formulas():
    f = G(Implies(Atom("p"), F(Atom("q"))))
    assert automaton_text(f, "dot").startswith("digraph")
    assert automaton_text(f, "hoa").startswith("HOA: v1")
    assert json.loads(automaton_text(f, "json"))["kind"] == "dfa"
    timed = G(Implies(Atom("p"), F(Atom("q"), (0, 10))))
    doc = json.loads(automaton_text(timed, "json"))
    assert doc["kind"] == "register-monitor"
    with pytest.raises(UnsupportedFormula, match="metric bounds"):
        automaton_text(timed, "hoa")
    # past over future: untimed a DFA, timed no automaton (whole-trace evaluation)
    from tracelogic.logic import H
    mixed = H(F(Atom("q")))
    assert json.loads(automaton_text(mixed, "json"))["kind"] == "dfa"
    for fmt in ("dot", "hoa", "json"):
        with pytest.raises(UnsupportedFormula, match="past operator over a future one"):
            automaton_text(H(F(Atom("q")), (0, 10)), fmt)
    from tracelogic.errors import InputError
    with pytest.raises(InputError):
        automaton_text(f, "svg")


SPOT_LIKE = """HOA: v1
name: "G(a -> F b)" /* a comment */
States: 2
Start: 0
AP: 2 "a" "b"
Alias: @a 0
Alias: @b 1
acc-name: Buchi
Acceptance: 1 Inf(0)
properties: trans-labels explicit-labels trans-acc deterministic
--BODY--
State: 0 "waiting"
[!@a | @b] 0 {0}
[@a & !@b] 1
State: 1
[@b] 0 {0}
[!(@b)] 1
--END--
"""


def test_hoa_parser_reads_aliases_names_and_edge_marks():
    aut = parse_hoa(SPOT_LIKE)
    assert aut.name == "G(a -> F b)" and aut.aps == ["a", "b"]
    assert aut.states[0].name == "waiting"
    e = aut.states[0].edges
    assert e[0].acc == [0] and e[0].label(0b00) and e[0].label(0b11) and not e[0].label(0b01)
    assert aut.states[1].edges[1].label(0b01) and not aut.states[1].edges[1].label(0b10)


@pytest.mark.parametrize("bad, msg", [
    ("HOA: v2\n--BODY--\n--END--", "version"),
    ('HOA: v1\nAP: 2 "a"\nAcceptance: 0 t\n--BODY--\n--END--', "AP"),
    ('HOA: v1\nStates: 1\nAcceptance: 0 t\n--BODY--\nState: 0\n[0] 3\n--END--', "undeclared"),
    ('HOA: v1\nAcceptance: 0 t\n--BODY--\nState: 0\n[0 &] 0\n--END--', "label"),
])
def test_hoa_parser_rejects_bad_input(bad, msg):
    with pytest.raises(HoaSyntaxError, match=msg):
        parse_hoa(bad)
