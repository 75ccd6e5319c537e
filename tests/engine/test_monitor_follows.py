"""`follows M on VAR by EXPR` at runtime (SPEC-LANGUAGE.md §7): the Monitor (file mode)
and the StreamingMonitor (serve) against an oracle written here from the breaker model's
actions, independent of models.machine; plus witness, message and scopes."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.ingest.spans import Span
from tracelogic.engine.stream import SECOND, StreamingMonitor

MS = 1_000_000
T0 = 1_700_000_000 * 10**9
VALUES = ("closed", "open", "half_open")

SPEC_TEXT = open("examples/language/models.spec").read()
SPEC = tracelogic.load(SPEC_TEXT, filename="models.spec")
PER_TRACE = tracelogic.load(SPEC_TEXT.replace(
    "property breaker_runtime per service:", "property breaker_runtime:"), filename="t.spec")


# ---------------------------------------------------------------- the oracle
def _steps(state: str, fails: int) -> list[tuple[str, int]]:
    """The breaker's actions (examples/language/models.spec), threshold 5, fails 0..10."""
    out = []
    if state == "closed" and fails < 5:
        out.append(("closed", fails + 1))
    if state == "closed" and fails >= 5:
        out.append(("open", 0))
    if state == "open":
        out.append(("half_open", fails))
    if state == "half_open":
        out += [("closed", fails), ("open", fails)]
    return out


def oracle(values: list[str]) -> int | None:
    """The index of the first observation no run of the breaker can produce, or None.

    Stuttering: an observation equal to the previous one changes nothing; otherwise the
    model takes one step that changes `state` to it, then any steps that keep it.
    """
    cur: set[tuple[str, int]] = set()
    for i, v in enumerate(values):
        if i == 0:
            nxt = {("closed", 0)} if v == "closed" else set()
        elif v == values[i - 1]:
            continue
        else:
            nxt = {t for s in cur for t in _steps(*s) if t[0] == v}
        todo = list(nxt)
        while todo:  # steps that keep the observed value
            for t in _steps(*todo.pop()):
                if t[0] == v and t not in nxt:
                    nxt.add(t)
                    todo.append(t)
        if not nxt:
            return i
        cur = nxt
    return None


# ---------------------------------------------------------------- traces
def spans_for(plan: list[tuple[str, str | None]]) -> list[Span]:
    """One span per (service, observed value) in order, 1 ms apart, each its own trace;
    a None value is a span without the attribute (not an observation)."""
    out = []
    for i, (service, value) in enumerate(plan, start=1):
        attrs = {"breaker.state": value} if value is not None else {"http.route": "/x"}
        out.append(Span(name="call", trace_id=f"{i:032x}", span_id=f"{i:016x}",
                        start_ns=T0 + i * MS, end_ns=T0 + i * MS + MS // 2, service=service,
                        attrs=attrs))
    return out


def expected(plan) -> dict[str, tuple[str, list[str]]]:
    """Per service: the verdict and, for a violation, the witness span ids (bad first)."""
    out = {}
    for service in dict.fromkeys(s for s, _ in plan):
        obs = [(i, v) for i, (s, v) in enumerate(plan, start=1) if s == service
               and v is not None]
        if not obs:
            continue
        bad = oracle([v for _, v in obs])
        if bad is None:
            out[service] = ("satisfied", [])
        else:
            ids = [obs[bad][0]] + ([obs[bad - 1][0]] if bad else [])
            out[service] = ("violated", [f"{i:016x}" for i in ids])
    return out


values = st.sampled_from(VALUES)
# mostly legal walks of the breaker (so long runs stay satisfied), with random jumps
legal = {"closed": ["closed", "open"], "open": ["open", "half_open"],
         "half_open": ["half_open", "closed", "open"]}


@st.composite
def walks(draw) -> list[str]:
    out = ["closed" if draw(st.integers(0, 9)) else draw(values)]
    for _ in range(draw(st.integers(0, 14))):
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(values))
        else:
            out.append(draw(st.sampled_from(legal[out[-1]])))
    return out


@st.composite
def plans(draw) -> list[tuple[str, str | None]]:
    per = {s: draw(walks()) for s in draw(st.lists(st.sampled_from("abc"), min_size=1,
                                                   max_size=3, unique=True))}
    plan = []
    while any(per.values()):
        s = draw(st.sampled_from(sorted(k for k, v in per.items() if v)))
        plan.append((s, per[s].pop(0)))
        if draw(st.integers(0, 7)) == 0:
            plan.append((s, None))
    return plan


def file_mode(spec, spans) -> tuple[dict, list]:
    mon = Monitor(spec)
    mon.feed(spans)
    report = mon.close()
    assert not report.warnings, report.warnings
    (res,) = report.properties
    return dict(res.results), report.violations


@settings(max_examples=300, deadline=None)
@given(plans())
def test_file_mode_equals_the_oracle_per_service(plan):
    want = expected(plan)
    results, violations = file_mode(SPEC, spans_for(plan))
    assert results == {k: v for k, (v, _) in want.items()}
    assert {v.key: v.span_ids for v in violations} == {
        k: ids for k, (v, ids) in want.items() if v == "violated"}


@settings(max_examples=100, deadline=None)
@given(plans())
def test_streaming_equals_file_mode(plan):
    spans = spans_for(plan)
    _, violations = file_mode(SPEC, spans)
    sm = StreamingMonitor(SPEC, idle_ns=10, lateness_ns=SECOND, clock=lambda: 0)
    for sp in spans:
        sm.ingest([sp])
    sm.finish()
    got = sm.take_violations()
    assert sorted((v.key, v.span_ids, v.message) for v in got) == sorted(
        (v.key, v.span_ids, v.message) for v in violations)


@settings(max_examples=100, deadline=None)
@given(walks())
def test_per_trace_scope_follows_each_trace_on_its_own(walk):
    trace_id = "ab" * 16
    spans = [Span(name="call", trace_id=trace_id, span_id=f"{i:016x}", start_ns=T0 + i * MS,
                  end_ns=T0 + 100 * MS, parent_id="" if i == 1 else f"{1:016x}",
                  attrs={"breaker.state": v}) for i, v in enumerate(walk, start=1)]
    results, _ = file_mode(PER_TRACE, spans)
    assert results == {trace_id: "satisfied" if oracle(walk) is None else "violated"}


def test_violation_names_the_bad_value_what_it_follows_and_what_was_expected():
    plan = [("a", "closed"), ("a", None), ("a", "open"), ("a", "closed")]
    _, (v,) = file_mode(SPEC, spans_for(plan))
    assert v.key == "a" and v.span_ids == [f"{4:016x}", f"{3:016x}"]
    assert v.message == ("`state` = closed cannot come after `state` = open in model "
                         "`breaker`; expected half_open")
    assert len(v.trace_ids) == 4  # the instance's traces up to the deciding one


def test_a_value_outside_the_variables_type_is_a_violation():
    _, (v,) = file_mode(SPEC, spans_for([("a", "closed"), ("a", "tripped")]))
    assert v.message == "'tripped' is not a value of `state` (closed, open, half_open)"


def test_a_run_must_start_in_the_initial_value():
    results, (v,) = file_mode(SPEC, spans_for([("a", "open"), ("b", "closed")]))
    assert results == {"a": "violated", "b": "satisfied"}
    assert v.span_ids == [f"{1:016x}"]
    assert v.message.startswith("`state` = open cannot come first")
