"""A model variable over a range of durations or sizes (issue 15, bug b): `var t : 0s..10s`
has 10^10 + 1 values (nanoseconds); it once died with MemoryError (an internal error)
while the domain was listed. The domain is a `range` now: the checks explore only the
states they reach, and tables and messages show the values in their unit."""
from __future__ import annotations

import io
import sys

import pytest

import tracelogic
from tracelogic import cli
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span
from tracelogic.models.machine import Machine

SPEC = """
model timer {
  var t : 0s..10s = 0s
  var buf : 0Mi..1Gi = 0Mi
  action tick when t < 10s do t := t + 1s; buf := buf + 64Mi
}
check timer: invariant t <= 10s
check timer: invariant t < 5s
check timer: deadlock_free
property timer_runtime: follows timer on t by attr["t"]
"""
MS = 1_000_000


@pytest.mark.parametrize("engine", ["explicit", "kind", "pdr"])
def test_a_duration_range_is_checked_by_every_engine(engine):
    report = tracelogic.load(SPEC, filename="timer.spec").check(engine=engine)
    assert [r.status for r in report.results if r.kind != "routing"][:3] == \
        ["holds", "fails", "fails"], [str(r) for r in report.results]


def test_the_domain_is_never_listed():
    spec = tracelogic.load(SPEC, filename="timer.spec")
    m = Machine(spec.models["timer"] if isinstance(spec.models, dict) else
                next(x for x in spec.models if x.name == "timer"))
    t = m.vars[m.var_index["t"]]
    assert len(t.values) == 10**10 + 1 and sys.getsizeof(t.values) < 1000
    assert t.in_range(10**10) and not t.in_range(10**10 + 1)


def test_the_counterexample_shows_seconds_and_mebibytes(tmp_path, monkeypatch):
    (tmp_path / "timer.spec").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "timer.spec"], out, err) == 1, err.getvalue()
    text = out.getvalue()
    assert "internal error" not in text + err.getvalue()
    assert "5s*" in text and "320Mi*" in text, text
    assert "5000000000" not in text


def _observe(*values) -> list[str]:
    spans = [Span(name="a", trace_id="1" * 32, span_id=f"{i:016x}", parent_id="",
                  start_ns=(1000 + i) * MS, end_ns=(1000 + i) * MS + 5, kind="server",
                  status="unset", service="s", attrs={"t": v}, resource={})
             for i, v in enumerate(values, 1)]
    mon = Monitor(tracelogic.load(SPEC))
    mon.feed_otlp(spans_to_request(spans).SerializeToString())
    return [v.message for v in mon.close().violations]


def test_follows_a_duration_variable_in_its_unit():
    assert _observe(0, 10**9, 2 * 10**9) == []
    assert _observe(0, 10**9, 3 * 10**9) == [
        "`t` = 3s cannot come after `t` = 1s in model `timer`; expected 2s"]
    # a value outside the range names the range, not its 10^10 + 1 values
    assert _observe(0, -5) == ["-5ns is not a value of `t` (0s..10s)"]


def test_the_dot_drawing_labels_states_in_units(tmp_path):
    (tmp_path / "timer.spec").write_text(SPEC)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["export", "--dot", f"{tmp_path / 'timer.spec'}::timer"], out, err) == 0, \
        err.getvalue()
    assert "t = 1s" in out.getvalue() and "buf = 64Mi" in out.getvalue(), out.getvalue()[:400]
    assert "1000000000" not in out.getvalue()
