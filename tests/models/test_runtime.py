"""The runtime API: conforms tables, the saga monitor and the follows monitor.

Oracles: the reference semantics (:mod:`tracelogic.models.semantics`) for
``conforms`` and ``saga``; for ``follows``, a brute-force enumeration of the
model's runs.
"""
from __future__ import annotations

import os

from hypothesis import given, settings, strategies as st

from tracelogic.automata.monitor import Verdict
from tracelogic.models import semantics as S
from tracelogic.models.runtime import conforms_automaton, follows_monitor, saga_monitor
from tracelogic.models.workflow import END, Event, from_ast, show, steps_of
from tracelogic.spec.loader import load
from tests.models.strategies import failure_words, workflows

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
N = 300 if LONG else 50


def wf_spec(text: str, comps: dict[str, str] | None = None):
    comp = "".join(f"\n  compensate {s} with {c}" for s, c in (comps or {}).items())
    return load(f"workflow w:\n  {text}{comp}\n", filename="w.spec").workflows["w"]


def ev(text: str) -> list[Event]:
    out = []
    for t in text.split():
        failed = t.endswith("!")
        step, phase = t.rstrip("!").split(".")
        out.append(Event(step, phase, failed))
    return out


ORDER = ("validate ; (reserve || charge) ; (ship + cancel) ; notify*",
         {"reserve": "release_stock", "charge": "refund"})


# ---------------------------------------------------------------- conforms


def test_conforms_letters_and_table_interface():
    a = conforms_automaton(wf_spec(*ORDER))
    assert a.steps == ("validate", "reserve", "charge", "ship", "cancel", "notify",
                       "release_stock", "refund")
    assert a.letter("validate", "start") == 0
    assert a.letter("validate", "end") == 1
    assert a.letter("reserve", "end", failed=True) == 4 + 2 + 1
    assert a.event(a.letter("refund", "end", True)) == Event("refund", END, True)
    assert all(len(row) == 4 * len(a.steps) for row in a.delta)
    s = a.initial
    for e in ev("validate.start validate.end reserve.start charge.start charge.end reserve.end "
                "cancel.start cancel.end"):
        s = a.delta[s][a.letter(e.step, e.phase, e.failed)]
        assert a.live[s]
    assert s in a.accepting and a.verdict(s) == Verdict.PRESUMABLY_SATISFIED
    bad = a.delta[s][a.letter("validate", "start")]
    assert not a.live[bad] and a.verdict(bad) == Verdict.VIOLATED and a.is_decided(bad)
    assert not a.accepts_empty


@settings(max_examples=N, deadline=None)
@given(st.data(), workflows())
def test_conforms_automaton_agrees_with_reference(data, w):
    text = show(w)
    comps = {s: f"undo_{s}" for s in steps_of(w) if s in ("a", "b")}
    a = conforms_automaton(wf_spec(text, comps))
    w = from_ast(wf_spec(text, comps).expr)
    for _ in range(3):
        u = data.draw(failure_words(w, comps, max_len=10))
        assert a.final(a.run(u)) == S.conforms(w, list(comps.values()), u), (text, u)


# ---------------------------------------------------------------- saga


@settings(max_examples=N * 2, deadline=None)
@given(st.data(), workflows())
def test_saga_monitor_agrees_with_reference(data, w):
    text = show(w)
    comps = {s: f"undo_{s}" for s in steps_of(w) if s in ("a", "b")}
    m = saga_monitor(wf_spec(text, comps))
    for _ in range(4):
        u = data.draw(failure_words(w, comps, max_len=12))
        assert m.final(m.run(u)) == S.saga(w, comps, u), (text, u, m.reason(m.run(u)))


