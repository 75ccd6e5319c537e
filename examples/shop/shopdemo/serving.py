"""Run the real ``tracelogic serve`` next to the shop: a subprocess on free loopback ports.

    with Serve("specs/cascade.spec", workdir, "--controller-config", "controller.toml") as sv:
        run("cascade", workdir, also=[sv.http])     # the shop exports to the file and to serve
        sv.wait_for(lambda: len(sv.violations()) >= 12, "the per-trace violations")
        code = sv.stop()                            # SIGTERM: decide, commit, drain the healer

The process is started with this interpreter, ``--grpc off --http 127.0.0.1:0``, and its
JSON log on stderr goes to ``WORKDIR/serve.log``; the bound port is read from the
``serving`` line. Leaving the ``with`` block always ends the process (SIGTERM, then SIGKILL
after a deadline). Every wait has a deadline and polls a condition.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable, Sequence

from tracelogic.cli import run as cli


def wait_for(pred: Callable[[], Any], what: str, timeout: float = 30.0,
             interval: float = 0.05) -> Any:
    """Poll ``pred`` until it returns something true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Serve:
    """``tracelogic serve SPEC --store WORKDIR/tracelogic.db ARGS...`` as a subprocess."""

    def __init__(self, spec: str, workdir: str, *args: str, env: dict | None = None,
                 name: str = "serve") -> None:
        self.spec = os.path.abspath(spec)
        self.workdir = workdir
        self.store = os.path.join(workdir, "tracelogic.db")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.returncode: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def launch(self) -> "Serve":
        """Start the process without waiting for it (see :meth:`ready`)."""
        if self.proc is not None:
            raise RuntimeError("serve was already launched")
        os.makedirs(self.workdir, exist_ok=True)
        cmd = [sys.executable, "-c", "from tracelogic.cli import main; main()", "serve",
               self.spec, "--store", self.store, "--grpc", "off", "--http", "127.0.0.1:0",
               *self.args]
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         cwd=self.workdir, env=self.env)
        return self

    def ready(self, timeout: float = 60.0) -> "Serve":
        """Wait for the ``serving`` log line and read the bound port from it."""
        try:
            rec = wait_for(self._serving, "`tracelogic serve` to listen", timeout)
        except BaseException:
            self.kill()
            raise
        self.port = int(rec["listen"]["http"].rsplit(":", 1)[1])
        return self

    def start(self, timeout: float = 60.0) -> "Serve":
        return self.launch().ready(timeout)

    def _serving(self) -> dict | None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_text()}")
        return next((r for r in self.logs() if r.get("msg") == "serving"), None)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: serve decides every open trace, commits, drains the healer."""
        if self.proc is None:
            raise RuntimeError("serve was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"serve did not stop within {timeout}s of SIGTERM:\n"
                               f"{self.log_text()}") from None
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "Serve":
        """Launch (unless :meth:`launch` already did) and wait until it serves."""
        if self.proc is None:
            self.launch()
        return self if self.port is not None else self.ready()

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            finally:
                self.kill()

    # ------------------------------------------------------------------ what it says
    @property
    def http(self) -> str:
        """The OTLP/HTTP base URL (``/v1/traces``, ``/v1/metrics``, ``/metrics``)."""
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def logs(self) -> list[dict]:
        """The JSON log lines (anything else, e.g. a traceback, as ``{"raw": line}``)."""
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def metric(self, name: str) -> float:
        """One counter of ``GET /metrics`` (summed over its labels)."""
        with urllib.request.urlopen(f"{self.http}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if not line.startswith("#") and head.partition("{")[0] == name:
                total += float(value)
        return total

    def violations(self) -> list[dict]:
        """``tracelogic violations --store ... --format json`` (in-process)."""
        return tl_json("violations", "--store", self.store)[1]

    def wait_for(self, pred: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        def check() -> Any:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode} while waiting "
                                   f"for {what}:\n{self.log_text()}")
            return pred()
        return wait_for(check, what, timeout)


def tl(*argv: str) -> tuple[int, str, str]:
    """``tracelogic ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def tl_json(*argv: str) -> tuple[int, Any]:
    """``tracelogic ARGV --format json`` in-process: (exit code, the parsed document)."""
    code, out, err = tl(*argv, "--format", "json")
    if code not in (0, 1):
        raise RuntimeError(f"tracelogic {' '.join(argv)} exited with {code}: {err}")
    return code, json.loads(out)


__all__: Sequence[str] = ["Serve", "tl", "tl_json", "wait_for"]
