"""Workflow algebra and state-machine models: semantics, model checking, exports, monitors.

- ``workflow``: the algebra as languages of step events (NFA/shuffle -> minimal DFA),
  ``conforms`` DFA; ``semantics``: the slow reference trace-set semantics;
  ``petri``: Petri net, reachability graph (LTS) and soundness; ``steps``: step
  predicates in Z3.
- ``machine``: executable model IR and explicit-state search; ``symbolic``: Z3 BMC,
  k-induction and PDR; ``ltl``: LTL -> Büchi (GPVW) and lassos; ``check``: engine
  selection; ``counterexample``: run tables.
- ``export``: Promela, SMV, DOT, Mermaid; ``nusmv``: optional pynusmv backend;
  ``runtime``: what the runtime monitor calls for conforms, saga and follows.

docs/workflows.md and docs/models.md are the reference.
"""
