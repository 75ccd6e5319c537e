"""The controllers the control-loop tests share: docs/control.md's examples (the page is
the single source, so the tests run exactly what it shows) and small variants."""
from __future__ import annotations

import re
from pathlib import Path

import tracelogic

DOCS = Path(__file__).resolve().parents[2] / "docs" / "control.md"
PAGE = DOCS.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```spec\n(.*?)```", PAGE, re.S)
# `claim NAME: … # proved` / `# refuted`: the verdict the page claims, per controller
CLAIMED = [(c.group(1), m.group(1), m.group(2), block)
           for block in BLOCKS for c in [re.search(r"^controller (\w+)", block, re.M)]
           for m in re.finditer(r"^\s*claim (\w+):[^\n#]*# (proved|refuted)", block, re.M)]


def controller(name: str, text: str | None = None):
    """A controller of docs/control.md by name (or of ``text``)."""
    if text is None:
        text = next(b for b in BLOCKS if re.search(rf"^controller {name}\b", b, re.M))
    return tracelogic.load(text, filename="control.spec").controllers[name]


def claim(ctl, name: str):
    return next(c for c in ctl.claims if c.name == name)
