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
import time
from typing import Any

from tracelogic.healing.config import load_config
from tracelogic.healing.conformance import check_trail, violation_json
from tracelogic.healing.controller import Controller

log = logging.getLogger("tracelogic.serve")


class HealingWorker:
    """The healing controller of `serve`, on its own thread.

    The engine hands it violations after they are committed, so a slow action
    (a webhook with retries) never holds up ingest; pending work (approval
    timeouts, post-action verification) runs about once a second. Dry-run
    unless `--execute` or the controller configuration says otherwise.
    """

    CONFORMANCE_EVERY_S = 10.0

    def __init__(self, spec: Any, config: Any):
        self.controller = Controller(spec, config.store, load_config(config.controller_config),
                                     execute=config.execute or None)
        self._queue: "queue.Queue[list | None]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tracelogic-heal", daemon=True)
        self.error: BaseException | None = None
        self.spec = spec
        self.store = config.store
        # controller conformance (docs/control.md §9): divergences found in the trail
        self.divergences = 0
        self._reported: set[str] = set()
        self._checked = 0.0
        # a control loop's period closes within a tick: tick at least twice per period
        periods = [loop.period_ns for loop in self.controller.loops.values()]
        self._tick_s = min([1.0] + [p / 2e9 for p in periods])

    def bind_metrics(self, registry: Any) -> None:
        """serve's Prometheus registry: control-loop decisions and divergences are counted
        there (``tracelogic_controller_decisions_total``, ``…_divergences_total``)."""
        self._registry = registry

    def _count(self, name: str, *labels: str) -> None:
        reg = getattr(self, "_registry", None)
        if reg is not None:
            reg.inc(name, 1, *labels)

    @property
    def wanted_metrics(self) -> frozenset[str]:
        """The metric names the `run controller` policies read: serve decodes them too."""
        return self.controller.wanted_metrics

    def put_points(self, points: list) -> None:
        """Metric data points serve received (from the engine thread)."""
        if self.controller.loops and points:
            self.controller.observe_points(points)

    def check_conformance(self) -> list[dict]:
        """Replay the trail's controller runs against their declarations; each new
        divergence is logged, counted and stored as a violation of kind
        controller-conformance (returned as JSON)."""
        from tracelogic.sidecar.store import Store

        found = []
        for d in check_trail(self.spec, self.controller.log).divergences:
            v = violation_json(d)
            ident = f"{v['property']}/{v['key']}/{d.recorded!r}"
            if ident in self._reported:
                continue
            self._reported.add(ident)
            found.append(v)
        if found:
            self.divergences += len(found)
            for v in found:
                log.error(v["message"], extra={"fields": {"property": v["property"],
                                                          "kind": v["kind"]}})
                self._count("tracelogic_controller_divergences_total",
                            v["details"]["policy"])
            store = Store(self.store)
            try:
                store.add_violations(found)
            finally:
                store.close()
        return found

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
                batch = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                batch = []
            try:
                if batch:
                    self.controller.handle_many(batch)
                decided = []
                if self.controller.loops:
                    decided = self.controller.tick_controllers()
                    for d in decided:
                        self._count("tracelogic_controller_decisions_total", d.policy,
                                    d.outcome)
                self.controller.run_pending()
                # the replay reads the whole trail: after new decisions, and every
                # CONFORMANCE_EVERY_S otherwise (an edited trail is found within that)
                if self.controller.loops and (decided or time.monotonic() - self._checked
                                              >= self.CONFORMANCE_EVERY_S):
                    self._checked = time.monotonic()
                    self.check_conformance()
            except Exception as e:  # keep serving; the audit trail and the log say why
                self.error = e
                log.exception("healing controller failed", extra={"fields": {"error": repr(e)}})
            if batch is None:
                return
