"""Exports: Promela/SMV text, pictures with the counterexample marked, `tracelogic export`.

Whether the Promela and SMV *mean* the same as our models is tested against spin
and NuSMV in tests/oracle/test_spin_models.py; here: shape, marking and the CLI.
"""
from __future__ import annotations

import inspect
import io

from tracelogic.cli import run as cli
from tracelogic.models.check import check_ltl_formula
from tracelogic.models.export import (export_command, model_dot, model_mermaid, to_promela,
                                      to_smv, workflow_dot, workflow_mermaid)
from tracelogic.models.machine import Machine
from tracelogic.spec.loader import load

MODELS = "examples/language/models.spec"


def test_export_command_signature():
    sig = inspect.signature(export_command)
    assert list(sig.parameters) == ["spec_path", "model", "fmt", "search_path"]
    # the directories imports may read (--spec-path) come by keyword only
    assert sig.parameters["search_path"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.return_annotation in (str, "str")


def test_promela_of_the_breaker():
    text = export_command(MODELS, "breaker", "promela")
    assert "mtype = { closed, open, half_open };" in text
    assert "ltl invariant_1 { [] (fails <= 5) }" in text
    assert "/* ltl_1: not exported, spin 6.5.2 rejects X */" in text
    assert "end:" in text and text.count("d_step") == 5


def test_simultaneous_assignment_uses_temporaries():
    spec = load("model m {\n  var x : 0..3 = 0\n  var y : 0..3 = 3\n"
                "  action swap do x := y; y := x\n}\n", filename="m.spec")
    text = to_promela(Machine(spec.models["m"]))
    assert "t_x = y; t_y = x; x = t_x; y = t_y" in text
    assert "t_x = 0; t_y = 0" in text  # reset: no extra states


def test_reserved_names_are_mangled():
    spec = load("enum E { init, esac }\nmodel m {\n  var skip : bool = false\n"
                "  var mod : E = init\n  action run do skip := !skip; mod := esac\n}\n",
                filename="m.spec")
    m = Machine(spec.models["m"])
    promela = to_promela(m)
    assert "bool skip_ = false;" in promela and "mtype = { init_, esac };" in promela
    smv = to_smv(m)
    assert "skip : boolean;" in smv and "mod_ : {init_, esac_};" in smv


def test_smv_of_the_breaker():
    text = export_command(MODELS, "breaker", "smv")
    assert "state : {closed, open, half_open};" in text and "fails : 0..10;" in text
    assert "LTLSPEC NAME ltl_1 := (G ((state = open) -> (X (state != closed))));" in text
    assert "INVARSPEC NAME deadlock_free_1 := (!tl_deadlocked);" in text
    assert "(tl_deadlocked & next(state) = state & next(fails) = fails)" in text


BROKEN = open(MODELS).read().replace(
    "action probe_ko", "action reset when state == open do state := closed\n  action probe_ko")


def test_pictures_mark_the_counterexample(tmp_path):
    spec = load(BROKEN, filename="b.spec")
    m = Machine(spec.models["breaker"])
    ltl = next(c for c in spec.checks if c.kind == "ltl")
    run = check_ltl_formula(m, ltl.body).run
    dot = model_dot(m, run)
    assert dot.startswith('digraph "breaker"') and dot.count("color=red") >= len(run)
    assert 'label="reset", color=red' in dot
    mer = model_mermaid(m, run)
    assert mer.startswith("flowchart LR") and "linkStyle" in mer
    path = tmp_path / "b.spec"
    path.write_text(BROKEN)
    assert "color=red" in export_command(str(path), "breaker", "dot")
    assert "color=red" not in export_command(MODELS, "breaker", "dot")  # nothing fails there


def test_workflow_pictures():
    spec = load("examples/language/workflow.spec")
    dot = workflow_dot(spec.workflows["order"])
    assert 'label="validate.start"' in dot and "split" in dot and "join" in dot
    assert "flowchart LR" in workflow_mermaid(spec.workflows["order"])


def test_cli_export():
    out, err = io.StringIO(), io.StringIO()
    assert cli(["export", f"{MODELS}::breaker", "--promela"], out, err) == 0
    assert "active proctype" in out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert cli(["export", "examples/language/workflow.spec::order", "--dot"], out, err) == 0
    assert cli(["export", f"{MODELS}::brekaer", "--smv"], io.StringIO(), err) == 2
    assert "did you mean" in err.getvalue() or "breaker" in err.getvalue()
    err = io.StringIO()
    assert cli(["export", "examples/language/workflow.spec::order", "--promela"],
               io.StringIO(), err) == 2
    assert "--dot or --mermaid" in err.getvalue()
    assert cli(["export", MODELS, "--smv"], io.StringIO(), io.StringIO()) == 2
    assert cli(["export", "nope.spec::m", "--smv"], io.StringIO(), io.StringIO()) == 2


def test_promela_warns_that_spins_int_is_32_bit(tmp_path):
    """Issue 21 item 8: an unbounded int wraps around in spin, not in tracelogic."""
    path = tmp_path / "m.spec"
    path.write_text("model m {\n  var n : int = 0\n  var small : 0..3 = 0\n"
                    "  action up do n := n + 1; small := 0\n}\n")
    text = export_command(str(path), "m", "promela")
    [line] = [line for line in text.splitlines() if line.startswith("/* warning: ")]
    assert "`n` is an unbounded integer" in line and "32-bit" in line
    assert "var n: 0..1000" in line
    out, err = io.StringIO(), io.StringIO()
    assert cli(["export", f"{path}::m", "--promela"], out, err) == 0
    assert out.getvalue() == text
    assert err.getvalue() == ("tracelogic export: warning: " + line[len("/* warning: "):-3]
                              + "\n")
    # a model within 32 bits exports silently
    out, err = io.StringIO(), io.StringIO()
    assert cli(["export", f"{MODELS}::breaker", "--promela"], out, err) == 0
    assert err.getvalue() == "" and "/* warning" not in out.getvalue()
