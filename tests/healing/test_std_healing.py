"""std.healing ships, checks, is formatted and imports; the generated limit properties load."""
from __future__ import annotations

import io

import tracelogic
from tracelogic.cli import run
from tracelogic.healing.trail import healing_spec_text, std_healing_path
from tracelogic.spec.loader import std_modules, std_path


def test_std_healing_is_shipped_checked_and_formatted():
    assert "healing" in std_modules() and std_path("healing") == std_healing_path()
    for argv in (["check", std_healing_path()], ["fmt", "--check", std_healing_path()]):
        out, err = io.StringIO(), io.StringIO()
        assert run(argv, out, err) == 0, out.getvalue() + err.getvalue()
    spec = tracelogic.load("import std.healing\n")
    names = {p.name for p in spec.imports["healing"].properties}
    assert {"approved_before_high_risk", "no_action_after_refusal", "at_most_once",
            "action_rate", "no_action_without_approval_above_risk",
            "escalation_after_failed_verification", "escalated_at_most_once"} <= names


def test_generated_limit_properties_load():
    spec = tracelogic.load("property p: G (name != \"x\")\n"
                           "heal a on violated p do log(message: \"m\") limit 4 per 90s\n")
    text = healing_spec_text(spec)
    assert 'count(healing.executed and attr["heal.policy"] == "a") <= 4' in text
    limits = tracelogic.load(text)
    [prop] = limits.properties
    assert prop.name == "limit_a" and prop.window == (90 * 10**9, True)
