"""The Rust crate's own checks, run by the one test command (README, .ci/run).

`cargo fmt --check`, `cargo clippy -D warnings` (with the Python bindings) and `cargo test`
(pure Rust, no interpreter) on native/Cargo.toml. Cargo builds into native/target, the
directory maturin uses too, so a warm checkout reuses it. A missing cargo fails these
tests with what to install: it is a test dependency like any other.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "native" / "Cargo.toml"


def cargo(*args: str) -> None:
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    exe = shutil.which("cargo") or shutil.which("cargo", path=str(home / "bin"))
    assert exe, ("cargo is not on PATH: install Rust (https://rustup.rs), e.g. "
                 "`curl https://sh.rustup.rs -sSf | sh -s -- -y --profile default`")
    argv = [exe, *args[:1], "--manifest-path", str(MANIFEST), *args[1:]]
    proc = subprocess.run(argv, cwd=ROOT / "native", capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (f"{' '.join(argv)} exited {proc.returncode}\n"
                                  f"{proc.stdout}\n{proc.stderr}")


@pytest.mark.parametrize("args", [
    ("fmt", "--check"),
    ("clippy", "--all-targets", "--all-features", "--", "-D", "warnings"),
    ("test",),
], ids=["fmt", "clippy", "test"])
def test_cargo(args):
    cargo(*args)


def test_the_extension_is_built_and_speaks_our_boundary():
    """`pip install -e .` (scripts/install.sh) built tracelogic._native: it must import,
    not skip, and declare only capabilities the engine registry can route."""
    from tracelogic import _native
    from tracelogic.engine.registry import CAPABILITIES, NATIVE_ABI_VERSION

    assert _native.ABI_VERSION == NATIVE_ABI_VERSION
    caps = _native.capabilities()
    assert caps == sorted(set(caps)), caps
    assert set(caps) <= CAPABILITIES, set(caps) - CAPABILITIES
    import tracelogic
    assert _native.__version__ == tracelogic.__version__
