"""logic"""
# Formula IR (hash-consed, pysmt style), passes, printers and the reference
# semantics.  See tracelogic.logic.formula for the node kinds and conventions.
from tracelogic.logic.formula import (  # noqa: F401
    Formula, FormulaManager, Interval, Kind, UNTIMED, at_least, get_manager, interval, within,
)
from tracelogic.logic.constructors import (  # noqa: F401
    FALSE, TRUE, And, Atom, Bool, F, G, H, Iff, Implies, M, Not, O, Or, R, S, Trigger, U, W,
    WX, X, Xor, Y, Z,
)
from tracelogic.logic.printers import (  # noqa: F401
    UnsupportedFormula, format_duration, to_ltlf2dfa, to_repr, to_spot, to_tracelogic,
)
from tracelogic.logic.walkers import (  # noqa: F401
    DagWalker, TreeEmitter, atoms, depth, empty_value, nnf, size, substitute, topological,
)
