"""The differential harness of the native core: both engine selections, identical reports.

`--engine python` is the reference; `--engine native` runs what the core covers and falls
back per property (docs/native.md). Whatever runs where, the two must give the same report:
the full `monitor --format json` document (verdicts, violations, witnesses, counts,
warnings), the same exit code and the same stderr. The inputs are the monitor test data,
the example specs and traces two example scenarios generate, their protobuf encodings fed
through `Monitor.feed_otlp`, and Hypothesis specs x span trees (the monitor's own
differential strategies), in protobuf and in JSON. Each comparison also checks which engine ran each property
against the capabilities the core declares.

Existing tests can run on both engines by taking the `monitor_engine` fixture (conftest.py).

TRACELOGIC_LONG=1 runs many more Hypothesis examples.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import tracelogic
from tracelogic.cli import run
from tracelogic.engine.compiled import CompiledSpec
from tracelogic.engine.json_report import dumps
from tracelogic.engine.plan import property_reason
from tracelogic.engine.registry import required_capabilities
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

from ingest.otlp_testdata import hex_ids_to_b64
from engine.test_monitor_differential import refused, span_trees, specs

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "ingest" / "data"
MONITOR_DATA = ROOT / "tests" / "engine" / "data" / "monitor"
EXAMPLES = ROOT / "examples"
ENGINES = ("python", "native")

TRACE_FILES = sorted(p for p in [*DATA.glob("*.json*"), *MONITOR_DATA.glob("*.json*")]
                     if p.name != "metrics.json")
MONITOR_SPECS = [MONITOR_DATA / "shop.spec", MONITOR_DATA / "edge.spec"]
EXAMPLE_SPECS = [EXAMPLES / "language" / "properties.spec", EXAMPLES / "pytest" / "shop.spec",
                 EXAMPLES / "saga" / "saga.spec", EXAMPLES / "breaker" / "breaker.spec",
                 *sorted((EXAMPLES / "shop" / "specs").glob("*.spec"))]


def monitor(engine: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", *args, "--format", "json", "--engine", engine], out, err)
    return code, out.getvalue(), err.getvalue()


def assert_engines_agree(*args: str) -> dict:
    """Run `monitor` on both engines; their exit codes, JSON and stderr must be equal."""
    (c1, o1, e1), (c2, o2, e2) = (monitor(e, *args) for e in ENGINES)
    assert c1 not in (3,) and not e1.startswith("Traceback"), e1
    assert (c1, e1) == (c2, e2), f"python: {c1} {e1!r}\nnative: {c2} {e2!r}"
    doc1, doc2 = json.loads(o1), json.loads(o2)
    assert doc1 == doc2
    return doc1


def native_caps() -> frozenset[str]:
    from tracelogic import _native
    return frozenset(_native.capabilities())


def assert_routed_by_capability(mon: Monitor, engine: str) -> None:
    """Each property ran where the core's capabilities and its plan say: natively when
    the core covers its needs and every atom, else in Python with the reason."""
    caps = native_caps() if engine == "native" else None
    for cp in mon.compiled.properties:
        a = mon.engine_plan[cp.name]
        if caps is None or required_capabilities(cp) - caps:
            assert a.engine == "python", a
        elif a.engine == "python":
            assert a.fallback == property_reason(cp) or a.fallback.startswith((
                "an atom the core cannot run yet: ", "spans were given as objects")), a
        else:
            assert a.fallback is None, a


# ------------------------------------------------------------------ the fixture

def test_monitor_engine_fixture_selects_the_engine_in_process_and_in_subprocesses(
        monitor_engine):
    """What makes `monitor_engine` a harness: every Monitor a test builds, here or in a
    `tracelogic` subprocess, runs on the fixture's engine."""
    spec = str(MONITOR_SPECS[0])
    mon = Monitor(tracelogic.load(spec))
    assert mon.requested_engine is None  # nothing passed: the environment decided
    assert_routed_by_capability(mon, monitor_engine)
    proc = subprocess.run([sys.executable, "-m", "tracelogic.cli", "monitor", spec,
                           str(TRACE_FILES[0]), "--verbose"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert f"tracelogic monitor: engine {monitor_engine}: " in proc.stderr


# ------------------------------------------------------------------ the test data

@pytest.mark.parametrize("spec", MONITOR_SPECS, ids=lambda p: p.name)
@pytest.mark.parametrize("traces", TRACE_FILES, ids=lambda p: p.name)
def test_monitor_data(spec, traces):
    doc = assert_engines_agree(str(spec), str(traces))
    assert doc["schema"] == "tracelogic.monitor/1"


@pytest.fixture(scope="module")
def protobuf_files(tmp_path_factory) -> dict[str, list[str]]:
    """Each trace file's requests as OTLP protobuf files (one request a file)."""
    out = {}
    for traces in TRACE_FILES:
        d = tmp_path_factory.mktemp(traces.stem)
        paths = []
        for i, data in enumerate(_requests(traces)):
            path = d / f"{traces.stem}-{i}.pb"
            path.write_bytes(data)
            paths.append(str(path))
        out[traces.name] = paths
    return out


@pytest.mark.parametrize("spec", MONITOR_SPECS + EXAMPLE_SPECS,
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_monitor_protobuf_files(spec, protobuf_files):
    """The command line on protobuf inputs, where the core runs what it can."""
    for name, paths in protobuf_files.items():
        if paths:
            assert_engines_agree(str(spec), *paths)
    every = [p for paths in protobuf_files.values() for p in paths]
    assert_engines_agree(str(spec), *every, "--max-open-traces", "2")


@pytest.mark.parametrize("spec", MONITOR_SPECS + EXAMPLE_SPECS,
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_monitor_json_files(spec, tmp_path):
    """The command line on OTLP/JSON inputs, where the core splits and decodes them since
    step 4: every file at once with evictions, and the same documents as one gzipped JSON
    Lines file named so that its format is sniffed."""
    assert_engines_agree(str(spec), *map(str, TRACE_FILES), "--max-open-traces", "2")
    lines = b"\n".join(p.read_bytes().replace(b"\n", b" ") if p.suffix == ".json"
                       else p.read_bytes() for p in TRACE_FILES)
    sniffed = tmp_path / "all-traces.gz"
    sniffed.write_bytes(gzip.compress(lines))
    assert_engines_agree(str(spec), str(sniffed))


@pytest.mark.parametrize("spec", MONITOR_SPECS, ids=lambda p: p.name)
def test_monitor_json_on_stdin(spec):
    """`-` reads standard input once, on either engine, with the same report."""
    data = b"\n".join(p.read_bytes() for p in TRACE_FILES if p.suffix == ".jsonl")
    out = {}
    for engine in ENGINES:
        proc = subprocess.run([sys.executable, "-m", "tracelogic.cli", "monitor", str(spec),
                               "-", "--format", "json", "--engine", engine], input=data,
                              capture_output=True, timeout=120)
        out[engine] = proc.returncode, json.loads(proc.stdout), proc.stderr
    assert out["python"] == out["native"]
    assert out["python"][0] in (0, 1, 2) and out["python"][1]["summary"]["spans"] > 0


def test_monitor_data_with_metrics_and_every_file_at_once():
    doc = assert_engines_agree(str(MONITOR_SPECS[0]), *map(str, TRACE_FILES),
                               "--metrics", str(DATA / "metrics.json"))
    assert doc["summary"]["spans"] > 0


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_specs_over_the_test_data(spec):
    assert_engines_agree(str(spec), *map(str, TRACE_FILES))


@pytest.fixture(scope="module")
def scenario_traces(tmp_path_factory):
    sys.path.insert(0, str(EXAMPLES / "shop"))
    try:
        from shopdemo.scenarios import run as run_scenario
    finally:
        sys.path.remove(str(EXAMPLES / "shop"))
    return {name: run_scenario(name, str(tmp_path_factory.mktemp(name)))["traces"]
            for name in ("race", "slow-query")}


@pytest.mark.parametrize("name,spec", [("race", "race"), ("slow-query", "slow_query")])
def test_example_scenarios(scenario_traces, name, spec):
    doc = assert_engines_agree(str(EXAMPLES / "shop" / "specs" / f"{spec}.spec"),
                               scenario_traces[name])
    assert doc["summary"]["spans"] > 0


# ------------------------------------------------------------------ protobuf, in-process

def _requests(path: Path) -> list[bytes]:
    """The protobuf encoding of each OTLP/JSON request in ``path`` that parses."""
    out = []
    for line in path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]:
        try:
            obj = hex_ids_to_b64(json.loads(line))
            req = json_format.ParseDict(obj, ExportTraceServiceRequest())
        except (ValueError, json_format.ParseError):
            continue
        out.append(req.SerializeToString())
    return out


def reports_of(spec_text_or_path: str, feed, compiled=None, **options) -> list[tuple]:
    """(report JSON, input errors) of each engine; ``compiled`` saves compiling again;
    ``options`` go to the Monitor (``partial_traces``)."""
    docs = []
    spec = tracelogic.load(spec_text_or_path) if compiled is None else compiled.spec
    for engine in ENGINES:
        mon = Monitor(spec, engine=engine, compiled=compiled, **options)
        assert_routed_by_capability(mon, engine)
        feed(mon)
        report = mon.close()
        # the texts first: the core writes its violations' text and JSON text before any
        # is built
        texts = report.to_text(), dumps(report.to_json(verbatim=True))
        docs.append((texts, report.to_json(), [str(e) for e in report.input_errors]))
    return docs


@pytest.mark.parametrize("traces", TRACE_FILES, ids=lambda p: p.name)
def test_feed_otlp(traces):
    requests = _requests(traces)

    def feed(mon):
        for data in requests:
            mon.feed_otlp(data, source=traces.name)
    python, native = reports_of(str(MONITOR_SPECS[0]), feed)
    assert python == native


@pytest.mark.parametrize("traces", TRACE_FILES, ids=lambda p: p.name)
def test_feed_otlp_json(traces):
    """``feed_otlp(..., format="json")``: the file's bytes, split and decoded by the core."""
    data = traces.read_bytes()
    python, native = reports_of(
        str(MONITOR_SPECS[0]),
        lambda mon: mon.feed_otlp(data, source=traces.name, format="json"))
    assert python == native


# ------------------------------------------------------------------ generated

_settings = settings(max_examples=1000 if LONG else 60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_EPOCH = 10**9  # protobuf times are unsigned: the encoded copy starts 1 s later
_FIELDS = ("name", "kind", "status", "status_message", "service", "trace_id", "span_id",
           "parent_id", "attrs", "resource", "scope_name", "event_names", "links")


@_settings
@given(specs(), span_trees())
def test_generated_specs_and_traces(text, spans):
    text = refused(text)  # cross-trace timed past over future: refused by design, checked
    if not text:
        return
    compiled = CompiledSpec(tracelogic.load(text))
    python, native = reports_of(text, lambda mon: mon.feed(spans), compiled)
    assert python == native
    shifted = [Span(**{f: getattr(s, f) for f in _FIELDS},
                    start_ns=s.start_ns + _EPOCH, end_ns=s.end_ns + _EPOCH) for s in spans]
    request = spans_to_request(shifted)
    data = request.SerializeToString()
    python, native = reports_of(text, lambda mon: mon.feed_otlp(data), compiled)
    assert python == native
    doc = json.dumps(request_to_json(request)).encode()
    python, native = reports_of(text, lambda mon: mon.feed_otlp(doc, format="json"), compiled)
    assert python == native


@_settings
@given(specs(), span_trees())
def test_generated_specs_and_traces_ignoring_partial_traces(text, spans):
    """``partial_traces="ignore"``: the core's instances undecided on partial traces are
    left out and counted exactly as the Python engine's."""
    compiled = CompiledSpec(tracelogic.load(text))
    shifted = [Span(**{f: getattr(s, f) for f in _FIELDS},
                    start_ns=s.start_ns + _EPOCH, end_ns=s.end_ns + _EPOCH) for s in spans]
    data = spans_to_request(shifted).SerializeToString()
    python, native = reports_of(text, lambda mon: mon.feed_otlp(data), compiled,
                                partial_traces="ignore")
    assert python == native


@pytest.mark.parametrize("mode", ["inconclusive", "ignore"])
def test_partial_traces_option_on_both_engines(mode):
    """`--partial-traces` on the monitor test data: identical reports, exit codes and
    stderr (the hint) on both engines."""
    doc = assert_engines_agree(str(MONITOR_SPECS[1]), str(MONITOR_DATA / "partial.json"),
                               f"--partial-traces={mode}")
    key = "ignored_partial" if mode == "ignore" else "inconclusive_partial"
    assert sum(p.get(key, 0) for p in doc["properties"]) > 0
