"""Workflows the kernel's differential test runs on: every documented one and a seeded sample.

- :func:`documented_workflows`: each workflow declared in a spec under ``examples/`` or in a
  ```` ```spec ```` block of ``docs/*.md``, keyed by where it comes from;
- :func:`seeded_workflow`: a workflow term drawn by ``random.Random(seed)`` (every operator,
  nesting, ``skip``), so that the same seed always gives the same term and a recorded oracle
  can be compared with today's automata seed by seed.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Iterator

from tracelogic.models.workflow import Alt, Opt, Par, Seq, Skip, Star, Step, Wf
from tracelogic.spec.loader import load
from tracelogic.spec.typed import WorkflowT

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(300)
_SPEC_BLOCK = re.compile(r"```spec\n(.*?)```", re.S)


def _spec_sources() -> Iterator[tuple[str, str, Path]]:
    for path in sorted((ROOT / "examples").glob("**/*.spec")):
        yield str(path.relative_to(ROOT)), path.read_text(), path.parent
    for md in sorted((ROOT / "docs").glob("*.md")):
        # keyed by page and workflow name, not block number: docs gain blocks
        for m in _SPEC_BLOCK.finditer(md.read_text()):
            yield str(md.relative_to(ROOT)), m.group(1), ROOT


def documented_workflows() -> dict[str, WorkflowT]:
    """``"origin:name" -> workflow`` for every workflow of a spec that loads.

    A documentation block that is meant to fail (an error example) declares no workflow
    that loads, so it is simply absent; the test compares the keys with the recorded ones,
    so a documented workflow that stops loading is noticed."""
    out: dict[str, WorkflowT] = {}
    for origin, text, where in _spec_sources():
        if "workflow" not in text:
            continue
        try:
            spec = load(text, filename=origin, spec_path=[where])
        except Exception:  # noqa: BLE001 - error examples in the docs do not load on purpose
            continue
        for name, wf in spec.workflows.items():
            out[f"{origin}:{name}"] = wf
    return out


def seeded_workflow(seed: int, steps: tuple[str, ...] = ("a", "b", "c"), leaves: int = 6) -> Wf:
    """A random workflow term of at most ``leaves`` leaves, built bottom-up (no recursion)."""
    rnd = random.Random(seed)
    pool: list[Wf] = [Skip() if rnd.random() < 0.15 else Step(rnd.choice(steps))
                      for _ in range(rnd.randint(1, leaves))]
    while len(pool) > 1 or rnd.random() < 0.3:
        op = rnd.choice("spa*?" if len(pool) > 1 else "*?")
        if op in "*?":
            i = rnd.randrange(len(pool))
            pool[i] = (Star if op == "*" else Opt)(pool[i])
            continue
        k = rnd.randint(2, min(3, len(pool)))
        parts = tuple(pool.pop(rnd.randrange(len(pool))) for _ in range(k))
        pool.append({"s": Seq, "p": Par, "a": Alt}[op](parts))
    return pool[0]
