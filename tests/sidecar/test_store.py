"""The SQLite store: committed on return, deduplicated, queryable, with a journal."""
from __future__ import annotations

import sqlite3
import threading

from tracelogic.sidecar.store import Store


def violation(prop="answered", key="t1", spans=("s1",), **extra):
    return {"property": prop, "key": key, "trace_ids": [key], "span_ids": list(spans),
            "message": "late", "severity": "error", **extra}


def test_committed_before_return_and_visible_to_another_connection(tmp_path):
    path = str(tmp_path / "v.db")
    store = Store(path)
    added = store.add_violations([violation(), violation(key="t2")])
    assert [new for _, new in added] == [True, True]
    assert [r.body["key"] for r, _ in added] == ["t1", "t2"] and added[0][0].id < added[1][0].id
    other = sqlite3.connect(path)  # a different connection sees it: it was committed
    assert other.execute("SELECT COUNT(*) FROM violations").fetchone()[0] == 2
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_redelivery_is_deduplicated(tmp_path):
    store = Store(str(tmp_path / "v.db"))
    [(first, new)] = store.add_violations([violation()])
    assert new
    [(again, new)] = store.add_violations([violation()])
    assert not new and again.id == first.id  # the row that holds it
    assert store.add_violations([violation(spans=("s2",))])[0][1]
    assert store.count_violations() == 2


def test_queries_and_retention(tmp_path):
    now = [1_000]
    store = Store(str(tmp_path / "v.db"), clock=lambda: now[0])
    store.add_violations([violation("a", "k1")])
    now[0] = 2_000
    store.add_violations([violation("b", "k2"), violation("a", "k3")])
    assert [v.body["key"] for v in store.violations(prop="a")] == ["k1", "k3"]
    assert [v.body["key"] for v in store.violations(since_ns=1_500)] == ["k2", "k3"]
    first = store.violations()[0]
    assert [v.body["key"] for v in store.violations(after_id=first.id)] == ["k2", "k3"]
    assert store.violations()[0].to_json()["recorded_unix_nano"] == 1_000
    assert store.retain(max_age_ns=500) == 1           # k1 is older than 500 ns
    assert store.retain(max_rows=1) == 1
    assert [v.body["key"] for v in store.violations()] == ["k3"]


def test_journal_replays_in_order_and_forgets(tmp_path):
    store = Store(str(tmp_path / "v.db"))
    store.journal([("t1", b"a"), ("t2", b"b")])
    store.journal([("t1", b"c")])
    assert list(store.replay()) == [("t1", b"a"), ("t2", b"b"), ("t1", b"c")]
    store.forget(["t1"])
    assert list(store.replay()) == [("t2", b"b")]
    reopened = Store(str(tmp_path / "v.db"))  # survives reopening
    assert reopened.journal_size() == 1


def test_concurrent_writers(tmp_path):
    store = Store(str(tmp_path / "v.db"))

    def write(n):
        for i in range(50):
            store.add_violations([violation(key=f"{n}-{i}")])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count_violations() == 200


def test_request_journal_keeps_a_request_until_its_last_trace_is_forgotten(tmp_path):
    store = Store(str(tmp_path / "v.db"))
    store.journal_requests([("protobuf", b"r1", ["t1", "t2"]), ("json", b"r2", ["t2"])])
    assert [(f, p, sorted(t)) for f, p, t in store.replay_requests()] == [
        ("protobuf", b"r1", ["t1", "t2"]), ("json", b"r2", ["t2"])]
    store.forget_traces(["t2"])
    # r1 stays for t1, but replays only t1's spans; r2 had nothing else and is gone
    assert [(p, sorted(t)) for _, p, t in store.replay_requests()] == [(b"r1", ["t1"])]
    assert store.journaled_requests() == 1
    store.forget_traces(["t1"])
    assert list(store.replay_requests()) == [] and store.journaled_requests() == 0
    assert store.journaled_traces() == 0


def test_metric_violations_without_spans_are_told_apart_by_their_points(tmp_path):
    store = Store(str(tmp_path / "v.db"))
    point = lambda t: {"metric": "cpu", "time_unix_nano": t, "value": 1.0}  # noqa: E731
    v = dict(violation(spans=()), points=[point(1)])
    assert [new for _, new in store.add_violations([v])] == [True]
    assert [new for _, new in store.add_violations([v])] == [False]  # redelivered: the same
    assert [new for _, new in store.add_violations([dict(v, points=[point(2)])])] == [True]


