"""`serve` stops gracefully on SIGTERM and SIGINT whichever of its threads the kernel hands
the signal to.

A process-directed signal goes to any thread that does not block it, and `serve` has a
dozen (receivers, gRPC's, the engine's). Python runs the handler later, in the main thread,
at its next bytecode. The handler used to set a ``threading.Event`` that the main thread
waited on in a loop; when that bytecode came while the main thread held the Event's own
lock (its wait had just timed out and taken the lock back), ``set()`` waited for that lock
forever and the process hung without draining (seen once in a benchmark run, a gdb stack
showing the handler blocked in the lock; six runs of SIGTERM at a random thread under load
did not hit the window again). The handler now only appends to a list and the main loop
sleeps, so no lock is involved. The window cannot be forced from outside the process: what
this test pins is the path the hang was on, a stop signal delivered to a thread other
than the main one (``tgkill`` chooses the thread), which must drain and exit 0.
"""
from __future__ import annotations

import ctypes
import os
import signal
import time

import pytest

from sidecar.serve_helpers import start_serve

_libc = ctypes.CDLL(None, use_errno=True)


def _threads(pid: int) -> list[int]:
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def _tgkill(pid: int, tid: int, sig: int) -> None:
    if _libc.tgkill(pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {sig})")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_at_any_thread_drains_and_exits(tmp_path, sig):
    sp = start_serve(tmp_path, name=f"serve-{sig.name}")
    try:
        pid = sp.proc.pid
        time.sleep(1.2)  # the main thread has been round its wait loop at least twice
        others = [t for t in _threads(pid) if t != pid]
        assert others, "serve runs its receivers and engine in threads of their own"
        _tgkill(pid, others[-1], sig)
        code = sp.proc.wait(30)
    finally:
        if sp.proc.poll() is None:
            sp.kill()
    assert code == 0
    msgs = [r.get("msg") for r in sp.logs()]
    assert "shutting down" in msgs and "stopped" in msgs
