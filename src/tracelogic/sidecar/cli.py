"""`tracelogic serve` (the sidecar) and `tracelogic violations` (query its store).

Registered with the CLI's ``@command`` registry; see docs/serve.md for the guide.
"""
from __future__ import annotations

import argparse
import datetime
import os
import signal
import threading
from typing import TextIO

from tracelogic.commands import (EXIT_FAILED, EXIT_INPUT, EXIT_OK, add_engine_argument,
                                 add_spec_path, add_trace_url_argument, command)

__all__ = ["cmd_serve", "cmd_violations", "parse_since"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost", "[::1]")


# ------------------------------------------------------------------ serve

@command("serve", "run the sidecar: receive OTLP/gRPC and OTLP/HTTP, monitor live, store "
         "violations")
def _serve_args(p: argparse.ArgumentParser) -> None:
    # Every option's default is None here: the command line wins over the environment
    # (TRACELOGIC_<OPTION>), which wins over the --config file, which wins over the default
    # (sidecar/settings.py fills them in, in build_config).
    p.add_argument("spec", metavar="SPEC", nargs="?", default=None,
                   help="the spec (or TRACELOGIC_SPEC, or `spec` in the --config file)")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="a TOML file of serve options, keyed by their long names "
                   "(or TRACELOGIC_CONFIG); the environment and the command line override it")
    p.add_argument("--grpc", metavar="HOST:PORT",
                   help="OTLP/gRPC listen address (default 127.0.0.1:4317; `off` disables)")
    p.add_argument("--http", metavar="HOST:PORT",
                   help="OTLP/HTTP, /metrics, /healthz and /readyz listen address "
                   "(default 127.0.0.1:4318; `off` disables)")
    p.add_argument("--store", metavar="PATH",
                   help="the SQLite store for violations (default tracelogic.db)")
    p.add_argument("--forward", metavar="URL", help="also pass everything received on to this "
                   "OTLP endpoint: http(s)://HOST:PORT or grpc://HOST:PORT")
    p.add_argument("--journal", action=argparse.BooleanOptionalAction, default=None,
                   help="write every acknowledged span to the store first and replay open "
                   "traces after a restart (--no-journal overrides the environment or file)")
    p.add_argument("--property", action="append", default=None, metavar="NAME",
                   help="monitor only this property (repeatable): one sidecar group")
    p.add_argument("--lateness", metavar="DURATION",
                   help="allowed lateness for cross-trace scopes (default 30s)")
    p.add_argument("--idle", metavar="DURATION", help="a trace whose root has "
                   "ended is complete after this long without a new span (default 5s)")
    p.add_argument("--max-open-traces", type=int, metavar="N",
                   help="evict (verdict incomplete) beyond this many open traces "
                   "(default 100000)")
    p.add_argument("--max-instances", type=int, metavar="N",
                   help="open instances per cross-trace property before eviction "
                   "(default 100000)")
    p.add_argument("--queue-spans", type=int, metavar="N",
                   help="ingest queue capacity in spans; beyond it requests get 429 / "
                   "RESOURCE_EXHAUSTED (default 50000)")
    p.add_argument("--max-request-bytes", metavar="SIZE",
                   help="largest request body, also after decompression (default 4Mi)")
    p.add_argument("--max-http-connections", type=int, metavar="N",
                   help="open OTLP/HTTP connections; at the limit the longest idle one is "
                   "closed to make room (default 1024)")
    p.add_argument("--request-timeout", metavar="DURATION",
                   help="an HTTP request's head and body must arrive within this, counted "
                   "from its first byte; slower ones get 408 (default 30s)")
    p.add_argument("--keepalive-timeout", metavar="DURATION",
                   help="close an idle HTTP keep-alive connection after this (default 60s)")
    p.add_argument("--token-file", metavar="FILE", help="require `Authorization: Bearer "
                   "<token>` with the token in FILE (or set TRACELOGIC_TOKEN)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve both receivers over TLS")
    p.add_argument("--tls-key", metavar="PEM", help="the TLS private key (with --tls-cert)")
    p.add_argument("--retention", metavar="DURATION", help="delete violations older than "
                   "this (e.g. 30d)")
    p.add_argument("--retention-rows", type=int, metavar="N",
                   help="keep at most this many violations")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   help="default info")
    p.add_argument("--execute", action=argparse.BooleanOptionalAction, default=None,
                   help="let the healing controller act (default: dry-run, plans only; "
                   "--no-execute overrides the environment or file)")
    p.add_argument("--controller-config", metavar="FILE", help="healing controller config")
    p.add_argument("--consistency-window", type=int, metavar="N",
                   help="`consistency` checks: open operations per key before the key is "
                   "evicted with the verdict incomplete (default 10000)")
    p.add_argument("--consistency-keys", type=int, metavar="N",
                   help="`consistency` checks: open keys per check before the least recently "
                   "active is evicted (incomplete) (default 100000)")
    p.add_argument("--consistency-steps", type=int, metavar="N",
                   help="`consistency` checks: linearizability search steps per window; "
                   "beyond, the key is inconclusive (default 200000)")
    add_spec_path(p)
    add_engine_argument(p)
    p.set_defaults(func=cmd_serve)


