"""`tracelogic export SPEC::NAME --promela|--smv|--dot|--mermaid` (registered with the CLI)."""
from __future__ import annotations

import argparse
from typing import TextIO

from tracelogic.commands import EXIT_FAILED, EXIT_INPUT, EXIT_OK, add_spec_path, command


@command("export", "export a model to Promela (spin) or SMV (NuSMV), or draw a model or "
         "workflow (DOT, Mermaid)")
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="SPEC::NAME",
                   help="a spec file and a model (or, for --dot/--mermaid, a workflow) in it")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--promela", dest="fmt", action="store_const", const="promela",
                     help="Promela for spin; checks become `ltl` blocks (without X)")
    fmt.add_argument("--smv", dest="fmt", action="store_const", const="smv",
                     help="SMV for NuSMV/nuXmv; checks become INVARSPEC/LTLSPEC")
    fmt.add_argument("--dot", dest="fmt", action="store_const", const="dot",
                     help="Graphviz: a model's reachable states (first counterexample in red), "
                          "or a workflow's Petri net")
    fmt.add_argument("--mermaid", dest="fmt", action="store_const", const="mermaid",
                     help="the same picture as a Mermaid flowchart")
    add_spec_path(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args, out: TextIO, err: TextIO) -> int:
    from tracelogic.errors import TracelogicError
    from tracelogic.models.export import export_command, warnings_in
    from tracelogic.spec.diagnostics import SpecErrors

    spec_path, sep, name = args.target.rpartition("::")
    if not sep or not spec_path or not name:
        err.write(f"tracelogic export: expected SPEC::NAME, got {args.target!r} "
                  "(for example shop.spec::breaker)\n")
        return EXIT_INPUT
    try:
        text = export_command(spec_path, name, args.fmt, search_path=args.spec_path)
    except SpecErrors as e:
        err.write(f"{e}\n")
        return EXIT_INPUT
    except TracelogicError as e:
        err.write(f"tracelogic export: {e}\n")
        return EXIT_INPUT
    if args.fmt == "promela":
        for w in warnings_in(text):
            err.write(f"tracelogic export: warning: {w}\n")
    out.write(text)
    return EXIT_OK


@command("simulate", "run a declared controller on a metric sequence (e.g. a refuted "
         "claim's counterexample) or through its plant, exactly")
def _simulate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="SPEC::CONTROLLER",
                   help="a spec file and a controller in it")
    p.add_argument("--metric", metavar="V,V,…",
                   help="the metric of each period: numbers such as 60, 99.5 or 301/3 "
                        "(a counterexample's details.replay.metric)")
    p.add_argument("--noise", metavar="V,V,…",
                   help="close the loop through the plant, with this noise in each period")
    p.add_argument("--periods", type=int, metavar="N",
                   help="periods to run through the plant (default: one per --noise value, "
                        "or 10)")
    p.add_argument("--claim", metavar="NAME",
                   help="also check this claim on the run (exit 1 when it is violated)")
    p.add_argument("--observed", metavar="VAR=V,V,…",
                   help="the values a real loop had for the state variable VAR at the start "
                        "of each period: exit 1 at the first that differs from the declaration")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="a table (default) or JSON")
    add_spec_path(p)
    p.set_defaults(func=cmd_simulate)


def _numbers(text: str, flag: str) -> list:
    from tracelogic.models.control_sim import number

    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            out.append(number(item))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{flag}: {item!r} is not a number (write 60, 99.5 or 301/3)")
    return out


