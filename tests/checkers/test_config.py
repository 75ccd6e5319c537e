"""Config invariants over real YAML/JSON/TOML files, with the fields and values each failure names."""
from __future__ import annotations

import textwrap

import pytest
import z3
from hypothesis import given, settings, strategies as st

from tracelogic.checkers.config import _core
from tracelogic.semantics.evaluate import EvalError, compile_expr
from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.semantics.z3enc import Encoder, declare, value_of
from tracelogic.cli import run
from tracelogic.spec.loader import load

SPEC = textwrap.dedent('''
    const max_memory = 1Gi
    config deployment from "deploy/*.yaml" select kind == "Deployment" {
      replicas  : 1..1000  = spec.replicas
      mem_req   : bytes    = spec.containers[0].requests.memory
      mem_limit : bytes    = spec.containers[0].limits.memory
      cpu_req   : cpu      = spec.containers[0].requests.cpu default 0.1
      timeout   : duration = metadata.annotations["timeout"] default 30s
    }
    invariant memory_fits on deployment: mem_limit >= mem_req
    invariant sane_timeout on deployment severity warning: timeout >= 1s
    invariant cpu_small on deployment: cpu_req <= 2
    invariant cluster_memory: sum(deployment.mem_req * deployment.replicas) <= max_memory
''')


def deployment(name, replicas=2, req="128Mi", limit="256Mi", cpu=None, timeout=None):
    lines = ["kind: Deployment", "metadata:", f"  name: {name}"]
    if timeout is not None:
        lines += ["  annotations:", f"    timeout: {timeout}"]
    lines += ["spec:", f"  replicas: {replicas}", "  containers:", "    - requests:",
              f"        memory: {req}"]
    if cpu is not None:
        lines.append(f"        cpu: {cpu}")
    lines += ["      limits:", f"        memory: {limit}"]
    return "\n".join(lines) + "\n"


def check(tmp_path, yaml_text, spec=SPEC, **options):
    (tmp_path / "deploy").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "app.yaml").write_text(yaml_text)
    (tmp_path / "c.spec").write_text(spec)
    s = load(str(tmp_path / "c.spec"))
    report = CheckReport()
    run_checks(s, report, **options)
    return report


def results(report, name=None, status=None):
    return [r for r in report.results if (name is None or r.name == name)
            and (status is None or r.status == status)]


def test_multi_document_yaml_only_selected_documents_count(tmp_path):
    text = deployment("a") + "---\nkind: Service\nspec: {}\n---\n" + \
        deployment("b", req="512Mi", limit="256Mi", cpu="500m")
    report = check(tmp_path, text)
    [bad] = results(report, "memory_fits", "violated")
    assert bad.details["document"] == 2  # the Service (document 1) is not selected
    assert bad.details["values"] == {"mem_limit": "256Mi", "mem_req": "512Mi"}
    assert bad.details["core"] == ["mem_limit", "mem_req"]
    # the config file lines of the offending fields, for SARIF
    lines = text.splitlines()
    second = lines.index("  name: b")
    assert {loc.line for loc in bad.related} == {
        i + 1 for i, ln in enumerate(lines) if "memory:" in ln and i > second}
    assert results(report, "cpu_small", "holds")
    assert report.exit_code() == 1


def test_unsat_core_names_only_the_fields_that_matter(tmp_path):
    spec = SPEC + "invariant both on deployment: replicas <= 10 and timeout >= 1s\n"
    report = check(tmp_path, deployment("a", replicas=50, timeout="5s"), spec)
    [bad] = results(report, "both", "violated")
    assert bad.details["core"] == ["replicas"]
    assert bad.details["values"] == {"replicas": "50", "timeout": "5s"}


def test_cross_document_aggregate_names_the_top_contributors(tmp_path):
    text = deployment("a", replicas=4, req="256Mi") + "---\n" + \
        deployment("b", replicas=1, req="128Mi")
    report = check(tmp_path, text)
    [bad] = results(report, "cluster_memory", "violated")
    agg = bad.details["sum(deployment)"]
    assert agg["value"] == "1152Mi"
    assert [t["document"] for t in agg["top"]] == [0, 1]


def test_missing_field_without_default_is_an_input_error_for_that_document(tmp_path):
    text = deployment("a") + "---\nkind: Deployment\nspec:\n  replicas: 3\n"
    report = check(tmp_path, text)
    errs = results(report, status="input-error")
    assert any("document 1" in r.message and "spec.containers[0].requests.memory" in r.message
               and "mem_req" in r.message for r in errs)
    assert results(report, "memory_fits", "holds")  # document 0 was still checked
    assert report.exit_code() == 2


