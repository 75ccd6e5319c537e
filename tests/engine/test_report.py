"""engine/report.py: a DeferredViolation is the Violation its builder makes, built once,
only when a deferred field is read."""
from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from logic.strategies import examples

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.engine.report import DeferredViolation, Violation
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import Span

SPEC = '''
property no_error:
  G !(status == error)
'''


def _prop():
    return next(p for p in tracelogic.load(SPEC, filename="t.spec").properties
                if p.name == "no_error")


def test_deferred_builds_once_and_only_when_read() -> None:
    prop = _prop()
    calls = []

    def build() -> Violation:
        calls.append(1)
        return Violation(prop, "k", ["t1"], ["s1"], "boom", trigger="opener")

    v = DeferredViolation.deferred(prop, "k", build)
    assert (v.prop, v.key) == (prop, "k") and calls == []  # key and property: no build
    assert v.trigger == "opener" and calls == [1]  # a class-level default is deferred too
    assert (v.trace_ids, v.span_ids, v.message, v.values) == (["t1"], ["s1"], "boom", None)
    assert calls == [1]
    plain = Violation(prop, "k", ["t1"], ["s1"], "boom", trigger="opener")
    assert v == plain and plain == v
    assert v != dataclasses.replace(plain, message="other")
    assert dataclasses.replace(v, message="other").message == "other"
    w = DeferredViolation.deferred(prop, "k", lambda: dataclasses.replace(plain, trigger=None))
    assert w.to_json() == dataclasses.replace(plain, trigger=None).to_json()


def test_built_is_the_plain_violation_and_leaves_the_deferred_one_deferred() -> None:
    prop = _prop()
    calls = []

    def build() -> Violation:
        calls.append(1)
        return Violation(prop, "k", ["t1"], ["s1"], "boom")

    v = DeferredViolation.deferred(prop, "k", build)
    plain = v.built()
    assert type(plain) is Violation and plain.message == "boom" and calls == [1]
    assert "_build" in v.__dict__  # still deferred: reading it builds again, equal
    assert v == plain and calls == [1, 1]
    assert v.built() is v and calls == [1, 1]  # once built, it is its own plain form


def test_one_builder_serves_many_deferred_violations_by_their_place() -> None:
    prop = _prop()
    calls = []

    def build(at: int) -> Violation:
        calls.append(at)
        return Violation(prop, f"k{at}", [f"t{at}"], [], f"boom {at}")

    vs = [DeferredViolation.deferred(prop, f"k{i}", build, i) for i in (0, 7, 300)]
    assert [v.key for v in vs] == ["k0", "k7", "k300"] and calls == []
    assert vs[2].message == "boom 300" and calls == [300]
    assert vs[0].trace_ids == ["t0"] and calls == [300, 0]
    assert vs[2].witness == [] and calls == [300, 0]  # built once
    assert "_at" not in vs[2].__dict__ and "_build" not in vs[2].__dict__
    assert vs[1].built() == Violation(prop, "k7", ["t7"], [], "boom 7")
    assert vs[1] == Violation(prop, "k7", ["t7"], [], "boom 7")


def test_deferred_rejects_a_builder_of_another_instance() -> None:
    prop = _prop()
    v = DeferredViolation.deferred(prop, "k", lambda: Violation(prop, "other", [], [], "m"))
    try:
        v.message
    except AssertionError as e:
        assert "'other'" in str(e)
    else:
        raise AssertionError("a mismatched builder went unnoticed")


def test_native_violations_equal_the_python_engines() -> None:
    spans = [Span(name="a", trace_id="%032x" % t, span_id="%016x" % (t * 10 + i),
                  start_ns=t * 100 + i, end_ns=t * 100 + i + 5,
                  status="error" if (t + i) % 3 == 0 else "ok")
             for t in range(1, 6) for i in range(3)]
    spec = tracelogic.load(SPEC, filename="t.spec")
    reports = {}
    for engine in ("native", "python"):
        mon = Monitor(spec, engine=engine)
        mon.feed_otlp(spans_to_request(spans).SerializeToString())
        reports[engine] = mon.close()
    native, python = reports["native"], reports["python"]
    assert native.violations and all(type(v) is DeferredViolation for v in native.violations)
    assert all("_build" in v.__dict__ for v in native.violations)  # nothing built yet
    deferred = list(native.violations)
    native.build_violations()
    # built by swapping the plain violations in: nothing copied field by field
    assert all(type(v) is Violation for v in native.violations)
    assert native.violations == deferred  # and the deferred ones, if kept, still build
    assert native.violations == python.violations
    assert native.to_json() == python.to_json()
    assert native.to_text() == python.to_text()


def _row(e, t0: int) -> str:
    """A timeline row by its definition (offset ms, service, span name, event, status)."""
    s = e.span
    return (f"{(e.time_ns - t0) / 1e6:>10.3f} ms  {s.service or '-':<16} "
            f"{s.name:<32} {e.kind:<5} {s.status}")


@examples(60)
@given(st.lists(st.tuples(st.integers(0, 5 * 10**9), st.booleans(),
                          st.sampled_from(["db.query", "charge", "ünïcode span", "x" * 40]),
                          st.sampled_from(["", "api", "a-very-long-service-name-here"]),
                          st.sampled_from(["ok", "error", "unset"])), max_size=6))
def test_timeline_rows_are_their_definition_called_again_and_again(rows) -> None:
    """The timeline keeps each row's text after the offset per (service, name, event,
    status): every call, the first or a repeat, prints the rows as defined, in time order."""
    from tracelogic.engine.report import timeline
    from tracelogic.ingest.events import Event

    events = [Event(t, start, Span(name=name, trace_id="01" * 16, span_id="02" * 8,
                                   start_ns=t, end_ns=t, service=service,
                                   status=status))
              for t, start, name, service, status in rows]
    ordered = sorted(events, key=lambda e: e.time_ns)
    want = [_row(e, ordered[0].time_ns) for e in ordered] if events else []
    assert timeline(events) == want
    assert timeline(events) == want  # from the kept rows
    assert timeline(events, header=True)[1:] == want
