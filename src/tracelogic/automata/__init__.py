"""automata"""
# LTLf + past (+ metric) -> minimal DFAs and runtime monitors; see
# tracelogic.automata.construction for the pipeline and docs/automata.md for the
# constructions and register bounds.
from tracelogic.automata.alphabet import MAX_ATOMS, Alphabet, AlphabetTooLarge  # noqa: F401
from tracelogic.automata.backends import (  # noqa: F401
    available_backends, get_backend, register_backend,
)
from tracelogic.automata.dfa import DFA, find_difference, minimize  # noqa: F401
from tracelogic.automata.export import automaton_text, to_dot, to_hoa, to_json  # noqa: F401
from tracelogic.automata.hoa import parse_hoa  # noqa: F401
from tracelogic.automata.monitor import (  # noqa: F401
    INFEASIBLE, Monitor, TableMonitor, TimedMonitor, ValuationMonitor, Verdict,
)
from tracelogic.automata.construction import (  # noqa: F401
    Automaton, clear_cache, compile_monitor, compile_valuation, translate, valuations,
)
