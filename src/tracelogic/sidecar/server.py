"""The sidecar core behind `tracelogic serve`: ingest queue, engine thread, store, metrics.

Receivers (``http_receiver.py``, ``grpc_receiver.py``) hand a request's bytes to
:meth:`Sidecar.handle`, which either refuses it at once (the bounded ingest queue is
full: the receiver answers 429 / ``RESOURCE_EXHAUSTED`` with a retry delay) or waits
until the **engine thread** has processed it (a receiver on an asyncio loop calls
:meth:`Sidecar.submit` and :meth:`Sidecar.answer` instead, and awaits a future the
engine resolves). An OTLP protobuf trace request is not
decoded on the receiver's thread: only its spans are counted from its framing (the
queue is bounded in spans), and the engine thread decodes it, in the native core when
the core runs some property (:mod:`~tracelogic.engine.native_stream`), so the receivers'
threads and the engine do not fight over the GIL for the decoding. OTLP/JSON and metrics
requests are decoded on the receiver's thread, as their span count needs a parse. The
engine takes every queued request in one batch and, in this order:

1. with ``--journal``, decodes the batch's protobuf requests (for their trace ids) and
   writes the payloads to the store (one transaction);
2. decodes the rest and feeds the spans to the streaming monitor and polls it (idle
   traces complete, cross-trace events are released under the watermark); completed
   traces are decided ``decide_chunk`` at a time: a chunk per trace request in the
   batch (so that deciding keeps pace with the input), more while the backlog is past
   ``max_backlog`` (where requests are refused), and, with no request in the batch or
   queued, as many as the backlog holds; at most ``decide_chunks`` chunks a batch;
3. commits every violation decided so far (one transaction; each body encoded to JSON
   once, for its row and its log line);
4. acknowledges the batch's requests, then logs the new violations.

So a request is acknowledged only after everything it made decidable is durable
(group commit: one fsync per batch, not per request), and a violation decided by the
idle timer is committed before it is logged or counted anywhere. Nothing accepted is
ever dropped: a request is either refused (and counted) or processed.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from tracelogic.errors import InputError, TracelogicError
from tracelogic.ingest.otlp_common import (DecodeStats, JsonLimitError, loads_json,
                                            safe_text)
from tracelogic.sidecar.prometheus import Registry
from tracelogic.sidecar.store import Store
from tracelogic.engine.native_stream import streaming_monitor
from tracelogic.engine.stream import SECOND

__all__ = ["ServeConfig", "Sidecar", "Outcome", "JsonFormatter", "RawJson", "decode_request"]

log = logging.getLogger("tracelogic.serve")


@dataclass
class ServeConfig:
    """Every `tracelogic serve` option, with the CLI's defaults."""

    spec_path: str
    grpc: str | None = "127.0.0.1:4317"
    http: str | None = "127.0.0.1:4318"
    store: str = "tracelogic.db"
    forward: str | None = None
    journal: bool = False
    properties: list[str] | None = None
    lateness_ns: int = 30 * SECOND
    idle_ns: int = 5 * SECOND
    max_open_traces: int = 100_000
    max_instances: int = 100_000
    queue_spans: int = 50_000
    max_request_bytes: int = 4 * 2**20
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    retention_age_ns: int | None = None
    retention_rows: int | None = None
    retention_interval_s: float = 10.0
    retry_after_s: int = 1
    poll_interval_s: float = 0.05
    max_connections: int = 256  # concurrent requests (HTTP request slots, gRPC calls)
    max_http_connections: int = 1024  # open HTTP connections; the longest idle yields first
    request_timeout_s: float = 30.0  # an HTTP request's head and body, from its first byte
    keepalive_timeout_s: float = 60.0  # an idle HTTP keep-alive connection is closed after
    grpc_workers: int = 16
    decide_chunk: int = 50  # completed traces decided between two commits
    decide_chunks: int = 8  # chunks decided before one commit while no request waits
    execute: bool = False               # healing: act instead of dry-run
    controller_config: str | None = None  # healing controller TOML (secrets, endpoints)
    max_backlog: int = 1000  # completed traces waiting to be decided before new data is refused
    spec_search_path: tuple[str, ...] = ()  # --spec-path: directories imports may read
    engine_wait_s: float = 60.0  # a receiver waits at most this long for the engine
    engine: str | None = None  # "python" | "native"; None: $TRACELOGIC_ENGINE, else the default
    # `consistency` checks (docs/consistency.md §11): open operations per key, open keys
    # per check, search steps per window; the watermark is the wall clock minus lateness_ns
    consistency_window: int = 10_000
    consistency_keys: int = 100_000
    consistency_steps: int = 200_000


@dataclass
class Outcome:
    """What a receiver answers: ``status`` is ok | invalid | busy | unavailable."""

    status: str
    rejected: int = 0
    message: str = ""
    retry_after_s: int = 0


@dataclass
class _Item:
    signal: str                 # "traces" | "metrics" | "logs"
    fmt: str                    # "protobuf" | "json"
    payload: bytes
    raw: bool = False           # protobuf traces not decoded yet: the engine decodes them
    spans: list = field(default_factory=list)
    points: list = field(default_factory=list)
    logs: list = field(default_factory=list)  # log records (docs/logs.md)
    n: int = 0                  # spans (or points) in it
    enqueued: float = 0.0
    # how the receiver learns that the engine is done with the item: a threading.Event it
    # waits on (a receiver's thread), or, for a receiver on an asyncio loop, ``waiter``:
    # (loop, future), resolved on that loop (one wake-up per loop and engine step)
    done: threading.Event | None = None
    waiter: tuple[Any, Any] | None = None
    error: BaseException | None = None
    decoded: bool = False       # a raw item's spans are in ``spans`` (decoded in Python)
    invalid: str | None = None  # the decoder refused a raw item: the answer's message
    rejected: int = 0           # spans (points, records) rejected (partial success)
    message: str = ""
    transport: str = ""         # the receiver's ("http" | "grpc"), for its counters
    finished: bool = False      # the engine is done with it (set before the receiver is told)
    journal_key: str | None = None  # a logs item's key in the journal (--journal)


# the journal key of a log request's records that wait for the watermark, not a trace
# (trace ids are 32 hex digits, so no trace id starts with it)
LOG_KEY = "logs:"


def _resolve(futures: list) -> None:
    """On a receiver's loop: the engine is done with these requests."""
    for f in futures:
        if not f.done():
            f.set_result(True)


