"""Model checking cross-checked against spin and NuSMV (both always).

**spin.** Random small models (bool, enum and range variables, guarded actions,
deadlocks included) and random LTL formulas **without X** (Debian's spin 6.5.2
rejects X) are exported to Promela; our verdict must equal spin's for every
invariant, ``deadlock_free`` and LTL check. Both extend deadlocked runs by
stuttering. Spin is installed by ``scripts/install.sh``; a missing spin fails
these tests rather than skipping them.

**NuSMV.** The same kind of models with formulas **including X** are exported
to SMV and checked by NuSMV through pynusmv, which ``scripts/install.sh`` builds
(``scripts/install_pynusmv.sh``, its wheel cached); a missing pynusmv fails these
tests rather than skipping them.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from tracelogic.checkers.models import run_model_check
from tracelogic.models.export import to_promela, to_smv
from tracelogic.models.machine import Machine
from tracelogic.spec.loader import load
from tests.models.modelgen import random_spec

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
N_SPIN = 120 if LONG else 14
N_NUSMV = 200 if LONG else 25

FIXED = {
    "breaker": open("examples/language/models.spec").read(),
    "mutex": """enum Pc { idle, waiting, critical }
model m {
  var p1 : Pc = idle
  var p2 : Pc = idle
  var turn : 1..2 = 1
  var f1 : bool = false
  var f2 : bool = false
  action want1  when p1 == idle do p1 := waiting; f1 := true; turn := 2
  action want2  when p2 == idle do p2 := waiting; f2 := true; turn := 1
  action enter1 when p1 == waiting & (!f2 | turn == 1) do p1 := critical
  action enter2 when p2 == waiting ENTER2 do p2 := critical
  action leave1 when p1 == critical do p1 := idle; f1 := false
  action leave2 when p2 == critical do p2 := idle; f2 := false
}
check m: invariant !(p1 == critical & p2 == critical)
check m: deadlock_free
check m: G (p1 == waiting -> F p1 == critical)
check m: G F (p1 == critical)
check m: G (p2 == critical -> (p2 == critical U p2 == idle))
""",
    "swap": """model m {
  var x : 0..3 = 0
  var y : 0..3 = 3
  action swap do x := y; y := x
  action dec when x > 0 do x := x - 1
}
check m: invariant x + y <= 6
check m: G F (x == 3)
check m: F G (x == 0)
check m: deadlock_free
""",
    "stuck": """model m {
  var x : 0..3 = 0
  action a when x < 3 do x := x + 1
}
check m: deadlock_free
check m: F G (x == 3)
check m: G F (x == 0)
check m: (x == 0) U (x == 1)
""",
}
FIXED["floor_division"] = """model m {
  var x : -4..4 = -4
  var q : -2..2 = -2
  var r : 0..2 = 2
  action a when x < 4 do x := x + 1; q := (x + 1) // 3; r := (x + 1) % 3
  action b when x > -4 do x := x - 1; q := (x - 1) // -3; r := -((x - 1) % -3)
}
check m: invariant q * 3 + r == x | q * -3 - r == x
check m: invariant r >= 0
check m: G F (x == 4)
"""
FIXED["mutex_buggy"] = FIXED["mutex"].replace("ENTER2", "")
FIXED["mutex"] = FIXED["mutex"].replace("ENTER2", "& (!f1 | turn == 2)")
FIXED["breaker_broken"] = FIXED["breaker"].replace(
    "action probe_ko", "action reset when state == open do state := closed\n  action probe_ko"
).replace("check breaker: G (state == open -> X state != closed)",
          "check breaker: G (state == open -> (state != closed U state == half_open))")


def _ours(text: str):
    spec = load(text, filename="m.spec")
    (name,) = spec.models
    machine = Machine(spec.models[name])
    checks = [c for c in spec.checks if c.target == name]
    verdicts = [run_model_check(machine, c, {}).status for c in checks]
    return machine, checks, verdicts


# ---------------------------------------------------------------- spin


def _spin(promela: str, names: list[str]) -> dict[str, str]:
    spin = shutil.which("spin")
    assert spin, "spin is not installed: run scripts/install.sh (apt-get install spin)"
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "m.pml"), "w") as f:
            f.write(promela)
        r = subprocess.run([spin, "-a", "m.pml"], cwd=d, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run(["gcc", "-O0", "-w", "-DSAFETY_OFF", "-o", "pan", "pan.c"], cwd=d,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out = {}
        for name in names:
            r = subprocess.run(["./pan", "-a", "-m1000000", "-N", name], cwd=d,
                               capture_output=True, text=True, timeout=120)
            text = r.stdout + r.stderr
            assert "max search depth too small" not in text, text
            m = re.search(r"errors: (\d+)", text)
            assert m, text
            out[name] = "holds" if m.group(1) == "0" else "fails"
        return out


def _compare_with_spin(text: str) -> int:
    machine, checks, ours = _ours(text)
    promela = to_promela(machine, checks)
    names = re.findall(r"^ltl (\w+) \{", promela, re.M)
    labels, counts = [], {}
    for c in checks:
        counts[c.kind] = counts.get(c.kind, 0) + 1
        labels.append(f"{c.kind}_{counts[c.kind]}")
    theirs = _spin(promela, names)
    compared = 0
    for label, verdict in zip(labels, ours):
        if label not in theirs:
            continue  # uses X: not exported for spin
        assert verdict in ("holds", "fails"), (label, verdict)
        assert verdict == theirs[label], (label, verdict, theirs[label], text)
        compared += 1
    return compared


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_models_agree_with_spin(name):
    assert _compare_with_spin(FIXED[name]) >= 2


def test_fixed_models_have_the_expected_verdicts():
    """Not hard-coded against spin: these are the verdicts the examples are built to have."""
    _, _, v = _ours(FIXED["mutex_buggy"])
    assert v[0] == "fails"
    _, _, v = _ours(FIXED["breaker_broken"])
    assert v[1] == "fails"


@pytest.mark.parametrize("seed", range(N_SPIN))
def test_random_models_agree_with_spin(seed):
    # depth 2: spin's own LTL translation grows fast with nested W/M, which it lacks
    assert _compare_with_spin(random_spec(seed, n_formulas=4, allow_next=False,
                                          ltl_depth=2)) >= 2


# ---------------------------------------------------------------- NuSMV

HAVE_PYNUSMV = importlib.util.find_spec("pynusmv") is not None


def _need_pynusmv():
    if not HAVE_PYNUSMV:
        pytest.fail("pynusmv is not importable; scripts/install.sh builds it "
                    "(bash scripts/install_pynusmv.sh)")


def _compare_with_nusmv(text: str) -> int:
    from tracelogic.models.nusmv import check_smv

    machine, checks, ours = _ours(text)
    results = {n: ok for n, ok, _ in check_smv(to_smv(machine, checks, invariants_as_ltl=True))}
    assert results.pop("no_runtime_error", True)
    counts: dict[str, int] = {}
    for c, verdict in zip(checks, ours):
        counts[c.kind] = counts.get(c.kind, 0) + 1
        label = f"{c.kind}_{counts[c.kind]}"
        assert verdict == ("holds" if results[label] else "fails"), (label, verdict, text)
    return len(checks)


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_models_agree_with_nusmv(name):
    _need_pynusmv()
    assert _compare_with_nusmv(FIXED[name]) >= 3


@pytest.mark.parametrize("seed", range(N_NUSMV))
def test_random_models_with_next_agree_with_nusmv(seed):
    _need_pynusmv()
    assert _compare_with_nusmv(random_spec(10_000 + seed, n_formulas=5, allow_next=True)) >= 5
