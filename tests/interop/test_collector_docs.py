"""docs/serve.md quotes the Collector configurations the Collector tests run, as they are,
and the Collector Builder manifest keeps every module at one release. No Collector needed."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVE_MD = ROOT / "docs" / "serve.md"
DEPLOY = ROOT / "deploy" / "collector"
INCLUDE = re.compile(r"<!-- include: (\S+) -->\n```yaml\n(.*?)```\n", re.S)


def test_serve_md_quotes_each_collector_config_exactly():
    text = SERVE_MD.read_text()
    quoted = {path: body for path, body in INCLUDE.findall(text)}
    assert set(quoted) == {"deploy/collector/scale-out.yaml", "deploy/collector/tee.yaml"}
    for path, body in quoted.items():
        assert body == (ROOT / path).read_text(), f"docs/serve.md's copy of {path} differs"


def test_serve_md_has_no_other_collector_config():
    # any other YAML block with a pipeline would be a configuration no test runs
    text = INCLUDE.sub("", SERVE_MD.read_text())
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        assert "pipelines:" not in block and "exporters:" not in block, block


def test_builder_manifest_pins_one_release():
    text = (DEPLOY / "builder.yaml").read_text()
    version = re.search(r"^  version: *(\S+)", text, re.M).group(1)
    mods = re.findall(r"gomod: (\S+) (v\S+)", text)
    assert len(mods) >= 7
    minor = int(version.split(".")[1])
    for mod, v in mods:
        # the core's and contrib's v0 modules carry the release itself; the core's stable
        # (v1) modules of the same release are numbered 94 minor versions lower
        assert v in (f"v{version}", f"v1.{minor - 94}.0"), (mod, v)
    names = {m.rsplit("/", 1)[1] for m, _ in mods}
    assert {"otlpreceiver", "otlpexporter", "otlphttpexporter", "fileexporter",
            "loadbalancingexporter", "groupbytraceprocessor", "batchprocessor"} <= names
    # the builder is pinned to the same release
    script = (ROOT / "scripts" / "install_collector.sh").read_text()
    assert 'cmd/builder@v$VERSION' in script
