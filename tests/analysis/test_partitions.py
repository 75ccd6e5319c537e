"""Network partitions: unreachable service groups, partitioned versus down, episodes."""
from __future__ import annotations

import io
import json

from tracelogic.analysis import find_partitions
from tracelogic.cli import run

from .helpers import T0, Builder, write_otlp_json

S = 1000  # ms


def cluster(b: Builder, *, seconds=30, cut=(10, 20), partitioned=("r4", "r5"), down=(),
            failing=()):
    """r1 (leader) replicates every 250 ms to r2..r5; in ``cut`` the given replicas are
    unreachable from r1 (calls fail without reaching them) but keep talking to each other."""
    replicas = ["r2", "r3", "r4", "r5"]
    trace = 0
    for k in range(seconds * 4):
        t = k * 250
        in_cut = cut[0] * S <= t < cut[1] * S
        trace += 1
        root = b.span("raft.append", t, t + 20, service="r1", kind="server", trace=trace)
        for j, r in enumerate(replicas):
            lost = in_cut and (r in partitioned or r in down)
            call = b.span("AppendEntries", t + 1 + j, t + 10 + j, root, service="r1",
                          kind="client", peer__service=r, status="error" if lost else "unset")
            if not lost:
                b.span("AppendEntries", t + 2 + j, t + 9 + j, call, service=r, kind="server",
                       status="error" if r in failing else "unset")
        if in_cut and len(partitioned) > 1:  # the other side still runs, and talks
            trace += 1
            a, c = partitioned[0], partitioned[1]
            vote = b.span("campaign", t + 50, t + 60, service=a, trace=trace)
            call = b.span("RequestVote", t + 51, t + 59, vote, service=a, kind="client",
                          peer__service=c)
            b.span("RequestVote", t + 52, t + 58, call, service=c, kind="server")
    return b.spans


def test_a_partitioned_pair_is_one_episode_with_its_evidence():
    spans = cluster(Builder())
    [ep] = find_partitions(spans)
    assert (ep.start_ns - T0, ep.end_ns - T0) == (10 * 10**9, 20 * 10**9)
    assert ep.groups == [["r4", "r5"]]
    assert ep.partitioned == ["r4", "r5"] and ep.down == [] and ep.callers == ["r1"]
    assert ep.edges == {("r1", "r4"): 40, ("r1", "r5"): 40}
    assert len(ep.span_ids) == 10
    assert ep.describe() == ("{r4, r5} unreachable from r1 for 10.0 s (80 failed calls); "
                             "partitioned (still running): r4, r5")


def test_a_silent_replica_is_down_and_errors_are_not_a_partition():
    spans = cluster(Builder(), partitioned=(), down=("r3",), failing=("r2",))
    [ep] = find_partitions(spans)
    assert ep.groups == [["r3"]] and ep.partitioned == [] and ep.down == ["r3"]
    assert "unreachable and silent (down?): r3" in ep.describe()
    assert find_partitions(cluster(Builder(), cut=(0, 0))) == []


def test_windows_and_thresholds():
    spans = cluster(Builder(), cut=(10, 11))
    [ep] = find_partitions(spans)           # 4 lost calls to each of r4 and r5
    assert (ep.start_ns - T0, ep.end_ns - T0) == (10 * 10**9, 11 * 10**9)
    assert sum(ep.edges.values()) == 8
    assert find_partitions(spans, min_failed=9) == []
    # in a 5 s window the replicas were reached too (from 11 s on): no partition
    assert find_partitions(spans, window_ns=5 * 10**9) == []
    # consecutive windows with the same groups are one episode
    [ep] = find_partitions(cluster(Builder(), cut=(10, 12)))
    assert (ep.start_ns - T0, ep.end_ns - T0) == (10 * 10**9, 12 * 10**9)
    # half a window cut off is not a partition: the other half reached them
    assert find_partitions(cluster(Builder(), cut=(10, 10.5))) == []


def test_cli(tmp_path):
    path = write_otlp_json(tmp_path / "p.json", cluster(Builder()))
    out, err = io.StringIO(), io.StringIO()
    assert run(["analyze", path, "--partitions"], out, err) == 1, err.getvalue()
    text = out.getvalue()
    assert "partition episode(s)" in text and "{r4, r5} unreachable from r1" in text
    assert "    r1 -> r4: 40 failed call(s)" in text
    out = io.StringIO()
    assert run(["analyze", path, "--partitions", "--window", "5s", "--format", "json"], out,
               err) == 1
    [ep] = json.loads(out.getvalue())["partitions"]
    assert ep["groups"] == [["r4", "r5"]] and ep["partitioned"] == ["r4", "r5"]
    assert run(["analyze", path, "--partitions", "--min-failed", "0"], io.StringIO(), err) == 2


def test_the_main_side_is_where_requests_come_in():
    # r1 and r2 take the client traffic; the three others are cut off from them: the
    # larger group is the one reported, because requests come in on the other side
    spans = cluster(Builder(), partitioned=("r3", "r4", "r5"))
    [ep] = find_partitions(spans)
    assert ep.groups == [["r3", "r4"], ["r5"]]  # r3 still reaches r4; r5 talks to no one
    assert ep.unreachable == ["r3", "r4", "r5"] and ep.callers == ["r1"]
