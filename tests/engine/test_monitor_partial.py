"""`--partial-traces=inconclusive|ignore` and the partial-trace hint (issue 15, item 4).

A partial trace has a span whose parent never arrived. An instance still undecided at the
end that saw one is `inconclusive` by default (counted in `inconclusive_partial`), or with
`ignore` left out of the results and counted in `ignored_partial`; final verdicts on
partial traces are reported either way. When a run's only failures are such inconclusive
verdicts, `monitor` prints a one-line hint. Both engines give the same reports.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

import tracelogic
from tracelogic.cli import run
from tracelogic.engine.monitor import Monitor
from tracelogic.errors import InputError
from tracelogic.ingest.otlp import request_to_json, spans_to_request
from tracelogic.ingest.spans import Span

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "monitor.schema.json").read_text())
ENGINES = ("python", "native")
MS = 10**6

SPEC = """pred op(n) = name == n
property answered: G (op("request") -> F op("reply"))
property no_failures severity warning: G !(status == error)
property replied per attr["order.id"]: G (op("request") -> F op("reply"))
property reached: F op("reply")
"""


def sp(trace: int, span: int, parent: int | None, name: str, t: int, **kw) -> Span:
    """A span; ``parent`` 0 for a root, a number for a parent (absent or not)."""
    return Span(name=name, trace_id=f"{trace:032x}", span_id=f"{span:016x}",
                parent_id=f"{parent:016x}" if parent else "", start_ns=t * MS,
                end_ns=(t + 1) * MS, service="shop", **kw)


# trace 1 whole and answered; traces 2-4 partial (their parents 0x9* never came): 2 is
# unanswered, 3 answered (`F reply` decided satisfied there), 4 fails (`G !failed` decided
# violated there); order o2 only in trace 2. `G` is never decided satisfied before the end,
# so on traces 2-4 it is undecided.
SPANS = [
    sp(1, 1, 0, "request", 0, attrs={"order.id": "o1"}),
    sp(1, 2, 1, "reply", 2, attrs={"order.id": "o1"}),
    sp(2, 3, 0x99, "request", 10, attrs={"order.id": "o2"}),
    sp(3, 5, 0x98, "request", 20), sp(3, 6, 5, "reply", 22),
    sp(4, 7, 0x97, "step", 30, status="error"),  # partial, with a final violation
]


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("partial") / "traces.json"
    path.write_text(json.dumps(request_to_json(spans_to_request(SPANS))))
    return path


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("partial") / "p.spec"
    path.write_text(SPEC)
    return path


def monitor(spec: Path, traces: Path, *args: str, fmt: str = "json") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", str(spec), str(traces), "--format", fmt, *args], out, err)
    return code, out.getvalue(), err.getvalue()


def _report(engine: str, mode: str):
    mon = Monitor(tracelogic.load(SPEC), engine=engine, partial_traces=mode)
    mon.feed_otlp(spans_to_request(SPANS).SerializeToString())
    return mon.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_default_reports_undecided_partial_instances_inconclusive(engine):
    report = _report(engine, "inconclusive")
    by = {p.name: p for p in report.properties}
    t = [f"{i:032x}" for i in range(5)]
    inc = "inconclusive"
    assert dict(by["answered"].results) == {t[1]: "satisfied", t[2]: inc, t[3]: inc,
                                            t[4]: inc}
    assert dict(by["reached"].results) == {t[1]: "satisfied", t[2]: inc,
                                           t[3]: "satisfied", t[4]: inc}
    assert dict(by["no_failures"].results) == {t[1]: "satisfied", t[2]: inc, t[3]: inc,
                                               t[4]: "violated"}
    assert dict(by["replied"].results) == {"o1": "satisfied", "o2": inc}
    assert {p.name: p.inconclusive_partial for p in report.properties} == {
        "answered": 3, "no_failures": 2, "replied": 1, "reached": 2}
    assert all(p.ignored_partial == 0 for p in report.properties)
    assert report.exit_code() == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_ignore_leaves_them_out_and_counts_them(engine):
    default, ignored = _report(engine, "inconclusive"), _report(engine, "ignore")
    by = {p.name: p for p in ignored.properties}
    t = [f"{i:032x}" for i in range(5)]
    assert dict(by["answered"].results) == {t[1]: "satisfied"}
    assert dict(by["reached"].results) == {t[1]: "satisfied", t[3]: "satisfied"}
    assert dict(by["no_failures"].results) == {t[1]: "satisfied", t[4]: "violated"}
    assert dict(by["replied"].results) == {"o1": "satisfied"}  # a cross-trace instance
    assert {p.name: p.ignored_partial for p in ignored.properties} == {
        "answered": 3, "no_failures": 2, "replied": 1, "reached": 2}
    assert all(p.inconclusive_partial == 0 for p in ignored.properties)
    assert by["answered"].instances == 1
    # the final violation on a partial trace is still reported
    assert [v.to_json() for v in ignored.violations] == [v.to_json() for v in
                                                        default.violations]
    assert {v.prop.name for v in ignored.violations} == {"no_failures"}
    assert ignored.summary()["ignored_partial"] == 8
    assert ignored.exit_code() == 0 and default.exit_code() == 1


@pytest.mark.parametrize("mode", ["inconclusive", "ignore"])
def test_engines_agree(mode):
    assert _report("python", mode).to_json() == _report("native", mode).to_json()


def test_the_keyword_is_checked():
    with pytest.raises(InputError, match="partial_traces='drop': expected one of inconclusive, ignore"):
        Monitor(tracelogic.load(SPEC), partial_traces="drop")  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_cli_json_fields_validate(engine, spec_file, traces):
    for mode, key in (("inconclusive", "inconclusive_partial"), ("ignore", "ignored_partial")):
        code, out, err = monitor(spec_file, traces, f"--partial-traces={mode}",
                                 "--engine", engine)
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        counts = {p["name"]: p.get(key, 0) for p in doc["properties"]}
        assert counts == {"answered": 3, "no_failures": 2, "replied": 1, "reached": 2}
        assert (code, doc["summary"].get("ignored_partial")) == (
            (1, None) if mode == "inconclusive" else (0, 8))


def test_the_hint_when_the_only_failures_are_partial(spec_file, traces):
    code, out, err = monitor(spec_file, traces, fmt="text")
    assert code == 1
    hints = [line for line in out.splitlines() if line.startswith("hint: ")]
    assert len(hints) == 1 and "--partial-traces=ignore" in hints[0]
    assert "8 inconclusive verdict(s) on partial traces" in hints[0]
    assert "traceparent" in hints[0] and "gateway" in hints[0]
    assert "? answered (trace): 4 instance(s), 0 violated, 3 undecided (3 on partial " \
        "traces)" in out
    # beside JSON: on stderr, so that stdout stays one JSON document
    code, out, err = monitor(spec_file, traces)
    assert code == 1 and "hint: " not in out and err.startswith("hint: ")
    json.loads(out)
    # no failure, no hint: --allow-unknown, or --partial-traces=ignore
    for args in (["--allow-unknown"], ["--partial-traces=ignore"]):
        code, out, err = monitor(spec_file, traces, *args, fmt="text")
        assert code == 0 and "hint:" not in out + err
    code, out, _ = monitor(spec_file, traces, "--partial-traces=ignore", fmt="text")
    assert "answered (trace): 1 instance(s), 0 violated, 3 undecided on partial traces " \
        "ignored" in out
    assert out.splitlines()[-1].endswith(", 8 partial ignored")


def test_no_hint_when_something_else_fails(tmp_path, traces):
    spec = tmp_path / "s.spec"
    spec.write_text(SPEC.replace(" severity warning", ""))  # now a failing violation
    code, out, err = monitor(spec, traces, fmt="text")
    assert code == 1 and "hint:" not in out + err
    code, out, err = monitor(spec, traces, "--strict", fmt="text")
    assert code == 1 and "hint:" not in out + err  # the warning-severity violation fails

