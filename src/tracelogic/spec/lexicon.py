"""Words of the language: reserved words, contextual keywords, units and operator spellings.

Kept in one place so the grammar, the resolver, the formatter and the
did-you-mean hints agree on them.
"""
from __future__ import annotations

from fractions import Fraction

# the units are the value semantics (SPEC-LANGUAGE §1), defined in values.units; the parser
# and the checker read them through the lexicon, the spec's one word list
from tracelogic.values.units import (  # noqa: F401 - parse_*: re-exported
    BYTE_UNITS, DURATION_UNITS, parse_bytes, parse_duration)

OPERATOR_LETTERS = frozenset("X WX F G U W R M Y O H S".split())
FORMULA_WORDS = frozenset(
    "not and or implies iff xor next wnext eventually always until release since "
    "once historically previously weak strong".split())
OTHER_RESERVED = frozenset(
    "true false in matches contains startswith exists within per window where sliding".split())
DECL_KEYWORDS = frozenset(
    "const enum pred property metric invariant config from select theorem forall assuming "
    "workflow step compensate check model var action when do heal on violated cooldown "
    "limit approve import as".split())
RESERVED = OPERATOR_LETTERS | FORMULA_WORDS | OTHER_RESERVED | DECL_KEYWORDS

# Contextual: keywords only where they appear, usable as names elsewhere.
CONTEXTUAL = frozenset(
    "severity owner runbook message global conforms saga follows by optional default "
    "sound deadlock_free globally before after between after_until with risk "
    # controllers (docs/control.md): keywords inside `controller NAME { … }` only
    "controller period let plant noise to claim no_flap converges periods bounded "
    # consistency (docs/consistency.md): `operation …` and `consistency NAME: …`
    "operation consistency key input output client indeterminate "
    # a heal policy that runs a controller (docs/control.md §9)
    "run every".split())

# Specification patterns (`response(P, Q)`): names a predicate may take, but then hides.
PATTERN_ARITY = {"absence": 1, "existence": 1, "universality": 1, "precedence": 2, "response": 2}
CONTEXTUAL = CONTEXTUAL | frozenset(PATTERN_ARITY)

SEVERITIES = ("critical", "error", "warning", "info")

# Unary operators: spelling -> canonical operator.
UNARY_SPELLINGS = {
    "!": "!", "not": "!",
    "X": "X", "next": "X", "WX": "WX", "wnext": "WX",
    "F": "F", "eventually": "F", "G": "G", "always": "G",
    "Y": "Y", "previously": "Y", "O": "O", "once": "O", "H": "H", "historically": "H",
}
BINARY_SPELLINGS = {
    "<->": "<->", "iff": "<->", "->": "->", "implies": "->",
    "|": "|", "or": "|", "xor": "xor", "&": "&", "and": "&",
    "U": "U", "until": "U", "W": "W", "weak until": "W", "R": "R", "release": "R",
    "M": "M", "strong release": "M", "S": "S", "since": "S",
    "+": "+", "-": "-", "*": "*", "/": "/", "//": "//", "%": "%",
}
TEMPORAL_UNARY = frozenset({"X", "WX", "F", "G", "Y", "O", "H"})
TEMPORAL_BINARY = frozenset({"U", "W", "R", "M", "S"})
PAST_OPS = frozenset({"Y", "O", "H", "S"})
UNTIMED_OPS = frozenset({"X", "WX", "Y"})

# What people write for a unit, to the spelling the language takes (for hints only).
_DURATION_WORDS = {
    "ns": ("nsec", "nsecs", "nanos", "nanosecond", "nanoseconds"),
    "us": ("µs", "usec", "usecs", "micros", "microsecond", "microseconds"),
    "ms": ("msec", "msecs", "millis", "millisecond", "milliseconds"),
    "s": ("sec", "secs", "second", "seconds"),
    "m": ("min", "mins", "minute", "minutes"),
    "h": ("hr", "hrs", "hour", "hours"),
    "d": ("day", "days"),
}
DURATION_ALIASES = {w: unit for unit, words in _DURATION_WORDS.items() for w in words}


def unit_suggestion(number: str, unit: str) -> str | None:
    """How to write ``number`` with ``unit`` as a literal (`2`, `sec` -> `2s`), or None when
    ``unit`` is no unit anyone would mean. `10MB` is ambiguous, so both readings are named:
    `10M` (10^6 bytes) or `10Mi` (2^20 bytes); `10MiB` is `10Mi`."""
    if unit in DURATION_UNITS or unit in BYTE_UNITS:
        return f"`{number}{unit}`"
    if unit.lower() in DURATION_ALIASES:
        return f"`{number}{DURATION_ALIASES[unit.lower()]}`"
    letters = "KMGTPE"
    if len(unit) == 3 and unit[1:] == "iB" and unit[0].upper() in letters:
        return f"`{number}{unit[0].upper()}i`"
    if len(unit) == 2 and unit[1] in "bB" and unit[0].upper() in letters:
        power = letters.index(unit[0].upper()) + 1
        decimal = "k" if unit[0] in "kK" else unit[0].upper()
        return (f"`{number}{decimal}` (10^{3 * power} bytes) or `{number}{unit[0].upper()}i` "
                f"(2^{10 * power} bytes)")
    return None


