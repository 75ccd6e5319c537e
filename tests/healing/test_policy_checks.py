"""`tracelogic check` on healing policies: conflicts and unreachable limits, with their lines."""
from __future__ import annotations

import io
import json

from tracelogic import cli

CONFLICT = """\
property slow: G (name != "slow")
property errors: G (status != error)

heal scale_up
  on violated slow
  do kubernetes.scale(deployment: service, namespace: "shop", delta: 2)
  cooldown 5m
  limit 3 per 1h

heal scale_down
  on violated errors
  do kubernetes.scale(deployment: service, namespace: "shop", delta: -1)
  cooldown 5m
  limit 3 per 1h
"""

UNREACHABLE = """\
property errors: G (status != error)

heal restart_checkout
  on violated errors
  do kubernetes.restart(deployment: "checkout", namespace: "shop")
  cooldown 30m
  limit 3 per 1h
"""


def check(tmp_path, text, *extra):
    path = tmp_path / "policies.spec"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", str(path), *extra], out, err)
    return code, out.getvalue(), err.getvalue(), str(path)


def policy_results(out: str) -> list[dict]:
    return [r for r in json.loads(out)["results"] if r["kind"] == "policy"]


def test_conflicting_pair_is_reported_with_both_lines(tmp_path):
    code, out, err, path = check(tmp_path, CONFLICT)
    assert code == 1, out + err
    assert f"{path}:6: policy scale_up~scale_down: fails" in out
    assert "(line 6)" in out and "(line 12)" in out
    code, out, _, _ = check(tmp_path, CONFLICT, "--format", "json")
    [r] = [r for r in policy_results(out) if r["status"] == "fails" and "~" in r["name"]]
    assert r["location"]["line"] == 6 and [x["line"] for x in r["related"]] == [12]
    assert r["details"]["policies"] == ["scale_up", "scale_down"]


def test_same_direction_or_different_targets_do_not_conflict(tmp_path):
    same = CONFLICT.replace("delta: -1", "delta: 1")
    code, out, err, _ = check(tmp_path, same)
    assert code == 0, out + err
    assert "fails" not in out
    apart = CONFLICT.replace('namespace: "shop", delta: -1', 'namespace: "batch", delta: -1')
    code, out, err, _ = check(tmp_path, apart)
    assert code == 0, out + err


def test_absolute_replicas_conflict_with_a_delta(tmp_path):
    text = CONFLICT.replace("delta: -1", "replicas: 3")
    code, out, _, _ = check(tmp_path, text)
    assert code == 1 and "scale_up~scale_down: fails" in out
    assert "`scale_up` +2 replicas vs `scale_down` to 3 replicas (from a current " in out


def test_conflicts_say_what_each_policy_does(tmp_path):
    """Issue 21 item 8: "+2 replicas vs −1 replica", not "up/open … down/close"."""
    code, out, _, _ = check(tmp_path, CONFLICT)
    assert code == 1
    assert "`scale_up` +2 replicas vs `scale_down` −1 replica" in out
    assert "up/open" not in out and "down/close" not in out


def test_breaker_open_and_close_on_one_name_conflict(tmp_path):
    text = """\
property a: G (name != "a")
property b: G (name != "b")
heal open_it on violated a do circuit_breaker(name: attr["breaker"], state: "open") cooldown 1m
heal close_it on violated b do circuit_breaker(name: "payments", state: "closed") cooldown 1m
"""
    code, out, _, _ = check(tmp_path, text)
    assert code == 1 and "open_it~close_it: fails" in out and "'payments'" in out
    assert "`open_it` sets the breaker open vs `close_it` sets the breaker closed" in out


def test_unreachable_limit_is_reported_with_the_cooldown_and_limit_lines(tmp_path):
    code, out, err, path = check(tmp_path, UNREACHABLE)
    assert code == 1, out + err
    assert f"{path}:7: policy restart_checkout: inconsistent" in out
    assert "`cooldown` on line 6, `limit` on line 7" in out and "at most 2" in out
    code, out, _, _ = check(tmp_path, UNREACHABLE, "--format", "json")
    [r] = [r for r in policy_results(out) if r["status"] == "inconsistent"]
    assert r["location"]["line"] == 7 and [x["line"] for x in r["related"]] == [6]


def test_reachable_limits_pass(tmp_path):
    # 2 per hour with a 30m cooldown fits; so does 3 when the target varies per witness
    assert check(tmp_path, UNREACHABLE.replace("limit 3", "limit 2"))[0] == 0
    varies = UNREACHABLE.replace('deployment: "checkout"', "deployment: service")
    code, out, err, _ = check(tmp_path, varies)
    assert code == 0, out + err
    assert "restart_checkout: holds" in out


def test_argument_safety_and_unknown_actions(tmp_path):
    text = """\
property p: G (name != "x")
heal a on violated p do command(argv: [attr["prog"], "--", attr["x"]]) limit 1 per 1h
heal b on violated p do command(argv: ["/bin/echo", attr["x"]], validate: r"(") limit 1 per 1h
heal c on violated p do webhook(endpoint: attr["hook"]) limit 1 per 1h
heal d on violated p do kubernetes.restrat(deployment: service) limit 1 per 1h
heal e on violated p do kubernetes.scale(deploy: service) limit 1 per 1h
heal f on violated p do log(message: "x")
"""
    code, out, err, path = check(tmp_path, text)
    assert code == 2  # a policy its action cannot take is a wrong spec (issue 21 item 8)
    assert f"{path}:2: policy a: input-error — argv[0]" in out
    assert f"{path}:2:" in out and "argv[0], the program, must be a constant" in out
    assert "not valid RE2" in out and "before any \"--\"" in out
    assert "endpoint` must be a constant" in out
    assert "did you mean `kubernetes.restart`" in out
    assert "has no parameter `deploy`" in out
    assert "policy f: warning" in out and "storm" in out


