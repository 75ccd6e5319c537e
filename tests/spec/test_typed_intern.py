"""The typed expression is interned (issue 14, item 1): one object per structure.

Equality is identity and the hash is the node's id, so comparing or hashing an
expression costs the same at any size; flags are computed once, at construction.
"""
from __future__ import annotations

import pickle

import pytest

import tracelogic
from tracelogic.engine.monitor import Monitor
from tracelogic.errors import UnhandledNode
from tracelogic.spec import types as T
from tracelogic.spec.typed import TExpr, get_texpr_manager
from tracelogic.spec.walker import TExprWalker, chain, show


def name_is(v: str) -> TExpr:
    return TExpr("cmp", (TExpr("field", type=T.STRING, payload=((), "name")),
                         TExpr("lit", type=T.STRING, payload=v)), T.BOOL, "==")


def test_structurally_equal_expressions_are_the_same_object():
    a = TExpr("and", (name_is("a"), name_is("b")))
    b = TExpr("and", (name_is("a"), name_is("b")))
    assert a is b and a == b and hash(a) == a.id
    c = TExpr("and", (name_is("b"), name_is("a")))
    assert c is not a and c != a and hash(c) != hash(a)


def test_two_loads_share_their_expressions():
    text = 'property p: G (name == "a" -> F[<= 1s] end)\n'
    one, two = tracelogic.load(text), tracelogic.load(text)
    assert one.properties[0].body is two.properties[0].body


def test_literals_of_equal_python_values_stay_apart():
    """`1`, `true` and `1.0` are equal in Python; they are three literals here."""
    one = TExpr("lit", type=T.INT, payload=1)
    true = TExpr("lit", type=T.INT, payload=True)
    real = TExpr("lit", type=T.INT, payload=1.0)
    assert len({one.id, true.id, real.id}) == 3


def test_the_span_takes_no_part_in_identity():
    from tracelogic.errors import SourceSpan

    here = SourceSpan("x.spec", 3, 4, 3, 9)
    a = TExpr("lit", type=T.STRING, payload="span-test", span=here)
    assert TExpr("lit", type=T.STRING, payload="span-test") is a
    assert a.replace(span=SourceSpan("x.spec", 9, 1, 9, 2)) is a
    assert a.replace(payload="other") is not a


def test_nodes_are_immutable_and_pickle_to_themselves():
    e = TExpr("not", (name_is("a"),))
    with pytest.raises(AttributeError):
        e.op = "and"
    assert pickle.loads(pickle.dumps(e)) is e


def test_flags_are_cached_at_construction():
    leaf = name_is("a")
    g = TExpr("G", (TExpr("and", (leaf, TExpr("prev", (leaf,), T.BOOL))),), T.BOOL)
    assert not leaf.is_temporal and g.is_temporal
    assert g.has_registers and not leaf.has_registers
    assert g.size == 1 + 1 + leaf.size + 1 + leaf.size
    assert g.depth == 1 + 1 + 1 + leaf.depth
    assert g.reads == {("field", (), "name")}


def test_the_table_drops_expressions_nobody_holds():
    manager = get_texpr_manager()
    before = len(manager)
    e = TExpr("lit", type=T.STRING, payload="only-here-" * 3)
    assert len(manager) == before + 1
    del e
    assert len(manager) == before


class _Count(TExprWalker):
    def pre(self, node):
        return 1 if node.op == "cmp" else self.PASS

    def walk_and(self, node, args):
        return sum(args)

    walk_or = walk_and


def test_the_walker_is_iterative_and_memoised():
    e = name_is("s0")
    for i in range(1, 50_000):  # far beyond the recursion limit
        e = TExpr("or" if i % 2 else "and", (e, name_is(f"s{i % 7}")))
    assert _Count().walk(e) == 50_000
    walker = _Count()
    shared = TExpr("and", (e, e))
    assert walker.walk(shared) == 100_000
    assert walker.memo[e] == 50_000  # the shared child was walked once


def test_an_operator_without_a_handler_is_an_unhandled_node_in_spec_syntax():
    with pytest.raises(UnhandledNode) as err:
        _Count().walk(TExpr("not", (name_is("a"),)))
    assert 'walk_not for `!name == "a"`' in str(err.value)
    assert "TExpr(" not in str(err.value)


def test_show_and_repr_print_spec_syntax_at_any_depth():
    e = name_is("a")
    for _ in range(20_000):
        e = TExpr("not", (e,))
    assert show(e) == "!" * 20_000 + 'name == "a"'
    assert repr(name_is("a")) == '<TExpr cmp: name == "a">'
    assert chain(TExpr("or", (TExpr("or", (name_is("a"), name_is("b"))), name_is("c")))) == \
        [name_is("a"), name_is("b"), name_is("c")]


SPEC = ('pred c = name == "checkout"\n'
        'property answered "every checkout completes": G (c & start -> F[<= 2s] (c & end))\n'
        'property bounded severity warning: response(c, end, within 3s) between(start, end)\n')


def test_a_property_repr_names_its_fields_with_the_formula_in_spec_syntax():
    spec = tracelogic.load(SPEC)
    answered, bounded = spec.properties
    assert repr(answered) == ("PropertyT('answered', 'formula', body='G ((c & start) -> "
                              "F[<= 2s] (c & end))', description='every checkout completes', "
                              "module='<spec>')")
    assert repr(bounded).startswith("PropertyT('bounded', 'formula', body='response(c, end, within "
                                 "3s) between(start, end)', severity='warning'")
    # the body in the repr is spec syntax that loads back to the very same expression
    again = tracelogic.load(f"pred c = name == \"checkout\"\nproperty a: {answered.body}\n")
    assert again.properties[0].body is answered.body


def test_a_monitor_repr_is_the_call_that_builds_it(tmp_path):
    path = tmp_path / "shop.spec"
    path.write_text(SPEC, encoding="utf-8")
    spec = tracelogic.load(str(path))
    assert repr(Monitor(spec)) == f"Monitor(tracelogic.load({str(path)!r}))"
    mon = Monitor(spec, engine="python", properties=["answered"], lateness_ns=5)
    assert repr(mon) == (f"Monitor(tracelogic.load({str(path)!r}), properties=['answered'], "
                         "lateness_ns=5, engine='python')")


def test_the_repr_of_a_spec_given_as_text_loads_it_again():
    spec = tracelogic.load(SPEC)
    again = eval(repr(spec), {"tracelogic": tracelogic})
    assert [p.body for p in again.properties] == [p.body for p in spec.properties]
    assert all(a.body is b.body for a, b in zip(again.properties, spec.properties))
    mon = eval(repr(Monitor(spec, engine="python")), {"tracelogic": tracelogic, "Monitor": Monitor})
    assert repr(mon) == repr(Monitor(spec, engine="python"))