def approx_duration(ns: float) -> str:
    """A measured duration for people, to 6 significant digits: 1369261 -> `1.36926ms`."""
    for unit in ("s", "ms", "us"):
        size = DURATION_UNITS[unit]
        if abs(ns) >= size:
            return f"{ns / size:.6g}{unit}"
    return f"{ns:.6g}ns"


def format_duration(ns: int) -> str:
    """The shortest exact spelling of a duration: 90_000_000_000 -> `90s`, 1_500_000 -> `1500us`."""
    if ns == 0:
        return "0s"
    for unit in ("d", "h", "m", "s", "ms", "us", "ns"):
        size = DURATION_UNITS[unit]
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def show_value(v, t) -> str:
    """A value in its type's unit, as a user would write it: `2s`, `512Mi`, `600m`, `0.35`.

    Values are exact (int nanoseconds and bytes, Fraction cores and reals), so the text is
    exact too where the unit allows it: cpu `3/5` is `600m` as in a Kubernetes manifest,
    a byte count is spelled in the largest binary or decimal unit that divides it. An average
    of durations or sizes need not be a whole number of the base unit; it is shown to 6
    significant digits with a leading `~`."""
    from tracelogic.spec import types as T

    b = T.base(t)
    if isinstance(v, bool):
        return "true" if v else "false"
    if b in (T.DURATION, T.BYTES) and isinstance(v, Fraction):
        if v.denominator == 1:
            v = int(v)
        else:
            return "~" + (approx_duration(float(v)) if b == T.DURATION else f"{float(v):.6g}")
    if b == T.DURATION and isinstance(v, int):
        return format_duration(v)
    if b == T.BYTES and isinstance(v, int):
        return _show_bytes(v)
    if b == T.CPU and isinstance(v, (int, Fraction)) and not isinstance(v, bool):
        v = Fraction(v)
        if v.denominator == 1:
            return str(v.numerator)
        milli = v * 1000
        if milli.denominator == 1:
            return f"{milli.numerator}m"
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else \
            (f"{float(v):g}" if Fraction(float(v)) == v else f"{v.numerator}/{v.denominator}")
    return str(v)


def show_runtime(v, t) -> str:
    """A value met at run time (an int or float from a span, an aggregate) in its type's
    unit, for violation messages and warnings: exact where that is short (`10m`, `96Mi`,
    `600m`), else to 6 significant digits (`1.36926ms`, `~96Mi` for 100663300 bytes,
    `0.60021`)."""
    from tracelogic.spec import types as T

    if t is None or isinstance(v, bool) or not isinstance(v, (int, float, Fraction)):
        return f"{v:.6g}" if isinstance(v, float) else str(v)
    b = T.base(t)
    if isinstance(v, Fraction) and b != T.CPU:
        v = v.numerator if v.denominator == 1 else float(v)
    if isinstance(v, float) and v.is_integer() and b in (T.DURATION, T.BYTES) \
            and abs(v) < 2 ** 63:
        v = int(v)
    if b == T.DURATION:
        approx = approx_duration(v)
        if isinstance(v, int):
            exact = format_duration(v)
            return exact if len(exact) < len(approx) else approx
        return approx
    if b == T.BYTES:
        approx = str(v) if isinstance(v, int) else f"{v:.6g}"
        for size, unit in ((2**60, "Ei"), (2**50, "Pi"), (2**40, "Ti"), (2**30, "Gi"),
                           (2**20, "Mi"), (2**10, "Ki")):
            if abs(v) >= size:
                approx = f"{v / size:.6g}{unit}"
                break
        if isinstance(v, int):
            exact = _show_bytes(v)
            return exact if len(exact) <= len(approx) or exact == str(v) and v < 2**10 \
                else "~" + approx  # `~96Mi`: not exactly 96Mi
        return approx
    if b == T.CPU:
        if isinstance(v, float):
            milli = v * 1000
            if milli.is_integer() and not v.is_integer():
                return f"{int(milli)}m"
            return f"{v:.6g}"
        return show_value(v, t)
    if isinstance(v, float):
        return f"{v:.6g}"
    return show_value(v, t)


# The largest unit that divides the value, binary (`96Mi`, as Kubernetes writes memory) or
# decimal (`1G`); `K` is the same as `k`.
_BYTE_SPELLINGS = sorted(((u, s) for u, s in BYTE_UNITS.items() if u != "K"),
                         key=lambda us: -us[1])


def _show_bytes(n: int) -> str:
    if n:
        for unit, size in _BYTE_SPELLINGS:
            if n % size == 0:
                return f"{n // size}{unit}"
    return str(n)
