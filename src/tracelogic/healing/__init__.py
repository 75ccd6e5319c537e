"""The self-healing controller (docs/healing.md): policies from specs, guarded action plugins,
an audit trail in the store.

    from tracelogic.healing import Controller, load_config
    ctl = Controller(spec, "tracelogic.db", load_config("controller.toml"), execute=False)
    ctl.handle(violation, witness_span)   # one tick
    ctl.run_pending()                     # approvals, verification windows
"""
from tracelogic.healing.config import ControllerConfig, load_config, parse_config
from tracelogic.healing.controller import Controller, Decision, idempotency_key

__all__ = ["Controller", "ControllerConfig", "Decision", "idempotency_key", "load_config",
           "parse_config"]
