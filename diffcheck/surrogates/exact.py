"""Exact error arithmetic: an error bound is a Fraction (exact) or math.inf.

Interval ends enter as their exact binary values, already rounded upwards; reported numbers
are rounded up to a few significant digits, never down.

>>> from fractions import Fraction
>>> float_up(Fraction(1, 3))
0.3334
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import sympy as sp

from diffcheck.intervals import Interval, enclose, up
from diffcheck.numeric import as_sympy

#: significant digits of a reported max_error (always rounded up)
ERROR_DIGITS = 4

#: an error bound: exact, or math.inf (no finite bound)
Bound = Fraction | float




def fraction_of(x: mp.mpf) -> Fraction | float:
    """The exact value of an mpf; infinity stays math.inf."""
    if mp.isinf(x):
        return math.inf
    mantissa, exponent = mp.mpf(x).man_exp
    return Fraction(mantissa) * Fraction(2) ** exponent


def mpf_up(x: Fraction | float) -> mp.mpf:
    if isinstance(x, float):  # a bound is exact or infinite
        return mp.inf
    return up(mp.mpf(x.numerator) / x.denominator)


def constant_bounds(value: sp.Expr) -> tuple:
    """Lower and upper bounds of a real constant, exact when it is rational."""
    value = as_sympy(value)
    if value.is_Rational:
        exact = Fraction(int(value.p), int(value.q))
        return exact, exact
    box = enclose(value)
    return (-math.inf, math.inf) if box is None else (fraction_of(box.lo), fraction_of(box.hi))


def upper_bound(value: sp.Expr) -> Fraction | float:
    return constant_bounds(value)[1]


def plus(*terms) -> Fraction | float:
    return math.inf if math.inf in terms else sum(terms, Fraction(0))


def times(a, b) -> Fraction | float:
    if a == 0 or b == 0:  # an exact zero factor wins over an unbounded one
        return Fraction(0)
    return math.inf if math.inf in (a, b) else a * b


def magnitude(box: Interval | None) -> Fraction | float:
    return math.inf if box is None else fraction_of(box.magnitude())


def hull(a: Interval | None, b: Interval | None) -> Interval | None:
    return a if b is None else b if a is None else a.hull(b)


def _decimal_unit(x: Fraction, digits: int) -> Fraction:
    """The unit of the last of ``digits`` significant decimal digits of ``x`` > 0."""
    exponent = math.floor(math.log10(x))
    while Fraction(10) ** exponent > x:
        exponent -= 1
    while Fraction(10) ** (exponent + 1) <= x:
        exponent += 1
    return Fraction(10) ** (exponent - digits + 1)


def round_significant(x: Fraction, digits: int, upward: bool) -> Fraction:
    """``x`` > 0 rounded to ``digits`` significant decimal digits, up or down."""
    unit = _decimal_unit(x, digits)
    return (math.ceil(x / unit) if upward else math.floor(x / unit)) * unit


def float_up(x: Fraction | float) -> float | None:
    """The reported max_error: a short decimal whose double is never below ``x``."""
    if isinstance(x, float):  # a bound is exact or infinite
        return None
    if x == 0:
        return 0.0
    rounded = round_significant(x, ERROR_DIGITS, upward=True)
    if Fraction(float(rounded)) < x:  # the nearest double is a hair below x: next decimal
        rounded += _decimal_unit(rounded, ERROR_DIGITS)
    return float(rounded)


def exact_rational(number) -> sp.Rational:
    return sp.Rational(repr(float(number)))


