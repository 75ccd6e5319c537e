"""`tracelogic export SPEC::NAME --promela|--smv|--dot|--mermaid` (registered with the CLI)."""
from __future__ import annotations

import argparse
from typing import TextIO

from tracelogic.commands import EXIT_INPUT, EXIT_OK, add_spec_path, command


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
