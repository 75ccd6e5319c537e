"""`monitor --format junit|sarif` report a spec's consistency checks like its properties
(consistency/formats.py): read back with junitparser, the JUnit reader CI tooling uses, and
validated by Microsoft's SARIF multitool, as tests/engine/test_junit.py and
tests/checkers/test_sarif.py do for properties.

The verdicts are not taken on trust from the report: each test compares the formats'
per-key verdicts with the JSON report of the same run, and the witness operations with
the spans that hold them.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from junitparser import Failure, JUnitXml, TestSuite

from interop.npm_tools import sarif_validate
from tracelogic import cli
from tracelogic.consistency.formats import findings, html_json, junit_cases, sarif_results
from tracelogic.consistency.history import Operation
from tracelogic.consistency.jepsen import to_otlp_json
from tracelogic.consistency.report import check_spec
from tracelogic.consistency.spans import operations
from tracelogic.ingest.otlp import read_path

import tracelogic

SPEC = """\
property p: G true
consistency store: linearizable cas_register
consistency sess: sessions register
"""
O = Operation


def history(stale: bool) -> list[Operation]:
    """Key a: two writes then, with ``stale``, a read of the value the second replaced
    (not linearizable); key b is fine; key c: client c1 writes 5 and then reads nil, which
    breaks read-your-writes (and linearizability)."""
    return [O(0, "write", 1, None, 1000, 2000, key="a", client="c1"),
            O(1, "write", 2, None, 3000, 4000, key="a", client="c2"),
            O(2, "read", None, 1 if stale else 2, 5000, 6000, key="a", client="c3"),
            O(3, "write", 7, None, 1000, 2000, key="b", client="c1"),
            O(4, "read", None, 7, 3000, 4000, key="b", client="c2"),
            O(5, "write", 5, None, 1000, 2000, key="c", client="c1"),
            O(6, "read", None, 5 if not stale else None, 3000, 4000, key="c", client="c1")]


def files(tmp_path: Path, stale: bool) -> tuple[str, str]:
    spec, traces = tmp_path / "s.spec", tmp_path / "t.json"
    spec.write_text(SPEC)
    traces.write_text(json.dumps(to_otlp_json(history(stale), history="t")))
    return str(spec), str(traces)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err, io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def json_verdicts(spec: str, traces: str, *more: str) -> dict[str, dict]:
    _, out, _ = run("monitor", spec, traces, "--format", "json", *more)
    return {c["name"]: c for c in json.loads(out)["consistency"]}


def junit(*argv: str) -> tuple[int, TestSuite]:
    code, out, _ = run("monitor", *argv, "--format", "junit")
    xml = JUnitXml.fromstring(out)
    (suite,) = xml if isinstance(xml, JUnitXml) else (xml,)
    return code, suite


def test_junit_a_case_per_declaration_failing_with_each_violated_key(tmp_path):
    spec, traces = files(tmp_path, stale=True)
    code, suite = junit(spec, traces)
    assert code == 1
    cases = {c.name: c for c in suite}
    assert set(cases) == {"p", "store", "sess"}
    assert cases["store"].classname == "tracelogic.consistency"
    assert suite.failures == 2 and suite.tests == 3
    doc = json_verdicts(spec, traces)
    for name in ("store", "sess"):
        (fail,) = [r for r in cases[name].result if isinstance(r, Failure)]
        bad = sorted(f"'{k['key']}'" for k in doc[name].get("keys", [])
                     if k["verdict"] == "violated") or \
            sorted({f"'{v['key']}'" for v in doc[name]["violations"]})
        # one failure, holding every violated key (as many as the JSON report says)
        assert fail.message.startswith(f"{name}: {len(bad)} violated key(s)")
        for key in bad:
            assert f"key {key}: violated" in fail.text
    store = [r for r in cases["store"].result if isinstance(r, Failure)][0].text
    assert "cannot be linearized together" in store and "model state after it" in store
    w = doc["store"]["keys"][0]["witness"]
    for o in w["operations"]:  # the witness's operations, each as its line
        assert f"#{o['id']} {o['text']}" in store
    sess = [r for r in cases["sess"].result if isinstance(r, Failure)][0].text
    assert "read-your-writes" in sess


def test_junit_passes_a_linearizable_store_and_agrees_with_the_exit_code(tmp_path):
    spec, traces = files(tmp_path, stale=False)
    code, suite = junit(spec, traces)
    assert code == 0 and suite.failures == 0
    store = [c for c in suite if c.name == "store"][0]
    assert not store.result  # passed
    assert "3 satisfied, 0 violated, 0 inconclusive" in store.system_out


def test_junit_inconclusive_fails_unless_allow_unknown(tmp_path):
    spec, traces = files(tmp_path, stale=False)
    Path(spec).write_text("consistency q: linearizable queue\n")  # no queue operation
    code, suite = junit(spec, traces)
    (case,) = list(suite)
    assert code == 1 and suite.failures == 1
    assert case.result[0].type == "inconclusive"
    assert "the queue model has no operation `write`" in case.result[0].message
    code, suite = junit(spec, traces, "--allow-unknown")
    (case,) = list(suite)
    assert code == 0 and suite.failures == 0 and not case.result
    assert "inconclusive" in case.system_out


def test_a_budget_out_key_is_an_inconclusive_key_in_every_format(tmp_path):
    from tracelogic.consistency.linearizability import Budget

    spec = tracelogic.load("consistency store: linearizable register\n")
    ops = [O(i, "write", i, None, 0, 100, key="k", client=f"c{i}") for i in range(6)]
    ops.append(O(6, "read", None, 99, 200, 300, key="k", client="r"))
    from tracelogic.consistency import check, model
    from tracelogic.consistency.report import ConsistencyResult

    r = check(model("register"), ops, budget=Budget(steps=3))
    cr = ConsistencyResult(spec.consistency[0], len(ops), r, tuple(ops))
    [f] = findings(cr)
    assert f.verdict == "inconclusive" and "budget" in f.reason
    [case] = junit_cases([cr])
    assert case.failure is not None and "1 inconclusive key(s) of 1" in case.failure
    assert junit_cases([cr], allow_unknown=True)[0].failure is None
    _, [res] = sarif_results([cr])
    assert res["level"] == "warning" and "inconclusive" in res["message"]["text"]


def test_sarif_a_result_per_violated_key_with_its_operations_as_related_locations(tmp_path):
    spec, traces = files(tmp_path, stale=True)
    code, out, _ = run("monitor", spec, traces, "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    results = [r for r in doc["runs"][0]["results"]
               if r["ruleId"].startswith("tracelogic/consistency/")]
    spans = {s.span_id: s for s in read_path(traces).spans}
    verdicts = json_verdicts(spec, traces)
    lin = [r for r in results if r["ruleId"] == "tracelogic/consistency/store"]
    bad = [k for k in verdicts["store"]["keys"] if k["verdict"] == "violated"]
    assert len(lin) == len(bad) == 2
    for r, k in zip(lin, bad):
        assert r["level"] == "error" and r["properties"]["key"] == k["key"]
        assert r["properties"]["witness"] == k["witness"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
        related = r["relatedLocations"]
        assert [x["id"] for x in related] == list(range(len(k["witness"]["operations"])))
        for x, o in zip(related, k["witness"]["operations"]):
            (logical,) = x["logicalLocations"]
            _, tid, _, sid = logical["fullyQualifiedName"].split("/")
            # the location names the very span the operation came from
            assert spans[sid].trace_id == tid and spans[sid].start_ns == o["call_ns"]
    sess = [r for r in results if r["ruleId"] == "tracelogic/consistency/sess"]
    assert [r["properties"]["violation"]["guarantee"] for r in sess] == ["read-your-writes"]
    rules = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert {"tracelogic/consistency/store", "tracelogic/consistency/sess"} <= rules


def test_sarif_with_consistency_passes_the_multitool(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELOGIC_DOCS_URL", "https://docs.example.org/tracelogic/docs/")
    spec, traces = files(tmp_path, stale=True)
    Path(spec).write_text(SPEC + "consistency q: linearizable queue\n")  # + a warning
    _, out, _ = run("monitor", spec, traces, "--format", "sarif")
    doc = json.loads(out)
    levels = {r["level"] for r in doc["runs"][0]["results"]}
    assert levels == {"error", "warning"}
    path = tmp_path / "monitor.sarif"
    path.write_text(out)
    assert sarif_validate(path, tmp_path) == []


def test_findings_of_sessions_list_every_key(tmp_path):
    spec, traces = files(tmp_path, stale=True)
    loaded = tracelogic.load(SPEC)
    spans = read_path(traces).spans
    _, sess = check_spec(loaded, spans)
    got = {f.key: f.verdict for f in findings(sess)}
    assert got == {"a": "satisfied", "b": "satisfied", "c": "violated"}
    assert len(operations(spans)) == sess.operations == 7


def test_html_json_holds_each_violated_keys_history_witness_first(tmp_path):
    spec, traces = files(tmp_path, stale=True)
    store, _ = check_spec(tracelogic.load(SPEC), read_path(traces).spans)
    [doc] = html_json([store], max_history=2)
    a = next(k for k in doc["keys"] if k["key"] == "a")
    assert a["history_total"] == 3 and len(a["history"]) == 2
    marked = {o["id"] for o in a["witness"]["operations"] + a["witness"]["partial_linearization"]}
    # cut to 2, the kept operations are ones the witness names
    assert {o["id"] for o in a["history"]} <= marked
    assert all("history" not in k for k in doc["keys"] if k["verdict"] != "violated")
