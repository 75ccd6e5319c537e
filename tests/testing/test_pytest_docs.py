"""docs/pytest.md's Hypothesis example runs as written (issue 16, item 6): `spec` comes from
`tracelogic.load`, `traces_from` draws GeneratedTraces and `spans()` a tuple of Spans."""
from __future__ import annotations

import re
from pathlib import Path

from tracelogic.ingest.spans import Span
from tracelogic.testing.strategies import GeneratedTrace

ROOT = Path(__file__).resolve().parents[2]


def example() -> str:
    text = (ROOT / "docs" / "pytest.md").read_text()
    section = text[text.index("## Generating traces"):]
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", section, re.S)
                if "tracelogic.load" in b][:1]
    return block


def test_the_strategies_example_runs_against_the_workflow_example(monkeypatch):
    monkeypatch.chdir(ROOT / "examples" / "language")
    scope: dict = {}
    exec(compile(example(), "docs/pytest.md", "exec"), scope)
    tests = {k: v for k, v in scope.items() if k.startswith("test_")}
    assert set(tests) == {"test_every_valid_order_flow_conforms",
                          "test_every_broken_flow_is_caught", "test_any_span_tree_is_one_trace"}
    for fn in tests.values():
        fn()  # Hypothesis runs each over its examples, with the page's settings


def test_what_the_strategies_draw_is_what_the_page_says():
    from hypothesis import given, settings

    import tracelogic
    from tracelogic.testing.strategies import spans, traces_from

    spec = tracelogic.load(str(ROOT / "examples" / "language" / "workflow.spec"))
    assert isinstance(spec, tracelogic.api.Spec)
    seen = []

    @settings(max_examples=5)
    @given(traces_from(spec.workflows["order"]), spans())
    def draw(trace, tree):
        seen.append((trace, tree))

    draw()
    for trace, tree in seen:
        assert isinstance(trace, GeneratedTrace)
        assert isinstance(tree, tuple) and all(isinstance(s, Span) for s in tree)
