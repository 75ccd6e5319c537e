"""The `controller` declaration's front end (docs/control.md §1–§2): what it accepts, the
typed form it builds, and a precise diagnostic (never a crash) for each mistake."""
from __future__ import annotations

import os
import random

import pytest

import tracelogic
from tracelogic.errors import SpecError
from tracelogic.spec import types as T
from tests.models.control_specs import BLOCKS

BASE = """controller c {
  period 15s
  metric cpu: real
  var r: int = 3
  let d = ceil(r * cpu / 60)
  next r := clamp(max_over(d, 60s), 1, 10)
  claim ok: always r in 1..10 assuming cpu in 0..100
}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as e:
        tracelogic.load(text, filename="t.spec")
    return [d.message for d in e.value.diagnostics]


def test_the_typed_controller():
    ctl = tracelogic.load(BASE, filename="t.spec").controllers["c"]
    assert ctl.period_ns == 15 * 10**9 and ctl.metric == "cpu" and ctl.metric_type == T.REAL
    assert ctl.vars == (("r", T.INT, 3),)
    assert [n for n, _ in ctl.lets] == ["d"] and [n for n, _ in ctl.updates] == ["r"]
    [claim] = ctl.claims
    assert claim.kind == "always" and claim.assuming == (0, 100)


@pytest.mark.parametrize("change, message", [
    (("var r: int = 3", "var r: 1..10 = 3"), "must be an int or a real"),
    (("period 15s", "period 0s"), "the period must be positive"),
    (("period 15s", ""), "needs a `period`"),
    (("next r :=", "next q :="), "`q` is not a variable of controller `c`"),
    (("assuming cpu in 0..100", ""), "has no `plant`"),
    (("assuming cpu in", "assuming r in"), "can assume only the metric"),
    (("always r in 1..10", "bounded q"), "`q` is not a variable"),
    (("max_over(d, 60s)", "max_over(d, 2)"), "must be a duration"),
    (("max_over(d, 60s)", "max_over(max_over(d, 60s), 60s)"), "cannot contain another"),
    (("ceil(r * cpu / 60)", "round(r, 2)"), "takes 1 argument"),
    (("ceil(r * cpu / 60)", "ite(r, 1, 2)"), "first argument must be a condition"),
    (("always r in 1..10", "converges r to 5 within 1 in 2000 periods"), "at most 1000"),
    (("max_over(d, 60s)", "max_over(d, 1d)"), "more than 1000 periods"),
    (("clamp(max_over(d, 60s), 1, 10)", "cpu"), "`r` must be an int, but this is a real"),
])
def test_mistakes_get_a_precise_diagnostic(change, message):
    old, new = change
    assert old in BASE
    found = errors(BASE.replace(old, new, 1))
    assert any(message in m for m in found), found


def test_controller_words_stay_usable_as_names_elsewhere():
    spec = tracelogic.load("const period = 3\nconst plant = period + 1\npred claim = "
                           "name == \"x\"\n" + BASE, filename="t.spec")
    assert "c" in spec.controllers and spec.consts["plant"].payload == 4


def test_fmt_is_idempotent_on_the_page_examples():
    from tracelogic.spec.formatter import format_text

    for block in BLOCKS:
        once = format_text(block)
        assert format_text(once) == once
        a = tracelogic.load(block, filename="a.spec").controllers
        b = tracelogic.load(once, filename="a.spec").controllers
        assert a == b


def _mutants(seed: int, count: int):
    rnd = random.Random(seed)
    words = ["period", "metric", "var", "let", "next", "plant", "noise", "step", "claim",
             "always", "bounded", "no_flap", "converges", "assuming", "max_over", "round",
             "ite", "0", "-1", "1e30", "0s", "1d", "real", "int", ":", "=", ":=", ";", "..",
             "(", ")", "{", "}", "cpu", "r", "in", "within", "periods", "from", "to"]
    seeds = [BASE] + BLOCKS
    for _ in range(count):
        tokens = rnd.choice(seeds).split(" ")
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(tokens))
            op = rnd.random()
            if op < 0.4:
                tokens[i] = rnd.choice(words)
            elif op < 0.7:
                del tokens[i]
            else:
                tokens.insert(i, rnd.choice(words))
        yield " ".join(tokens)


def _load_or_diagnose(text: str) -> None:
    try:
        spec = tracelogic.load(text, filename="m.spec")
    except SpecError as e:
        assert e.diagnostics and all(d.message for d in e.diagnostics)
        return
    from tracelogic.spec.formatter import format_text

    format_text(text)
    assert isinstance(spec.controllers, dict)


# 300 seeded cases in a normal run; TRACELOGIC_LONG=1 runs 20,000 (about 5 minutes)
LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")


def test_mutated_controllers_load_or_give_diagnostics():
    for text in _mutants(seed=19, count=20000 if LONG else 300):
        _load_or_diagnose(text)