def test_value_of_the_wrong_shape_is_reported_at_its_line(tmp_path):
    text = deployment("a", req="lots")
    report = check(tmp_path, text)
    [err] = [r for r in results(report, status="input-error") if "mem_req" in r.name]
    assert "'lots'" in err.message and "512Mi" in err.message
    assert err.location.line == text.splitlines().index("        memory: lots") + 1


def test_wrong_units_and_kubernetes_quantities(tmp_path):
    report = check(tmp_path, deployment("a", cpu="500m", timeout="1h30m", req="1G",
                                        limit="1Gi"))
    assert not results(report, status="input-error")
    assert results(report, "memory_fits", "holds")
    bad = check(tmp_path, deployment("a", timeout="10"))
    assert any("timeout" in r.name and "duration" in r.message
               for r in results(bad, status="input-error"))


def test_range_type_violation_is_reported(tmp_path):
    report = check(tmp_path, deployment("a", replicas=0))
    [bad] = results(report, "deployment.replicas", "violated")
    assert "outside 1..1000" in bad.message


def test_unparseable_yaml_names_file_and_line(tmp_path):
    report = check(tmp_path, "kind: Deployment\nspec: [unclosed\n")
    [err] = results(report, status="input-error")
    assert "app.yaml:" in err.message and "invalid YAML" in err.message
    assert report.exit_code() == 2


def test_json_and_toml(tmp_path):
    spec = ('config svc from "svc.*" { port : 1..65535 = server.port\n'
            '  timeout : duration = server.timeout }\n'
            'invariant low_port on svc: port >= 1024\n')
    (tmp_path / "svc.json").write_text('{"server": {"port": 80, "timeout": "2s"}}')
    (tmp_path / "svc.toml").write_text('[server]\nport = 8080\ntimeout = "1s"\n')
    (tmp_path / "s.spec").write_text(spec)
    report = CheckReport()
    run_checks(load(str(tmp_path / "s.spec")), report)
    [bad] = results(report, "low_port", "violated")
    assert bad.details["file"].endswith("svc.json") and bad.details["values"] == {"port": "80"}
    (tmp_path / "svc.json").write_text('{"server": {"port": 80,, }}')
    report = CheckReport()
    run_checks(load(str(tmp_path / "s.spec")), report)
    assert any("svc.json:1:" in r.message and "invalid JSON" in r.message
               for r in results(report, status="input-error"))


def test_inconsistent_vacuous_and_redundant_invariants(tmp_path):
    spec = SPEC + textwrap.dedent('''
        invariant few on deployment: replicas <= 5
        invariant many on deployment: replicas >= 10
    ''')
    report = check(tmp_path, deployment("a"), spec)
    [bad] = results(report, "deployment", "inconsistent")
    assert bad.details["core"] == ["few", "many"]
    spec = SPEC + textwrap.dedent('''
        invariant positive on deployment: replicas >= 1
        invariant few on deployment: replicas <= 5
        invariant fewer on deployment: replicas <= 3
        invariant never on deployment: replicas > 2000 -> timeout > 1s
    ''')
    report = check(tmp_path, deployment("a"), spec)
    warnings = {r.name: r.message for r in results(report, status="warning")}
    assert "vacuous" in warnings["positive"]          # the range type 1..1000 already says it
    assert "condition can never hold" in warnings["never"]
    assert warnings["few"] == "redundant: implied by fewer"
    assert "fewer" not in warnings


def test_glob_matching_nothing(tmp_path):
    (tmp_path / "c.spec").write_text(SPEC)
    report = CheckReport()
    run_checks(load(str(tmp_path / "c.spec")), report)
    assert any("no file matches" in r.message for r in results(report, status="input-error"))
    opt = SPEC.replace('from "deploy', 'from optional "deploy')
    (tmp_path / "c.spec").write_text(opt)
    report = CheckReport()
    run_checks(load(str(tmp_path / "c.spec")), report)
    assert not results(report, status="input-error")


def test_config_override_on_the_command_line(tmp_path, capsys):
    (tmp_path / "other.yaml").write_text(deployment("x", req="1Gi", limit="512Mi"))
    (tmp_path / "c.spec").write_text(SPEC)
    import io
    out, err = io.StringIO(), io.StringIO()
    code = run(["check", str(tmp_path / "c.spec"), "--config",
                f"deployment={tmp_path / 'other.yaml'}", "--format", "sarif"], out, err)
    assert code == 1
    import json
    sarif = json.loads(out.getvalue())
    [res] = [r for r in sarif["runs"][0]["results"]
             if r["ruleId"] == "tracelogic/invariant/memory_fits"]
    # code scanning annotates the first location: the config line that broke the invariant;
    # the invariant in the spec is a related location.
    [first] = res["locations"]
    assert first["physicalLocation"]["artifactLocation"]["uri"].endswith("other.yaml")
    assert first["physicalLocation"]["region"]["startLine"] in (8, 10)  # a `memory:` line
    related = [loc["physicalLocation"]["artifactLocation"]["uri"]
               for loc in res["relatedLocations"]]
    assert related[0].endswith("c.spec")
    assert run(["check", str(tmp_path / "c.spec"), "--config", "nope=x.yaml"],
               io.StringIO(), io.StringIO()) == 2


