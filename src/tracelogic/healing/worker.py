"""The healing controller of `tracelogic serve`, on its own thread.

It lives in ``healing`` and the serve command hands it to the sidecar
(``Sidecar(config, healer=HealingWorker)``), so the sidecar never imports the healing
package (tests/test_layers.py). ``config`` is the sidecar's ``ServeConfig``; the worker
reads its ``store``, ``controller_config`` and ``execute``.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from tracelogic.healing.config import load_config
from tracelogic.healing.controller import Controller

log = logging.getLogger("tracelogic.serve")


class HealingWorker:
    """The healing controller of `serve`, on its own thread.

    The engine hands it violations after they are committed, so a slow action
    (a webhook with retries) never holds up ingest; pending work (approval
    timeouts, post-action verification) runs about once a second. Dry-run
    unless `--execute` or the controller configuration says otherwise.
    """

    def __init__(self, spec: Any, config: Any):
        self.controller = Controller(spec, config.store, load_config(config.controller_config),
                                     execute=config.execute or None)
        self._queue: "queue.Queue[list | None]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tracelogic-heal", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def put(self, records: list) -> None:
        if records:
            self._queue.put(records)

    def stop(self, grace_s: float) -> None:
        self._queue.put(None)
        self._thread.join(grace_s + 5)
        self.controller.close()

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=1.0)
            except queue.Empty:
                batch = []
            try:
                if batch:
                    self.controller.handle_many(batch)
                self.controller.run_pending()
            except Exception as e:  # keep serving; the audit trail and the log say why
                self.error = e
                log.exception("healing controller failed", extra={"fields": {"error": repr(e)}})
            if batch is None:
                return