@settings(max_examples=N, deadline=None)
@given(st.data())
def test_saga_monitor_agrees_with_reference_on_repeated_parallel_steps(data):
    """`(a || b)* ; c`: repeated occurrences, overlapping branches, retried compensations."""
    from tracelogic.models.workflow import parse

    w = parse("(a || b)* ; c")
    comps = {"a": "ua", "b": "ub", "c": "uc"}
    m = saga_monitor(wf_spec("(a || b)* ; c", comps))
    u = data.draw(failure_words(w, comps, max_len=14))
    assert m.final(m.run(u)) == S.saga(w, comps, u), (u, m.reason(m.run(u)))


def _saga(text_events: str, wf=ORDER) -> tuple[bool, str | None, bool]:
    from tracelogic.models.workflow import parse

    m = saga_monitor(wf_spec(*wf))
    u = ev(text_events)
    state = m.run(u)
    ref = S.saga(parse(wf[0]), wf[1], u)
    assert m.final(state) == ref, (text_events, m.reason(state))
    return m.final(state), m.reason(state), m.is_decided(state)


PREFIX = "validate.start validate.end reserve.start reserve.end charge.start charge.end "


def test_saga_reverse_completion_order():
    ok, _, _ = _saga(PREFIX + "ship.start! ship.end! refund.start refund.end "
                     "release_stock.start release_stock.end")
    assert ok
    ok, why, decided = _saga(PREFIX + "ship.start! ship.end! release_stock.start release_stock.end "
                             "refund.start refund.end")
    assert not ok and decided and "before `charge`" in why


def test_saga_every_completed_step_is_compensated():
    ok, why, decided = _saga(PREFIX + "ship.start! ship.end! refund.start refund.end")
    assert not ok and not decided and "`reserve` (by `release_stock`)" in why


def test_saga_no_forward_step_after_the_failure():
    ok, why, _ = _saga(PREFIX + "ship.start! ship.end! notify.start notify.end refund.start "
                       "refund.end release_stock.start release_stock.end")
    assert not ok and "started after the failure" in why


def test_saga_parallel_branch_finishing_after_the_failure_is_compensated_too():
    base = "validate.start validate.end reserve.start charge.start charge.end! "
    # reserve was running at the failure; it finishes, and is compensated (latest first)
    ok, _, _ = _saga(base + "reserve.end release_stock.start release_stock.end")
    assert ok
    ok, why, _ = _saga(base + "reserve.end")
    assert not ok and "release_stock" in why
    # a failed charge is not compensated; compensating it is a violation
    ok, why, _ = _saga(base + "reserve.end release_stock.start release_stock.end refund.start "
                       "refund.end")
    assert not ok
    # the branch may finish after compensation has started: LIFO at each point
    ok, _, _ = _saga("validate.start validate.end reserve.start charge.start charge.end "
                     "cancel.start! cancel.end!" if False else
                     PREFIX.replace("reserve.end ", "") + "ship.start! ship.end! refund.start "
                     "refund.end reserve.end release_stock.start release_stock.end")
    assert ok


def test_saga_retried_compensation_counts_once_when_it_first_succeeds():
    ok, _, _ = _saga(PREFIX + "ship.start! ship.end! refund.start! refund.end! refund.start "
                     "refund.end release_stock.start! release_stock.end! release_stock.start "
                     "release_stock.end")
    assert ok
    ok, why, _ = _saga(PREFIX + "ship.start! ship.end! refund.start refund.end refund.start "
                       "refund.end release_stock.start release_stock.end")
    assert not ok and "refund" in why  # compensated twice


def test_saga_repeated_steps_are_each_compensated():
    wf = ("a* ; b", {"a": "ua"})
    ok, _, _ = _saga("a.start a.end a.start a.end b.start! b.end! ua.start ua.end ua.start ua.end",
                     wf)
    assert ok
    ok, why, _ = _saga("a.start a.end a.start a.end b.start! b.end! ua.start ua.end", wf)
    assert not ok and "`a` (by `ua`)" in why


