"""Optional NuSMV backend through ``pynusmv``, when it is importable (never required).

NuSMV is global and not thread-safe, and it prints to the process's stdout, so
every call runs in a fresh worker process (``spawn``) with its output sent to
``/dev/null``. The model is exported with :func:`~tracelogic.models.export.to_smv`
(invariants as ``LTLSPEC G …``) and each property is checked with
``pynusmv.mc.check_explain_ltl_spec``; a counterexample path is mapped back to
a :class:`~tracelogic.models.counterexample.Run` (actions found by replaying it
on our machine). Installing pynusmv: ``../shared/recipes/pynusmv.md`` and
docs/models.md.
"""
from __future__ import annotations

import importlib.util
import multiprocessing as mp
from typing import Any

from tracelogic.errors import BackendUnavailable

__all__ = ["available", "check_smv", "check"]


def available() -> bool:
    return importlib.util.find_spec("pynusmv") is not None


def _worker(text: str, conn) -> None:  # pragma: no cover - runs in the child process
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        from pynusmv import glob, mc, prop
        from pynusmv.init import init_nusmv

        out = []
        with init_nusmv():
            glob.load_from_string(text)
            glob.compute_model()
            for p in glob.prop_database():
                if p.type != prop.propTypes["LTL"]:
                    continue
                ok, path = mc.check_explain_ltl_spec(p.expr)
                states = None
                if not ok and path is not None:
                    states = [{str(k): str(v) for k, v in step.items()}
                              for step in path[::2]]
                out.append((str(p.name), bool(ok), states))
        conn.send(("ok", out))
    except BaseException as e:  # report, never hang the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def check_smv(text: str, timeout: float = 60.0) -> list[tuple[str, bool, list | None]]:
    """``(name, holds, counterexample states or None)`` for every LTLSPEC of an SMV text."""
    if not available():
        raise BackendUnavailable("the NuSMV backend needs `pynusmv`, which is not importable",
                                 hint="install it as docs/models.md describes, or use another "
                                      "engine")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(text, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise TimeoutError(f"NuSMV did not answer within {timeout:g}s")
        status, payload = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    if status != "ok":
        raise RuntimeError(f"NuSMV failed: {payload}")
    return payload


def _value(machine, var, text: str) -> Any:
    from tracelogic.spec import types as T

    b = T.base(var.type)
    if b == T.BOOL:
        return text == "TRUE"
    if isinstance(b, T.EnumType):
        for m in b.members:
            if text in (m, m + "_"):
                return m
        return text
    return int(text)


def check(machine, cond, *, kind: str):
    """Check one invariant or LTL formula with NuSMV; an :class:`~tracelogic.models.check.Outcome`."""
    from tracelogic.models.check import Outcome
    from tracelogic.models.counterexample import STUTTER, Run
    from tracelogic.models.export import smv_printer, to_smv
    from tracelogic.models.machine import replay
    from tracelogic.spec.typed import CheckT

    c = CheckT(machine.name, "model", "invariant" if kind == "invariant" else "ltl", cond)
    text = to_smv(machine, [c], invariants_as_ltl=True)
    try:
        results = check_smv(text)
    except BackendUnavailable as e:
        return Outcome("unknown", str(e), "nusmv", details={"reason": "backend unavailable"})
    by_name = {n: (ok, st) for n, ok, st in results}
    safe_ok, safe_path = by_name.get("no_runtime_error", (True, None))
    name = "invariant_1" if kind == "invariant" else "ltl_1"
    ok, path = by_name[name]
    if ok and safe_ok:
        return Outcome("holds", "holds (NuSMV)", "nusmv", details={"engine": "nusmv"})
    p = smv_printer(machine)
    states_text = path if not ok else safe_path
    states = []
    for st in states_text or []:
        states.append(tuple(_value(machine, v, st[p.names[v.name]]) for v in machine.vars))
    loop = None
    if states and states[-1] in states[:-1]:
        loop = states.index(states[-1])
    states = states[:-1] if loop is not None else states
    if kind == "invariant" or ok:
        # a safety counterexample ends at the first bad state: no loop
        from tracelogic.models.machine import ModelRuntimeError

        pred = machine.predicate(cond)
        for i, st in enumerate(states):
            bad = not pred(st) if not ok else False
            if ok:
                try:
                    machine.successors(st)
                except ModelRuntimeError:
                    bad = True
            if bad:
                states, loop = states[:i + 1], None
                break
    acts = replay(machine, states + ([states[loop]] if loop is not None else []))

    def name(i: int, a) -> str:
        if a is not None:
            return machine.action_names[a]
        return STUTTER if not machine.successors(states[i]) else "?"

    names = [name(i, a) for i, a in enumerate(acts)]
    run = Run(machine.var_names, states, [None] + names[:len(states) - 1], loop_start=loop,
              loop_action=names[-1] if loop is not None else None, var_types=machine.var_types)
    if not ok:
        return Outcome("fails", "violated (NuSMV)", "nusmv", run,
                       details={"engine": "nusmv", "counterexample": run.to_json()})
    return Outcome("error", "runtime error of the model (NuSMV: an enabled action assigns a "
                   "value outside its variable's range)", "nusmv", run,
                   details={"engine": "nusmv", "counterexample": run.to_json()})
