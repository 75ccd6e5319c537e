"""std.session: read-your-writes, monotonic reads and writes, writes follow reads."""
from __future__ import annotations

from .stdlib_helpers import Gen, Sdk, found, hex_id, run_std

PROPS = ["read_your_writes", "monotonic_reads", "monotonic_writes", "writes_follow_reads"]


def op(g, kind, start, end, session, key, version, trace=1):
    return g.span(f"kv.{kind}", start, end, trace=trace, session__id=session,
                  session__op=kind, session__key=key, session__version=version)


def test_consistent_sessions_pass_with_the_real_sdk():
    sdk = Sdk("kv")
    root = sdk.span("session", 0, 100)
    for i, (kind, version) in enumerate([("write", 3), ("read", 3), ("read", 5),
                                         ("write", 7), ("read", 7), ("read", 9)]):
        sdk.span(f"kv.{kind}", 10 * i, 10 * i + 5, root, session__id="s1", session__op=kind,
                 session__key="cart:1", session__version=version)
    # another session may read older state: guarantees are per session
    other = sdk.span("session", 0, 100)
    sdk.span("kv.read", 35, 36, other, session__id="s2", session__op="read",
             session__key="cart:1", session__version=1)
    report = run_std("session", sdk.spans)
    assert found(report) == []
    assert [p.name for p in report.properties] == PROPS
    assert all(p.count("satisfied") == 2 for p in report.properties)


def test_a_read_from_a_stale_replica_breaks_read_your_writes_and_monotonic_reads():
    sdk = Sdk("kv")
    root = sdk.span("session", 0, 100)
    sdk.span("kv.write", 0, 5, root, session__id="s1", session__op="write",
             session__key="cart:1", session__version=7)
    sdk.span("kv.read", 10, 12, root, session__id="s1", session__op="read",
             session__key="cart:1", session__version=8)
    stale = sdk.span("kv.read", 20, 22, root, session__id="s1", session__op="read",
                     session__key="cart:1", session__version=6)
    assert found(run_std("session", sdk.spans)) == [
        ("monotonic_reads", "s1",
         "session s1 read cart:1 at version 6, older than an earlier read", [hex_id(stale)]),
        ("read_your_writes", "s1",
         "session s1 read cart:1 at version 6, older than its own earlier write",
         [hex_id(stale)]),
    ]


def test_writes_out_of_order_and_before_what_was_read():
    g = Gen()
    op(g, "write", 0, 2, "s1", "a", 10)
    w = op(g, "write", 3, 4, "s1", "b", 9)           # applied before the earlier write
    op(g, "read", 5, 6, "s2", "a", 20)
    w2 = op(g, "write", 7, 8, "s2", "a", 15, trace=2)  # ordered before state it read
    assert found(run_std("session", g.spans)) == [
        ("monotonic_writes", "s1", "session s1 wrote b at version 9, not after its previous "
         "write", [w.span_id]),
        ("writes_follow_reads", "s2", "session s2 wrote a at version 15, before state it had "
         "already read", [w2.span_id]),
    ]


def test_only_operations_that_ended_before_a_read_started_count():
    g = Gen()
    op(g, "write", 0, 10, "s1", "a", 5)      # still running when the read starts
    op(g, "read", 2, 3, "s1", "a", 4)
    assert found(run_std("session", g.spans)) == []
