"""The witness span a policy's arguments read: for an aggregate violation handed over by the
monitor (as the sidecar does), and rebuilt from a cross-trace violation's JSON."""
from __future__ import annotations

import tracelogic
from tracelogic.healing.config import parse_config
from tracelogic.healing.controller import Controller
from tracelogic.engine.record import ViolationRecord, witness_of
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span

MS = 1_000_000
SPEC = tracelogic.load('''
pred db = attr["db.system"] exists
property db_latency per service: p99(duration where db) <= 100ms
property no_retry per attr["order.id"]: G !(name == "charge" & attr["retry"] == true)

heal scale_db
  on violated db_latency
  do log(message: attr["db.name"])
''', filename="w.spec")


def span(i, name, trace, start_ms, dur_ms, **attrs) -> Span:
    return Span(name=name, trace_id=f"{trace:032x}", span_id=f"{i:016x}",
                start_ns=start_ms * MS, end_ns=(start_ms + dur_ms) * MS, service="inventory",
                attrs=attrs)


def test_an_aggregate_violation_hands_its_worst_span_to_the_policy(tmp_path):
    mon = Monitor(SPEC)
    mon.feed([span(1, "SELECT", 1, 0, 20, **{"db.system": "sqlite", "db.name": "fast"}),
              span(2, "SELECT", 2, 50, 300, **{"db.system": "sqlite", "db.name": "stock"})])
    (v,) = mon.close().violations
    assert v.span_ids[0] == f"{2:016x}" and v.witness[0].span.span_id == f"{2:016x}"
    ctl = Controller(SPEC, str(tmp_path / "t.db"), parse_config({}), execute=False)
    (d,) = ctl.handle(ViolationRecord.of(v))  # no explicit witness: the violation's own events give it
    assert d.outcome == "dry_run", d
    assert "stock" in str(d.detail)


def test_a_rebuilt_witness_keeps_its_own_trace_id():
    mon = Monitor(SPEC)
    mon.feed([span(1, "charge", 7, 0, 5, **{"order.id": "o-1"}),
              span(2, "charge", 9, 10, 5, **{"order.id": "o-1", "retry": True})])
    (v,) = mon.close().violations
    body = v.to_json()
    assert body["trace_ids"] == [f"{7:032x}", f"{9:032x}"]  # the instance's traces
    assert body["span_ids"] == [f"{2:016x}"]                # decided in the second
    w = witness_of(body)
    assert (w.span_id, w.trace_id, w.name) == (f"{2:016x}", f"{9:032x}", "charge")
