"""Seeded fuzz of the `operation` and `consistency` declarations: mutated declarations
either load or raise a SpecError (never another exception), and a mapping that loads
runs on odd spans without raising. TRACELOGIC_LONG=1 runs 100 times as many cases."""
from __future__ import annotations

import os
import random

import pytest

import tracelogic
from tracelogic.consistency.mapping import compile_mappings
from tracelogic.consistency.spans import operations
from tracelogic.errors import SpecError
from tracelogic.ingest.spans import Span

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")
SEED = ('operation read when name == "GET" key attr["k"] output attr["v"]\n'
        'operation write when name == "PUT" and status == error key attr["k"] '
        'input attr["v"] indeterminate attr["t"] == true client parent.name\n'
        'operation cas when has_ancestor(name == "tx") key attr["k"] input attr["s"] '
        'output attr["ok"]\n'
        'consistency c: linearizable kv\n')
TOKENS = ["operation", "consistency", "when", "key", "input", "output", "client",
          "indeterminate", "linearizable", "sequential", "kv", "register", ":", "==", "and",
          "attr", "[", "]", '"k"', "1", "true", "name", "(", ")", "parent.name", "+", "#",
          "\n", "model", "lock", "status", "error", ".", ",", "duration", "1s"]
SPANS = [Span(name=n, trace_id="%032x" % (i + 1), span_id="%016x" % (i + 1), start_ns=i,
              end_ns=i + 1, status=st, attrs=a)
         for i, (n, st, a) in enumerate([
             ("GET", "unset", {"k": 1, "v": (1, 2)}), ("PUT", "error", {"k": "x", "t": True}),
             ("PUT", "ok", {}), ("GET", "unset", {"k": 1.5})])]


@pytest.mark.timeout(3600 if LONG else 300)
def test_mutated_declarations_load_or_explain():
    rng = random.Random(1818)
    loaded = 0
    for _ in range(20_000 if LONG else 200):
        toks = SEED.split(" ")
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(toks))
            what = rng.random()
            if what < 0.4:
                del toks[i]
            elif what < 0.8:
                toks.insert(i, rng.choice(TOKENS))
            else:
                toks[i] = rng.choice(TOKENS)
        text = " ".join(toks)
        try:
            spec = tracelogic.load(text, filename="fuzz.spec")
        except SpecError:
            continue
        loaded += 1
        for op in operations(SPANS, compile_mappings(spec.operations)):
            assert op.status in ("ok", "fail", "indeterminate")
    assert loaded  # the mutations leave some declarations valid
