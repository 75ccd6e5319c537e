"""What every command shares, below every other package: the exit codes, the registry of
subcommands, and the arguments several commands take.

Why a leaf module: each area's command module (``tracelogic/<area>/cli.py``) registers its
subcommands here with :func:`command`, and :mod:`tracelogic.cli` lists those modules and
builds the parser from :data:`COMMANDS`. So the command modules never import
:mod:`tracelogic.cli`, which imports them (tests/test_layers.py checks both).
"""
from __future__ import annotations

import argparse
from typing import Callable

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3

# name -> (help, the function that adds the subcommand's arguments and sets `func`)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}


def command(name: str, help: str):
    """Register a subcommand: the decorated function adds its arguments and sets `func`."""
    def wrap(fn):
        COMMANDS[name] = (help, fn)
        return fn
    return wrap


def add_spec_path(p: argparse.ArgumentParser) -> None:
    """``--spec-path DIR``, for every command that loads a spec (imports may read there)."""
    p.add_argument("--spec-path", action="append", default=[], metavar="DIR",
                   help="a directory whose .spec files imports may read, besides the spec's "
                   "own directory (repeatable; docs/language.md §15)")


def add_engine_argument(p: argparse.ArgumentParser) -> None:
    """`--engine`, shared by monitor and serve (docs/native.md)."""
    p.add_argument("--engine", choices=("python", "native"), default=None,
                   help="the monitoring engine: python (the reference) or native (the Rust "
                   "core, falling back to python per property it does not cover). Default: "
                   "$TRACELOGIC_ENGINE, else native when built, else python")


def add_trace_url_argument(p: argparse.ArgumentParser) -> None:
    """`--trace-url`, shared by monitor and violations (engine/trace_links.py)."""
    p.add_argument("--trace-url", metavar="TEMPLATE", default=None,
                   help="link every violation to your trace UI: an http(s) URL holding "
                   "{trace_id}, e.g. 'https://jaeger.example/trace/{trace_id}' (default: "
                   "$TRACELOGIC_TRACE_URL)")

