"""automata"""
# LTLf + past (+ metric) -> minimal DFAs and runtime monitors; see
# tracelogic.automata.construction for the pipeline and docs/automata.md for the
# constructions and register bounds.
#
# The names below are imported on first use (tracelogic.lazy), so that importing
# tracelogic.automata.cli to build the command line does not build the automata stack.
from tracelogic.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "alphabet": ("EXPLICIT_ATOMS", "Alphabet", "AlphabetTooLarge"),
    "guarded": ("GuardedAutomaton", "GuardedMonitor"),
    "backends": ("available_backends", "get_backend", "register_backend"),
    "dfa": ("DFA", "find_difference", "minimize"),
    "export": ("automaton_text", "to_dot", "to_hoa", "to_json"),
    "hoa": ("parse_hoa",),
    "monitor": ("INFEASIBLE", "Monitor", "TableMonitor", "TimedMonitor", "ValuationMonitor",
                "Verdict"),
    "construction": ("Automaton", "clear_cache", "compile_monitor", "compile_valuation",
                     "translate", "valuations"),
})
