"""`tracelogic violations` over a store, and `tracelogic serve`'s argument checks."""
from __future__ import annotations

import io
import json
import logging
import os

import pytest

from tracelogic.cli import run
from tracelogic.sidecar.cli import parse_since
from tracelogic.sidecar.store import Store

from .serve_helpers import start_serve, write_spec


def violation(prop="answered", key="t1", spans=("s1",), severity="error"):
    return {"property": prop, "key": key, "trace_ids": [key], "span_ids": list(spans),
            "message": "late", "severity": severity}


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def store(tmp_path):
    now = [1_000 * 10**9]
    s = Store(str(tmp_path / "v.db"), clock=lambda: now[0])
    s.add_violations([violation("a", "k1")])
    now[0] = 2_000 * 10**9
    s.add_violations([violation("b", "k2", severity="warning"), violation("a", "k3")])
    s.close()
    return str(tmp_path / "v.db")


def test_json_is_a_list_of_monitor_violation_objects(store):
    code, out, _ = cli("violations", "--store", store, "--format", "json")
    rows = json.loads(out)
    assert code == 1  # error-severity violations are failures
    assert [r["key"] for r in rows] == ["k1", "k2", "k3"]
    for r in rows:
        assert {"property", "key", "trace_ids", "span_ids", "message", "severity"} <= set(r)
        assert r["id"] and r["recorded_unix_nano"]


def test_filters_by_property_and_since(store):
    code, out, _ = cli("violations", "--store", store, "--property", "b", "--format", "json")
    assert [r["key"] for r in json.loads(out)] == ["k2"] and code == 0  # only a warning
    code, out, _ = cli("violations", "--store", store, "--since", str(1_500 * 10**9),
                       "--format", "json")
    assert [r["key"] for r in json.loads(out)] == ["k2", "k3"]
    code, out, _ = cli("violations", "--store", store, "--since", "1970-01-01T00:25:00Z",
                       "--format", "json")
    assert [r["key"] for r in json.loads(out)] == ["k2", "k3"]
    code, out, _ = cli("violations", "--store", store, "--since", "1h")
    assert out.strip().endswith("0 violation(s)") and code == 0


def test_text_lists_each_violation(store):
    code, out, _ = cli("violations", "--store", store)
    assert "✗ a [error] key k1" in out and out.strip().endswith("3 violation(s)")


def test_since_forms():
    assert parse_since("90s", now_ns=100 * 10**9) == 10 * 10**9
    assert parse_since("1700000000000000000") == 1700000000000000000
    assert parse_since("2023-11-14T22:13:20Z") == 1700000000 * 10**9
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


def test_bad_store_and_bad_since_exit_2(tmp_path, store):
    code, _, err = cli("violations", "--store", str(tmp_path / "missing.db"))
    assert code == 2 and "no store" in err
    code, _, err = cli("violations", "--store", store, "--since", "soon")
    assert code == 2 and "--since" in err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    code, _, err = cli("violations", "--store", str(junk))
    assert code == 2 and "not a tracelogic store" in err


@pytest.mark.parametrize("args,needle", [
    (["--lateness", "soon"], "--lateness"),
    (["--tls-cert", "c.pem"], "--tls-cert and --tls-key"),
    (["--grpc", "off", "--http", "off"], "nothing to receive"),
    (["--http", "127.0.0.1:99999"], "port"),
    (["--max-request-bytes", "lots"], "--max-request-bytes"),
    (["--controller-config", "missing.toml"], "no such file"),
    (["--token-file", "/nonexistent/token"], "--token-file"),
    (["--request-timeout", "0s"], "--request-timeout must be longer than 0s"),
    (["--request-timeout", "soon"], "--request-timeout"),
    (["--keepalive-timeout", "0s"], "--keepalive-timeout must be longer than 0s"),
    (["--max-http-connections", "0"], "--max-http-connections must be at least 1"),
])
def test_serve_refuses_bad_arguments_with_exit_2(tmp_path, args, needle):
    spec = write_spec(tmp_path)
    code, _, err = cli("serve", str(spec), "--store", str(tmp_path / "x.db"), *args)
    assert code == 2 and needle in err


def test_serve_refuses_a_bad_spec_with_exit_2(tmp_path):
    spec = tmp_path / "bad.spec"
    spec.write_text("property p: G (\n")
    code, _, err = cli("serve", str(spec), "--store", str(tmp_path / "x.db"))
    assert code == 2 and "bad.spec" in err


# ------------------------------------------------------------ files with secrets or data

class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def exposed_warnings(tmp_path, token_mode, store_mode=None, **extra):
    from tracelogic.sidecar.cli import warn_exposed_files
    from tracelogic.sidecar.server import ServeConfig

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    os.chmod(token, token_mode)
    store = tmp_path / "x.db"
    if store_mode is not None:
        Store(str(store)).close()
        os.chmod(store, store_mode)
    log = logging.getLogger(f"test.exposed.{token_mode:o}.{store_mode}")
    handler = _Records()
    log.addHandler(handler)
    log.propagate = False
    warn_exposed_files(log, ServeConfig(spec_path="s.spec", store=str(store), **extra),
                       token_file=str(token))
    return [(r.levelname, r.getMessage(), r.fields) for r in handler.records]


@pytest.mark.parametrize("token_mode,warned", [(0o600, False), (0o400, False), (0o644, True),
                                               (0o640, True), (0o604, True), (0o620, True)])
def test_a_token_file_open_to_group_or_others_is_warned_about(tmp_path, token_mode, warned):
    got = exposed_warnings(tmp_path, token_mode)
    if not warned:
        assert got == []
        return
    [(level, msg, fields)] = got
    token = str(tmp_path / "token")
    assert level == "WARNING"
    assert f"the token file {token} is readable or writable by group or others" in msg
    assert f"mode {token_mode:04o}" in msg and f"chmod 600 {token}" in msg
    assert "s3cret" not in msg and "s3cret" not in str(fields)
    assert fields == {"file": token, "kind": "token file", "mode": f"{token_mode:04o}",
                      "fix": f"chmod 600 {token}"}


def test_an_exposed_store_tls_key_and_controller_config_are_warned_about_too(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    os.chmod(key, 0o644)
    ctl = tmp_path / "controller.toml"
    ctl.write_text("")
    os.chmod(ctl, 0o600)
    got = exposed_warnings(tmp_path, 0o600, store_mode=0o640, tls_key=str(key),
                           tls_cert=str(key), controller_config=str(ctl))
    assert [f["kind"] for _, _, f in got] == ["TLS key", "store"]


def test_serve_logs_the_token_warning_at_start_up(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    for token_mode, expected in ((0o644, 1), (0o600, 0)):
        os.chmod(token, token_mode)
        sp = start_serve(tmp_path, "--token-file", str(token), name=f"serve{token_mode:o}")
        assert sp.terminate() == 0
        warned = [r for r in sp.logs() if r.get("kind") == "token file"]
        assert len(warned) == expected, sp.logs()
        if expected:
            assert warned[0]["level"] == "warning" and "chmod 600" in warned[0]["msg"]
        assert "s3cret" not in sp.log.read_text()
