"""The meaning of one typed expression, for every back-end that needs it: evaluation over
concrete values (:mod:`.evaluate`), generated Python (:mod:`.codegen`), Z3 terms
(:mod:`.z3enc`), the native core's atom program (:mod:`.atoms`), and a property body lowered
to the logic IR with span predicates as atoms (:mod:`.lower`).

It sits above ``spec`` and ``logic`` and below ``automata``, ``checkers`` and ``models``
(DESIGN.md, package layout), so the config checks, the theorem prover and the model
checkers share one definition instead of importing each other (tests/test_layers.py).
"""
