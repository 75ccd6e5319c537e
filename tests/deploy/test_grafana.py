"""deploy/grafana/tracelogic.json: every expression names only metric families that
`tracelogic serve` exposes, every family is charted, and every expression is PromQL that
Prometheus's own parser accepts (promtool checks them as recording rules)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml

from .conftest import DEPLOY, METRIC, series_family

DASHBOARD = DEPLOY / "grafana" / "tracelogic.json"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_every_expression_names_an_exposed_family(families):
    assert exprs()
    for e in exprs():
        names = METRIC.findall(e)
        assert names or "up{" in e, f"an expression over no tracelogic metric: {e}"
        unknown = [n for n in names if series_family(n, families) is None]
        assert not unknown, f"{unknown} in {e!r} are not families of serve's /metrics"


def test_every_family_is_charted(families):
    charted = {series_family(n, families) for e in exprs() for n in METRIC.findall(e)}
    assert set(families) - charted == set()


def test_counters_are_read_as_rates_and_histograms_as_quantiles(families):
    """A raw counter on a chart only ever grows: read it with rate() or increase()."""
    for e in exprs():
        for n in METRIC.findall(e):
            fam = series_family(n, families)
            if families[fam] == "counter":
                assert re.search(rf"(rate|increase)\({n}\b", e), e
            if families[fam] == "histogram":
                assert n.endswith(("_bucket", "_sum", "_count")), e


def test_the_expressions_are_promql(tmp_path):
    """Grafana's variables filled in as Grafana would; then promtool parses every
    expression (as a recording rule) with Prometheus's PromQL parser."""
    filled = [e.replace("$__rate_interval", "1m").replace("$__range", "6h")
              .replace("$instance", ".*") for e in exprs()]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr{i}", "expr": e} for i, e in enumerate(filled)]}]}
    f = tmp_path / "dashboard_rules.yml"
    f.write_text(yaml.safe_dump(rules))
    path = shutil.which("promtool")
    assert path, "promtool is missing: scripts/install.sh installs Debian's prometheus package"
    done = subprocess.run([path, "check", "rules", str(f)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(filled)} rules found" in done.stdout


def test_the_dashboard_is_importable():
    """What Grafana needs to import it: unique panel ids, panels inside the 24-column grid
    without overlapping, the data source and instance variables the panels use."""
    d = dashboard()
    assert d["uid"] and d["title"] and isinstance(d["schemaVersion"], int)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert all('instance=~"$instance"' in e for e in exprs())
