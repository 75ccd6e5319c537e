"""Alphabet constraints from the disk cache (automata/alphabet._cached_constraints): the
same as Z3's, cold and warm, over the shipped specs and generated ones; keyed by the
atoms' structure and the encoder; an undecided check is never stored."""
from __future__ import annotations

import os
import random
from fractions import Fraction


from tracelogic import disk_cache
from tracelogic.automata import alphabet as AL
from tracelogic.engine.compiled import CompiledSpec, OpaqueEncoder
from tracelogic.errors import TracelogicError
from tracelogic.logic.walkers import atoms as atoms_of
from tracelogic.semantics.lower import AtomEncoder, lower
from tracelogic.spec.loader import load
from tracelogic.spec.typed import TExpr, structure_text
from tracelogic.spec.types import BOOL, INT, STRING

from tests.spec.loadfuzz import seeds


def _atom_sets(text: str, name: str) -> list[tuple]:
    """The atoms of each temporal property of a spec, in the automata's order."""
    try:
        spec = load(text, filename=name)
    except TracelogicError:
        return []
    out = []
    for p in spec.properties:
        if p.kind != "formula" or p.body is None:
            continue
        try:
            f = lower(p.body).formula
        except TracelogicError:
            continue
        out.append(tuple(sorted(atoms_of(f), key=lambda k: f.manager.Atom(k).id)))
    return out


def _agree(atoms: tuple) -> None:
    for encoder in (AtomEncoder(), OpaqueEncoder()):
        want = AL._constraints(atoms, AtomEncoder() if type(encoder) is AtomEncoder
                               else OpaqueEncoder())
        assert AL._cached_constraints(atoms, encoder) == want  # cold
        assert AL._cached_constraints(atoms, type(encoder)()) == want  # warm


def test_shipped_specs_get_the_same_constraints_from_the_cache(cache):
    n = 0
    for name, text in seeds().items():
        if "import" in text:  # imports read files relative to the seed: skipped
            continue
        for atoms in _atom_sets(text, name):
            if len(atoms) <= 12:
                _agree(atoms)
                n += 1
    assert n > 20
    assert any(x.startswith("alphabet-") for x in os.listdir(cache))


FIELDS = [('name == "{}"', ["a", "b", "c", "POST /x"]), ('service == "{}"', ["api", "db"]),
          ("duration > {}ms", [1, 50, 200]), ("duration <= {}ms", [10, 100]),
          ("kind == {}", ["server", "client"]), ("status == {}", ["error", "ok"]),
          ('attr["k"] == {}', [1, 2]), ("start", [None]), ("end", [None]), ("is_root", [None])]


def _random_atom(rng: random.Random) -> str:
    form, values = rng.choice(FIELDS)
    atom = form.format(rng.choice(values))
    return f"!({atom})" if rng.random() < 0.2 else atom


def test_generated_atoms_get_the_same_constraints_from_the_cache(cache):
    rng = random.Random(5)
    for i in range(40):
        preds = [_random_atom(rng) for _ in range(rng.randint(1, 6))]
        body = " | ".join(f"F ({p})" for p in preds)
        for atoms in _atom_sets(f"property p{i}: {body}\n", f"g{i}.spec"):
            _agree(atoms)


def test_the_compiled_monitors_are_the_same_with_and_without_the_cache(cache, monkeypatch):
    text = seeds()["examples/shop/specs/cascade.spec"] if "examples/shop/specs/cascade.spec" \
        in seeds() else 'pred a = name == "x"\nproperty p: G (a -> F name == "y")\n'

    def tables():
        from tracelogic.automata.construction import clear_cache

        clear_cache()
        cs = CompiledSpec(load(text, filename="s.spec"))
        return [(cp.name, getattr(cp.monitor, "table", None),
                 repr(getattr(cp.monitor, "alphabet", None))) for cp in cs.properties]

    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", "")
    off = tables()
    monkeypatch.setenv("TRACELOGIC_CACHE_DIR", str(cache))
    assert tables() == off  # cold
    assert tables() == off  # warm


def test_an_undecided_check_is_not_stored(cache, monkeypatch):
    atoms = _atom_sets('property p: F (name == "a" & duration > 5ms) | F name == "b"\n',
                       "u.spec")[0]
    real = AL._constraints

    def undecided(atoms, encode):
        AL._UNDECIDED[0] += 1
        return real(atoms, encode)

    monkeypatch.setattr(AL, "_constraints", undecided)
    want = real(atoms, AtomEncoder())
    assert AL._cached_constraints(atoms, AtomEncoder()) == want
    assert not os.path.exists(cache) or not any(
        n.startswith("alphabet-") for n in os.listdir(cache))


def test_a_wrong_shaped_entry_is_ignored(cache):
    atoms = _atom_sets('property p: F name == "a" | F name == "b"\n', "w.spec")[0]
    want = AL._constraints(atoms, AtomEncoder())
    key = f"{disk_cache.fingerprint(AL.CONSTRAINT_SOURCES, ('z3',))}\n" \
          f"{AtomEncoder().cache_key(atoms)}"
    for bad in ("x", ((0,),), (((0, 9), frozenset({1})),), (((0, 1), frozenset({7})),)):
        disk_cache.store("alphabet", key, bad)
        assert AL._cached_constraints(atoms, AtomEncoder()) == want
    disk_cache.store("alphabet", key, ())  # well shaped: believed (the key vouches for it)
    assert AL._cached_constraints(atoms, AtomEncoder()) == ()


def test_an_encoder_defined_elsewhere_is_not_cached(cache):
    class Mine(AtomEncoder):
        pass

    atoms = _atom_sets('property p: F name == "a" | F name == "b"\n', "e.spec")[0]
    assert Mine().cache_key(atoms) is None
    assert AL._cached_constraints(atoms, Mine()) == AL._constraints(atoms, AtomEncoder())
    assert AL._cached_constraints(atoms, lambda a: AtomEncoder()(a)) == \
        AL._constraints(atoms, AtomEncoder())
    assert not [n for n in os.listdir(cache) if n.startswith("alphabet-")]


def test_the_key_names_the_encoder_and_the_atoms_in_order(cache):
    atoms = _atom_sets('property p: F name == "a" | F (status == error)\n', "k.spec")[0]
    assert len(atoms) == 2
    assert AtomEncoder().cache_key(atoms) != OpaqueEncoder().cache_key(atoms)
    assert AtomEncoder().cache_key(atoms) != AtomEncoder().cache_key(atoms[::-1])


def test_structure_text_tells_structures_apart():
    one, true, real = (TExpr("lit", (), t, v) for t, v in ((INT, 1), (BOOL, True),
                                                            (INT, 1.0)))
    texts = [structure_text([x]) for x in (one, true, real)]
    assert len(set(texts)) == 3 and None not in texts
    x = TExpr("field", (), STRING, (0, "name"))
    eq = TExpr("cmp", (x, TExpr("lit", (), STRING, "a")), BOOL, "==")
    assert structure_text([eq]) == structure_text([TExpr("cmp", eq.args, BOOL, "==")])
    assert structure_text([eq]) != structure_text([TExpr("cmp", eq.args, BOOL, "!=")])
    assert structure_text([eq, x]) != structure_text([x, eq])
    assert structure_text([TExpr("lit", (), INT, Fraction(1, 2))]) is not None
    assert structure_text([TExpr("lit", (), INT, frozenset({1}))]) is None
    assert structure_text(["not an expression"]) is None
    # a shared subexpression is written once
    both = TExpr("and", (eq, eq), BOOL)
    assert structure_text([both]).count("field|") == 1
