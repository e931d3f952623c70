"""Outward-rounded interval arithmetic over SymPy expressions, for proven error bounds.

An :class:`Interval` is a closed set ``[lo, hi]`` of reals whose ends may be infinite. Every
operation returns an interval that contains the exact image: ends are computed with mpmath
at the current precision and then moved outwards by a relative margin far larger than
mpmath's rounding error, so nothing here ever rounds towards the inside.

:func:`enclose` evaluates a SymPy expression on intervals. Sub-expressions found in ``env``
take their interval from there (that is how free symbols, and any sub-expression whose range
is already known, are given); other symbols range over the whole real line. Outside its
domain an expression has no value: by default the image is taken over the part of the box
where the expression is defined (``None`` when that part is empty); with ``strict=True`` a
box that leaves the domain raises :class:`DomainError` instead.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> enclose(x**2 - 2*x, {x: Interval(0, 3)})      # no dependency tracking: x is used twice
Interval(-6.0, 9.0)
>>> box = enclose(sp.sqrt(x), {x: Interval(-1, 4)})    # only the part x >= 0 counts
>>> float(box.lo), round(float(box.hi), 9)
(0.0, 2.0)
>>> enclose(sp.atan(x)).magnitude() < 1.5708
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import mpmath as mp
import sympy as sp
from sympy.core.function import AppliedUndef

from diffcheck.numeric import as_sympy
from diffcheck.primitives.switching import label_is

INF = mp.inf
ZERO = mp.mpf(0)


class DomainError(ValueError):
    """A box reaches outside the domain of a function (only raised with ``strict=True``)."""


def _margin() -> mp.mpf:
    # 2**8 units in the last place: covers mpmath's (at most few-ulp) error per operation
    return mp.ldexp(1, 8 - mp.mp.prec)


def _nudged(x, direction: int) -> mp.mpf:
    x = mp.mpf(x)
    if not mp.isfinite(x) or x == 0:  # exact: nothing to round
        return x
    return x + direction * abs(x) * _margin()


def down(x) -> mp.mpf:
    """A number at most ``x``: ``x`` moved outwards by the rounding margin."""
    return _nudged(x, -1)


def up(x) -> mp.mpf:
    """A number at least ``x``: ``x`` moved outwards by the rounding margin."""
    return _nudged(x, 1)


def _product(a: mp.mpf, b: mp.mpf) -> mp.mpf:
    # An infinite end stands for "unbounded"; times an exact zero it contributes zero.
    if a == 0 or b == 0:
        return ZERO
    return a * b


class Interval:
    """A closed real interval ``[lo, hi]`` (ends may be ``-inf``/``inf``)."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo, hi=None):
        self.lo = mp.mpf(lo)
        self.hi = mp.mpf(lo if hi is None else hi)
        if mp.isnan(self.lo) or mp.isnan(self.hi) or self.lo > self.hi:
            raise ValueError(f"not an interval: [{lo}, {hi}]")

    @classmethod
    def whole(cls) -> Interval:
        return cls(-INF, INF)

    @classmethod
    def outward(cls, lo, hi) -> Interval:
        """``[lo, hi]`` after rounding both ends outwards."""
        return cls(down(lo), up(hi))

    def __repr__(self) -> str:
        return f"Interval({mp.nstr(self.lo, 8)}, {mp.nstr(self.hi, 8)})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Interval) and (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self) -> int:
        return hash((self.lo, self.hi))

    # ---- set operations -------------------------------------------------------------
    def hull(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    def intersect(self, other: Interval) -> Interval | None:
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        return Interval(lo, hi) if lo <= hi else None

    def widen(self, radius) -> Interval:
        """Every number within ``radius`` of the interval."""
        return Interval.outward(self.lo - radius, self.hi + radius)

    def contains(self, x) -> bool:
        return self.lo <= x <= self.hi

    def magnitude(self) -> mp.mpf:
        """sup |x| over the interval."""
        return max(abs(self.lo), abs(self.hi))

    def mignitude(self) -> mp.mpf:
        """inf |x| over the interval."""
        return ZERO if self.contains(0) else min(abs(self.lo), abs(self.hi))

    @property
    def width(self) -> mp.mpf:
        return up(self.hi - self.lo)

    def is_bounded(self) -> bool:
        return mp.isfinite(self.lo) and mp.isfinite(self.hi)

    # ---- arithmetic -------------------------------------------------------------------
    def __add__(self, other: Interval) -> Interval:
        return Interval.outward(self.lo + other.lo, self.hi + other.hi)

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other: Interval) -> Interval:
        return self + (-other)

    def __mul__(self, other: Interval) -> Interval:
        ends = [_product(a, b) for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Interval.outward(min(ends), max(ends))

    def reciprocal(self) -> Interval:
        if self.lo > 0 or self.hi < 0:
            return Interval.outward(1 / self.hi, 1 / self.lo)
        if self.lo == 0 and self.hi > 0:
            return Interval.outward(1 / self.hi, INF)
        if self.hi == 0 and self.lo < 0:
            return Interval.outward(-INF, 1 / self.lo)
        return Interval.whole()  # 0 inside (or the point 0): unbounded on both sides

    def __truediv__(self, other: Interval) -> Interval:
        return self * other.reciprocal()

    def power(self, n: int) -> Interval:
        """``x**n`` for an integer ``n`` (an even power of a sign-changing interval is >= 0)."""
        if n == 0:
            return Interval(1)
        if n < 0:
            return self.power(-n).reciprocal()
        if n % 2 == 0:
            return Interval.outward(self.mignitude() ** n, self.magnitude() ** n)
        return Interval.outward(self.lo**n, self.hi**n)

    def monotone(self, fn: Callable, increasing: bool = True) -> Interval:
        a, b = _image_or(fn, self.lo, -INF), _image_or(fn, self.hi, INF)
        if not increasing:
            a, b = _image_or(fn, self.hi, -INF), _image_or(fn, self.lo, INF)
        return Interval.outward(a, b)


def _image_or(fn: Callable, x: mp.mpf, fallback: mp.mpf) -> mp.mpf:
    """fn(x), or the infinite end on its side when mpmath cannot represent the value."""
    try:
        return fn(x)
    except OverflowError:
        return fallback


# --------------------------------------------------------------------------------------
# Images of SymPy functions, keyed by class
# --------------------------------------------------------------------------------------


def _restrict(box: Interval, domain: Interval, strict: bool, name: str) -> Interval | None:
    """The part of ``box`` inside ``domain``; with ``strict``, leaving the domain is an error."""
    part = box.intersect(domain)
    if strict and part != box:
        raise DomainError(f"{name} is undefined on part of {box}")
    return part


_POSITIVE = Interval(0, INF)


def _exp(x: Interval, strict: bool) -> Interval:
    return x.monotone(mp.exp)


def _log(x: Interval, strict: bool) -> Interval | None:
    if strict and x.lo <= 0:
        raise DomainError("log is undefined on part of the box")
    if x.hi <= 0:
        return None
    return Interval.outward(mp.log(x.lo) if x.lo > 0 else -INF, mp.log(x.hi))


def _cosh(x: Interval, strict: bool) -> Interval:
    return Interval.outward(_image_or(mp.cosh, x.mignitude(), ZERO),
                            _image_or(mp.cosh, x.magnitude(), INF))


#: beyond this, reducing the argument of sin/tan mod pi is not worth its cost
_PERIODIC_LIMIT = mp.mpf(2) ** 60


def _sin(x: Interval, strict: bool) -> Interval:
    if x.magnitude() > _PERIODIC_LIMIT or x.hi - x.lo >= 2 * mp.pi:
        return Interval(-1, 1)
    lo, hi = x.lo, x.hi
    ends = [mp.sin(lo), mp.sin(hi)]
    top, bottom = max(ends), min(ends)
    slack = 4 * _margin() * (1 + abs(lo) + abs(hi))
    # sin peaks at pi/2 + 2k*pi and bottoms at -pi/2 + 2k*pi: is one of them inside?
    for extreme, phase in ((1, mp.pi / 2), (-1, -mp.pi / 2)):
        k = mp.ceil((lo - slack - phase) / (2 * mp.pi))
        if phase + 2 * k * mp.pi <= hi + slack:
            top, bottom = (1, bottom) if extreme == 1 else (top, -1)
    return Interval(max(down(bottom), -1), min(up(top), 1))


def _cos(x: Interval, strict: bool) -> Interval:
    return _sin(x + Interval.outward(mp.pi / 2, mp.pi / 2), strict)


def _tan(x: Interval, strict: bool) -> Interval:
    if x.magnitude() > _PERIODIC_LIMIT or x.hi - x.lo >= mp.pi:
        if strict:
            raise DomainError("tan may have a pole inside the box")
        return Interval.whole()
    k = mp.ceil((x.lo - mp.pi / 2) / mp.pi)
    if mp.pi / 2 + k * mp.pi <= x.hi:  # a pole inside
        if strict:
            raise DomainError("tan has a pole inside the box")
        return Interval.whole()
    return x.monotone(mp.tan)


def _abs(x: Interval, strict: bool) -> Interval:
    return Interval(x.mignitude(), x.magnitude())


def _sign(x: Interval, strict: bool) -> Interval:
    return Interval(mp.sign(x.lo), mp.sign(x.hi))


def _heaviside(x: Interval, value_at_zero: Interval, strict: bool) -> Interval:
    values = []
    if x.lo < 0:
        values.append(Interval(0))
    if x.hi > 0:
        values.append(Interval(1))
    if x.contains(0):
        values.append(value_at_zero)
    result = values[0]
    for v in values[1:]:
        result = result.hull(v)
    return result


def _floor(x: Interval, strict: bool) -> Interval:
    return Interval(mp.floor(x.lo), mp.floor(x.hi))


def _ceiling(x: Interval, strict: bool) -> Interval:
    return Interval(mp.ceil(x.lo), mp.ceil(x.hi))


def _mod(a: Interval, b: Interval, strict: bool) -> Interval:
    if b.lo > 0:
        return Interval(0, b.hi)
    if b.hi < 0:
        return Interval(b.lo, 0)
    return Interval.whole()


def _real_power(base: Interval, exponent: Interval, strict: bool) -> Interval | None:
    """``base**p`` for a constant, non-integer ``p`` in ``exponent`` (defined for base >= 0).

    ``v**p`` is monotone in ``v`` and in ``p`` separately, so the four corners bound it.
    """
    part = _restrict(base, _POSITIVE, strict, "a fractional power")
    if part is None:
        return None
    negative = exponent.hi < 0
    if negative and part.lo == 0:
        if strict:
            raise DomainError("a negative power is undefined at 0")
        if part.hi == 0:
            return None

    def corner(v, p):
        if v == 0:
            return INF if p < 0 else ZERO
        return v**p

    values = [corner(v, p) for v in (part.lo, part.hi) for p in (exponent.lo, exponent.hi)]
    return Interval.outward(min(values), max(values))


def _pow(base: Interval, exponent: Interval, strict: bool,
         exponent_expr: sp.Expr) -> Interval | None:
    if exponent_expr.is_number and exponent_expr.is_real:
        integral_float = exponent_expr.is_Float and float(exponent_expr).is_integer()
        if exponent_expr.is_integer or integral_float:
            return base.power(int(exponent_expr))
        if not exponent.contains(0):
            return _real_power(base, exponent, strict)
    logs = _log(base, strict)  # base**e = exp(e*log(base)) for a variable exponent
    return None if logs is None else _exp(exponent * logs, strict)


# Functions of one argument, keyed by SymPy class. Increasing ones go through `monotone`.
_UNARY: dict[type, Callable[[Interval, bool], Interval | None]] = {
    sp.exp: _exp,
    sp.log: _log,
    sp.cosh: _cosh,
    sp.sin: _sin,
    sp.cos: _cos,
    sp.tan: _tan,
    sp.Abs: _abs,
    sp.sign: _sign,
    sp.floor: _floor,
    sp.ceiling: _ceiling,
}
for _cls, _fn in ((sp.atan, mp.atan), (sp.tanh, mp.tanh), (sp.sinh, mp.sinh),
                  (sp.asinh, mp.asinh), (sp.erf, mp.erf)):
    _UNARY[_cls] = (lambda fn: lambda x, strict: x.monotone(fn))(_fn)

_UNIT = Interval(-1, 1)


def _asin(x: Interval, strict: bool) -> Interval | None:
    part = _restrict(x, _UNIT, strict, "asin")
    return None if part is None else part.monotone(mp.asin)


def _acos(x: Interval, strict: bool) -> Interval | None:
    part = _restrict(x, _UNIT, strict, "acos")
    return None if part is None else part.monotone(mp.acos, increasing=False)


_UNARY[sp.asin] = _asin
_UNARY[sp.acos] = _acos
_UNARY[sp.erfc] = lambda x, strict: x.monotone(mp.erfc, increasing=False)


def number_interval(value: sp.Expr) -> Interval | None:
    """A tight interval around a real SymPy number (None when it is not a real number)."""
    if value.is_Integer:
        return Interval(int(value))
    if value.is_Float:
        exact = mp.mpf(value._mpf_)
        return Interval.outward(exact, exact)
    if value is sp.oo or value is sp.S.NegativeInfinity:
        return Interval(INF if value is sp.oo else -INF)
    if value.is_Rational:
        quotient = mp.mpf(int(value.p)) / int(value.q)
        return Interval.outward(quotient, quotient)
    if value.is_real is False:
        return None
    approx = sp.N(value, mp.mp.dps + 10)
    if not approx.is_real or not approx.is_finite:
        return None
    mid = mp.mpf(str(approx))
    return Interval.outward(mid, mid)


def _label_is(label: Interval, value: Interval) -> Interval:
    """The data indicator ``(label == value)``: 0 or 1, known where the boxes decide it.

    >>> _label_is(Interval(2), Interval(2)), _label_is(Interval(0, 1), Interval(2))
    (Interval(1.0, 1.0), Interval(0.0, 0.0))
    >>> _label_is(Interval(0, 3), Interval(2))
    Interval(0.0, 1.0)
    """
    if label.intersect(value) is None:
        return Interval(0)
    if label.lo == label.hi == value.lo == value.hi:
        return Interval(1)
    return Interval(0, 1)


def apply(node: sp.Expr, args: Sequence[Interval | None], strict: bool = False) -> Interval | None:
    """The image of ``node``'s function when its arguments range over ``args``.

    ``args`` follows ``node.args``; for a Piecewise, one interval per branch value. Unknown
    functions (model functions included) can take any value.
    """
    head = type(node)
    defined = [a for a in args if a is not None]
    if head is sp.Piecewise:  # a branch defined nowhere is simply never taken
        if not defined:
            return None
        result = defined[0]
        for a in defined[1:]:
            result = result.hull(a)
        return result
    if len(defined) < len(args):
        return None
    if head is sp.Add:
        result = defined[0]
        for a in defined[1:]:
            result = result + a
        return result
    if head is sp.Mul:
        result = defined[0]
        for a in defined[1:]:
            result = result * a
        return result
    if head is sp.Pow:
        return _pow(defined[0], defined[1], strict, node.args[1])
    if head in (sp.Max, sp.Min):
        pick = max if head is sp.Max else min
        return Interval(pick(a.lo for a in defined), pick(a.hi for a in defined))
    if head is sp.Heaviside:
        at_zero = defined[1] if len(defined) > 1 else Interval(mp.mpf(1) / 2)
        return _heaviside(defined[0], at_zero, strict)
    if head is sp.Mod:
        return _mod(defined[0], defined[1], strict)
    if head is label_is:
        return _label_is(defined[0], defined[1])
    unary = _UNARY.get(head)
    if unary is not None and len(defined) == 1:
        return unary(defined[0], strict)
    return Interval.whole()


def _operands(node: sp.Expr) -> tuple:
    """The sub-expressions whose intervals ``apply`` expects for ``node``."""
    if isinstance(node, sp.Piecewise):
        return tuple(pair.expr for pair in node.args)
    if isinstance(node, (AppliedUndef, sp.Derivative, sp.Subs)):
        return ()
    return node.args


def enclose(expr: sp.Expr, env: Mapping[sp.Expr, Interval] | None = None,
            strict: bool = False) -> Interval | None:
    """An interval containing every value of ``expr`` when each key of ``env`` ranges over
    its interval and every other symbol over the real line (None: defined nowhere there)."""
    env = env or {}
    memo: dict[sp.Expr, Interval | None] = {}

    def visit(e: sp.Expr) -> Interval | None:
        if e in env:
            return env[e]
        if e in memo:
            return memo[e]
        if e.is_number:
            result = number_interval(e)
        elif e.is_Symbol:
            result = Interval.whole()
        else:
            result = apply(e, [visit(a) for a in _operands(e)], strict)
        memo[e] = result
        return result

    return visit(as_sympy(expr))
