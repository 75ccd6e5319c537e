"""`heal NAME run controller CTL on metric "M" [every D]` (docs/control.md §9)."""
from __future__ import annotations

import pytest

from tracelogic.errors import TracelogicError
from tracelogic.spec.formatter import format_text
from tracelogic.spec.loader import load

CTL = """
controller hpa {
  period 15s
  metric cpu: real
  var replicas: int = 4
  let ratio = cpu / 60
  next replicas := clamp(ceil(replicas * ratio), 1, 10)
}
pred slow = duration > 2s
property fast: G !slow
"""


def policy(clauses: str) -> str:
    return CTL + "heal scale\n" + clauses + \
        '\n  do kubernetes.scale(namespace: "shop", deployment: "d", replicas: replicas)\n'


def test_the_policy_reads_the_controller_and_defaults_to_its_period():
    h = load(policy('  run controller hpa on metric "cpu.util"')).heals[0]
    assert h.run == ("hpa", "cpu.util", 15 * 10**9)
    assert h.on == "controller:hpa"
    arg = dict(h.args)["replicas"]
    assert arg.payload == ("ctl", "replicas") and arg.type.name == "int"
    h = load(policy('  run controller hpa on metric "cpu.util" every 2s')).heals[0]
    assert h.run[2] == 2 * 10**9


def test_lets_and_the_metric_are_readable_too():
    text = CTL + ('heal scale\n  run controller hpa on metric "m"\n'
                  '  do log(message: "scale", target: "t", ratio: ratio, cpu: cpu)\n')
    names = {n: e.payload for n, e in load(text).heals[0].args}
    assert names["ratio"] == ("ctl", "ratio") and names["cpu"] == ("ctl", "cpu")


@pytest.mark.parametrize("clauses, message", [
    ('  run controller hpx on metric "m"', "unknown controller `hpx`"),
    ('  run controller hpa on metric "m" every 0s', "`every D` needs D > 0"),
    ('  run controller hpa on metric ""', "the metric name is empty"),
    ('  on violated fast\n  run controller hpa on metric "m"', "runs a controller"),
])
def test_wrong_policies_are_refused_with_a_precise_message(clauses, message):
    with pytest.raises(TracelogicError) as e:
        load(policy(clauses))
    assert message in str(e.value)


def test_a_controller_value_is_unknown_without_run():
    with pytest.raises(TracelogicError) as e:
        load(policy("  on violated fast"))
    assert "unknown name `replicas`" in str(e.value)


def test_format_round_trips():
    text = policy('  run controller hpa on metric "cpu.util" every 2s')
    once = format_text(text)
    assert 'run controller hpa on metric "cpu.util" every 2s' in once
    assert format_text(once) == once
    assert load(once).heals[0].run == load(text).heals[0].run


def test_run_and_every_stay_usable_as_names():
    spec = load(CTL + "const run = 3\nconst every = 4\n")
    assert spec.consts["run"].payload == 3 and spec.consts["every"].payload == 4
