"""`check WORKFLOW: sound | deadlock_free` (SPEC-LANGUAGE.md §6).

The workflow becomes a Petri net (:mod:`tracelogic.models.petri`); its
reachability graph is analysed after removing the ``start`` transitions of
**dead steps**, the steps whose span predicate Z3 proves unsatisfiable
(:mod:`tracelogic.models.steps`). ``sound`` means:

- no dead step, and no step that can never start (because it only comes after a
  dead one); compensations must not be dead either;
- option to complete: from every reachable marking the final marking is
  reachable (otherwise the result names the shortest event path to a marking
  from which completion is unreachable, and the dead steps it waits for);
- proper completion: when the final place is marked, nothing else is;
- no deadlock (a non-final marking with nothing enabled).

``deadlock_free`` checks only the last point. Both results also list, in
``details``, steps whose predicates can match the same span (``overlaps``) and,
for a workflow with compensations, the forward steps without one that can
complete before a later step fails (``uncompensated``, compensation coverage);
these are notes, not failures.
"""
from __future__ import annotations

from tracelogic.automata.dfa import live_states
from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.models.petri import analyse
from tracelogic.models.steps import can_both_hold, satisfiable
from tracelogic.models.workflow import END, START, Event, forward_dfa, from_ast, steps_of
from tracelogic.spec.typed import Spec, WorkflowT


def _events(path: list[Event]) -> str:
    return " ".join(repr(e) for e in path) if path else "(nothing yet)"


def uncompensated(wf: WorkflowT) -> list[str]:
    """Forward steps without a compensation after whose end another step can still start."""
    w = from_ast(wf.expr)
    d = forward_dfa(w)
    live = live_states(d)
    has_comp = {s for s, _ in wf.compensations}
    starts = [k for k, e in enumerate(d.letters) if e.phase == START]
    # states from which some forward step can still start (towards completion)
    can_start = [any(live[d.delta[q][k]] for k in starts) for q in range(d.n_states)]
    reach_start = list(can_start)
    changed = True
    while changed:  # backward closure, iterative
        changed = False
        for q in range(d.n_states):
            if not reach_start[q] and live[q] and any(
                    reach_start[t] and live[t] for t in d.delta[q]):
                reach_start[q] = changed = True
    index = d.letter_index()
    out = []
    for s in steps_of(w):
        if s in has_comp:
            continue
        k = index[Event(s, END)]
        if any(live[q] and live[d.delta[q][k]] and reach_start[d.delta[q][k]]
               for q in range(d.n_states)):
            out.append(s)
    return out


def analyse_workflow(wf: WorkflowT, timeout_ms: int = 2000) -> dict:
    """Everything both checks report, as plain data."""
    w = from_ast(wf.expr)
    forward = steps_of(w)
    comps = [c for _, c in wf.compensations]
    verdicts = {name: satisfiable(pred, timeout_ms) for name, pred in wf.steps.items()}
    dead = [s for s in forward if verdicts.get(s) == "unsat"]
    dead_comps = [c for c in comps if verdicts.get(c) == "unsat"]
    result = analyse(w, dead)
    names = list(wf.steps)
    overlaps = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a in dead or b in dead or a in dead_comps or b in dead_comps:
                continue
            if can_both_hold(wf.steps[a], wf.steps[b], timeout_ms) == "sat":
                overlaps.append([a, b])
    return {"w": w, "result": result, "dead": dead, "dead_compensations": dead_comps,
            "overlaps": overlaps,
            "uncompensated": [s for s in (uncompensated(wf) if wf.compensations else [])
                              if s not in dead],
            "unknown": [s for s, v in verdicts.items() if v == "unknown"]}


def _problems(a: dict, deadlock_only: bool) -> list[str]:
    r = a["result"]
    out = []
    if not deadlock_only:
        for s in a["dead"]:
            out.append(f"dead step `{s}`: its predicate can never hold (Z3: unsatisfiable)")
        for s in r.never_started:
            if s not in a["dead"]:
                out.append(f"step `{s}` can never start: every path to it goes through a dead "
                           "step")
        for c in a["dead_compensations"]:
            out.append(f"dead compensation `{c}`: its predicate can never hold")
        if r.stuck:
            # the most telling stuck marking: one that waits for a dead step, if any
            path, waits = next(((p, w) for p, w in r.stuck if w), r.stuck[0])
            where = f"after {_events(path)}" if path else "from the start"
            out.append(f"completion is unreachable {where}"
                       + (f" (it waits for {', '.join(f'`{s}`' for s in waits)})" if waits else ""))
        for path in r.improper[:1]:
            out.append(f"improper completion after {_events(path)}: branches still running")
    for path, waits in r.deadlocks[:1]:
        out.append(f"deadlock after {_events(path)}"
                   + (f": only {', '.join(f'`{s}`' for s in waits)} could continue, and "
                      "never will" if waits else ""))
    return out


def _details(a: dict) -> dict:
    r = a["result"]
    return {
        "markings": r.markings,
        "dead_steps": a["dead"],
        "dead_compensations": a["dead_compensations"],
        "never_started": r.never_started,
        "unreachable_completion": [{"after": [repr(e) for e in p], "waiting_for": w}
                                   for p, w in r.stuck],
        "deadlocks": [{"after": [repr(e) for e in p], "waiting_for": w} for p, w in r.deadlocks],
        "improper_completion": [[repr(e) for e in p] for p in r.improper],
        "overlaps": a["overlaps"],
        "uncompensated": a["uncompensated"],
        "undecided_predicates": a["unknown"],
    }


def _notes(a: dict) -> str:
    notes = []
    if a["overlaps"]:
        pairs = ", ".join(f"`{x}`/`{y}`" for x, y in a["overlaps"])
        notes.append(f"note: these steps can match the same span: {pairs}")
    if a["uncompensated"]:
        notes.append("note: no compensation for " + ", ".join(f"`{s}`" for s in a["uncompensated"])
                     + ", which can complete before a later step fails")
    return "".join("\n    " + n for n in notes)


@checker
def check_workflows(spec: Spec, report: CheckReport, options: dict) -> None:
    cache: dict[str, dict] = {}
    timeout_ms = int(float(options.get("timeout") or 10.0) * 1000 / 4)
    for check in spec.checks:
        if check.target_kind != "workflow":
            continue
        wf = spec.workflows.get(check.target)
        if wf is None:
            continue
        if check.target not in cache:
            cache[check.target] = analyse_workflow(wf, timeout_ms)
        a = cache[check.target]
        deadlock_only = check.kind == "deadlock_free"
        problems = _problems(a, deadlock_only)
        if deadlock_only:
            status = "holds" if not problems else "fails"
            ok_msg = f"no deadlock in {a['result'].markings} reachable markings"
        else:
            status = "sound" if not problems else "unsound"
            ok_msg = (f"sound: option to complete, proper completion, no dead step "
                      f"({a['result'].markings} reachable markings)")
        message = ok_msg if not problems else "; ".join(problems)
        report.add(CheckResult("workflow", f"{check.target}.{check.kind}", status,
                               message + ("" if deadlock_only else _notes(a)), location=Location.of(check.span),
                               related=[Location.of(wf.span)], details=_details(a)))
