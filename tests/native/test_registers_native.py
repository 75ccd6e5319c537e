"""`prev(...)` / `last(...)` registers in the core against the Python engine.

Generated specs whose properties read registers (per trace, `per attr["k"]`, `per
service`, `global`) beside register-free ones (some timed, so the Python engine runs beside
the core and the core's type-mismatch counts of register atoms merge into the Python
engine's) × the generated traces of test_stepping_native (negative numbers, zero divisors,
integers near ±2^63, NaN, missing attributes, partial traces, repeats, evictions), fed as
OTLP protobuf: the reports of ``engine="python"`` and ``engine="native"`` must be equal,
and every register property the core can run must have run there.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.plan import build_plan, property_reason

from .test_stepping_native import LONG, _preds, both_engines, traces

REGISTER_ATOMS = [
    'attr["x"] >= prev(attr["x"])', 'prev(attr["x"]) == attr["x"]',
    '!(prev(attr["x"]) == prev(attr["x"]))',
    'prev(name) != name', 'prev(attr["x"] // attr["y"]) > 0', 'prev(attr["x"] * 2) < attr["y"]',
    'last(attr["x"] where name == "b", 0) > 2',
    'last(attr["x"] where attr["y"] > 0, -1) == attr["x"]',
    'last(name where status == error, "none") == "a"',
    'last(attr["x"] where end, 2.5) <= attr["y"]', 'prev(attr["f"])', 'prev(start)',
    'prev(duration) > 1ms', 'last(attr["s"] where start, "") contains "b"',
    'prev(attr["x"]) + last(attr["y"] where true, 0) != 0', '-prev(attr["x"]) <= -1',
    'prev(attr["x"] >= 9223372036854775807)', 'prev(attr["x"] / attr["y"]) > 0.5',
    'last(attr["x"] % attr["y"] where attr["x"] exists, 1) == 0',
    'prev(attr["x"]) in [0, 1, 5]', 'prev(attr["x"]) - attr["x"] in -1..1',
    'last(attr["y"] where attr["y"] < 0, 9223372036854775807) * prev(attr["x"]) > 0',
]
# a `last` of a value of any type used as a condition: Python's truthiness of a bytes or
# array value, which the core does not evaluate (the property falls back)
REFUSED = ['last(attr["f"] where start, false)']
_reg = st.sampled_from(REGISTER_ATOMS + REFUSED)
_reg_preds = st.one_of(_reg, st.builds(lambda a: f"!({a})", _reg),
                       st.builds(lambda a, b: f"({a}) | ({b})", _reg, _preds),
                       st.builds(lambda a, b: f"({a}) & ({b})", _preds, _reg))
_SCOPES = ["", "", ' per attr["k"]', ' per attr["k"]', " per service", " global"]
_FORMS = ["G ({r})", "G (({p}) -> ({r}))", "G (({r}) -> F ({q}))", "({p}) U ({r})",
          "F ({r})", "G (({r}) -> O ({q}))", "response({r}, {q})", "({r}) S ({q})"]
_PLAIN = ["G !({p})", "G (({p}) -> F[<= 2ms] ({q}))", "G (({p}) -> F ({q}))"]


@st.composite
def specs(draw) -> str:
    lines = []
    for i in range(draw(st.integers(1, 4))):
        plain = draw(st.integers(0, 3)) == 0
        form = draw(st.sampled_from(_PLAIN if plain else _FORMS))
        scope = draw(st.sampled_from(_SCOPES))
        body = form.format(p=draw(_preds), q=draw(_preds), r=draw(_reg_preds))
        lines.append(f"property p{i}{scope}:\n  {body}")
    return "\n".join(lines) + "\n"


@settings(max_examples=2000 if LONG else 80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), traces(), st.sampled_from([1, 2, 100]))
def test_registers_run_in_the_core_as_in_the_python_engine(text, requests, max_open):
    spec = tracelogic.load(text)
    compiled, mon, python, native = both_engines(spec, requests, max_open)
    assert native == python
    for cp, prop in zip(compiled.properties, spec.properties):
        refused = any(r in text.split(f"property {prop.name}")[1].split("property")[0]
                      for r in REFUSED)
        if property_reason(cp) is None and not refused:
            assert mon.engines[cp.name] == "native", mon.engine_plan[cp.name]
        elif refused and cp.n_registers:
            assert mon.engines[cp.name] == "python"


def test_a_register_condition_of_any_type_falls_back_with_its_reason():
    spec = tracelogic.load('property p: G (name == "a" -> last(attr["f"] where start, false))\n'
                           'property q: G (attr["x"] >= prev(attr["x"]))\n')
    compiled = CompiledSpec(spec)
    plan = build_plan(compiled, compiled.properties)
    assert [cp.name for cp in plan.properties] == ["q"]
    assert "`last` of a value of any type used as a condition" in plan.fallbacks["p"]


def test_register_atoms_leave_the_shared_letter():
    """A register atom is evaluated per instance, never as a bit of the plan's letter; the
    property's plain atoms are, at the bits the automaton gave them."""
    spec = tracelogic.load('property p per attr["k"]:\n'
                           '  G (name == "a" -> (attr["x"] >= prev(attr["x"])))\n')
    compiled = CompiledSpec(spec)
    plan = build_plan(compiled, compiled.properties)
    (prop,) = plan.document["properties"]
    program = plan.document["program"]
    assert len(program["atoms"]) == 1 and "prev" not in str(program["atoms"])
    (regs,) = program["registers"]
    assert sorted(prop["bits"] + [b for b, _ in regs["atoms"]]) == \
        list(range(len(compiled.properties[0].monitor.atoms)))
    assert regs["slots"] == [{"value": {"op": "attr", "hops": 0, "resource": False,
                                        "key": "x"}, "where": None, "default": None}]
