"""Benchmark: serve's window-by-window linearizability checking
(tracelogic.consistency.stream) against one whole-history check of the same spans.

A correct, atomic register store: 8 clients issue 20,000 reads and writes back to back
on 100 keys. The stream gets the spans in end order, 100 per batch, with the watermark
at the batch's last end minus a lateness of 500 ns, polled after every batch, as serve's
engine thread does. The whole-history side is `check(model("register"), operations(spans))`.
Both times include turning spans into operations. The ratio is windows / whole.

    PYTHONPATH=src python bench/bench_consistency_serve.py
"""
import random, time
import tracelogic
from tracelogic.consistency import check, model
from tracelogic.consistency.spans import operations
from tracelogic.consistency.stream import ConsistencyStream
from tracelogic.ingest.spans import Span

rng = random.Random(7)
N, KEYS, CLIENTS = 20000, 100, 8
spans = []; t = [0] * CLIENTS; state = {}
# clients issue operations back to back on random keys; the store is atomic (correct)
events = []
for i in range(N):
    c = i % CLIENTS
    start = t[c] + rng.randint(1, 50); end = start + rng.randint(1, 100); t[c] = end
    k = f"k{rng.randrange(KEYS)}"
    events.append((start + rng.randint(0, end - start), i, c, k, start, end))
events.sort()
for at, i, c, k, start, end in events:
    if rng.random() < 0.5:
        v = i; state[k] = v
        attrs = {"db.operation.name": "write", "consistency.key": k, "consistency.input": v}
    else:
        attrs = {"db.operation.name": "read", "consistency.key": k}
        if state.get(k) is not None: attrs["consistency.output"] = state[k]
    spans.append(Span(name="op", trace_id="%032x" % (i + 1), span_id="%016x" % (i + 1),
                      start_ns=start, end_ns=end, status="unset", attrs=attrs,
                      resource={"service.instance.id": f"c{c}"}))
spans.sort(key=lambda s: s.end_ns)
spec = tracelogic.load("consistency c: linearizable register\n")
t0 = time.perf_counter()
r = check(model("register"), operations(spans))
whole = time.perf_counter() - t0
wall = [0]
cs = ConsistencyStream(spec, lateness_ns=500, wall=lambda: wall[0], poll_ns=0)
t0 = time.perf_counter()
for j in range(0, len(spans), 100):
    batch = spans[j:j + 100]
    cs.ingest(batch)
    wall[0] = batch[-1].end_ns
    cs.poll()
cs.finish()
inc = time.perf_counter() - t0
print(f"{N} ops, {KEYS} keys: whole {r.verdict} {whole:.2f}s; windows {cs.verdict_counts()} "
      f"{inc:.2f}s ({cs.windows} windows); ratio {inc / whole:.2f}")