class IngestQueue:
    """Bounded by spans: :meth:`offer` refuses instead of blocking or dropping."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: deque[_Item] = deque()
        self._size = 0
        self._cond = threading.Condition()
        self.closed = False

    def offer(self, item: _Item) -> bool:
        with self._cond:
            if self.closed:
                return False
            # an empty queue takes any one request, so an oversized batch cannot loop on 429
            if self._size and self._size + item.n > self.capacity:
                return False
            self._items.append(item)
            self._size += item.n
            self._cond.notify()
            return True

    def take(self, timeout: float, max_items: int = 256) -> list[_Item]:
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            out = []
            while self._items and len(out) < max_items:
                it = self._items.popleft()
                self._size -= it.n
                out.append(it)
            return out

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    @property
    def depth(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._items)


class RawJson(str):
    """A log field's value that is JSON text already (a violation as the store encoded it):
    :class:`JsonFormatter` puts it into the line as it is instead of encoding it again."""

    __slots__ = ()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and the record's ``fields``."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # the last second's text, made once

    def _time(self, record: logging.LogRecord) -> str:
        return self.time_text(int(record.created), int(record.msecs))

    def time_text(self, sec: int, ms: int) -> str:
        """A line's ``time``: UTC second ``sec`` and millisecond ``ms`` (the second's text
        made once, not per line; the batched violation lines read it too)."""
        if sec != self._second[0]:
            self._second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
        return f"{self._second[1]}.{ms:03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {}) or {}
        if len(fields) == 1 and not record.exc_info:
            ((k, v),) = fields.items()
            if type(v) is RawJson and k not in _HEAD:  # a violation's line: no encoder
                head = _raw_head(record.levelname.lower(), record.name, record.getMessage(), k)
                return _raw_line(self._time(record), head, v)
        out = {"time": self._time(record), "level": record.levelname.lower(),
               "logger": record.name, "msg": record.getMessage()}
        raw = [(k, v) for k, v in fields.items() if type(v) is RawJson]
        if raw:
            fields = {k: v for k, v in fields.items() if type(v) is not RawJson}
        out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        text = _LOG_JSON.encode(out)
        if raw:  # spliced in last, as the object's last members
            text = text[:-1] + "".join(f", {_LOG_JSON.encode(k)}: {v}" for k, v in raw) + "}"
        return text


#: ``json.dumps(..., default=str)``'s encoder, made once
_LOG_JSON = json.JSONEncoder(default=str)
#: a string as that encoder writes it (ASCII, quoted)
_quote = json.encoder.encode_basestring_ascii
_HEAD = frozenset({"time", "level", "logger", "msg"})


def _raw_head(level: str, logger: str, msg: str, key: str) -> str:
    """The members of a one-field line between its time and its field's value."""
    q = _quote
    return f'"level": {q(level)}, "logger": {q(logger)}, "msg": {q(msg)}, {q(key)}: '


def _raw_line(time_text: str, head: str, value: RawJson) -> str:
    """A line whose one field is JSON text already (``_raw_head``'s members around it)."""
    return f'{{"time": {_quote(time_text)}, {head}{value}}}'


def _logged(record: Any) -> Any:
    """A committed violation as its log line holds it: the stored body and its row id,
    from the store's own JSON text when the record has it."""
    text = record.text
    if text is None or not text.endswith("}"):
        return dict(record.body, id=record.id)
    sep = ", " if len(text) > 2 else ""
    return RawJson(f"{text[:-1]}{sep}\"id\": {json.dumps(record.id)}}}")


def _plain_handlers(logger: logging.Logger) -> list | None:
    """The handlers a WARNING record of ``logger`` reaches, when every one of them is a plain
    :class:`logging.StreamHandler` with a :class:`JsonFormatter` and no logger or handler on
    the way filters (what :func:`setup_logging` installs); else None."""
    if logger.disabled or logger.filters:
        return None
    out = []
    c: Any = logger
    while c:
        if c.filters:
            return None
        for h in c.handlers:
            if type(h) is not logging.StreamHandler or h.filters or \
                    type(h.formatter) is not JsonFormatter:
                return None
            if logging.WARNING >= h.level:
                out.append(h)
        c = c.parent if c.propagate else None
    return out or None  # no handler at all: logging's last resort, the ordinary way


def _write_violation_lines(handlers: list, new: list) -> None:
    """Committed violations' log lines, written as ``log.warning("violation", extra=...)``
    writes them through :func:`_plain_handlers`' handlers (the same bytes: the
    formatter's line for each, then the handler's terminator), one write and one flush
    per handler for the lot instead of a record, a lock and a flush per line."""
    head = _raw_head("warning", log.name, "violation", "violation")
    clock = time.time
    lines = []
    for r in new:  # a record's time (its created and msecs), made once for every handler
        ct = clock()
        v = _logged(r)
        if type(v) is not RawJson:  # no stored text: the formatter's general way
            v = RawJson(_LOG_JSON.encode(v))
        lines.append((int(ct), int((ct - int(ct)) * 1000), v))
    for h in handlers:
        fmt, end = h.formatter, h.terminator
        parts = [_raw_line(fmt.time_text(sec, ms), head, v) + end for sec, ms, v in lines]
        h.acquire()
        try:
            h.stream.write("".join(parts))
            h.flush()
        except RecursionError:
            raise
        except Exception:
            h.handleError(logging.LogRecord(log.name, logging.WARNING, __file__, 0,
                                            "violation", (), None))
        finally:
            h.release()


def count_spans_pb(data: bytes) -> int | None:
    """The spans of an OTLP protobuf trace request, from its framing alone (the native
    core's wire reader; upb without the core); None when the framing is broken."""
    try:
        from tracelogic import _native
    except ImportError:
        _native = None
    if _native is not None and hasattr(_native, "count_spans_pb"):
        return _native.count_spans_pb(data)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest)
    try:
        req = ExportTraceServiceRequest.FromString(data)
    except Exception:
        return None
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


