"""The numeric check a surrogate passes before it is printed.

The bound is a proof; the check guards the proof's implementation: |loss - surrogate| <=
max_error at sampled points and at the former kinks, where the surrogate must also have
equal one-sided slopes (the probe's quotients, :func:`diffcheck.probe.one_sided_quotients`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import mpmath as mp
import sympy as sp

from diffcheck.numeric import (
    compile_expr,
    compile_float,
    concrete_model_functions,
    evaluate,
    to_mpf,
    value,
)
from diffcheck.probe import one_sided_quotients
from diffcheck.surrogates.build import SmoothLoss, build_smooth_loss

#: step of the one-sided difference quotients in verify_surrogate (as in the evaluation)
SLOPE_STEP = mp.mpf("1e-18")
#: relative slack for evaluation noise when verify_surrogate compares with max_error: some
#: bounds are attained exactly (floor at the integers) and sin(2*pi*k) is only ~1e-50 there
NOISE = mp.mpf("1e-30")

def verify_surrogate(expr: sp.Expr, smooth: SmoothLoss, points: list[dict[str, float]],
                     singular_points: list[dict]) -> tuple[bool, str]:
    """Check a surrogate numerically (mpmath, 50+ digits) with its printed parameter values.

    |expr - S| <= max_error (up to evaluation noise, NOISE) at every point of ``points``
    where expr is defined (S must be defined there too), and at every point of
    ``singular_points`` (the old kinks and jumps) the one-sided difference quotients of S at
    step 1e-18 agree along every variable. Variables missing from a point are set to 1/3.
    """
    surrogate = smooth.report
    expression = smooth.expression
    symbols = sorted(expr.free_symbols | expression.free_symbols, key=lambda s: s.name)
    loss_fn = compile_expr(concrete_model_functions(expr), symbols)
    smooth_fn = compile_expr(concrete_model_functions(expression), symbols)
    bound = surrogate.get("max_error")

    def coordinate(number) -> mp.mpf:
        # a float stands for the decimal it prints as (0.1 is 1/10, as a user means it)
        return to_mpf(sp.Rational(repr(number)) if isinstance(number, float) else number)

    def coordinates(point):
        return [coordinate(point.get(s.name, sp.Rational(1, 3))) for s in symbols]

    loss_float = compile_float(concrete_model_functions(expr), symbols)
    smooth_float = compile_float(concrete_model_functions(expression), symbols)
    for point in points:
        if bound is not None and _clearly_within(loss_float, smooth_float, bound,
                                                 [float(c) for c in coordinates(point)]):
            continue
        exact = evaluate(loss_fn, coordinates(point))
        approx = evaluate(smooth_fn, coordinates(point))
        if exact is None:
            continue
        if approx is None:
            return False, f"the surrogate is undefined at {point}"
        if bound is not None and abs(exact - approx) > bound * (1 + NOISE) + NOISE:
            return False, (f"|loss - surrogate| = {mp.nstr(abs(exact - approx), 6)} exceeds "
                           f"max_error = {bound} at {point}")
    for point in singular_points:
        for variable, direction in _check_directions(symbols):
            left, right, _ = one_sided_quotients(
                smooth_fn, symbols, dict(zip(symbols, coordinates(point))),
                dict(zip(symbols, direction)), SLOPE_STEP)
            if left is None or right is None:
                return False, f"the surrogate is undefined next to {point}"
            if abs(right - left) > mp.mpf("1e-6") * (1 + abs(right)) or abs(right) > 1e6:
                return False, (f"the surrogate is not differentiable in {variable} at {point}: "
                               f"slopes {mp.nstr(left, 6)} and {mp.nstr(right, 6)}")
    return True, "ok"


#: a float64 difference this far inside the bound needs no 60-digit evaluation
FLOAT_MARGIN = 1e-6


def _clearly_within(loss_float: Any, smooth_float: Any, bound: float, point: list[float]) -> bool:
    """Whether float64 already shows |loss - surrogate| well within ``bound`` at ``point``.

    Most check points are far inside it; each 60-digit evaluation of a model-sized loss
    costs tens of milliseconds, a float one microseconds. Undefined or overflowing values,
    and differences near the bound, are left to the exact check.
    """
    exact, approx = value(loss_float, point), value(smooth_float, point)
    if exact is None or approx is None:
        return False
    slack = FLOAT_MARGIN * (1 + abs(exact) + abs(approx))
    return abs(exact - approx) + slack < bound * (1 - FLOAT_MARGIN)


#: up to this many variables the surrogate's slopes are checked along each of them; beyond
#: (a model's parameters) along generic directions, which see any kink an axis would
MAX_AXES = 8
GENERIC_DIRECTIONS = 2


def _check_directions(symbols: Sequence[sp.Symbol]) -> list[tuple[str, list]]:
    """(what to call it, direction) for the slope checks of verify_surrogate.

    A kink of S along some axis is a kink along every direction but a set of measure zero, so
    two random directions see it as surely as every axis does, at a fraction of the
    evaluations (each costs tens of milliseconds on a model of thirty parameters).

    >>> [name for name, _ in _check_directions(sp.symbols("a b"))]
    ['a', 'b']
    >>> len(_check_directions(sp.symbols("w:20")))
    2
    """
    count = len(symbols)
    if count <= MAX_AXES:
        return [(s.name, [1 if j == i else 0 for j in range(count)])
                for i, s in enumerate(symbols)]
    rng = random.Random(11)
    return [(f"a generic direction ({k + 1})",
             [sp.Rational(rng.randint(-97, 97) or 1, 97) for _ in range(count)])
            for k in range(GENERIC_DIRECTIONS)]


#: where the whole-loss surrogate's bound is checked: a grid per variable, near and far
CHECK_VALUES = ([sp.Rational(k, 4) for k in range(-16, 17)]
                + [sp.Integer(v) for v in (-1000, -50, 50, 1000)])
CHECK_POINTS = 40
#: nodes evaluated at 60 digits for the sampled points, and the fewest points checked
CHECK_BUDGET = 100_000
MIN_CHECK_POINTS = 8


def checked_surrogate(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], singular_points: list[dict],
                      smooth_scale: float, reserved_names: Iterable[str] = ()) -> dict | None:
    """The whole-loss surrogate, printed only after a numeric check of what it claims.

    The bound is a proof (interval arithmetic); the check guards the proof's implementation:
    |loss - surrogate| <= max_error at sampled points and at ``singular_points`` (the former
    kinks and jumps, ``{name: number}``), where the surrogate must also be differentiable.
    A failed check withdraws the bound (max_error null) and says why.
    """
    checked = checked_smooth_loss(expr, nonsmooth, singular_points, smooth_scale, reserved_names)
    return None if checked is None else checked.report


def checked_smooth_loss(expr: sp.Expr, nonsmooth: Sequence[sp.Expr], singular_points: list[dict],
                        smooth_scale: float, reserved_names: Iterable[str] = ()) -> SmoothLoss | None:
    """:func:`checked_surrogate` with the SymPy expression it reports (for the plots)."""
    built = build_smooth_loss(expr, nonsmooth, smooth_scale, reserved_names=reserved_names)
    if built is None or built.report.get("max_error") is None:
        # no bound claimed, none to withdraw: the check would change nothing (and costs a
        # 60-digit evaluation of the loss and its surrogate at every point)
        return built
    rng = random.Random(5)
    names = sorted(s.name for s in expr.free_symbols)
    # fewer sampled points for a surrogate of a model's size: each 60-digit evaluation costs
    # in proportion to its nodes (a MobileNet block's is 0.3 s); the singular points stay
    size = sum(1 for _ in sp.preorder_traversal(built.expression))
    count = max(MIN_CHECK_POINTS, min(CHECK_POINTS, CHECK_BUDGET // max(size, 1)))
    points = [{n: rng.choice(CHECK_VALUES) for n in names} for _ in range(count)]
    ok, why = verify_surrogate(expr, built, points + singular_points, singular_points)
    report = dict(built.report)
    if not ok and report.get("max_error") is not None:
        report["max_error"] = None
        report["message"] = (f"{report.get('message', '')} Numeric check failed, bound "
                             f"withdrawn: {why}").strip()
    return SmoothLoss(report, built.expression)