# ---------------------------------------------------------------- differential

FIELDS = {"a": "int", "b": "int", "t": "duration"}


@st.composite
def int_terms(draw, depth=0):
    if depth > 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(["a", "b", str(draw(st.integers(-9, 9)))]))
    op = draw(st.sampled_from(["+", "-", "*", "//", "%"]))
    return f"({draw(int_terms(depth + 1))} {op} {draw(int_terms(depth + 1))})"


@st.composite
def invariants(draw):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 2))
        if kind == 2:
            parts.append(f"t {draw(st.sampled_from(['<', '>=']))} {draw(st.integers(0, 5))}s")
        else:
            parts.append(f"{draw(int_terms())} {draw(st.sampled_from(['<', '<=', '==', '!=']))} "
                         f"{draw(int_terms())}")
    body = parts[0]
    for p in parts[1:]:
        body = f"({body}) {draw(st.sampled_from(['and', 'or', '->']))} ({p})"
    return body


@settings(max_examples=300, deadline=None)
@given(invariants(), st.integers(-20, 20), st.integers(-20, 20), st.integers(0, 10))
def test_z3_verdict_equals_python_evaluation(body, a, b, t):
    spec = load('config c from optional "x.yaml" { a : int = a  b : int = b  t : duration = t }'
                f"\ninvariant i on c: {body}\n", filename="d.spec")
    inv, cfg = spec.invariants[0], spec.configs["c"]
    values = {("config", "c", "a"): a, ("config", "c", "b"): b,
              ("config", "c", "t"): t * 10**9}
    try:
        python = bool(compile_expr(inv.body)(values))
    except EvalError:
        python = None  # division by zero: Python refuses, and so must the encoding's side conditions
    env = {}
    for bnd in cfg.bindings:
        env[("config", "c", bnd.name)], _ = declare(bnd.name, bnd.type)
    enc = Encoder(env).encode(inv.body)
    fixed = [env[k] == value_of(bnd.type, values[k]) for bnd in cfg.bindings
             for k in [("config", "c", bnd.name)]]
    s = z3.Solver()
    s.add(*fixed)
    zero_reachable = any(s.check(c, d == 0) == z3.sat for c, d, _ in enc.divisions)
    if python is None:
        assert zero_reachable
        return
    assert not zero_reachable
    assert (s.check(enc.term) == z3.sat) == python
    if not python:
        assert set(_core(inv, cfg, values)) <= set(FIELDS)


# ------------------------------------------------------------ cross-document aggregates

AGG_SPEC = textwrap.dedent('''
    config deployment from "deploy/*.yaml" select kind == "Deployment" {
      replicas : 1..1000 = spec.replicas
      mem_req  : bytes   = spec.containers[0].requests.memory
      cpu_req  : cpu     = spec.containers[0].requests.cpu default 0.1
      timeout  : duration = metadata.annotations["timeout"] default 30s
    }
''')
# replicas 20, 2, 7 (the example): sum 29, min 2, max 20, avg 29/3, count 3
THREE = "---\n".join([
    deployment("a", replicas=20, req="96Mi", cpu="600m", timeout="1m"),
    deployment("b", replicas=2, req="32Mi", cpu="100m", timeout="30s"),
    deployment("c", replicas=7, req="1Gi", cpu="1", timeout="2s")])


def _aggregate(tmp_path, invariant: str, key: str):
    report = check(tmp_path, THREE, AGG_SPEC + f"invariant i: {invariant}\n")
    [bad] = results(report, "i", "violated")
    return bad, bad.details[key]


def _order(agg) -> list[int]:
    return [t["document"] for t in agg["top"]]


