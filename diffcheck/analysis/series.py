"""One-sided expansions along a line: what an expression does as t -> 0+ at ``p + t*d``.

A :class:`Series` is a truncated generalized power series ``sum c * t**e * log(t)**m`` with
rational exponents ``e`` (Puiseux series, with logarithms), known for every exponent below
``order``. It is what exact one-sided reasoning needs and numbers cannot give:

* the sign of a switching argument next to a point, from its leading term, even when the
  argument vanishes to high order (``x**3`` at 0 is ``t**3``: positive; no side point where
  ``|x**3| = 1e-45`` looks like zero);
* the one-sided behaviour of a smooth branch, exponent by exponent: ``|x|**1.0001`` is
  ``t**(10001/10000)`` on both sides, so its first derivative tends to 0 and the second
  blows up: C1, which no finite-difference step shows.

Coefficients are mpmath numbers at the analysis precision (:data:`diffcheck.numeric.DIGITS`).
Each coefficient carries a magnitude (the sum of the absolute values of what was added up
to make it); a coefficient below ``magnitude * 1e-45`` is rounding noise and counts as zero.
That is how a root known to 60 digits still sits exactly on its set.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> expand(x**3, {x: (0, 1)}).leading()
(Fraction(3, 1), 0, mpf('1.0'))
>>> expand(x ** sp.Rational(10001, 10000), {x: (0, 1)}).exponents()
[Fraction(10001, 10000)]
>>> expand(sp.log(x), {x: (0, 1)}).leading()[:2]    # log(t): a log term at exponent 0
(Fraction(0, 1), 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

import mpmath as mp
import sympy as sp

from diffcheck.numeric import DIGITS, compile_expr, evaluate, to_mpf

#: a coefficient smaller than its magnitude times this is rounding noise
NOISE = mp.mpf(10) ** (15 - DIGITS)
#: highest exponent kept by default; callers ask for more when they need it
HORIZON = 4
#: beyond this many terms in one product the expansion is refused (a runaway expression)
MAX_TERMS = 400

Key = tuple[Fraction, int]  # (exponent of t, power of log t)
Order = Fraction | float  # float only for math.inf: known to every order


class Unsupported(Exception):
    """Not a generalized power series (x*sin(1/x) at 0), or no rule for this function here."""


class Undefined(Exception):
    """Not real on this side of the point: log of a negative number, a root of one."""


class Unbounded(Exception):
    """Grows faster than any power as t -> 0+ (exp(1/t))."""


class Series:
    """``sum c*t**e*log(t)**m`` for every key (e, m) with e < ``order``; see the module doc."""

    __slots__ = ("order", "sizes", "terms")

    def __init__(self, terms: dict[Key, mp.mpf], sizes: dict[Key, mp.mpf], order: Order):
        self.order = order
        self.terms: dict[Key, mp.mpf] = {}
        self.sizes: dict[Key, mp.mpf] = {}
        for key, value in terms.items():
            size = sizes[key]
            if key[0] >= order or value == 0 or abs(value) <= size * NOISE:
                continue
            self.terms[key] = value
            self.sizes[key] = size

    # --- construction -----------------------------------------------------------------
    @classmethod
    def constant(cls, value: mp.mpf) -> Series:
        return cls({(Fraction(0), 0): value}, {(Fraction(0), 0): abs(value)}, math.inf)

    @classmethod
    def zero(cls, order: Order = math.inf) -> Series:
        return cls({}, {}, order)

    # --- reading --------------------------------------------------------------------------
    def is_exact_zero(self) -> bool:
        return not self.terms and self.order == math.inf

    def valuation(self) -> Order:
        """The lowest exponent with a known nonzero term (``order`` when there is none)."""
        return min((e for e, _ in self.terms), default=self.order)

    def leading(self) -> tuple[Fraction, int, mp.mpf] | None:
        """(e, m, c) of the dominant term as t -> 0+ (lowest e, then highest power of log)."""
        if not self.terms:
            return None
        e, m = min(self.terms, key=lambda key: (key[0], -key[1]))
        return e, m, self.terms[(e, m)]

    def sign(self) -> int | None:
        """+1 or -1: the sign of the expression for small t > 0; None when no term is known."""
        lead = self.leading()
        if lead is None:
            return None
        _, m, c = lead
        return (1 if c > 0 else -1) * (-1) ** m  # log(t) < 0 for small t

    def coefficient(self, e: int | Fraction, m: int = 0) -> mp.mpf:
        return self.terms.get((Fraction(e), m), mp.mpf(0))

    def exponents(self) -> list[Fraction]:
        return sorted({e for e, _ in self.terms})

    def irregular(self) -> list[Key]:
        """Keys of terms that are not plain integer powers: t**(5/2), t*log(t), 1/t."""
        return sorted(key for key in self.terms
                      if key[1] != 0 or key[0].denominator != 1 or key[0] < 0)

    def __repr__(self) -> str:
        parts = [f"{mp.nstr(c, 8)}*t**{e}" + (f"*log(t)**{m}" if m else "")
                 for (e, m), c in sorted(self.terms.items())]
        return f"Series({' + '.join(parts) or '0'}, order={self.order})"

    # --- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Series) -> Series:
        order = min(self.order, other.order)
        terms, sizes = dict(self.terms), dict(self.sizes)
        for key, value in other.terms.items():
            terms[key] = terms.get(key, 0) + value
            sizes[key] = sizes.get(key, 0) + other.sizes[key]
        return Series(terms, sizes, order)

    def __neg__(self) -> Series:
        return Series({k: -v for k, v in self.terms.items()}, self.sizes, self.order)

    def scaled(self, factor: mp.mpf) -> Series:
        return Series({k: v * factor for k, v in self.terms.items()},
                      {k: s * abs(factor) for k, s in self.sizes.items()}, self.order)

    def shifted(self, exponent: Fraction, log_power: int = 0) -> Series:
        """This series times ``t**exponent * log(t)**log_power``."""
        order = self.order + exponent if self.order != math.inf else math.inf
        return Series({(e + exponent, m + log_power): c for (e, m), c in self.terms.items()},
                      {(e + exponent, m + log_power): s for (e, m), s in self.sizes.items()},
                      order)

    def __mul__(self, other: Series) -> Series:
        if self.is_exact_zero() or other.is_exact_zero():
            return Series.zero()
        order = min(_plus(self.order, other.valuation()), _plus(other.order, self.valuation()))
        if len(self.terms) * len(other.terms) > MAX_TERMS:
            raise Unsupported("the expansion has too many terms")
        terms: dict[Key, mp.mpf] = {}
        sizes: dict[Key, mp.mpf] = {}
        for (ea, ma), ca in self.terms.items():
            sa = self.sizes[(ea, ma)]
            for (eb, mb), cb in other.terms.items():
                key = (ea + eb, ma + mb)
                if key[0] >= order:
                    continue
                terms[key] = terms.get(key, 0) + ca * cb
                # the rounding of a*b is |a| times that of b plus |b| times that of a: with
                # sa*sb instead, a cube of a sum that nearly cancels (nested model-function
                # stand-ins) claimed its value was all rounding and dropped it
                sizes[key] = sizes.get(key, 0) + abs(ca) * other.sizes[(eb, mb)] + sa * abs(cb)
        return Series(terms, sizes, order)

    def widened(self, uncertainty: mp.mpf) -> Series:
        """The constant term known only within ``uncertainty`` more (it may then be noise).

        f(a0) inherits the rounding of a0 times f'(a0): sin at a root of sin known to 60
        digits is 1e-61, which is zero for all the analysis can tell.
        """
        key = (Fraction(0), 0)
        if key not in self.terms or not uncertainty:
            return self
        sizes = dict(self.sizes)
        sizes[key] = sizes[key] + abs(uncertainty)
        return Series(self.terms, sizes, self.order)

    def truncated(self, horizon: Order) -> Series:
        return Series(self.terms, self.sizes, min(self.order, horizon))

    def reflected(self) -> Series | None:
        """The series of ``f(-t)`` for a Laurent series ``f`` (integer powers, no logarithm);
        None for any other.

        >>> Series({(Fraction(1), 0): mp.mpf(2), (Fraction(2), 0): mp.mpf(3)},
        ...        {(Fraction(1), 0): mp.mpf(2), (Fraction(2), 0): mp.mpf(3)}, 4).reflected()
        Series(-2.0*t**1 + 3.0*t**2, order=4)
        """
        if any(m != 0 or e.denominator != 1 for e, m in self.terms):
            return None
        return Series({(e, m): -c if e.numerator % 2 else c for (e, m), c in self.terms.items()},
                      self.sizes, self.order)


def _plus(order: Order, shift: Order) -> Order:
    return math.inf if math.inf in (order, shift) else order + shift


# --- power series of a function of a series ---------------------------------------------


def _compose(coefficients: Callable[[int], mp.mpf], rest: Series, horizon: Order) -> Series:
    """``sum_k coefficients(k) * rest**k``; ``rest`` has a positive valuation."""
    result = Series.constant(coefficients(0))
    if rest.is_exact_zero():
        return result.truncated(horizon)
    valuation = rest.valuation()
    if valuation <= 0:
        raise Unsupported("a composition needs a vanishing remainder")
    power = Series.constant(mp.mpf(1))
    limit = min(rest.order, horizon)
    k = 1
    # the terms k with valuation*k >= limit are O(t**limit): beyond what is known anyway
    while valuation * k < limit:
        power = (power * rest).truncated(limit)
        coefficient = coefficients(k)
        if coefficient != 0:
            result = result + power.scaled(coefficient)
        k += 1
    return result.truncated(limit)


def _split_leading(series: Series) -> tuple[Fraction, mp.mpf, Series]:
    """(v, c, R) with series = c*t**v*(1 + R), R of positive valuation; no log at the lead."""
    lead = series.leading()
    if lead is None:
        raise Unsupported("no known leading term")
    v, m, c = lead
    if m != 0:
        raise Unsupported("a logarithm in the leading term")
    if any(e == v and mm != 0 for e, mm in series.terms):
        raise Unsupported("a logarithm next to the leading term")
    rest = series.shifted(-v).scaled(1 / c) + Series.constant(mp.mpf(-1))
    rest = Series({k: val for k, val in rest.terms.items() if k != (0, 0)},
                  {k: s for k, s in rest.sizes.items() if k != (0, 0)}, rest.order)
    return v, c, rest


def _binomial(r: Fraction) -> Callable[[int], mp.mpf]:
    rr = mp.mpf(r.numerator) / r.denominator

    @cache
    def coefficient(k: int) -> mp.mpf:
        if k == 0:
            return mp.mpf(1)
        return coefficient(k - 1) * (rr - k + 1) / k

    return coefficient


def power(base: Series, r: Fraction, horizon: Order, events: set[str]) -> Series:
    """``base**r`` for a rational ``r`` (real branch: refused for a negative base)."""
    if base.is_exact_zero():
        if r > 0:
            return Series.zero()
        raise Undefined("a power of zero with a negative exponent")
    if r.denominator == 1 and r >= 0 and r <= 8:
        result = Series.constant(mp.mpf(1))
        for _ in range(int(r)):
            result = (result * base).truncated(horizon)
        return result
    v, c, rest = _split_leading(base)
    if c < 0 and r.denominator != 1:
        raise Undefined("a fractional power of a negative number")
    if r.denominator != 1 and v > 0:
        events.add("root of zero")
    magnitude = abs(c) ** (mp.mpf(r.numerator) / r.denominator)
    if c < 0 and r.numerator % 2:
        magnitude = -magnitude
    relative = _compose(_binomial(r), rest, horizon - v * r)
    return relative.scaled(magnitude).shifted(v * r).truncated(horizon)


def exponential(arg: Series, horizon: Order, events: set[str]) -> Series:
    negative = {k: c for k, c in arg.terms.items() if k[0] < 0 or (k[0] == 0 and k[1] > 0)}
    if negative:
        e, m = min(negative, key=lambda key: (key[0], -key[1]))
        if e == 0:
            raise Unsupported("exp of a logarithm")
        sign = (1 if negative[(e, m)] > 0 else -1) * (-1) ** m
        if sign > 0:
            raise Unbounded("exp of something that tends to +infinity")
        events.add("flat")
        return Series.zero()  # exp(-1/t) vanishes faster than any power
    constant = arg.coefficient(0)
    rest = arg + Series.constant(-constant) if constant else arg
    scale = mp.exp(constant)
    factorial_inverse = _inverse_factorials()
    return _compose(lambda k: scale * factorial_inverse(k), rest, horizon)


@lru_cache(maxsize=1)
def _inverse_factorials() -> Callable[[int], mp.mpf]:
    @cache
    def value(k: int) -> mp.mpf:
        return mp.mpf(1) / mp.factorial(k)

    return value


def logarithm(arg: Series, horizon: Order, events: set[str]) -> Series:
    v, c, rest = _split_leading(arg)
    if c < 0:
        raise Undefined("log of a negative number")
    result = _compose(lambda k: mp.mpf(0) if k == 0 else mp.mpf((-1) ** (k + 1)) / k, rest,
                      horizon)
    constant_size = arg.sizes[(v, 0)]
    result = result + Series.constant(mp.log(c)).widened(constant_size / abs(c))
    if v != 0:
        events.add("log of zero")
        as_mpf = mp.mpf(v.numerator) / v.denominator
        result = result + Series({(Fraction(0), 1): as_mpf}, {(Fraction(0), 1): abs(as_mpf)},
                                 math.inf)
    return result


#: the variable of the derivatives of one-argument functions below
_Z = sp.Dummy("z", real=True)


@lru_cache(maxsize=512)
def _derivative(function_class: type, k: int) -> sp.Expr:
    """The k-th derivative of ``function_class(z)``, one derivative at a time.

    ``sp.diff(tanh(z), z, 16)`` takes 20 s (a max-pool over tanh features needs such orders:
    the corpus case adaptive_maxpool_1d timed out on it). Each step here differentiates the
    cached previous one and brings the result to a canonical rational form when it grew,
    which keeps the 20th derivative of tanh, atan, erf, asinh... under a second.
    """
    if k == 0:
        return function_class(_Z)
    previous = _derivative(function_class, k - 1)
    derivative = sp.diff(previous, _Z)
    if sp.count_ops(derivative) > 2 * sp.count_ops(previous) + 8:
        derivative = sp.cancel(derivative)
    return derivative


@lru_cache(maxsize=256)
def _derivative_function(function_class: type, k: int) -> Callable:
    return compile_expr(_derivative(function_class, k), (_Z,))


def analytic(function_class: type, arg: Series, horizon: Order) -> Series:
    """f(a0 + R) = sum f^(k)(a0)/k! R**k, with the derivatives at a0 from SymPy."""
    if any(e < 0 or (e == 0 and m > 0) for e, m in arg.terms):
        raise Unsupported(f"{function_class.__name__} of something unbounded")
    a0 = arg.coefficient(0)
    rest = arg + Series.constant(-a0) if a0 else arg
    factorial_inverse = _inverse_factorials()

    def coefficient(k: int) -> mp.mpf:
        value = evaluate(_derivative_function(function_class, k), [a0])
        if value is None:
            raise Unsupported(f"{function_class.__name__} is not analytic at {mp.nstr(a0, 8)}")
        return value * factorial_inverse(k)

    a0_size = arg.sizes.get((Fraction(0), 0), mp.mpf(0))
    return _compose(coefficient, rest, horizon).widened(coefficient(1) * a0_size)


#: limits at +infinity and -infinity of bounded functions that approach them faster than any
#: power of 1/|u| (exponentially): the expansion there is that constant, to every order
_FLAT_LIMITS: dict[type, tuple[Any, Any]] = {
    sp.tanh: (1, -1),
    sp.erf: (1, -1),
    sp.erfc: (0, 2),
}


class Expansion:
    """Expands SymPy expressions along ``p + t*d`` as t -> 0+ (memoized per expression).

    ``line`` maps each symbol to (p, d) (numbers or SymPy numbers). ``events`` collects what
    makes an expansion non-analytic (a root or log of something that vanishes there, a flat
    exponential, a limit at infinity): without any, two identical expressions have identical
    Taylor series.

    ``mirror`` gives the expansion (same point and horizon, opposite direction) that the
    other side of the point already computed, if any: as long as it met no event, each of its
    series is a Laurent series of a function meromorphic at the point, and the series on this
    side is the same with t -> -t. Both sides of a set localize the same large loss, and most
    of its subexpressions (a softmax's) are analytic there.
    """

    def __init__(self, line: Mapping[sp.Symbol, tuple[Any, Any]], horizon: int | Fraction,
                 mirror: Callable[[], Expansion | None] | None = None):
        self.horizon = Fraction(horizon)
        self.events: set[str] = set()
        self.mirror = mirror
        self.memo: dict[sp.Basic, Series] = {}
        #: the symbols that stay fixed along the line, at their (exact) values
        self.fixed = {symbol: p for symbol, (p, d) in line.items() if d == 0}
        for symbol, (p, d) in line.items():
            p_value, d_value = to_mpf(p), to_mpf(d)
            terms = {(Fraction(0), 0): p_value, (Fraction(1), 0): d_value}
            sizes = {(Fraction(0), 0): abs(p_value), (Fraction(1), 0): abs(d_value)}
            self.memo[symbol] = Series(terms, sizes, math.inf)

    def __call__(self, expr: sp.Basic) -> Series:
        with mp.workdps(DIGITS):
            return self._expand(expr)

    def _expand(self, expr: sp.Basic) -> Series:
        cached = self.memo.get(expr)
        if cached is not None:
            return cached
        result = self._reflected(expr)
        if result is None:
            result = self._rule(expr)
        self.memo[expr] = result
        return result

    def _reflected(self, expr: sp.Basic) -> Series | None:
        """The mirror's series of ``expr`` with t -> -t, where that is exact (else None)."""
        other = self.mirror() if self.mirror is not None else None
        # events only grow: none now means none while any of the mirror's series was made
        if other is None or other.events or other.horizon != self.horizon:
            return None
        series = other.memo.get(expr)
        return None if series is None else series.reflected()

    def _rule(self, expr: sp.Basic) -> Series:
        if expr.is_Rational:
            return Series.constant(to_mpf(expr))
        if expr.is_number:
            value = evaluate(compile_expr(expr, ()), [])
            if value is None:
                raise Undefined(f"{expr} is not a real number")
            return Series.constant(value)
        if expr.is_Symbol:
            raise Unsupported(f"{expr} has no value on the line")
        horizon = self.horizon
        if isinstance(expr, sp.Add):
            total = Series.zero()
            for arg in expr.args:
                total = total + self._expand(arg)
            return total.truncated(horizon)
        if isinstance(expr, sp.Mul):
            product = Series.constant(mp.mpf(1))
            for arg in expr.args:
                product = (product * self._expand(arg)).truncated(horizon)
            return product
        if isinstance(expr, sp.Pow):
            base, exponent = expr.args
            if exponent.is_Rational:
                r = Fraction(int(exponent.p), int(exponent.q))
                return power(self._expand(base), r, horizon, self.events)
            if exponent.is_number and base.is_number:
                raise Unsupported(f"{expr} should be a number")
            constant = self._constant_along_line(exponent)
            if constant is not None and constant.is_Rational:
                # a variable exponent that is constant along the line (gamma - 3*y with y
                # fixed): a power, also where the base vanishes
                r = Fraction(int(constant.p), int(constant.q))
                return power(self._expand(base), r, horizon, self.events)
            # b**e = exp(e*log(b)) for a variable or irrational exponent
            log_base = logarithm(self._expand(base), horizon, self.events)
            return exponential((self._expand(exponent) * log_base).truncated(horizon),
                               horizon, self.events)
        if isinstance(expr, sp.exp):
            return exponential(self._expand(expr.args[0]), horizon, self.events)
        if isinstance(expr, sp.log):
            return logarithm(self._expand(expr.args[0]), horizon, self.events)
        if isinstance(expr, sp.Function) and len(expr.args) == 1:
            return self._function(expr, self._expand(expr.args[0]))
        raise Unsupported(f"no expansion rule for {type(expr).__name__}")

    def _constant_along_line(self, expr: sp.Expr) -> sp.Expr | None:
        """The exact value of ``expr`` when none of its variables moves along the line."""
        if not expr.free_symbols <= set(self.fixed):
            return None
        values = {s: self.fixed[s] for s in expr.free_symbols}
        if not all(isinstance(v, sp.Basic) for v in values.values()):
            return None  # a float coordinate: not exact
        value = expr.xreplace(values)
        return value if value.is_number else None

    def _function(self, expr: sp.Expr, arg: Series) -> Series:
        head = type(expr)
        special = _SPECIAL_POINTS.get(head)
        if special is not None:
            replaced = special(self, arg)
            if replaced is not None:
                return replaced
        if head in _FLAT_LIMITS and arg.valuation() < 0:
            sign = arg.sign()
            if sign is None:
                raise Unsupported("unknown sign at infinity")
            limit = _FLAT_LIMITS[head][0 if sign > 0 else 1]
            self.events.add("flat")
            return Series.constant(mp.mpf(limit))
        return analytic(head, arg, self.horizon)


# --- functions at their non-analytic points --------------------------------------------


def _sqrt_of(expansion: Expansion, series: Series) -> Series:
    return power(series, Fraction(1, 2), expansion.horizon, expansion.events)


def _acos_at_edge(expansion: Expansion, arg: Series) -> Series | None:
    """acos(u) = 2*asin(sqrt((1 - u)/2)) near u = 1; pi - 2*asin(sqrt((1 + u)/2)) near -1."""
    a0 = arg.coefficient(0)
    if abs(abs(a0) - 1) > NOISE * (1 + abs(a0)) or arg.valuation() < 0:
        return None
    sign = 1 if a0 > 0 else -1
    half_gap = (Series.constant(mp.mpf(1)) + (-arg if sign > 0 else arg)).scaled(mp.mpf(1) / 2)
    half_gap = Series({k: v for k, v in half_gap.terms.items() if k != (0, 0)},
                      {k: s for k, s in half_gap.sizes.items() if k != (0, 0)}, half_gap.order)
    root = _sqrt_of(expansion, half_gap)
    arcsine = analytic(sp.asin, root, expansion.horizon).scaled(mp.mpf(2))
    return arcsine if sign > 0 else Series.constant(+mp.pi) + (-arcsine)


def _asin_at_edge(expansion: Expansion, arg: Series) -> Series | None:
    arccos = _acos_at_edge(expansion, arg)
    return None if arccos is None else Series.constant(mp.pi / 2) + (-arccos)


def _sinc_at_zero(expansion: Expansion, arg: Series) -> Series | None:
    """sinc(z) = sin(z)/z, whose series is regular where z vanishes."""
    if arg.valuation() <= 0:
        return None
    sine = analytic(sp.sin, arg, expansion.horizon + arg.valuation())
    return (sine * power(arg, Fraction(-1), expansion.horizon + arg.valuation(),
                         expansion.events)).truncated(expansion.horizon)


def _atan_at_infinity(expansion: Expansion, arg: Series) -> Series | None:
    """atan(u) = sign(u)*pi/2 - atan(1/u) for large |u|."""
    if arg.valuation() >= 0:
        return None
    sign = arg.sign()
    if sign is None:
        return None
    inverse = power(arg, Fraction(-1), expansion.horizon, expansion.events)
    # the limit depends on the side: atan(1/t) is pi/2 for t -> 0+ and -pi/2 for t -> 0-
    expansion.events.add("limit at infinity")
    return Series.constant(sign * mp.pi / 2) + (-analytic(sp.atan, inverse, expansion.horizon))


_SPECIAL_POINTS: dict[type, Callable[[Expansion, Series], Series | None]] = {
    sp.acos: _acos_at_edge,
    sp.asin: _asin_at_edge,
    sp.sinc: _sinc_at_zero,
    sp.atan: _atan_at_infinity,
}


def expand(expr: sp.Basic, line: Mapping[sp.Symbol, tuple[Any, Any]],
           horizon: int = HORIZON) -> Series:
    """The expansion of ``expr`` at ``p + t*d`` as t -> 0+ (``line``: symbol -> (p, d))."""
    return Expansion(line, horizon)(expr)
