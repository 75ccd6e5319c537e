"""The self-healing controller (docs/healing.md): policies from specs, guarded action plugins,
an audit trail in the store.

    from tracelogic.healing import Controller, ViolationRecord, load_config
    ctl = Controller(spec, "tracelogic.db", load_config("controller.toml"), execute=False)
    ctl.handle(ViolationRecord.of(violation))   # one tick
    ctl.run_pending()                     # approvals, verification windows

The names below are imported on first use (tracelogic.lazy), so that importing
``tracelogic.healing.cli`` to build the command line does not import the controller.
"""
from tracelogic.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "config": ("ControllerConfig", "load_config", "parse_config"),
    "controller": ("Controller", "Decision", "ViolationRecord", "idempotency_key"),
})
