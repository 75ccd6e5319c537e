"""A property's scope as text, and the routing keys of a spec: pure functions of the typed spec.

They live here, below the checkers and the engine, because both need them: the monitor's
report names each property's scope, and `tracelogic check` reports the keys a sharded
sidecar must route by (checkers/routing.py, docs/serve.md).
"""
from __future__ import annotations

from tracelogic.spec.typed import PropertyT, Spec


def scope_text(prop: PropertyT) -> str:
    if prop.scope in ("trace", "global"):
        return prop.scope
    key = prop.scope_key
    if key is not None and key.op == "attr":
        hops, source, k = key.payload
        return ".".join(list(hops) + [f'{source}["{k}"]'])
    if key is not None and key.op == "field":
        return ".".join(list(key.payload[0]) + [key.payload[1]])
    return "key"


def routing_keys(spec: Spec) -> list[str]:
    """The keys a load balancer must route by for every runtime property to be exact.

    One entry per distinct key, in the order of the properties: ``"trace_id"`` for
    ``per trace``, ``"service"`` for ``per service``, ``'attr["k"]'`` (or
    ``'resource["k"]'``) for ``per attr[...]``, and ``"global"`` for ``global``, which
    cannot be sharded (one sidecar must see everything). A spec with more than one
    entry needs one sidecar group per entry (DESIGN.md, "Streaming, sharding and
    durability"). Properties that are not monitored at runtime are skipped.
    """
    out: dict[str, None] = {}
    for prop in spec.properties:
        out[scope_key_text(prop)] = None
    return list(out)


def scope_key_text(prop: PropertyT) -> str:
    """The routing key of a property's scope: as the report names it, but `trace_id`."""
    return "trace_id" if prop.scope == "trace" else scope_text(prop)
