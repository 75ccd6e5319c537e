"""Resolution and typing: what the typed Spec says about well-formed specs."""
from __future__ import annotations


import pytest

from tracelogic.spec import types as T
from tracelogic.spec.diagnostics import SpecErrors
from tracelogic.spec.loader import load


def all_nodes(roots):
    """Every AST node under `roots` (compared dataclass fields, iteratively)."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        if not hasattr(node, "__dataclass_fields__"):
            continue
        yield node
        for name, f in node.__dataclass_fields__.items():
            if not f.compare:
                continue
            value = getattr(node, name)
            if isinstance(value, tuple):
                stack.extend(v for v in value if hasattr(v, "__dataclass_fields__")
                             or isinstance(v, tuple))
                for v in value:
                    if isinstance(v, tuple):
                        stack.extend(v)
            else:
                stack.append(value)


def errors(text: str) -> list[str]:
    with pytest.raises(SpecErrors) as info:
        load(text, filename="t.spec")
    return [f"{d.message} (hint: {d.hint})" for d in info.value.diagnostics
            if d.severity == "error"]


def test_enum_members_resolve_against_the_compared_field():
    spec = load('pred p = kind == server and status == error', filename="t.spec")
    body = spec.preds["p"].typed.args[0]
    kinds = [n for n in body.walk() if n.op == "enum"]
    assert {n.payload for n in kinds} == {("span kind", "server"), ("span status", "error")}


def test_user_enum_members_and_model_scope():
    spec = load(open("examples/language/models.spec").read(), filename="m.spec")
    model = spec.models["breaker"]
    assert [v[0] for v in model.vars] == ["state", "fails"]
    assert model.vars[0][2].payload == ("Breaker", "closed")
    inv = next(c for c in spec.checks if c.kind == "invariant")
    names = {n.payload for n in inv.body.walk() if n.op in ("var", "lit")}
    assert ("model", "fails") in names and 5 in names  # the model's const is in scope


def test_chained_comparisons_split_into_a_conjunction():
    spec = load("theorem t: forall x: 1..5 : 0 <= x <= 9", filename="t.spec")
    body = spec.theorems[0].body
    assert body.op == "and"
    assert [a.payload for a in body.args] == ["<=", "<="]


def test_parameterised_predicates_expand_with_a_readable_name():
    spec = load('pred op(n) = name == n\nproperty p: G !op("charge")', filename="t.spec")
    preds = [n for n in spec.properties[0].body.walk() if n.op == "pred"]
    assert preds[0].payload == 'op("charge")'
    cmp = preds[0].args[0]
    assert cmp.args[1].payload == "charge"


@pytest.mark.parametrize("expr, typ", [
    ("timeout * (retries + 1)", T.DURATION), ("timeout / 2", T.DURATION),
    ("timeout / timeout", T.REAL), ("timeout // timeout", T.INT), ("timeout % 3s", T.DURATION),
    ("mem + 1Gi", T.BYTES), ("retries // 2", T.INT), ("retries / 2", T.REAL),
    ("retries + 0.5", T.REAL), ("abs(retries - 9)", T.INT), ("ceil(retries / 2)", T.INT),
    ("max(timeout, 1s)", T.DURATION), ("clamp(retries, 1, 3)", T.INT),
])
def test_unit_arithmetic(expr, typ):
    spec = load(f"theorem t: forall timeout: 1s..10s, retries: 0..5, mem: 1Mi..1Gi :"
                f" {expr} == {expr}", filename="t.spec")
    assert T.base(spec.theorems[0].body.args[0].type) == typ


@pytest.mark.parametrize("expr, words", [
    ("timeout >= 1", "compare a duration with a duration"),
    ("timeout + mem > 1s", "cannot add"),
    ("timeout * timeout > 1s", "cannot multiply"),
    ("retries / 1s > 1", "cannot divide"),
    ("mem > 1s", "cannot compare a bytes with a duration"),
    ("0.5 // 2 > 0", "floor division"),
])
def test_units_never_mix(expr, words):
    msgs = errors(f"theorem t: forall timeout: 1s..10s, retries: 0..5, mem: 1Mi..1Gi : {expr}")
    assert any(words in m for m in msgs), msgs


def test_scopes_and_windows():
    spec = load(open("examples/language/properties.spec").read(), filename="p.spec")
    p = {x.name: x for x in spec.properties}
    assert p["answered"].scope == "trace"
    assert p["no_double_charge"].scope_key.payload == ((), "attr", "order.id")
    assert p["error_budget"].scope_key.payload == ((), "service")
    assert p["error_budget"].window == (60 * 10**9, False)
    assert p["db_latency"].window == (300 * 10**9, True)
    assert p["one_leader_per_term"].kind == "aggregate"
    assert p["resources"].kind == "metric"
    assert p["auth_before_charge"].severity == "critical"
    assert p["auth_before_charge"].owner == "payments"
    g = load("pred a = true\nproperty q global: G a", filename="g.spec").properties[0]
    assert g.scope == "global"


def test_message_placeholders_are_typed():
    spec = load(open("examples/language/properties.spec").read(), filename="p.spec")
    p = spec.property("one_leader_per_term")
    exprs = [x for x in p.message_parts if not isinstance(x, str)]
    assert [e.op for e in exprs] == ["attr", "agg"]
    assert exprs[1].payload == "distinct"
    assert errors('property p message "bad {attr[}": true')


def test_metric_bounds_are_nanoseconds():
    spec = load(open("examples/language/properties.spec").read(), filename="p.spec")
    answered = spec.property("answered").body
    f = next(n for n in answered.walk() if n.op == "F")
    assert f.payload == (0, 2 * 10**9)
    words = spec.property("checkout_words").body
    assert next(n for n in words.walk() if n.op == "F").payload == (0, 2 * 10**9)


def test_imports_aliases_diamonds_and_std(tmp_path):
    (tmp_path / "base.spec").write_text('pred ok = status == ok\nconst slo = 2s\n')
    (tmp_path / "left.spec").write_text('import "base.spec"\npred l = base.ok\n')
    (tmp_path / "right.spec").write_text('import "base.spec" as b\npred r = b.ok\n')
    (tmp_path / "top.spec").write_text(
        'import "left.spec"\nimport "right.spec"\nimport "base.spec"\nimport std.saga\n'
        'property p: G (left.l -> F[<= base.slo] right.r)\n'
        'property q: G (saga.failed_step -> true)\n')
    spec = load(str(tmp_path / "top.spec"))
    assert spec.imports["left"].imports["base"] is spec.imports["base"]  # loaded once
    assert spec.imports["right"].imports["b"] is spec.imports["base"]
    assert "saga" in spec.imports


def test_import_cycle_shows_the_cycle(tmp_path):
    (tmp_path / "a.spec").write_text('import "b.spec"\n')
    (tmp_path / "b.spec").write_text('import "a.spec"\n')
    with pytest.raises(SpecErrors) as info:
        load(str(tmp_path / "a.spec"))
    assert any("import cycle: a.spec -> b.spec -> a.spec" in d.message
               for d in info.value.diagnostics)


def test_workflow_steps_default_to_span_names_and_step_declarations_override():
    spec = load(open("examples/language/workflow.spec").read(), filename="w.spec")
    w = spec.workflows["order"]
    assert set(w.steps) == {"validate", "reserve", "charge", "ship", "cancel", "notify",
                            "release_stock", "refund"}
    assert w.steps["validate"].args[0].args[1].payload == "validate"
    ship = w.steps["ship"].args[0]
    assert ship.op == "and"  # the `step ship = …` predicate, not name == "ship"
    assert w.compensations == (("reserve", "release_stock"), ("charge", "refund"))
    kinds = {p.name: (p.kind, p.target) for p in spec.properties}
    assert kinds == {"order_flow": ("conforms", "order"), "order_saga": ("saga", "order")}


def test_healing_policies():
    spec = load(open("examples/language/healing.spec").read(), filename="h.spec")
    h = {x.name: x for x in spec.heals}
    r = h["restart_checkout"]
    assert (r.on, r.action, r.cooldown_ns, r.limit) == ("answered", "kubernetes.restart",
                                                        300 * 10**9, (3, 3600 * 10**9))
    assert [a[0] for a in r.args] == ["deployment", "namespace"]
    assert r.args[0][1].payload == ((), "service")
    argv = h["record_order"].args[0][1]
    assert argv.op == "list" and argv.args[-1].op == "attr"


def test_config_bindings():
    spec = load(open("examples/language/config.spec").read(), filename="c.spec")
    cfg = spec.configs["deployment"]
    b = {x.name: x for x in cfg.bindings}
    assert b["cpu_req"].default == pytest.approx(0.1) and b["timeout"].default == 30 * 10**9
    assert isinstance(b["replicas"].type, T.RangeType) and b["replicas"].type.hi == 1000
    assert cfg.select.args[0].op == "path"
    cluster = next(i for i in spec.invariants if i.name == "cluster_memory")
    agg = next(n for n in cluster.body.walk() if n.op == "agg")
    assert agg.payload == ("sum", "deployment")


@pytest.mark.parametrize("key", ['parent.name', 'parent.attr["k"]', 'parent.parent.service'])
def test_a_scope_key_read_through_a_parent_is_an_error(key):
    """An event joins an instance by its own span's value (the engines used to crash on
    a parent key: their key functions see one span)."""
    [msg] = errors(f"property p per {key}: G !(name == \"a\")")
    assert "read from the span itself, not its parent" in msg


@pytest.mark.parametrize("key", ['name', 'attr["k"]', 'resource["k"]', 'service'])
def test_scope_keys_of_the_span_itself_load(key):
    spec = load(f"property p per {key}: G !(name == \"a\")", filename="t.spec")
    assert spec.property("p").scope == "key"
