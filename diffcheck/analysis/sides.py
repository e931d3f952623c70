"""Comparing the two sides of a candidate set at one point, along one direction.

The loss is localized on each side (:mod:`diffcheck.analysis.localize`) and each side's
branch is expanded along the line (:mod:`diffcheck.analysis.series`): ``F(t) = f+(t)`` for
``t > 0`` and ``F(t) = f-(-t)`` for ``t < 0``, with ``f+`` and ``f-`` generalized power series
in ``t -> 0+``. The first order at which F fails to be smooth is exact:

* an integer power ``t**k`` whose coefficients differ (``f+_k`` against ``(-1)**k * f-_k``):
  the k-th derivatives differ: a jump (k = 0), a kink (k = 1), C^(k-1) beyond;
* a term ``c*t**a`` with ``a`` not an integer: the derivative of order floor(a) + 1 is
  unbounded, so F is C^floor(a) at best, with an infinite slope when a < 1; a logarithm
  ``t**k*log(t)`` makes the k-th derivative unbounded; a negative power, the value itself.

>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> c = compare_sides(sp.Max(x**3, 0), [x], {x: sp.Integer(0)}, {x: sp.Integer(1)})
>>> c.order, c.kind
(3, None)
>>> c = compare_sides(sp.Abs(x) ** sp.Rational(10001, 10000), [x], {x: 0}, {x: 1})
>>> c.order, c.kind, c.right_slope, c.left_slope
(2, None, 0.0, 0.0)
>>> compare_sides(sp.Abs(x) ** sp.Rational(999, 1000), [x], {x: 0}, {x: 1}).kind
'infinite-slope'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath as mp
import sympy as sp
from sympy.core.function import AppliedUndef

from diffcheck.analysis.localize import LineBranches, PointBranches
from diffcheck.analysis.pointvalue import value_at
from diffcheck.analysis.series import Series, Undefined, Unsupported
from diffcheck.numeric import DIGITS, compile_expr, evaluate, to_mpf
from diffcheck.primitives.switching import Ambiguous

#: highest derivative order compared; agreement up to it counts as C-infinity
MAX_ORDER = 8
#: expansion depths tried in turn: most sets are decided at the first
HORIZONS = (3, 6, 12)
#: two coefficients differ when their difference is above this share of their magnitudes
DIFFERENCE = mp.mpf(10) ** (20 - DIGITS)

#: numeric fallback: distance of the side points, and the steps one-sided limits are read at
SIDE_STEP = mp.mpf("1e-15")
LIMIT_STEPS = (mp.mpf("1e-22"), mp.mpf("1e-32"))


@dataclass
class SideComparison:
    """What the two one-sided branches of the loss do at one point, along one direction."""

    point: dict
    direction: dict
    kind: str | None  # jump | infinite-slope | kink | None
    #: first derivative order that differs (0 = value); None: none up to MAX_ORDER
    order: int | None
    left_slope: float | None = None
    right_slope: float | None = None
    #: a jump of the value at the point alone (where(u == 0, 1, u)): a difference probe at a
    #: rounded point cannot see it, so the probe does not clear it
    removable: bool = False
    #: decided by expansions; False for the numeric fallback, which the probe may overrule
    exact: bool = True

    @property
    def active(self) -> bool:
        return self.order is not None


def _kind(order: int | None, infinite_at_one: bool) -> str | None:
    if order == 0:
        return "jump"
    if order == 1:
        return "infinite-slope" if infinite_at_one else "kink"
    return None


#: what can give a loss a value at a point that differs from both sides there. (Not
#: ``Boolean``: every SymPy Symbol is one, so no loss took the numeric path.)
_POINT_VALUED = (sp.Piecewise, sp.Heaviside, sp.sign, sp.floor, sp.ceiling, sp.frac, sp.Mod,
                 sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction,
                 sp.logic.boolalg.BooleanAtom)


def exact_value(loss: sp.Expr, point: Mapping[sp.Symbol, Any]) -> mp.mpf | None:
    """The loss's own value at the point (it can differ from both sides: where(u == 0, 1, u)).

    Only a branch decided at the point itself (a piecewise condition, sign, floor, an
    indicator) needs the exact point; a loss built from continuous pieces (max, min, abs
    included) has there the value its numbers give, and substituting the exact point into it
    makes SymPy compare every max's arguments exactly (minutes for a sorted router's gates).
    The decisions at the point are proven in interval arithmetic, each distinct subexpression
    once; SymPy takes only those at a tie (:mod:`diffcheck.analysis.pointvalue`).
    """
    if not loss.has(*_POINT_VALUED, AppliedUndef):
        symbols = tuple(point)  # the order defined_at compiled it with: one compilation
        value = evaluate(compile_expr(loss, symbols), [point[s] for s in symbols])
        if value is not None:
            return to_mpf(value)
        # undefined in numbers may be a point exactly on the domain's edge (acos(1 - x**2)
        # at x = sqrt(2)) that rounding put outside: SymPy decides
    if not loss.has(AppliedUndef):
        return value_at(loss, point)
    try:
        value = _chosen_at(loss, dict(point))
        if not value.is_number:
            return None
        value = sp.N(value, DIGITS)
        if not value.is_real or not value.is_finite:
            return None
        return to_mpf(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


def _chosen_at(expr: sp.Expr, point: dict) -> sp.Expr:
    """``expr`` at ``point``, each Piecewise by the first branch whose condition holds there.

    The same as ``expr.xreplace(point)``, without deciding every condition and branch of
    every Piecewise exactly (a sort's orderings: seconds per point with exponentials).
    """
    if not expr.has(sp.Piecewise):
        return expr.xreplace(point)
    if isinstance(expr, sp.Piecewise):
        for value, condition in expr.args:
            holds = _condition_at(condition, point)
            if holds is sp.true:
                return _chosen_at(value, point)
            if holds is not sp.false:
                return expr.xreplace(point)  # undecided at the point: as SymPy has it
        return expr.xreplace(point)
    return expr.func(*[_chosen_at(arg, point) for arg in expr.args])


def _condition_at(condition: Any, point: dict) -> Any:
    """An and/or condition at ``point``, its parts decided in order until one settles it."""
    if isinstance(condition, (sp.And, sp.Or)):
        settles = sp.false if isinstance(condition, sp.And) else sp.true
        undecided = False
        for part in condition.args:
            holds = _condition_at(part, point)
            if holds is settles:
                return settles
            undecided = undecided or holds not in (sp.true, sp.false)
        return condition.xreplace(point) if undecided else ~settles
    return condition.xreplace(point)


def defined_at(loss: sp.Expr, symbols: Sequence[sp.Symbol], point: Mapping[sp.Symbol, Any]) -> bool:
    """Whether the loss has a real value at the point (exactly, when numbers are not sure)."""
    if evaluate(compile_expr(loss, tuple(symbols)), [point[s] for s in symbols]) is not None:
        return True
    # an exact point on the edge of the domain (acos(1 - x**2) at x = sqrt(2)) can fall just
    # outside it in floating point; SymPy decides with the exact coordinates
    return any(not v.is_Rational for v in point.values()) and exact_value(loss, point) is not None


def compare_sides(loss: sp.Expr, symbols: Sequence[sp.Symbol], point: Mapping[sp.Symbol, Any],
                  direction: Mapping[sp.Symbol, Any], *,
                  numeric: bool = True) -> SideComparison | None:
    """Localize ``loss`` on both sides of ``point`` along ``direction`` and compare them.

    None when the point is no use: outside the loss's domain, or not generic (a switch ties
    along the whole line). Expressions the expansions cannot handle (x*sin(1/x) at 0) are
    compared numerically instead (``exact`` is False); with ``numeric`` False they raise
    :class:`~diffcheck.analysis.series.Unsupported`, so that a caller with other points to
    try can keep the costly numeric comparison for when no exact one decides.
    """
    with mp.workdps(DIGITS):
        return _compare(loss, symbols, point, direction, numeric)


def _compare(loss: sp.Expr, symbols: Sequence[sp.Symbol], point: Mapping[sp.Symbol, Any],
             direction: Mapping[sp.Symbol, Any], numeric: bool) -> SideComparison | None:
    point = {s: point[s] for s in symbols}
    direction = {s: direction.get(s, 0) for s in symbols}
    if not defined_at(loss, symbols, point):
        return None  # outside the loss's domain: nothing to differentiate there
    try:
        return _compare_exactly(loss, point, direction)
    except Ambiguous:
        return None
    except Unsupported:
        if not numeric:
            raise
    try:
        return _compare_numerically(loss, list(symbols), point, direction)
    except Ambiguous:
        return None


# --- exact comparison --------------------------------------------------------------------


def _localized(loss: sp.Expr, point: dict, direction: dict, side: int,
               mirror: LineBranches | None = None):
    branches = LineBranches(point, {s: side * to_mpf(d) for s, d in direction.items()}, mirror)
    try:
        return branches, branches(loss)
    except Undefined:
        return branches, None


def _expanded(branches: LineBranches, local: sp.Expr | None, horizon: int):
    if local is None:
        return None, set()
    expansion = branches.expansion(horizon)
    try:
        return expansion(local), expansion.events
    except Undefined:
        return None, expansion.events


def _break_order(exponent, log_power: int) -> int:
    """The derivative order a non-polynomial term makes unbounded (0: the value itself)."""
    if exponent < 0:
        return 0
    if exponent.denominator == 1:
        return int(exponent)  # t**k*log(t)**m: the k-th derivative holds log(t)
    return math.floor(exponent) + 1


def _differ(a: mp.mpf, b: mp.mpf, magnitude: mp.mpf) -> bool:
    return abs(a - b) > DIFFERENCE * (1 + magnitude)


def _compare_exactly(loss: sp.Expr, point: dict, direction: dict) -> SideComparison:
    ahead = _localized(loss, point, direction, 1)
    # the side behind reuses the expansions ahead: most of a large loss is analytic here
    localized = {1: ahead, -1: _localized(loss, point, direction, -1, mirror=ahead[0])}
    if all(local is None for _, local in localized.values()):
        raise Ambiguous("undefined on both sides")
    value_here = exact_value(loss, point)
    same_branch = localized[1][1] is not None and localized[1][1] == localized[-1][1]
    for horizon in HORIZONS:
        sides: dict[int, Series | None] = {}
        regular = True
        for side, (branches, local) in localized.items():
            sides[side], events = _expanded(branches, local, horizon)
            regular = regular and not events
        if all(s is None for s in sides.values()):
            raise Ambiguous("undefined on both sides")
        if same_branch and regular and sides[1] is not None and sides[-1] is not None:
            # One analytic expression on both sides: nothing differs but, maybe, the value
            # at the point itself.
            return _verdict(point, direction, sides, None, False, value_here)
        decided = _first_difference(sides, horizon)
        if decided is not None:
            order, infinite_at_one = decided
            return _verdict(point, direction, sides, order, infinite_at_one, value_here)
    raise Unsupported("the expansions are not deep enough to decide")


def _first_difference(sides: dict[int, Series | None],
                      horizon: int) -> tuple[int | None, bool] | None:
    """(order, infinite at order 1) of the first failure of smoothness; None: look deeper."""
    defined = {side: s for side, s in sides.items() if s is not None}
    known = min(s.order for s in defined.values())
    breaks: list[tuple[int, int]] = []  # (order, side)
    for side, series in defined.items():
        for exponent, log_power in series.irregular():
            breaks.append((_break_order(exponent, log_power), side))
    first = min((order for order, _ in breaks), default=None)
    if len(defined) == 2:
        plus, minus = defined[1], defined[-1]
        k = 0
        while k < known and (first is None or k < first) and k <= MAX_ORDER:
            a = plus.coefficient(k)
            b = (-1) ** k * minus.coefficient(k)
            key = (Fraction(k), 0)
            magnitude = plus.sizes.get(key, 0) + minus.sizes.get(key, 0)
            if _differ(a, b, magnitude):
                first = k
                break
            k += 1
    if first is not None and first <= MAX_ORDER and first < known:
        return first, any(order == 1 for order, _ in breaks) and first == 1
    if known > MAX_ORDER:
        return None, False  # smooth up to MAX_ORDER: C-infinity as far as can be told
    return None


def _slope(series: Series | None, side: int) -> float | None:
    """The one-sided derivative along the direction: F'(0+) = f+'(0), F'(0-) = -f-'(0)."""
    if series is None:
        return None
    low = [key for key in series.irregular() if _break_order(*key) <= 1]
    if low:
        e, m = min(low, key=lambda key: (key[0], -key[1]))
        if e < 0 or (e == 0 and m > 0):
            return None  # the value itself is unbounded
        c = series.terms[(e, m)]
        direction = (1 if c > 0 else -1) * (-1) ** m
        return side * direction * math.inf
    return float(side * series.coefficient(1))


def _verdict(point: dict, direction: dict, sides: dict[int, Series | None], order: int | None,
             infinite_at_one: bool, value_here: mp.mpf | None) -> SideComparison:
    comparison = SideComparison(point, direction, _kind(order, infinite_at_one), order,
                                left_slope=_slope(sides[-1], -1), right_slope=_slope(sides[1], 1))
    if order != 0 and value_here is not None:
        limits = [s.coefficient(0) for s in sides.values()
                  if s is not None and not any(e <= 0 and (e, m) != (0, 0) for e, m in s.terms)]
        if any(_differ(limit, value_here, abs(limit) + abs(value_here)) for limit in limits):
            comparison.order, comparison.kind, comparison.removable = 0, "jump", True
    return comparison


# --- numeric fallback ----------------------------------------------------------------------


def _directional_derivative(expr: sp.Expr, direction: dict) -> sp.Expr:
    return sp.Add(*[c * sp.diff(expr, s) for s, c in direction.items() if c != 0])


def _one_sided_limit(expr, symbols, point, direction, side):
    """lim expr(point + t*direction), t -> 0 from ``side``: (value, finite|infinite|undefined)."""
    fn = compile_expr(expr, tuple(symbols))
    readings = []
    for t in LIMIT_STEPS:
        shifted = [to_mpf(point[s]) + side * t * to_mpf(direction.get(s, 0)) for s in symbols]
        readings.append(evaluate(fn, shifted))
    near, nearer = readings
    if near is None or nearer is None:
        return None, "undefined"
    with mp.workdps(DIGITS):
        if abs(near - nearer) <= mp.mpf("1e-12") * (1 + abs(near)):
            return nearer, "finite"
        if abs(nearer) > abs(near):
            return nearer, "infinite"
    return nearer, "finite"


def _numeric_differ(a, b) -> bool:
    return abs(a - b) > mp.mpf("1e-9") * (1 + abs(a) + abs(b))


def _as_float(limit) -> float | None:
    value, status = limit
    if status == "finite":
        return float(value)
    if status == "infinite":
        return math.inf if value > 0 else -math.inf
    return None


def _compare_numerically(loss: sp.Expr, symbols: list[sp.Symbol], point: dict,
                         direction: dict) -> SideComparison | None:
    """Branches picked at side points, one-sided limits of derivatives read at tiny steps.

    For what the expansions cannot handle; less certain, so the probe may clear it.
    """
    loss_fn = compile_expr(loss, tuple(symbols))
    local: dict[int, sp.Expr | None] = {}
    for side in (1, -1):
        values = {s: to_mpf(point[s]) + side * SIDE_STEP * to_mpf(direction.get(s, 0))
                  for s in symbols}
        if evaluate(loss_fn, [values[s] for s in symbols]) is None:
            local[side] = None
            continue
        local[side] = PointBranches(symbols, values)(loss)
    if local[1] is None and local[-1] is None:
        return None
    comparison = SideComparison(point, direction, None, None, exact=False)
    # identical sides mean "smooth" only where the branch is itself regular at the point:
    # x*sin(1/x) is the same on both sides of 0 and still has no derivative there
    singular = any(
        local[side] is not None
        and evaluate(compile_expr(local[side], tuple(symbols)), [point[s] for s in symbols]) is None
        for side in (1, -1))
    value_here = exact_value(loss, point)
    current = dict(local)
    for order in range(MAX_ORDER + 1):
        limits = {side: (None, "undefined") if current[side] is None else
                  _one_sided_limit(current[side], symbols, point, direction, side)
                  for side in (1, -1)}
        statuses = {limits[s][1] for s in (1, -1)}
        finite = [limits[s][0] for s in (1, -1) if limits[s][1] == "finite"]
        if order == 1:
            comparison.right_slope = _as_float(limits[1])
            comparison.left_slope = _as_float(limits[-1])
        if "infinite" in statuses:
            comparison.order = order
            comparison.kind = _kind(order, True)
            return comparison
        differs = len(finite) == 2 and _numeric_differ(*finite)
        if order == 0 and value_here is not None and any(_numeric_differ(v, value_here)
                                                         for v in finite):
            comparison.removable = not differs
            differs = True
        if differs:
            comparison.order = order
            comparison.kind = _kind(order, False)
            return comparison
        if not singular and current[1] is not None and current[1] == current[-1]:
            return comparison
        current = {side: None if current[side] is None else
                   _directional_derivative(current[side], direction) for side in (1, -1)}
    return comparison
