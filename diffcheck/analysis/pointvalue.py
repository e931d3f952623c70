"""The value of a loss at an exact point, every decision taken there proven.

A loss holding masks, signs or integer parts can have at a point of a switching set a value
that differs from both sides (``where(u == 0, 1, u)``): the decisions taken at the point
itself must be exact. Substituting the point into the tree makes SymPy take them, but it
also re-evaluates the whole tree, each shared subexpression once per occurrence (minutes for
a top-k router, whose masks repeat the same comparisons of gate logits dozens of times).

Here each distinct node is evaluated once, in interval arithmetic (``mpmath.iv``): an
interval encloses the exact value, so a condition whose interval of ``lhs - rhs`` excludes 0
is decided, with proof. Only a decision the intervals cannot take (the point lies on its set:
a tie) is taken by SymPy, on that subexpression alone.

>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> masked = sp.Piecewise((1, sp.Eq(x, y)), (x - y, True))
>>> float(value_at(masked, {x: sp.Rational(1, 3), y: sp.Rational(1, 3)}))
1.0
>>> float(value_at(masked, {x: sp.Integer(1), y: sp.Rational(1, 3)}))
0.6666666666666666
>>> value_at(sp.log(x - y), {x: sp.Integer(0), y: sp.Integer(1)}) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import mpmath as mp
import sympy as sp
from sympy.core.relational import Relational

from diffcheck.numeric import DIGITS, exact_number

iv = mp.iv

#: bits of the interval arithmetic: more than the working precision, so that the enclosure
#: of a value known to DIGITS digits stays that narrow through a deep tree
_PRECISION_BITS = int(DIGITS * 3.33) + 64
#: a value whose enclosure is wider than this share of its size is computed by SymPy instead
#: (catastrophic cancellation: the point would be known to fewer digits than DIGITS)
_WIDTH = mp.mpf(10) ** (-DIGITS + 15)
#: SymPy evaluates the numbers it cannot decide to this many digits more than DIGITS
_GUARD_DIGITS = 10


class _Undecided(Exception):
    """SymPy cannot take a decision at the point exactly: no value (as SymPy would give)."""


class _Undefined(Exception):
    """The expression has no real value at the point."""


#: functions increasing on the whole real line: the image of [a, b] is [f(a), f(b)]
_INCREASING: dict[type, Callable] = {sp.tanh: mp.tanh, sp.atan: mp.atan, sp.sinh: mp.sinh,
                                     sp.asinh: mp.asinh, sp.erf: mp.erf}
#: functions mpmath's interval context evaluates itself (log: only on positive intervals;
#: its erf does not converge on wide arguments)
_INTERVAL_FUNCTIONS: dict[type, Callable] = {sp.exp: iv.exp, sp.sin: iv.sin, sp.cos: iv.cos}


def value_at(expr: sp.Expr, point: Mapping[sp.Symbol, Any]) -> mp.mpf | None:
    """The real value of ``expr`` at ``point`` (exact SymPy numbers or mpf), or None where it
    has none. ``expr`` holds no model functions."""
    saved = iv.prec
    iv.prec = _PRECISION_BITS
    try:
        with mp.workprec(_PRECISION_BITS):  # the ends of intervals are computed in mp
            return _value_at(expr, point)
    finally:
        iv.prec = saved


def _value_at(expr: sp.Expr, point: Mapping[sp.Symbol, Any]) -> mp.mpf | None:
    try:
        walk = _PointValue(point)
        try:
            enclosure = walk(expr)
        except mp.libmp.NoConvergence:
            enclosure = walk._exactly(expr)  # an interval function gave up: SymPy decides
        if not isinstance(enclosure, bool) and _too_wide(enclosure):
            enclosure = walk._exactly(expr)  # cancellation: the enclosure says too little
    except (_Undecided, _Undefined, ZeroDivisionError, ValueError, ArithmeticError):
        return None
    if isinstance(enclosure, bool):
        return mp.mpf(int(enclosure))
    with mp.workdps(DIGITS):
        low, high = _ends(enclosure)
        if not (mp.isfinite(low) and mp.isfinite(high)):
            return None
        return (low + high) / 2


def _too_wide(enclosure) -> bool:
    low, high = _ends(enclosure)
    return not (mp.isfinite(low) and mp.isfinite(high)) or high - low > _WIDTH * (1 + abs(low))


def _ends(enclosure) -> tuple[mp.mpf, mp.mpf]:
    low, high = enclosure._mpi_
    return mp.make_mpf(low), mp.make_mpf(high)


def _sign(enclosure) -> int | None:
    """The sign every value of the interval has; None when it holds 0."""
    low, high = _ends(enclosure)
    return 1 if low > 0 else -1 if high < 0 else None


def _enclosing(number: sp.Basic):
    """A narrow interval around a SymPy number (exact for rationals)."""
    if isinstance(number, sp.Rational):
        return iv.mpf(int(number.p)) / int(number.q)
    if isinstance(number, sp.Float):
        return iv.mpf(mp.make_mpf(number._mpf_))
    approximation = sp.N(number, DIGITS + _GUARD_DIGITS)
    if not (approximation.is_real and approximation.is_finite) or not approximation.is_Float:
        raise _Undefined(str(number))
    middle = mp.make_mpf(approximation._mpf_)
    radius = abs(middle) * mp.mpf(10) ** (-DIGITS) + mp.mpf(10) ** (-2 * DIGITS)
    return iv.mpf([middle - radius, middle + radius])


class _PointValue:
    """The walk: an interval per numeric node, a bool per condition, each node once."""

    def __init__(self, point: Mapping[sp.Symbol, Any]) -> None:
        self.point = {s: _coordinate(v) for s, v in point.items()}
        # every coordinate as an exact SymPy number (an int, float or mpf is a binary number
        # exactly), so that a tie at the point is decided and not left open
        self.exact_point = {s: exact_number(v) for s, v in point.items()}
        self.memo: dict[sp.Basic, Any] = {}

    def __call__(self, node: sp.Basic) -> Any:
        cached = self.memo.get(node)
        if cached is None:
            try:
                cached = self._value(node)
            except _Undecided as err:
                cached = err  # asked again from every condition that holds it
            self.memo[node] = cached
        if isinstance(cached, _Undecided):
            raise cached
        return cached

    def _value(self, node: sp.Basic) -> Any:
        if node.is_Symbol:
            if node not in self.point:
                raise _Undecided(f"{node} has no value at the point")
            return self.point[node]
        if node is sp.true or node is sp.false:
            return bool(node)
        if node.is_Atom:
            return _enclosing(node)
        if isinstance(node, Relational):
            return self._relation(node)
        if isinstance(node, sp.Piecewise):
            return self._piecewise(node)
        if isinstance(node, (sp.And, sp.Or, sp.Not)):
            return self._logic(node)
        return self._numeric(node)

    def _numeric(self, node: sp.Basic) -> Any:
        if isinstance(node, sp.Add):
            total = self(node.args[0])
            for arg in node.args[1:]:
                total = total + self(arg)
            return total
        if isinstance(node, sp.Mul):
            product = self(node.args[0])
            for arg in node.args[1:]:
                product = product * self(arg)
            return product
        if isinstance(node, sp.Pow):
            return self._power(node)
        if isinstance(node, sp.Abs):
            return abs(self(node.args[0]))
        if isinstance(node, (sp.Max, sp.Min)):
            return self._extremum(node)
        if isinstance(node, (sp.sign, sp.Heaviside)):
            sign = _sign(self(node.args[0]))
            if sign is None:
                return self._exactly(node)
            return iv.mpf(sign if isinstance(node, sp.sign) else max(sign, 0))
        if isinstance(node, (sp.floor, sp.ceiling)):
            low, high = _ends(self(node.args[0]))
            rounded = mp.floor if isinstance(node, sp.floor) else mp.ceil
            if rounded(low) != rounded(high):
                return self._exactly(node)
            return iv.mpf(rounded(low))
        if type(node) in _INTERVAL_FUNCTIONS:
            return _INTERVAL_FUNCTIONS[type(node)](self(node.args[0]))
        if isinstance(node, sp.log) and len(node.args) == 1:
            argument = self(node.args[0])
            if _sign(argument) == 1:
                return iv.log(argument)
            return self._exactly(node)
        if type(node) in _INCREASING and len(node.args) == 1:
            return self._increasing(_INCREASING[type(node)], self(node.args[0]))
        return self._exactly(node)

    def _power(self, node: sp.Pow) -> Any:
        base, exponent = node.args
        if exponent.is_Integer:
            enclosure = self(base)
            if int(exponent) < 0 and _sign(enclosure) is None:
                return self._exactly(node)  # a pole, or a base the interval cannot separate
            return enclosure ** int(exponent)
        enclosure = self(base)
        if _sign(enclosure) != 1:
            return self._exactly(node)  # real roots of 0 and of negative numbers: SymPy's
        return iv.exp(self(exponent) * iv.log(enclosure))

    def _extremum(self, node: sp.Basic) -> Any:
        ends = [_ends(self(arg)) for arg in node.args]
        pick = max if isinstance(node, sp.Max) else min
        return iv.mpf([pick(low for low, _ in ends), pick(high for _, high in ends)])

    def _increasing(self, function: Callable, enclosure) -> Any:
        low, high = _ends(enclosure)
        with mp.workprec(_PRECISION_BITS):
            slack = mp.mpf(2) ** (8 - _PRECISION_BITS)
            low_value, high_value = function(low), function(high)
            return iv.mpf([low_value - slack * (1 + abs(low_value)),
                           high_value + slack * (1 + abs(high_value))])

    def _relation(self, node: Relational) -> bool:
        sign = _sign(self(node.lhs) - self(node.rhs))
        if sign is None:
            return self._exactly(node)  # a tie at the point (or too close to tell)
        if isinstance(node, sp.Eq):
            return False
        if isinstance(node, sp.Ne):
            return True
        if isinstance(node, (sp.StrictGreaterThan, sp.GreaterThan)):
            return sign > 0
        if isinstance(node, (sp.StrictLessThan, sp.LessThan)):
            return sign < 0
        return self._exactly(node)

    def _logic(self, node: sp.Basic) -> bool:
        if isinstance(node, sp.Not):
            return not self(node.args[0])
        deciding = isinstance(node, sp.Or)  # the value one argument decides the whole with
        undecided = None
        for arg in node.args:
            try:
                if self(arg) == deciding:
                    return deciding
            except _Undecided as err:
                undecided = err
        if undecided is not None:
            raise undecided
        return not deciding

    def _piecewise(self, node: sp.Piecewise) -> Any:
        for pair in node.args:
            if self(pair.cond):
                return self(pair.expr)
        raise _Undefined("no branch applies")

    def _exactly(self, node: sp.Basic) -> Any:
        """What the intervals cannot decide, decided by SymPy on this subexpression."""
        exact = node.xreplace(self.exact_point)
        if isinstance(node, (Relational, sp.logic.boolalg.Boolean)):
            if exact is sp.true or exact is sp.false:
                return bool(exact)
            raise _Undecided(f"{node} cannot be decided at the point")
        if exact.free_symbols or not exact.is_number:
            raise _Undecided(f"{node} has no number at the point")
        enclosure = _enclosing(exact)
        if _too_wide(enclosure):
            raise _Undecided(f"{node} is not known precisely at the point")
        return enclosure




def _coordinate(value: Any):
    if isinstance(value, sp.Basic):
        return _enclosing(value)
    if isinstance(value, Fraction):
        return iv.mpf(value.numerator) / value.denominator
    if isinstance(value, bool):
        return iv.mpf(int(value))
    return iv.mpf(value)  # int, float, mpf: exact binary numbers
