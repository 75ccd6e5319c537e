"""`monitor --format junit` as CI systems read it (issue 16, item 5).

Parsed with junitparser, the JUnit reader CI tooling uses (test extras in pyproject.toml):
the report must agree with the exit code under the same options (a warning-severity
violation is not a failure unless --strict), give each property one testcase and at most
one <failure> holding every violated instance with its witness timeline, and carry time
attributes.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

from tracelogic.cli import run

DATA = Path(__file__).parent / "data" / "monitor"
EDGE = DATA / "edge.spec"

# `failed` holds of a root span with status error in out_of_order.jsonl
WARN_SPEC = """pred failed = status == error
property quiet severity warning:
  absence(failed)
property typo_attr:
  G !(attr["htp.status"] == "teapot")
"""


def junit(*args: str) -> tuple[int, TestSuite, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["monitor", *args, "--format", "junit"], out, err)
    xml = JUnitXml.fromstring(out.getvalue())  # a <testsuite> root reads as one suite
    (suite,) = xml if isinstance(xml, JUnitXml) else (xml,)
    assert isinstance(suite, TestSuite) and suite.name == "tracelogic monitor"
    return code, suite, out.getvalue()


def outcome(suite: TestSuite) -> dict[str, str]:
    """Each case: passed, failed, error or skipped, from the parser's view."""
    res = {}
    for case in suite:
        kinds = {type(r) for r in case.result}
        res[case.name] = ("failed" if Failure in kinds else "error" if Error in kinds
                          else "skipped" if Skipped in kinds else "passed")
    return res


@pytest.fixture
def warn_spec(tmp_path: Path) -> Path:
    path = tmp_path / "warn.spec"
    path.write_text(WARN_SPEC)
    return path


def test_a_warning_violation_is_not_a_failure_without_strict(warn_spec):
    code, suite, raw = junit(str(warn_spec), str(DATA / "out_of_order.jsonl"))
    assert code == 0
    assert outcome(suite) == {"quiet": "passed", "typo_attr": "passed"}
    assert suite.failures == 0 and suite.errors == 0
    (quiet,) = [c for c in suite if c.name == "quiet"]
    assert "warning-severity violation(s), not failures without --strict" in quiet.system_out
    assert "root" in quiet.system_out  # the witness timeline is still there to read


def test_strict_makes_the_warning_a_failure(warn_spec):
    code, suite, _ = junit(str(warn_spec), str(DATA / "out_of_order.jsonl"), "--strict")
    assert code == 1
    # the run's warnings (an attribute no span carried) fail it too, in a case of their own
    assert outcome(suite) == {"quiet": "failed", "typo_attr": "passed", "(run)": "failed"}
    assert suite.failures == 2
    (run_,) = [c for c in suite if c.name == "(run)"]
    assert "warning: " in run_.result[0].text and "htp.status" in run_.result[0].text


def test_one_failure_per_property_holding_every_instance_with_its_timeline():
    code, suite, raw = junit(str(EDGE), str(DATA / "out_of_order.jsonl"))
    assert code == 1
    assert outcome(suite) == {
        "root_first": "passed", "a_then_b": "passed", "child_inside": "passed",
        "no_failures": "failed", "finishes": "failed", "answered": "failed",
        "no_5xx": "passed", "typo_attr": "passed"}
    assert suite.tests == 8 and suite.failures == 3
    (finishes,) = [c for c in suite if c.name == "finishes"]
    (failure,) = finishes.result  # one element for both violated traces
    assert failure.message == "finishes: 2 violated instance(s) of 2"
    assert failure.type == "error"
    body = failure.text
    assert "key 11111111111111111111111111111111" in body
    assert "key 22222222222222222222222222222222" in body
    assert "offset ms  service" in body  # the timeline's header, once per instance
    assert body.count("offset ms  service") == 2
    assert "`root` end" in body


def test_every_case_and_the_suite_have_a_time():
    _, suite, _ = junit(str(EDGE), str(DATA / "out_of_order.jsonl"))
    assert suite.time > 0
    times = [case.time for case in suite]
    assert all(t > 0 for t in times)
    # the monitored properties share the run's time: together they add up to it
    assert sum(times) == pytest.approx(suite.time, abs=1e-5)


@pytest.mark.parametrize("inputs", [
    ("out_of_order.jsonl",), ("partial.json",), ("skew.json",),
    ("malformed.jsonl", "bad_id.json"), ("duplicates.jsonl",), ("missing-file.json",)])
@pytest.mark.parametrize("options", [(), ("--strict",), ("--allow-unknown",)])
def test_the_report_is_red_exactly_when_the_exit_code_is_not_zero(inputs, options, warn_spec):
    for spec in (EDGE, warn_spec):
        code, suite, _ = junit(str(spec), *(str(DATA / i) for i in inputs), *options)
        red = set(outcome(suite).values()) & {"failed", "error"}
        assert bool(red) == (code != 0), (spec, inputs, options, outcome(suite))
        if code == 2:
            assert "(input)" in outcome(suite) and outcome(suite)["(input)"] == "error"
            assert suite.errors == 1