def decode_request(signal: str, fmt: str, data: bytes, *, wanted_attrs: frozenset[str],
                   wanted_metrics: frozenset[str]) -> tuple[list, DecodeStats]:
    """Decode one OTLP request body; raises :class:`InputError` for a malformed one.

    Returns the spans (or metric data points) and the stats (``rejected`` items are
    reported back as partial success).
    """
    from tracelogic.ingest import metrics as M
    from tracelogic.ingest.otlp import decode_traces_json, decode_traces_pb

    stats = DecodeStats()
    if signal == "logs":  # issue 19: the same rules, limits and counters as traces
        from tracelogic.ingest.logs import decode_logs_json, decode_logs_pb

        if fmt == "json":
            try:
                doc, _ = loads_json(data)
            except JsonLimitError as e:
                at = f" at line {e.lineno} column {e.colno}" if e.lineno else ""
                raise InputError(f"malformed JSON{at}: {e.msg}", hint="send an OTLP/JSON "
                                 "ExportLogsServiceRequest object") from None
            items = decode_logs_json(doc, wanted_attrs=wanted_attrs, stats=stats,
                                     source="request")
        else:
            items = decode_logs_pb(data, wanted_attrs=wanted_attrs, stats=stats,
                                   source="request")
        if stats.errors:
            raise stats.errors[0]
        return items, stats
    if fmt == "json":
        try:
            doc, suspect = loads_json(data)
        except JsonLimitError as e:
            at = f" at line {e.lineno} column {e.colno}" if e.lineno else ""
            raise InputError(f"malformed JSON{at}: {e.msg}",
                             hint="send an OTLP/JSON ExportTraceServiceRequest object") from None
        if signal == "traces":
            items = decode_traces_json(doc, wanted_attrs=wanted_attrs, stats=stats,
                                       source="request", _suspect=suspect)
        else:
            if not isinstance(doc, dict):
                raise InputError("expected an OTLP/JSON object with \"resourceMetrics\"")
            items = M.decode_metrics_json(doc, wanted_attrs=wanted_attrs,
                                          wanted_metrics=wanted_metrics, stats=stats,
                                          source="request", _suspect=suspect)
    elif signal == "traces":
        items = decode_traces_pb(data, wanted_attrs=wanted_attrs, stats=stats, source="request")
    else:
        items = M.decode_metrics_pb(data, wanted_attrs=wanted_attrs,
                                    wanted_metrics=wanted_metrics, stats=stats, source="request")
    if stats.errors:  # a document-level problem inside an otherwise readable request
        raise stats.errors[0]
    return items, stats


