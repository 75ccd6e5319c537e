"""deploy/prometheus/alerts.yml: checked and unit-tested by promtool (Debian's `prometheus`
package, which scripts/install.sh installs; these tests FAIL without it), and every
metric it names is one that `tracelogic serve` exposes."""
from __future__ import annotations

import shutil
import subprocess

import yaml

from .conftest import DEPLOY, METRIC, series_family

RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
#: what the issue asks the rules to cover, each by at least one alert on these families
COVERED = {
    "violations": {"tracelogic_violations_total"},
    "refusals": {"tracelogic_spans_refused_total"},
    "evictions": {"tracelogic_traces_evicted", "tracelogic_instances_evicted"},
    "backlog": {"tracelogic_queue_spans", "tracelogic_decide_backlog"},
}


def promtool(*args: str) -> subprocess.CompletedProcess:
    path = shutil.which("promtool")
    assert path, "promtool is missing: scripts/install.sh installs Debian's prometheus package"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=120,
                          cwd=RULES.parent)


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_promtool_checks_the_rules():
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass():
    done = promtool("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_unit_test_that_fires_it():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case.get("alert_rule_test", [])
             if t.get("exp_alerts")}
    quiet = {t["alertname"] for case in tests for t in case.get("alert_rule_test", [])
             if not t.get("exp_alerts")}
    names = {r["alert"] for r in rules()}
    assert fired == names
    assert quiet == names          # and each has a case where it must stay quiet


def test_a_broken_expectation_fails_the_unit_tests(tmp_path):
    """The unit tests can fail: the same file with one expected value changed does."""
    shutil.copy(RULES, tmp_path / "alerts.yml")
    bad = tmp_path / "alerts_test.yml"
    bad.write_text(RULE_TESTS.read_text().replace("a:4318 evicted 7 trace(s)",
                                                  "a:4318 evicted 8 trace(s)"))
    done = promtool("test", "rules", str(bad))
    assert done.returncode != 0 and "TracelogicTracesEvicted" in done.stdout + done.stderr


def test_every_metric_in_the_rules_is_exposed_by_serve(families):
    named = {m for r in rules() for m in METRIC.findall(r["expr"])}
    assert named, "the rules name no tracelogic metric"
    unknown = sorted(m for m in named if series_family(m, families) is None)
    assert not unknown, f"alerts.yml names metrics serve does not expose: {unknown}"
    for what, fams in COVERED.items():
        assert fams & {series_family(m, families) for m in named}, what
    # the engine being down: serve exits when its engine stops, so `up` is the signal
    assert any('up{job="tracelogic"} == 0' in r["expr"] for r in rules())


def test_serve_metrics_pass_promtool_check_metrics(exposition):
    """An independent parser of the exposition format reads serve's /metrics."""
    path = shutil.which("promtool")
    assert path, "promtool is missing: scripts/install.sh installs Debian's prometheus package"
    done = subprocess.run([path, "check", "metrics"], input=exposition, capture_output=True,
                          text=True, timeout=60)
    # lint findings are printed and exit 1; a parse error says "error while linting"
    assert "error while linting" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_the_scrape_configuration_checks_with_its_rules(tmp_path):
    """deploy/prometheus/prometheus.yml as promtool checks it in full (its rule file
    loaded), with the secret files it names stood in for by local ones."""
    conf = (RULES.parent / "prometheus.yml").read_text()
    doc = yaml.safe_load(conf)
    (job,) = doc["scrape_configs"]
    assert job["job_name"] == "tracelogic"            # what the rules and dashboard select
    assert all('job="tracelogic"' in r["expr"] for r in rules() if "up{" in r["expr"])
    for key in ("/etc/prometheus/secrets/tracelogic-token/token",
                "/etc/prometheus/secrets/tracelogic-tls/ca.crt"):
        assert key in conf
        local = tmp_path / key.rsplit("/", 1)[1]
        local.write_text("x")
        conf = conf.replace(key, str(local))
    (tmp_path / "prometheus.yml").write_text(conf)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    done = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout + done.stderr
    (tmp_path / "prometheus.yml").write_text(conf.replace("dns_sd_configs", "dns_sd_config"))
    assert promtool("check", "config", str(tmp_path / "prometheus.yml")).returncode != 0
