"""std.consensus: election safety, monotone terms and commit indexes, apply after commit."""
from __future__ import annotations

import random

from .stdlib_helpers import Gen, found, run_std

PROPS = ["one_leader_per_term", "terms_never_decrease", "commit_index_monotone",
         "apply_after_commit", "one_entry_per_index", "commit_has_quorum"]


def raft_run(g: Gen, *, rng: random.Random, terms: int = 4, entries: int = 6,
             leaders: list[str] | None = None):
    """A healthy run of three nodes: one election per term, entries committed then applied."""
    nodes = ["n1", "n2", "n3"]
    t = 0.0
    index = 0
    for term in range(1, terms + 1):
        leader = leaders[term - 1] if leaders else rng.choice(nodes)
        g.span("raft.become_leader", t, t + 1, trace=term, consensus__node=leader,
               consensus__term=term, consensus__event="elected")
        for n in nodes:  # heartbeats seen by everyone, in the new term
            g.span("raft.heartbeat", t + 2, t + 3, trace=term, consensus__node=n,
                   consensus__term=term)
        t += 5
        for _ in range(entries):
            index += 1
            g.span("raft.commit", t, t + 1, trace=term, consensus__node=leader,
                   consensus__term=term, consensus__event="commit", consensus__index=index,
                   consensus__commit_index=index, consensus__acks=rng.choice([2, 3]),
                   consensus__cluster_size=3)
            for n in nodes:
                g.span("raft.apply", t + 2 + rng.random(), t + 3 + rng.random(), trace=term,
                       consensus__node=n, consensus__term=term, consensus__event="apply",
                       consensus__index=index, consensus__entry=f"e{index}")
            t += 4
    return t, index


def test_healthy_runs_satisfy_every_property():
    for seed in range(5):
        g = Gen()
        raft_run(g, rng=random.Random(seed))
        report = run_std("consensus", g.spans)
        assert found(report) == []
        assert [p.name for p in report.properties] == PROPS
        by = {p.name: p for p in report.properties}
        assert by["one_leader_per_term"].count("satisfied") == 4
        assert by["apply_after_commit"].count("satisfied") == 24
        assert by["terms_never_decrease"].count("satisfied") == 3


def test_two_leaders_a_stale_term_a_commit_index_going_back_and_early_apply():
    g = Gen()
    t, index = raft_run(g, rng=random.Random(1), terms=2, entries=2, leaders=["n1", "n2"])
    assert index == 4
    leader2 = next(s for s in g.spans if s.attrs.get("consensus.event") == "elected"
                   and s.attrs["consensus.term"] == 2)
    rival = g.span("raft.become_leader", t + 1, t + 2, trace=9, consensus__node="n3",
                   consensus__term=2, consensus__event="elected")
    stale = g.span("raft.heartbeat", t + 3, t + 4, trace=9, consensus__node="n1",
                   consensus__term=1)
    back = g.span("raft.commit", t + 5, t + 6, trace=9, consensus__node="n2",
                  consensus__term=2, consensus__event="commit", consensus__index=4,
                  consensus__commit_index=1)
    early = g.span("raft.apply", t + 7, t + 8, trace=9, consensus__node="n2",
                   consensus__term=2, consensus__event="apply", consensus__index=5,
                   consensus__entry="x")
    g.span("raft.commit", t + 9, t + 10, trace=9, consensus__node="n2", consensus__term=2,
           consensus__event="commit", consensus__index=5, consensus__commit_index=5)
    other = g.span("raft.apply", t + 11, t + 12, trace=9, consensus__node="n1",
                   consensus__term=2, consensus__event="apply", consensus__index=5,
                   consensus__entry="y")
    assert found(run_std("consensus", g.spans)) == [
        ("apply_after_commit", "5", "index 5 applied on n2 before it was committed",
         [early.span_id]),
        ("commit_index_monotone", "n2", "node n2 moved its commit index back to 1",
         [back.span_id]),
        ("one_entry_per_index", "5", "index 5 applied as different entries x, y",
         [early.span_id, other.span_id]),
        ("one_leader_per_term", "2", "term 2 has leaders n2, n3",
         [leader2.span_id, rival.span_id]),
        ("terms_never_decrease", "n1", "node n1 went back to term 1", [stale.span_id]),
    ]


def test_a_long_span_of_an_old_term_ending_late_is_not_a_step_back():
    g = Gen()
    g.span("raft.append_entries", 0, 50, consensus__node="n1", consensus__term=3)
    g.span("raft.become_leader", 10, 11, consensus__node="n1", consensus__term=4,
           consensus__event="elected")
    g.span("raft.heartbeat", 20, 21, consensus__node="n1", consensus__term=4)
    assert found(run_std("consensus", g.spans)) == []


def test_a_commit_without_a_majority_during_a_partition():
    g = Gen()
    ok = g.span("raft.commit", 0, 1, consensus__node="r1", consensus__term=3,
                consensus__event="commit", consensus__index=7, consensus__acks=3,
                consensus__cluster_size=5)
    bad = g.span("raft.commit", 2, 3, consensus__node="r1", consensus__term=3,
                 consensus__event="commit", consensus__index=8, consensus__acks=2,
                 consensus__cluster_size=5)
    g.span("raft.commit", 4, 5, consensus__node="r1", consensus__term=3,
           consensus__event="commit", consensus__index=9)          # not reported: unchecked
    assert found(run_std("consensus", g.spans)) == [
        ("commit_has_quorum", "r1",
         "index 8 committed by r1 with 2 of 5 acknowledgements, not a majority",
         [bad.span_id])]
    assert ok.span_id != bad.span_id
