"""`tracelogic mine` on the shop (issue 19): properties mined from the five control runs hold
on the control runs, none vacuously, and each of the five faults breaks at least one.

The control runs are generated fresh, like test_scenarios.py's; mining sees their traces
and the memory-leak control's metrics, exactly as a user would pass them.
"""
from __future__ import annotations

import io
import json

import pytest

from shopdemo.scenarios import SCENARIOS, run

from tracelogic.cli import run as cli

FAULTS = ("cascade", "slow-query", "memory-leak", "partition", "race")


def tl(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli(list(argv), out, err)
    assert code != 3, err.getvalue()
    return code, out.getvalue(), err.getvalue()


def inputs(paths: dict) -> list[str]:
    return [p for p in (paths["traces"], paths["metrics"]) if p]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    assert set(FAULTS) == set(SCENARIOS)
    out = {}
    for name in FAULTS:
        for fault in (False, True):
            out[(name, fault)] = run(name, str(tmp_path_factory.mktemp(name)), fault=fault)
    return out


@pytest.fixture(scope="module")
def mined(runs, tmp_path_factory):
    control = [p for name in FAULTS for p in inputs(runs[(name, False)])]
    code, text, err = tl("mine", *control)
    assert code == 0, err
    path = tmp_path_factory.mktemp("mined") / "shop.mined.spec"
    path.write_text(text)
    return str(path), control


def test_the_mined_spec_is_accepted_by_check(mined):
    code, out, err = tl("check", mined[0])
    assert code == 0, out + err


def test_mined_properties_hold_on_the_control_runs_and_none_is_vacuous(mined):
    spec, control = mined
    code, out, err = tl("monitor", spec, *control, "--format", "json")
    doc = json.loads(out)
    assert code == 0, [v["property"] for v in doc["violations"]][:10]
    assert doc["summary"]["violated"] == 0
    for p in doc["properties"]:
        assert p["instances"] > p["vacuous"], f"{p['name']} is vacuous on the control runs"
    kinds = open(spec).read()
    for kind in ("absence(", "response(", "precedence(", "within", "conforms mined_flow",
                 "per attr[", "metric invariant"):
        assert kind in kinds, f"no {kind} property mined from the shop"


# what each fault must break among others: the healthy behaviour it changes
EXPECTED = {
    "cascade": "no_failed_span",                  # HTTP 503/504 set status error
    "slow-query": "latency_",                     # the report query is 150 ms slower
    "memory-leak": "range_process_memory_usage",  # orders keeps 3 MiB a request
    "partition": "known_operations",              # raft.campaign: the cut-off side campaigns
    "race": "exclusive_inventory_reserve_stock",  # two reservations of one row overlap
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_breaks_a_mined_property(mined, runs, fault):
    spec, _ = mined
    code, out, err = tl("monitor", spec, *inputs(runs[(fault, True)]), "--format", "json")
    doc = json.loads(out)
    broken = sorted({v["property"] for v in doc["violations"]})
    assert code == 1 and broken, f"{fault}: no mined property broken"
    assert any(b.startswith(EXPECTED[fault]) for b in broken), (fault, broken)