def cmd_simulate(args, out: TextIO, err: TextIO) -> int:
    import json

    from tracelogic.errors import TracelogicError
    from tracelogic.spec.diagnostics import SpecErrors
    from tracelogic.spec.loader import load

    spec_path, sep, name = args.target.rpartition("::")
    if not sep or not spec_path or not name:
        err.write(f"tracelogic simulate: expected SPEC::CONTROLLER, got {args.target!r} "
                  "(for example autoscaler.spec::pid)\n")
        return EXIT_INPUT
    import os

    if not os.path.isfile(spec_path):
        err.write(f"tracelogic simulate: spec file {spec_path!r} not found\n")
        return EXIT_INPUT
    try:
        spec = load(spec_path, spec_path=args.spec_path)
    except SpecErrors as e:
        err.write(f"{e}\n")
        return EXIT_INPUT
    except (TracelogicError, OSError) as e:
        err.write(f"tracelogic simulate: {e}\n")
        return EXIT_INPUT
    from tracelogic.models.control import replay, table, violation
    from tracelogic.spec.diagnostics import did_you_mean

    ctl = spec.controllers.get(name)
    if ctl is None:
        hint = did_you_mean(name, list(spec.controllers)) or ""
        err.write(f"tracelogic simulate: {spec_path} has no controller `{name}`"
                  + (f" ({hint})" if hint else "") + "\n")
        return EXIT_INPUT
    claim = None
    if args.claim is not None:
        claim = next((c for c in ctl.claims if c.name == args.claim), None)
        if claim is None:
            err.write(f"tracelogic simulate: controller `{name}` has no claim `{args.claim}`\n")
            return EXIT_INPUT
    try:
        if args.metric is not None and (args.noise is not None or args.periods is not None):
            raise ValueError("--metric replaces the plant: it excludes --noise and --periods")
        if args.metric is not None:
            run, error = replay(ctl, _numbers(args.metric, "--metric"))
        else:
            if ctl.plant is None:
                raise ValueError(f"controller `{name}` has no plant: give --metric")
            noise = _numbers(args.noise, "--noise") if args.noise is not None else []
            periods = args.periods if args.periods is not None else (len(noise) or 10)
            if not 0 <= periods <= 100_000:
                raise ValueError("--periods must be between 0 and 100000")
            noise = (noise + [0] * periods)[:periods]
            eps = ctl.noise
            if any(abs(v) > eps for v in noise):
                err.write(f"tracelogic simulate: warning: noise beyond the declared ±{eps}\n")
            run, error = replay(ctl, [], noise=noise)
        observed = None
        if args.observed is not None:
            var, eq, values = args.observed.partition("=")
            names = [n for n, _, _ in ctl.vars]
            if not eq or var.strip() not in names:
                raise ValueError(f"--observed: expected VAR=V,V,… with VAR one of "
                                 f"{', '.join(names)}")
            observed = (var.strip(), _numbers(values, "--observed"))
    except ValueError as e:
        err.write(f"tracelogic simulate: {e}\n")
        return EXIT_INPUT
    from tracelogic.models.control import divergence

    diverged = divergence(run, *observed) if observed is not None else None
    broken = violation(ctl, claim, run, error) if claim is not None else \
        ((len(run), error) if error else None)
    if args.format == "json":
        from tracelogic.models.control_sim import show

        json.dump({"controller": name, "periods": [p.to_json() for p in run],
                   "metric": [str(show(p.metric)) for p in run], "error": error,
                   "claim": args.claim,
                   "divergence": None if diverged is None else
                   {"period": diverged[0], "declared": str(diverged[1]),
                    "observed": str(diverged[2])},
                   "violation": None if broken is None else
                   {"period": broken[0], "text": broken[1]}}, out, indent=2)
        out.write("\n")
    else:
        out.write(table(ctl, run) + "\n")
        if error:
            out.write(f"runtime error: {error}\n")
        if claim is not None:
            out.write(f"claim {claim.name}: " + ("holds on this run\n" if broken is None else
                                                f"violated at period {broken[0]}: "
                                                f"{broken[1]}\n"))
        if observed is not None:
            var = observed[0]
            out.write(f"observed {var}: " + (
                f"follows the declaration for {len(observed[1])} period(s)\n"
                if diverged is None else
                f"diverges at period {diverged[0]}: the declaration gives {var} = "
                f"{diverged[1]}, the real loop had {diverged[2]}\n"))
    return EXIT_FAILED if broken is not None or diverged is not None else EXIT_OK
