"""The numeric check a surrogate passes before it is printed.

The bound is a proof; the check guards the proof's implementation: |loss - surrogate| <=
max_error at sampled points and at the former kinks, where the surrogate must also have
equal one-sided slopes (the probe's quotients, :func:`diffcheck.probe.one_sided_quotients`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import mpmath as mp
import sympy as sp

from diffcheck.numeric import compile_expr, concrete_model_functions, evaluate, to_mpf
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

    for point in points:
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
        for index, variable in enumerate(symbols):
            direction = [1 if j == index else 0 for j in range(len(symbols))]
            left, right, _ = one_sided_quotients(
                smooth_fn, symbols, dict(zip(symbols, coordinates(point))),
                dict(zip(symbols, direction)), SLOPE_STEP)
            if left is None or right is None:
                return False, f"the surrogate is undefined next to {point}"
            if abs(right - left) > mp.mpf("1e-6") * (1 + abs(right)) or abs(right) > 1e6:
                return False, (f"the surrogate is not differentiable in {variable} at {point}: "
                               f"slopes {mp.nstr(left, 6)} and {mp.nstr(right, 6)}")
    return True, "ok"


#: where the whole-loss surrogate's bound is checked: a grid per variable, near and far
CHECK_VALUES = ([sp.Rational(k, 4) for k in range(-16, 17)]
                + [sp.Integer(v) for v in (-1000, -50, 50, 1000)])
CHECK_POINTS = 40


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
    if built is None:
        return None
    rng = random.Random(5)
    names = sorted(s.name for s in expr.free_symbols)
    points = [{n: rng.choice(CHECK_VALUES) for n in names} for _ in range(CHECK_POINTS)]
    ok, why = verify_surrogate(expr, built, points + singular_points, singular_points)
    report = dict(built.report)
    if not ok and report.get("max_error") is not None:
        report["max_error"] = None
        report["message"] = (f"{report.get('message', '')} Numeric check failed, bound "
                             f"withdrawn: {why}").strip()
    return SmoothLoss(report, built.expression)
