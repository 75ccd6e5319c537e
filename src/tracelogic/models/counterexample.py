"""Counterexample runs of a model: a table of states and actions, as text and as JSON.

A :class:`Run` is a sequence of states, the action that led to each (``None``
for the initial state), and for a lasso (a liveness counterexample) the index
where the loop starts: after the last state the run continues with
``loop_action`` back to ``states[loop_start]``, forever. Changed variables are
marked with ``*`` in the text table and listed under ``changed`` in JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from tracelogic.models.machine import show_value

__all__ = ["Run", "STUTTER"]

STUTTER = "(stutter)"  # the step that extends a run in a deadlocked state, as spin does


@dataclass
class Run:
    var_names: tuple[str, ...]
    states: list[tuple]
    actions: list[str | None]
    loop_start: int | None = None
    loop_action: str | None = None
    error: str | None = None      # a runtime error of the model after the last state
    note: str | None = None       # e.g. "deadlock: no action is enabled"
    marks: dict[int, str] = field(default_factory=dict)  # state index -> remark
    # the variables' types, for the text table's units (`10s`, `96Mi`, cpu `600m`); JSON
    # keeps the plain values
    var_types: tuple = ()

    def __len__(self) -> int:
        return len(self.states)

    @property
    def is_lasso(self) -> bool:
        return self.loop_start is not None

    def changed(self, i: int) -> list[str]:
        if i == 0:
            return []
        prev, cur = self.states[i - 1], self.states[i]
        return [n for n, a, b in zip(self.var_names, prev, cur) if a != b]

    def to_json(self) -> dict[str, Any]:
        steps = []
        for i, (s, a) in enumerate(zip(self.states, self.actions)):
            steps.append({"step": i, "action": a,
                          "state": {n: _json_value(v) for n, v in zip(self.var_names, s)},
                          "changed": self.changed(i)})
            if i in self.marks:
                steps[-1]["remark"] = self.marks[i]
        out: dict[str, Any] = {"variables": list(self.var_names), "steps": steps}
        if self.loop_start is not None:
            out["loop_start"] = self.loop_start
            out["loop_action"] = self.loop_action
        if self.error:
            out["error"] = self.error
        if self.note:
            out["note"] = self.note
        return out

    def to_table(self) -> str:
        header = ["step", "action"] + list(self.var_names)
        rows = []
        for i, (s, a) in enumerate(zip(self.states, self.actions)):
            changed = set(self.changed(i))
            cells = [str(i), "(initial)" if a is None else a]
            cells += [show_value(v, self.var_types[k] if k < len(self.var_types) else None)
                      + ("*" if n in changed else "")
                      for k, (n, v) in enumerate(zip(self.var_names, s))]
            rows.append(cells)
        widths = [max(len(r[k]) for r in [header] + rows) for k in range(len(header))]
        fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        lines = [fmt(header)]
        for i, cells in enumerate(rows):
            if self.loop_start == i:
                lines.append("-- loop starts here --")
            line = fmt(cells)
            if i in self.marks:
                line += f"    <- {self.marks[i]}"
            lines.append(line)
        if self.loop_start is not None:
            lines.append(f"-- {self.loop_action} leads back to step {self.loop_start}, forever --")
        if self.note:
            lines.append(f"-- {self.note} --")
        if self.error:
            lines.append(f"-- then: {self.error} --")
        lines.append("(* marks the variables the step changed)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_table()


def _json_value(v):
    if isinstance(v, bool) or isinstance(v, (int, str)):
        return v
    return show_value(v)


def run_from_path(machine, explored, path: Sequence[tuple[int, int]]) -> Run:
    """A :class:`Run` from :meth:`Explored.path_to` output."""
    return Run(machine.var_names, [explored.states[j] for _, j in path],
               [None if a < 0 else machine.action_names[a] for a, _ in path],
               var_types=machine.var_types)
