"""What the operations kit (deploy/) is checked against: the metric families a real
`tracelogic serve` exposes on /metrics (their `# TYPE` lines; the exposition itself is
linted by promtool in test_prometheus.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sidecar.serve_helpers import metrics_text, start_serve

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="package")
def exposition(tmp_path_factory) -> str:
    """A running serve's /metrics text."""
    tmp = tmp_path_factory.mktemp("serve")
    sp = start_serve(tmp)
    try:
        return metrics_text(sp)
    finally:
        sp.terminate()


@pytest.fixture(scope="package")
def families(exposition: str) -> dict[str, str]:
    """``{family name: type}`` from serve's /metrics (a histogram's ``_bucket``, ``_sum``
    and ``_count`` series belong to its family)."""
    out = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            out[name] = kind
    assert len(out) >= 30, out  # the sidecar's registry, not an empty page
    return out


METRIC = re.compile(r"\b(tracelogic_[a-z0-9_]+)\b")


def series_family(name: str, families: dict[str, str]) -> str | None:
    """The family a series name in an expression belongs to, or None."""
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and families.get(base) == "histogram":
            return base
    return None