def test_a_bounded_obligations_trigger_survives_the_store(tmp_path):
    """Issue 15 item 5: the violation body the server stores (``Violation.to_json``) keeps
    the `trigger` of a bounded obligation, as read back."""
    import tracelogic
    from tracelogic.engine.monitor import Monitor
    from tracelogic.ingest.spans import Span

    ms = 1_000_000
    spans = [Span(name=n, trace_id="cd" * 16, span_id=f"{i:016x}",
                  parent_id="" if i == 1 else f"{1:016x}", start_ns=s * ms, end_ns=e * ms)
             for i, n, s, e in [(1, "root", 0, 100), (2, "deploy", 10, 20),
                                (3, "http_5xx", 40, 45)]]
    mon = Monitor(tracelogic.load(
        'property p: G (name == "deploy" & end -> G[<= 30s] !(name == "http_5xx"))'))
    mon.feed(spans)
    (v,) = mon.close().violations
    body = v.to_json()
    assert body["trigger"]["span_id"] == f"{2:016x}"
    store = Store(str(tmp_path / "v.db"))
    store.add_violations([body])
    (row,) = Store(str(tmp_path / "v.db")).violations()
    assert row.body["trigger"] == body["trigger"]
    assert row.to_json()["trigger"]["name"] == "deploy"


def _reference_add(conn: sqlite3.Connection, bodies: list[dict]) -> list[tuple[int, bool]]:
    """The store's commit as it was written first, row by row: the oracle of the batched
    one (one ``executemany``, new rows told by their ids)."""
    import json

    from tracelogic.engine.record import dedup_key, storable
    out = []
    for v in bodies:
        body = storable(dict(v))
        key = dedup_key(body)
        cur = conn.execute("INSERT OR IGNORE INTO ref (body, dedup) VALUES (?, ?)",
                           (json.dumps(body, sort_keys=True), key))
        if cur.rowcount:
            out.append((cur.lastrowid, True))
        else:
            out.append((conn.execute("SELECT id FROM ref WHERE dedup = ?", (key,)).fetchone()[0],
                        False))
    conn.commit()
    return out


_TEXTS = ["t1", "t2", "é", "\U0001f600", "\ud800", "a\\ud800", "\x00"]


def test_batched_commit_agrees_with_row_by_row(tmp_path):
    """Batches with repeats inside them and of earlier batches, retention in between, and
    bodies that need escaping (a lone surrogate) or hold non-ASCII text: the same ids,
    the same new/repeat answers and the same stored text as the row-by-row commit, and a
    new record's ``text`` is its row's body."""
    import json
    import random

    from hypothesis import given, settings
    from hypothesis import strategies as st

    body = st.builds(lambda k, s, m: violation(key=k, spans=(s,), message=m),
                     st.sampled_from(_TEXTS), st.sampled_from(_TEXTS), st.sampled_from(_TEXTS))
    runs = iter(range(10**6))

    @settings(max_examples=25, deadline=None, database=None)
    @given(st.lists(st.lists(body, max_size=8), max_size=4), st.integers(0, 2**32))
    def check(batches, seed):
        path = str(tmp_path / f"v{next(runs)}.db")
        store = Store(path)
        ref = sqlite3.connect(":memory:")
        ref.execute("CREATE TABLE ref (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT, "
                    "dedup TEXT UNIQUE)")
        rng = random.Random(seed)
        for batch in batches:
            if rng.random() < 0.3:  # retention: the largest ids may go too
                keep = rng.randint(0, 3)
                assert store.retain(max_rows=keep) == ref.execute(
                    "DELETE FROM ref WHERE id NOT IN (SELECT id FROM ref ORDER BY id DESC "
                    "LIMIT ?)", (keep,)).rowcount
            got = store.add_violations(batch)
            assert [(r.id, new) for r, new in got] == _reference_add(ref, batch)
            stored = dict(sqlite3.connect(path).execute("SELECT id, body FROM violations"))
            for r, new in got:
                assert stored[r.id] == ref.execute("SELECT body FROM ref WHERE id = ?",
                                                   (r.id,)).fetchone()[0]
                assert json.loads(r.text) == r.body  # a repeat's own body, not the row's
                assert not new or r.text == stored[r.id]
        store.close()
    check()