def build_config(args, err: TextIO):
    """The :class:`ServeConfig` for parsed arguments, or None after saying what is wrong."""
    from tracelogic.sidecar.server import ServeConfig
    from tracelogic.sidecar.settings import SettingError, apply_layers
    from tracelogic.values.units import parse_bytes, parse_duration

    try:
        origin = apply_layers(args, os.environ)
    except SettingError as e:
        err.write(f"tracelogic serve: {e}\n")
        return None

    def src(name: str) -> str:
        """Where an option's value came from, for messages: `--name`, the variable or the
        config file and key."""
        return origin.get(name.replace("-", "_"), f"--{name}")

    def dur(name: str, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError:
            raise _Bad(f"{src(name)} takes a duration such as 30s, got {value!r}") from None

    try:
        lateness = dur("lateness", args.lateness)
        idle = dur("idle", args.idle)
        retention = dur("retention", args.retention)
        request_timeout = dur("request-timeout", args.request_timeout)
        keepalive_timeout = dur("keepalive-timeout", args.keepalive_timeout)
        for name, v in (("request-timeout", request_timeout),
                        ("keepalive-timeout", keepalive_timeout)):
            if v <= 0:
                raise _Bad(f"{src(name)} must be longer than 0s")
        try:
            max_bytes = parse_bytes(args.max_request_bytes)
        except ValueError:
            raise _Bad(f"{src('max-request-bytes')} takes a size such as 4Mi, got "
                       f"{args.max_request_bytes!r}") from None
        if bool(args.tls_cert) != bool(args.tls_key):
            raise _Bad("--tls-cert and --tls-key go together")
        for name in ("max_open_traces", "max_instances", "queue_spans",
                     "max_http_connections", "consistency_window", "consistency_keys",
                     "consistency_steps"):
            if getattr(args, name) < 1:
                raise _Bad(f"{src(name)} must be at least 1")
        token = os.environ.get("TRACELOGIC_TOKEN") or None
        if args.token_file:
            try:
                with open(args.token_file, encoding="utf-8") as f:
                    token = f.read().strip()
            except OSError as e:
                raise _Bad(f"cannot read {src('token-file')} {args.token_file}: "
                           f"{e.strerror}") from None
            if not token:
                raise _Bad(f"{src('token-file')} {args.token_file} is empty")
        if args.controller_config and not os.path.isfile(args.controller_config):
            raise _Bad(f"{src('controller-config')} {args.controller_config}: no such file")
        grpc = None if args.grpc == "off" else args.grpc
        http = None if args.http == "off" else args.http
        if grpc is None and http is None:
            raise _Bad("--grpc off and --http off leave nothing to receive spans")
        from tracelogic.sidecar.http_receiver import parse_hostport
        for name, v, port in (("grpc", grpc, 4317), ("http", http, 4318)):
            if v is not None:
                try:
                    parse_hostport(v, port)
                except ValueError as e:
                    raise _Bad(f"{src(name)} {e}") from None
    except _Bad as e:
        err.write(f"tracelogic serve: {e}\n")
        return None
    from tracelogic.spec.loader import spec_file
    return ServeConfig(
        spec_path=spec_file(args.spec) or args.spec, grpc=grpc, http=http, store=args.store, forward=args.forward,
        journal=args.journal, properties=args.property, lateness_ns=lateness, idle_ns=idle,
        max_open_traces=args.max_open_traces, max_instances=args.max_instances,
        queue_spans=args.queue_spans, max_request_bytes=max_bytes, token=token,
        tls_cert=args.tls_cert, tls_key=args.tls_key, retention_age_ns=retention,
        retention_rows=args.retention_rows, execute=args.execute,
        max_http_connections=args.max_http_connections,
        request_timeout_s=request_timeout / 1e9, keepalive_timeout_s=keepalive_timeout / 1e9,
        controller_config=args.controller_config, spec_search_path=tuple(args.spec_path),
        engine=args.engine, consistency_window=args.consistency_window,
        consistency_keys=args.consistency_keys, consistency_steps=args.consistency_steps)


class _Bad(Exception):
    pass


def warn_exposed_files(log, config, *, token_file: str | None = None) -> None:
    """Warn, once at start-up, about files holding secrets or data that group or others
    may read or write: the token file, the TLS key, the controller config and the store.
    A store serve creates is private already (private_files.py); an existing file keeps
    the mode its operator gave it, so say how to fix it rather than change it.
    """
    from tracelogic.private_files import exposed

    what = "span data and, with --journal, every acknowledged request" if config.journal \
        else "span data"
    files = [("token file", token_file, "the bearer token"),
             ("TLS key", config.tls_key, "the TLS private key"),
             ("controller config", config.controller_config,
              "the healing controller's secrets and endpoints"),
             ("store", config.store, what)]
    for kind, path, holds in files:
        if not path or not exposed(path):
            continue
        mode = f"{os.stat(path).st_mode & 0o777:04o}"
        log.warning(f"the {kind} {path} is readable or writable by group or others (mode "
                    f"{mode}) and holds {holds}; run `chmod 600 {path}`",
                    extra={"fields": {"file": path, "kind": kind, "mode": mode,
                                      "fix": f"chmod 600 {path}"}})


def cmd_serve(args, out: TextIO, err: TextIO) -> int:
    import logging
    import time

    from tracelogic.errors import TracelogicError
    from tracelogic.sidecar.server import Sidecar, setup_logging
    from tracelogic.spec.diagnostics import render_all
    from tracelogic.spec.loader import load_with_diagnostics

    config = build_config(args, err)
    if config is None:
        return EXIT_INPUT
    spec, diags, sources = load_with_diagnostics(args.spec, args.spec_path)
    if diags:
        err.write(render_all(diags, sources) + "\n")
    if spec is None:
        return EXIT_INPUT
    setup_logging(args.log_level, err)
    log = logging.getLogger("tracelogic.serve")
    try:
        from tracelogic.healing.worker import HealingWorker

        sidecar = Sidecar(config, healer=HealingWorker)
    except (TracelogicError, ValueError, OSError) as e:
        err.write(f"tracelogic serve: {e}\n")
        return EXIT_INPUT
    warn_exposed_files(log, config, token_file=args.token_file)
    for name, addr in (("grpc", config.grpc), ("http", config.http)):
        if addr and not addr.startswith(_LOOPBACK) and not (config.token and config.tls_cert):
            log.warning("listening beyond loopback without both a token and TLS",
                        extra={"fields": {"receiver": name, "address": addr}})
    # The stop signals' handler only appends to a list. Python runs a handler in the main
    # thread at its next bytecode, whichever thread the kernel gave the signal to; a
    # handler that set a threading.Event the main thread waits on could run while the
    # main thread held that Event's own lock, and wait for it forever (tests/sidecar/
    # test_serve_signals.py).
    stop: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, lambda signum, _: stop.append(signum))
        signal.signal(signal.SIGINT, lambda signum, _: stop.append(signum))
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: sidecar.request_reload())
    try:
        sidecar.start()
    except OSError as e:
        err.write(f"tracelogic serve: cannot listen: {e}\n")
        sidecar.stop(0)
        return EXIT_INPUT
    try:
        while not stop:
            time.sleep(0.2)  # takes no lock; a signal's handler runs when it returns
            if not sidecar.healthy:
                log.error("engine stopped; shutting down")
                break
    finally:
        sidecar.stop()
    return EXIT_OK if sidecar.healthy or stop else EXIT_FAILED


