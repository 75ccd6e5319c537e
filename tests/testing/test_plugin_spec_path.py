"""The plugin's `tracelogic_spec_path` ini option: where a spec's imports may read."""
from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

LIB = 'pred op(n) = name == n\n'
SPEC = textwrap.dedent('''\
    import "../shared/lib.spec"
    property ordered: !lib.op("charge") W lib.op("authorize")
''')
TESTS = textwrap.dedent('''\
    import pytest
    from opentelemetry import trace

    @pytest.mark.spec("specs/shop.spec")
    def test_marker():
        t = trace.get_tracer("shop")
        with t.start_as_current_span("POST /checkout"):
            with t.start_as_current_span("authorize"):
                pass
            with t.start_as_current_span("charge"):
                pass

    def test_fixture(otel_spans):
        with trace.get_tracer("shop").start_as_current_span("charge"):
            pass
        otel_spans.satisfy("specs/shop.spec::ordered")
''')


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "specs").mkdir()
    (pytester.path / "shared").mkdir()
    (pytester.path / "specs" / "shop.spec").write_text(SPEC)
    (pytester.path / "shared" / "lib.spec").write_text(LIB)
    pytester.makepyfile(test_shop=TESTS)
    return pytester


def test_an_import_outside_the_spec_directory_is_refused_by_default(project: pytest.Pytester):
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*cannot import `../shared/lib.spec`*outside the directories*",
                                 "*tracelogic_spec_path*"])


def test_the_ini_option_lets_imports_read_there(project: pytest.Pytester):
    project.makeini("[pytest]\ntracelogic_spec_path =\n    shared\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    # the marker's spans authorize first; the fixture's charge without authorize violates
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_shop.py::test_fixture*"])
