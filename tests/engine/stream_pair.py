"""Both streaming engines driven in lock step, for the streaming tests (issue 17 step 5).

``Both(spec, **kw)`` has the :class:`StreamingMonitor` API the tests use. Each call goes
to the reference (``engine="python"``) and to ``streaming_monitor(..., engine="native")``
(spans reach the core as the OTLP protobuf request a receiver would get); every answer
and, after every call that moves the stream, the verdict counts, vacuous counts,
counters, backlog and current verdicts must be identical. The reference's answer is
returned, so a test written for one engine checks both.
"""
from __future__ import annotations

from typing import Any

from tracelogic.engine.native_stream import NativeStreamingMonitor, streaming_monitor
from tracelogic.engine.stream import StreamingMonitor
from tracelogic.ingest.otlp import DecodeStats, spans_to_request


class Both:
    def __init__(self, spec: Any, **kw: Any):
        self.ref = StreamingMonitor(spec, engine="python", **kw)
        self.nat = streaming_monitor(spec, engine="native", **kw)

    def _same(self) -> None:
        r, n = self.ref, self.nat
        assert dict(n.verdict_counts) == dict(r.verdict_counts)
        assert dict(n.vacuous) == dict(r.vacuous)
        assert n.counters().to_dict() == r.counters().to_dict()
        assert n.backlog == r.backlog
        assert n.verdicts() == r.verdicts()

    def ingest(self, spans: Any) -> None:
        spans = list(spans)
        self.ref.ingest(spans)
        if isinstance(self.nat, NativeStreamingMonitor):
            self.nat.ingest_otlp(spans_to_request(spans).SerializeToString(), DecodeStats())
        else:
            self.nat.ingest(spans)
        self._same()

    def poll(self, *args: Any, **kw: Any) -> int:
        got = self.ref.poll(*args, **kw)
        assert self.nat.poll(*args, **kw) == got
        self._same()
        return got

    def _both(self, name: str, *args: Any) -> Any:
        got = getattr(self.ref, name)(*args)
        assert getattr(self.nat, name)(*args) == got
        self._same()
        return got

    def finish(self) -> None:
        self._both("finish")

    def release_all(self) -> None:
        self._both("release_all")

    def feed_points(self, points: Any) -> None:
        self._both("feed_points", list(points))

    def reload(self, spec: Any) -> dict:
        return self._both("reload", spec)

    def take_violations(self) -> list:
        got = self.ref.take_violations()
        assert [v.to_json() for v in self.nat.take_violations()] == [v.to_json() for v in got]
        return got

    def take_done_traces(self) -> list:
        return self._both("take_done_traces")

    def ingest_logs(self, records: Any, journal_key: Any = None,
                    cross_only: bool = False) -> None:
        self._both("ingest_logs", list(records), journal_key, cross_only)

    def take_done_log_keys(self) -> list:
        return self._both("take_done_log_keys")

    def decided_trace(self, trace_id: str) -> bool:
        return self._both("decided_trace", trace_id)

    def take_failures(self) -> list:
        return self._both("take_failures")

    def counters(self) -> Any:
        got = self.ref.counters()
        assert self.nat.counters() == got
        return got

    def verdicts(self) -> dict:
        got = self.ref.verdicts()
        assert self.nat.verdicts() == got
        return got

    def __getattr__(self, name: str) -> Any:  # counts and sizes: the same on both
        got = getattr(self.ref, name)
        assert getattr(self.nat, name) == got, name
        return got
