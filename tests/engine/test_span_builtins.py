"""Built-in functions in span predicates (issue 15, bug a): `check` accepted
`clamp(duration, …)` and `monitor` stopped with "`call` cannot be evaluated on a span".
Span predicates call the same functions as config invariants and model checks
(``values.arith.BUILTINS``); the native plan leaves such properties to the Python
engine, with the reason."""
from __future__ import annotations

import io
import json
import math

import pytest

import tracelogic
from tracelogic.values.arith import BUILTINS
from tracelogic.cli import run
from tracelogic.engine.monitor import Monitor
from tracelogic.values.dynamic import builtin
from tracelogic.ingest.otlp import spans_to_request
from tracelogic.ingest.spans import MISSING, Span

MS = 1_000_000
SPEC = """
property low: G (clamp(duration, 10s, 0s) == 10s)
property small: G (abs(attr["x"]) <= 2)
property rounds: G (ceil(attr["f"]) == floor(attr["f"]) + 1 | attr["f"] == 2.0)
property keyed per attr["k"]: G (name == "a" -> F (abs(attr["x"] - 1) < 1))
"""
ROWS = [({"x": -3, "f": 1.5, "k": "a"}, 5), ({"x": "s", "f": 2.0, "k": "a"}, 20 * 10**9),
        ({"x": 1, "f": float("inf"), "k": "b"}, 1), ({"x": 1.5, "k": "b"}, 3)]


def _data() -> bytes:
    spans = [Span(name="ab"[i % 2], trace_id=f"{i + 1:032x}", span_id=f"{i + 1:016x}",
                  parent_id="", start_ns=(1000 + i) * MS, end_ns=(1000 + i) * MS + d,
                  kind="server", status="unset", service="s", attrs=a, resource={})
             for i, (a, d) in enumerate(ROWS)]
    return spans_to_request(spans).SerializeToString()


def _results(engine: str):
    mon = Monitor(tracelogic.load(SPEC), engine=engine)
    mon.feed_otlp(_data())
    rep = mon.close()
    return mon, {p.name: dict(p.results) for p in rep.properties}, rep.to_json()


def test_built_ins_evaluate_on_spans_as_documented():
    _, got, _ = _results("python")
    t = [f"{i:032x}" for i in range(1, 5)]
    # 5ns is below lo (10s); 20s is above hi (0s): crossed bounds are not reordered
    assert got["low"] == {t[0]: "satisfied", t[1]: "violated", t[2]: "satisfied",
                          t[3]: "satisfied"}
    # abs(-3) > 2; "s" is not a number: no value, the comparison is false
    assert got["small"] == {t[0]: "violated", t[1]: "violated", t[2]: "satisfied",
                            t[3]: "satisfied"}
    # ceil(inf) has no value; a missing attribute neither
    assert got["rounds"] == {t[0]: "satisfied", t[1]: "satisfied", t[2]: "violated",
                             t[3]: "violated"}
    assert got["keyed"] == {"a": "violated", "b": "satisfied"}


def test_both_engines_agree_and_the_native_plan_says_why_it_falls_back():
    mon, native, native_json = _results("native")
    _, python, python_json = _results("python")
    assert native == python and native_json == python_json
    assert set(mon.engines.values()) == {"python"}
    assert "built-in function `clamp`" in str(mon.engine_plan["low"])


@pytest.mark.parametrize("name, args, want", [
    ("clamp", (5, 10, 0), 10), ("clamp", (15, 10, 0), 0), ("clamp", (5, 0, 10), 5),
    ("abs", (-2.5,), 2.5), ("ceil", (1.2,), 2), ("floor", (-1.2,), -2),
    ("abs", ("1",), MISSING), ("abs", (True,), MISSING), ("clamp", (1, MISSING, 2), MISSING),
    ("ceil", (math.inf,), MISSING), ("floor", (math.nan,), MISSING),
])
def test_one_definition_of_each_built_in(name, args, want):
    got = builtin(name)(*args)
    assert got is want if want is MISSING else got == want
    if want is not MISSING:
        assert got == BUILTINS[name](*args)


def test_monitor_cli_accepts_what_check_accepts(tmp_path):
    (tmp_path / "b.spec").write_text(SPEC)
    (tmp_path / "t.binpb").write_bytes(_data())
    out, err = io.StringIO(), io.StringIO()
    assert run(["check", str(tmp_path / "b.spec")], out, err) == 0, err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", "--format", "json", str(tmp_path / "b.spec"),
                str(tmp_path / "t.binpb")], out, err)
    assert code == 1, err.getvalue()          # violations, not exit 2
    assert "cannot be evaluated" not in err.getvalue()
    assert {p["name"] for p in json.loads(out.getvalue())["properties"]} == \
        {"low", "small", "rounds", "keyed"}


def test_a_mismatch_in_a_call_is_labelled_with_the_call():
    mon = Monitor(tracelogic.load('property p: G (abs(attr["x"]) == attr["y"])\n'))
    mon.feed_otlp(spans_to_request([Span(
        name="a", trace_id="1" * 32, span_id="1" * 16, parent_id="", start_ns=1, end_ns=2,
        kind="server", status="unset", service="s", attrs={"x": -1, "y": "1"},
        resource={})]).SerializeToString())
    [w] = mon.close().warnings
    assert w.startswith('`abs(attr["x"]) == attr["y"]` was false 2 time(s)'), w
