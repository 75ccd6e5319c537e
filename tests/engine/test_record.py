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


def _reference_dedup_key(v) -> str:
    """dedup_key as first written: the stored keys' definition."""
    parts = [v.get("property"), v.get("key"), sorted(v.get("span_ids") or []), v.get("window")]
    if not v.get("span_ids") and v.get("points"):
        parts.append([(p.get("metric"), p.get("time_unix_nano")) for p in v["points"]])
    return json.dumps(parts, sort_keys=True)


def test_dedup_keys_and_id_lists_are_the_json_texts_they_always_were():
    """Stored dedup keys are compared with new ones, so the encoder-free texts must be
    json.dumps's exactly: any text (non-ASCII, surrogates, controls, quotes), other types,
    windows and metric points."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tracelogic.engine.record import dedup_key, json_strings

    text = st.text(max_size=6) | st.sampled_from(['"', "\\", "\ud800", "é", "\x7f",
                                                  "\U0001f600", "\x00"])
    value = text | st.integers() | st.none() | st.booleans()
    point = st.fixed_dictionaries({"metric": text, "time_unix_nano": st.integers()})
    body = st.fixed_dictionaries({}, optional={
        "property": value, "key": value, "span_ids": st.lists(text | st.integers(), max_size=3),
        "window": st.none() | st.dictionaries(text, st.integers(), max_size=2),
        "points": st.lists(point, max_size=2)})

    @settings(max_examples=200, deadline=None, database=None)
    @given(body, st.lists(text, max_size=4) | st.tuples(text) | st.lists(st.integers()))
    def check(v, ids):
        try:
            want = _reference_dedup_key(v)
        except TypeError:  # ids that do not sort: refused the same way
            with pytest.raises(TypeError):
                dedup_key(v)
        else:
            assert dedup_key(v) == want
        listed = json_strings(ids)
        assert listed is None or listed == json.dumps(ids)
        if isinstance(ids, list) and all(isinstance(x, str) for x in ids):
            assert listed is not None
    check()
