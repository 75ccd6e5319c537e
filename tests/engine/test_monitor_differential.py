"""Differential: the compiled monitor against the reference evaluator.

Hypothesis generates span trees (names from a small pool, kinds, statuses,
attributes that are missing, malformed or of the wrong type, parent/child
structure with missing parents, equal timestamps, zero and negative durations,
children starting before their parents, links across traces) and specs of
temporal properties (span predicates incl. structure and start/end, metric
bounds, past operators, Dwyer patterns, registers; per-trace, per-attribute,
per-service and global scopes). For every instance the monitor's verdict must
equal the reference evaluator's verdict on the event word, with atoms from the
independent interpreter in test_monitor_oracle.py.

Partial traces (a parent never arrived): a final verdict must still equal the
reference; an undecided one must be `inconclusive`.

TRACELOGIC_LONG=1 runs many more examples.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracelogic
from tracelogic.engine.compiled import cross_trace_refusal
from tracelogic.semantics.lower import lower
from tracelogic.engine.monitor import Monitor
from tracelogic.logic.printers import UnsupportedFormula
from tracelogic.ingest.spans import InvalidValue, Span

from .test_monitor_oracle import expected, prefix_verdict

LONG = bool(os.environ.get("TRACELOGIC_LONG"))
MS = 1_000_000

# ----------------------------------------------------------------- spans

_X = st.one_of(st.none(), st.integers(0, 4), st.just(1.5), st.just("s"), st.just(True),
               st.just(InvalidValue("12x", "not an integer")))
_FLAG = st.sampled_from([None, True, False, "yes", 1])
_KEY = st.sampled_from([None, "o1", "o2", 7, True, InvalidValue("x", "malformed")])


@st.composite
def span_trees(draw):
    """Spans of 1-3 traces. Ids are drawn so that span-id tie-breaks vary."""
    spans: list[Span] = []
    n_traces = draw(st.integers(1, 3))
    plan = []
    for t in range(n_traces):
        n = draw(st.integers(1, 6))
        ids = draw(st.permutations(range(1, 17)))[:n]
        tid = f"{t + 1:032x}"
        for i in range(n):
            parent = draw(st.sampled_from(["root", "missing"] + ["p"] * 4) if i else
                          st.sampled_from(["root"] * 6 + ["missing"]))
            pid = ""
            if parent == "p":
                pid = f"{ids[draw(st.integers(0, i - 1))]:016x}"
            elif parent == "missing":
                pid = "ffffffffffffffff"
            start = draw(st.integers(0, 12)) * MS
            dur = draw(st.sampled_from([0, 0, 1, 2, 3, 5, -1])) * MS
            attrs = {}
            for key, strat in (("x", _X), ("flag", _FLAG), ("k", _KEY)):
                v = draw(strat)
                if v is not None:
                    attrs[key] = v
            resource = {"k": "o1"} if draw(st.integers(0, 5)) == 0 else {}
            plan.append(dict(
                name=draw(st.sampled_from("abc")), trace_id=tid, span_id=f"{ids[i]:016x}",
                parent_id=pid, start_ns=start, end_ns=start + dur,
                kind=draw(st.sampled_from(["server", "client", "internal"])),
                status=draw(st.sampled_from(["unset", "ok", "error"])),
                service=draw(st.sampled_from(["s1", "s2", ""])), attrs=attrs,
                resource=resource,
                event_names=("exception",) if draw(st.integers(0, 3)) == 0 else ()))
    all_ids = [(p["trace_id"], p["span_id"]) for p in plan]
    for p in plan:
        if draw(st.integers(0, 4)) == 0:
            p["links"] = [draw(st.sampled_from(all_ids))]
        spans.append(Span(**p))
    return draw(st.permutations(spans))   # arrival order must not matter


# ----------------------------------------------------------------- properties

ATOMS = [
    'name == "a"', 'name == "b"', 'name != "c"', "start", "end", "status == error",
    "kind == server", "is_root", 'attr["x"] > 2', 'attr["x"] == "s"', 'attr["x"] exists',
    'attr["flag"]', 'attr["flag"] == true', "duration > 1ms", "duration == 0ms",
    'parent.name == "a"', 'has_child(name == "b")', "has_ancestor(status == error)",
    'attr["x"] in 1..3', 'name matches r"^[ab]$"', 'attr["x"] + 1 >= 3', 'service == "s1"',
    'has_event("exception")', 'parent.attr["x"] >= 1', 'attr["x"] in [1, 3]',
    'linked(name == "a")', "attr[\"x\"] * 2 != 4", 'parent.is_root', 'attr["x"] // 2 == 1',
    '-attr["x"] < -1', 'name startswith "b"', "has_ancestor(parent.name == \"b\")",
]

atoms = st.sampled_from(ATOMS)
preds = st.one_of(
    atoms,
    st.builds(lambda a: f"!{a}" if " " not in a else f"!({a})", atoms),
    st.builds(lambda a, b: f"({a} & {b})", atoms, atoms),
    st.builds(lambda a, b: f"({a} | {b})", atoms, atoms),
)


@st.composite
def intervals(draw):
    k = draw(st.integers(0, 3))
    if k == 0:
        return ""
    lo, hi = sorted((draw(st.integers(0, 6)), draw(st.integers(0, 6))))
    return [f"[<= {hi}ms]", f"[{lo}ms, {hi}ms]", f"[>= {lo}ms]"][k - 1]


def _operators(unary_ops, binary_ops):
    """Formula extension over ``children`` with the given operators (and optional bounds)."""
    def extend(children):
        @st.composite
        def unary(draw):
            op = draw(st.sampled_from(unary_ops))
            iv = draw(intervals()) if op in ("F", "G", "O", "H") else ""
            return f"{op}{iv} ({draw(children)})"

        @st.composite
        def binary(draw):
            op = draw(st.sampled_from(binary_ops))
            iv = draw(intervals()) if op in ("U", "W", "R", "M", "S") else ""
            return f"({draw(children)}) {op}{iv} ({draw(children)})"
        return st.one_of(unary(), binary())
    return extend


past_formulas = st.recursive(preds, _operators(["Y", "O", "H", "!"], ["S", "&", "|"]),
                             max_leaves=3)
# past operators over future ones too (issue 15): `H (F p)`, `O[<= 2ms] (G p)`, `Y X p`
past_over_future = st.recursive(preds, _operators(["Y", "O", "H", "X", "F", "G", "!"],
                                                  ["S", "U", "&", "|"]), max_leaves=3)
formulas = st.recursive(st.one_of(preds, past_formulas, past_over_future),
                        _operators(["X", "WX", "F", "G", "!"], ["U", "W", "R", "M", "&", "|",
                                                               "->"]),
                        max_leaves=4)


@st.composite
def shaped(draw):
    """The shapes people write: response with deadlines, precedence, patterns."""
    p, q, r = draw(preds), draw(preds), draw(preds)
    d = draw(st.integers(0, 5))
    scope = draw(st.sampled_from(["", f" before({r})", f" after({r})",
                                  f" between({r}, {q})", f" after_until({r}, {q})"]))
    return draw(st.sampled_from([
        f"G ({p} -> F[<= {d}ms] ({q}))",
        f"G ({p} & start -> F ({q} & end))",
        f"G ({p} -> WX G !({q}))",
        f"!({p}) W ({q})",
        f"G ({p} -> O[<= {d}ms] ({q}))",
        f"absence({p}){scope}", f"existence({p}){scope}", f"universality({p}){scope}",
        f"precedence({p}, {q}){scope}", f"response({p}, {q}){scope}",
        f"response({p}, {q}, within {d}ms){scope}",
    ]))


@st.composite
def with_registers(draw):
    p = draw(preds)
    default = draw(st.sampled_from(["0", "-1", "2.5"]))
    return draw(st.sampled_from([
        'G (attr["x"] >= prev(attr["x"]))',
        f'G ({p} -> attr["x"] >= last(attr["x"] where {draw(preds)}, {default}))',
        'F (attr["x"] != prev(attr["x"]))',
        "G (name == prev(name) | start)",
        f'G (end -> duration >= last(duration where {p}, 0ms))',
        f'({p}) U (attr["x"] > prev(attr["x"]))',
    ]))


scopes = st.sampled_from(["", "", ' per attr["k"]', " per service", " global"])


@st.composite
def specs(draw):
    n = draw(st.integers(1, 3))
    lines = []
    for i in range(n):
        body = draw(st.one_of(formulas, shaped(), with_registers()))
        lines.append(f"property p{i}{draw(scopes)}:\n  {body}\n")
    return "".join(lines)


# ----------------------------------------------------------------- the check

def refused(text: str) -> str:
    """``text`` without the properties that are refused by design: a past operator over
    a future one with time bounds in a cross-trace scope (docs/automata.md). Their refusal
    must name the offending subformula in spec syntax."""
    spec = tracelogic.load(text)
    keep = []
    for prop, block in zip(spec.properties, text.split("property ")[1:]):
        f = lower(prop.body).formula if prop.kind == "formula" else None
        why = cross_trace_refusal(prop, f) if f is not None and prop.scope != "trace" \
            else None
        if why is None:
            keep.append("property " + block)
            continue
        assert "TExpr" not in str(why) and "puts a past operator" in str(why), str(why)
        try:
            Monitor(tracelogic.load("property " + block))
        except UnsupportedFormula as e:
            assert str(e) == str(why)
        else:
            raise AssertionError(f"not refused: {block}")
    return "".join(keep)


def check(text: str, spans: list[Span]) -> None:
    text = refused(text)
    if not text:
        return
    spec = tracelogic.load(text)
    mon = Monitor(spec)
    mon.feed(spans)
    report = mon.close().to_json()
    got = {p["name"]: {r["key"]: r["verdict"] for r in p["results"]}
           for p in report["properties"]}
    vacuous = {p["name"]: p["vacuous"] for p in report["properties"]}
    violations = {(v["property"], v["key"]): v for v in report["violations"]}
    for prop in spec.properties:
        want = expected(prop, spans)
        assert set(got[prop.name]) == set(want), (prop.name, "instances")
        n_vacuous = 0
        for key, exp in want.items():
            verdict = got[prop.name][key]
            where = f"{prop.name} key {key}: monitor {verdict}, reference {exp.verdict}"
            if exp.partial and verdict == "inconclusive":
                continue  # undecided on a partial trace
            assert verdict == exp.verdict, where
            n_vacuous += exp.vacuous
            if verdict == "violated":
                v = violations[(prop.name, key)]
                assert v["span_ids"], where + ": a violation needs a witness"
                evs = [(e.span.trace_id, e.span.span_id, e.kind, e.time_ns)
                       for e in exp.events]
                last = v["events"][-1]
                k = evs.index((last["trace_id"], last["span_id"], last["event"],
                               last["time_unix_nano"]))
                # the last witness event decided it: the word cut there is violated too
                assert not prefix_verdict(prop, exp, k), where + f": cut at event {k}"
        if not any(e.partial for e in want.values()):
            assert vacuous[prop.name] == n_vacuous, (prop.name, "vacuous")


_settings = settings(max_examples=3000 if LONG else 400, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.data_too_large])


@_settings
@given(specs(), span_trees())
def test_monitor_matches_reference(text, spans):
    check(text, spans)


@_settings
@given(st.lists(shaped(), min_size=1, max_size=3), scopes, span_trees())
def test_patterns_and_shapes_match_reference(bodies, scope, spans):
    text = "".join(f"property p{i}{scope}:\n  {b}\n" for i, b in enumerate(bodies))
    check(text, spans)


# ----------------------------------------------------------------- --partial-traces=ignore

def check_partial_ignored(text: str, spans: list[Span]) -> None:
    """`partial_traces="ignore"` leaves out exactly the instances the default reports
    `inconclusive` only because they saw a partial trace (counted as
    `inconclusive_partial`), counts them as `ignored_partial`, and changes nothing else."""
    spec = tracelogic.load(text)
    docs = {}
    for mode in ("inconclusive", "ignore"):
        mon = Monitor(spec, partial_traces=mode)
        mon.feed(spans)
        docs[mode] = mon.close().to_json()
    default, ignored = docs["inconclusive"], docs["ignore"]
    assert default["violations"] == ignored["violations"]
    total = 0
    for prop, d, i in zip(spec.properties, default["properties"], ignored["properties"]):
        left_out = ({r["key"] for r in d["results"]} - {r["key"] for r in i["results"]})
        n = d.get("inconclusive_partial", 0)
        assert n == i.get("ignored_partial", 0) == len(left_out), prop.name
        assert "ignored_partial" not in d and "inconclusive_partial" not in i
        assert [r for r in d["results"] if r["key"] not in left_out] == i["results"]
        assert all(r["verdict"] == "inconclusive" for r in d["results"] if r["key"] in left_out)
        want = expected(prop, spans)  # the reference: only instances with a partial trace
        assert all(want[k].partial for k in left_out), prop.name
        assert i["instances"] == d["instances"] - n and i["vacuous"] == d["vacuous"]
        total += n
    assert ignored["summary"].get("ignored_partial", 0) == total
    assert {k: v for k, v in ignored["summary"].items() if k not in ("instances",
                                                                    "ignored_partial")} == \
        {k: v for k, v in default["summary"].items() if k != "instances"}


@settings(max_examples=1000 if LONG else 100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(), span_trees())
def test_ignoring_partial_traces_leaves_out_only_their_undecided_instances(text, spans):
    check_partial_ignored(text, spans)