# ---------------------------------------------------------------- issue 21 item 3

def _approval(tmp_path, policy: str) -> list[dict]:
    text = 'property errors: G (status != error)\n\n' + policy
    code, out, err, _ = check(tmp_path, text, "--format", "json")
    assert code == 0, out + err                        # warnings count only with --strict
    return [r for r in policy_results(out) if r["details"].get("check") in ("approval", "policy")]


def test_approve_when_is_checked_against_the_policys_fixed_risk(tmp_path):
    # risk 0.8 and `approve when risk > 0.9`: Z3 finds no witness on which anyone is asked
    [r] = _approval(tmp_path, """heal roll
  on violated errors
  do kubernetes.restart(deployment: "checkout", namespace: "shop")
  cooldown 5m
  risk 0.8
  approve when risk > 0.9
""")
    assert r["status"] == "warning" and r["details"]["risk"] == 0.8
    assert "never holds for this policy's risk 0.8 (`risk 0.8` on line 7)" in r["message"]
    assert "always runs without approval" in r["message"]
    assert r["location"]["line"] == 8 and [x["line"] for x in r["related"]] == [7]


def test_approve_when_is_checked_against_the_actions_default_risk(tmp_path):
    [r] = _approval(tmp_path, """heal roll
  on violated errors
  do kubernetes.rollback(deployment: "checkout", namespace: "shop")
  cooldown 5m
  approve when risk > 0.7
""")
    assert r["status"] == "warning"
    assert "risk 0.7 (the default risk of `kubernetes.rollback`)" in r["message"]


def test_approve_when_that_holds_for_the_risk_or_depends_on_the_span_is_fine(tmp_path):
    for cond in ("risk >= 0.7", 'risk > 0.9 or attr["tier"] == "gold"', "risk > 0.5"):
        results = _approval(tmp_path, f"""heal roll
  on violated errors
  do kubernetes.rollback(deployment: "checkout", namespace: "shop")
  cooldown 5m
  approve when {cond}
""")
        assert [r["status"] for r in results] == ["holds"], (cond, results)
    # no risk satisfies it at all: still caught, with its own message
    [r] = _approval(tmp_path, """heal roll
  on violated errors
  do kubernetes.rollback(deployment: "checkout", namespace: "shop")
  cooldown 5m
  approve when risk > 1.5
""")
    assert r["status"] == "warning" and "for any risk in 0.0..1.0" in r["message"]


# ---------------------------------------------------------------- issue 21 item 6

WITNESS = """\
metric cpu = "system.cpu.utilization" : ratio
pred anonymous = !(attr["order.id"] exists)
pred db = attr["db.system"] exists
metric invariant hot per service: cpu < 0.9
property failed: G !(anonymous & status == error)
property answered: G (anonymous & start -> F[<= 2s] end)
property slow_db per service: p99(duration where db) <= 100ms

heal a on violated failed do log(message: attr["order.id"]) cooldown 1m
heal b on violated hot do log(message: "hot", target: service) cooldown 1m
heal c on violated slow_db do log(message: attr["db.name"], target: attr["db.system"]) cooldown 1m
heal d on violated hot do log(message: key) cooldown 1m
heal e on violated answered do log(message: "slow", target: attr["order.id"]) cooldown 1m
heal f on violated failed do log(message: attr["http.route"]) cooldown 1m
"""


def test_check_warns_when_an_argument_can_never_have_a_value(tmp_path):
    code, out, err, _ = check(tmp_path, WITNESS, "--format", "json")
    assert code == 0, out + err
    by = {}
    for r in policy_results(out):
        by.setdefault(r["name"], []).append(r)
    status = {name: [r["status"] for r in rs] for name, rs in by.items()}
    assert status == {"a": ["warning"], "b": ["warning"], "c": ["holds"], "d": ["holds"],
                      "e": ["warning"], "f": ["holds"]}
    [a] = by["a"]
    assert a["details"] == {"check": "witness", "argument": "message",
                            "reads": 'attr["order.id"]', "property": "failed"}
    assert a["location"]["line"] == 9
    assert "cannot have" in a["message"] and "always skipped" in a["message"]
    [b] = by["b"]
    assert "metric invariant" in b["message"] and "no witness span" in b["message"]
    assert b["details"]["reads"] == "service"
    assert by["e"][0]["details"]["argument"] == "target"
    # --strict makes the warnings count
    code, _, _, _ = check(tmp_path, WITNESS, "--strict")
    assert code == 1


def test_a_bare_word_as_an_action_value_hints_to_quote_it(tmp_path):
    """Issue 21 item 8: `state: open` is an unknown name; say to write `"open"`."""
    code, out, err, _ = check(tmp_path, 'property p: G (name != "x")\n'
                              'heal b on violated p do circuit_breaker(name: "pay", state: open)'
                              ' cooldown 1m\n')
    assert code == 2
    assert "unknown name `open`" in out + err
    assert 'an action\'s value is a string: write `"open"`' in out + err
