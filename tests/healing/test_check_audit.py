"""`tracelogic check SPEC --store PATH`: std.healing and each policy's limit over the audit trail."""
from __future__ import annotations

import io
import json

from tracelogic import cli
from .conftest import MINUTE
from .test_guards import fire, make


def check(spec_text: str, tmp_path, store: str):
    path = tmp_path / "p.spec"
    path.write_text(spec_text)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", str(path), "--store", store, "--format", "json"], out, err)
    return code, json.loads(out.getvalue())


def test_check_runs_std_healing_over_the_audit_trail(tmp_path, clock):
    ctl, _ = make(tmp_path, clock, """
heal trip on violated broken do circuit_breaker(name: attr["dep"]) limit 2 per 1h""")
    for i in range(2):
        clock.advance(MINUTE)
        fire(ctl, i + 1, {"dep": f"d{i}"})
    spec_text = ctl.spec.source
    code, doc = check(spec_text, tmp_path, ctl.store_path)
    audit = {r["name"]: r["status"] for r in doc["results"] if r["kind"] == "audit"}
    assert audit and set(audit.values()) == {"holds"}
    assert "limit_trip" in audit and "no_action_after_refusal" in audit
    with ctl.log.transaction() as conn:  # a forged third execution inside the hour
        ctl.log.record(conn, action_id="forged", policy="trip", action="circuit_breaker",
                       target="x", event="execute", outcome="ok", dry_run=False)
    code, doc = check(spec_text, tmp_path, ctl.store_path)
    audit = {r["name"]: r["status"] for r in doc["results"] if r["kind"] == "audit"}
    assert audit["limit_trip"] == "violated" and code == 1


def test_missing_store_is_an_input_error(tmp_path):
    code, doc = check('property p: G (name != "x")\n'
                      'heal a on violated p do log(message: "m") limit 4 per 90s\n',
                      tmp_path, str(tmp_path / "nope.db"))
    assert code == 2
    assert any(r["status"] == "input-error" and "no such file" in r["message"]
               for r in doc["results"])
