"""The monitoring-engine registry: selection, per-property routing and its visibility.

Which engine runs a property is derived here from the capabilities the core declares and
from the plan (engine/plan.py), never hard-coded: a property whose needs the core covers
runs natively unless the plan names an atom it cannot hold; every other property falls back
to the Python engine with the reason.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracelogic
from tracelogic.cli import run
from tracelogic.errors import BackendUnavailable, InputError
from tracelogic.engine import registry as engines
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.plan import property_reason
from tracelogic.engine.registry import (CAPABILITIES, ENV_VAR, assign, get_engine,
                                        required_capabilities)
from tracelogic.engine.stream import StreamingMonitor

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "engine" / "data" / "monitor"
SHOP = DATA / "shop.spec"


def native_caps() -> frozenset[str]:
    from tracelogic import _native
    return frozenset(_native.capabilities())


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def native_missing(monkeypatch):
    """As if the extension had not been built: importing it fails."""
    monkeypatch.setitem(sys.modules, "tracelogic._native", None)
    monkeypatch.delattr(tracelogic, "_native", raising=False)


def test_default_is_native_when_built(no_env):
    assert get_engine().name == "native"
    assert engines.available_engines() == ["native", "python"]


def test_env_selects_and_the_argument_wins_over_it(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "python")
    assert get_engine().name == "python"
    assert get_engine("native").name == "native"
    monkeypatch.setenv(ENV_VAR, "")
    assert get_engine().name == "native"


@pytest.mark.parametrize("name", ["rust", "Native", "auto"])
def test_unknown_engine_names_are_input_errors(monkeypatch, name):
    with pytest.raises(InputError, match="names no monitoring engine") as e:
        get_engine(name)
    assert "python, native" in str(e.value)
    monkeypatch.setenv(ENV_VAR, name)
    with pytest.raises(InputError, match=ENV_VAR):
        get_engine()


def test_without_the_core_default_is_python_and_asking_for_native_says_why(no_env,
                                                                           native_missing):
    assert get_engine().name == "python"
    assert engines.available_engines() == ["python"]
    with pytest.raises(BackendUnavailable, match="tracelogic._native is not importable") as e:
        get_engine("native")
    assert "cargo" in str(e.value) and "--engine python" in str(e.value)


def test_a_core_speaking_another_boundary_is_not_used(no_env, monkeypatch):
    from tracelogic import _native
    monkeypatch.setattr(_native, "ABI_VERSION", engines.NATIVE_ABI_VERSION + 1)
    assert get_engine().name == "python"
    with pytest.raises(BackendUnavailable, match="boundary version"):
        get_engine("native")


SPEC = """
pred a = name == "a"
property untimed: G (a -> F name == "b")
property timed: G (a -> F[<= 2s] name == "b")
property regs per attr["k"]: G (attr["x"] >= prev(attr["x"]))
property budget per service window 1m: fraction(status == error) <= 0.5
property glob global: G !a
"""


def test_required_capabilities_name_scope_kind_time_and_registers():
    mon = Monitor(tracelogic.load(SPEC), engine="python")
    need = {cp.name: required_capabilities(cp) for cp in mon.compiled.properties}
    assert need == {
        "untimed": {"scope:trace", "kind:formula"},
        "timed": {"scope:trace", "kind:formula", "timed"},
        "regs": {"scope:cross-trace", "kind:formula", "registers"},
        "budget": {"scope:cross-trace", "kind:aggregate"},
        "glob": {"scope:cross-trace", "kind:formula"},
    }
    assert set().union(*need.values()) <= CAPABILITIES


@pytest.mark.parametrize("spec", [SHOP, DATA / "edge.spec"], ids=lambda p: p.name)
def test_each_property_runs_where_the_core_covers_it(no_env, spec):
    mon = Monitor(tracelogic.load(str(spec)))
    caps = native_caps()
    assert set(mon.engines) == {cp.name for cp in mon.compiled.properties}
    for cp in mon.compiled.properties:
        a = mon.engine_plan[cp.name]
        missing = required_capabilities(cp) - caps
        if missing:
            assert mon.engines[cp.name] == "python", a
            assert a.fallback and all(m in a.fallback for m in missing), a
        elif a.engine == "python":  # covered by capability, but an atom is not in the core
            assert a.fallback.startswith("an atom the core cannot run yet: "), a
        else:
            assert a.fallback is None


def test_forcing_python_never_falls_back(no_env):
    mon = Monitor(tracelogic.load(str(SHOP)), engine="python")
    assert set(mon.engines.values()) == {"python"}
    assert all(a.fallback is None for a in mon.engine_plan.values())


def test_a_core_claiming_every_capability_still_runs_only_what_its_plan_can(
        no_env, monkeypatch):
    """The registry routes by capability; the plan then keeps only the properties whose
    kind and atoms the core runs, and every other one falls back with the plan's reason."""
    monkeypatch.setattr(engines.NativeEngine, "capabilities", CAPABILITIES)
    mon = Monitor(tracelogic.load(str(SHOP)))
    props = mon.compiled.properties
    assert {a.engine for a in assign(props, "native").values()} == {"native"}
    for cp in props:
        why = property_reason(cp)
        a = mon.engine_plan[cp.name]
        if why is not None:
            assert (a.engine, a.fallback) == ("python", why)
        elif cp.name == "consumer_linked":  # linked(...) is not in the atom program yet
            assert a.engine == "python" and "linked" in a.fallback, a
        else:
            assert (a.engine, a.fallback) == ("native", None), a
    assert mon.engines["auth_before_charge"] == "native"
    assert mon.engines["errors_are_leaves"] == "native"


