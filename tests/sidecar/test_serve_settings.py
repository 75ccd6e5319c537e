"""`serve` options from the environment and a TOML --config file (issue 16, item 6).

The command line wins over TRACELOGIC_<OPTION>, which wins over the file, which wins over
the default; a bad value from any of them exits 2 naming where it came from.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from tracelogic.cli import build_parser, run
from tracelogic.sidecar.cli import build_config
from tracelogic.sidecar.settings import OPTIONS, env_name

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEC = "property ok: G !(status == error)\n"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "s.spec"
    path.write_text(SPEC)
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for opt in OPTIONS:
        monkeypatch.delenv(env_name(opt), raising=False)
    monkeypatch.delenv("TRACELOGIC_CONFIG", raising=False)
    monkeypatch.delenv("TRACELOGIC_TOKEN", raising=False)


def config(*argv: str):
    err = io.StringIO()
    cfg = build_config(build_parser().parse_args(["serve", *argv]), err)
    return cfg, err.getvalue()


def test_command_line_over_environment_over_file_over_default(tmp_path, spec, monkeypatch):
    toml = tmp_path / "serve.toml"
    toml.write_text(f'spec = "{spec}"\nqueue-spans = 10\nlateness = "2s"\njournal = true\n'
                    'property = ["ok"]\nmax_open_traces = 7\nstore = "file.db"\n')
    monkeypatch.setenv("TRACELOGIC_QUEUE_SPANS", "20")
    monkeypatch.setenv("TRACELOGIC_JOURNAL", "off")
    monkeypatch.setenv("TRACELOGIC_STORE", str(tmp_path / "env.db"))
    cfg, err = config("--config", str(toml), "--queue-spans", "30")
    assert cfg is not None, err
    assert cfg.queue_spans == 30                       # command line
    assert cfg.journal is False                        # environment over the file's true
    assert cfg.store == str(tmp_path / "env.db")       # environment over the file
    assert cfg.lateness_ns == 2 * 10**9                # file
    assert cfg.properties == ["ok"] and cfg.max_open_traces == 7   # file (`_` spelling too)
    assert cfg.spec_path == str(spec)                  # file
    assert cfg.idle_ns == 5 * 10**9 and cfg.grpc == "127.0.0.1:4317"   # defaults
    # --no-journal beats the environment, --journal the file
    monkeypatch.setenv("TRACELOGIC_JOURNAL", "1")
    assert config("--config", str(toml), "--no-journal")[0].journal is False


def test_every_option_from_the_environment(tmp_path, spec, monkeypatch):
    (tmp_path / "token").write_text("s3cret\n")
    (tmp_path / "ctl.toml").write_text("")
    env = {
        "TRACELOGIC_SPEC": str(spec), "TRACELOGIC_GRPC": "off",
        "TRACELOGIC_HTTP": "127.0.0.1:0", "TRACELOGIC_STORE": str(tmp_path / "e.db"),
        "TRACELOGIC_FORWARD": "http://127.0.0.1:4999", "TRACELOGIC_JOURNAL": "yes",
        "TRACELOGIC_PROPERTY": "ok, other", "TRACELOGIC_LATENESS": "3s",
        "TRACELOGIC_IDLE": "1s", "TRACELOGIC_MAX_OPEN_TRACES": "11",
        "TRACELOGIC_MAX_INSTANCES": "12", "TRACELOGIC_QUEUE_SPANS": "13",
        "TRACELOGIC_MAX_REQUEST_BYTES": "1Mi", "TRACELOGIC_MAX_HTTP_CONNECTIONS": "14",
        "TRACELOGIC_REQUEST_TIMEOUT": "4s", "TRACELOGIC_KEEPALIVE_TIMEOUT": "5s",
        "TRACELOGIC_TOKEN_FILE": str(tmp_path / "token"),
        "TRACELOGIC_TLS_CERT": "c.pem", "TRACELOGIC_TLS_KEY": "k.pem",
        "TRACELOGIC_RETENTION": "2d", "TRACELOGIC_RETENTION_ROWS": "15",
        "TRACELOGIC_LOG_LEVEL": "debug", "TRACELOGIC_EXECUTE": "true",
        "TRACELOGIC_CONTROLLER_CONFIG": str(tmp_path / "ctl.toml"),
        "TRACELOGIC_SPEC_PATH": f"{tmp_path}/a:{tmp_path}/b", "TRACELOGIC_ENGINE": "python",
        "TRACELOGIC_CONSISTENCY_WINDOW": "16", "TRACELOGIC_CONSISTENCY_KEYS": "17",
        "TRACELOGIC_CONSISTENCY_STEPS": "18",
    }
    assert set(env) == {env_name(o) for o in OPTIONS}  # one variable per option, no more
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = build_parser().parse_args(["serve"])
    cfg = build_config(args, io.StringIO())
    assert cfg is not None
    assert (cfg.spec_path, cfg.grpc, cfg.http, cfg.store, cfg.forward, cfg.journal) == (
        str(spec), None, "127.0.0.1:0", str(tmp_path / "e.db"), "http://127.0.0.1:4999", True)
    assert cfg.properties == ["ok", "other"]
    assert (cfg.lateness_ns, cfg.idle_ns) == (3 * 10**9, 10**9)
    assert (cfg.max_open_traces, cfg.max_instances, cfg.queue_spans,
            cfg.max_http_connections, cfg.retention_rows) == (11, 12, 13, 14, 15)
    assert cfg.max_request_bytes == 2**20 and cfg.token == "s3cret"
    assert (cfg.request_timeout_s, cfg.keepalive_timeout_s) == (4.0, 5.0)
    assert (cfg.tls_cert, cfg.tls_key, cfg.retention_age_ns) == ("c.pem", "k.pem",
                                                                  2 * 86400 * 10**9)
    assert cfg.execute is True and cfg.controller_config == str(tmp_path / "ctl.toml")
    assert cfg.spec_search_path == (f"{tmp_path}/a", f"{tmp_path}/b")
    assert args.log_level == "debug"
    assert cfg.engine is None  # TRACELOGIC_ENGINE: the engine registry reads it itself
    assert (cfg.consistency_window, cfg.consistency_keys, cfg.consistency_steps) == (16, 17, 18)


def test_the_table_covers_every_serve_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    dests = {a.dest for a in sub.choices["serve"]._actions} - {"help", "config", "func"}
    assert dests == {o.dest for o in OPTIONS}


def test_every_variable_is_documented():
    text = (DOCS / "serve.md").read_text()
    missing = [env_name(o) for o in OPTIONS if env_name(o) not in text]
    assert not missing and "TRACELOGIC_CONFIG" in text


@pytest.mark.parametrize("env,toml,needle", [
    ({"TRACELOGIC_QUEUE_SPANS": "lots"}, None,
     "TRACELOGIC_QUEUE_SPANS takes a whole number, got 'lots'"),
    ({"TRACELOGIC_JOURNAL": "maybe"}, None,
     "TRACELOGIC_JOURNAL takes true or false (1/0, yes/no, on/off), got 'maybe'"),
    ({"TRACELOGIC_LOG_LEVEL": "loud"}, None,
     "TRACELOGIC_LOG_LEVEL takes one of debug, info, warning, error, got 'loud'"),
    ({"TRACELOGIC_LATENESS": "soon"}, None,
     "TRACELOGIC_LATENESS takes a duration such as 30s, got 'soon'"),
    ({"TRACELOGIC_HTTP": "127.0.0.1:99999"}, None, "TRACELOGIC_HTTP "),
    ({"TRACELOGIC_MAX_HTTP_CONNECTIONS": "0"}, None,
     "TRACELOGIC_MAX_HTTP_CONNECTIONS must be at least 1"),
    ({}, 'lateness = "soon"\n', "serve.toml: `lateness` takes a duration such as 30s"),
    ({}, 'queue-spans = "ten"\n', "serve.toml: `queue-spans` takes a whole number, got 'ten'"),
    ({}, "journal = 1\n", "serve.toml: `journal` takes true or false, got 1"),
    ({}, "max-open-trace = 3\n",
     "serve.toml: unknown key `max-open-trace`; did you mean `max-open-traces`?"),
    ({}, "queue-spans = \n", "serve.toml is not valid TOML: "),
    ({}, 'property = [1]\n', "serve.toml: `property` takes a list of property names"),
])
def test_bad_values_exit_2_saying_where_they_came_from(tmp_path, spec, monkeypatch, env, toml,
                                                       needle):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    argv = ["serve", str(spec), "--store", str(tmp_path / "x.db")]
    if toml is not None:
        (tmp_path / "serve.toml").write_text(toml)
        argv += ["--config", str(tmp_path / "serve.toml")]
    out, err = io.StringIO(), io.StringIO()
    assert run(argv, out, err) == 2
    assert needle in err.getvalue(), err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_a_missing_config_file_and_a_missing_spec_exit_2(tmp_path, monkeypatch):
    err = io.StringIO()
    assert run(["serve", "--config", str(tmp_path / "nope.toml")], io.StringIO(), err) == 2
    assert f"--config {tmp_path / 'nope.toml'}: no such file" in err.getvalue()
    err = io.StringIO()
    assert run(["serve"], io.StringIO(), err) == 2
    assert "no spec: give SPEC, or set TRACELOGIC_SPEC" in err.getvalue()
    monkeypatch.setenv("TRACELOGIC_CONFIG", str(tmp_path / "gone.toml"))
    err = io.StringIO()
    assert run(["serve"], io.StringIO(), err) == 2 and "gone.toml: no such file" in err.getvalue()


def test_a_live_serve_configured_by_file_and_environment_only(tmp_path, spec):
    """`python -m tracelogic serve` with no arguments: the file names the spec, the store and
    turns gRPC off; the environment picks the HTTP address. It listens where they say."""
    import json
    import os
    import subprocess
    import sys
    import urllib.request

    from sidecar.serve_helpers import wait_for

    toml = tmp_path / "serve.toml"
    toml.write_text(f'spec = "{spec}"\nstore = "{tmp_path / "file.db"}"\ngrpc = "off"\n'
                    'http = "127.0.0.1:1"\n')
    # (the suite's cache directory is kept: it is not configuration)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRACELOGIC_") or k == "TRACELOGIC_CACHE_DIR"}
    env.update(TRACELOGIC_CONFIG=str(toml), TRACELOGIC_HTTP="127.0.0.1:0")
    log = tmp_path / "serve.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "tracelogic", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=f, cwd=str(tmp_path))
    try:
        def serving():
            assert proc.poll() is None, log.read_text()
            lines = [json.loads(x) for x in log.read_text().splitlines()
                     if '"msg": "serving"' in x]
            return lines[-1] if lines else None

        rec = wait_for(serving, 60, "serve to listen")
        assert set(rec["listen"]) == {"http"}            # gRPC off, from the file
        http = rec["listen"]["http"]
        assert not http.endswith(":1")                   # the environment's port 0, not the file's
        with urllib.request.urlopen(f"http://{http.split('://')[-1]}/healthz", timeout=10) as r:
            assert r.status == 200
        assert (tmp_path / "file.db").exists()           # the store, from the file
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("flag", ["--consistency-window", "--consistency-keys",
                                  "--consistency-steps"])
def test_consistency_bounds_must_be_positive(spec, flag):
    cfg, err = config(str(spec), flag, "0")
    assert cfg is None and f"{flag} must be at least 1" in err
