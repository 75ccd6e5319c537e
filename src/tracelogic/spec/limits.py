"""The front end's input limits, in one place (documented in docs/language.md, "Limits").

A spec is untrusted text. Every limit here is generous for anything a person
or a generator writes, and each one is enforced with a diagnostic that names
it, never with an exception: a front end in another language applies the same
numbers and gives the same answers.

- ``MAX_NESTING``: how deep expressions may nest: the operators, parentheses,
  list brackets, calls, field accesses and indexes enclosing one another (a
  chain of N operands of `&` is N - 1 levels). Parsing and every pass after
  it are iterative (spec/walker.py: ``TExprWalker``, ``drive``), so the limit
  bounds memory, not Python's stack.
- ``MAX_NUMBER_DIGITS``: digits in one number literal (underscores, the
  fraction's dot, exponent and unit excluded from the count, the fraction's
  digits included). Python reads longer digit strings in quadratic time.
- ``MAX_MAGNITUDE``: every number the front end holds, read or computed by
  constant folding, is below ``10**MAX_NUMBER_DIGITS`` in absolute value, and
  a real's numerator and denominator are too. Folding checks each step, so
  that constants multiplying each other cannot grow without bound.

- ``MAX_EXPRESSION_NODES``: the nodes of one typed expression after predicates
  with parameters are expanded (a predicate used twice in a predicate used
  twice … doubles at each level). Shared expansions are built once, but every
  later pass walks the expression as a tree.

Strings, comments and files have no length limit: lexing is linear.
"""
from __future__ import annotations

from fractions import Fraction

MAX_NESTING = 100_000
MAX_NUMBER_DIGITS = 1_000
MAX_MAGNITUDE = 10 ** MAX_NUMBER_DIGITS
MAX_EXPRESSION_NODES = 1_000_000


def number_digits(text: str) -> int:
    """The digits of a number literal that count against ``MAX_NUMBER_DIGITS``.

    Only the mantissa: `1_000.25e3ms` has 6. Linear, and reads no number."""
    count = 0
    for ch in text:
        if ch.isalpha():  # an exponent or a unit: the mantissa has ended
            break
        count += ch.isdigit()
    return count


def too_large(value: object) -> bool:
    """True when ``value`` (an int or a Fraction) is at or beyond ``MAX_MAGNITUDE``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) >= MAX_MAGNITUDE
    if isinstance(value, Fraction):
        return abs(value.numerator) >= MAX_MAGNITUDE or value.denominator >= MAX_MAGNITUDE
    return False
