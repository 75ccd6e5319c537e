"""The pytest plugin, run through pytest's own `pytester`: real sessions, real SDK spans."""
from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SPEC = textwrap.dedent('''\
    pred op(n) = name == n
    property auth_before_charge "no charge until an authorize" severity critical:
      !op("charge") W op("authorize")
    property answered: G (op("POST /checkout") & start -> F (op("POST /checkout") & end))
''')

APP = textwrap.dedent('''\
    from opentelemetry import trace

    def checkout(authorize_first=True):
        t = trace.get_tracer("shop")
        with t.start_as_current_span("POST /checkout"):
            if authorize_first:
                with t.start_as_current_span("authorize"):
                    pass
            with t.start_as_current_span("charge"):
                pass
''')


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".spec", shop=SPEC)
    pytester.makepyfile(shopapp=APP)
    return pytester


def test_marker_passes_and_fails_with_the_witness(project: pytest.Pytester):
    project.makepyfile(test_shop='''
        import pytest
        from shopapp import checkout

        @pytest.mark.spec("shop.spec")
        def test_good():
            checkout()

        @pytest.mark.spec("shop.spec::auth_before_charge")
        def test_bad():
            checkout(authorize_first=False)
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*tracelogic: 1 property violated (shop.spec)",
        "*auth_before_charge [[]critical]: no charge until an authorize",
        '*| property auth_before_charge "no charge until an authorize" severity critical:',
        '*|   !op("charge") W op("authorize")',
        "*shop.spec:2",
        "*key * violated at `charge` start",
        "*offset ms*service*span*event status",
        "*0.000 ms*charge*start unset",
        "FAILED test_shop.py::test_bad*",
    ])
    assert "test_good" not in "\n".join(l for l in result.outlines if l.startswith("FAILED"))


def test_fixture_isolates_spans_per_test_and_satisfy(project: pytest.Pytester):
    project.makepyfile(test_fx='''
        from shopapp import checkout

        def test_one(otel_spans):
            checkout()
            assert otel_spans.names() == ["authorize", "charge", "POST /checkout"]
            otel_spans.satisfy("shop.spec::auth_before_charge")

        def test_two_sees_only_its_own(otel_spans):
            assert len(otel_spans) == 0
            checkout(authorize_first=False)
            assert len(otel_spans) == 2

        def test_three_satisfy_fails(otel_spans):
            checkout(authorize_first=False)
            otel_spans.satisfy("shop.spec::auth_before_charge")
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_three_satisfy_fails*", "*auth_before_charge [[]critical]*"])


def test_command_line_option_checks_every_test(project: pytest.Pytester):
    project.makepyfile(test_cli='''
        from shopapp import checkout

        def test_good():
            checkout()

        def test_bad():
            checkout(authorize_first=False)

        def test_no_spans():
            assert 1 + 1 == 2
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider",
                                          "--tracelogic-spec", "shop.spec")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_cli.py::test_bad*"])
    # without the option nothing is checked
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_joins_the_applications_provider_instead_of_replacing_it(project: pytest.Pytester):
    project.makeconftest('''
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        APP_EXPORTER = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(APP_EXPORTER))
        trace.set_tracer_provider(provider)
    ''')
    project.makepyfile(test_app='''
        from opentelemetry import trace
        from conftest import APP_EXPORTER
        from shopapp import checkout

        def test_both_see_the_spans(otel_spans):
            checkout()
            assert otel_spans.provider is trace.get_tracer_provider()
            assert [s.name for s in APP_EXPORTER.get_finished_spans()][-3:] == \\
                otel_spans.names()
    ''')
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_project_that_does_not_use_it_gets_no_provider(pytester: pytest.Pytester):
    pytester.makepyfile(test_plain='''
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        def test_untouched():
            assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    ''')
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_xdist_workers(project: pytest.Pytester):
    project.makepyfile(test_many='''
        import pytest
        from shopapp import checkout

        @pytest.mark.parametrize("i", range(8))
        @pytest.mark.spec("shop.spec")
        def test_good(i, otel_spans):
            checkout()
            assert len(otel_spans) == 3

        @pytest.mark.parametrize("i", range(4))
        @pytest.mark.spec("shop.spec")
        def test_bad(i):
            checkout(authorize_first=False)
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8, failed=4)


def test_unknown_spec_or_property_is_a_clear_error(project: pytest.Pytester):
    project.makepyfile(test_err='''
        import pytest
        from shopapp import checkout

        @pytest.mark.spec("missing.spec")
        def test_missing():
            checkout()

        @pytest.mark.spec("shop.spec::nope")
        def test_unknown_property():
            checkout()
    ''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*spec file 'missing.spec' not found*",
                                 "*no property named nope*"])


def test_assert_spec_api_with_sdk_spans():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracelogic.testing import SpecViolation, assert_spec

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    t = provider.get_tracer("x")
    with t.start_as_current_span("POST /checkout"):
        with t.start_as_current_span("charge"):
            pass
    with pytest.raises(SpecViolation) as info:
        assert_spec(SPEC, exporter.get_finished_spans())
    assert [v.prop.name for v in info.value.report.violations] == ["auth_before_charge"]
    report = assert_spec(SPEC, exporter.get_finished_spans(), ["answered"])
    assert report.properties[0].results[0][1] == "satisfied"
