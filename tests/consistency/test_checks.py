"""`tracelogic check` on a spec with `consistency` declarations (consistency/checks.py):
one result per declaration, never silence; an `operation` the model cannot take is an
error there, and the same spec and spans under `monitor` are inconclusive with that
reason (not an internal error): `check` predicts what `monitor` would say."""
from __future__ import annotations

import io
import json
from pathlib import Path

from interop.npm_tools import sarif_validate
from tracelogic import cli
from tracelogic.consistency.history import Operation
from tracelogic.consistency.jepsen import to_otlp_json

LOCK = """\
model lock {
  var held : bool = false
  action acquire when !held do held := true
  action unlock when held do held := false
}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err, io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def check(tmp_path: Path, text: str, *more: str) -> tuple[int, dict[str, dict]]:
    spec = tmp_path / "s.spec"
    spec.write_text(text)
    code, out, _ = run("check", str(spec), "--format", "json", *more)
    doc = json.loads(out)
    return code, {r["name"]: r for r in doc["results"] if r["kind"] == "consistency"}


def test_each_declaration_gets_a_result_saying_what_it_checks(tmp_path):
    code, res = check(tmp_path, LOCK + "consistency mutex: linearizable lock\n"
                      "consistency reg: sequential register\n"
                      "consistency sess: sessions kv\n")
    assert code == 0
    assert {n: r["status"] for n, r in res.items()} == {"mutex": "ok", "reg": "ok",
                                                         "sess": "ok"}
    assert res["mutex"]["details"]["model_operations"] == ["acquire", "unlock"]
    assert res["mutex"]["location"]["line"] == 6
    assert "span convention" in res["reg"]["message"] and "monitor" in res["reg"]["message"]
    code, out, _ = run("check", str(tmp_path / "s.spec"))
    assert "consistency mutex: ok" in out and "consistency sess: ok" in out


def test_an_operation_the_model_lacks_is_an_error_and_monitor_is_inconclusive(tmp_path):
    text = LOCK + 'operation read when name == "GET" key attr["k"] output attr["v"]\n' \
                  "consistency mutex: linearizable lock\n"
    code, res = check(tmp_path, text)
    assert code == 1
    assert res["mutex"]["status"] == "error"
    assert "no operation `read` (line 6)" in res["mutex"]["message"]
    # monitor over such spans: inconclusive, with the same reason, exit 1
    spans = tmp_path / "t.json"
    ops = [Operation(0, "GET", None, 1, 1000, 2000, key="k")]
    doc = to_otlp_json(ops, history="t")
    for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        s["name"] = "GET"
        s["attributes"] += [{"key": "k", "value": {"stringValue": "x"}}]
    spans.write_text(json.dumps(doc))
    code, out, err = run("monitor", str(tmp_path / "s.spec"), str(spans))
    assert code == 1, err
    assert "consistency mutex (linearizable lock): INCONCLUSIVE" in out
    assert "the lock model has no operation `read`" in out


def test_sessions_over_a_model_without_reads_and_writes_is_a_warning(tmp_path):
    code, res = check(tmp_path, "consistency q: causal queue\n")
    assert code == 0 and res["q"]["status"] == "warning"
    assert "would judge nothing" in res["q"]["message"]
    code, _ = check(tmp_path, "consistency q: causal queue\n", "--strict")
    assert code == 1


def test_sessions_mapping_no_write_is_a_warning_and_other_operations_are_named(tmp_path):
    code, res = check(tmp_path, 'operation read when name == "GET"\n'
                      "consistency s: sessions register\n")
    assert res["s"]["status"] == "warning" and "no write" in res["s"]["message"]
    code, res = check(tmp_path, 'operation read when name == "GET"\n'
                      'operation write when name == "PUT"\n'
                      'operation cas when name == "CAS"\n'
                      "consistency s: sessions cas_register\n")
    assert res["s"]["status"] == "ok" and "ignores cas" in res["s"]["message"]


def test_operations_without_a_consistency_declaration_are_a_warning(tmp_path):
    code, res = check(tmp_path, 'operation read when name == "GET"\n')
    assert code == 0 and res["operations"]["status"] == "warning"


def test_an_error_shows_in_sarif_at_the_declaration(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELOGIC_DOCS_URL", "https://docs.example.org/tracelogic/docs/")
    spec = tmp_path / "s.spec"
    spec.write_text('operation pop when name == "POP"\nconsistency r: linearizable register\n'
                    "consistency q: causal queue\n")
    code, out, _ = run("check", str(spec), "--format", "sarif")
    assert code == 1
    results = {r["ruleId"]: r for r in json.loads(out)["runs"][0]["results"]}
    r = results["tracelogic/consistency/r"]
    assert r["level"] == "error"
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert results["tracelogic/consistency/q"]["level"] == "warning"
    path = tmp_path / "check.sarif"
    path.write_text(out)
    assert sarif_validate(path, tmp_path) == []
