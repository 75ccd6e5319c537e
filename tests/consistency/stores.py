"""Simulated stores for the differential tests: a correct one and deliberately buggy ones.

Each operation gets a call time, a point where the store really executes it, and a return
time. The correct store executes every operation atomically at that point, so its history
is linearizable by construction. The buggy ones break that in the ways real stores do:

- ``stale``: a read answers an older version of its key;
- ``lost``: an acknowledged write is never applied;
- ``duplicated``: a write is applied again later (after other writes);
- ``reordered``: two writes take effect in the opposite order of their execution points;
- ``split``: two replicas, each client talks to its own, and they never sync.

Operations may also fail (not applied, status ``fail``) or be indeterminate (applied or
not, output unknown). The stores are written here, independently of the models under test.
"""
from __future__ import annotations

from hypothesis import strategies as st

from tracelogic.consistency.history import Operation

BUGS = ("none", "stale", "lost", "duplicated", "reordered", "split")


@st.composite
def kv_history(draw, max_ops: int = 8, bug: str | None = None, keys: int = 2,
               with_cas: bool = True, unique: bool = False) -> tuple[str, list[Operation]]:
    """``unique``: every write writes its own value (the session checkers need that)."""
    bug = bug or draw(st.sampled_from(BUGS))
    n = draw(st.integers(min(4, max_ops), max_ops))
    fs = ["read", "write", "cas"] if with_cas else ["read", "write"]
    plans = []
    for i in range(n):
        call = draw(st.integers(0, 30))
        at = call + draw(st.integers(0, 3))
        ret = at + draw(st.integers(0, 3))
        plans.append(dict(i=i, f=draw(st.sampled_from(fs)), key=draw(st.integers(0, keys - 1)),
                          v=10 + i if unique else draw(st.integers(0, 2)),
                          old=draw(st.integers(0, 2)),
                          call=call, at=at, ret=ret, client=draw(st.integers(0, 2)),
                          fate=draw(st.sampled_from(["ok"] * 8 + ["fail", "indeterminate"])),
                          applied=draw(st.booleans())))
    replicas = [dict(), dict()]
    versions: dict[int, list] = {}
    pending: list = []  # (time, key, value) writes applied later (duplicated)
    order = sorted(plans, key=lambda p: (p["at"], p["i"]))
    swap = None
    if bug == "reordered":
        writes = [p for p in order if p["f"] == "write"]
        if len(writes) >= 2:
            a, b = draw(st.sampled_from([(x, y) for x in writes for y in writes if x is not y]))
            swap = (a["i"], b["i"], a["v"], b["v"])
    out: list[Operation] = []
    for p in order:
        for t, k, v in [x for x in pending if x[0] <= p["at"]]:
            pending.remove((t, k, v))
            for r in replicas:
                r[k] = v
        rep = replicas[p["client"] % 2] if bug == "split" else replicas[0]
        mirror = bug != "split"
        k = p["key"]
        status = p["fate"]
        effect = status == "ok" or (status == "indeterminate" and p["applied"])
        output = None
        if p["f"] == "read":
            output = rep.get(k)
            if bug == "stale" and versions.get(k) and draw(st.booleans()):
                output = draw(st.sampled_from([None] + versions[k][:-1]))
        elif p["f"] == "write":
            v = p["v"]
            if swap and p["i"] == swap[0]:
                v = swap[3]
            elif swap and p["i"] == swap[1]:
                v = swap[2]
            if effect and not (bug == "lost" and draw(st.booleans())):
                rep[k] = v
                versions.setdefault(k, []).append(v)
                if mirror:
                    replicas[1][k] = v
                if bug == "duplicated":
                    pending.append((p["at"] + draw(st.integers(1, 12)), k, v))
        else:  # cas [old, new]
            hit = rep.get(k) == p["old"]
            output = hit
            if hit and effect:
                rep[k] = p["v"]
                versions.setdefault(k, []).append(p["v"])
                if mirror:
                    replicas[1][k] = p["v"]
        inp = None if p["f"] == "read" else (p["v"] if p["f"] == "write" else (p["old"], p["v"]))
        if status == "indeterminate":
            output = None
        out.append(Operation(p["i"], p["f"], inp, output, p["call"], p["ret"], status, k,
                             f"c{p['client']}"))
    out.sort(key=lambda o: o.id)
    return bug, out


@st.composite
def model_history(draw, model_name: str, max_ops: int = 7) -> list[Operation]:
    """Operations of a counter, set or queue with outputs drawn near the right ones: the
    correct output of a random serial order, sometimes perturbed."""
    n = draw(st.integers(1, max_ops))
    ops = []
    state: object = {"counter": 0, "set": frozenset(), "queue": ()}[model_name]
    for i in range(n):
        call = draw(st.integers(0, 10))
        ret = call + draw(st.integers(0, 5))
        x = draw(st.integers(0, 2))
        if model_name == "counter":
            f = draw(st.sampled_from(["add", "read"]))
            inp, out = (x, None) if f == "add" else (None, state)
            state = state + x if f == "add" else state
        elif model_name == "set":
            f = draw(st.sampled_from(["add", "remove", "contains", "read"]))
            inp = None if f == "read" else x
            out = {"contains": x in state, "read": tuple(sorted(state))}.get(f)
            state = state | {x} if f == "add" else (state - {x} if f == "remove" else state)
        else:
            f = draw(st.sampled_from(["enqueue", "dequeue"]))
            inp, out = (x, None) if f == "enqueue" else (None, state[0] if state else None)
            state = state + (x,) if f == "enqueue" else state[1:]
        if out is not None or f in ("read", "dequeue"):
            if draw(st.integers(0, 4)) == 0:  # a wrong answer now and then
                out = {"counter": x, "set": (x,), "queue": x}[model_name] if f in (
                    "read", "dequeue") else (not out)
        status = draw(st.sampled_from(["ok"] * 5 + ["indeterminate", "fail"]))
        ops.append(Operation(i, f, inp, None if status == "indeterminate" else out, call, ret,
                             status, None, ""))
    return ops
