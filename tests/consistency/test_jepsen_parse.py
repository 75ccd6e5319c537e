"""The Jepsen history readers (tracelogic.consistency.jepsen): exact readings of each line
shape, and a seeded fuzz run: any text gives operations or an InputError naming the line,
never another exception. TRACELOGIC_LONG=1 runs 100 times as many cases."""
from __future__ import annotations

import json
import os
import random

import pytest

from tracelogic.consistency import check, model
from tracelogic.consistency.jepsen import parse_etcd, parse_kv, to_otlp_json
from tracelogic.consistency.spans import operations
from tracelogic.errors import InputError
from tracelogic.ingest.otlp import read_bytes

LONG = os.environ.get("TRACELOGIC_LONG", "") not in ("", "0")

ETCD = """\
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:fail\t:cas\t[1 4]
some setup chatter
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:ok\t:read\t1
INFO  jepsen.util - 3\t:invoke\t:write\t2
INFO  jepsen.util - 3\t:info\t:write\t:timed-out
INFO  jepsen.util - 4\t:invoke\t:read\tnil
INFO  jepsen.util - 4\t:fail\t:read\t:timed-out
INFO  jepsen.util - 5\t:invoke\t:cas\t[2 3]
"""


def test_etcd_lines_mean_what_porcupines_tests_say():
    ops = parse_etcd(ETCD)
    assert [(o.f, o.input, o.output, o.status, o.client) for o in ops] == [
        ("write", 1, None, "ok", "0"), ("cas", (1, 4), False, "ok", "1"),
        ("read", None, 1, "ok", "2"), ("write", 2, None, "indeterminate", "3"),
        ("read", None, None, "indeterminate", "4"), ("cas", (2, 3), None, "indeterminate", "5")]
    # the failed cas overlapped the write: it must be ordered before it
    assert check(model("cas-register"), ops).verdict == "satisfied"


def test_kv_lines_and_the_otlp_round_trip():
    text = ('{:process 1, :type :invoke, :f :put, :key "a", :value "x"}\n'
            '{:process 1, :type :ok, :f :put, :key "a", :value "x"}\n'
            '{:process 2, :type :invoke, :f :append, :key "a", :value "y"}\n'
            '{:process 2, :type :ok, :f :append, :key "a", :value "y"}\n'
            '{:process 3, :type :invoke, :f :get, :key "a", :value nil}\n'
            '{:process 3, :type :ok, :f :get, :key "a", :value "x"}\n')
    ops = parse_kv(text)
    assert [(o.f, o.key, o.input, o.output) for o in ops] == [
        ("put", "a", "x", None), ("append", "a", "y", None), ("get", "a", None, "x")]
    doc = json.dumps(to_otlp_json(ops, history="t")).encode()
    back = operations(read_bytes(doc, source="t.json").spans)
    assert [(o.f, o.key, o.input, o.output, o.call, o.ret, o.status) for o in back] == \
        [(o.f, o.key, o.input, o.output, o.call, o.ret, o.status) for o in ops]
    r = check(model("kv", init=""), back)
    assert r.verdict == "violated"  # "xy" was appended before the read of "x"


@pytest.mark.parametrize("text, where", [
    ("INFO  jepsen.util - 1\t:ok\t:write\t1\n", "line 1"),
    ("INFO  jepsen.util - 1\t:invoke\t:cas\t[1]\n", "line 1"),
    ("INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\n",
     "line 2"),
    ("INFO  jepsen.util - 1\t:invoke\t:write\t1\nINFO  jepsen.util - 1\t:ok\t:read\tx\n",
     "line 2"),
])
def test_malformed_etcd_histories_name_the_line(text, where):
    with pytest.raises(InputError, match=where):
        parse_etcd(text)


PIECES = ["INFO  jepsen.util - ", "0", "1", "\t", " ", ":invoke", ":ok", ":fail", ":info",
          ":read", ":write", ":cas", "nil", "[1 2]", "[", "]", "3", "-", "\n", ":timed-out",
          '{:process 1, :type :invoke, :f :get, :key "a", :value nil}',
          '{:process 1, :type :ok, :f :get, :key "a", :value "x"}', '"', "é", "\x00"]


@pytest.mark.parametrize("parse", [parse_etcd, parse_kv])
def test_fuzz_any_text_parses_or_names_the_line(parse):
    rng = random.Random(18)
    for _ in range(30_000 if LONG else 300):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))
        try:
            ops = parse(text)
        except InputError as e:
            assert str(e).startswith("line ")
            continue
        for o in ops:
            assert o.status in ("ok", "fail", "indeterminate")
        check(model("cas-register" if parse is parse_etcd else "kv"), ops)
