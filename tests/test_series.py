"""The one-sided expansions' building blocks (diffcheck/analysis/series.py)."""

from __future__ import annotations

import pytest
import sympy as sp

from diffcheck.analysis.series import _Z, _derivative

CLASSES = [sp.tanh, sp.atan, sp.erf, sp.asinh, sp.acos, sp.tan, sp.log, sp.exp, sp.sin]


@pytest.mark.parametrize("function_class", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_derivatives_one_at_a_time_are_the_derivatives(function_class, k):
    point = sp.Rational(3, 10)
    ours = _derivative(function_class, k).subs(_Z, point)
    direct = sp.diff(function_class(_Z), _Z, k).subs(_Z, point)
    assert abs(sp.N(ours - direct, 30)) <= sp.Float("1e-20") * (1 + abs(sp.N(direct, 30)))

