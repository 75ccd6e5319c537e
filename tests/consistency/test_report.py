"""`tracelogic monitor` reports a spec's `consistency` checks beside its properties: a
verdict per key, the witness in text and JSON, and the exit code."""
from __future__ import annotations

import io
import json

from tracelogic import cli
from tracelogic.consistency.history import Operation
from tracelogic.consistency.jepsen import to_otlp_json

SPEC = "property p: G true\nconsistency store: linearizable cas_register\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err, io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, name, ops):
    p = tmp_path / name
    p.write_text(json.dumps(to_otlp_json(ops, history=name)))
    return str(p)


def ops(stale: bool):
    O = Operation
    return [O(0, "write", 1, None, 1000, 2000, key="a", client="c1"),
            O(1, "cas", (1, 2), True, 3000, 4000, key="a", client="c2"),
            O(2, "read", None, 1 if stale else 2, 5000, 6000, key="a", client="c3"),
            O(3, "write", 7, None, 1000, 2000, key="b", client="c1"),
            O(4, "read", None, 7, 3000, 4000, key="b", client="c2")]


def test_monitor_reports_a_violated_key_with_its_witness(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text(SPEC)
    traces = write(tmp_path, "t.json", ops(stale=True))
    code, out, err = run("monitor", str(spec), traces)
    assert code == 1, err
    assert "consistency store (linearizable cas_register): VIOLATED, 5 operations, 2 keys" in out
    assert "key 'a': violated" in out and "cannot be linearized together" in out
    code, out, _ = run("monitor", str(spec), traces, "--format", "json")
    assert code == 1
    [c] = json.loads(out)["consistency"]
    assert c["name"] == "store" and c["verdict"] == "violated"
    assert {k["key"]: k["verdict"] for k in c["keys"]} == {"a": "violated", "b": "satisfied"}
    w = c["keys"][0]["witness"]
    assert [o["text"] for o in w["operations"]] == ["cas['a'](1, 2) -> true", "read['a']() -> 1"]
    assert all(len(o["span_id"]) == 16 for o in w["operations"])


def test_monitor_passes_a_linearizable_store(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text(SPEC)
    code, out, err = run("monitor", str(spec), write(tmp_path, "t.json", ops(stale=False)))
    assert code == 0, out + err
    assert "consistency store (linearizable cas_register): SATISFIED" in out


def test_no_operation_at_all_is_inconclusive_not_satisfied(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text(SPEC)
    traces = tmp_path / "t.json"
    traces.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "a" * 32, "spanId": "b" * 16, "name": "x",
        "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}))
    code, out, _ = run("monitor", str(spec), str(traces))
    assert code == 1 and "INCONCLUSIVE, 0 operations" in out
    code, _, _ = run("monitor", str(spec), str(traces), "--allow-unknown")
    assert code == 0


def test_monitor_runs_every_checker_of_the_spec(tmp_path):
    spec = tmp_path / "s.spec"
    spec.write_text("consistency lin: linearizable register\n"
                    "consistency sc: sequential register\n"
                    "consistency sess: sessions register\n"
                    "consistency cc: causal register\n")
    O = Operation
    # client b reads nil after a's write completed: stale for linearizability only
    stale = [O(0, "write", 1, None, 1000, 2000, key="k", client="a"),
             O(1, "read", None, None, 3000, 4000, key="k", client="b")]
    code, out, _ = run("monitor", str(spec), write(tmp_path, "t.json", stale),
                       "--format", "json")
    got = {c["name"]: c["verdict"] for c in json.loads(out)["consistency"]}
    assert got == {"lin": "violated", "sc": "satisfied", "sess": "satisfied",
                   "cc": "satisfied"} and code == 1
    # the same client reading behind its own write breaks all four
    own = [stale[0], O(1, "read", None, None, 3000, 4000, key="k", client="a")]
    code, out, _ = run("monitor", str(spec), write(tmp_path, "u.json", own))
    assert out.count("VIOLATED") == 4, out
    assert "read-your-writes: key 'k'" in out and "initial-read: key 'k'" in out
