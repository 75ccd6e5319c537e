"""The collector pauses of tracelogic/gc_pause.py: what each leaves behind.

`gc_paused` nests and restores; `gc_off_until_exit` (a one-shot `monitor` process) also
freezes what was built inside, so neither a later collection nor the interpreter's exit
scans it again. The CLI freezes only when `main` runs it in its own process: the tests'
in-process `cli.run` must not freeze the test process's heap.
"""
from __future__ import annotations

import gc
import io
import subprocess
import sys

import pytest

from tracelogic import cli
from tracelogic.gc_pause import gc_off_until_exit, gc_paused


def test_gc_paused_nests_and_restores():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_gc_off_until_exit_freezes_what_was_built_inside():
    before = gc.get_freeze_count()
    try:
        with gc_off_until_exit():
            assert not gc.isenabled()
            kept = [[i] for i in range(1000)]  # noqa: F841  (alive at the freeze)
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + 1000
    finally:
        gc.unfreeze()


def test_in_process_run_does_not_freeze(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text("property p: G true\n")
    traces = tmp_path / "t.json"
    traces.write_text('{"resourceSpans": []}')
    # a `main` earlier in the same process (as tests/test_cli.py calls it) changes nothing:
    # one-shot is said per call, not remembered
    with pytest.raises(SystemExit):
        cli.main(["check", str(spec)])
    before = gc.get_freeze_count()
    code = cli.run(["monitor", str(spec), str(traces)], io.StringIO(), io.StringIO())
    assert code == 0
    assert gc.get_freeze_count() == before
    assert gc.isenabled()


def test_main_freezes_in_its_own_process(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text("property p: G true\n")
    traces = tmp_path / "t.json"
    traces.write_text('{"resourceSpans": []}')
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, "
             "'enabled', gc.isenabled(), file=sys.stderr))\n"
             "from tracelogic.cli import main\n"
             f"main(['monitor', {str(spec)!r}, {str(traces)!r}])\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "frozen True enabled True" in r.stderr
