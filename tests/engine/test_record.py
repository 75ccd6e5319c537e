"""The committed violation record: built once by the store, the one type the controller takes."""
from __future__ import annotations

import json

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.record import PartialSpan, ViolationRecord
from tracelogic.healing.config import parse_config
from tracelogic.healing.controller import Controller
from tracelogic.ingest.spans import Span
from tracelogic.sidecar.store import Store

MS = 1_000_000
SPEC = tracelogic.load('''
property no_retry per attr["order.id"]: G !(name == "charge" & attr["retry"] == true)
heal note on violated no_retry do log(message: attr["order.id"])
''', filename="r.spec")


def violations():
    mon = Monitor(SPEC)
    mon.feed([Span(name="charge", trace_id=f"{7:032x}", span_id=f"{1:016x}", start_ns=0,
                   end_ns=5 * MS, service="pay", attrs={"order.id": "o-1", "retry": True})])
    return mon.close().violations


def test_the_store_builds_each_record_once_with_its_row_and_full_witness(tmp_path):
    store = Store(str(tmp_path / "v.db"))
    [(rec, new)] = store.add_violations(violations())
    assert new and rec.id == store.violations()[0].id
    assert rec.body == store.violations()[0].body  # the body exactly as stored
    assert isinstance(rec.witness, Span) and rec.witness.attr("order.id") == "o-1"
    # redelivered (a replayed journal): not new, and it names the row that holds it
    [(again, new)] = store.add_violations(violations())
    assert not new and again.id == rec.id and store.count_violations() == 1


def test_a_record_from_json_rebuilds_a_partial_witness():
    body = json.loads(json.dumps(violations()[0].to_json()))
    rec = ViolationRecord.of(body, id=3)
    assert rec.id == 3 and isinstance(rec.witness, PartialSpan)
    assert (rec.witness.name, rec.witness.span_id) == ("charge", f"{1:016x}")
    assert ViolationRecord.of(rec) is rec


def test_the_controller_takes_only_records(tmp_path):
    ctl = Controller(SPEC, str(tmp_path / "v.db"), parse_config({}), execute=False)
    with pytest.raises(TypeError, match=r"takes a ViolationRecord, not dict: "
                                        r"ViolationRecord\.of\(violation\)"):
        ctl.handle(violations()[0].to_json())
    (d,) = ctl.handle(ViolationRecord.of(violations()[0]))
    assert d.outcome == "dry_run" and "o-1" in str(d.detail)
