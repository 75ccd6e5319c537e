"""Scalable model families for bench/bench_models.py, as spec text (one check each)."""
from __future__ import annotations


def counters(n: int) -> str:
    """Two n-bit ripple counters stepped together; invariant: they are equal (2^n states)."""
    lines = ["model counters {"]
    for c in "ab":
        lines += [f"  var {c}{i} : bool = false" for i in range(n)]
    assigns = []
    for c in "ab":
        for i in range(n):
            carry = " & ".join(f"{c}{j}" for j in range(i)) or "true"
            assigns.append(f"{c}{i} := {c}{i} xor ({carry})")
    lines.append("  action tick do " + "; ".join(assigns))
    lines.append("}")
    inv = " & ".join(f"(a{i} == b{i})" for i in range(n))
    return "\n".join(lines) + f"\ncheck counters: invariant {inv}\n"


def peterson(n: int) -> str:
    """Peterson's filter lock for n processes; invariant: mutual exclusion."""
    lines = ["model filter {"]
    for i in range(n):
        lines += [f"  var lv{i} : 0..{n - 1} = 0", f"  var w{i} : bool = false",
                  f"  var cs{i} : bool = false"]
    for lvl in range(1, n):
        lines.append(f"  var vic{lvl} : 0..{n - 1} = 0")
    for i in range(n):
        for lvl in range(1, n):
            lines.append(f"  action adv{i}_{lvl} when lv{i} == {lvl - 1} & !w{i} & !cs{i} "
                         f"do lv{i} := {lvl}; vic{lvl} := {i}; w{i} := true")
            others = " | ".join(f"lv{k} >= {lvl}" for k in range(n) if k != i)
            lines.append(f"  action pass{i}_{lvl} when lv{i} == {lvl} & w{i} & "
                         f"(!({others}) | vic{lvl} != {i}) do w{i} := false")
        lines.append(f"  action enter{i} when lv{i} == {n - 1} & !w{i} & !cs{i} do cs{i} := true")
        lines.append(f"  action exit{i} when cs{i} do cs{i} := false; lv{i} := 0")
    lines.append("}")
    mutex = " & ".join(f"!(cs{i} & cs{j})" for i in range(n) for j in range(i + 1, n))
    return "\n".join(lines) + f"\ncheck filter: invariant {mutex}\n"


def philosophers(n: int, deadlock: bool = False) -> str:
    """Dining philosophers, left fork first; invariant: no two neighbours eat (or deadlock)."""
    lines = ["enum Phil { thinking, hungry, eating }", "model dining {"]
    for i in range(n):
        lines += [f"  var p{i} : Phil = thinking", f"  var f{i} : bool = false"]
    for i in range(n):
        r = (i + 1) % n
        lines.append(f"  action left{i} when p{i} == thinking & !f{i} do p{i} := hungry; f{i} := true")
        lines.append(f"  action right{i} when p{i} == hungry & !f{r} do p{i} := eating; f{r} := true")
        lines.append(f"  action put{i} when p{i} == eating do p{i} := thinking; f{i} := false; "
                     f"f{r} := false")
    lines.append("}")
    if deadlock:
        return "\n".join(lines) + "\ncheck dining: deadlock_free\n"
    inv = " & ".join(f"!(p{i} == eating & p{(i + 1) % n} == eating)" for i in range(n))
    return "\n".join(lines) + f"\ncheck dining: invariant {inv}\n"
