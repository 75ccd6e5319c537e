"""std.failover: block writes -> replication complete -> promote -> reroute, no writes between."""
from __future__ import annotations

from .stdlib_helpers import Gen, found, run_std

PROPS = ["replication_after_block", "promote_after_replication", "reroute_after_promote",
         "no_writes_while_blocked", "failover_completes"]


def failover(g: Gen, t: float, order=("block_writes", "replication_complete", "promote",
                                      "reroute"), cluster="orders-db", failed=()):
    spans = {}
    for step in order:
        spans[step] = g.span(f"failover.{step}", t, t + 2, trace=100 + int(t),
                             failover__cluster=cluster, failover__step=step,
                             db__instance="replica-2",
                             status="error" if step in failed else "unset")
        t += 3
    return spans, t


def write(g: Gen, t: float, *, ok=True, cluster="orders-db"):
    return g.span("INSERT orders", t, t + 1, trace=int(t * 10), failover__cluster=cluster,
                  failover__write=True, status="unset" if ok else "error")


def test_two_clean_failovers_with_rejected_writes_in_between():
    g = Gen()
    write(g, 0)
    _, t = failover(g, 2)
    write(g, 4, ok=False)      # rejected while blocked: fine
    write(g, t + 1)            # after reroute: the new primary accepts it
    _, t = failover(g, t + 5)
    report = run_std("failover", g.spans)
    assert found(report) == []
    assert [p.name for p in report.properties] == PROPS
    assert all(p.count("satisfied") == 1 for p in report.properties)


def test_promotion_before_replication_and_a_write_accepted_while_blocked():
    g = Gen()
    spans, t = failover(g, 0, order=("block_writes", "promote", "replication_complete",
                                     "reroute"))
    lost = write(g, 3.5)
    assert found(run_std("failover", g.spans)) == [
        ("no_writes_while_blocked", "orders-db",
         "cluster orders-db accepted write INSERT orders while writes were blocked for failover",
         [lost.span_id]),
        ("promote_after_replication", "orders-db",
         "cluster orders-db: promoted replica-2 before replication completed",
         [spans["promote"].span_id]),
    ]


def test_a_second_failover_cannot_reuse_the_first_ones_steps():
    g = Gen()
    _, t = failover(g, 0)
    spans, _ = failover(g, t + 5, order=("block_writes", "promote", "reroute"))
    assert found(run_std("failover", g.spans)) == [
        ("promote_after_replication", "orders-db",
         "cluster orders-db: promoted replica-2 before replication completed",
         [spans["promote"].span_id]),
    ]


def test_a_failover_that_never_reroutes_or_reroutes_early():
    g = Gen()
    spans, t = failover(g, 0, order=("block_writes", "replication_complete", "promote",
                                     "reroute"), failed=("reroute",))
    early = g.span("failover.reroute", t + 1, t + 2, trace=7, failover__cluster="users-db",
                   failover__step="reroute")
    blocked, _ = failover(g, t + 5, order=("block_writes", "replication_complete"),
                          cluster="users-db")
    # orders-db's reroute failed: the failover never completed
    [(name, key, message, witness)] = [f for f in found(run_std("failover", g.spans))
                                       if f[1] == "orders-db"]
    assert (name, key, message) == (
        "failover_completes", "orders-db",
        "cluster orders-db: failover blocked writes but never rerouted")
    assert witness[0] == spans["block_writes"].span_id
    users = [f for f in found(run_std("failover", g.spans)) if f[1] == "users-db"]
    assert [(n, m) for n, _, m, _ in users] == [
        ("failover_completes", "cluster users-db: failover blocked writes but never rerouted"),
        ("reroute_after_promote", "cluster users-db: rerouted before a replica was promoted"),
    ]
    assert users[1][3] == [early.span_id]
    assert users[0][3][0] == blocked["block_writes"].span_id