def test_saga_without_failure_has_nothing_to_do():
    ok, why, _ = _saga(PREFIX + "ship.start ship.end")
    assert ok and why is None
    ok, why, decided = _saga(PREFIX + "refund.start refund.end")
    assert not ok and decided and "before any step failed" in why


def test_saga_run_wrapper_records_the_deciding_event():
    m = saga_monitor(wf_spec(*ORDER))
    run = m.start()
    events = ev(PREFIX + "ship.start! ship.end! notify.start")
    for e in events:
        run.step(e)
    assert run.verdict == Verdict.VIOLATED and run.decided_at == len(events) - 1


# ---------------------------------------------------------------- follows

BREAKER = open("examples/language/models.spec").read()


def _runs_projections(machine, var: str, max_len: int) -> set[tuple]:
    """Every destuttered projection of a run of at most ``max_len`` steps (brute force)."""
    vi = machine.var_index[var]
    out = set()
    frontier = [(machine.init, (machine.init[vi],))]
    seen = set()
    for _ in range(max_len + 1):
        nxt = []
        for s, proj in frontier:
            if (s, proj) in seen:
                continue
            seen.add((s, proj))
            out.add(proj)
            for _, t in machine.successors(s):
                p = proj if t[vi] == proj[-1] else proj + (t[vi],)
                if len(p) <= 6:
                    nxt.append((t, p))
        frontier = nxt
    return out


def _destutter(xs):
    out = []
    for x in xs:
        if not out or out[-1] != x:
            out.append(x)
    return tuple(out)


@settings(max_examples=N * 2, deadline=None)
@given(st.lists(st.sampled_from(["closed", "open", "half_open"]), max_size=6))
def test_follows_agrees_with_brute_force(observed):
    spec = load(BREAKER, filename="models.spec")
    f = follows_monitor(spec.models["breaker"], "state")
    runs = _runs_projections(f.machine, "state", 40)
    expected = (not observed) or _destutter(observed) in runs
    assert f.final(f.run(observed)) == expected, observed


def test_follows_breaker_examples():
    spec = load(BREAKER, filename="models.spec")
    f = follows_monitor(spec.models["breaker"], "state")
    assert f.final(f.run(["closed", "closed", "open", "half_open", "closed"]))
    s = f.run(["closed", "open"])
    assert f.step(s, "closed") == f.DEAD
    assert "cannot come after `state` = open" in f.explain(s, "closed")
    assert f.expected(s) == ["half_open"]
    assert f.step(f.initial, "broken") == f.DEAD and "not a value" in f.explain(0, "broken")
    assert not f.final(f.run(["open"]))  # anchored: the run starts at the initial state
    g = follows_monitor(spec.models["breaker"], "state", anchored=False)
    assert g.final(g.run(["open", "half_open"]))
    init, delta, last = f.table()
    assert delta[f.DEAD] == [f.DEAD] * 3 and last[init] is None


def test_follows_other_variables_are_existential():
    spec = load("""model m {
  var x : 0..3 = 0
  var y : bool = false
  action a when x < 3 do x := x + 1
  action b when x == 3 do y := true
  action c when y do x := 0; y := false
}""", filename="m.spec")
    f = follows_monitor(spec.models["m"], "y")
    assert f.final(f.run([False, True, False, True]))
    assert not f.final(f.run([True]))
    h = follows_monitor(spec.models["m"], "x")
    assert h.final(h.run([0, 1, 2, 3, 0]))
    assert not h.final(h.run([0, 2]))
    assert h.value_index(2.0) == 2 and h.value_index(2.5) is None and h.value_index("2") is None


@settings(max_examples=N, deadline=None)
@given(st.data(), workflows())
def test_generated_failure_words_are_well_formed(data, w):
    """The saga oracle comparison is only meaningful on words real spans can produce."""
    from tests.models.strategies import well_formed

    comps = {s: f"undo_{s}" for s in steps_of(w) if s in ("a", "b")}
    assert well_formed(data.draw(failure_words(w, comps, max_len=12)))
