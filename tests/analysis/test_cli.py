"""`tracelogic analyze`: every analysis end to end on OTLP files, exit codes, bad input."""
from __future__ import annotations

import io
import json
import textwrap

import pytest

from tracelogic.cli import run
from tracelogic.ingest.metrics import DataPoint

from .helpers import MS, T0, Builder, SdkRecorder, write_metrics_json, write_otlp_json
from .test_root_cause import healthy, slow_database_cascade


def analyze(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run(["analyze", *map(str, argv)], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cascade(tmp_path):
    b = Builder()
    for t in range(1, 4):
        slow_database_cascade(b, t)
    for t in range(4, 10):
        healthy(b, t)
    return write_otlp_json(tmp_path / "cascade.json", b.spans)


def test_critical_path_names_the_slow_query_and_fails_over_the_threshold(cascade):
    code, out, err = analyze(cascade, "--critical-path", "--threshold", "100ms")
    assert code == 1, err
    query = "inventory -> inventory-db: SELECT stock [SELECT qty FROM stock WHERE sku = ?]"
    assert query in out
    assert ("operations over the 100ms average (by own time):\n"
            f"  {query}: avg 2500.000 ms (own 2500.000 ms)") in out
    code, out, _ = analyze(cascade, "--critical-path", "--threshold", "100ms", "--format", "json")
    doc = json.loads(out)
    assert doc["schema"] == "tracelogic.analysis/1" and doc["analysis"] == "critical-path"
    over = [h["operation"] for h in doc["over_threshold"]]
    assert over[0] == query
    slow = next(t for t in doc["traces"] if t["duration_ns"] == 1030 * MS)
    base = slow["segments"][0]["start_unix_nano"]
    assert [(s["service"], s["name"], (s["start_unix_nano"] - base) / MS,
             (s["end_unix_nano"] - base) / MS) for s in slow["segments"]] == [
        ("gateway", "POST /checkout", 0, 5), ("gateway", "POST /orders", 5, 6),
        ("orders", "POST /orders", 6, 10), ("orders", "GET /stock", 10, 12),
        ("inventory", "GET /stock", 12, 14), ("inventory", "SELECT stock", 14, 1010),
        ("orders", "POST /orders", 1010, 1019), ("gateway", "POST /orders", 1019, 1020),
        ("gateway", "POST /checkout", 1020, 1030)]
    assert analyze(cascade, "--critical-path")[0] == 0
    assert analyze(cascade, "--critical-path", "--threshold", "10s")[0] == 0


def test_root_cause_with_a_spec_ranks_the_database_first(cascade, tmp_path):
    spec = tmp_path / "slo.spec"
    spec.write_text(textwrap.dedent('''\
        pred checkout = name == "POST /checkout" and kind == server
        property checkout_ok "checkout never fails":
          G (checkout & end -> status != error)
        '''))
    code, out, err = analyze(cascade, "--root-cause", "--spec", spec)
    assert code == 1, err
    assert "symptoms: 3 span(s) from 3 violation(s) of" in out
    assert "violated checkout_ok: 3" in out
    assert "  1. inventory-db" in out
    assert "explanation chain for inventory-db:" in out
    doc = json.loads(analyze(cascade, "--root-cause", "--spec", spec, "--format", "json")[1])
    assert doc["ranking"][0]["service"] == "inventory-db"
    assert [h["service"] for h in doc["ranking"][0]["chain"]] == [
        "gateway", "orders", "inventory", "inventory-db"]
    assert doc["violated"] == {"checkout_ok": 3}
    # without a spec, failed roots are the symptoms; a healthy input has none
    assert "  1. inventory-db" in analyze(cascade, "--root-cause")[1]
    b = Builder()
    healthy(b, 1)
    ok = write_otlp_json(tmp_path / "ok.json", b.spans)
    code, out, _ = analyze(ok, "--root-cause", "--spec", spec)
    assert code == 0 and "nothing to explain" in out


def test_causality_deadlocks_and_races_from_real_sdk_spans(tmp_path):
    rec = SdkRecorder()
    # two requests deadlock on two rows, with lock events on their transaction spans
    for i, (first, second) in enumerate((("orders:7", "stock:42"), ("stock:42", "orders:7"))):
        root = rec.span("api", f"POST /tx{i}", 0, 100, kind="server")
        rec.span("api", "transaction", 1, 90, root, events=[
            ("lock.acquired", 2 + i, {"lock.name": first}),
            ("lock.wait", 10 + i, {"lock.name": second})], error=i == 1)
    # two unordered writes to one key, and a client whose server's clock is behind
    r1 = rec.span("cart", "POST /cart", 0, 50, kind="server")
    w1 = rec.span("cart", "SET cart:1", 10, 30, r1, attrs={"resource.name": "cart:1",
                                                          "resource.access": "write"})
    r2 = rec.span("cart", "POST /cart", 5, 55, kind="server")
    w2 = rec.span("cart", "SET cart:1", 20, 40, r2, attrs={"resource.name": "cart:1",
                                                          "resource.access": "write"})
    call = rec.span("cart", "GET /price", 41, 49, r2, kind="client")
    rec.span("pricing", "GET /price", 38, 45, call, kind="server")
    path = rec.write(tmp_path / "sdk.json")

    code, out, err = analyze(path, "--deadlocks", "--format", "json")
    assert code == 1, err
    [d] = json.loads(out)["deadlocks"]
    assert sorted(d["locks"]) == ["orders:7", "stock:42"]
    assert d["from_unix_nano"] == T0 + 11 * MS and d["until_unix_nano"] == T0 + 90 * MS
    assert len(d["span_ids"]) == 2  # each transaction span both waits and holds

    code, out, _ = analyze(path, "--races")
    assert code == 1
    ids = [format(s.context.span_id, "016x") for s in (w1, w2)]
    assert f"({ids[0]})" in out and f"({ids[1]})" in out and "'cart:1' overlap for 10.000 ms" in out

    code, out, _ = analyze(path, "--causality")
    assert code == 1
    assert "cart -> pricing: 1, 3.000 ms" in out
    assert analyze(path, "--causality", "--tolerance", "3ms")[0] == 0


def test_trend_projects_memory_to_the_limit(tmp_path):
    pts = [DataPoint("process.memory.usage", "gauge", 300 * 2**20 + 40_000 * i * 10,
                     T0 + i * 10 * 10**9, service="cart", unit="By") for i in range(60)]
    pts += [DataPoint("process.memory.usage", "gauge", 100 * 2**20, T0 + i * 10 * 10**9,
                      service="orders", unit="By") for i in range(60)]
    path = write_metrics_json(tmp_path / "m.json", pts)
    code, out, err = analyze(path, "--trend", "--limit", "2Gi")
    assert code == 1, err
    assert "process.memory.usage{service=cart}: 60 points" in out
    assert "growth 2.29 MiB/min" in out
    assert "reaches the limit 2.00 GiB in 12.6 h (about 2023-11-15T10:57:02.771200Z)" in out
    assert "not growing: never reaches 2.00 GiB" in out
    doc = json.loads(analyze(path, "--trend", "--limit", "2Gi", "--format", "json")[1])
    cart = next(s for s in doc["series"] if s["service"] == "cart")
    assert cart["slope_per_second"] == pytest.approx(40_000)
    assert doc["findings"] == ["process.memory.usage{service=cart}"]
    assert analyze(path, "--trend", "--limit", "2Gi", "--horizon", "1h")[0] == 0
    assert analyze(path, "--trend")[0] == 0
    assert analyze("--metrics", path, path, "--trend", "--metric", "nope")[0] == 2


def test_services_graph_text_and_dot(cascade):
    code, out, _ = analyze(cascade, "--services")
    assert code == 0
    assert "inventory -> inventory-db: 0/9 calls failed" in out and "[uninstrumented]" in out
    code, out, _ = analyze(cascade, "--services", "--format", "dot")
    assert out.startswith("digraph services {") and '"orders" -> "inventory"' in out


@pytest.mark.parametrize("argv, message", [
    (["--critical-path", "--limit", "1"], "--limit applies only to --trend, not --critical-path"),
    (["--races", "--spec", "x.spec"], "--spec applies only to --root-cause, not --races"),
    (["--trend", "--limit", "lots"], "--limit takes a number (0.9), a byte quantity"),
    (["--critical-path", "--threshold", "fast"], "--threshold takes a duration such as 100ms"),
    (["--critical-path", "--threshold", "0s"], "--threshold must be positive"),
    (["--trend", "--horizon", "1h"], "--horizon needs --limit"),
    (["--races", "--format", "dot"], "--format dot applies only to --services"),
    (["--deadlocks", "--top", "0"], "--top must be at least 1"),
])
def test_bad_command_lines_exit_2_with_a_precise_message(cascade, argv, message):
    code, out, err = analyze(cascade, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_inputs_exit_2_and_still_report(cascade, tmp_path):
    code, _, err = analyze(tmp_path / "missing.json", "--races")
    assert code == 2 and "cannot read" in err and "no spans in the input" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"resourceSpans": [\n')
    code, out, err = analyze(cascade, bad, "--critical-path")
    assert code == 2 and "error:" in err and "trace(s) analysed" in out
    code, _, err = analyze(cascade, "--trend")
    assert code == 2 and "no metric data points" in err
    code, _, err = analyze(cascade, "--critical-path", "--trace", "ab" * 16)
    assert code == 2 and "no such trace" in err
    spec = tmp_path / "broken.spec"
    spec.write_text("property p: G (\n")
    code, _, err = analyze(cascade, "--root-cause", "--spec", spec)
    assert code == 2 and "broken.spec" in err


def _series(slope_per_s: float, seed: int = 3):
    import random
    rng = random.Random(seed)
    return [DataPoint("process.memory.usage", "gauge",
                      300 * 2**20 + slope_per_s * i * 10 + rng.gauss(0, 2 * 2**20),
                      T0 + i * 10 * 10**9, service="cart", unit="By") for i in range(120)]


def test_trend_reports_a_flat_series_as_not_growing_from_metrics_alone(tmp_path):
    """Issue 21 item 7: no finding for noise; --metrics FILE is enough input."""
    path = write_metrics_json(tmp_path / "flat.json", _series(0.0))
    code, out, err = analyze("--metrics", path, "--trend", "--limit", "2Gi")
    assert code == 0, out + err
    assert "not growing: the 95% interval of the slope includes 0" in out
    assert "reaches" not in out
    doc = json.loads(analyze("--metrics", path, "--trend", "--limit", "2Gi",
                             "--format", "json")[1])
    assert doc["findings"] == [] and doc["series"][0]["growing"] is False
    assert doc["horizon_ns"] == 7 * 24 * 3600 * 10**9        # the default horizon
    code, _, err = analyze("--trend", "--limit", "2Gi")       # no input at all
    assert code == 2 and "give the input files (TRACES), or --metrics FILE" in err


def test_trend_crossings_beyond_the_horizon_are_not_findings(tmp_path):
    # an exact +2000 B/s: 2 GiB is about 10.6 days away; the default horizon is 7 days
    slow = [DataPoint("process.memory.usage", "gauge", 300 * 2**20 + 20_000 * i,
                      T0 + i * 10 * 10**9, service="cart", unit="By") for i in range(120)]
    path = write_metrics_json(tmp_path / "slow.json", slow)
    code, out, err = analyze("--metrics", path, "--trend", "--limit", "2Gi")
    assert code == 0, out + err
    assert "beyond the 7.0 d horizon: not a finding" in out
    assert analyze("--metrics", path, "--trend", "--limit", "2Gi", "--horizon", "30d")[0] == 1