@pytest.mark.parametrize("invariant, written, key, value, order, docs", [
    ("min(deployment.replicas) >= 5", "min(deployment.replicas)",
     "min(deployment)", "2", "smallest first", [1, 2, 0]),
    ("max(deployment.replicas) <= 10", "max(deployment.replicas)",
     "max(deployment)", "20", "largest first", [0, 2, 1]),
    ("avg(deployment.replicas) <= 5", "avg(deployment.replicas)",
     "avg(deployment)", "29/3", "largest first", [0, 2, 1]),
    ("avg(deployment.replicas) >= 10", "avg(deployment.replicas)",
     "avg(deployment)", "29/3", "smallest first", [1, 2, 0]),
    ("sum(deployment.replicas) <= 5", "sum(deployment.replicas)",
     "sum(deployment)", "29", "largest first", [0, 2, 1]),
    ("sum(deployment.replicas) >= 50", "sum(deployment.replicas)",
     "sum(deployment)", "29", "smallest first", [1, 2, 0]),
    ("!(sum(deployment.replicas) < 50)", "sum(deployment.replicas)",
     "sum(deployment)", "29", "smallest first", [1, 2, 0]),
    ("count(deployment.replicas) <= 2", "count(deployment.replicas)",
     "count(deployment)", "3", "document order", [0, 1, 2]),
    ("count(deployment.replicas > 5) <= 1", "count(deployment.replicas > 5)",
     "count(deployment)", "2", "where true", [0, 2]),
    ("count(deployment.replicas > 5) >= 3", "count(deployment.replicas > 5)",
     "count(deployment)", "2", "where false", [1]),
    ("all(deployment.replicas > 5)", "all(deployment.replicas > 5)",
     "all(deployment)", "false", "where false", [1]),
], ids=["min", "max", "avg-upper", "avg-lower", "sum-upper", "sum-lower", "sum-negated",
        "count", "count-condition-upper", "count-condition-lower", "all"])
def test_cross_document_aggregate_value_and_order(tmp_path, invariant, written, key, value, order,
                                                  docs):
    """Each aggregate reports its own value (not the sum), and the documents in the order
    that explains the failure; the text output shows both."""
    bad, agg = _aggregate(tmp_path, invariant, key)
    assert agg["value"] == value
    assert agg["order"] == order
    assert _order(agg) == docs
    assert agg["documents"] == 3
    assert agg["of"] == written
    assert bad.message == f"fails across documents: {written} = {value}"
    report = CheckReport(results=[bad])
    text = report.to_text()
    assert f"invariant i: violated — fails across documents: {written} = {value}" in text
    lines = text.splitlines()
    head = lines.index(f"    {written} over 3 document(s); {order}:")
    shown = [int(ln.rsplit("document ", 1)[1].split(":")[0]) for ln in lines[head + 1:]
             if ln.startswith("      ") and "document " in ln]
    assert shown == docs


def test_cross_document_values_are_in_their_units(tmp_path):
    _, agg = _aggregate(tmp_path, "max(deployment.cpu_req) <= 0.5", "max(deployment)")
    assert (agg["value"], [t["value"] for t in agg["top"]]) == ("1", ["1", "600m", "100m"])
    _, agg = _aggregate(tmp_path, "sum(deployment.mem_req) <= 100Mi", "sum(deployment)")
    assert (agg["value"], [t["value"] for t in agg["top"]]) == ("1152Mi", ["1Gi", "96Mi", "32Mi"])
    # (60s + 30s + 2s) / 3 is not a whole number of nanoseconds
    _, agg = _aggregate(tmp_path, "avg(deployment.timeout) <= 1s", "avg(deployment)")
    assert agg["value"] == "~30.6667s"
    _, agg = _aggregate(tmp_path, "avg(deployment.timeout) <= 1s", "avg(deployment)")
    assert [t["value"] for t in agg["top"]] == ["1m", "30s", "2s"]


def test_two_aggregates_of_one_name_are_both_reported(tmp_path):
    bad, first = _aggregate(tmp_path, "sum(deployment.replicas) + sum(deployment.cpu_req) <= 1",
                            "sum(deployment)")
    second = bad.details["sum(deployment.cpu_req)"]
    assert (first["of"], first["value"]) == ("sum(deployment.replicas)", "29")
    assert (second["of"], second["value"]) == ("sum(deployment.cpu_req)", "1700m")


def test_an_aggregate_that_was_not_evaluated_is_not_reported(tmp_path):
    report = check(tmp_path, THREE, AGG_SPEC + "invariant i: max(deployment.replicas) <= 10 "
                   "and sum(deployment.replicas) <= 1\n")
    [bad] = results(report, "i", "violated")
    assert list(bad.details) == ["max(deployment)"]


def test_per_document_values_are_in_their_units(tmp_path):
    report = check(tmp_path, THREE, AGG_SPEC + "invariant small on deployment: cpu_req <= 0.5\n")
    assert sorted(r.details["values"]["cpu_req"] for r in results(report, "small", "violated")) \
        == ["1", "600m"]