# ------------------------------------------------------------------ violations

@command("violations", "list the violations recorded in a sidecar's store")
def _violations_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="PATH", help="the SQLite store")
    p.add_argument("--since", metavar="T", help="only violations recorded since T: a duration "
                   "back from now (1h, 30m), an RFC 3339 time (2024-05-01T12:00:00Z) or Unix "
                   "nanoseconds")
    p.add_argument("--property", action="append", default=None, metavar="NAME",
                   help="only this property (repeatable)")
    p.add_argument("--format", choices=("text", "json", "html"), default="text",
                   help="html: one self-contained page with a timeline per violation")
    p.add_argument("--limit", type=int, metavar="N", help="at most N, the newest")
    add_trace_url_argument(p)
    p.set_defaults(func=cmd_violations)


def parse_since(text: str, now_ns: int | None = None) -> int:
    """``--since``: a duration back from now, an RFC 3339 time, or Unix nanoseconds."""
    import time

    from tracelogic.values.units import parse_duration

    t = text.strip()
    if t.isdigit():
        return int(t)
    try:
        return (time.time_ns() if now_ns is None else now_ns) - parse_duration(t)
    except ValueError:
        pass
    try:
        dt = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since takes a duration (1h), an RFC 3339 time "
                         f"(2024-05-01T12:00:00Z) or Unix nanoseconds, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def cmd_violations(args, out: TextIO, err: TextIO) -> int:
    import sqlite3

    from tracelogic.sidecar.store import Store

    if not os.path.isfile(args.store):
        err.write(f"tracelogic violations: no store at {args.store}; give the --store of a "
                  "`tracelogic serve`\n")
        return EXIT_INPUT
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as e:
        err.write(f"tracelogic violations: {e}\n")
        return EXIT_INPUT
    from tracelogic.engine.trace_links import from_args

    trace_url = from_args(args, "violations", err)
    if trace_url is False:
        return EXIT_INPUT
    try:
        store = Store(args.store)
        rows = []
        for prop in args.property or [None]:
            rows.extend(store.violations(since_ns=since, prop=prop))
        store.close()
    except sqlite3.DatabaseError as e:
        err.write(f"tracelogic violations: {args.store} is not a tracelogic store: {e}\n")
        return EXIT_INPUT
    rows.sort(key=lambda r: r.id)
    if args.limit is not None:
        rows = rows[-args.limit:] if args.limit > 0 else []
    from tracelogic.engine.trace_links import with_links

    if args.format == "json":
        from tracelogic.engine.json_report import dumps

        out.write(dumps([with_links(r.to_json(), trace_url) for r in rows]) + "\n")
    elif args.format == "html":
        from tracelogic.engine.report_html import render

        out.write(render([with_links(r.to_json(), trace_url) for r in rows],
                         title="tracelogic violations", subtitle=f"store {args.store}"))
    else:
        for r in rows:
            b = r.body
            when = datetime.datetime.fromtimestamp(r.recorded_ns / 1e9, datetime.timezone.utc)
            out.write(f"✗ {b['property']} [{b.get('severity', 'error')}] key {b['key']}  "
                      f"{when.isoformat(timespec='seconds').replace('+00:00', 'Z')}  "
                      f"#{r.id}\n")
            out.write(f"  {b.get('message', '')}\n")
            consistency = b.get("consistency")
            if isinstance(consistency, dict) and consistency.get("witness_text"):
                # a violated `consistency` key: its witness (docs/consistency.md §5)
                out.write(f"{consistency['witness_text']}\n")
            if b.get("span_ids"):
                out.write(f"  trace {', '.join(b.get('trace_ids') or [])} spans "
                          f"{', '.join(b['span_ids'])}\n")
            if trace_url is not None:
                for u in trace_url.links(list(b.get("trace_ids") or [])):
                    out.write(f"  trace: {u}\n")
        out.write(f"{len(rows)} violation(s)\n")
    failing = any(r.body.get("severity", "error") in ("critical", "error") for r in rows)
    return EXIT_FAILED if failing else EXIT_OK
