"""The `tracelogic` command: thin, it parses arguments and calls the layers below.

Exit codes (every command; DESIGN.md): 0 everything checked holds; 1 something
failed (or was unknown/incomplete, unless --allow-unknown); 2 the spec, the
command line or the input is wrong, which takes precedence over 1.
An unexpected exception is a bug: `main` reports it in one line, exit 3.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

from tracelogic.commands import (COMMANDS, EXIT_BUG, EXIT_FAILED, EXIT_INPUT, EXIT_OK,
                                 add_engine_argument, add_spec_path, add_trace_url_argument,
                                 command)
from tracelogic.errors import TracelogicError


EPILOG = """\
examples:
  tracelogic check shop.spec                      parse, type-check and run static checks
  tracelogic check shop.spec --format sarif > out.sarif
  tracelogic fmt shop.spec                        rewrite in canonical form, keeping comments
  tracelogic fmt --check specs/*.spec             exit 1 if any file would change
  tracelogic monitor shop.spec traces.jsonl       check runtime properties over OTLP files
  tracelogic monitor shop.spec t.pb --format json > verdicts.json
  tracelogic monitor shop.spec t.pb --format html > report.html

exit codes: 0 all holds, 1 something failed, 2 bad spec, input or command line.
docs: docs/language.md (the language), docs/cli.md (every command).
"""

# Areas register their own subcommands with tracelogic.commands.command in these modules
# (which never import this one: tests/test_layers.py); a module that
# does not exist yet is simply not offered. Every command imports all of them to build
# its parser, so at module level they import only what defining arguments needs: each
# command's implementation (Z3, networkx, grpc, protobuf, the spec front end...) is
# imported inside its cmd_ function (DESIGN.md: lazy start-up; tests/test_startup.py).
COMMAND_MODULES = (
    "tracelogic.automata.cli",        # automaton
    "tracelogic.models.cli",          # export
    "tracelogic.sidecar.cli",         # serve, violations
    "tracelogic.healing.cli",         # heal, audit, approve
    "tracelogic.analysis.cli",        # analyze
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own exit code is already 2; keep the message
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


class _UsageError(Exception):
    pass


def version() -> str:
    """The installed version, read on first use (tracelogic.__getattr__)."""
    from tracelogic import __version__

    return __version__


class _VersionAction(argparse.Action):
    """argparse's ``version`` action, reading the version only when ``--version`` is given
    (the installed metadata costs ~20 ms to read; tracelogic.__getattr__)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS,
                 help: str = "show program's version number and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        sys.stdout.write(f"tracelogic {version()}\n")  # run() points it at `out`
        parser.exit()


def _load_command_modules() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser, every command in it; with ``only``, a command already
    registered (this module's own: check, monitor, fmt, completion), the parser of just
    that one, without importing the command modules. `run` builds that for such a command:
    a subcommand's arguments parse the same whatever its siblings are, and the other
    commands' modules and parsers cost `tracelogic monitor` about 0.015 s of start-up."""
    if only not in COMMANDS:
        only = None
        _load_command_modules()
    parser = _Parser(prog="tracelogic", description="Formal verification for systems observed "
                     "through OpenTelemetry.", epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, fn) in COMMANDS.items():
        if only is not None and name != only:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        fn(p)
    return parser


# ------------------------------------------------------------------ check

@command("check", "parse, type-check and statically verify specs (configs, theorems, "
         "workflows, models, policies)")
def _check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--config", action="append", default=[], metavar="NAME=PATH",
                   help="replace the `from` of config block NAME (repeatable)")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--strict", action="store_true", help="warnings fail the check (exit 1)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="`unknown` results do not fail the check")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="solver timeout per check (default 10)")
    p.add_argument("--store", metavar="PATH",
                   help="also check std.healing and each policy's limits over the healing "
                   "controller's audit trail in this store")
    p.add_argument("--state-bound", type=int, default=None, metavar="N",
                   help="model checks explore at most N states, then answer unknown "
                   "(default 1000000)")
    from tracelogic.models.engines import ENGINES

    p.add_argument("--engine", choices=ENGINES,
                   default="auto", help="model-checking engine for invariants and "
                   "deadlock freedom (default auto; docs/models.md)")
    add_spec_path(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args, out: TextIO, err: TextIO) -> int:
    from tracelogic.api import check
    from tracelogic.checkers.report import CheckReport
    from tracelogic.spec.diagnostics import render_all
    from tracelogic.spec.loader import load_with_diagnostics

    if args.state_bound is not None and args.state_bound < 1:
        err.write(f"tracelogic check: --state-bound takes a positive number of states, "
                  f"got {args.state_bound}\n")
        return EXIT_INPUT
    if args.timeout <= 0:
        err.write(f"tracelogic check: --timeout takes a positive number of seconds, "
                  f"got {args.timeout:g}\n")
        return EXIT_INPUT
    overrides = {}
    report = CheckReport()
    for item in args.config:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            err.write(f"tracelogic check: --config takes NAME=PATH, got {item!r}\n")
            return EXIT_INPUT
        overrides[name] = path
    sources: dict[str, str] = {}
    for path in args.specs:
        spec, diags, srcs = load_with_diagnostics(path, args.spec_path)
        sources.update(srcs)
        report.files.append(path)
        report.diagnostics.extend(diags)
        if spec is not None:
            check(spec, report, overrides=overrides, timeout=args.timeout, store=args.store,
                  state_bound=args.state_bound, engine=args.engine)
    from tracelogic.engine import json_report

    if args.format == "json":
        json_report.dump(report.to_json(), out)
    elif args.format == "sarif":
        json_report.dump(report.to_sarif(version()), out)
    else:
        if report.diagnostics:
            err.write(render_all(report.diagnostics, sources) + "\n")
        out.write(report.to_text())
    return report.exit_code(strict=args.strict, allow_unknown=args.allow_unknown)


# ------------------------------------------------------------------ monitor

@command("monitor", "check a spec's runtime properties over OTLP trace (and metric) files")
def _monitor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("traces", nargs="+", metavar="TRACES",
                   help="OTLP/JSON (one object, or one per line), OTLP protobuf (.pb, .binpb), "
                   "or - for stdin; JSON metrics files are recognised by their content")
    p.add_argument("--metrics", action="append", default=[], metavar="FILE",
                   help="an OTLP metrics file (needed for protobuf metrics; repeatable)")
    p.add_argument("--logs", action="append", default=[], metavar="FILE",
                   help="an OTLP logs file (needed for protobuf logs; JSON log files are "
                   "recognised among TRACES; repeatable)")
    p.add_argument("--format", choices=("text", "json", "junit", "sarif", "html"),
                   default="text", help="html: one self-contained page with a timeline per "
                   "violation (docs/cli.md)")
    p.add_argument("--property", action="append", default=None, metavar="NAME",
                   help="monitor only this property (repeatable)")
    add_trace_url_argument(p)
    p.add_argument("--lateness", default="30s", metavar="DURATION",
                   help="allowed lateness for cross-trace scopes (default 30s)")
    p.add_argument("--max-open-traces", type=int, default=100_000, metavar="N",
                   help="traces held in memory until the end of input; beyond N the least "
                   "recently active is evicted and its verdicts are incomplete "
                   "(default 100000)")
    p.add_argument("--strict", action="store_true", help="warnings fail the run (exit 1)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="inconclusive or incomplete verdicts do not fail the run")
    p.add_argument("--partial-traces", choices=("inconclusive", "ignore"),
                   default="inconclusive",
                   help="an instance still undecided at the end that saw a partial trace (a "
                   "span's parent never arrived) is inconclusive (default), or with `ignore` "
                   "left out of the results and counted as ignored")
    add_spec_path(p)
    add_engine_argument(p)
    p.add_argument("--verbose", action="store_true",
                   help="say on stderr which engine runs each property, and why a property "
                   "fell back to the Python engine")
    p.set_defaults(func=cmd_monitor)


def engine_lines(mon) -> list[str]:
    """What `--verbose` says about engines: the selected one, then one line per property."""
    from tracelogic.engine.registry import get_engine

    lines = [f"engine {get_engine(mon.requested_engine).describe()}"]
    lines += [f"property {a.describe()}" for a in mon.engine_plan.values()]
    lines += [f"property {name}: not monitored: {why}" for name, why in mon.refused.items()]
    return lines


def cmd_monitor(args, out: TextIO, err: TextIO) -> int:
    import time

    from tracelogic.engine.monitor import Monitor
    from tracelogic.gc_pause import gc_off_until_exit, gc_paused
    from tracelogic.spec.diagnostics import render_all
    from tracelogic.values.units import parse_duration
    from tracelogic.spec.loader import load_with_diagnostics

    try:
        lateness = parse_duration(args.lateness)
    except ValueError:
        err.write(f"tracelogic monitor: --lateness takes a duration such as 30s, "
                  f"got {args.lateness!r}\n")
        return EXIT_INPUT
    if args.max_open_traces < 1:
        err.write(f"tracelogic monitor: --max-open-traces takes a positive number of traces, "
                  f"got {args.max_open_traces}\n")
        return EXIT_INPUT
    from tracelogic.engine.trace_links import from_args

    trace_url = from_args(args, "monitor", err)
    if trace_url is False:
        return EXIT_INPUT
    stdin_raw: list[bytes] = []  # --format html reads stdin's spans back from here
    started = time.monotonic()  # the JUnit report's time: loading, monitoring, closing
    spec, diags, sources = load_with_diagnostics(args.spec, args.spec_path)
    if diags:
        err.write(render_all(diags, sources) + "\n")
    if spec is None:
        return EXIT_INPUT
    try:
        mon = Monitor(spec, properties=args.property, lateness_ns=lateness,
                      max_open_traces=args.max_open_traces, engine=args.engine,
                      partial_traces=args.partial_traces)
    except TracelogicError as e:
        err.write(f"tracelogic monitor: {e}\n")
        return EXIT_INPUT
    if args.verbose:
        for line in engine_lines(mon):
            err.write(f"tracelogic monitor: {line}\n")
    # The whole run, writing the report included, builds hundreds of thousands of acyclic
    # objects (spans, violations, their report entries) that live until the command ends;
    # in its own process (`main`), they are never scanned again (gc_off_until_exit).
    with (gc_off_until_exit if args.one_shot else gc_paused)():
        return _monitor_run(args, spec, mon, trace_url, started, stdin_raw, out, err)


def _monitor_run(args, spec, mon, trace_url, started: float, stdin_raw: list[bytes],
                 out: TextIO, err: TextIO) -> int:
    """Feed every input to ``mon``, close it and write the report: `monitor`'s run once
    its arguments, spec and monitor are ready."""
    from tracelogic.errors import InputError
    from tracelogic.ingest.otlp import path_format, read_path, read_raw, unpack

    wanted_metrics = frozenset(m.metric for m in spec.metrics.values())
    progress = _progress(args.traces + args.metrics + args.logs, err)
    inputs = [(t, "auto") for t in args.traces] + [(m, "metrics") for m in args.metrics]
    inputs += [(g, "logs") for g in args.logs]
    kept: list = []  # trace inputs' bytes, when the spec has `consistency` checks
    for path, signal in inputs:
        try:
            if signal == "logs":  # log records (issue 19): JSON or protobuf
                source, raw = read_raw(path)
                raw, fmt = unpack(raw, source, path_format(path), mon.stats)
                if raw is not None:
                    mon.feed_otlp_logs(raw, source=source,
                                       format="json" if fmt == "json" else "protobuf")
                continue
            if signal == "auto":  # trace inputs: their bytes, read once, to the Monitor
                source, raw = read_raw(path)
                if path == "-" and args.format == "html":
                    stdin_raw.append(raw)
                raw, fmt = unpack(raw, source, path_format(path), mon.stats)
                if raw is not None:
                    mon.feed_otlp(raw, source=source,
                                  format="json" if fmt == "json" else "protobuf")
                    if spec.consistency:  # read again for the consistency checks
                        kept.append((raw, source, fmt))
                continue
            # decode only the attributes the spec reads (DESIGN.md: touch only that)
            data = read_path(path, signal=signal, wanted_attrs=mon.wanted_attrs,
                             wanted_metrics=wanted_metrics, stats=mon.stats)
        except InputError as e:
            mon.input_errors.append(e)
            continue
        finally:
            progress(path)
        if data.spans:  # (a metrics input has none; feeding none is not feeding spans)
            mon.feed(data.spans)
        mon.feed_points(data.points)
    if mon.missing_attrs() and "-" not in args.traces:
        # Some attribute never appeared: read every key once, only to suggest the right name.
        for path, signal in inputs:
            if signal == "logs":
                continue
            try:
                data = read_path(path, signal=signal, wanted_attrs=None,
                                 wanted_metrics=frozenset())
            except InputError:
                continue
            mon.note_keys(data.spans)
    report = mon.close()
    consistency = _consistency(spec, kept) if spec.consistency else []
    hint = report.partial_hint(strict=args.strict, allow_unknown=args.allow_unknown)
    try:
        _monitor_write(args, report, consistency, trace_url, started, stdin_raw, out)
        if hint and args.format == "text":  # with the text, on stdout
            out.write(f"hint: {hint}\n")
    except BrokenPipeError:
        # the reader stopped reading (`monitor ... | head`): the verdict stands, and is
        # the exit code whatever was read of the report
        _discard(out)
    if args.format != "text":  # beside machine formats, on stderr (the text lists them)
        for e in report.input_errors:
            err.write(f"error: {e}\n")
        if hint:
            err.write(f"hint: {hint}\n")
    code = report.exit_code(strict=args.strict, allow_unknown=args.allow_unknown)
    if consistency and code == EXIT_OK:
        from tracelogic.consistency.report import exit_code

        code = exit_code(consistency, allow_unknown=args.allow_unknown)
    return code


def _discard(out: TextIO) -> None:
    """Point ``out``'s file at the null device, so that what it still holds is not
    flushed again into a closed pipe at exit (Python's advice for a broken pipe)."""
    import os

    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a file: nothing is flushed to it
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def _monitor_write(args, report, consistency: list, trace_url, started: float,
                   stdin_raw: list[bytes], out: TextIO) -> None:
    """Write `monitor`'s report to ``out`` in the format asked for."""
    import time

    from tracelogic.engine import json_report

    if args.format == "json":
        doc = report.to_json(trace_url=trace_url, verbatim=True)
        if consistency:
            doc["consistency"] = [c.to_json() for c in consistency]
        json_report.dump(doc, out)
    elif args.format == "html":
        out.write(_html_report(report, args, trace_url, stdin_raw, consistency))
    elif args.format == "junit":
        extra = []
        if consistency:  # a case per declaration, beside the properties'
            from tracelogic.consistency.formats import junit_cases

            extra = junit_cases(consistency, allow_unknown=args.allow_unknown)
        out.write(report.to_junit(strict=args.strict, allow_unknown=args.allow_unknown,
                                  elapsed_s=time.monotonic() - started, extra=extra))
    elif args.format == "sarif":
        doc = report.to_sarif(version())
        if consistency:
            from tracelogic.consistency.formats import add_to_sarif

            add_to_sarif(doc, consistency)
        json_report.dump(doc, out)
    else:
        report.write_text(out, color=_is_tty(out), trace_url=trace_url)
        for c in consistency:
            out.write(c.to_text())


def _consistency(spec, kept: list) -> list:
    """The spec's `consistency` checks over every span read (docs/consistency.md).

    The trace inputs are decoded a second time, as Python spans with the attributes the
    checks read (the convention's and the `operation` declarations'): the monitor's own
    decode keeps only what the properties read, and when the native core runs every
    property it makes no Python span at all (docs/consistency.md §10)."""
    from tracelogic.consistency.mapping import wanted_attrs
    from tracelogic.consistency.report import check_spec
    from tracelogic.ingest.otlp import read_bytes

    wanted = wanted_attrs(spec.operations)
    spans = []
    for raw, source, fmt in kept:
        spans += read_bytes(raw, source=source, fmt=fmt, wanted_attrs=wanted).spans
    return check_spec(spec, spans)


def _html_report(report, args, trace_url, stdin_raw: list[bytes], consistency: list) -> str:
    """The visual report; the violating traces' spans are read back from the inputs (the
    monitor keeps none once it decided), stdin from the bytes kept on the first pass."""
    from tracelogic.engine.report_html import render, span_rows
    from tracelogic.errors import InputError
    from tracelogic.ingest.otlp import read_bytes, read_path

    data = report.to_json(trace_url=trace_url)
    wanted = {t for v in data["violations"] for t in v.get("trace_ids") or []}
    spans: dict[str, list[dict]] = {}
    if wanted:
        for path in args.traces:
            try:
                got = (read_bytes(b"".join(stdin_raw), source="<stdin>")
                       if path == "-" else read_path(path, wanted_attrs=frozenset()))
            except InputError:
                continue  # reported already, by the first pass
            for tid, rows in span_rows(got.spans, wanted).items():
                spans.setdefault(tid, []).extend(rows)
    return render(data["violations"], properties=data["properties"],
                  summary=data["summary"], spans=spans, title="tracelogic monitor",
                  subtitle=f"{args.spec} over " + ", ".join(args.traces),
                  notes=[f"warning: {w}" for w in report.warnings]
                  + [f"error: {e}" for e in report.input_errors],
                  consistency=_consistency_html(consistency) if consistency else None)


def _consistency_html(consistency: list) -> list:
    from tracelogic.consistency.formats import html_json

    return html_json(consistency)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _progress(paths: list[str], err: TextIO):
    """A progress line on stderr for inputs larger than a few MB, on a terminal only."""
    import os

    sizes = {p: os.path.getsize(p) for p in paths if p != "-" and os.path.isfile(p)}
    total = sum(sizes.values())
    if total < 4 * 2**20 or not _is_tty(err):
        return lambda path: None
    done = [0]

    def advance(path: str) -> None:
        done[0] += sizes.get(path, 0)
        err.write(f"\rread {done[0] / 2**20:.1f} / {total / 2**20:.1f} MiB")
        if done[0] >= total:
            err.write("\n")
        err.flush()
    return advance


# ------------------------------------------------------------------ fmt

@command("fmt", "rewrite specs in canonical form, keeping comments")
def _fmt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help="files to format; `-` formats stdin "
                   "to stdout")
    p.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 if any file would change")
    p.set_defaults(func=cmd_fmt)


def cmd_fmt(args, out: TextIO, err: TextIO, stdin: TextIO | None = None) -> int:
    from tracelogic.spec.diagnostics import SpecErrors, render_all
    from tracelogic.spec.formatter import format_text

    code = EXIT_OK
    for path in args.specs:
        try:
            text = (stdin or sys.stdin).read() if path == "-" else _read(path)
        except OSError as e:
            err.write(f"tracelogic fmt: cannot read {path}: {e.strerror}\n")
            code = EXIT_INPUT
            continue
        except UnicodeDecodeError:
            err.write(f"tracelogic fmt: {path} is not UTF-8 text\n")
            code = EXIT_INPUT
            continue
        try:
            formatted = format_text(text, path if path != "-" else "<stdin>")
        except SpecErrors as e:
            err.write(render_all(e.diagnostics, e.sources) + "\n")
            code = EXIT_INPUT
            continue
        if path == "-" and not args.check:
            out.write(formatted)
        elif formatted != text:
            if args.check:
                out.write(f"would reformat {path if path != '-' else '<stdin>'}\n")
                code = max(code, EXIT_FAILED)
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(formatted)
                out.write(f"reformatted {path}\n")
    return code


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


# ------------------------------------------------------------------ completion

#: metavars whose values are files or directories, for shell completion
_FILE_METAVARS = ("SPEC", "FILE", "PATH", "PEM", "TRACES", "TRACE", "NAME=PATH", "SPEC::MODEL")
_DIR_METAVARS = ("DIR",)


@command("completion", "print a shell completion script: bash or zsh (docs/cli.md)")
def _completion_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=("bash", "zsh"),
                   help="the shell: `source <(tracelogic completion bash)`, or for zsh "
                   "write it as _tracelogic into a directory of $fpath")
    p.set_defaults(func=cmd_completion)


def cmd_completion(args, out: TextIO, err: TextIO) -> int:
    """The completion script shtab generates from the real parser: every command, option
    and choice, with files and directories completed where an argument names one."""
    import shtab

    parser = build_parser()
    parser.prog = "tracelogic"
    for p in [parser] + [a for act in parser._actions
                         if isinstance(act, argparse._SubParsersAction)
                         for a in act.choices.values()]:
        for action in p._actions:
            metavar = action.metavar if isinstance(action.metavar, str) else ""
            if metavar in _FILE_METAVARS or (not action.option_strings and
                                            action.dest in ("spec", "specs", "traces")):
                action.complete = shtab.FILE  # type: ignore[attr-defined]
            elif metavar in _DIR_METAVARS:
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    out.write(shtab.complete(parser, shell=args.shell))
    return EXIT_OK


# ------------------------------------------------------------------ entry points

def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None,
        stdin: TextIO | None = None, *, one_shot: bool = False) -> int:
    """Run one command and return its exit code; raises only on a bug.

    Tests (and the fuzzer) call this in-process: it is exactly what `main` runs, but for
    ``one_shot``, which `main` sets: the process ends after this command, so what it
    builds need never be scanned by the cyclic collector again (``gc_off_until_exit``).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser(only=argv[0] if argv else None)
    try:
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err  # argparse prints --help/--version/usage there
        try:
            args = parser.parse_args(list(argv))
        finally:
            sys.stdout, sys.stderr = old
    except _UsageError as e:
        err.write(f"{e}\n")
        return EXIT_INPUT
    except SystemExit as e:  # --help, --version
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_INPUT
    args.one_shot = one_shot
    if args.func is cmd_fmt:
        return cmd_fmt(args, out, err, stdin)
    return args.func(args, out, err)


__all__ = ["COMMANDS", "EXIT_BUG", "EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "add_spec_path",
           "command", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    # the code dataclasses generates for the classes the command imports, compiled once
    # and kept in the disk cache (tracelogic.dataclass_code): a third of a warm start-up
    from tracelogic.dataclass_code import installed

    with installed():
        code = _main(argv)
    sys.exit(code)


def _main(argv: Sequence[str] | None) -> int:
    try:
        code = run(sys.argv[1:] if argv is None else argv, one_shot=True)
    except KeyboardInterrupt:
        sys.stderr.write("tracelogic: interrupted\n")
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    except Exception as e:  # a bug: say so in one line instead of a traceback
        sys.stderr.write(f"tracelogic: internal error: {type(e).__name__}: {e}\n"
                         "This is a bug in tracelogic; please report it with the input that "
                         "caused it (set TRACELOGIC_DEBUG=1 for the traceback).\n")
        import os

        if os.environ.get("TRACELOGIC_DEBUG"):
            raise
        code = EXIT_BUG
    return code


if __name__ == "__main__":  # pragma: no cover
    # `python -m tracelogic.cli` runs this file as __main__, a second copy of the module;
    # the command modules register into tracelogic.cli, so run that one's main
    from tracelogic.cli import main as _main

    _main()
