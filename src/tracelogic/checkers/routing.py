"""Which routing keys a spec needs when the sidecar is sharded (DESIGN.md, sharding).

Sharding is exact only by the key of a property's scope: route by trace id for
`per trace`, by the attribute for `per attr[...]`, and `global` needs a single
instance. `tracelogic check` reports the keys so operators can configure the
Collector's load-balancing exporter (docs/serve.md).
"""
from __future__ import annotations

from tracelogic.checkers.report import CheckReport, CheckResult, Location, checker
from tracelogic.spec.scopes import routing_keys
from tracelogic.spec.typed import Spec


@checker
def check_routing(spec: Spec, report: CheckReport, options: dict) -> None:
    if not spec.properties:
        return
    keys = routing_keys(spec)
    if len(keys) <= 1:
        advice = f"route by {keys[0]}" if keys else "no routing constraint"
        if keys == ["global"]:
            advice = "run one sidecar: `global` properties need a single instance"
    else:
        advice = ("needs one sidecar group per key: " + ", ".join(keys)
                  + " (a spec mixing scopes is split into groups, DESIGN.md)")
    report.add(CheckResult("routing", "keys", "ok", advice, severity="info",
                           location=Location(spec.file, 1), details={"keys": keys}))