class Sidecar:
    """The running sidecar. ``start()``, then receivers call :meth:`handle`; ``stop()``.

    Usable in-process (tests) as well as from `tracelogic serve` (which adds signal
    handlers: SIGTERM calls :meth:`stop`, SIGHUP :meth:`request_reload`).
    """

    def __init__(self, config: ServeConfig, *, clock: Callable[[], int] = time.monotonic_ns,
                 healer: Callable[[Any, ServeConfig], Any] | None = None):
        """``healer(spec, config)`` builds the healing worker when the spec has ``heal``
        policies: ``tracelogic serve`` passes :class:`tracelogic.healing.worker.HealingWorker`
        (the sidecar never imports the healing package; tests/test_layers.py). Without it,
        the policies are not run, and the log says so at start."""
        from tracelogic.spec.loader import load

        self.config = config
        self.spec = load(config.spec_path, spec_path=config.spec_search_path)
        self.sm = streaming_monitor(self.spec, properties=config.properties,
                                   lateness_ns=config.lateness_ns, idle_ns=config.idle_ns,
                                   max_open_traces=config.max_open_traces,
                                   max_instances=config.max_instances, clock=clock,
                                   engine=config.engine)
        self.consistency = self._consistency_stream(self.spec)
        self._log_refused()
        self.store = Store(config.store)
        self.queue = IngestQueue(config.queue_spans)
        self.metrics = self._registry()
        self.forwarder = None
        if config.forward:
            from tracelogic.sidecar.forward import Forwarder
            self.forwarder = Forwarder(config.forward, self.metrics)
        self._engine: threading.Thread | None = None
        self._reload = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()
        self.ready = threading.Event()
        self.receivers: list[Any] = []
        self._last_retention = 0.0
        self._engine_failure: BaseException | None = None
        self._failures_seen = 0
        self._uncommitted: list = []  # violations a failed commit keeps for the next one
        self.healer = None
        if self.spec.heals and healer is not None:
            self.healer = healer(self.spec, config)
        elif self.spec.heals:
            log.warning("healing policies are not run: this sidecar has no controller",
                        extra={"fields": {"policies": [h.name for h in self.spec.heals]}})

    def _consistency_stream(self, spec: Any) -> Any:
        """The spec's `consistency` checks, run window by window; None without any."""
        if not spec.consistency:
            return None
        from tracelogic.consistency.linearizability import Budget
        from tracelogic.consistency.stream import ConsistencyStream

        c = self.config
        return ConsistencyStream(spec, lateness_ns=c.lateness_ns,
                                 max_window=c.consistency_window,
                                 max_keys=c.consistency_keys,
                                 budget=Budget(steps=c.consistency_steps))

    @property
    def wanted_attrs(self) -> frozenset[str] | None:
        """The attributes decoding keeps: the properties' and the operations' (None:
        all of them, when an `operation` mapping computes an attribute's name)."""
        cs = self.consistency
        if cs is None or not cs.active:
            return self.sm.wanted_attrs
        if cs.wanted_attrs is None:
            return None
        return self.sm.wanted_attrs | cs.wanted_attrs

    def status(self) -> dict[str, Any]:
        """The JSON status (``GET /status``, and the `stopped` log line)."""
        out: dict[str, Any] = {"schema": "tracelogic.serve-status/1",
                               "monitor": self.sm.counters().to_dict()}
        cs = self.consistency
        out["consistency"] = None if cs is None else cs.published()
        return out

    # ------------------------------------------------------------------ metrics
    def _registry(self) -> Registry:
        r = Registry()
        r.counter("tracelogic_requests_total", "OTLP export requests by signal, transport and "
                  "outcome (ok, invalid, oversize, busy, unavailable, unauthenticated, "
                  "unsupported_media_type, length_required, timeout, not_found, "
                  "method_not_allowed, too_many_connections, error); HTTP requests that are "
                  "not exports count as signal probe (the probes) or other",
                  ("signal", "transport", "outcome"))
        r.counter("tracelogic_spans_received_total", "spans in requests that were decoded")
        r.counter("tracelogic_spans_decoded_total", "spans decoded into the span model")
        r.counter("tracelogic_spans_rejected_total", "spans rejected while decoding (bad ids, "
                  "times), reported back as partial success")
        r.counter("tracelogic_spans_refused_total", "spans in requests refused before "
                  "processing (the client may retry them)", ("reason",))
        r.counter("tracelogic_spans_processed_total", "spans fed to the monitor")
        r.counter("tracelogic_points_processed_total", "metric data points fed to the monitor")
        r.counter("tracelogic_logs_received_total", "log records in requests that were decoded")
        r.counter("tracelogic_logs_decoded_total", "log records decoded into the record model")
        r.counter("tracelogic_logs_rejected_total", "log records rejected while decoding (bad "
                  "ids, times, text), reported back as partial success")
        r.counter("tracelogic_logs_refused_total", "log records in requests refused before "
                  "processing (the client may retry them)", ("reason",))
        r.counter("tracelogic_logs_processed_total", "log records fed to the monitor")
        r.counter("tracelogic_violations_total", "violations committed to the store",
                  ("property",))
        r.counter("tracelogic_forwarded_total", "requests forwarded upstream", ("outcome",))
        r.counter("tracelogic_journal_requests_total", "requests written to the journal")
        r.counter("tracelogic_reloads_total", "spec reloads", ("outcome",))
        r.counter("tracelogic_points_rejected_total", "metric data points rejected while "
                  "decoding, reported back as partial success")
        r.counter("tracelogic_engine_errors_total", "errors the engine thread caught and "
                  "survived, by stage (journal, monitor, consistency, commit, report, forget, "
                  "loop); "
                  "each is logged", ("stage",))
        r.counter("tracelogic_monitor_failures_total", "traces, events or metric "
                  "evaluations whose monitoring raised: counted, logged, skipped")
        r.counter("tracelogic_journal_quarantined_total", "journal entries that could not "
                  "be replayed, moved to the store's quarantine table")
        r.counter("tracelogic_controller_decisions_total", "periods of `run controller` "
                  "healing policies, by policy and outcome (dry_run, executed, blocked, "
                  "skipped, …)", ("policy", "outcome"))
        r.counter("tracelogic_controller_divergences_total", "recorded controller decisions "
                  "that diverge from the declaration (controller-conformance violations)",
                  ("policy",))
        r.histogram("tracelogic_request_seconds", "from a request's arrival in the queue to "
                    "its acknowledgement")
        r.histogram("tracelogic_completion_to_commit_seconds", "from a trace's completion "
                    "(handed out by the idle timer) to its verdicts being committed")

        sm = lambda: self.sm  # noqa: E731 -- reload replaces self.sm's internals, not the object
        r.gauge("tracelogic_open_traces", "traces being assembled",
                fn=lambda: [((), sm().assembler.open_traces)])
        r.gauge("tracelogic_open_spans", "spans buffered in open traces",
                fn=lambda: [((), sm().assembler.open_spans)])
        r.gauge("tracelogic_open_instances", "open cross-trace instances",
                fn=lambda: [((), sm().open_instances)])
        r.gauge("tracelogic_buffered_events", "cross-trace events waiting for the watermark",
                fn=lambda: [((), sm().buffered_events)])
        r.gauge("tracelogic_traces_completed", "traces assembled (complete) so far",
                fn=lambda: [((), sm().assembler.completed)])
        r.gauge("tracelogic_decide_backlog", "completed traces waiting to be decided",
                fn=lambda: [((), sm().backlog)])
        r.gauge("tracelogic_traces_evicted", "traces evicted by a limit (verdict incomplete)",
                fn=lambda: [((), sm().traces_evicted)])
        r.gauge("tracelogic_spans_duplicate", "spans dropped as repeats (retries)",
                fn=lambda: [((), sm().assembler.duplicates)])
        r.gauge("tracelogic_spans_late", "spans that arrived after their trace was decided",
                fn=lambda: [((), sm().assembler.late)])
        r.gauge("tracelogic_events_late", "events behind the watermark for cross-trace scopes",
                fn=lambda: [((), sm().late_events)])
        r.gauge("tracelogic_instances_evicted", "cross-trace instances evicted (incomplete)",
                fn=lambda: [((), sm().evicted_instances)])

        r.gauge("tracelogic_logs_waiting", "log records waiting for their trace's spans",
                fn=lambda: [((), sm().waiting_log_records)])
        r.gauge("tracelogic_logs_late", "log records that arrived after their trace was "
                "decided (they reach only the cross-trace scopes)",
                fn=lambda: [((), sm().late_log_records)])
        r.gauge("tracelogic_logs_evicted", "log records dropped while waiting for their "
                "trace, beyond the open-trace limit",
                fn=lambda: [((), sm().evicted_log_records)])
        r.gauge("tracelogic_verdicts", "verdicts by property and verdict",
                ("property", "verdict"),
                fn=lambda: [((p, v), n) for (p, v), n in list(sm().verdict_counts.items())])
        r.gauge("tracelogic_queue_spans", "spans waiting in the ingest queue",
                fn=lambda: [((), self.queue.depth)])
        r.gauge("tracelogic_queue_capacity_spans", "the ingest queue's capacity in spans",
                fn=lambda: [((), self.queue.capacity)])
        r.gauge("tracelogic_journal_requests", "requests held in the journal",
                fn=lambda: [((), self._journal_gauge())])
        cs = lambda: self.consistency  # noqa: E731
        r.gauge("tracelogic_consistency_keys", "keys of `consistency` checks by verdict "
                "(presumably_satisfied while open; violated, inconclusive and incomplete "
                "are final)", ("check", "verdict"),
                fn=lambda: [] if cs() is None else [
                    ((c["name"], v), n) for c in cs().published()["checks"]
                    for v, n in c["keys"].items()])
        r.gauge("tracelogic_consistency_operations", "operations of `consistency` checks by "
                "outcome: checked, dropped (failed, indeterminate reads), late, unchecked "
                "(their key had a final verdict), evicted (their key went beyond a limit)",
                ("outcome",), fn=lambda: [] if cs() is None else [
                    ((o,), n) for o, n in cs().published()["operations"].items()])
        r.gauge("tracelogic_consistency_open_operations", "operations waiting in open "
                "windows (not yet behind the watermark)",
                fn=lambda: [((), 0 if cs() is None else cs().published()["open_operations"])])
        r.gauge("tracelogic_consistency_windows", "windows checked (linearizability searches "
                "run)", fn=lambda: [((), 0 if cs() is None else cs().published()["windows"])])
        return r

    def _journal_gauge(self) -> int:
        return self._journal_count if self.config.journal else 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Replay the journal, start the engine, then the receivers; ready after that."""
        self._journal_count = 0
        if self.config.journal:
            self._replay()
        self._engine = threading.Thread(target=self._run_engine, name="tracelogic-engine",
                                        daemon=True)
        self._engine.start()
        if self.healer is not None:
            if hasattr(self.healer, "bind_metrics"):  # control-loop counters (control.md §9)
                self.healer.bind_metrics(self.metrics)
            self.healer.start()
        if self.forwarder is not None:
            self.forwarder.start()
        from tracelogic.sidecar.grpc_receiver import GrpcReceiver
        from tracelogic.sidecar.http_receiver import HttpReceiver
        if self.config.http:
            self.receivers.append(HttpReceiver(self, self.config.http))
        if self.config.grpc:
            self.receivers.append(GrpcReceiver(self, self.config.grpc))
        for r in self.receivers:
            r.start()
        self.ready.set()
        log.info("serving", extra={"fields": {
            "spec": self.config.spec_path, "store": self.config.store,
            "journal": self.config.journal,
            "listen": self.addresses(),
            "properties": [cp.name for cp in self.sm.compiled.properties],
            "not_monitored": self.sm.monitor.refused,
            "engines": {a.property: a.engine for a in self.sm.monitor.engine_plan.values()},
            "fallbacks": {a.property: a.fallback
                          for a in self.sm.monitor.engine_plan.values() if a.fallback}}})

    def _log_refused(self) -> None:
        """Say which properties the engine refused: the sidecar serves the others."""
        for name, why in self.sm.monitor.refused.items():
            log.warning("property not monitored", extra={"fields": {"property": name,
                                                                    "reason": why}})
        for name, why in (self.consistency.refused if self.consistency else {}).items():
            log.warning("consistency check not run", extra={"fields": {"consistency": name,
                                                                       "reason": why}})

    def addresses(self) -> dict[str, str]:
        return {r.transport: r.address for r in self.receivers}

    def _replay(self) -> None:
        """Feed the journal back to the monitor. An entry that cannot be replayed (it no
        longer decodes, no span of its open traces survives the text rule, or replaying
        it raises) is quarantined and counted, so a restart never retries it again."""
        n_req = n_spans = n_logs = 0
        for rid, fmt, payload, tids in self.store.replay_requests_with_ids():
            try:
                if fmt.startswith("logs-"):  # log records (docs/logs.md, "Logs in serve")
                    recs, _ = decode_request("logs", fmt[5:], payload,
                                             wanted_attrs=self.wanted_attrs,
                                             wanted_metrics=frozenset())
                    # those of open traces wait with them again
                    self.sm.ingest_logs([r for r in recs if r.trace_id in tids])
                    key = next((t for t in tids if t.startswith(LOG_KEY)), None)
                    if key is not None:  # the rest were waiting for the watermark
                        free = [r for r in recs if r.trace_id not in tids]
                        self.sm.ingest_logs(free, journal_key=key, cross_only=True)
                        n_logs += len(free)
                    n_req += 1
                    continue
                spans, stats = decode_request("traces", fmt, payload,
                                              wanted_attrs=self.wanted_attrs,
                                              wanted_metrics=frozenset())
                spans = [s for s in spans if s.trace_id in tids]
                dead = tids - {s.trace_id for s in spans}
                if not spans:
                    raise InputError("no span of its open traces can be decoded: "
                                     + "; ".join(stats.messages[:3]))
                if dead:  # traces whose spans are rejected now: they can never complete
                    self.store.forget_traces(dead)
                    log.warning("journal entry partly unreadable", extra={"fields": {
                        "request": rid, "traces_dropped": sorted(dead),
                        "messages": stats.messages[:3]}})
                self.sm.ingest(spans)
            except Exception as e:
                reason = safe_text(f"{type(e).__name__}: {e}")
                self.store.quarantine(rid, reason)
                self.metrics.inc("tracelogic_journal_quarantined_total", 1)
                log.error("journal entry quarantined", extra={"fields": {
                    "request": rid, "format": fmt, "error": reason}})
                continue
            n_req += 1
            n_spans += len(spans)
        self._journal_count = self.store.journaled_requests()
        if n_req:
            log.info("journal replayed", extra={"fields": {"requests": n_req, "spans": n_spans,
                                                           "free_log_records": n_logs,
                                                           "open_traces":
                                                           self.sm.assembler.open_traces}})

    def stop(self, grace_s: float = 10.0) -> None:
        """Graceful shutdown: stop accepting, drain the queue, flush, close the store.

        Cross-trace events waiting for the watermark are released and decided. Without
        ``--journal``, open traces are decided now too, as at end of input (their spans
        would otherwise be lost); with it they stay in the journal for the next start.
        """
        if self._stopping:
            self._stopped.wait(grace_s + 5)
            return
        self._stopping = True
        self.ready.clear()
        log.info("shutting down", extra={"fields": {"queued_requests": len(self.queue)}})
        for r in self.receivers:
            r.stop_accepting()
        self.queue.close()
        if self._engine is not None:
            self._engine.join()
        if self.healer is not None:
            self.healer.stop(grace_s)  # after the engine: every committed violation is handled
        for r in self.receivers:
            r.stop(grace_s)
        if self.forwarder is not None:
            self.forwarder.stop(grace_s)
        self.store.close()
        log.info("metrics", extra={"fields": {"prometheus": self.metrics.render()}})
        self._stopped.set()
        fields = self.sm.counters().to_dict()
        if self.consistency is not None:
            fields["consistency"] = self.consistency.status()
        log.info("stopped", extra={"fields": fields})

    def request_reload(self) -> None:
        self._reload.set()

    @property
    def healthy(self) -> bool:
        return (self._engine is not None and self._engine.is_alive()
                and not self._engine_failure)

    # ------------------------------------------------------------------ ingest
    def handle(self, signal: str, fmt: str, data: bytes, transport: str) -> Outcome:
        """Enqueue one export request (decoded here unless it is OTLP protobuf traces, which
        the engine thread decodes) and wait for the engine to process it."""
        got = self.submit(signal, fmt, data, transport)
        if isinstance(got, Outcome):
            return got
        return self.answer(got, self._await(got))

    def submit(self, signal: str, fmt: str, data: bytes, transport: str,
               waiter: tuple[Any, Any] | None = None) -> "Outcome | _Item | None":
        """The first half of :meth:`handle`: the request refused or invalid (its
        :class:`Outcome`), or queued for the engine (its item; pass it to :meth:`answer`
        once the engine is done with it, ``item.finished``).

        With ``waiter`` = ``(loop, future)`` the engine resolves ``future`` on that asyncio
        loop instead of setting an event, so that a receiver on a loop waits without a
        thread of its own; then only a request that needs no decoding before it is queued
        (OTLP protobuf traces whose framing counts) is taken, and None is returned for any
        other: decoding must not hold up the loop, so the caller calls :meth:`handle` on
        a thread instead."""
        if self._stopping:
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "unavailable")
            return Outcome("unavailable", message="tracelogic is shutting down",
                           retry_after_s=self.config.retry_after_s)
        raw = signal == "traces" and fmt == "protobuf"
        n = count_spans_pb(data) if raw else None
        if n is None and waiter is not None:
            return None  # it needs decoding here: the caller hands it to a thread first
        if n is not None:
            item = _Item(signal, fmt, data, raw=True, n=n)
            received = n
        else:  # JSON, metrics, or protobuf whose framing is broken: decode (and refuse) here
            try:
                items, stats = decode_request(signal, fmt, data,
                                              wanted_attrs=self.wanted_attrs,
                                              wanted_metrics=self.sm.wanted_metrics
                                              | getattr(self.healer, "wanted_metrics",
                                                        frozenset()))
            except Exception as e:
                return self._invalid(signal, fmt, data, transport, e)
            received = stats.received
            if signal == "traces":
                self._count_decoded(stats)
                rejected = stats.rejected
                item = _Item(signal, fmt, data, spans=items, n=len(items))
            elif signal == "logs":  # log records count toward the queue as spans do
                self.metrics.inc("tracelogic_logs_received_total", stats.logs_received)
                self.metrics.inc("tracelogic_logs_decoded_total", stats.logs_decoded)
                self.metrics.inc("tracelogic_logs_rejected_total", stats.logs_rejected)
                received = stats.logs_received
                rejected = stats.logs_rejected
                item = _Item(signal, fmt, data, logs=items, n=len(items))
            else:
                self.metrics.inc("tracelogic_points_rejected_total", stats.points_rejected)
                rejected = stats.points_rejected
                item = _Item(signal, fmt, data, points=items, n=len(items))
            item.rejected = rejected
            item.message = "; ".join(stats.messages[:3]) if rejected else ""
        item.transport = transport
        if waiter is None:
            item.done = threading.Event()
        else:
            item.waiter = waiter
        item.enqueued = time.perf_counter()
        # the engine is behind on deciding completed traces: refuse spans and log records
        # (which wait with their traces) rather than pile them up
        behind = signal != "metrics" and self.sm.backlog > self.config.max_backlog
        if behind or not self.queue.offer(item):
            reason = ("shutting_down" if self.queue.closed else
                      "decide_backlog" if behind else "queue_full")
            if signal == "traces":
                if item.raw:  # not decoded: its spans count as received here
                    self.metrics.inc("tracelogic_spans_received_total", received)
                self.metrics.inc("tracelogic_spans_refused_total", received, reason)
            elif signal == "logs":
                self.metrics.inc("tracelogic_logs_refused_total", received, reason)
            outcome = "unavailable" if self.queue.closed else "busy"
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, outcome)
            return Outcome(outcome, message=(
                "tracelogic is shutting down" if self.queue.closed else
                f"{self.sm.backlog} completed traces are waiting to be decided; retry later"
                if behind else
                f"the ingest queue is full ({self.queue.capacity} spans); retry later"),
                retry_after_s=self.config.retry_after_s)
        return item

    def answer(self, item: _Item, processed: bool) -> Outcome:
        """The second half of :meth:`handle`: the answer to a queued request, once the engine
        processed it (``processed``) or could not in time."""
        signal, transport = item.signal, item.transport
        if not processed:
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "unavailable")
            return Outcome("unavailable", message="tracelogic could not process the request "
                           "in time; retry later", retry_after_s=self.config.retry_after_s)
        if item.error is not None:
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "unavailable")
            return Outcome("unavailable", message=safe_text(f"internal error: {item.error}"),
                           retry_after_s=self.config.retry_after_s)
        if item.invalid is not None:
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "invalid")
            return Outcome("invalid", message=item.invalid)
        self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "ok")
        if self.forwarder is not None:
            self.forwarder.offer(signal, item.fmt, item.payload)
        return Outcome("ok", rejected=item.rejected, message=item.message)

    @property
    def engine_alive(self) -> bool:
        """The engine thread runs (a receiver stops waiting for it otherwise)."""
        engine = self._engine
        return engine is not None and engine.is_alive()

    def _invalid(self, signal: str, fmt: str, data: bytes, transport: str | None,
                 e: Exception) -> Outcome:
        """Count a request the decoder refused (``transport`` None: on the engine thread,
        whose receiver counts the request itself) and say why."""
        if transport is not None:
            self.metrics.inc("tracelogic_requests_total", 1, signal, transport, "invalid")
        if isinstance(e, InputError):
            return Outcome("invalid", message=safe_text(str(e)))
        # a decoder bug: refuse this request, keep serving
        self.metrics.inc("tracelogic_engine_errors_total", 1, "decode")
        log.error("decoding a request failed", exc_info=(type(e), e, e.__traceback__),
                  extra={"fields": {"signal": signal, "format": fmt, "bytes": len(data)}})
        return Outcome("invalid", message=safe_text(
            f"the request could not be decoded ({type(e).__name__})"))

    def _count_decoded(self, stats: DecodeStats) -> None:
        self.metrics.inc("tracelogic_spans_received_total", stats.received)
        self.metrics.inc("tracelogic_spans_decoded_total", stats.decoded)
        self.metrics.inc("tracelogic_spans_rejected_total", stats.rejected)

    def _decoded(self, it: _Item, stats: DecodeStats) -> None:
        """A raw item decoded on the engine thread: count it, and note the answer."""
        self._count_decoded(stats)
        it.rejected = stats.rejected
        it.message = "; ".join(stats.messages[:3]) if stats.rejected else ""

    def _decode_raw(self, it: _Item) -> None:
        """Decode a raw item in Python (the reference engine, or for the journal)."""
        try:
            it.spans, stats = decode_request("traces", "protobuf", it.payload,
                                             wanted_attrs=self.wanted_attrs,
                                             wanted_metrics=frozenset())
        except Exception as e:
            it.invalid = self._invalid("traces", "protobuf", it.payload, None, e).message
            return
        it.decoded = True
        self._decoded(it, stats)

    def _ingest(self, it: _Item) -> int:
        """Feed one traces item to the monitor and the consistency checks; returns its
        spans."""
        cs = self.consistency
        if cs is None or not cs.active:
            return self._ingest_monitor(it)
        if it.raw and not it.decoded:  # the consistency checks read spans in Python
            self._decode_raw(it)
            if it.invalid is not None:
                return 0
        n = self._ingest_monitor(it)
        cs.ingest(it.spans)
        return n

    def _ingest_monitor(self, it: _Item) -> int:
        """Feed one traces item to the monitor; returns its spans."""
        sm = self.sm
        if not it.raw or it.decoded:
            if it.raw and hasattr(sm, "ingest_otlp"):  # decoded for the journal only
                sm.ingest_otlp(it.payload, DecodeStats())
            else:
                sm.ingest(it.spans)
            return len(it.spans)
        if not hasattr(sm, "ingest_otlp"):
            self._decode_raw(it)
            if it.invalid is None:
                sm.ingest(it.spans)
            return len(it.spans)
        stats = DecodeStats()
        try:
            sm.ingest_otlp(it.payload, stats, "request")
            if stats.errors:
                raise stats.errors[0]
        except Exception as e:
            it.invalid = self._invalid("traces", "protobuf", it.payload, None, e).message
            return 0
        self._decoded(it, stats)
        return stats.decoded

    def _await(self, item: _Item) -> bool:
        """Wait for the engine to answer ``item``; False if it did not within
        ``engine_wait_s`` or the engine thread is gone. Never waits forever."""
        deadline = time.monotonic() + self.config.engine_wait_s
        while not item.done.wait(0.2):
            if not self.engine_alive or time.monotonic() > deadline:
                return item.done.is_set()
        return True

    @staticmethod
    def _finish(items: list[_Item]) -> None:
        """Tell the receivers that the engine is done with ``items``: an event each for
        those waiting on a thread; one call per asyncio loop for the others."""
        loops: dict[Any, list] = {}
        for it in items:
            it.finished = True
            if it.waiter is None:
                if it.done is not None:  # None: nobody waits (an item made in a test)
                    it.done.set()
            else:
                loop, fut = it.waiter
                loops.setdefault(loop, []).append(fut)
        for loop, futs in loops.items():
            try:
                loop.call_soon_threadsafe(_resolve, futs)
            except RuntimeError:  # the loop is closed: its receiver answers no one now
                pass

    def refused(self, signal: str, transport: str, outcome: str) -> None:
        """Count a request refused by a receiver before decoding (auth, size, media type)."""
        self.metrics.inc("tracelogic_requests_total", 1, signal, transport, outcome)

    # ------------------------------------------------------------------ engine
    def _engine_error(self, stage: str, e: BaseException) -> None:
        """Count and log an error the engine survives."""
        self.metrics.inc("tracelogic_engine_errors_total", 1, stage)
        log.error("engine error survived", exc_info=(type(e), e, e.__traceback__),
                  extra={"fields": {"stage": stage,
                                    "error": safe_text(f"{type(e).__name__}: {e}")}})

    def _run_engine(self) -> None:
        """The engine loop. An error in one batch is counted, logged and survived: the
        batch's requests are answered (503 if their input is not safely in), and the
        loop goes on. Only the final flush's end can end the thread."""
        try:
            while True:
                try:
                    # with completed traces waiting to be decided, only pick up what is queued
                    items = self.queue.take(0 if self.sm.backlog else
                                            self.config.poll_interval_s)
                    if self._reload.is_set():
                        self._reload.clear()
                        self._do_reload()
                    if not items and self.queue.closed and not self.sm.backlog:
                        break
                    self._process(items)
                    self._maybe_retain()
                except Exception as e:
                    self._engine_error("loop", e)
                    time.sleep(0.05)  # a persistent fault must not spin the CPU
            try:
                self._final_flush()
            except Exception as e:
                self._engine_error("final_flush", e)
        except BaseException as e:  # never leave a receiver waiting forever
            self._engine_failure = e
            log.exception("engine failed", extra={"fields": {"error": safe_text(repr(e))}})
            self.queue.close()
            left = self.queue.take(0, max_items=1 << 30)
            for it in left:
                it.error = e
            self._finish(left)
            raise

    def _process(self, items: list[_Item]) -> None:
        """One batch: journal, monitor, commit, acknowledge (see the module docstring).

        Every item is answered, whatever fails: an item whose input could not be made
        durable (journal) or whose violations could not be committed gets the error
        (503, the client retries; repeats are dropped as duplicates), and errors are
        counted by stage in ``tracelogic_engine_errors_total``.
        """
        sm = self.sm
        store = self.store
        spans = points = logs = 0
        new: list = []
        t_commit = time.perf_counter()
        try:
            if self.config.journal:
                for it in items:
                    if it.raw:
                        self._decode_raw(it)
                entries = [(it.fmt, it.payload, {s.trace_id for s in it.spans})
                           for it in items if it.signal == "traces" and it.spans]
                # log records with a trace context wait with their traces: journaled the
                # same way, under their trace ids; the others (no trace context, or late)
                # wait for the watermark under the request's own key, forgotten when the
                # last of them is released (docs/logs.md, "Logs in serve")
                if sm.sees_logs:
                    for it in items:
                        if it.signal == "logs" and it.logs:
                            it.journal_key = f"{LOG_KEY}{uuid.uuid4().hex}"
                            entries.append((f"logs-{it.fmt}", it.payload, [
                                *dict.fromkeys(r.trace_id for r in it.logs if r.trace_id
                                               and not sm.decided_trace(r.trace_id)),
                                it.journal_key]))
                if entries:
                    try:
                        store.journal_requests(entries)
                    except Exception as e:  # not durable: not monitored, the client retries
                        self._engine_error("journal", e)
                        for it in items:
                            if (it.signal == "traces" and it.spans) or it.signal == "logs":
                                it.error = e
                    else:
                        self._journal_count += len(entries)
                        self.metrics.inc("tracelogic_journal_requests_total", len(entries))
            for it in items:
                if it.error is not None:
                    continue
                try:
                    if it.signal == "traces":
                        if it.invalid is None:
                            spans += self._ingest(it)
                    elif it.signal == "logs":
                        sm.ingest_logs(it.logs, journal_key=it.journal_key)
                        logs += len(it.logs)
                    else:
                        sm.feed_points(it.points)
                        points += len(it.points)
                        if hasattr(self.healer, "put_points"):  # `run controller` policies
                            self.healer.put_points(it.points)
                except Exception as e:
                    self._engine_error("monitor", e)
            # decide completed traces in chunks, committing and acknowledging in between,
            # so a burst of completions does not hold up the requests behind it: a chunk
            # per trace request of this batch, more while the backlog is past max_backlog,
            # and with no request in this batch and none queued, up to decide_chunks
            # chunks before one commit (a request arriving meanwhile waits for one chunk at
            # most)
            try:
                chunk = self.config.decide_chunk
                sm.poll(limit=chunk)
                if items:  # keep pace with the input: a chunk per trace request, and
                    # more while the backlog is past the point where requests are refused
                    n = sum(it.signal == "traces" for it in items)
                    for i in range(1, self.config.decide_chunks):
                        if not sm.backlog or (i >= n and
                                              sm.backlog <= self.config.max_backlog):
                            break
                        sm.poll(limit=chunk)
                else:
                    for _ in range(self.config.decide_chunks - 1):
                        if not sm.backlog or len(self.queue):
                            break
                        sm.poll(limit=chunk)
            except Exception as e:
                self._engine_error("monitor", e)
            if self.consistency is not None:
                try:
                    self.consistency.poll()
                except Exception as e:
                    self._engine_error("consistency", e)
            try:
                new = self._commit()
                if self.consistency is not None:  # counted only once committed
                    self.consistency.publish()
            except Exception as e:  # kept in _uncommitted; these requests are not acknowledged
                self._engine_error("commit", e)
                for it in items:
                    if it.error is None:
                        it.error = e
            t_commit = time.perf_counter()
        finally:
            # counted before the requests are answered: a client that got its reply reads
            # its spans in the metrics
            self.metrics.inc("tracelogic_spans_processed_total", spans)
            self.metrics.inc("tracelogic_points_processed_total", points)
            self.metrics.inc("tracelogic_logs_processed_total", logs)
            now = time.perf_counter()
            self._finish(items)
            if items:
                self.metrics.observe_many("tracelogic_request_seconds",
                                          [(now - it.enqueued, 1) for it in items])
        outs = sm.take_completion_times()
        if outs:  # traces handed out at one poll share their completion time
            by_time: dict[float, int] = {}
            for t_out in outs:
                by_time[t_out] = by_time.get(t_out, 0) + 1
            self.metrics.observe_many("tracelogic_completion_to_commit_seconds",
                                      [(t_commit - t, n) for t, n in by_time.items()])
        self._note_failures()
        try:
            self._report(new)
        except Exception as e:
            self._engine_error("report", e)
        done = sm.take_done_traces() + sm.take_done_log_keys()
        if self.config.journal and done:
            try:
                store.forget_traces(done)
                self._journal_count = store.journaled_requests()
            except Exception as e:  # they stay journaled: replayed (and decided) again
                self._engine_error("forget", e)

    def _note_failures(self) -> None:
        """Count and log the monitor's per-trace failures since the last batch."""
        n = self.sm.failures - self._failures_seen
        if n <= 0:
            return
        self._failures_seen = self.sm.failures
        self.metrics.inc("tracelogic_monitor_failures_total", n)
        for what in self.sm.take_failures():
            log.error("monitoring failed; skipped", extra={"fields": {"what": what}})

    def _commit(self) -> list:
        """Commit every violation decided so far; returns the new ones (their records).

        A violation whose JSON would not encode (a value no decoder should have let
        through) is stored with the offending characters escaped. If the store itself
        fails, the violations are kept and the next commit tries again.
        """
        violations = self._uncommitted + self.sm.take_violations()
        if self.consistency is not None:  # violated keys, with their witness (JSON)
            violations += self.consistency.take_violations()
        self._uncommitted = []
        if not violations:
            return []
        try:
            committed = self.store.add_violations(violations)
        except Exception:
            self._uncommitted = violations
            raise
        # a replayed journal decides some violations again: only the new ones go on
        new = [r for r, inserted in committed if inserted]
        if self.healer is not None and new:  # only committed violations reach the controller
            self.healer.put(new)
        return new

    def _report(self, new: list) -> None:
        """Count and log committed violations (their records)."""
        if new:
            by_property: dict[str, int] = {}
            for r in new:
                p = r.body["property"]
                by_property[p] = by_property.get(p, 0) + 1
            for p, n in by_property.items():
                self.metrics.inc("tracelogic_violations_total", n, p)
            if log.isEnabledFor(logging.WARNING):
                handlers = _plain_handlers(log)
                if handlers is not None:
                    _write_violation_lines(handlers, new)
                else:
                    # log.warning's record, made without its search of the stack for the
                    # caller
                    make, handle, name = log.makeRecord, log.handle, log.name
                    for r in new:
                        handle(make(name, logging.WARNING, __file__, 0, "violation", (), None,
                                    extra={"fields": {"violation": _logged(r)}}))
        if self.consistency is not None:  # keys no longer checked, and why: never silent
            for n in self.consistency.take_notices():
                if n["verdict"] != "violated":
                    log.warning(f"consistency key {n['verdict']}", extra={"fields": n})

    def _final_flush(self) -> None:
        if self.config.journal:
            self.sm.release_all()  # open traces stay journaled for the next start
        else:
            self.sm.finish()
        if self.consistency is not None:  # every open window is checked now
            try:
                self.consistency.finish()
            except Exception as e:
                self._engine_error("consistency", e)
        new = self._commit()
        if self.consistency is not None:
            self.consistency.publish()
        self._note_failures()
        self._report(new)
        done = self.sm.take_done_traces() + self.sm.take_done_log_keys()
        if self.config.journal and done:
            self.store.forget_traces(done)
        self._maybe_retain(force=True)

    def _maybe_retain(self, force: bool = False) -> None:
        c = self.config
        if c.retention_age_ns is None and c.retention_rows is None:
            return
        now = time.monotonic()
        if now - self._last_retention < c.retention_interval_s and not force:
            return
        self._last_retention = now
        deleted = self.store.retain(max_age_ns=c.retention_age_ns, max_rows=c.retention_rows)
        if deleted:
            log.info("retention", extra={"fields": {"deleted": deleted}})

    def _do_reload(self) -> None:
        from tracelogic.spec.loader import load

        try:
            spec = load(self.config.spec_path, spec_path=self.config.spec_search_path)
            summary = self.sm.reload(spec)
        except (TracelogicError, OSError) as e:
            self.metrics.inc("tracelogic_reloads_total", 1, "failed")
            log.error("reload failed; keeping the running spec",
                      extra={"fields": {"error": str(e)}})
            return
        if self.consistency is not None or spec.consistency:
            def shape(sp: Any) -> tuple:
                return ([(d.name, d.checker, d.model) for d in sp.consistency],
                        [o.op for o in sp.operations])
            if shape(spec) != shape(self.spec):  # open windows cannot follow a new mapping
                log.warning("consistency checks not reloaded; restart serve to change them",
                            extra={"fields": {"running": [d.name for d in
                                                          self.spec.consistency]}})
        self.spec = spec
        self.metrics.inc("tracelogic_reloads_total", 1, "ok")
        log.info("reloaded", extra={"fields": dict(summary,
                                                   not_monitored=self.sm.monitor.refused)})
        self._log_refused()


def setup_logging(level: str = "info", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("tracelogic")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def env_token() -> str | None:
    return os.environ.get("TRACELOGIC_TOKEN") or None
