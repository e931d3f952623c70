"""The one-sided expansions' building blocks (diffcheck/analysis/series.py)."""

from __future__ import annotations

import pytest
import sympy as sp

from diffcheck.analysis.series import _Z, _derivative, expand

CLASSES = [sp.tanh, sp.atan, sp.erf, sp.asinh, sp.acos, sp.tan, sp.log, sp.exp, sp.sin]


@pytest.mark.parametrize("function_class", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_derivatives_one_at_a_time_are_the_derivatives(function_class, k):
    point = sp.Rational(3, 10)
    ours = _derivative(function_class, k).subs(_Z, point)
    direct = sp.diff(function_class(_Z), _Z, k).subs(_Z, point)
    assert abs(sp.N(ours - direct, 30)) <= sp.Float("1e-20") * (1 + abs(sp.N(direct, 30)))



@pytest.mark.parametrize("power", [3, 5])
def test_a_power_of_a_sum_that_nearly_cancels_keeps_its_value(power):
    # (x**3 - y**3 + 1/2)**n at x = y = 10**5: the sum is 1/2 after terms of 1e15 cancel;
    # its power must stay (1/2)**n, not count as rounding noise of the cancelled terms (the
    # nested cubes of model-function stand-ins in a deep conv net).
    x, y = sp.symbols("x y", real=True)
    series = expand((x**3 - y**3 + sp.Rational(1, 2)) ** power, {x: (10**5, 1), y: (10**5, 0)})
    assert abs(series.coefficient(0) - sp.Rational(1, 2) ** power) < 1e-30
