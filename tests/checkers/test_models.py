"""`check MODEL: …` through `tracelogic check`: the §7 examples, buggy models, reports."""
from __future__ import annotations

import io
import json
from collections import deque

from tracelogic.checkers.report import CheckReport, run_checks
from tracelogic.cli import run as cli
from tracelogic.spec.loader import load

MUTEX = """enum Pc { idle, waiting, critical }
model mutex {
  var p1 : Pc = idle
  var p2 : Pc = idle
  var turn : 1..2 = 1
  var f1 : bool = false
  var f2 : bool = false
  action want1  when p1 == idle do p1 := waiting; f1 := true; turn := 2
  action want2  when p2 == idle do p2 := waiting; f2 := true; turn := 1
  action enter1 when p1 == waiting & (!f2 | turn == 1) do p1 := critical
  action enter2 when p2 == waiting & (!f1 | turn == 2) do p2 := critical
  action leave1 when p1 == critical do p1 := idle; f1 := false
  action leave2 when p2 == critical do p2 := idle; f2 := false
}
check mutex: invariant !(p1 == critical & p2 == critical)
check mutex: deadlock_free
check mutex: G (p1 == waiting -> F p1 == critical)
"""


def results(text: str, **options) -> dict:
    spec = load(text, filename="m.spec")
    report = CheckReport(files=["m.spec"])
    run_checks(spec, report, **options)
    return {r.name: r for r in report.results if r.kind == "model"}


def test_normative_breaker_examples():
    spec = load("examples/language/models.spec")
    report = CheckReport()
    run_checks(spec, report)
    got = {r.name: r for r in report.results if r.kind == "model"}
    assert got["breaker.invariant"].status == "holds"          # proved by k-induction / PDR
    assert got["breaker.invariant"].details["engine"] in ("k-induction", "pdr")
    assert "proved by" in got["breaker.invariant"].message
    assert got["breaker.ltl"].status == "holds"                # LTL over infinite runs
    assert got["breaker.deadlock_free"].status == "holds"
    assert report.exit_code() == 0


def _bfs_depth(spec, model: str, bad) -> int:
    """Shortest distance to a bad state, by a separate naive BFS over successors."""
    from tracelogic.models.machine import Machine

    m = Machine(spec.models[model])
    dist = {m.init: 0}
    q = deque([m.init])
    while q:
        s = q.popleft()
        if bad(m.state_dict(s)):
            return dist[s]
        for _, t in m.successors(s):
            if t not in dist:
                dist[t] = dist[s] + 1
                q.append(t)
    raise AssertionError("no bad state")


def test_mutual_exclusion_holds_with_the_guard():
    got = results(MUTEX)
    assert got["mutex.invariant"].status == "holds"
    assert got["mutex.deadlock_free"].status == "holds"
    assert got["mutex.ltl"].status == "holds"


def test_mutual_exclusion_missing_guard_gives_a_shortest_counterexample():
    buggy = MUTEX.replace("action enter2 when p2 == waiting & (!f1 | turn == 2)",
                          "action enter2 when p2 == waiting")
    for engine in ("auto", "explicit", "kind", "pdr"):
        r = results(buggy, engine=engine)["mutex.invariant"]
        assert r.status == "fails", engine
        cx = r.details["counterexample"]
        last = cx["steps"][-1]["state"]
        assert last["p1"] == "critical" and last["p2"] == "critical"
        depth = _bfs_depth(load(buggy, filename="m.spec"), "mutex",
                           lambda s: s["p1"] == s["p2"] == "critical")
        assert len(cx["steps"]) - 1 == depth == 4, engine
        assert [s["action"] for s in cx["steps"]][0] is None
        # changed variables are marked, in JSON and in the text table
        assert "p2" in cx["steps"][-1]["changed"] or "p1" in cx["steps"][-1]["changed"]
        assert "critical*" in r.details["table"] and "critical*" in r.message


BROKEN_BREAKER = """enum Breaker { closed, open, half_open }
model breaker {
  const threshold = 5
  var state : Breaker = closed
  var fails : 0..10   = 0
  action fail     when state == closed & fails < threshold  do fails := fails + 1
  action trip     when state == closed & fails >= threshold do state := open; fails := 0
  action cool     when state == open                        do state := half_open
  action probe_ok when state == half_open                   do state := closed
  action probe_ko when state == half_open                   do state := open
  action reset    when state == open                        do state := closed
}
check breaker: G (state == open -> X state != closed)
check breaker: invariant fails <= threshold
"""


def test_breaker_that_can_go_from_open_to_closed_gets_a_lasso():
    r = results(BROKEN_BREAKER)["breaker.ltl"]
    assert r.status == "fails"
    cx = r.details["counterexample"]
    states = [s["state"]["state"] for s in cx["steps"]]
    # some step goes open -> closed (possibly the loop's way back)
    pairs = list(zip(states, states[1:]))
    if cx.get("loop_start") is not None:
        pairs.append((states[-1], states[cx["loop_start"]]))
    assert ("open", "closed") in pairs
    assert cx["loop_start"] is not None and "loop starts here" in r.message
    assert results(BROKEN_BREAKER)["breaker.invariant"].status == "holds"


def test_out_of_range_is_reported_with_action_and_state_not_a_crash():
    text = """model m {
  var x : 0..3 = 0
  action inc do x := x + 1
}
check m: invariant x <= 3
"""
    r = results(text)["m.invariant"]
    assert r.status == "error"
    assert r.details["action"] == "inc" and r.details["state"] == {"x": 3}
    assert r.related and r.related[0].line == 3  # points at the action


def test_state_bound_option_gives_unknown_bound_reached():
    text = """model counter {
  var n : int = 0
  action inc do n := n + 1
}
check counter: G F (n >= 0)
"""
    r = results(text, state_bound=100)["counter.ltl"]
    assert r.status == "unknown" and r.details["reason"] == "bound reached"
    assert r.message.startswith("bound reached")


def test_names_are_unique_and_json_sarif_carry_the_run():
    text = MUTEX.replace("action enter2 when p2 == waiting & (!f1 | turn == 2)",
                         "action enter2 when p2 == waiting") + \
        "check mutex: invariant turn >= 1\ncheck mutex: G F (p1 == idle)\n"
    out = io.StringIO()
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.spec")
        with open(path, "w") as f:
            f.write(text)
        code = cli(["check", path, "--format", "json"], out, io.StringIO())
        assert code == 1
        doc = json.loads(out.getvalue())
        names = [r["name"] for r in doc["results"]]
        assert len(names) == len(set(names))
        assert "mutex.invariant.2" in names and "mutex.ltl.2" in names
        inv = next(r for r in doc["results"] if r["name"] == "mutex.invariant")
        assert inv["details"]["counterexample"]["steps"][0]["action"] is None
        sarif = io.StringIO()
        cli(["check", path, "--format", "sarif"], sarif, io.StringIO())
        rules = {r["ruleId"] for r in json.loads(sarif.getvalue())["runs"][0]["results"]}
        assert "tracelogic/model/mutex.invariant" in rules


def test_follows_monitor_that_cannot_be_built_is_reported():
    text = """model counter {
  var n : int = 0
  var flag : bool = false
  action inc do n := n + 1
}
property p: follows counter on n by attr["n"]
property q: follows counter on flag by attr["flag"]
"""
    got = results(text, state_bound=100)
    assert got["p.follows"].status == "unknown" and "finitely many values" in got["p.follows"].message
    assert got["q.follows"].status == "unknown" and "more than 100" in got["q.follows"].message
    assert results(open("examples/language/models.spec").read()).get(
        "breaker_runtime.follows") is None
