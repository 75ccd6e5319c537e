"""Coverage-guided fuzzing of the native decoders (issue 17 item 6), in the long test job.

``native/fuzz/`` is a cargo-fuzz crate with one target per decoder and one for the JSON
Lines splitter (``decode_pb``, ``decode_json``, ``split_jsonl``); each checks the
invariants of ``native/src/fuzz.rs``. With ``TRACELOGIC_LONG=1`` this test builds them and
runs each for a bounded time (``FUZZ_SECONDS``, default 60) from a seed corpus made of the
test data (the protobuf target gets the same documents encoded as protobuf); a crash or a
broken invariant fails the test with libFuzzer's report and the input it saved.

They run on stable Rust: ``cargo fuzz ... --sanitizer none`` needs no nightly compiler
(the coverage instrumentation is stable rustc's ``-C passes=sancov-module``); the crate
forbids ``unsafe``, so AddressSanitizer would add little. ``cargo-fuzz`` is installed
from crates.io when missing; only if that fails is the test skipped, saying why.

Every test run has a seeded, few-second fuzz of the same checks without libFuzzer: the
``cargo test`` unit test ``fuzz::tests::seeded_fuzz_of_each_decoder_and_the_splitter``,
which ``test_cargo.py`` runs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.otlp_testdata import hex_ids_to_b64

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "native" / "fuzz"
DATA = [p for d in ("tests/ingest/data", "tests/engine/data/monitor")
        for p in sorted((ROOT / d).glob("*.json*"))]
TARGETS = ("decode_pb", "decode_json", "split_jsonl")

pytestmark = [pytest.mark.skipif(not LONG, reason="the long test job only (TRACELOGIC_LONG=1)"),
              pytest.mark.timeout(3600)]


def _cargo_fuzz() -> list[str]:
    """The cargo-fuzz command, installed from crates.io if missing."""
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    probe = subprocess.run([cargo, "fuzz", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        got = subprocess.run([cargo, "install", "cargo-fuzz", "--locked"],
                             capture_output=True, text=True, timeout=1800)
        if got.returncode != 0:
            pytest.skip("cargo-fuzz is not installed and `cargo install cargo-fuzz` failed: "
                        + got.stderr[-2000:])
    return [cargo, "fuzz"]


def _documents() -> list[bytes]:
    """Every document of the test data: whole files and each line."""
    out = []
    for p in DATA:
        data = p.read_bytes()
        out.append(data)
        out.extend(line for line in data.split(b"\n") if line.strip())
    return out


def _protobuf(docs: list[bytes]) -> list[bytes]:
    out = []
    for d in docs:
        try:
            req = json_format.ParseDict(hex_ids_to_b64(json.loads(d)),
                                        ExportTraceServiceRequest())
        except (ValueError, json_format.ParseError):
            continue
        out.append(req.SerializeToString())
    return out


@pytest.fixture(scope="module")
def built() -> list[str]:
    cmd = _cargo_fuzz()
    proc = subprocess.run([*cmd, "build", "--sanitizer", "none"], cwd=FUZZ,
                          capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return cmd


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(built, target, tmp_path):
    docs = _documents()
    seeds = _protobuf(docs) if target == "decode_pb" else docs
    assert len(seeds) > 10
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, s in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(s)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    proc = subprocess.run(
        [*built, "run", "--sanitizer", "none", target, str(corpus), "--",
         f"-max_total_time={SECONDS}", "-seed=1", "-rss_limit_mb=4096",
         f"-artifact_prefix={artifacts}/"],
        cwd=FUZZ, capture_output=True, text=True, timeout=SECONDS * 10 + 600)
    crashes = sorted(p.name for p in artifacts.iterdir())
    assert proc.returncode == 0 and not crashes, (
        f"{target}: {crashes} in {artifacts}\n{proc.stderr[-5000:]}")
    assert "Done " in proc.stderr  # libFuzzer ran to its time limit
