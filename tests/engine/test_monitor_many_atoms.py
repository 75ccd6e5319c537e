"""Properties over more than 16 atoms (issue 20): conjunctions of Dwyer patterns over
span names and attributes monitor exactly, on both engines.

A property's atoms are literals (up to ``LITERAL_ATOMS``, far above these), and no
property is refused for their number: past ``EXPLICIT_ATOMS`` the automaton is symbolic (BDD guards, Z3's exclusions
of span names as constraints on them), the Python engine steps its (state, letter)
cache and the native core its plan's cubes. Hypothesis draws conjunctions that read all
20 atoms and span trees over 12 names; every verdict must equal the reference
evaluator's (tests/engine/test_monitor_oracle.py), and the two engines' reports must be
identical, with the property run natively.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.automata.alphabet import EXPLICIT_ATOMS
from tracelogic.automata.guarded import GuardedMonitor
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span

from .test_monitor_differential import check

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
MS = 1_000_000
NAMES = [f"n{i}" for i in range(12)]
OTHER = ['attr["x"] > 2', "status == error", "kind == server", 'attr["flag"]',
         "duration > 1ms", 'attr["x"] == 0', 'service == "s1"', "is_root"]
POOL = [f'name == "{n}"' for n in NAMES] + OTHER  # 20 atoms


@st.composite
def many_atom_bodies(draw):
    """A conjunction of Dwyer patterns reading every atom of POOL: at most four patterns
    that remember something (response, with or without a deadline, precedence,
    existence), safety for the rest."""
    atoms = list(draw(st.permutations(POOL)))
    parts = []
    stateful = 0
    while atoms:  # two atoms a pattern: ten patterns
        p, q = atoms.pop(), atoms.pop()
        kind = draw(st.sampled_from(["response", "precedence", "existence", "absence",
                                     "universality", "timed"]))
        if kind in ("response", "precedence", "existence", "timed"):
            if stateful >= 4:
                kind = "absence"
            else:
                stateful += 1
        parts.append({"response": f"response({p}, {q})", "precedence": f"precedence({p}, {q})",
                      "timed": f"response({p}, {q}, within 3ms)",
                      "existence": f"existence({p} | {q})", "absence": f"absence({p} & {q})",
                      "universality": f"universality(!({p}) | {q})"}[kind])
    return " & ".join(f"({x})" for x in parts)


@st.composite
def span_trees(draw):
    spans = []
    # a few names per example, so that absence and existence of the others vary
    active = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    for t in range(draw(st.integers(1, 2))):
        n = draw(st.integers(1, 6))
        tid = f"{t + 1:032x}"
        for i in range(n):
            start = draw(st.integers(0, 10)) * MS
            attrs = {}
            if draw(st.booleans()):
                attrs["x"] = draw(st.integers(0, 4))
            if draw(st.integers(0, 2)) == 0:
                attrs["flag"] = draw(st.booleans())
            spans.append(Span(
                name=draw(st.sampled_from(active)), trace_id=tid, span_id=f"{i + 1:016x}",
                parent_id="" if i == 0 else f"{draw(st.integers(1, i)):016x}",
                start_ns=start, end_ns=start + draw(st.sampled_from([0, 1, 2, 3])) * MS,
                kind=draw(st.sampled_from(["server", "client"])),
                status=draw(st.sampled_from(["unset"] * 5 + ["error"])),
                service=draw(st.sampled_from(["s1", "s2"])), attrs=attrs))
    return draw(st.permutations(spans))


_settings = settings(max_examples=300 if LONG else 10, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_settings
@given(many_atom_bodies(), span_trees())
def test_twenty_atom_conjunctions_match_the_reference_on_both_engines(body, spans):
    text = f"property many:\n  {body}\n"
    compiled = CompiledSpec(tracelogic.load(text))
    (cp,) = compiled.properties
    assert len(cp.monitor.atoms) == len(POOL) > EXPLICIT_ATOMS  # literals, not lumped
    # untimed: a guarded automaton; with a deadline, the timed monitor's untimed twin is
    assert isinstance(cp.untimed.monitor if cp.timed else cp.monitor, GuardedMonitor)
    # the Python engine against the reference evaluator
    os.environ["TRACELOGIC_ENGINE"], old = "python", os.environ.get("TRACELOGIC_ENGINE")
    try:
        check(text, spans)
    finally:
        if old is None:
            del os.environ["TRACELOGIC_ENGINE"]
        else:
            os.environ["TRACELOGIC_ENGINE"] = old
    # the native core runs it (guards as cubes) and reports exactly what Python does
    docs = {}
    for engine in ("python", "native"):
        mon = Monitor(compiled.spec, engine=engine, compiled=compiled)
        assert mon.engine_plan["many"].engine == engine, mon.engine_plan["many"]
        mon.feed(spans)
        docs[engine] = mon.close().to_json()
    assert docs["python"] == docs["native"]


def test_a_translation_past_its_budget_is_refused_naming_it_and_the_others_run(monkeypatch):
    """The resource limit that replaced MAX_ATOMS: a property whose guards need more BDD
    nodes than the budget is reported not monitored, with the subformula in spec syntax;
    the spec's other properties still run."""
    from tracelogic.automata import clear_cache
    from tracelogic.automata import guarded

    monkeypatch.setattr(guarded, "SYMBOLIC_NODE_LIMIT", 3_000)
    clear_cache()
    body = " & ".join(f'response(attr["a{i}"] > 1, attr["b{i}"] > 1)' for i in range(9))
    spec = tracelogic.load(f"property big:\n  {body}\nproperty small:\n  absence(status == error)\n")
    try:
        mon = Monitor(spec, engine="python")
        mon.feed([Span(name="n0", trace_id="1" * 32, span_id="1" * 16, parent_id="",
                       start_ns=0, end_ns=1, kind="server", status="error", service="s1",
                       attrs={})])
        doc = mon.close().to_json()
    finally:
        clear_cache()
    by = {p["name"]: p for p in doc["properties"]}
    assert by["big"]["monitored"] is False
    assert "BDD nodes" in by["big"]["reason"] and 'attr["a0"] > 1' in by["big"]["reason"]
    assert "TExpr" not in by["big"]["reason"]
    assert [r["verdict"] for r in by["small"]["results"]] == ["violated"]


def test_a_reloaded_guarded_property_keeps_its_open_states_only_if_unchanged():
    """`serve` reloads carry an instance's state over when the property's automaton is
    the same (engine.stream._same_property). A guarded automaton's table fills lazily,
    so the comparison is by formula and atoms, not by table contents."""
    from tracelogic.engine.stream import _same_property

    body = " & ".join(f"(response({POOL[2 * i]}, {POOL[2 * i + 1]}))" for i in range(3)) + \
        " & " + " & ".join(f"(absence({POOL[i]} & {POOL[i + 1]}))" for i in range(6, 20, 2))
    other = body.replace("response(", "precedence(", 1)

    def prop(text):
        return CompiledSpec(tracelogic.load(f"property many:\n  {text}\n")).properties[0]

    a, b, c = prop(body), prop(body), prop(other)
    assert isinstance(a.monitor, GuardedMonitor)
    a.monitor.table[a.monitor.initial * a.monitor.n_letters + 1]  # fill one entry
    assert _same_property(a, b)
    assert not _same_property(a, c)