# ------------------------------------------------------------------ the command line

def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def in_order_pb(tmp_path) -> str:
    """in_order.json as an OTLP protobuf file: the input the core reads."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)

    from ingest.otlp_testdata import hex_ids_to_b64

    doc = hex_ids_to_b64(json.loads((DATA / "in_order.json").read_text()))
    path = tmp_path / "in_order.pb"
    path.write_bytes(json_format.ParseDict(doc, ExportTraceServiceRequest()).SerializeToString())
    return str(path)


def test_monitor_verbose_names_the_engine_of_every_property(no_env, in_order_pb):
    code, _, err = cli("monitor", str(SHOP), in_order_pb, "--verbose")
    assert code in (0, 1), err
    lines = [ln.removeprefix("tracelogic monitor: ") for ln in err.splitlines()
             if ln.startswith("tracelogic monitor: ")]
    assert lines[0].startswith("engine native: tracelogic._native ")
    mon = Monitor(tracelogic.load(str(SHOP)))
    assert lines[1:] == [f"property {a.describe()}" for a in mon.engine_plan.values()]
    assert len(lines) == 1 + len(mon.compiled.properties)


def test_json_input_runs_on_the_core_as_protobuf_does(no_env, in_order_pb):
    """Since step 4 the core reads OTLP/JSON: the same file as JSON and as protobuf gets the
    same engine lines, and some property runs natively."""
    lines = {}
    for path in (str(DATA / "in_order.json"), in_order_pb):
        code, _, err = cli("monitor", str(SHOP), path, "--verbose")
        assert code in (0, 1), err
        lines[path] = [ln for ln in err.splitlines() if ln.startswith("tracelogic monitor: ")]
    json_lines, pb_lines = lines.values()
    assert json_lines == pb_lines
    assert any(ln.endswith(": native") for ln in json_lines)


def test_monitor_is_quiet_about_engines_without_verbose(no_env):
    _, _, err = cli("monitor", str(SHOP), str(DATA / "in_order.json"))
    assert "engine" not in err


def test_monitor_engine_python_says_so(no_env):
    _, _, err = cli("monitor", str(SHOP), str(DATA / "in_order.json"), "--engine", "python",
                    "--verbose")
    assert "engine python: the reference engine" in err and "fallback" not in err


def test_monitor_engine_native_without_the_core_exits_2(no_env, native_missing):
    code, out, err = cli("monitor", str(SHOP), str(DATA / "in_order.json"), "--engine",
                         "native")
    assert code == 2 and out == ""
    assert "the native monitoring engine is not available" in err


def test_monitor_refuses_a_bad_env_engine_with_exit_2(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fast")
    code, _, err = cli("monitor", str(SHOP), str(DATA / "in_order.json"))
    assert code == 2 and "TRACELOGIC_ENGINE='fast'" in err


def test_engine_flag_choices_are_checked_by_the_parser():
    code, _, err = cli("monitor", str(SHOP), str(DATA / "in_order.json"), "--engine", "rust")
    assert code == 2 and "invalid choice: 'rust'" in err


# ------------------------------------------------------------------ serve

def test_streaming_monitor_keeps_its_engine_across_a_reload(no_env):
    spec = tracelogic.load(str(SHOP))
    sm = StreamingMonitor(spec, engine="python")
    assert set(sm.monitor.engines.values()) == {"python"}
    sm.reload(spec)
    assert sm.monitor.requested_engine == "python"
    assert set(sm.monitor.engines.values()) == {"python"}


def test_serve_passes_engine_to_its_config(tmp_path):
    from tracelogic.cli import build_parser
    from tracelogic.sidecar.cli import build_config

    args = build_parser().parse_args(["serve", str(SHOP), "--engine", "python",
                                      "--store", str(tmp_path / "x.db")])
    config = build_config(args, io.StringIO())
    assert config is not None and config.engine == "python"


def test_serve_refuses_an_unavailable_engine_with_exit_2(tmp_path, no_env, native_missing):
    code, _, err = cli("serve", str(SHOP), "--store", str(tmp_path / "x.db"), "--engine",
                       "native", "--grpc", "off", "--http", "127.0.0.1:0")
    assert code == 2 and "the native monitoring engine is not available" in err


def test_protobuf_on_stdin_runs_on_the_core_like_python(no_env, in_order_pb):
    data = Path(in_order_pb).read_bytes()
    runs = {}
    for engine in ("python", "native"):
        proc = subprocess.run([sys.executable, "-m", "tracelogic", "monitor", str(SHOP), "-",
                               "--format", "json", "--verbose", "--engine", engine],
                              input=data, capture_output=True, timeout=120)
        assert proc.returncode in (0, 1), proc.stderr
        runs[engine] = (proc.returncode, json.loads(proc.stdout), proc.stderr.decode())
    assert runs["python"][:2] == runs["native"][:2]
    assert "property auth_before_charge: native" in runs["native"][2]
    assert runs["native"][1]["summary"]["spans"] > 0
