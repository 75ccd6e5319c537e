"""A §7 model as the sequential specification: a lock whose acquire and release must be
ordered so that every action is enabled; from Python and from `tracelogic monitor`."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic import cli
from tracelogic.consistency import check, oracle
from tracelogic.consistency.history import Operation
from tracelogic.consistency.jepsen import to_otlp_json
from tracelogic.consistency.usermodel import from_spec_model

LOCK = """model lock {
  var held : bool = false
  var grants : 0..100 = 0
  action acquire when !held do held := true; grants := grants + 1
  action unlock when held do held := false
  action peek do grants := grants
}
consistency mutex: linearizable lock
"""


def lock():
    return from_spec_model(tracelogic.load(LOCK, filename="lock.spec").models["lock"])


def A(i, call, ret, client, f="acquire"):
    return Operation(i, f, None, None, call, ret, "ok", None, client)


def test_two_overlapping_grants_are_not_linearizable():
    m = lock()
    both = [A(0, 0, 10, "a"), A(1, 5, 12, "b"), A(2, 20, 30, "a", "unlock")]
    r = check(m, both)
    assert r.verdict == "violated" and r.keys[0].witness.state == (True, 1)
    ok = [A(0, 0, 10, "a"), A(1, 5, 40, "b"), A(2, 20, 30, "a", "unlock")]
    assert check(m, ok).verdict == "satisfied"
    assert m.canonical("ACQUIRE") == "acquire" and "unlock" not in m.readonly and "peek" not in m.readonly


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["acquire", "unlock"]), st.integers(0, 20),
                          st.integers(0, 6), st.sampled_from(["ok", "ok", "indeterminate"])),
                min_size=1, max_size=6))
def test_the_search_agrees_with_the_oracle_on_the_users_model(plan):
    m = lock()
    ops = [Operation(i, f, None, None, c, c + d, s, None, f"c{i}")
           for i, (f, c, d, s) in enumerate(plan)]
    want = oracle.linearizable(m, ops)
    assert check(m, ops).verdict == ("satisfied" if want else "violated")


def test_monitor_checks_the_users_model(tmp_path):
    (tmp_path / "lock.spec").write_text(LOCK)
    ops = [A(0, 1000, 2000, "a"), A(1, 1500, 2500, "b")]
    (tmp_path / "t.json").write_text(json.dumps(to_otlp_json(ops)))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["monitor", str(tmp_path / "lock.spec"), str(tmp_path / "t.json")], out,
                   err, io.StringIO(""))
    assert code == 1 and "consistency mutex (linearizable lock): VIOLATED" in out.getvalue()


def test_an_unknown_model_names_the_users_models_too():
    with pytest.raises(tracelogic.errors.SpecError, match="did you mean `lock`"):
        tracelogic.load(LOCK.replace("linearizable lock", "linearizable lokc"), filename="x")


def test_the_docs_lock_example():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "consistency.md").read_text()
    [block] = [b for b in re.findall(r"```spec\n(.*?)```", doc, re.S) if "model lock" in b]
    spec = tracelogic.load(block, filename="doc.spec")
    m = from_spec_model(spec.models[spec.consistency[0].model])
    assert check(m, [A(0, 0, 10, "a"), A(1, 5, 12, "b")]).verdict == "violated"
    assert check(m, [A(0, 0, 10, "a"), A(1, 20, 30, "a", "unlock"),
                     A(2, 5, 40, "b")]).verdict == "satisfied"
