"""Units (SPEC-LANGUAGE.md §1): durations are integer nanoseconds, sizes integer bytes
with the Kubernetes quantity suffixes, cpu a number of cores (`500m` in a config is half
a core). The spec lexer, the config document reader and the message printers read
these tables; nothing else defines a unit.
"""
from __future__ import annotations

from fractions import Fraction

#: duration suffix -> nanoseconds; `m` is minutes
DURATION_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                  "h": 3600 * 10**9, "d": 86400 * 10**9}
#: Kubernetes quantity suffix -> bytes
BYTE_UNITS = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
              "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
              "Ei": 2**60}
#: a Kubernetes cpu quantity's `m` suffix: thousandths of a core
CPU_MILLI = Fraction(1, 1000)


def split_unit(text: str, units: dict[str, int]) -> tuple[Fraction, str]:
    """Split `1.5m` into (Fraction(3, 2), "m"), matching the longest unit suffix."""
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return Fraction(text[: -len(unit)].replace("_", "")), unit
    raise ValueError(f"no unit in {text!r}")


def _whole(text: str, units: dict[str, int], what: str) -> int:
    number, unit = split_unit(text, units)
    value = number * units[unit]
    if value.denominator != 1:
        raise ValueError(f"`{text}` is not a whole number of {what}")
    return int(value)


def parse_duration(text: str) -> int:
    """`250ms` -> 250_000_000; raises ValueError when not a whole number of nanoseconds."""
    return _whole(text, DURATION_UNITS, "nanoseconds")


def parse_bytes(text: str) -> int:
    """`512Mi` -> 536_870_912; raises ValueError when not a whole number of bytes."""
    return _whole(text, BYTE_UNITS, "bytes")
