"""`tracelogic heal`, `tracelogic audit` and `tracelogic approve` (docs/healing.md)."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import threading
from typing import TextIO

from tracelogic.commands import EXIT_FAILED, EXIT_INPUT, EXIT_OK, add_spec_path, command

__all__ = ["cmd_approve", "cmd_audit", "cmd_heal"]


def _ts(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _need_store(path: str, err: TextIO, prog: str) -> bool:
    if not os.path.exists(path):
        err.write(f"tracelogic {prog}: no store at {path}\n")
        return False
    return True


# ------------------------------------------------------------------ heal

@command("heal", "run the healing controller over a store's violations (dry-run unless "
         "--execute)")
def _heal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="the spec whose `heal` policies to apply")
    p.add_argument("--store", required=True, metavar="PATH", help="the SQLite store")
    p.add_argument("--execute", action="store_true",
                   help="run actions for real (default: dry-run, the audit shows the plan)")
    p.add_argument("--controller-config", metavar="FILE",
                   help="controller configuration (TOML): webhooks, secrets, kubeconfig, "
                   "approval token, guards")
    p.add_argument("--traces", action="append", default=[], metavar="FILE",
                   help="OTLP files holding the witness spans, for arguments that read "
                   "attributes (repeatable)")
    p.add_argument("--follow", action="store_true",
                   help="keep polling (and serve approvals, if configured) until interrupted")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="poll interval with --follow (default 2)")
    p.add_argument("--name", default="default", help="the consumer name whose position in the "
                   "violations table is kept (default `default`)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_spec_path(p)
    p.set_defaults(func=cmd_heal)


def cmd_heal(args, out: TextIO, err: TextIO, *, stop: threading.Event | None = None) -> int:
    from tracelogic.errors import TracelogicError
    from tracelogic.healing.config import load_config
    from tracelogic.healing.controller import Controller
    from tracelogic.ingest.otlp import read_path
    from tracelogic.spec.diagnostics import render_all
    from tracelogic.spec.loader import load_with_diagnostics

    spec, diags, sources = load_with_diagnostics(args.spec, args.spec_path)
    if diags:
        err.write(render_all(diags, sources) + "\n")
    if spec is None:
        return EXIT_INPUT
    if not _need_store(args.store, err, "heal"):
        return EXIT_INPUT
    try:
        config = load_config(args.controller_config)
    except TracelogicError as e:
        err.write(f"tracelogic heal: {e}\n")
        return EXIT_INPUT
    spans: dict = {}
    for path in args.traces:
        try:
            data = read_path(path)
        except TracelogicError as e:
            err.write(f"tracelogic heal: {e}\n")
            return EXIT_INPUT
        for s in data.spans:
            spans[(s.trace_id, s.span_id)] = s
    ctl = Controller(spec, args.store, config, execute=args.execute or None, name=args.name)
    for p in ctl.policies:
        if p.error:
            err.write(f"tracelogic heal: policy {p.heal.name}: {p.error}\n")
    server = None
    stop = stop or threading.Event()
    failed = False
    try:
        if args.follow and config.approval_listen is not None:
            try:
                server = ctl.serve_approvals()
            except (TracelogicError, OSError) as e:
                err.write(f"tracelogic heal: approval endpoint: {e}\n")
                return EXIT_INPUT
            err.write(f"approvals: {server.url}/approvals\n")
        mode = "execute" if ctl.execute else "dry-run"
        while True:
            decisions = ctl.poll(spans)
            failed |= any(d.outcome == "failed" for d in decisions)
            if args.format == "json":
                for d in decisions:
                    out.write(json.dumps(d.to_json(), sort_keys=True) + "\n")
            else:
                for d in decisions:
                    why = f" — {d.reason}" if d.reason else ""
                    out.write(f"[{mode}] {d.policy} {d.action} {d.target}: {d.outcome}{why}\n")
            out.flush()
            if not args.follow or stop.wait(args.interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
        ctl.close()
    return EXIT_FAILED if failed else EXIT_OK


# ------------------------------------------------------------------ audit

@command("audit", "show the healing controller's audit trail; --verify monitors it with "
         "std.healing")
def _audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="PATH", help="the SQLite store")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--policy", metavar="NAME", help="only this policy's events")
    p.add_argument("--action", metavar="ID", help="only this action's events (a unique prefix "
                   "is enough, such as the 12 characters the trail prints)")
    p.add_argument("--verify", nargs="?", const="", metavar="SPEC",
                   help="monitor std.healing over the trail (and, given the spec, each "
                   "policy's `limit`); exit 1 on a violation")
    p.add_argument("--otlp", metavar="FILE", help="also write the trail as OTLP/JSON spans "
                   "(for `tracelogic monitor`)")
    add_spec_path(p)
    p.set_defaults(func=cmd_audit)


def cmd_audit(args, out: TextIO, err: TextIO) -> int:
    from tracelogic.healing.audit import AuditLog
    from tracelogic.healing.trail import log_spans, verify_audit
    from tracelogic.ingest.otlp import request_to_json, spans_to_request

    if not _need_store(args.store, err, "audit"):
        return EXIT_INPUT
    spec = None
    if args.verify:
        from tracelogic.spec.diagnostics import render_all
        from tracelogic.spec.loader import load_with_diagnostics

        spec, diags, sources = load_with_diagnostics(args.verify, args.spec_path)
        if diags:
            err.write(render_all(diags, sources) + "\n")
        if spec is None:
            return EXIT_INPUT
    log = AuditLog(args.store)
    try:
        if args.action is not None:
            found = _unique_action(log, args.action, err, "audit")
            if found is None:
                return EXIT_INPUT
            args.action = found
        events = log.events(action_id=args.action, policy=args.policy)
        if args.format == "json":
            doc: dict = {"schema": "tracelogic.audit/1",
                         "events": [e.to_json() for e in events],
                         "actions": [_action_json(r) for r in log.actions()
                                     if (args.policy is None or r["policy"] == args.policy)
                                     and (args.action is None or r["id"] == args.action)]}
        else:
            for e in events:
                mode = "dry-run" if e.dry_run else "execute"
                extra = _detail_text(e.event, e.detail)
                out.write(f"{_ts(e.time_ns)} [{mode}] {e.policy} {e.action} {e.target} "
                          f"{e.event}: {e.outcome}{extra}  ({e.action_id[:12]})\n")
            out.write(f"{len(events)} audit event(s)\n")
        if args.otlp:
            from tracelogic.private_files import open_private

            with open_private(args.otlp) as f:  # the trail's targets and arguments: private
                json.dump(request_to_json(spans_to_request(log_spans(log))), f)
                f.write("\n")
        code = EXIT_OK
        if args.verify is not None:
            reports = verify_audit(log, spec)
            bad = [v for r in reports for v in r.violations]
            if args.format == "json":
                doc["verification"] = [r.to_json() for r in reports]
            else:
                for r in reports:
                    out.write(r.to_text())
            if spec is not None and any(h.run is not None for h in spec.heals):
                # `run controller` policies: the recorded decisions against the declaration
                from tracelogic.healing.conformance import check_trail, violation_json

                conf = check_trail(spec, log)
                found = [violation_json(d) for d in conf.divergences]
                bad += found
                if args.format == "json":
                    doc["conformance"] = {"runs": conf.runs, "periods": conf.periods,
                                          "violations": found}
                else:
                    for v in found:
                        out.write(f"VIOLATION {v['property']} [{v['kind']}]: "
                                  f"{v['message']}\n")
                    out.write(f"controller conformance: {conf.runs} run(s), {conf.periods} "
                              f"period(s) replayed, {len(found)} divergence(s)\n")
            code = EXIT_FAILED if bad else EXIT_OK
        if args.format == "json":
            out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return code
    finally:
        log.close()


def _unique_action(log, prefix: str, err: TextIO, prog: str) -> str | None:
    """The one action id starting with ``prefix`` (the trail prints 12 characters)."""
    ids = {r["id"] for r in log.actions()} | {e.action_id for e in log.events()}
    matches = sorted(i for i in ids if i.startswith(prefix))
    if len(matches) == 1:
        return matches[0]
    err.write(f"tracelogic {prog}: {'no' if not matches else 'more than one'} action matches "
              f"{prefix!r}" + (f" ({', '.join(m[:16] for m in matches[:5])})" if matches else
                               "; `tracelogic audit` lists the ids") + "\n")
    return None


def _action_json(r: dict) -> dict:
    keys = ("id", "policy", "action", "target", "service", "state", "reason", "risk",
            "needs_approval", "dry_run", "plan", "args", "result", "verification",
            "approval_by", "approval_reason")
    out = {k: r.get(k) for k in keys}
    out.update({"created_unix_nano": r["created_ns"], "acted_unix_nano": r["acted_ns"],
                "approval_expires_unix_nano": r["approval_expires_ns"],
                "violation": {k: r["violation"].get(k) for k in ("property", "key")}})
    return out


def _detail_text(event: str, d: dict) -> str:
    if event == "plan":
        return f" plan={json.dumps(d.get('plan'), sort_keys=True)} risk={d.get('risk')}"
    if event in ("skip", "guard", "verify", "escalate", "expired"):
        return f" — {d.get('reason', '')}"
    if event == "execute":
        return f" — {d['error']}" if d.get("error") else ""
    if event in ("approved", "rejected"):
        return f" by {d.get('by') or '?'}" + (f": {d['reason']}" if d.get("reason") else "")
    return ""


# ------------------------------------------------------------------ approve

@command("approve", "approve (or --reject) a pending high-risk action; without ID, list them")
def _approve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action_id", nargs="?", metavar="ID", help="the action id (a unique prefix "
                   "is enough)")
    p.add_argument("--store", required=True, metavar="PATH", help="the SQLite store")
    p.add_argument("--reject", action="store_true", help="reject instead of approve")
    p.add_argument("--by", default=os.environ.get("USER", ""), metavar="NAME",
                   help="who decides (default $USER)")
    p.add_argument("--reason", default="", metavar="TEXT")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_approve)


def cmd_approve(args, out: TextIO, err: TextIO) -> int:
    from tracelogic.healing.audit import AuditLog

    if not _need_store(args.store, err, "approve"):
        return EXIT_INPUT
    log = AuditLog(args.store)
    try:
        log.expire_due(log.clock())
        pending = log.pending_approvals()
        if args.action_id is None:
            if args.format == "json":
                out.write(json.dumps([_action_json(r) for r in pending], indent=2,
                                     sort_keys=True) + "\n")
            else:
                for r in pending:
                    out.write(f"{r['id']}  {r['policy']} {r['action']} {r['target']} risk "
                              f"{r['risk']} expires {_ts(r['approval_expires_ns'])}\n")
                out.write(f"{len(pending)} pending approval(s)\n")
            return EXIT_OK
        found = _unique_action(log, args.action_id, err, "approve")
        if found is None:
            return EXIT_INPUT
        matches = [found]
        done, state = log.decide(matches[0], not args.reject, by=args.by, reason=args.reason)
        if args.format == "json":
            out.write(json.dumps({"id": matches[0], "decided": done, "state": state}) + "\n")
        elif done:
            out.write(f"{matches[0]}: {state}\n")
        else:
            err.write(f"tracelogic approve: {matches[0]} is not pending: {state}"
                      + (" (a timed-out approval is never executed)" if state == "expired"
                         else "") + "\n")
        return EXIT_OK if done else EXIT_FAILED
    finally:
        log.close()
