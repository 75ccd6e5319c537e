"""The pytest plugin (entry point ``pytest11: tracelogic``).

- fixture ``otel_spans``: the spans this test produced (OpenTelemetry SDK), with
  ``otel_spans.satisfy("shop.spec::answered")``;
- marker ``@pytest.mark.spec("shop.spec", properties=[...])``: after the test
  body passes, its spans must satisfy the spec;
- option ``--tracelogic-spec PATH`` (repeatable): the same for every test;
- ini option ``tracelogic_spec_path``: directories (relative to the ini file)
  whose ``.spec`` files a spec's imports may read, besides the spec's own.

Nothing is installed until a test asks for it: a project that only has
tracelogic installed sees no global tracer provider appear.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from tracelogic.testing.assertions import assert_spec, split_target
from tracelogic.testing.recorder import SpanRecorder, attach

_RECORDER_KEY = pytest.StashKey[SpanRecorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tracelogic", "formal properties over the spans each test produces")
    group.addoption("--tracelogic-spec", action="append", default=[], metavar="PATH",
                    help="check every test's spans against this spec (PATH or PATH::PROPERTY; "
                    "repeatable)")
    group.addoption("--tracelogic-allow-unknown", action="store_true",
                    help="inconclusive verdicts (e.g. traces with missing parents) do not fail")
    parser.addini("tracelogic_spec_path", type="paths", default=[],
                  help="directories whose .spec files a spec's imports may read, besides the "
                  "spec's own (one a line, relative to the ini file)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spec(path, properties=None): after the test, the spans it produced must "
        "satisfy the spec (PATH or PATH::PROPERTY)")


def _recorder(config: pytest.Config) -> SpanRecorder:
    recorder = config.stash.get(_RECORDER_KEY, None)
    if recorder is None:
        recorder = SpanRecorder()
        attach(recorder)
        config.stash[_RECORDER_KEY] = recorder
    return recorder


def _spec_path(config: pytest.Config) -> tuple[str, ...]:
    return tuple(str(p) for p in config.getini("tracelogic_spec_path"))


def _targets(item: pytest.Item) -> list[tuple[str, list[str] | None]]:
    out = []
    for mark in item.iter_markers("spec"):
        if not mark.args:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.spec needs a spec path")
        path, props = split_target(str(mark.args[0]))
        extra = mark.kwargs.get("properties")
        if extra is not None:
            props = list(props or []) + list(extra)
        out.append((path, props))
    for target in item.config.getoption("tracelogic_spec") or []:
        out.append(split_target(target))
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _targets(item):
        _recorder(item.config).clear()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[Any]:
    __tracebackhide__ = True
    result = yield
    targets = _targets(pyfuncitem)
    if targets:
        recorder = _recorder(pyfuncitem.config)
        spans = recorder.spans
        base = os.path.dirname(str(pyfuncitem.path))
        allow = pyfuncitem.config.getoption("tracelogic_allow_unknown")
        for path, props in targets:
            assert_spec(path, spans, props, base_dir=base, allow_unknown=allow,
                        spec_path=_spec_path(pyfuncitem.config))
    return result


class RecordedSpans:
    """What ``otel_spans`` gives a test: its spans, and assertions over them."""

    def __init__(self, recorder: SpanRecorder, base_dir: str, allow_unknown: bool,
                 spec_path: tuple[str, ...] = ()):
        self._recorder = recorder
        self._base_dir = base_dir
        self._allow_unknown = allow_unknown
        self._spec_path = spec_path

    @property
    def spans(self) -> list:
        return self._recorder.spans

    @property
    def provider(self):
        return self._recorder.provider

    def names(self) -> list[str]:
        return [s.name for s in self._recorder.spans]

    def clear(self) -> None:
        self._recorder.clear()

    def satisfy(self, target: str, *, allow_unknown: bool | None = None):
        """Fail the test unless the spans so far satisfy ``PATH`` or ``PATH::PROPERTY``."""
        __tracebackhide__ = True
        path, props = split_target(target)
        return assert_spec(path, self.spans, props, base_dir=self._base_dir,
                           allow_unknown=self._allow_unknown if allow_unknown is None
                           else allow_unknown, spec_path=self._spec_path)

    def __iter__(self):
        return iter(self.spans)

    def __len__(self) -> int:
        return len(self._recorder)

    def __repr__(self) -> str:
        return f"<otel_spans: {len(self)} span(s): {', '.join(self.names()[:5])}>"


@pytest.fixture
def otel_spans(request: pytest.FixtureRequest) -> Iterator[RecordedSpans]:
    """The spans the current test produces through the OpenTelemetry SDK."""
    recorder = _recorder(request.config)
    recorder.clear()
    yield RecordedSpans(recorder, os.path.dirname(str(request.path)),
                        request.config.getoption("tracelogic_allow_unknown"),
                        _spec_path(request.config))
    recorder.clear()
