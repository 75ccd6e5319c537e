"""std.saga on traces recorded with the real OpenTelemetry SDK."""
from __future__ import annotations

from .stdlib_helpers import Sdk, found, hex_id, hex_trace, run_std

PROPS = ["no_forward_after_failure", "compensate_only_after_failure",
         "compensate_latest_first", "compensate_in_reverse_order", "all_compensated"]


def order(sdk: Sdk, *, fail_at: str | None = "ship", compensations=("refund", "release"),
          after_failure=(), retry_refund=False):
    """validate; reserve (#1); charge (#2); ship (#3); then compensations in the given order."""
    root = sdk.span("POST /orders", 0, 100)
    spans = {"root": root}
    t = 1
    for name, seq in (("validate", None), ("reserve", 1), ("charge", 2), ("ship", 3)):
        failed = name == fail_at
        attrs = {"saga__step": name}
        if seq is not None and not failed:
            attrs["saga__seq"] = seq
        spans[name] = sdk.span(name, t, t + 5, root, error=failed, **attrs)
        t += 6
        if failed:
            break
    undo = {"refund": ("charge", 2), "release": ("reserve", 1), "unship": ("ship", 3)}
    for name in after_failure:
        spans[name] = sdk.span(name, t, t + 2, root, saga__step=name)
        t += 3
    for name in compensations:
        step, seq = undo[name]
        if name == "refund" and retry_refund:
            spans["refund#1"] = sdk.span(name, t, t + 2, root, error=True,
                                         saga__compensates=step, saga__seq=seq)
            t += 3
        spans[name] = sdk.span(name, t, t + 2, root, saga__compensates=step, saga__seq=seq)
        t += 3
    return spans


def test_a_failed_saga_compensated_in_reverse_order_passes():
    sdk = Sdk()
    order(sdk, retry_refund=True)
    order(sdk, fail_at=None, compensations=())  # a saga that succeeded
    report = run_std("saga", sdk.spans)
    assert found(report) == []
    assert [p.name for p in report.properties] == PROPS
    assert all(p.count("satisfied") == 2 for p in report.properties)


def test_wrong_order_and_a_step_after_the_failure():
    sdk = Sdk()
    s = order(sdk, compensations=("release", "refund"), after_failure=("notify",))
    key = hex_trace(s["root"])
    assert found(run_std("saga", sdk.spans)) == sorted([
        ("compensate_in_reverse_order", key,
         "compensation of charge (#2) ran out of reverse order", [hex_id(s["refund"])]),
        ("compensate_latest_first", key,
         "compensation of reserve (#1) ran first, but a later step had completed",
         [hex_id(s["release"])]),
        ("no_forward_after_failure", key, "step notify started after a step had failed",
         [hex_id(s["notify"])]),
    ])


def test_a_missing_compensation_and_a_compensation_without_failure():
    sdk = Sdk()
    s = order(sdk, compensations=("refund",))
    key = hex_trace(s["root"])
    assert found(run_std("saga", sdk.spans)) == [
        ("all_compensated", key, "2 step(s) completed but 1 compensated after a failure",
         [hex_id(s["ship"])])]  # the witness of an aggregate: the failed step it counted
    sdk2 = Sdk()
    s2 = order(sdk2, fail_at=None, compensations=("unship",))
    assert found(run_std("saga", sdk2.spans)) == [
        ("compensate_only_after_failure", hex_trace(s2["root"]),
         "compensation of ship ran although no step had failed", [hex_id(s2["unship"])])]
