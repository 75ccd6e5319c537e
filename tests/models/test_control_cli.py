"""`tracelogic simulate` (docs/control.md §6): replays what `check` printed, exit codes, and
bad input answered with a message and exit 2."""
from __future__ import annotations

import io
import json

import pytest

from tracelogic.cli import run
from tests.models.control_specs import BLOCKS, PAGE


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "autoscaler.spec").write_text(BLOCKS[0], encoding="utf-8")
    (tmp_path / "hpa.spec").write_text("\n".join(BLOCKS[1:]), encoding="utf-8")
    return tmp_path


def simulate(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["simulate", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_example_on_the_page_prints_what_it_shows(spec):
    shown = PAGE.split("$ tracelogic simulate ", 1)[1].split("```", 1)[0]
    command, printed = shown.split("\n", 1)
    code, out, _ = simulate(*command.split())
    assert code == 0 and out == printed


def test_a_check_counterexample_replays_to_its_violation(spec):
    out, err = io.StringIO(), io.StringIO()
    assert run(["check", "hpa.spec", "--format", "json", "--timeout", "60"], out=out,
               err=err) == 1
    [flap] = [r for r in json.loads(out.getvalue())["results"]
              if r["name"] == "hpa_no_window.calm"]
    metric = ",".join(flap["details"]["replay"]["metric"])
    code, out, _ = simulate("hpa.spec::hpa_no_window", "--metric", metric, "--claim", "calm",
                            "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["violation"]["period"] == flap["details"]["replay"]["violation_period"]
    # the same metric does not flap the HPA with its stabilization window
    code, out, _ = simulate("hpa.spec::hpa", "--metric", metric, "--claim", "calm")
    assert code == 0 and "claim calm: holds on this run" in out


def test_the_plant_run_breaks_convergence(spec):
    code, out, _ = simulate("autoscaler.spec::pid", "--periods", "25", "--claim", "settles")
    assert code == 1 and "violated at period 21" in out


def test_observed_decisions_are_compared_with_the_declaration(spec):
    # a real loop that kept 3 replicas where the declaration scales down to 2
    code, out, _ = simulate("autoscaler.spec::pid", "--metric", "60,100,100,100",
                            "--observed", "replicas=3,3,3,2")
    assert code == 1
    assert ("observed replicas: diverges at period 2: the declaration gives replicas = 2, "
            "the real loop had 3") in out
    code, out, _ = simulate("autoscaler.spec::pid", "--metric", "60,100,100,100",
                            "--observed", "replicas=3,3,2,2,2", "--format", "json")
    assert code == 0 and json.loads(out)["divergence"] is None
    # one more value than periods is the state after the last period: compared too
    code, out, _ = simulate("autoscaler.spec::pid", "--metric", "60,100,100,100",
                            "--observed", "replicas=3,3,2,2,7", "--format", "json")
    assert code == 1 and json.loads(out)["divergence"] == {"period": 4, "declared": "2",
                                                           "observed": "7"}


@pytest.mark.parametrize("argv, message", [
    (["autoscaler.spec::pid", "--observed", "replica=3"], "VAR one of I, e_prev, replicas"),
    (["autoscaler.spec::pid", "--observed", "replicas=a"], "'a' is not a number"),
    (["autoscaler.spec::pid", "--metric", "60,abc"], "'abc' is not a number"),
    (["autoscaler.spec::pid", "--metric", "1/0"], "is not a number"),
    (["autoscaler.spec::pid", "--metric", "1", "--noise", "1"], "excludes --noise"),
    (["autoscaler.spec::pid", "--periods", "-1"], "between 0 and 100000"),
    (["autoscaler.spec::pdi"], "no controller `pdi`"),
    (["autoscaler.spec::pid", "--claim", "nope"], "has no claim `nope`"),
    (["missing.spec::pid"], "not found"),
    (["autoscaler.spec"], "expected SPEC::CONTROLLER"),
    (["hpa.spec::hpa"], "has no plant: give --metric"),
])
def test_bad_input_exits_2_with_a_message(spec, argv, message):
    code, out, err = simulate(*argv)
    assert code == 2 and message in err and out == ""
