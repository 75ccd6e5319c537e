"""The pure value semantics of the language (SPEC-LANGUAGE.md §1, §2), defined once.

- :mod:`.units`: what a unit suffix means (`250ms` is 250,000,000 nanoseconds, `1Mi` is
  2^20 bytes, a config's `500m` cpu is half a core);
- :mod:`.missing`: :data:`~.missing.MISSING`, the value of an absent attribute or field;
- :mod:`.arith`: arithmetic, exact division, floor division and modulo, comparisons, the
  built-in functions, and their missing-aware forms for span values.

It sits directly above the leaves (``errors``) and below ``spec``: the type checker's
constant folding, the config/model evaluator (``semantics.evaluate``), the generated
Python of span predicates (``semantics.codegen``), the controller simulator and the
model checker's generated code all call these functions. The back-ends that cannot
call Python (Z3 terms in ``semantics.z3enc``, the native core's ``native/src/value.rs``)
cite the definition here and are held to it by tests/semantics/test_differential.py.
"""
